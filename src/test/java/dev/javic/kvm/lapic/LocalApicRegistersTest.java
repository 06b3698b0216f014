package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static dev.javic.hw.ApicRegs.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LocalApicRegistersTest {

    @Test
    void resetValuesAreArchitectural() {
        TestVm vm = new TestVm(4);
        LocalApic bsp = vm.apic(0);
        LocalApic ap = vm.apic(3);
        assertThat(ap.regRead(ID)).isEqualTo(0x0300_0000);
        assertThat(ap.apicId()).isEqualTo(3);
        assertThat(ap.regRead(LVR)).isEqualTo(0x50014);
        assertThat(ap.regRead(DFR)).isEqualTo(0xFFFF_FFFF);
        assertThat(ap.regRead(SPIV)).isEqualTo(0xFF);
        assertThat(ap.isSoftwareEnabled()).isFalse();
        assertThat(ap.isHardwareEnabled()).isTrue();
        for (int lvt = LVTT; lvt <= LVTERR; lvt += 0x10) {
            assertThat(ap.regRead(lvt)).as(ApicRegs.name(lvt)).isEqualTo(LVT_MASKED);
        }
        for (int off : new int[] {TPR, PPR, APR, LDR, ESR, ICR, ICR2, TMICT, TMCCT, TDCR}) {
            assertThat(ap.regRead(off)).as(ApicRegs.name(off)).isZero();
        }
        for (int i = 0; i < 8; i++) {
            assertThat(ap.regRead(IRR + 0x10 * i) | ap.regRead(ISR + 0x10 * i) | ap.regRead(TMR + 0x10 * i)).isZero();
        }
        assertThat(bsp.apicBase()).isEqualTo(0xFEE0_0900L);
        assertThat(ap.apicBase()).isEqualTo(0xFEE0_0800L);
    }

    @Test
    void resetRecalculatesMapAndStopsTimer() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        apic.regWrite(LVTT, 0x30);
        apic.regWrite(TMICT, 1000);
        apic.setIrr(0x40);
        apic.reset();
        assertThat(vm.host(0).mapChanges).isEqualTo(1);
        assertThat(vm.host(0).armedDeadline).isEqualTo(-1);
        assertThat(apic.irrPending()).isFalse();
        assertThat(apic.isSoftwareEnabled()).isFalse();
    }

    @Test
    void initResetKeepsApicIdAndBase() {
        TestVm vm = TestVm.enabled(2);
        LocalApic apic = vm.apic(1);
        apic.regWrite(ID, 0x0700_0000);
        apic.regWrite(TPR, 0x30);
        apic.reset(true);
        assertThat(apic.apicId()).isEqualTo(7);
        assertThat(apic.apicBase()).isEqualTo(0xFEE0_0800L);
        assertThat(apic.tpr()).isZero();
        apic.reset(false);
        assertThat(apic.apicId()).isEqualTo(1);
    }

    @Test
    void idLdrAndDfrWritesKeepTheirFieldsAndRecalculateTheMap() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        apic.regWrite(ID, 0x0712_3456);
        assertThat(apic.regRead(ID)).isEqualTo(0x0700_0000);
        apic.regWrite(LDR, 0x1234_5678);
        assertThat(apic.regRead(LDR)).isEqualTo(0x1200_0000);
        apic.regWrite(DFR, 0);
        assertThat(apic.regRead(DFR)).isEqualTo(DFR_CLUSTER);
        apic.regWrite(DFR, 0xF000_0000);
        assertThat(apic.regRead(DFR)).isEqualTo(DFR_FLAT);
        assertThat(vm.host(0).mapChanges).isEqualTo(4);
    }

    @Test
    void spivKeepsVectorEnableAndFocusAndTracksSoftwareEnable() {
        TestVm vm = new TestVm(1);
        LocalApic apic = vm.apic(0);
        vm.resetCounters();
        apic.regWrite(SPIV, 0xFFFF_FFFF);
        assertThat(apic.regRead(SPIV)).isEqualTo(0x3FF);
        assertThat(apic.isSoftwareEnabled()).isTrue();
        assertThat(vm.host(0).mapChanges).isEqualTo(1);
        apic.regWrite(SPIV, 0x1EF); // still enabled: the map does not change
        assertThat(vm.host(0).mapChanges).isEqualTo(1);
        apic.regWrite(SPIV, 0xEF);
        assertThat(apic.isSoftwareEnabled()).isFalse();
        assertThat(vm.host(0).mapChanges).isEqualTo(2);
    }

    @Test
    void softwareDisableMasksEveryLvt() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        for (int lvt = LVTT; lvt <= LVTERR; lvt += 0x10) {
            apic.regWrite(lvt, 0x40 + (lvt >> 4));
        }
        apic.regWrite(SPIV, 0xFF);
        for (int lvt = LVTT; lvt <= LVTERR; lvt += 0x10) {
            assertThat(apic.regRead(lvt)).as(ApicRegs.name(lvt)).isEqualTo(LVT_MASKED | (0x40 + (lvt >> 4)));
        }
    }

    @Test
    void lvtWritesKeepOnlyEachEntrysValidBits() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        int[][] expected = {
            {LVTT, 0x710FF}, {LVTTHMR, 0x117FF}, {LVTPC, 0x117FF}, {LVT0, 0x1F7FF}, {LVT1, 0x1F7FF}, {LVTERR, 0x110FF},
        };
        for (int[] e : expected) {
            apic.regWrite(e[0], 0xFFFF_FFFF);
            assertThat(apic.regRead(e[0])).as(ApicRegs.name(e[0])).isEqualTo(e[1]);
        }
    }

    @Test
    void lvtWritesWhileSoftwareDisabledStayMasked() {
        LocalApic apic = new TestVm(1).apic(0);
        apic.regWrite(LVT0, 0x0700);
        assertThat(apic.regRead(LVT0)).isEqualTo(LVT_MASKED | 0x0700);
        apic.regWrite(LVTT, 0x20030);
        assertThat(apic.regRead(LVTT)).isEqualTo(LVT_MASKED | 0x20030);
    }

    @Test
    void readOnlyRegistersIgnoreWritesWithoutError() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        for (int off : new int[] {LVR, APR, PPR, RRR, ISR, TMR + 0x30, IRR + 0x70, TMCCT}) {
            apic.regWrite(off, 0xFFFF_FFFF);
        }
        assertThat(apic.regRead(LVR)).isEqualTo(0x50014);
        assertThat(apic.regRead(PPR)).isZero();
        assertThat(apic.irrPending()).isFalse();
        assertThat(apic.highestIsr()).isEqualTo(-1);
        assertThat(TestVm.latchAndReadEsr(apic)).isZero();
    }

    @Test
    void reservedOffsetsReadZeroAndLatchIllegalRegisterAddress() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        assertThat(apic.regRead(0x40)).isZero();
        assertThat(apic.regRead(ESR)).as("not visible before the ESR write").isZero();
        assertThat(TestVm.latchAndReadEsr(apic)).isEqualTo(ESR_ILLEGAL_REGISTER_ADDRESS);
        assertThat(TestVm.latchAndReadEsr(apic)).as("back-to-back writes clear ESR").isZero();
        apic.regWrite(SELF_IPI, 0x40); // x2APIC-only register
        assertThat(TestVm.latchAndReadEsr(apic)).isEqualTo(ESR_ILLEGAL_REGISTER_ADDRESS);
    }

    @Test
    void eoiAndRrrReadZeroWithoutError() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        assertThat(apic.regRead(EOI)).isZero();
        assertThat(apic.regRead(RRR)).isZero();
        assertThat(TestVm.latchAndReadEsr(apic)).isZero();
    }

    @Test
    void anErrorRaisesTheLvtErrorInterruptWhenUnmasked() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        apic.regRead(0x50); // masked LVTERR: recorded, no interrupt
        assertThat(apic.irrPending()).isFalse();
        apic.regWrite(ESR, 0);
        apic.regWrite(LVTERR, 0xFE);
        apic.regRead(0x60);
        assertThat(apic.highestIrr()).isEqualTo(0xFE);
        assertThat(vm.host(0).kicks).isEqualTo(1);
    }

    @Test
    void icr2KeepsTheDestinationAndIcrBusyReadsZero() {
        TestVm vm = TestVm.enabled(2);
        LocalApic apic = vm.apic(0);
        apic.regWrite(ICR2, 0x0123_4567);
        assertThat(apic.regRead(ICR2)).isEqualTo(0x0100_0000);
        apic.regWrite(ICR, ICR_BUSY | 0x40);
        assertThat(apic.regRead(ICR)).isEqualTo(0x40);
        assertThat(vm.apic(1).highestIrr()).isEqualTo(0x40);
    }

    @Test
    void apicBaseMsrEnablesDisablesAndRejectsReservedBits() {
        TestVm vm = TestVm.enabled(2);
        LocalApic apic = vm.apic(1);
        apic.regWrite(ID, 0x0900_0000);
        vm.resetCounters();
        assertThat(apic.setApicBase(0xFEE0_0000L)).isTrue();
        assertThat(apic.isHardwareEnabled()).isFalse();
        assertThat(apic.hasInterrupt()).isEqualTo(-1);
        assertThat(vm.host(1).mapChanges).isEqualTo(1);
        assertThat(apic.setApicBase(0xFEE0_0800L)).isTrue();
        assertThat(apic.apicId()).as("re-enabling restores the ID").isEqualTo(1);
        assertThat(vm.host(1).mapChanges).isEqualTo(2);
        assertThat(apic.setApicBase(0xFEE0_0C00L)).as("x2APIC not offered").isFalse();
        assertThat(apic.setApicBase(0xFEE0_0801L)).as("reserved bit 0").isFalse();
        assertThat(apic.apicBase()).isEqualTo(0xFEE0_0800L);
    }

    @Test
    void writeNodecodeReplaysTheValueAlreadyInThePage() {
        TestVm vm = TestVm.enabled(2);
        LocalApic apic = vm.apic(0);
        apic.write(LDR, 0x0312_3456); // as an AVIC trap: the store landed before the exit
        apic.writeNodecode(LDR);
        assertThat(apic.ldr()).isEqualTo(0x0300_0000);
        assertThat(vm.host(0).mapChanges).isEqualTo(1);
        apic.write(ICR2, 0x0100_0000);
        apic.write(ICR, 0x51);
        apic.writeNodecode(ICR);
        assertThat(vm.apic(1).highestIrr()).isEqualTo(0x51);
    }
}
