package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static dev.javic.hw.ApicRegs.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The APIC timer against the fake clock (2 GHz guest TSC: 2 ticks per ns, APIC bus 1 ns per cycle). */
class LocalApicTimerTest {
    private static final int TIMER_VECTOR = 0xEF;

    private FakeLapicHost host;
    private LocalApic apic;

    @BeforeEach
    void setUp() {
        TestVm vm = TestVm.enabled(1);
        host = vm.host(0);
        apic = vm.apic(0);
    }

    private void acknowledgeAndEoi() {
        assertThat(apic.getInterrupt()).isEqualTo(TIMER_VECTOR);
        apic.regWrite(EOI, 0);
    }

    @Test
    void oneShotArmsCountsDownAndFiresOnce() {
        apic.regWrite(LVTT, TIMER_VECTOR);
        apic.regWrite(TDCR, TDCR_DIVIDE_BY_1);
        long start = host.tsc;
        apic.regWrite(TMICT, 1000);
        assertThat(host.armedDeadline).isEqualTo(start + 2000);
        assertThat(apic.regRead(TMCCT)).isEqualTo(1000);
        host.advanceNs(250);
        assertThat(apic.regRead(TMCCT)).isEqualTo(750);
        host.fire(apic);
        assertThat(apic.hasInterrupt()).isEqualTo(TIMER_VECTOR);
        assertThat(host.kicks).isEqualTo(1);
        assertThat(apic.regRead(TMCCT)).isZero();
        assertThat(apic.regRead(TMICT)).isEqualTo(1000);
        assertThat(host.armedDeadline).as("not re-armed").isEqualTo(-1);
        assertThat(apic.isTimerArmed()).isFalse();
    }

    @ParameterizedTest(name = "TDCR {0} divides by {1}")
    @CsvSource({"0x0, 2", "0x1, 4", "0x2, 8", "0x3, 16", "0x8, 32", "0x9, 64", "0xA, 128", "0xB, 1"})
    void tdcrScalesTheCountdown(String tdcr, int divide) {
        apic.regWrite(LVTT, TIMER_VECTOR);
        apic.regWrite(TDCR, Integer.decode(tdcr));
        long start = host.tsc;
        apic.regWrite(TMICT, 100);
        assertThat(host.armedDeadline).isEqualTo(start + 100L * divide * 2);
        host.advanceNs(30L * divide);
        assertThat(apic.regRead(TMCCT)).isEqualTo(70);
    }

    @Test
    void periodicReArmsOnePeriodAfterEachTargetWithoutDrift() {
        apic.regWrite(LVTT, LVT_TIMER_PERIODIC | TIMER_VECTOR);
        apic.regWrite(TDCR, TDCR_DIVIDE_BY_1);
        long start = host.tsc;
        apic.regWrite(TMICT, 300_000); // 300 us
        long periodTsc = 600_000;
        assertThat(host.armedDeadline).isEqualTo(start + periodTsc);
        host.tsc = start + periodTsc + 100; // the host fires late
        host.fire(apic);
        acknowledgeAndEoi();
        assertThat(host.armedDeadline).isEqualTo(start + 2 * periodTsc);
        assertThat(apic.regRead(TMCCT)).isEqualTo(300_000 - 50);
        host.fire(apic);
        acknowledgeAndEoi();
        assertThat(host.armedDeadline).isEqualTo(start + 3 * periodTsc);
    }

    @Test
    void aShortPeriodicTimerIsClampedToTheMinimumPeriod() {
        apic.regWrite(LVTT, LVT_TIMER_PERIODIC | TIMER_VECTOR);
        apic.regWrite(TDCR, TDCR_DIVIDE_BY_1);
        long start = host.tsc;
        apic.regWrite(TMICT, 1000);
        assertThat(host.armedDeadline).isEqualTo(start + LocalApic.MIN_TIMER_PERIOD_NS * 2);
        assertThat(apic.regRead(TMCCT)).as("never above the initial count").isEqualTo(1000);
    }

    @Test
    void writingZeroToTmictStopsTheTimer() {
        apic.regWrite(LVTT, TIMER_VECTOR);
        apic.regWrite(TMICT, 5000);
        apic.regWrite(TMICT, 0);
        assertThat(host.armedDeadline).isEqualTo(-1);
        assertThat(host.cancelCount).isEqualTo(1);
        assertThat(apic.regRead(TMCCT)).isZero();
        apic.timerExpired(); // a stale expiry from the host is ignored
        assertThat(apic.irrPending()).isFalse();
    }

    @Test
    void tscDeadlineModeArmsAtTheDeadlineAndIgnoresTmict() {
        apic.regWrite(LVTT, LVT_TIMER_TSCDEADLINE | TIMER_VECTOR);
        apic.regWrite(TMICT, 1000);
        assertThat(apic.regRead(TMICT)).isZero();
        assertThat(host.armedDeadline).isEqualTo(-1);
        long deadline = host.tsc + 5000;
        apic.setTscDeadline(deadline);
        assertThat(apic.getTscDeadline()).isEqualTo(deadline);
        assertThat(host.armedDeadline).isEqualTo(deadline);
        assertThat(apic.regRead(TMCCT)).isZero();
        host.fire(apic);
        assertThat(apic.hasInterrupt()).isEqualTo(TIMER_VECTOR);
        assertThat(apic.getTscDeadline()).as("retired once fired").isZero();
    }

    @Test
    void tscDeadlineZeroDisarmsAndAPastDeadlineFiresAtOnce() {
        apic.regWrite(LVTT, LVT_TIMER_TSCDEADLINE | TIMER_VECTOR);
        apic.setTscDeadline(host.tsc + 5000);
        apic.setTscDeadline(0);
        assertThat(host.armedDeadline).isEqualTo(-1);
        assertThat(apic.isTimerArmed()).isFalse();
        apic.setTscDeadline(host.tsc - 1);
        assertThat(apic.hasInterrupt()).isEqualTo(TIMER_VECTOR);
        assertThat(host.armedDeadline).isEqualTo(-1);
        assertThat(apic.getTscDeadline()).isZero();
    }

    @Test
    void theDeadlineMsrIsIgnoredOutsideTscDeadlineMode() {
        apic.regWrite(LVTT, TIMER_VECTOR);
        apic.setTscDeadline(host.tsc + 5000);
        assertThat(host.armedDeadline).isEqualTo(-1);
        assertThat(apic.getTscDeadline()).isZero();
    }

    @Test
    void switchingToTscDeadlineModeStopsTheCountdown() {
        apic.regWrite(LVTT, TIMER_VECTOR);
        apic.regWrite(TMICT, 5000);
        apic.regWrite(LVTT, LVT_TIMER_TSCDEADLINE | TIMER_VECTOR);
        assertThat(host.armedDeadline).isEqualTo(-1);
        assertThat(apic.regRead(TMICT)).isZero();
        apic.regWrite(LVTT, LVT_TIMER_PERIODIC | TIMER_VECTOR); // and back: nothing runs until TMICT is written
        assertThat(host.armedDeadline).isEqualTo(-1);
    }

    @Test
    void aMaskedTimerExpiresWithoutAnInterrupt() {
        apic.regWrite(LVTT, LVT_MASKED | TIMER_VECTOR);
        apic.regWrite(TMICT, 1000);
        host.fire(apic);
        assertThat(apic.irrPending()).isFalse();
        assertThat(host.kicks).isZero();
    }

    @Test
    void softwareDisableMasksARunningTimer() {
        apic.regWrite(LVTT, LVT_TIMER_PERIODIC | TIMER_VECTOR);
        apic.regWrite(TMICT, 300_000);
        apic.regWrite(SPIV, 0xFF);
        assertThat(apic.regRead(LVTT) & LVT_MASKED).isNotZero();
        host.fire(apic);
        assertThat(apic.irrPending()).isFalse();
    }

    @Test
    void changingTheDivideRescalesTheRemainingTime() {
        apic.regWrite(LVTT, TIMER_VECTOR);
        apic.regWrite(TDCR, TDCR_DIVIDE_BY_1);
        apic.regWrite(TMICT, 1000);
        host.advanceNs(500);
        apic.regWrite(TDCR, TDCR_DIVIDE_BY_2);
        assertThat(host.armedDeadline).as("500 ns left become 1000 ns").isEqualTo(host.tsc + 2000);
        assertThat(apic.regRead(TMCCT)).isEqualTo(500);
        assertThat(apic.regRead(TDCR)).isEqualTo(TDCR_DIVIDE_BY_2);
    }

    @Test
    void changingTheDivideAfterAOneShotFiredDoesNotRefire() {
        apic.regWrite(LVTT, TIMER_VECTOR);
        apic.regWrite(TMICT, 1000);
        host.fire(apic);
        acknowledgeAndEoi();
        apic.regWrite(TDCR, TDCR_DIVIDE_BY_1);
        assertThat(host.armedDeadline).isEqualTo(-1);
    }
}
