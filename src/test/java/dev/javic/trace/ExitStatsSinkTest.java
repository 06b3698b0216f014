package dev.javic.trace;

import dev.javic.hw.SvmExit;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class ExitStatsSinkTest {
    /** 1 GHz: 1000 cycles are one microsecond. */
    private static final long TSC_HZ = 1_000_000_000L;
    private final ExitStatsSink sink = new ExitStatsSink(TSC_HZ, 2, 2);

    private void exit(int vcpu, int code, long at, long handledCycles) {
        sink.kvmExit(at, vcpu, vcpu, code, 0, 0, 0, 0, 0);
        sink.kvmEntry(at + handledCycles, vcpu, vcpu, 0);
    }

    @Test
    void exitTimeIsFromKvmExitToTheNextKvmEntryOfThatVcpu() {
        exit(0, SvmExit.NPF, 0, 1_000);
        exit(0, SvmExit.NPF, 10_000, 3_000);
        exit(1, SvmExit.NPF, 5_000, 2_000);
        exit(1, SvmExit.HLT, 20_000, 40_000);
        ExitStatsSink.Table all = sink.table(-1);
        assertThat(all.totalSamples()).isEqualTo(4);
        assertThat(all.untimed()).isZero();
        assertThat(all.totalTimeUs()).isCloseTo(46.0, within(1e-9));
        ExitStatsSink.Row npf = all.rows().get(0);
        assertThat(npf.reason()).isEqualTo("npf");
        assertThat(npf.samples()).isEqualTo(3);
        assertThat(npf.minUs()).isEqualTo(1.0);
        assertThat(npf.maxUs()).isEqualTo(3.0);
        assertThat(npf.avgUs()).isCloseTo(2.0, within(1e-9));
        assertThat(npf.totalUs()).isCloseTo(6.0, within(1e-9));
        // perf: stddev of the mean relative to the mean; samples 1, 3, 2 -> s = 1, s/sqrt(3) / 2 = 28.87%
        assertThat(npf.relStddevPct()).isCloseTo(100.0 / Math.sqrt(3) / 2, within(1e-9));
        assertThat(all.rows().get(1).reason()).isEqualTo("hlt");

        ExitStatsSink.Table vcpu0 = sink.table(0);
        assertThat(vcpu0.scope()).isEqualTo("VCPU 0");
        assertThat(vcpu0.rows()).hasSize(1);
        assertThat(vcpu0.rows().get(0).relStddevPct()).isCloseTo(100.0 * Math.sqrt(2) / Math.sqrt(2) / 2, within(1e-9));
    }

    @Test
    void mergingVcpusEqualsOneStream() {
        long[] d = {700, 1_300, 900, 5_000, 1_100, 2_200};
        for (int i = 0; i < d.length; i++) {
            exit(i % 2, SvmExit.MSR, i * 100_000L, d[i]);
        }
        ExitStatsSink one = new ExitStatsSink(TSC_HZ, 1, 1);
        for (int i = 0; i < d.length; i++) {
            one.kvmExit(i * 100_000L, 0, 0, SvmExit.MSR, 0, 0, 0, 0, 0);
            one.kvmEntry(i * 100_000L + d[i], 0, 0, 0);
        }
        ExitStatsSink.Row merged = sink.table(-1).rows().get(0);
        ExitStatsSink.Row single = one.table(-1).rows().get(0);
        assertThat(merged.avgUs()).isCloseTo(single.avgUs(), within(1e-9));
        assertThat(merged.relStddevPct()).isCloseTo(single.relStddevPct(), within(1e-9));
        assertThat(merged.minUs()).isEqualTo(0.7);
        assertThat(merged.maxUs()).isEqualTo(5.0);
    }

    @Test
    void anExitThatNeverEndsIsCountedButNotTimed() {
        exit(0, SvmExit.NPF, 0, 1_000);
        sink.kvmExit(5_000, 0, 0, SvmExit.HLT, 0, 0, 0, 0, 0);
        ExitStatsSink.Table t = sink.table(-1);
        assertThat(t.totalSamples()).isEqualTo(2);
        assertThat(t.untimed()).isEqualTo(1);
        assertThat(t.totalTimeUs()).isCloseTo(1.0, within(1e-9));
        ExitStatsSink.Row hlt = t.rows().stream().filter(r -> r.reason().equals("hlt")).findFirst().orElseThrow();
        assertThat(hlt.timed()).isZero();
    }

    @Test
    void ties_sortByExitCodeAndUnknownCodesShareARow() {
        exit(0, SvmExit.HLT, 0, 10);
        exit(0, SvmExit.NPF, 100, 10);
        exit(0, 0x7FFF, 200, 10);
        exit(0, SvmExit.ERR, 300, 10);
        assertThat(sink.table(-1).rows().stream().map(ExitStatsSink.Row::reason))
                .containsExactly("invalid", "hlt", "npf", "other");
    }

    @Test
    void deliveryCountersSayHowInterruptsArrived() {
        sink.kvmEntry(0, 1, 1, 0);                   // vCPU 1 runs on CPU 1
        sink.kvmApicIpi(10, 0, 0, 0x40, 1);
        sink.ipiRaise(10, 0, 1, "Rescheduling interrupts");
        sink.kvmInjVirq(20, 1, 1, 0x40, false, false);
        sink.avicIpiAccelerated(30, 0, 0, 1, 0x41, true);
        sink.avicDoorbellReceived(31, 1, 1);
        sink.guestInterrupt(32, 1, 1, 0x41);
        sink.guestInterrupt(33, 1, 1, 13);           // an exception is not an interrupt
        long[] all = sink.delivery(-1);
        assertThat(all[ExitStatsSink.Delivery.IPI_THROUGH_EXIT.ordinal()]).isEqualTo(1);
        assertThat(all[ExitStatsSink.Delivery.HOST_IPI.ordinal()]).isEqualTo(1);
        assertThat(all[ExitStatsSink.Delivery.INJECTED.ordinal()]).isEqualTo(1);
        assertThat(all[ExitStatsSink.Delivery.IPI_BY_AVIC.ordinal()]).isEqualTo(1);
        assertThat(all[ExitStatsSink.Delivery.DOORBELL_TAKEN.ordinal()]).isEqualTo(1);
        assertThat(all[ExitStatsSink.Delivery.GUEST_IRQ.ordinal()]).isEqualTo(1);
        assertThat(sink.delivery(1)[ExitStatsSink.Delivery.HOST_IPI.ordinal()]).as("kicked vCPU 1").isEqualTo(1);
        assertThat(sink.delivery(0)[ExitStatsSink.Delivery.IPI_THROUGH_EXIT.ordinal()]).as("sent by vCPU 0").isEqualTo(1);
    }
}
