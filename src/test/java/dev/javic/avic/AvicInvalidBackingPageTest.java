package dev.javic.avic;

import dev.javic.hw.CpuModel;
import dev.javic.hw.GuestProgram;
import dev.javic.hw.GuestState;
import dev.javic.hw.HostHandler;
import dev.javic.hw.Machine;
import dev.javic.hw.OpKind;
import dev.javic.hw.Operation;
import dev.javic.hw.PhysicalMemory;
import dev.javic.hw.SvmCore;
import dev.javic.hw.SvmExit;
import dev.javic.hw.Vmcb;
import dev.javic.sim.Simulator;
import dev.javic.trace.Tracer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.javic.hw.AvicTables.*;
import static dev.javic.hw.VmcbLayout.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * AVIC_INCOMPLETE_IPI with cause INVALID_BACKING_PAGE, at the hardware level.
 *
 * <p>No guest can reach this cause: the physical APIC ID table lives in host memory that the nested
 * page table never maps into the guest, and KVM writes its entries only with the backing page it
 * allocated for each vCPU (its local APIC register page, in memory), moving them whole when the guest
 * changes its APIC ID (avic_init_backing_page, avic_handle_apic_id_update). A bad backing page is a
 * hypervisor bug ("SVM: Invalid backing page" in KVM's log). So this test plays the hypervisor itself
 * on a bare {@link Machine}: it builds a VMCB with AVIC enabled and a physical table whose entry for
 * APIC ID 1 is Valid but points outside memory, and drives an {@link SvmCore} through the ICR write,
 * using only the machine's public interface.
 */
class AvicInvalidBackingPageTest {
    private static final long MEMORY = 1 << 20;
    private static final long VMCB = 0x1000;
    private static final long OWN_PAGE = 0x2000;
    private static final long PHYSICAL_TABLE = 0x3000;
    private static final long LOGICAL_TABLE = 0x4000;
    private static final long GOOD_PAGE = 0x5000;
    private static final long BAD_PAGE = 0x4000_0000L; // 1 GiB: far beyond the 1 MiB of this machine
    private static final long APIC_BAR = 0xFEE00000L;
    private static final long TEXT_BASE = 0xFFFFFFFF81000000L;

    /** A fixed list of guest operations, then the halt loop. */
    private static final class Ops implements GuestProgram {
        private final List<long[]> ops = new ArrayList<>();
        private int next;

        Ops write32(long gpa, long value) {
            ops.add(new long[] {OpKind.WRITE32.ordinal(), gpa, value});
            return this;
        }

        @Override
        public void next(Operation op, long now) {
            long[] o = ops.get(next++);
            op.set(OpKind.of((int) o[0]), o[1], o[2]);
        }

        @Override
        public void interrupt(int vector, long now) {
            throw new AssertionError("no interrupt expected, got " + vector);
        }

        @Override
        public boolean finished() {
            return next == ops.size();
        }
    }

    private record ExitRecord(int code, long info1, long info2, long rip) {
    }

    /** The hypervisor's part: record each exit; re-enter after trap-like AVIC exits; stop at HLT. */
    private static final class Host implements HostHandler {
        final List<ExitRecord> exits = new ArrayList<>();
        Vmcb vmcb;
        GuestState guest;

        @Override
        public void vmexit(SvmCore core) {
            int code = (int) vmcb.read64(EXIT_CODE);
            exits.add(new ExitRecord(code, vmcb.read64(EXIT_INFO_1), vmcb.read64(EXIT_INFO_2), vmcb.rip()));
            if (code == SvmExit.AVIC_INCOMPLETE_IPI) {
                core.vmrun(vmcb, guest, 0);
            }
        }

        @Override
        public void interrupt(SvmCore core, int vector) {
        }
    }

    private static Machine machine(Simulator sim) {
        return new Machine(sim, AvicRun.COSTS, new Tracer(sim), CpuModel.carrizo(), 4, MEMORY);
    }

    /** KVM's avic_init_vmcb, by hand; and a physical table with self, a bad entry (1) and a good one (2). */
    private static Vmcb setUpAvic(PhysicalMemory mem) {
        Vmcb v = new Vmcb(mem, VMCB);
        v.clearPage();
        v.setIntercept(INTERCEPT_MISC1, INTERCEPT_HLT);
        v.setIntCtl(V_INTR_MASKING_MASK | AVIC_ENABLE_MASK);
        v.write64(AVIC_VAPIC_BAR, APIC_BAR & AVIC_VAPIC_BAR_MASK);
        v.write64(AVIC_BACKING_PAGE, OWN_PAGE);
        v.write64(AVIC_PHYSICAL_ID, PHYSICAL_TABLE | 0xFF);
        v.write64(AVIC_LOGICAL_ID, LOGICAL_TABLE);
        v.setRflags(0);
        v.setRip(TEXT_BASE);
        mem.write32(OWN_PAGE + 0xE0, 0xFFFFFFFF); // DFR: flat model
        mem.write64(PHYSICAL_TABLE, PHYSICAL_VALID | PHYSICAL_IS_RUNNING | OWN_PAGE);
        mem.write64(PHYSICAL_TABLE + 8, PHYSICAL_VALID | PHYSICAL_IS_RUNNING | BAD_PAGE | 1);
        mem.write64(PHYSICAL_TABLE + 16, PHYSICAL_VALID | PHYSICAL_IS_RUNNING | GOOD_PAGE | 2);
        mem.write32(LOGICAL_TABLE + 4 * 3, LOGICAL_VALID | 1); // flat logical 0x08 -> APIC ID 1 (bad page)
        mem.write32(LOGICAL_TABLE + 4 * 4, LOGICAL_VALID | 2); // flat logical 0x10 -> APIC ID 2 (good page)
        return v;
    }

    private static Host runOnCore0(Machine m, Vmcb v, Ops program) {
        Host host = new Host();
        host.vmcb = v;
        host.guest = new GuestState(program);
        SvmCore core = m.core(0);
        core.setHostHandler(host);
        core.vmrun(v, host.guest, 0);
        m.simulator().runUntil(1_000_000);
        return host;
    }

    @Test
    void physicalDestinationWithABackingPageOutsideMemory() {
        Machine m = machine(new Simulator());
        Vmcb v = setUpAvic(m.memory());
        assertThat(m.memory().contains(BAD_PAGE)).isFalse();
        Ops program = new Ops()
                .write32(APIC_BAR + 0x310, 1 << 24)   // ICR high: destination APIC ID 1
                .write32(APIC_BAR + 0x300, 0x4050)    // ICR low: fixed, edge, assert, vector 0x50
                .write32(APIC_BAR + 0x310, 2 << 24)   // then the good entry, for contrast
                .write32(APIC_BAR + 0x300, 0x4051);
        Host host = runOnCore0(m, v, program);

        assertThat(host.exits).extracting(ExitRecord::code)
                .containsExactly(SvmExit.AVIC_INCOMPLETE_IPI, SvmExit.HLT);
        ExitRecord e = host.exits.get(0);
        assertThat(e.info1()).isEqualTo(0x01000000_00004050L);
        assertThat(e.info2()).isEqualTo((long) IPI_FAILURE_INVALID_BACKING_PAGE << 32 | 1);
        assertThat(e.rip()).as("trap-like: RIP past the ICR write").isEqualTo(TEXT_BASE + 18);
        // The IPI to the good entry was accelerated: its IRR bit (0x51: word 2, bit 17) is set.
        assertThat(m.memory().read32(GOOD_PAGE + 0x220)).isEqualTo(1 << 17);
        assertThat(m.memory().read32(GOOD_PAGE + 0x220) & 1 << 16).as("0x50 went nowhere").isZero();
        // The sender's own ICR holds what it wrote (delivery status idle).
        assertThat(m.memory().read32(OWN_PAGE + 0x300)).isEqualTo(0x4051);
    }

    @Test
    void logicalDestinationWhoseEntryLeadsToABadBackingPageNamesTheLogicalIndex() {
        Machine m = machine(new Simulator());
        Vmcb v = setUpAvic(m.memory());
        Ops program = new Ops()
                .write32(APIC_BAR + 0x310, 0x08 << 24)  // flat logical 0x08 -> logical index 3 -> APIC ID 1
                .write32(APIC_BAR + 0x300, 0x4850);     // fixed, logical (bit 11), vector 0x50
        Host host = runOnCore0(m, v, program);

        assertThat(host.exits).extracting(ExitRecord::code)
                .containsExactly(SvmExit.AVIC_INCOMPLETE_IPI, SvmExit.HLT);
        ExitRecord e = host.exits.get(0);
        assertThat(e.info1()).isEqualTo(0x08000000_00004850L);
        assertThat(e.info2()).isEqualTo((long) IPI_FAILURE_INVALID_BACKING_PAGE << 32 | 3);
        assertThat(e.rip()).isEqualTo(TEXT_BASE + 18);
    }
}
