package dev.javic.workload;

import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.SystemKind;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The guest picks its APIC driver from CPUID, as Linux 4.5 does (GuestApic). Without AVIC, KVM offers x2APIC and
 * the guest runs x2APIC physical mode: a reschedule IPI is one ICR {@code wrmsr}, an EOI one {@code wrmsr}, each an
 * MSR exit, plus boot's APIC_BASE read and write and four register writes per vCPU. With AVIC, x2APIC is hidden:
 * xAPIC accesses (ICR read, ICR2, ICR, EOI) that AVIC accelerates, so none of them exits.
 */
class ReschedIpiTest {
    @Test
    void withoutAvicEveryIpiAndEveryEoiIsOneMsrExit() {
        for (SystemKind s : new SystemKind[] {SystemKind.VANILLA, SystemKind.AVIC_OFF}) {
            HackbenchRunner.Outcome o = HackbenchTest.run(s, 2, 2, 8, 40, 3, true);
            assertThat(o.reschedIpis()).isPositive();
            long boot = 6L * 2;
            assertThat(o.exitsByReason().get("msr")).as(s.label())
                    .isEqualTo(o.reschedIpis() + o.interruptsDelivered() + boot);
            assertThat(o.exitsByReason().get("cpuid")).as(s.label()).isEqualTo(2L);
            assertThat(o.exitsByReason()).doesNotContainKeys("npf", "avic_unaccelerated_access");
        }
    }

    @Test
    void withAvicNoIpiOrEoiExits() {
        HackbenchRunner.Outcome o = HackbenchTest.run(SystemKind.AVIC_ON, 2, 2, 8, 40, 3, true);
        assertThat(o.reschedIpis()).isPositive();
        assertThat(o.exitsByReason()).doesNotContainKeys("npf", "msr");
        // only boot's SPIV, DFR, LDR, TDCR, LVTT and TMICT writes trap; IPIs to a halted vCPU exit as incomplete
        assertThat(o.exitsByReason().get("avic_unaccelerated_access")).isEqualTo(12L);
        assertThat(o.exitsByReason().getOrDefault("avic_incomplete_ipi", 0L)).isLessThanOrEqualTo(o.reschedIpis());
    }
}
