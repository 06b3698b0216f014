package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static dev.javic.hw.ApicRegs.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.javic.hw.PhysicalMemory;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class LocalApicPriorityTest {

    /** Puts {@code vector} in service the way the CPU would: set IRR, then acknowledge it. */
    private static void inService(LocalApic apic, int vector) {
        apic.setIrr(vector);
        assertThat(apic.getInterrupt()).isEqualTo(vector);
    }

    @Test
    void pprIsTprWhenTprClassIsAtLeastTheInServiceClass() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        inService(apic, 0x32);
        apic.regWrite(TPR, 0x45);
        assertThat(apic.regRead(PPR)).isEqualTo(0x45);
        apic.regWrite(TPR, 0x3A);
        assertThat(apic.regRead(PPR)).as("equal classes: TPR").isEqualTo(0x3A);
    }

    @Test
    void pprIsTheInServiceClassWhenItIsHigher() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        inService(apic, 0x52);
        apic.regWrite(TPR, 0x25);
        assertThat(apic.ppr()).isEqualTo(0x50);
        assertThat(apic.regRead(PPR)).isEqualTo(0x50);
    }

    @Property(tries = 300)
    void aVectorIsDeliverableIffItsClassIsAbovePpr(@ForAll @IntRange(min = 0, max = 255) int tpr,
                                                    @ForAll @IntRange(min = 16, max = 255) int vector) {
        PhysicalMemory mem = new PhysicalMemory(PhysicalMemory.PAGE_SIZE);
        LocalApic apic = new LocalApic(mem, 0, 1, new FakeLapicHost());
        apic.regWrite(SPIV, 0x1FF);
        apic.regWrite(TPR, tpr);
        apic.setIrr(vector);
        int expected = (vector >> 4) > (tpr >> 4) ? vector : -1;
        assertThat(apic.hasInterrupt()).isEqualTo(expected);
    }

    @Test
    void getInterruptMovesTheVectorFromIrrToIsrAndRaisesPpr() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        apic.setIrr(0x40);
        apic.setIrr(0x31);
        assertThat(apic.getInterrupt()).isEqualTo(0x40);
        assertThat(apic.isIrrSet(0x40)).isFalse();
        assertThat(apic.isIsrSet(0x40)).isTrue();
        assertThat(apic.ppr()).isEqualTo(0x40);
        assertThat(apic.getInterrupt()).as("0x31 is below PPR").isEqualTo(-1);
        assertThat(apic.isIrrSet(0x31)).isTrue();
    }

    @Test
    void nestedInterruptsRetireHighestFirst() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        inService(apic, 0x30);
        apic.setIrr(0x80);
        assertThat(apic.hasInterrupt()).isEqualTo(0x80);
        inService(apic, 0x80);
        apic.setIrr(0x35);
        assertThat(apic.hasInterrupt()).isEqualTo(-1);

        apic.regWrite(EOI, 0);
        assertThat(apic.isIsrSet(0x80)).isFalse();
        assertThat(apic.isIsrSet(0x30)).isTrue();
        assertThat(apic.ppr()).isEqualTo(0x30);
        assertThat(apic.hasInterrupt()).as("same class as the one in service").isEqualTo(-1);
        assertThat(vm.host(0).kicks).isZero();

        apic.regWrite(EOI, 0);
        assertThat(apic.highestIsr()).isEqualTo(-1);
        assertThat(apic.ppr()).isZero();
        assertThat(apic.hasInterrupt()).isEqualTo(0x35);
        assertThat(vm.host(0).kicks).as("EOI uncovered 0x35").isEqualTo(1);
    }

    @Test
    void eoiWithNothingInServiceChangesNothing() {
        TestVm vm = TestVm.enabled(1);
        vm.apic(0).regWrite(EOI, 0);
        assertThat(vm.apic(0).takeEoiLevelVector()).isEqualTo(-1);
        assertThat(vm.host(0).kicks).isZero();
    }

    @Test
    void eoiOfALevelTriggeredVectorIsReported() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        apic.acceptIrq(new ApicIrq().set(0x61, DM_FIXED, false, true, true, 0, 0));
        assertThat(apic.isTmrSet(0x61)).isTrue();
        assertThat(apic.getInterrupt()).isEqualTo(0x61);
        apic.regWrite(EOI, 0);
        assertThat(apic.takeEoiLevelVector()).isEqualTo(0x61);
        assertThat(apic.takeEoiLevelVector()).isEqualTo(-1);

        apic.acceptIrq(TestVm.fixed(0x62));
        assertThat(apic.isTmrSet(0x62)).isFalse();
        apic.getInterrupt();
        apic.regWrite(EOI, 0);
        assertThat(apic.takeEoiLevelVector()).as("edge").isEqualTo(-1);
    }

    @Test
    void loweringTprOverAPendingInterruptRequestsAnEvent() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        apic.regWrite(TPR, 0xF0);
        apic.setIrr(0x50);
        apic.regWrite(TPR, 0x80);
        assertThat(vm.host(0).kicks).isZero();
        apic.regWrite(TPR, 0x00);
        assertThat(vm.host(0).kicks).isEqualTo(1);
        apic.regWrite(TPR, 0x90);
        assertThat(vm.host(0).kicks).as("raising TPR uncovers nothing").isEqualTo(1);
    }

    @Test
    void aDisabledApicHasNoInterruptUntilEnabled() {
        TestVm vm = new TestVm(1);
        LocalApic apic = vm.apic(0);
        apic.setIrr(0x70);
        assertThat(apic.hasInterrupt()).isEqualTo(-1);
        assertThat(apic.getInterrupt()).isEqualTo(-1);
        vm.resetCounters();
        apic.regWrite(SPIV, 0x1FF);
        assertThat(apic.hasInterrupt()).isEqualTo(0x70);
        assertThat(vm.host(0).kicks).isEqualTo(1);
        apic.setApicBase(0xFEE0_0000L);
        assertThat(apic.hasInterrupt()).isEqualTo(-1);
    }

    @Test
    void stateWrittenByHardwareInThePageIsSeen() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        long page = vm.page(0);
        // AVIC sets IRR with a locked OR: vector 0x45 = word 2, bit 5.
        vm.mem.getAndOr32(page + IRR + 0x20, 1 << 5);
        PhysicalMemory.fullFence();
        assertThat(apic.irrPending()).isTrue();
        assertThat(apic.hasInterrupt()).isEqualTo(0x45);
        // The guest's accelerated TPR write lands in the page.
        vm.mem.write32(page + TPR, 0x50);
        assertThat(apic.tpr()).isEqualTo(0x50);
        assertThat(apic.hasInterrupt()).isEqualTo(-1);
        vm.mem.write32(page + TPR, 0);
        // Accelerated delivery: the CPU moves 0x45 from IRR to ISR itself.
        vm.mem.getAndAnd32(page + IRR + 0x20, ~(1 << 5));
        vm.mem.getAndOr32(page + ISR + 0x20, 1 << 5);
        assertThat(apic.highestIsr()).isEqualTo(0x45);
        assertThat(apic.regRead(PPR)).isEqualTo(0x40);
        apic.regWrite(EOI, 0);
        assertThat(vm.mem.read32(page + ISR + 0x20)).isZero();
    }

    @Test
    void cr8IsTheTaskPriorityClass() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        apic.setCr8(5);
        assertThat(apic.tpr()).isEqualTo(0x50);
        apic.regWrite(TPR, 0x7A);
        assertThat(apic.cr8()).isEqualTo(7);
        apic.setCr8(0x1F); // only CR8[3:0] exists
        assertThat(apic.tpr()).isEqualTo(0xF0);
    }

    @Test
    void arbitrationPriorityFollowsTheSdm() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        apic.regWrite(TPR, 0x42);
        assertThat(apic.regRead(APR)).isEqualTo(0x42);
        apic.setIrr(0x61);
        assertThat(apic.arbitrationPriority()).as("IRR class above TPR").isEqualTo(0x60);
        apic.clearIrr(0x61);
        apic.regWrite(TPR, 0x20);
        inService(apic, 0x35);
        assertThat(apic.arbitrationPriority()).as("ISR class above TPR").isEqualTo(0x30);
        apic.regWrite(TPR, 0x3C);
        assertThat(apic.arbitrationPriority()).as("TPR not above ISRV").isEqualTo(0x30);
    }

    @Test
    void highestVectorIsFoundAcrossWords() {
        PhysicalMemory mem = new PhysicalMemory(PhysicalMemory.PAGE_SIZE);
        assertThat(LocalApic.findHighestVector(mem, IRR)).isEqualTo(-1);
        mem.write32(IRR, 1 << 20);
        assertThat(LocalApic.findHighestVector(mem, IRR)).isEqualTo(20);
        mem.write32(IRR + 0x10, 1);
        assertThat(LocalApic.findHighestVector(mem, IRR)).isEqualTo(32);
        mem.write32(IRR + 0x70, 0x8000_0001);
        assertThat(LocalApic.findHighestVector(mem, IRR)).isEqualTo(255);
        assertThat(LocalApic.testVector(mem, IRR, 224)).isTrue();
        assertThat(LocalApic.testVector(mem, IRR, 225)).isFalse();
    }
}
