package dev.javic.avic;

import dev.javic.avic.RecordingSink.AccelIpi;
import dev.javic.avic.RecordingSink.Event;
import dev.javic.avic.RecordingSink.Exit;
import dev.javic.avic.RecordingSink.GuestIrq;
import dev.javic.avic.RecordingSink.IpiRaise;
import dev.javic.avic.RecordingSink.IsRunning;
import dev.javic.avic.RecordingSink.KvmDoorbell;
import dev.javic.avic.RecordingSink.SchedWakeup;
import dev.javic.avic.RecordingSink.VcpuWakeup;
import dev.javic.experiment.SystemKind;
import dev.javic.hw.SvmExit;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

/**
 * Series items 12 and 13: a halted vCPU is marked not running, an IPI to it reaches the hypervisor,
 * and the hypervisor wakes it with kvm_vcpu_wake_up, which sends no host IPI (unlike kvm_vcpu_kick,
 * whose IPI pulls a vCPU out of guest mode).
 *
 * <p>A note on "no host IPI": waking a thread onto another, idle host CPU is the host scheduler's
 * business, and Linux's try_to_wake_up does it with a reschedule IPI when the idle CPU is not polling
 * (javic's HostScheduler models exactly that, and traces it as ipi_raise, "Rescheduling interrupts",
 * the same reason string smp_send_reschedule gives a KVM kick). So these tests assert that KVM sent no
 * IPI (no kick: VcpuStats.hostIpisSent = 0, no INTR exit anywhere) and that every ipi_raise in the run
 * is the scheduler's wake-up of the idle CPU: at the same instant, from the same CPU, as the
 * sched_wakeup of the vCPU thread onto that CPU.
 */
class AvicHaltedTargetTest {

    /** Every ipi_raise must be the scheduler's wake-up IPI for a thread just made runnable on that CPU. */
    private static void assertOnlySchedulerWakeupIpis(RecordingSink t) {
        List<Event> ev = t.events;
        for (int i = 0; i < ev.size(); i++) {
            if (ev.get(i) instanceof IpiRaise r) {
                Event before = i > 0 ? ev.get(i - 1) : null;
                assertThat(before).as("ipi_raise %s must follow the scheduler's wake-up\n%s", r, t.dump())
                        .isInstanceOfSatisfying(SchedWakeup.class, w -> {
                            assertThat(w.time()).isEqualTo(r.time());
                            assertThat(w.cpu()).isEqualTo(r.cpu());
                            assertThat(w.targetCpu()).isEqualTo(r.targetCpu());
                        });
            }
        }
    }

    private static void assertNoKick(AvicRun run) {
        for (int v = 0; v < run.result().vcpus().size(); v++) {
            assertThat(run.vcpu(v).hostIpisSent()).as("host IPIs KVM sent to vcpu %d", v).isZero();
            assertThat(run.exits(v, "interrupt")).as("INTR exits of vcpu %d", v).isZero();
        }
        assertOnlySchedulerWakeupIpis(run.trace());
    }

    @Test
    void avicOnWakesTheHaltedTargetWithoutAKick() {
        AvicRun run = AvicRun.run(AvicRun.load("ipi-halted.yaml"), SystemKind.AVIC_ON);
        run.assertExpectationsHold();
        RecordingSink t = run.trace();

        // vCPU 1 halted: HLT exit, then KVM's blocking hook cleared IsRunning.
        Exit hlt = t.exits(1, SvmExit.HLT).get(0);
        IsRunning cleared = t.all(IsRunning.class, r -> r.vcpu() == 1 && !r.running()).get(0);
        assertThat(cleared.time()).isGreaterThan(hlt.time());

        // The ICR write: the hardware found IsRunning clear, set the IRR (no doorbell) ...
        AccelIpi hw = t.all(AccelIpi.class).get(0);
        assertThat(hw.time()).isGreaterThan(cleared.time());
        assertThat(hw.targetIndex()).isEqualTo(1);
        assertThat(hw.running()).isFalse();
        // ... and vCPU 0 exited with TARGET_NOT_RUNNING naming index 1.
        Exit incomplete = t.exits(0, SvmExit.AVIC_INCOMPLETE_IPI).get(0);
        assertThat(incomplete.info1()).isEqualTo(0x01000000_00004041L);
        assertThat(incomplete.info2()).isEqualTo(1L << 32 | 1);

        // KVM woke vCPU 1 from the sender's exit handler: sched_wakeup by CPU 0, and no kick.
        SchedWakeup wake = t.all(SchedWakeup.class, w -> w.comm().equals("CPU 1/KVM") && w.time() > 0).get(0);
        assertThat(wake.time()).isEqualTo(incomplete.time());
        assertThat(wake.cpu()).isZero();
        assertNoKick(run);
        assertThat(run.vcpu(1).haltWakeups()).isEqualTo(1);
        VcpuWakeup woke = t.all(VcpuWakeup.class, w -> w.vcpu() == 1).get(0);
        assertThat(woke.waited()).isTrue();

        // vCPU 1 took 0x41 from its IRR at the next VMRUN: no injection, no doorbell from KVM.
        GuestIrq irq = t.all(GuestIrq.class, g -> g.vcpu() == 1).get(0);
        assertThat(irq.vector()).isEqualTo(0x41);
        assertThat(irq.time()).isGreaterThan(woke.time());
        assertThat(run.vcpu(1).irqInjections()).isZero();
        assertThat(t.all(KvmDoorbell.class)).isEmpty();
    }

    @Test
    void avicOffWakesTheBlockedTargetWithoutAKickToo() {
        AvicRun run = AvicRun.run(AvicRun.load("ipi-halted.yaml"), SystemKind.AVIC_OFF);
        run.assertExpectationsHold();
        RecordingSink t = run.trace();
        // The ICR write exits (NPF); KVM's software APIC sets the IRR and calls kvm_vcpu_kick, whose
        // wake-up half finds the vCPU blocked in kvm_vcpu_block and wakes it; the vCPU is not in guest
        // mode, so the IPI half does nothing.
        Exit icr = t.all(Exit.class, e -> e.vcpu() == 0 && e.code() == SvmExit.NPF
                && e.info2() == AvicRun.APIC_BASE + 0x300).get(0);
        SchedWakeup wake = t.all(SchedWakeup.class, w -> w.comm().equals("CPU 1/KVM") && w.time() > 0).get(0);
        assertThat(wake.time()).isEqualTo(icr.time());
        assertNoKick(run);
        assertThat(run.vcpu(1).haltWakeups()).isEqualTo(1);
        // The vector is injected through event_inj at the next entry.
        assertThat(run.vcpu(1).irqInjections()).isEqualTo(1);
        assertThat(t.all(AccelIpi.class)).isEmpty();
    }

    @Test
    void avicOnWakesOnlyTheTargetsThatAreNotRunning() {
        AvicRun run = AvicRun.run(AvicRun.load("ipi-one-running-one-halted.yaml"), SystemKind.AVIC_ON);
        run.assertExpectationsHold();
        RecordingSink t = run.trace();

        List<AccelIpi> hw = t.all(AccelIpi.class);
        assertThat(hw).extracting(AccelIpi::targetIndex, AccelIpi::running)
                .containsExactly(tuple(1, true), tuple(2, false));
        Exit incomplete = t.exits(0, SvmExit.AVIC_INCOMPLETE_IPI).get(0);
        assertThat(incomplete.info1()).isEqualTo(0x00000000_000C4048L); // all-but-self (3 << 18), assert, 0x48
        assertThat(incomplete.info2()).isEqualTo(1L << 32 | 2);
        // vCPU 1 took 0x48 on the doorbell, in guest mode; the handler of vCPU 0's exit left it alone.
        assertNoKick(run);
        assertThat(run.vcpu(1).exitsTotal()).as("vCPU 1: SPIV trap and final HLT only\n%s", t.dump()).isEqualTo(2);
        assertThat(run.vcpu(2).haltWakeups()).isEqualTo(1);
    }
}
