package dev.javic.workload;

import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.SystemKind;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reschedule IPIs are xAPIC accesses of the guest: wait for ICR idle (a read), ICR2, ICR. Without AVIC
 * each is an MMIO exit (npf), as is every EOI and the six APIC writes of boot; with AVIC none of them exits.
 */
class ReschedIpiTest {
    @Test
    void withoutAvicEveryIpiIsThreeMmioExitsAndEveryEoiOne() {
        for (SystemKind s : new SystemKind[] {SystemKind.VANILLA, SystemKind.AVIC_OFF}) {
            HackbenchRunner.Outcome o = HackbenchTest.run(s, 2, 2, 8, 40, 3, true);
            assertThat(o.reschedIpis()).isPositive();
            long boot = 6L * 2;
            assertThat(o.exitsByReason().get("npf")).as(s.label())
                    .isEqualTo(3 * o.reschedIpis() + o.interruptsDelivered() + boot);
            assertThat(o.exitsByReason()).doesNotContainKey("avic_unaccelerated_access");
        }
    }

    @Test
    void withAvicNoIpiOrEoiExits() {
        HackbenchRunner.Outcome o = HackbenchTest.run(SystemKind.AVIC_ON, 2, 2, 8, 40, 3, true);
        assertThat(o.reschedIpis()).isPositive();
        assertThat(o.exitsByReason()).doesNotContainKey("npf");
        // only boot's SPIV, DFR, LDR, TDCR, LVTT and TMICT writes trap; IPIs to a halted vCPU exit as incomplete
        assertThat(o.exitsByReason().get("avic_unaccelerated_access")).isEqualTo(12L);
        assertThat(o.exitsByReason().getOrDefault("avic_incomplete_ipi", 0L)).isLessThanOrEqualTo(o.reschedIpis());
    }
}
