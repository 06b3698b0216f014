package dev.javic.avic;

import dev.javic.avic.RecordingSink.AccelIpi;
import dev.javic.avic.RecordingSink.Entry;
import dev.javic.avic.RecordingSink.Exit;
import dev.javic.avic.RecordingSink.Incomplete;
import dev.javic.avic.RecordingSink.Unaccel;
import dev.javic.experiment.SystemKind;
import dev.javic.hw.SvmExit;
import dev.javic.sim.Cost;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

/**
 * AVIC_INCOMPLETE_IPI (exit 0x401) for each cause a guest can reach, EXITINFO checked bit for bit:
 * EXITINFO1 = ICR high (63:32) : ICR low (31:0); EXITINFO2 = cause (63:32) : index (7:0)
 * (APM vol. 2 §15.29; Linux avic_incomplete_ipi_interception reads them so). The exit is trap-like:
 * the ICR write retired, so RIP is past it and KVM re-enters at that RIP without skipping anything.
 * INVALID_BACKING_PAGE cannot be reached from a guest; see {@link AvicInvalidBackingPageTest}.
 */
class AvicIncompleteIpiTest {
    private static final long TEXT_BASE = 0xFFFFFFFF81000000L;
    private static final int WRITE32_LENGTH = 9; // mov [moffs64], eax
    private static final int WORK_LENGTH = 1;

    private static long exitInfo2(int cause, int index) {
        return (long) cause << 32 | index;
    }

    private static long exitInfo1(int icrHigh, int icrLow) {
        return (long) icrHigh << 32 | (icrLow & 0xFFFFFFFFL);
    }

    /** Each exit is trap-like: KVM's next VMRUN of that vCPU resumes at the exit's RIP. */
    private static void assertTrapLike(RecordingSink t, Exit exit) {
        Entry next = t.all(Entry.class, e -> e.vcpu() == exit.vcpu() && e.time() > exit.time()).get(0);
        assertThat(next.rip()).as("RIP after %s", exit).isEqualTo(exit.rip());
    }

    @Test
    void invalidIntTypeForNmiLowestPriorityLevelAndInit() {
        AvicRun run = AvicRun.run(AvicRun.load("incomplete-ipi-int-type.yaml"), SystemKind.AVIC_ON);
        run.assertExpectationsHold();
        RecordingSink t = run.trace();

        List<Exit> exits = t.exits(0, SvmExit.AVIC_INCOMPLETE_IPI);
        assertThat(exits).as(t.dump()).hasSize(4);
        int dest1 = 1 << 24;
        int[] icrLows = {
                0x4400,  // NMI (delivery mode 4), level assert
                0x4145,  // lowest priority (1), vector 0x45
                0xC046,  // fixed, level-triggered (bit 15), assert (bit 14), vector 0x46
                0x4500,  // INIT (5)
        };
        for (int i = 0; i < 4; i++) {
            Exit e = exits.get(i);
            assertThat(e.info1()).as("EXITINFO1 of IPI %d", i).isEqualTo(exitInfo1(dest1, icrLows[i]));
            assertThat(e.info2()).as("EXITINFO2 of IPI %d", i)
                    .isEqualTo(exitInfo2(0 /* AVIC_IPI_FAILURE_INVALID_INT_TYPE */, 0));
            // apic_enable, work, then per IPI: ICR2 write, ICR write, work. RIP is past the ICR write.
            long icrEnd = TEXT_BASE + WRITE32_LENGTH + WORK_LENGTH
                    + (long) i * (2 * WRITE32_LENGTH + WORK_LENGTH) + 2 * WRITE32_LENGTH;
            assertThat(e.rip()).isEqualTo(icrEnd);
            assertTrapLike(t, e);
        }
        List<Incomplete> tp = t.all(Incomplete.class);
        assertThat(tp).extracting(Incomplete::icrLow).containsExactly(0x4400, 0x4145, 0xC046, 0x4500);
        assertThat(tp).allSatisfy(x -> {
            assertThat(x.icrHigh()).isEqualTo(dest1);
            assertThat(x.cause()).isZero();
            assertThat(x.index()).isZero();
        });
        // Nothing was accelerated: the hardware did not touch the target for these.
        assertThat(t.all(AccelIpi.class)).isEmpty();

        // KVM emulated each one: NMI (vector 2), 0x45, 0x46 taken by vCPU 1; the INIT left it waiting for SIPI.
        assertThat(run.interrupts(1)).containsExactly(2, 0x45, 0x46);
        assertThat(run.vcpu(1).state()).isEqualTo("init_received");

        // The EOI of the level-triggered 0x46 traps: offset 0xB0, write, EXITINFO2 = the vector.
        List<Exit> eoiTraps = t.all(Exit.class, e -> e.vcpu() == 1 && e.code() == SvmExit.AVIC_UNACCELERATED_ACCESS
                && (e.info1() & 0xFF0) == 0xB0);
        assertThat(eoiTraps).hasSize(1);
        assertThat(eoiTraps.get(0).info1()).isEqualTo(1L << 32 | 0xB0);
        assertThat(eoiTraps.get(0).info2()).isEqualTo(0x46);
        assertTrapLike(t, eoiTraps.get(0));
        assertThat(t.all(Unaccel.class, u -> u.vcpu() == 1 && u.offset() == 0xB0))
                .singleElement().satisfies(u -> {
                    assertThat(u.trap()).isTrue();
                    assertThat(u.write()).isTrue();
                    assertThat(u.vector()).isEqualTo(0x46);
                });
    }

    @Test
    void invalidIntTypeDeliversWhatAvicOffDelivers() {
        AvicRun off = AvicRun.run(AvicRun.load("incomplete-ipi-int-type.yaml"), SystemKind.AVIC_OFF);
        off.assertExpectationsHold();
        assertThat(off.vcpu(1).state()).isEqualTo("init_received");
    }

    @Test
    void targetNotRunningAndInvalidTarget() {
        AvicRun run = AvicRun.run(AvicRun.load("incomplete-ipi-targets.yaml"), SystemKind.AVIC_ON);
        run.assertExpectationsHold();
        RecordingSink t = run.trace();

        List<Exit> exits = t.exits(0, SvmExit.AVIC_INCOMPLETE_IPI);
        assertThat(exits).as(t.dump()).hasSize(5);
        int fixedAssert = 0x4000;
        int logical = 1 << 11;
        // 0x41 physical to halted vCPU 1: IRR set by the hardware, then TARGET_NOT_RUNNING naming physical index 1.
        assertThat(exits.get(0).info1()).isEqualTo(exitInfo1(1 << 24, fixedAssert | 0x41));
        assertThat(exits.get(0).info2()).isEqualTo(exitInfo2(1, 1));
        // 0x42 logical to 0x08 (vCPU 1, flat bit 3): TARGET_NOT_RUNNING naming the logical table index 3,
        // as KVM's avic_kick_target_vcpus_fast reads it (avic_logical_id_table[index]).
        assertThat(exits.get(1).info1()).isEqualTo(exitInfo1(0x08 << 24, fixedAssert | logical | 0x42));
        assertThat(exits.get(1).info2()).isEqualTo(exitInfo2(1, 3));
        // 0x43 physical to 5: no physical table entry.
        assertThat(exits.get(2).info1()).isEqualTo(exitInfo1(5 << 24, fixedAssert | 0x43));
        assertThat(exits.get(2).info2()).isEqualTo(exitInfo2(2, 5));
        // 0x44 logical to 0x40: flat bit 6, no logical table entry.
        assertThat(exits.get(3).info1()).isEqualTo(exitInfo1(0x40 << 24, fixedAssert | logical | 0x44));
        assertThat(exits.get(3).info2()).isEqualTo(exitInfo2(2, 6));
        // 0x47 logical to 0x10: flat bit 4, no entry (vCPU 2's LDR 0x30 has two bits), yet vCPU 2 matches.
        assertThat(exits.get(4).info1()).isEqualTo(exitInfo1(0x10 << 24, fixedAssert | logical | 0x47));
        assertThat(exits.get(4).info2()).isEqualTo(exitInfo2(2, 4));
        exits.forEach(e -> assertTrapLike(t, e));

        // For the not-running target the hardware set the IRR (no doorbell), before the exit.
        List<AccelIpi> hw = t.all(AccelIpi.class);
        assertThat(hw).extracting(AccelIpi::targetIndex, AccelIpi::vector, AccelIpi::running)
                .containsExactly(tuple(1, 0x41, false), tuple(1, 0x42, false));
        assertThat(hw.get(0).time()).isLessThanOrEqualTo(exits.get(0).time());

        // The logical table as KVM left it: index 3 -> vCPU 1; nothing for vCPU 2's two-bit LDR.
        assertThat(run.logicalEntry(3)).isEqualTo(0x8000_0001);
        for (int i = 0; i < 8; i++) {
            if (i != 3) {
                assertThat(run.logicalEntry(i) & 0x8000_0000).as("logical entry %d", i).isZero();
            }
        }
        // Every IPI was accounted for: vCPU 1 woke for both of its vectors; 0x43 and 0x44 reached nobody.
        assertThat(run.interrupts(1)).containsExactly(0x41, 0x42);
        assertThat(run.interrupts(2)).containsExactly(0x47);
        assertThat(run.vcpu(1).hostIpisSent()).isZero();
    }

    /**
     * A logical mask with one valid and one invalid entry: the hardware exits with INVALID_TARGET before
     * delivering to anyone, and KVM emulates the whole IPI, so every target takes the vector once. (Linux
     * commit "KVM: SVM: Process ICR on AVIC IPI delivery failure due to invalid target": AVIC "falls over
     * if _any_ targets are invalid" and "VM-Exits before sending IPIs to targets that _are_ valid".)
     */
    @Test
    void invalidTargetInALogicalMaskStopsTheWholeIpiBeforeAnyDelivery() {
        AvicRun run = AvicRun.run(AvicRun.load("ipi-logical-partly-invalid.yaml"), SystemKind.AVIC_ON);
        run.assertExpectationsHold();
        RecordingSink t = run.trace();
        Exit e = t.exits(0, SvmExit.AVIC_INCOMPLETE_IPI).get(0);
        assertThat(e.info1()).isEqualTo(exitInfo1(0x03 << 24, 0x4000 | 1 << 11 | 0x49));
        assertThat(e.info2()).isEqualTo(exitInfo2(2, 1)); // logical index 1 (flat bit 1) has no entry
        assertThat(t.all(AccelIpi.class)).as("the hardware sent nothing\n%s", t.dump()).isEmpty();

        // Were the valid target served by the hardware too, a target quick enough to take the vector
        // before KVM's emulation sets it again would take it twice. A 50-cycle doorbell makes it so.
        AvicRun fast = AvicRun.run(AvicRun.load("ipi-logical-partly-invalid.yaml"), SystemKind.AVIC_ON,
                AvicRun.COSTS.with(Cost.AVIC_DOORBELL_LATENCY, 50, "test: a doorbell faster than an exit"));
        fast.assertExpectationsHold();
    }

    @Test
    void targetsScenarioDeliversTheSameOnAvicOff() {
        AvicRun off = AvicRun.run(AvicRun.load("incomplete-ipi-targets.yaml"), SystemKind.AVIC_OFF);
        off.assertExpectationsHold();
        assertThat(off.trace().exits(0, SvmExit.AVIC_INCOMPLETE_IPI)).isEmpty();
    }
}
