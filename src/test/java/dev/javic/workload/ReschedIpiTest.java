package dev.javic.workload;

import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.SystemKind;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The guest picks its APIC driver from CPUID, as Linux 4.5 does (GuestApic). Without AVIC, KVM offers x2APIC and
 * the guest runs x2APIC physical mode: a reschedule IPI is one ICR {@code wrmsr}, an EOI that PV EOI did not take
 * one {@code wrmsr}, each an MSR exit, plus boot's APIC_BASE read and write, four register writes and the write of
 * MSR_KVM_PV_EOI_EN per vCPU. With AVIC, x2APIC is hidden: xAPIC accesses (ICR read, ICR2, ICR, EOI) that AVIC
 * accelerates, so none of them exits, and KVM never offers an EOI through the PV EOI word. Every system: three
 * CPUID exits per vCPU at boot (leaf 1, KVM's signature and its features).
 */
class ReschedIpiTest {
    @Test
    void withoutAvicEveryIpiAndEveryEoiIsOneMsrExit() {
        for (SystemKind s : new SystemKind[] {SystemKind.VANILLA, SystemKind.AVIC_OFF}) {
            HackbenchRunner.Outcome o = HackbenchTest.run(s, 2, 2, 8, 40, 3, true);
            assertThat(o.reschedIpis()).isPositive();
            long boot = 7L * 2;
            assertThat(o.pvEoisTaken()).as(s.label()).isPositive();
            assertThat(o.exitsByReason().get("msr")).as(s.label())
                    .isEqualTo(o.reschedIpis() + o.interruptsDelivered() - o.pvEoisTaken() + boot);
            // KVM does each at the vCPU's next exit; a vCPU's last one may still wait for it when the run ends.
            assertThat(o.pvEoisTaken() - o.pvEois()).as(s.label()).isBetween(0L, 2L);
            assertThat(o.exitsByReason().get("cpuid")).as(s.label()).isEqualTo(6L);
            assertThat(o.exitsByReason()).doesNotContainKeys("npf", "avic_unaccelerated_access");
        }
    }

    @Test
    void withAvicNoIpiOrEoiExits() {
        HackbenchRunner.Outcome o = HackbenchTest.run(SystemKind.AVIC_ON, 2, 2, 8, 40, 3, true);
        assertThat(o.reschedIpis()).isPositive();
        assertThat(o.exitsByReason()).doesNotContainKey("npf");
        assertThat(o.pvEois()).isZero();
        assertThat(o.pvEoisTaken()).isZero();
        assertThat(o.exitsByReason().get("msr")).as("MSR_KVM_PV_EOI_EN at boot").isEqualTo(2L);
        // only boot's SPIV, DFR, LDR, TDCR, LVTT and TMICT writes trap; IPIs to a halted vCPU exit as incomplete
        assertThat(o.exitsByReason().get("avic_unaccelerated_access")).isEqualTo(12L);
        assertThat(o.exitsByReason().getOrDefault("avic_incomplete_ipi", 0L)).isLessThanOrEqualTo(o.reschedIpis());
    }
}
