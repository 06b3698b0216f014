package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ApicRegsTest {

    @Test
    void offsetsAreThoseOfApicdef() {
        int[][] table = {
            {ApicRegs.ID, 0x20}, {ApicRegs.LVR, 0x30}, {ApicRegs.TPR, 0x80}, {ApicRegs.APR, 0x90},
            {ApicRegs.PPR, 0xA0}, {ApicRegs.EOI, 0xB0}, {ApicRegs.RRR, 0xC0}, {ApicRegs.LDR, 0xD0},
            {ApicRegs.DFR, 0xE0}, {ApicRegs.SPIV, 0xF0}, {ApicRegs.ISR, 0x100}, {ApicRegs.TMR, 0x180},
            {ApicRegs.IRR, 0x200}, {ApicRegs.ESR, 0x280}, {ApicRegs.ICR, 0x300}, {ApicRegs.ICR2, 0x310},
            {ApicRegs.LVTT, 0x320}, {ApicRegs.LVTTHMR, 0x330}, {ApicRegs.LVTPC, 0x340}, {ApicRegs.LVT0, 0x350},
            {ApicRegs.LVT1, 0x360}, {ApicRegs.LVTERR, 0x370}, {ApicRegs.TMICT, 0x380}, {ApicRegs.TMCCT, 0x390},
            {ApicRegs.TDCR, 0x3E0},
        };
        for (int[] row : table) {
            assertThat(row[0]).isEqualTo(row[1]);
        }
        assertThat(ApicRegs.LVR_VALUE).isEqualTo(0x50014);
        assertThat(new int[] {ApicRegs.DM_FIXED, ApicRegs.DM_LOWEST, ApicRegs.DM_SMI, ApicRegs.DM_NMI,
                ApicRegs.DM_INIT, ApicRegs.DM_STARTUP, ApicRegs.DM_EXTINT}).containsExactly(0, 1, 2, 4, 5, 6, 7);
        assertThat(ApicRegs.LVT_MASK).isEqualTo(0x110FF);
        assertThat(ApicRegs.LINT_MASK).isEqualTo(0x1F7FF);
    }

    @ParameterizedTest
    @CsvSource({
        "0x20, APIC_ID", "0x30, APIC_LVR", "0x80, APIC_TASKPRI", "0x90, APIC_ARBPRI", "0xA0, APIC_PROCPRI",
        "0xB0, APIC_EOI", "0xC0, APIC_RRR", "0xD0, APIC_LDR", "0xE0, APIC_DFR", "0xF0, APIC_SPIV",
        "0x100, APIC_ISR", "0x170, 0x170", "0x180, APIC_TMR", "0x1F0, 0x1f0", "0x200, APIC_IRR",
        "0x270, 0x270", "0x280, APIC_ESR", "0x300, APIC_ICR", "0x310, APIC_ICR2", "0x320, APIC_LVTT",
        "0x330, APIC_LVTTHMR", "0x340, APIC_LVTPC", "0x350, APIC_LVT0", "0x360, APIC_LVT1",
        "0x370, APIC_LVTERR", "0x380, APIC_TMICT", "0x390, APIC_TMCCT", "0x3E0, APIC_TDCR",
        "0x3F0, APIC_SELF_IPI", "0x40, 0x40", "0x2f0, 0x2f0", "0x108, 0x108",
    })
    void namesAreKvmTraceSymbols(String offset, String name) {
        assertThat(ApicRegs.name(Integer.decode(offset))).isEqualTo(name);
    }

    @Test
    void validRegistersAreTheXapicSet() {
        for (int off : new int[] {0x20, 0x30, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0, 0x100, 0x170, 0x180,
                0x1F0, 0x200, 0x270, 0x280, 0x300, 0x310, 0x320, 0x370, 0x380, 0x390, 0x3E0}) {
            assertThat(ApicRegs.isValidRegister(off)).as("0x%x", off).isTrue();
        }
        for (int off : new int[] {0x0, 0x10, 0x40, 0x70, 0x24, 0x290, 0x2F0, 0x3A0, 0x3D0, 0x3F0, 0x400, 0xFF0}) {
            assertThat(ApicRegs.isValidRegister(off)).as("0x%x", off).isFalse();
        }
    }

    @ParameterizedTest
    @CsvSource({"0x0, 2", "0x1, 4", "0x2, 8", "0x3, 16", "0x8, 32", "0x9, 64", "0xA, 128", "0xB, 1", "0x4, 2", "0xF, 1"})
    void tdcrSelectsDivide(String tdcr, int divide) {
        assertThat(ApicRegs.divideCount(Integer.decode(tdcr))).isEqualTo(divide);
    }

    @Test
    void vectorPositionsAre32PerWordAt16ByteStride() {
        assertThat(ApicRegs.vectorWordOffset(ApicRegs.IRR, 0x45)).isEqualTo(0x220);
        assertThat(ApicRegs.vectorBit(0x45)).isEqualTo(1 << 5);
        assertThat(ApicRegs.vectorWordOffset(ApicRegs.ISR, 0xFF)).isEqualTo(0x170);
    }
}
