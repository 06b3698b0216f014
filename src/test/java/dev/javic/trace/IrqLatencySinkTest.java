package dev.javic.trace;

import dev.javic.hw.SvmExit;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class IrqLatencySinkTest {
    /** 1 GHz: cycles are nanoseconds. */
    private static final long TSC_HZ = 1_000_000_000L;
    private final IrqLatencySink sink = new IrqLatencySink(TSC_HZ, 2);

    private IrqLatencySink.Summary summary(String kind) {
        return sink.summaries(-1).stream().filter(s -> s.kind().equals(kind)).findFirst().orElseThrow();
    }

    @Test
    void exitPathIpiIsMeasuredFromTheTrappingExitOfTheIcrWrite() {
        sink.kvmExit(1_000, 0, 0, SvmExit.NPF, 0, 0, 0xfee00300L, 0, 0);
        sink.kvmApicIpi(1_300, 0, 0, 0x4040, 1);
        sink.kvmApicAcceptIrq(1_300, 0, 1, 0, false, 0x40);
        sink.guestInterrupt(4_500, 1, 1, 0x40);
        IrqLatencySink.Summary ipi = summary("ipi");
        assertThat(ipi.count()).isEqualTo(1);
        assertThat(ipi.p50Us()).isEqualTo(3.5);
        assertThat(ipi.maxUs()).isEqualTo(3.5);
        assertThat(summary("device/timer").count()).isZero();
        assertThat(summary("all").count()).isEqualTo(1);
    }

    @Test
    void avicIpiIsMeasuredFromTheAcceleratedIcrWrite() {
        sink.avicIpiAccelerated(2_000, 0, 0, 1, 0x41, true);
        sink.guestInterrupt(2_555, 1, 1, 0x41);
        assertThat(summary("ipi").p99Us()).isEqualTo(0.555);
    }

    @Test
    void anAcceptWithNoIpiBehindItIsAHostInjection() {
        sink.kvmApicIpi(100, 0, 0, 0x4040, 1);
        sink.kvmApicAcceptIrq(100, 0, 1, 0, false, 0x40);   // the IPI's accept
        sink.kvmApicAcceptIrq(900, 1, 1, 0, false, 0xec);   // later: the timer
        sink.guestInterrupt(1_000, 1, 1, 0x40);
        sink.guestInterrupt(1_700, 1, 1, 0xec);
        assertThat(summary("ipi").count()).isEqualTo(1);
        assertThat(summary("device/timer").count()).isEqualTo(1);
        assertThat(summary("device/timer").p50Us()).isEqualTo(0.8);
    }

    @Test
    void percentilesOfManySamples() {
        for (int i = 1; i <= 1000; i++) {
            long t = i * 100_000L;
            sink.avicIpiAccelerated(t, 0, 0, 1, 0x41, true);
            sink.guestInterrupt(t + i * 10L, 1, 1, 0x41);     // 10 ns .. 10 us
        }
        IrqLatencySink.Summary s = summary("ipi");
        assertThat(s.count()).isEqualTo(1000);
        assertThat(s.minUs()).isEqualTo(0.01);
        assertThat(s.p50Us()).isBetween(4.99, 5.01);
        assertThat(s.p90Us()).isBetween(8.99, 9.01);
        assertThat(s.p99Us()).isBetween(9.89, 9.91);
        assertThat(s.maxUs()).isEqualTo(10.0);
        assertThat(sink.histogram(1, IrqLatencySink.ALL_KINDS).getTotalCount()).isEqualTo(1000);
        assertThat(sink.histogram(0, IrqLatencySink.ALL_KINDS).getTotalCount()).isZero();
        assertThat(sink.summaries(0)).extracting(IrqLatencySink.Summary::count).containsExactly(0L, 0L, 0L);
    }

    @Test
    void aSecondSendWhilePendingIsCoalescedIntoTheFirst() {
        sink.avicIpiAccelerated(100, 0, 0, 1, 0x41, false);
        sink.avicIpiAccelerated(200, 0, 0, 1, 0x41, false);
        sink.guestInterrupt(1_100, 1, 1, 0x41);
        assertThat(summary("ipi").count()).isEqualTo(1);
        assertThat(summary("ipi").maxUs()).isEqualTo(1.0);
        assertThat(sink.coalesced()).isEqualTo(1);
    }

    @Test
    void exceptionsAndNmisAreNotInterruptsSent() {
        sink.guestInterrupt(100, 0, 0, 13);
        sink.guestInterrupt(200, 0, 0, 2);
        assertThat(sink.summaries(-1)).extracting(IrqLatencySink.Summary::count).containsExactly(0L, 0L, 0L);
        assertThat(IrqLatencySink.KINDS).isEqualTo(List.of("ipi", "device/timer", "all"));
    }
}
