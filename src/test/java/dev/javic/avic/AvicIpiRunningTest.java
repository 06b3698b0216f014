package dev.javic.avic;

import dev.javic.avic.RecordingSink.AccelIpi;
import dev.javic.avic.RecordingSink.DoorbellRx;
import dev.javic.avic.RecordingSink.Exit;
import dev.javic.avic.RecordingSink.GuestIrq;
import dev.javic.avic.RecordingSink.IpiRaise;
import dev.javic.avic.RecordingSink.KvmDoorbell;
import dev.javic.experiment.SystemKind;
import dev.javic.hw.SvmExit;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * design.md "IPI, AVIC on, target running": the sender's ICR write is accelerated, the target's IRR
 * is set in its backing page and a doorbell makes its core take the vector, and the EOI is
 * accelerated: no exit at all between the ICR write and the EOI, on either vCPU. With avic-off the
 * same guest code costs the ICR write's NPF exit, the INTR exit of the kick and the EOI's NPF exit.
 */
class AvicIpiRunningTest {
    private static final long NPF_WRITE_INFO1 = 0x1_0000_0006L; // NPF: guest final, user, write (SvmExit.NPF_*)

    @Test
    void avicOnTakesNoExitBetweenTheIcrWriteAndTheEoi() {
        AvicRun run = AvicRun.run(AvicRun.load("ipi-running-eoi.yaml"), SystemKind.AVIC_ON);
        run.assertExpectationsHold();
        RecordingSink t = run.trace();

        // The ICR write: accelerated by vCPU 0's AVIC unit, to physical index 1, which was running.
        List<AccelIpi> ipis = t.all(AccelIpi.class);
        assertThat(ipis).hasSize(1);
        AccelIpi ipi = ipis.get(0);
        assertThat(ipi.vcpu()).isZero();
        assertThat(ipi.targetIndex()).isEqualTo(1);
        assertThat(ipi.vector()).isEqualTo(0x40);
        assertThat(ipi.running()).isTrue();

        // The hardware rang the doorbell (KVM did not), and vCPU 1 took 0x40 on it, in guest mode.
        assertThat(t.all(KvmDoorbell.class)).isEmpty();
        DoorbellRx rx = t.all(DoorbellRx.class).get(0);
        assertThat(rx.vcpu()).isEqualTo(1);
        assertThat(rx.time()).isGreaterThan(ipi.time());
        GuestIrq irq = t.all(GuestIrq.class, g -> g.vcpu() == 1).get(0);
        assertThat(irq.vector()).isEqualTo(0x40);
        assertThat(irq.time()).isEqualTo(rx.time());

        // The window: from the ICR write to the guest's read after its EOI. Not a single exit in it.
        long windowStart = ipi.time();
        long windowEndNs = run.readTimeNs(1, "irr_after_eoi");
        List<Exit> inWindow = t.all(Exit.class, e -> e.time() >= windowStart
                && run.costs().cyclesToNs(e.time()) <= windowEndNs);
        assertThat(inWindow).as("exits between the ICR write and the EOI\n%s", t.dump()).isEmpty();

        // Over the whole run each vCPU exits only for set-up (the SPIV write traps) and the final HLT.
        for (int v = 0; v < 2; v++) {
            assertThat(t.exits(v).stream().map(Exit::code).toList())
                    .as("vcpu %d exits", v)
                    .containsExactly(SvmExit.AVIC_UNACCELERATED_ACCESS, SvmExit.HLT);
            Exit spiv = t.exits(v).get(0);
            assertThat(spiv.info1()).isEqualTo(1L << 32 | 0xF0);
            assertThat(spiv.time()).isLessThan(windowStart);
            assertThat(run.costs().cyclesToNs(t.exits(v).get(1).time())).isGreaterThan(windowEndNs);
        }
        assertThat(run.vcpu(1).irqInjections()).isZero();
        assertThat(run.vcpu(1).hostIpisSent()).isZero();
        assertThat(t.all(IpiRaise.class, r -> r.time() >= windowStart
                && run.costs().cyclesToNs(r.time()) <= windowEndNs)).isEmpty();
    }

    @Test
    void avicOffExitsForTheIcrWriteTheKickAndTheEoi() {
        AvicRun run = AvicRun.run(AvicRun.load("ipi-running-eoi.yaml"), SystemKind.AVIC_OFF);
        run.assertExpectationsHold();
        RecordingSink t = run.trace();

        Exit icr = t.all(Exit.class, e -> e.vcpu() == 0 && e.code() == SvmExit.NPF
                && e.info2() == AvicRun.APIC_BASE + 0x300).get(0);
        Exit eoi = t.all(Exit.class, e -> e.vcpu() == 1 && e.code() == SvmExit.NPF
                && e.info2() == AvicRun.APIC_BASE + 0xB0).get(0);
        List<Exit> window = t.all(Exit.class, e -> e.time() >= icr.time() && e.time() <= eoi.time());
        assertThat(window).as("exits from the ICR write to the EOI\n%s", t.dump()).hasSize(3);
        // 1. vCPU 0's ICR write: a nested page fault on the APIC page (write), emulated by KVM.
        assertThat(window.get(0)).isEqualTo(icr);
        assertThat(icr.info1()).isEqualTo(NPF_WRITE_INFO1);
        // 2. vCPU 1 kicked out of guest mode by a host IPI from vCPU 0's CPU: an INTR exit.
        Exit intr = window.get(1);
        assertThat(intr.vcpu()).isEqualTo(1);
        assertThat(intr.code()).isEqualTo(SvmExit.INTR);
        List<IpiRaise> kicks = t.all(IpiRaise.class, r -> r.time() >= icr.time() && r.time() <= intr.time());
        assertThat(kicks).hasSize(1);
        assertThat(kicks.get(0).cpu()).isZero();
        assertThat(kicks.get(0).targetCpu()).isEqualTo(1);
        // 3. vCPU 1's EOI: another NPF (write of 0 to 0xB0).
        assertThat(window.get(2)).isEqualTo(eoi);
        assertThat(eoi.info1()).isEqualTo(NPF_WRITE_INFO1);

        // The vector went in through event injection, between the INTR exit and the EOI.
        assertThat(run.vcpu(1).irqInjections()).isEqualTo(1);
        GuestIrq irq = t.all(GuestIrq.class, g -> g.vcpu() == 1).get(0);
        assertThat(irq.time()).isBetween(intr.time(), eoi.time());
        assertThat(t.all(AccelIpi.class)).isEmpty();
        assertThat(t.all(DoorbellRx.class)).isEmpty();
    }
}
