package dev.javic.workload;

import dev.javic.experiment.SystemKind;
import dev.javic.experiment.TarRunner;
import dev.javic.sim.CostModel;
import dev.javic.workload.tar.Tar;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A small tar xf on 4 vCPUs: every byte and file of the modelled tarball arrives through the pipe into the page
 * cache, the flusher's block I/O kicks the device and its completions interrupt the guest, runs are
 * reproducible and batching changes nothing; AVIC removes the EOI and IPI exits but not the HLT and kick exits.
 */
class TarTest {
    private static final CostModel COSTS = CostModel.defaults();
    /** 640 members, 24 MB of data, 64 MiB of RAM: background writeback starts after ~10.9 MB. */
    private static final Tar.Params SMALL = new Tar.Params(600, 40, 24_000_000, 64L << 20, 1);

    static TarRunner.Outcome run(SystemKind system, Tar.Params p, long seed, boolean batching) {
        return TarRunner.run(new TarRunner.Spec(system, 4, p, seed, COSTS, batching));
    }

    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void everyByteAndFileArrivesAndTheFlusherWritesBack(SystemKind system) {
        TarRunner.Outcome o = run(system, SMALL, 1, true);
        assertThat(o.bytesWritten()).isEqualTo(SMALL.fileBytes());
        assertThat(o.filesCreated()).isEqualTo(SMALL.files());
        assertThat(o.dirsCreated()).isEqualTo(SMALL.dirs());
        assertThat(o.pipeUnits() * 2048).isEqualTo(o.archiveBytes()).isEqualTo(SMALL.archiveBytes());
        assertThat(o.archiveBytes() % Tar.RECORD).isZero();
        // (24 MB - 6.7 MB threshold) / 4 MiB chunks = 4 chunks of 9 requests of at most 504 KiB, one kick each
        assertThat(o.blockBytes()).isEqualTo(4 * Tar.WRITEBACK_CHUNK);
        assertThat(o.blockRequests()).isEqualTo(4 * 9);
        assertThat(o.kicks()).isEqualTo(4).isEqualTo(o.ioeventfdSignals()).isEqualTo(o.exits("io"));
        assertThat(o.blockInterrupts()).isPositive().isLessThanOrEqualTo(o.blockRequests());
        assertThat(o.blockCompletions()).isPositive().isLessThanOrEqualTo(o.blockRequests());
        // a request completes on the CPU that submitted it: the others' through CALL_FUNCTION_SINGLE IPIs
        assertThat(o.remoteCompletions()).isGreaterThanOrEqualTo(o.callFunctionIpis());
        assertThat(o.callFunctionIpis() > 0).isEqualTo(o.remoteCompletions() > 0);
        assertThat(o.reschedIpis()).isPositive();
        assertThat(o.haltExits()).isPositive();
        assertThat(o.unattributedPauses()).isZero();
        // xz decompresses 24.6 MB at 45.5 MB/s: tar cannot finish sooner
        assertThat(o.seconds()).isGreaterThan(o.archiveBytes() / 45.5e6 * 0.99).isLessThan(2 * o.archiveBytes() / 45.5e6);
    }

    @Test
    void sameSeedSameResultAndBatchingChangesNothing() {
        TarRunner.Outcome a = run(SystemKind.AVIC_OFF, SMALL, 7, true);
        assertThat(run(SystemKind.AVIC_OFF, SMALL, 7, true)).isEqualTo(a);
        TarRunner.Outcome step = run(SystemKind.AVIC_OFF, SMALL, 7, false);
        assertThat(step.seconds()).isEqualTo(a.seconds());
        assertThat(step.simulatedSeconds()).isEqualTo(a.simulatedSeconds());
        assertThat(step.exitsByReason()).isEqualTo(a.exitsByReason());
        assertThat(step.contextSwitches()).isEqualTo(a.contextSwitches());
        assertThat(step.wakeups()).isEqualTo(a.wakeups());
        assertThat(step.blockInterrupts()).isEqualTo(a.blockInterrupts());
        assertThat(step.events()).isGreaterThan(a.events());
        TarRunner.Outcome other = run(SystemKind.AVIC_OFF, SMALL, 8, true);
        assertThat(other.seconds()).isNotEqualTo(a.seconds());
    }

    @Test
    void avicTakesNoApicExitsButKeepsHaltAndKickExits() {
        TarRunner.Outcome off = run(SystemKind.AVIC_OFF, SMALL, 2, true);
        TarRunner.Outcome on = run(SystemKind.AVIC_ON, SMALL, 2, true);
        // avic-off: the guest runs x2APIC (GuestApic); every ICR write and every EOI that PV EOI did not take is an
        // MSR exit, as are boot's APIC_BASE read and write, four register writes and MSR_KVM_PV_EOI_EN per vCPU;
        // every interrupt the guest takes (tick, IPI, block completion) was injected by KVM through event_inj; no
        // doorbell. With PV EOI nearly every EOI skips its exit, so avic-off's exits are about its IPIs, as many
        // as avic-on's incomplete-IPI exits: tar's IPIs go to halted vCPUs, and AVIC does not save those.
        assertThat(off.exits("npf")).isZero();
        assertThat(off.exits("msr")).isEqualTo(off.reschedIpis() + off.callFunctionIpis() + off.interruptsDelivered()
                - off.pvEoisTaken() + 7 * 4);
        assertThat(off.pvEoisTaken()).isGreaterThanOrEqualTo(off.interruptsDelivered() * 9 / 10);
        assertThat(off.irqInjections()).isEqualTo(off.interruptsDelivered());
        assertThat(off.blockInterrupts()).isPositive();
        assertThat(off.doorbells()).isZero();
        // avic-on: no EOI / ICR exits (msr: MSR_KVM_PV_EOI_EN at boot only; KVM never offers a PV EOI with AVIC);
        // a reschedule IPI to a halted vCPU is an incomplete-IPI exit; the device's completions and IPIs to running
        // vCPUs ring doorbells; HLT and the kicks still exit
        assertThat(on.exits("npf")).isZero();
        assertThat(on.exits("msr")).isEqualTo(4);
        assertThat(on.pvEoisTaken()).isZero();
        assertThat(on.exits("avic_incomplete_ipi")).isPositive().isLessThanOrEqualTo(on.reschedIpis());
        assertThat(on.doorbells()).isPositive();
        assertThat(on.irqInjections()).isZero();
        assertThat(on.blockInterrupts()).isPositive();
        assertThat(on.exits("hlt")).isPositive();
        assertThat(on.exits("io")).isEqualTo(on.kicks()).isEqualTo(off.kicks());
        assertThat(on.seconds()).isLessThanOrEqualTo(off.seconds());
    }

    @Test
    void completionsOfAnotherCpusRequestsGoThereByCallFunctionIpi() {
        // seed 10: the flusher submits from a vCPU other than 0, where the completion interrupt arrives; each
        // request completes in an interrupt of its own, so each finds the submitter's queue empty and sends an IPI
        TarRunner.Outcome o = run(SystemKind.AVIC_ON, SMALL, 10, true);
        assertThat(o.blockInterrupts()).isEqualTo(o.blockRequests());
        assertThat(o.callFunctionIpis()).isEqualTo(o.remoteCompletions()).isEqualTo(o.blockRequests());
        assertThat(o.blockCompletions()).isEqualTo(o.blockRequests());
        // seed 1: the flusher runs on vCPU 0, every completion is local
        TarRunner.Outcome local = run(SystemKind.AVIC_ON, SMALL, 1, true);
        assertThat(local.callFunctionIpis()).isZero();
        assertThat(local.blockCompletions()).isEqualTo(local.blockRequests());
    }

    @Test
    void jbd2CommitsTheJournalEveryFiveSeconds() {
        // 35 % of the tarball: ~6 s of xz, so one commit of the metadata of the files created by then
        Tar.Params p = Tar.Params.LINUX_4_3_3.scaled(0.35);
        TarRunner.Outcome o = run(SystemKind.AVIC_ON, p, 1, true);
        assertThat(o.seconds()).isGreaterThan(5);
        assertThat(o.journalBytes()).isPositive().isLessThan(p.files() * Tar.JOURNAL_BYTES_PER_INODE + p.dirs() * 400 + 3 * 4096);
        assertThat(o.filesCreated()).isEqualTo(p.files());
        assertThat(o.bytesWritten()).isEqualTo(p.fileBytes());
    }

    @Test
    void badParametersAreRefused() {
        assertThatThrownBy(() -> new Tar.Params(0, 1, 1, 1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Tar.Params(1, 0, 1, 1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Tar.Params(1, 1, -1, 1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Tar.Params.LINUX_4_3_3.scaled(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Tar.Params.LINUX_4_3_3.scaled(1.5)).isInstanceOf(IllegalArgumentException.class);
    }
}
