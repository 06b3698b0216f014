package dev.javic.kvm;

import dev.javic.experiment.SimulatedHost;
import dev.javic.experiment.SystemKind;
import dev.javic.guest.GuestKernel;
import dev.javic.hw.GuestProgram;
import dev.javic.hw.OpKind;
import dev.javic.hw.Operation;
import dev.javic.hw.SvmExit;
import dev.javic.sim.CostModel;
import dev.javic.sim.TieBreak;
import dev.javic.trace.TraceSink;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.javic.hw.KvmPara.MSR_KVM_PV_EOI_EN;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * KVM's PV EOI (lapic.c of 4.5) on the legacy path: MSR_KVM_PV_EOI_EN, the guest byte KVM sets before entry
 * when the EOI may skip the APIC, and the EOI KVM does at the next exit when the guest cleared it.
 */
class PvEoiTest {
    private static final CostModel COSTS = CostModel.defaults();
    private static final long WORD = 0x100000;
    private static final int GP = 13;

    @Test
    void theKvmLeavesOfferPvEoiOnEverySystem() {
        for (SystemKind s : SystemKind.values()) {
            Run r = run(s, op(OpKind.CPUID, 0x40000000, 0), op(OpKind.CPUID, 0x40000001, 0));
            assertThat(r.guest.result[0]).as(s.label()).isEqualTo(0x40000001L);
            assertThat(r.guest.cpuid[0]).as(s.label()).containsExactly(0x4B4D564B, 0x564B4D56, 0x4D); // KVMKVMKVM\0\0\0
            assertThat(r.guest.result[1] & (1 << 6)).as(s.label() + ": KVM_FEATURE_PV_EOI").isNotZero();
        }
    }

    @Test
    void theMsrTakesAnAlignedAddressInGuestMemoryAndReadsBack() {
        Run r = run(SystemKind.AVIC_OFF,
                op(OpKind.RDMSR, MSR_KVM_PV_EOI_EN, 0),
                op(OpKind.WRMSR, MSR_KVM_PV_EOI_EN, WORD | 2 | 1), // address not 4-byte aligned: #GP, unchanged
                op(OpKind.RDMSR, MSR_KVM_PV_EOI_EN, 0),
                op(OpKind.WRMSR, MSR_KVM_PV_EOI_EN, WORD | 1),
                op(OpKind.RDMSR, MSR_KVM_PV_EOI_EN, 0),
                op(OpKind.WRMSR, MSR_KVM_PV_EOI_EN, (64L << 20) | 1), // beyond guest RAM: no memslot, #GP
                op(OpKind.RDMSR, MSR_KVM_PV_EOI_EN, 0),               // ... but KVM kept the value
                op(OpKind.WRMSR, MSR_KVM_PV_EOI_EN, 0),               // disable
                op(OpKind.RDMSR, MSR_KVM_PV_EOI_EN, 0),
                op(OpKind.WRMSR, MSR_KVM_PV_EOI_EN, 0x1234));         // disabled: the address is not looked up
        int[] fault = r.guest.fault;
        long[] v = r.guest.result;
        assertThat(fault).containsExactly(-1, GP, -1, -1, -1, GP, -1, -1, -1, -1);
        assertThat(v[0]).isZero();
        assertThat(v[2]).isZero();
        assertThat(v[4]).isEqualTo(WORD | 1);
        assertThat(v[6]).isEqualTo((64L << 20) | 1);
        assertThat(v[8]).isZero();
        assertThat(r.vcpu.lapic().pvEoiMsr()).isEqualTo(0x1234);
        assertThat(r.vcpu.stats().exits(SvmExit.MSR)).isEqualTo(10);
    }

    @Test
    void anInterruptAloneInServiceIsEoidByKvmAtTheNextExitWithoutAnExitOfItsOwn() {
        for (SystemKind s : new SystemKind[] {SystemKind.VANILLA, SystemKind.AVIC_OFF}) {
            Run r = run(s, enablePvEoi(op(OpKind.STI, 0, 0), selfIpi(0x40), work(2000), op(OpKind.CPUID, 1, 0)));
            assertThat(r.guest.vectors).as(s.label()).containsExactly(0x40);
            assertThat(r.guest.pvTaken).as(s.label() + ": the guest found KVM's bit").containsExactly(true);
            assertThat(r.vcpu.stats().pvEois).as(s.label()).isEqualTo(1);
            assertThat(r.pvEois).as(s.label()).containsExactly("0:64");
            assertThat(r.eois).as(s.label() + ": apic_set_eoi traces kvm_eoi too").containsExactly(0x40);
            assertThat(r.vcpu.lapic().isIsrSet(0x40)).as(s.label()).isFalse();
            assertThat(r.vcpu.lapic().pvEoiPending()).as(s.label()).isFalse();
            // exits: the SPIV and ICR writes (MMIO), the MSR write, the final CPUID; none for the EOI
            assertThat(r.vcpu.stats().exits(SvmExit.NPF)).as(s.label()).isEqualTo(2);
            assertThat(r.vcpu.stats().exits(SvmExit.MSR)).as(s.label()).isEqualTo(1);
            assertThat(r.machineWord()).as(s.label() + ": KVM cleared the byte").isZero();
        }
    }

    @Test
    void anotherInterruptWaitingInIrrKeepsTheApicEoiAndTheLastOneGoesPv() {
        Run r = run(SystemKind.AVIC_OFF, enablePvEoi(selfIpi(0x40), selfIpi(0x50), op(OpKind.STI, 0, 0), work(4000),
                op(OpKind.CPUID, 1, 0)));
        // 0x50 first; 0x40 still in IRR, so KVM does not offer PV EOI for it: the guest EOIs by the APIC (an exit)
        assertThat(r.guest.vectors).containsExactly(0x50, 0x40);
        assertThat(r.guest.pvTaken).containsExactly(false, true);
        assertThat(r.vcpu.stats().pvEois).isEqualTo(1);
        assertThat(r.eois).containsExactly(0x50, 0x40);
        assertThat(r.vcpu.stats().exits(SvmExit.NPF)).isEqualTo(4); // SPIV, two ICR writes, the EOI of 0x50
        assertThat(r.vcpu.lapic().highestIsr()).isEqualTo(-1);
    }

    @Test
    void aLevelTriggeredVectorKeepsTheApicEoi() {
        Run r = run(SystemKind.AVIC_OFF, enablePvEoi(op(OpKind.STI, 0, 0),
                op(OpKind.WRITE32, GuestKernel.APIC_BASE + GuestKernel.ICR2, 0),
                op(OpKind.WRITE32, GuestKernel.APIC_BASE + GuestKernel.ICR,
                        0x70 | GuestKernel.TRIGGER_LEVEL | GuestKernel.LEVEL_ASSERT),
                work(2000), op(OpKind.CPUID, 1, 0)));
        assertThat(r.guest.vectors).containsExactly(0x70);
        assertThat(r.vcpu.lapic().isTmrSet(0x70)).isTrue();
        assertThat(r.guest.pvTaken).containsExactly(false);
        assertThat(r.vcpu.stats().pvEois).isZero();
        assertThat(r.pvEois).isEmpty();
        assertThat(r.vcpu.lapic().isIsrSet(0x70)).isFalse();
    }

    @Test
    void withAvicKvmNeverSetsTheBitAndTheEoiIsAccelerated() {
        Run r = run(SystemKind.AVIC_ON, enablePvEoi(op(OpKind.STI, 0, 0), selfIpi(0x40), work(2000),
                op(OpKind.CPUID, 1, 0)));
        assertThat(r.guest.vectors).containsExactly(0x40);
        assertThat(r.guest.pvTaken).containsExactly(false);
        assertThat(r.vcpu.stats().pvEois).isZero();
        assertThat(r.vcpu.lapic().isIsrSet(0x40)).isFalse();
        assertThat(r.vcpu.stats().exits(SvmExit.NPF)).isZero();
    }

    @Test
    void withoutPvEoiEnabledTheBitIsNeverSet() {
        Run r = run(SystemKind.AVIC_OFF, op(OpKind.WRITE32, GuestKernel.APIC_BASE + GuestKernel.SPIV, 0x1FF),
                op(OpKind.STI, 0, 0), selfIpi(0x40), work(2000), op(OpKind.CPUID, 1, 0));
        assertThat(r.guest.vectors).containsExactly(0x40);
        assertThat(r.guest.pvTaken).containsExactly(false);
        assertThat(r.vcpu.stats().pvEois).isZero();
    }

    // ---- the guest ----------------------------------------------------------------------------------------

    private static long[] op(OpKind kind, long address, long value) {
        return new long[] {kind.ordinal(), address, value};
    }

    private static long[] work(long cycles) {
        return op(OpKind.WORK, 0, cycles);
    }

    private static long[] selfIpi(int vector) {
        return op(OpKind.WRITE32, GuestKernel.APIC_BASE + GuestKernel.ICR, vector | GuestKernel.SHORTHAND_SELF);
    }

    /** SPIV enable, the word zeroed and MSR_KVM_PV_EOI_EN written (kvm_guest_cpu_init), then {@code rest}. */
    private static long[][] enablePvEoi(long[]... rest) {
        List<long[]> ops = new ArrayList<>();
        ops.add(op(OpKind.WRITE32, GuestKernel.APIC_BASE + GuestKernel.SPIV, 0x1FF));
        ops.add(op(OpKind.WRITE32, WORD, 0));
        ops.add(op(OpKind.WRMSR, MSR_KVM_PV_EOI_EN, WORD | 1));
        ops.addAll(List.of(rest));
        return ops.toArray(new long[0][]);
    }

    /**
     * Runs {@code ops} in order (xAPIC mode), then exits with VMMCALL. Its interrupt handler is Linux's
     * kvm_guest_apic_eoi_write when the guest enabled PV EOI (test and clear bit 0 of the word; the APIC EOI
     * only if it was clear), else the APIC EOI; exceptions just return.
     */
    private static final class TestGuest implements GuestProgram {
        final long[][] ops;
        final long[] result;
        final int[] fault;
        final int[][] cpuid;
        final List<Integer> vectors = new ArrayList<>();
        final List<Boolean> pvTaken = new ArrayList<>();
        private int pc;
        private int last = -1;
        private Operation cur;
        private boolean pvEoi;
        private int handlerStep = -1;
        private boolean done;

        TestGuest(long[][] ops) {
            this.ops = ops;
            result = new long[ops.length];
            fault = new int[ops.length];
            cpuid = new int[ops.length][];
            java.util.Arrays.fill(fault, -1);
        }

        @Override
        public void next(Operation op, long now) {
            cur = op;
            recordLast(op);
            if (handlerStep >= 0) {
                handler(op);
                return;
            }
            if (pc < ops.length) {
                long[] o = ops[pc];
                OpKind kind = OpKind.of((int) o[0]);
                op.set(kind, o[1], o[2]);
                if (kind == OpKind.WRMSR && o[1] == MSR_KVM_PV_EOI_EN) {
                    pvEoi = (o[2] & 1) != 0;
                }
                last = pc++;
                return;
            }
            done = true;
            op.set(OpKind.VMMCALL, 0, 0);
        }

        private void recordLast(Operation op) {
            if (last >= 0) {
                result[last] = op.result;
                if (op.fault >= 0) {
                    fault[last] = op.fault;
                }
                cpuid[last] = new int[] {op.resultEbx, op.resultEcx, op.resultEdx};
                last = -1;
            }
        }

        private void handler(Operation op) {
            if (handlerStep == 0 && pvEoi) {
                handlerStep = 1;
                op.set(OpKind.BTR32, WORD, 0); // __test_and_clear_bit(KVM_PV_EOI_BIT, &kvm_apic_eoi)
                return;
            }
            if (handlerStep <= 1) {
                boolean taken = handlerStep == 1 && (op.result & 1) != 0;
                pvTaken.add(taken);
                handlerStep = 2;
                if (!taken) {
                    op.set(OpKind.WRITE32, GuestKernel.APIC_BASE + GuestKernel.EOI, 0);
                    return;
                }
            }
            handlerStep = -1;
            op.set(OpKind.IRET, 0, 0);
        }

        @Override
        public void interrupt(int vector, long now) {
            if (cur != null) {
                recordLast(cur);
            }
            if (vector < 32) {
                handlerStep = 2; // an exception: return
                return;
            }
            vectors.add(vector);
            handlerStep = 0;
        }

        @Override
        public boolean finished() {
            return done;
        }
    }

    // ---- running it -----------------------------------------------------------------------------------------

    private record Run(SimulatedHost host, Vcpu vcpu, TestGuest guest, List<String> pvEois, List<Integer> eois) {
        long machineWord() {
            return host.machine().memory().read32(host.vm().gpaToHpa(WORD));
        }
    }

    private static Run run(SystemKind system, long[]... ops) {
        List<String> pvEois = new ArrayList<>();
        List<Integer> eois = new ArrayList<>();
        TraceSink sink = new TraceSink() {
            @Override
            public void kvmPvEoi(long time, int cpu, int apicId, int vector) {
                pvEois.add(apicId + ":" + vector);
            }

            @Override
            public void kvmEoi(long time, int cpu, int apicId, int vector) {
                eois.add(vector);
            }
        };
        SimulatedHost host = new SimulatedHost(system, COSTS, 1, TieBreak.FIFO, sink, true, 1, 16L << 20);
        TestGuest guest = new TestGuest(ops);
        Vcpu vcpu = host.vm().createVcpu(0, guest);
        host.vm().start();
        host.sim().runUntil(COSTS.tscHz() / 100);
        assertThat(guest.done).as("the guest ran to its end").isTrue();
        return new Run(host, vcpu, guest, pvEois, eois);
    }
}
