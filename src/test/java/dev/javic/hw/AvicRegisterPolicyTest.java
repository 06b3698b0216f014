package dev.javic.hw;

import dev.javic.hw.AvicRegisterPolicy.IpiOutcome;
import dev.javic.hw.AvicRegisterPolicy.IpiTables;
import dev.javic.hw.AvicRegisterPolicy.Outcome;
import org.junit.jupiter.api.Test;

import static dev.javic.hw.AvicRegisterPolicy.ENTRY_INVALID;
import static dev.javic.hw.AvicRegisterPolicy.ENTRY_NOT_RUNNING;
import static dev.javic.hw.AvicRegisterPolicy.ENTRY_RUNNING;
import static org.assertj.core.api.Assertions.assertThat;

/** The AVIC register table as {@link AvicRegisterPolicy} encodes it (shared by AvicUnit and javic boot). */
class AvicRegisterPolicyTest {
    @Test
    void reads() {
        assertThat(AvicRegisterPolicy.classifyRead(ApicRegs.TPR, 4)).isEqualTo(Outcome.BACKING_PAGE_READ);
        assertThat(AvicRegisterPolicy.classifyRead(ApicRegs.IRR + 0x70, 4)).isEqualTo(Outcome.BACKING_PAGE_READ);
        assertThat(AvicRegisterPolicy.classifyRead(ApicRegs.TMCCT, 4)).isEqualTo(Outcome.FAULT);
        assertThat(AvicRegisterPolicy.classifyRead(0x3F0, 4)).isEqualTo(Outcome.FAULT);
        assertThat(AvicRegisterPolicy.classifyRead(ApicRegs.TPR + 4, 4)).isEqualTo(Outcome.FAULT);
        assertThat(AvicRegisterPolicy.classifyRead(ApicRegs.TPR, 8)).isEqualTo(Outcome.FAULT);
    }

    @Test
    void writes() {
        assertThat(AvicRegisterPolicy.classifyWrite(ApicRegs.TPR, 4, false)).isEqualTo(Outcome.TPR_WRITE);
        assertThat(AvicRegisterPolicy.classifyWrite(ApicRegs.EOI, 4, false)).isEqualTo(Outcome.EOI_EDGE);
        assertThat(AvicRegisterPolicy.classifyWrite(ApicRegs.EOI, 4, true)).isEqualTo(Outcome.TRAP);
        assertThat(AvicRegisterPolicy.classifyWrite(ApicRegs.ICR, 4, false)).isEqualTo(Outcome.IPI);
        assertThat(AvicRegisterPolicy.classifyWrite(ApicRegs.ICR2, 4, false)).isEqualTo(Outcome.ICR2_WRITE);
        for (int trap : new int[] {ApicRegs.ID, ApicRegs.LDR, ApicRegs.DFR, ApicRegs.SPIV, ApicRegs.ESR, ApicRegs.LVTT,
                ApicRegs.LVT0, ApicRegs.TMICT, ApicRegs.TDCR}) {
            assertThat(AvicRegisterPolicy.classifyWrite(trap, 4, false)).as("0x%x", trap).isEqualTo(Outcome.TRAP);
        }
        assertThat(AvicRegisterPolicy.classifyWrite(ApicRegs.LVR, 4, false)).isEqualTo(Outcome.FAULT);
        assertThat(AvicRegisterPolicy.classifyWrite(ApicRegs.TMCCT, 4, false)).isEqualTo(Outcome.FAULT);
        assertThat(AvicRegisterPolicy.classifyWrite(ApicRegs.TPR, 8, false)).isEqualTo(Outcome.FAULT);
        assertThat(Outcome.TPR_WRITE.accelerated()).isTrue();
        assertThat(Outcome.TRAP.accelerated()).isFalse();
    }

    private static IpiTables tables(int... physical) {
        return new IpiTables() {
            @Override
            public int maxIndex() {
                return physical.length - 1;
            }

            @Override
            public int physical(int index) {
                return physical[index];
            }

            @Override
            public int logical(int index) {
                return index < physical.length ? index : -1; // flat: bit n = vCPU n
            }
        };
    }

    @Test
    void ipis() {
        IpiTables t = tables(ENTRY_RUNNING, ENTRY_NOT_RUNNING, ENTRY_INVALID);
        assertThat(AvicRegisterPolicy.classifyIpi(0x40 | (1 << 18), 0, 0, true, t))
                .isEqualTo(new IpiOutcome(true, 0, 0, 1));
        assertThat(AvicRegisterPolicy.classifyIpi(0x40 | (ApicRegs.DM_NMI << 8), 0, 0, true, t).cause())
                .isEqualTo(AvicTables.IPI_FAILURE_INVALID_INT_TYPE);
        assertThat(AvicRegisterPolicy.classifyIpi(0x40 | ApicRegs.ICR_LEVEL_TRIGGER, 0, 0, true, t).accelerated()).isFalse();
        IpiOutcome halted = AvicRegisterPolicy.classifyIpi(0x40, 1 << 24, 0, true, t);
        assertThat(halted).isEqualTo(new IpiOutcome(false, AvicTables.IPI_FAILURE_TARGET_NOT_RUNNING, 1, 1));
        assertThat(AvicRegisterPolicy.classifyIpi(0x40, 2 << 24, 0, true, t).cause())
                .isEqualTo(AvicTables.IPI_FAILURE_INVALID_TARGET);
        assertThat(AvicRegisterPolicy.classifyIpi(0x40, 7 << 24, 0, true, t).cause())
                .isEqualTo(AvicTables.IPI_FAILURE_INVALID_TARGET);
        // All excluding self from 0: vCPU 1 is halted; the invalid entry 2 is skipped.
        assertThat(AvicRegisterPolicy.classifyIpi(0x40 | (3 << 18), 0, 0, true, t))
                .isEqualTo(new IpiOutcome(false, AvicTables.IPI_FAILURE_TARGET_NOT_RUNNING, 1, 1));
        // Logical flat: bit 0 running -> accelerated; bits 0|1 -> vCPU 1 not running; bit 2 -> invalid.
        int logical = 0x40 | ApicRegs.ICR_DEST_LOGICAL;
        assertThat(AvicRegisterPolicy.classifyIpi(logical, 0x01 << 24, 1, true, t).accelerated()).isTrue();
        assertThat(AvicRegisterPolicy.classifyIpi(logical, 0x03 << 24, 0, true, t).cause())
                .isEqualTo(AvicTables.IPI_FAILURE_TARGET_NOT_RUNNING);
        assertThat(AvicRegisterPolicy.classifyIpi(logical, 0x05 << 24, 0, true, t).cause())
                .isEqualTo(AvicTables.IPI_FAILURE_INVALID_TARGET);
    }
}
