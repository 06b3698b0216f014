package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static dev.javic.hw.ApicRegs.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** kvm_irq_delivery_to_apic (irq_comm.c, 2016). */
class IrqDeliveryTest {

    private static int[] irrHolders(TestVm vm, int vector) {
        return java.util.Arrays.stream(vm.apics).filter(a -> a.isIrrSet(vector)).mapToInt(LocalApic::vcpuId).toArray();
    }

    @Test
    void aFixedPhysicalIpiReachesOnlyItsTarget() {
        TestVm vm = TestVm.enabled(4);
        ApicIrq irq = new ApicIrq().set(0x40, DM_FIXED, false, true, false, SHORTHAND_NONE, 2);
        assertThat(IrqDelivery.irqDeliveryToApic(vm.apic(0), irq, vm.apics)).isEqualTo(1);
        assertThat(irrHolders(vm, 0x40)).containsExactly(2);
        assertThat(vm.host(2).kicks).isEqualTo(1);
    }

    @Test
    void broadcastsAndShorthandsReachTheirSets() {
        TestVm vm = TestVm.enabled(4);
        assertThat(IrqDelivery.irqDeliveryToApic(null, new ApicIrq().set(0x41, DM_FIXED, false, true, false, 0, 0xFF),
                vm.apics)).isEqualTo(4);
        assertThat(IrqDelivery.irqDeliveryToApic(vm.apic(1),
                new ApicIrq().set(0x42, DM_FIXED, false, true, false, SHORTHAND_ALL_EXCLUDING_SELF, 0), vm.apics))
                .isEqualTo(3);
        assertThat(irrHolders(vm, 0x42)).containsExactly(0, 2, 3);
        assertThat(IrqDelivery.irqDeliveryToApic(vm.apic(3),
                new ApicIrq().set(0x43, DM_FIXED, false, true, false, SHORTHAND_SELF, 0), vm.apics)).isEqualTo(1);
        assertThat(irrHolders(vm, 0x43)).containsExactly(3);
    }

    @Test
    void nothingMatchedIsMinusOneAndMatchedButRefusedIsZero() {
        TestVm vm = TestVm.enabled(2);
        assertThat(IrqDelivery.irqDeliveryToApic(null, new ApicIrq().set(0x40, DM_FIXED, false, true, false, 0, 9),
                vm.apics)).isEqualTo(-1);
        vm.apic(1).regWrite(SPIV, 0xFF);
        assertThat(IrqDelivery.irqDeliveryToApic(null, new ApicIrq().set(0x40, DM_FIXED, false, true, false, 0, 1),
                vm.apics)).isZero();
    }

    @Test
    void lowestPriorityPicksTheLowestArbitrationPriorityFirstInVcpuOrderOnTies() {
        TestVm vm = TestVm.enabled(4);
        int[] tprs = {0x40, 0x20, 0x30, 0x20};
        for (int i = 0; i < 4; i++) {
            vm.apic(i).regWrite(LDR, (1 << i) << 24);
            vm.apic(i).regWrite(TPR, tprs[i]);
        }
        ApicIrq irq = new ApicIrq().set(0x50, DM_LOWEST, true, true, false, SHORTHAND_NONE, 0x0F);
        assertThat(IrqDelivery.irqDeliveryToApic(null, irq, vm.apics)).isEqualTo(1);
        assertThat(irrHolders(vm, 0x50)).containsExactly(1);
        // Now vCPU 1 has 0x50 pending: its APR is 0x50, so vCPU 3 wins the next one.
        assertThat(IrqDelivery.irqDeliveryToApic(null, irq.set(0x51, DM_LOWEST, true, true, false, 0, 0x0F), vm.apics))
                .isEqualTo(1);
        assertThat(irrHolders(vm, 0x51)).containsExactly(3);
    }

    @Test
    void lowestPrioritySkipsSoftwareDisabledApics() {
        TestVm vm = TestVm.enabled(3);
        vm.apic(1).regWrite(TPR, 0x10);
        vm.apic(2).regWrite(TPR, 0x10);
        vm.apic(0).regWrite(TPR, 0x80);
        vm.apic(1).regWrite(SPIV, 0xFF);
        ApicIrq irq = new ApicIrq().set(0x60, DM_LOWEST, true, true, false, SHORTHAND_NONE, 0xFF);
        assertThat(IrqDelivery.irqDeliveryToApic(null, irq, vm.apics)).isEqualTo(1);
        assertThat(irrHolders(vm, 0x60)).containsExactly(2);
        for (int i = 0; i < 3; i++) {
            vm.apic(i).regWrite(SPIV, 0xFF);
        }
        assertThat(IrqDelivery.irqDeliveryToApic(null, irq.set(0x61, DM_LOWEST, true, true, false, 0, 0xFF), vm.apics))
                .as("no enabled candidate").isEqualTo(-1);
    }

    @Test
    void aPhysicalBroadcastInLowestPriorityBecomesFixed() {
        TestVm vm = TestVm.enabled(3);
        ApicIrq irq = new ApicIrq().set(0x70, DM_LOWEST, false, true, false, SHORTHAND_NONE, 0xFF);
        assertThat(IrqDelivery.irqDeliveryToApic(null, irq, vm.apics)).isEqualTo(3);
        assertThat(irq.deliveryMode).isEqualTo(DM_FIXED);
    }

    @Test
    void hardwareDisabledAndAbsentApicsAreSkipped() {
        TestVm vm = TestVm.enabled(3);
        vm.apic(2).setApicBase(0xFEE0_0000L);
        LocalApic[] withHole = {vm.apic(0), null, vm.apic(2), vm.apic(1)};
        ApicIrq irq = new ApicIrq().set(0x44, DM_FIXED, false, true, false, SHORTHAND_ALL_INCLUDING_SELF, 0);
        assertThat(IrqDelivery.irqDeliveryToApic(vm.apic(0), irq, withHole)).isEqualTo(2);
        assertThat(irrHolders(vm, 0x44)).containsExactly(0, 1);
    }

    @Test
    void kvmArbitrationCounterSpreadsLowestPriorityRoundRobin() {
        TestVm vm = TestVm.enabled(3);
        for (int n = 0; n < 3; n++) {
            ApicIrq irq = new ApicIrq().set(0x80 + n, DM_LOWEST, true, true, false, SHORTHAND_NONE, 0xFF);
            IrqDelivery.irqDeliveryToApic(null, irq, vm.apics, IrqDelivery.LowestPriority.KVM_ARB_PRIO_COUNTER);
        }
        assertThat(irrHolders(vm, 0x80)).containsExactly(0);
        assertThat(irrHolders(vm, 0x81)).containsExactly(1);
        assertThat(irrHolders(vm, 0x82)).containsExactly(2);
    }

    @Test
    void anIcrWriteDeliversThroughTheHost() {
        TestVm vm = TestVm.enabled(3);
        vm.apic(0).regWrite(ICR2, 0x0200_0000);
        vm.apic(0).regWrite(ICR, 0xF1);
        assertThat(vm.host(0).lastDeliveryResult).isEqualTo(1);
        assertThat(vm.apic(2).hasInterrupt()).isEqualTo(0xF1);
    }
}
