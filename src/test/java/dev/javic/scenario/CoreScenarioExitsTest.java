package dev.javic.scenario;

import dev.javic.experiment.SystemKind;
import dev.javic.scenario.CoreScenarios.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Exit counts of core scenarios, which differ between the systems and so stay out of the YAML files:
 * without AVIC every APIC access exits (NPF on the APIC page) and an IPI to a running vCPU pulls it out
 * with a host IPI (INTR exit); with AVIC the same guest code takes no exit for fixed IPIs, EOIs, TPR
 * and register reads, and exits only for what the 2016 hardware leaves to KVM.
 */
class CoreScenarioExitsTest {

    @ParameterizedTest
    @EnumSource(value = SystemKind.class, names = {"VANILLA", "AVIC_OFF"})
    void withoutAvicAnIpiToARunningVcpuExitsOnBothSides(SystemKind system) {
        Run run = CoreScenarios.run("ipi-running-target.yaml", system);
        String why = CoreScenarios.describe(run);
        // vCPU 0: SPIV, ICR2, ICR writes are MMIO exits; vCPU 1: SPIV write and the EOI.
        assertThat(run.exits(0, "npf")).as(why).isEqualTo(3);
        assertThat(run.exits(1, "npf")).as(why).isEqualTo(2);
        assertThat(run.exits(1, "interrupt")).as("kicked out of guest mode by a host IPI%n%s", why).isEqualTo(1);
        assertThat(run.result().vcpus().get(1).irqInjections()).as(why).isEqualTo(1);
    }

    @Test
    void withAvicAnIpiToARunningVcpuAndItsEoiTakeNoExit() {
        Run run = CoreScenarios.run("ipi-running-target.yaml", SystemKind.AVIC_ON);
        String why = CoreScenarios.describe(run);
        // What is left: the SPIV write (a trap) and the final HLT, on each side; the RDMSR of the TSC.
        assertThat(run.vcpu(0).exits()).as(why)
                .isEqualTo(Map.of("msr", 1L, "avic_unaccelerated_access", 1L, "hlt", 1L));
        assertThat(run.vcpu(1).exits()).as(why).isEqualTo(Map.of("avic_unaccelerated_access", 1L, "hlt", 1L));
        assertThat(run.result().vcpus().get(0).doorbellsSent() + run.result().vcpus().get(1).doorbellsSent())
                .as("the hardware rang the doorbell, not KVM%n%s", why).isZero();
    }

    @Test
    void withAvicAnIpiToAHaltedVcpuTakesTheIncompleteIpiExit() {
        Run run = CoreScenarios.run("halted-target-woken.yaml", SystemKind.AVIC_ON);
        String why = CoreScenarios.describe(run);
        assertThat(run.exits(0, "avic_incomplete_ipi")).as("TARGET_NOT_RUNNING, once per IPI%n%s", why).isEqualTo(2);
        assertThat(run.exits(0, "npf")).as(why).isZero();
        assertThat(run.exits(1, "interrupt")).as("a wake-up, no host IPI%n%s", why).isZero();
        assertThat(run.exits(1, "hlt")).as(why).isEqualTo(3);
    }

    @Test
    void withAvicABroadcastWakesTheHaltedTargetAndLeavesTheRunningOneInTheGuest() {
        // vCPU 1 works, vCPU 2 is halted: one AVIC_INCOMPLETE_IPI (TARGET_NOT_RUNNING) on the sender, after
        // which KVM wakes vCPU 2 only (kvm_vcpu_wake_up); vCPU 1 got the doorbell from the hardware.
        Run run = CoreScenarios.run("physical-broadcast.yaml", SystemKind.AVIC_ON);
        String why = CoreScenarios.describe(run);
        assertThat(run.exits(0, "avic_incomplete_ipi")).as(why).isEqualTo(1);
        assertThat(run.exits(1, "interrupt")).as("no host IPI to the running target%n%s", why).isZero();
        assertThat(run.vcpu(1).exits()).as(why).isEqualTo(Map.of("avic_unaccelerated_access", 1L, "hlt", 1L));
    }

    @Test
    void withAvicSelfIpisPrioritiesAndEoisStayInTheGuest() {
        for (String file : new String[] {"self-ipi.yaml", "tpr-masking.yaml", "ppr-in-service.yaml", "eoi-nested.yaml",
                "priority-order.yaml", "cli-holds-interrupts.yaml", "cr8-tpr.yaml"}) {
            Run run = CoreScenarios.run(file, SystemKind.AVIC_ON);
            // The only exits: the SPIV write that enables the APIC (a trap) and the final HLT.
            assertThat(run.vcpu(0).exits()).as(CoreScenarios.describe(run))
                    .isEqualTo(Map.of("avic_unaccelerated_access", 1L, "hlt", 1L));
        }
    }

    @ParameterizedTest
    @EnumSource(value = SystemKind.class, names = {"VANILLA", "AVIC_OFF"})
    void withoutAvicTprLoweringBehindAPendingInterruptExitsOnCr8(SystemKind system) {
        // KVM intercepts CR8 writes only while an interrupt waits behind the TPR (update_cr8_intercept):
        // the write of 9 that releases 0xa7 exits, the others do not.
        Run run = CoreScenarios.run("cr8-tpr.yaml", system);
        assertThat(run.exits(0, "write_cr8")).as(CoreScenarios.describe(run)).isEqualTo(1);
    }

    @Test
    void withAvicInterruptsThatAreNotFixedEdgeIpisExitAsIncompleteIpis() {
        // INVALID_INT_TYPE: lowest priority, NMI, INIT, SIPI and level-triggered IPIs are left to KVM.
        Run lowest = CoreScenarios.run("lowest-priority.yaml", SystemKind.AVIC_ON);
        assertThat(lowest.exits(0, "avic_incomplete_ipi")).as(CoreScenarios.describe(lowest)).isEqualTo(4);
        Run init = CoreScenarios.run("init-sipi.yaml", SystemKind.AVIC_ON);
        assertThat(init.exits(0, "avic_incomplete_ipi")).as(CoreScenarios.describe(init)).isEqualTo(2);
        Run nmi = CoreScenarios.run("nmi-ipi.yaml", SystemKind.AVIC_ON);
        assertThat(nmi.exits(0, "avic_incomplete_ipi")).as(CoreScenarios.describe(nmi)).isEqualTo(1);
        Run level = CoreScenarios.run("level-triggered-ipi.yaml", SystemKind.AVIC_ON);
        assertThat(level.exits(0, "avic_incomplete_ipi")).as(CoreScenarios.describe(level)).isEqualTo(1);
        // SPIV, and the EOI of the level-triggered vector (a trap: KVM must forward it). The model's AVIC unit
        // does not clear TMR when it accepts the later edge IPI of the same vector, so that EOI traps too.
        assertThat(level.exits(0, "avic_unaccelerated_access")).as(CoreScenarios.describe(level))
                .isGreaterThanOrEqualTo(2);
    }

    @Test
    void withAvicTheTimerCurrentCountReadFaultsToKvm() {
        // TMCCT is not in the backing page: its read is an unaccelerated access of the fault kind.
        Run run = CoreScenarios.run("timer-change-mode.yaml", SystemKind.AVIC_ON);
        assertThat(run.exits(0, "npf")).as(CoreScenarios.describe(run)).isZero();
        // 7 TMCCT reads (faults) + 11 trapped writes (SPIV, TDCR, 6 x LVTT, 3 x TMICT); reads of TMICT are not exits.
        assertThat(run.exits(0, "avic_unaccelerated_access")).as(CoreScenarios.describe(run)).isEqualTo(7 + 11);
    }
}
