package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static dev.javic.hw.ApicRegs.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** ICR writes (apic_send_ipi) and acceptance (__apic_accept_irq). */
class LocalApicIpiTest {

    static Stream<Arguments> modesAndShorthands() {
        return IntStream.of(DM_FIXED, DM_LOWEST, DM_SMI, DM_NMI, DM_INIT, DM_STARTUP, DM_EXTINT).boxed()
                .flatMap(mode -> IntStream.rangeClosed(0, 3).mapToObj(sh -> Arguments.of(mode, sh)));
    }

    @ParameterizedTest(name = "mode {0} shorthand {1}")
    @MethodSource("modesAndShorthands")
    void icrWriteDecodesEveryDeliveryModeAndShorthand(int mode, int shorthand) {
        TestVm vm = TestVm.enabled(1);
        vm.host(0).vm = null;
        LocalApic apic = vm.apic(0);
        apic.regWrite(ICR2, 0x0500_0000);
        int icr = 0x9C | (mode << 8) | ICR_DEST_LOGICAL | ICR_LEVEL_ASSERT | ICR_LEVEL_TRIGGER | (shorthand << 18);
        apic.regWrite(ICR, icr);
        assertThat(vm.host(0).ipis).hasSize(1);
        ApicIrq irq = vm.host(0).ipis.get(0);
        assertThat(irq.vector).isEqualTo(0x9C);
        assertThat(irq.deliveryMode).isEqualTo(mode);
        assertThat(irq.logicalDestination).isTrue();
        assertThat(irq.levelAssert).isTrue();
        assertThat(irq.levelTriggered).isTrue();
        assertThat(irq.shorthand).isEqualTo(shorthand);
        assertThat(irq.destId).isEqualTo(5);
    }

    @Test
    void physicalEdgeIcrDecodesToClearedFlags() {
        TestVm vm = TestVm.enabled(1);
        vm.host(0).vm = null;
        vm.apic(0).regWrite(ICR2, 0xFF00_0000);
        vm.apic(0).regWrite(ICR, 0x0000_0031);
        ApicIrq irq = vm.host(0).ipis.get(0);
        assertThat(irq.logicalDestination || irq.levelAssert || irq.levelTriggered).isFalse();
        assertThat(irq.destId).isEqualTo(BROADCAST);
        assertThat(irq.shorthand).isEqualTo(SHORTHAND_NONE);
    }

    @Test
    void sendingReusesOneApicIrq() {
        TestVm vm = TestVm.enabled(2);
        LocalApic apic = vm.apic(0);
        apic.regWrite(ICR, 0x40);
        ApicIrq first = vm.host(0).lastIpiInstance;
        apic.regWrite(ICR, 0x41);
        assertThat(vm.host(0).lastIpiInstance).isSameAs(first);
    }

    @Test
    void anIllegalVectorIsNotSentAndLatchesSendIllegalVector() {
        TestVm vm = TestVm.enabled(2);
        LocalApic apic = vm.apic(0);
        apic.regWrite(ICR2, 0x0100_0000);
        apic.regWrite(ICR, 0x0F);
        apic.regWrite(ICR, (DM_LOWEST << 8) | 0x03);
        assertThat(vm.host(0).ipis).isEmpty();
        assertThat(TestVm.latchAndReadEsr(apic)).isEqualTo(ESR_SEND_ILLEGAL_VECTOR);
        // The vector field means nothing for NMI and INIT, and is the start page for SIPI.
        apic.regWrite(ICR, DM_NMI << 8);
        apic.regWrite(ICR, (DM_INIT << 8) | ICR_LEVEL_ASSERT);
        apic.regWrite(ICR, (DM_STARTUP << 8) | 0x09);
        assertThat(vm.host(0).ipis).hasSize(3);
        assertThat(TestVm.latchAndReadEsr(apic)).isZero();
        assertThat(vm.apic(1).takeNmi()).isTrue();
        assertThat(vm.apic(1).takeInit()).isTrue();
        assertThat(vm.apic(1).takeSipi()).isEqualTo(0x09);
    }

    @Test
    void anIllegalReceivedVectorIsRefusedAndLatchesReceiveIllegalVector() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        assertThat(apic.acceptIrq(TestVm.fixed(10))).isFalse();
        assertThat(apic.irrPending()).isFalse();
        assertThat(vm.host(0).kicks).isZero();
        assertThat(TestVm.latchAndReadEsr(apic)).isEqualTo(ESR_RECEIVE_ILLEGAL_VECTOR);
    }

    @Test
    void aFixedInterruptSetsIrrAndKicks() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        assertThat(apic.acceptIrq(TestVm.fixed(0xEC))).isTrue();
        assertThat(apic.isIrrSet(0xEC)).isTrue();
        assertThat(vm.host(0).kicks).isEqualTo(1);
    }

    @Test
    void aPostingHostTakesTheInterruptInstead() {
        TestVm vm = TestVm.enabled(1);
        vm.host(0).postInterrupts = true;
        LocalApic apic = vm.apic(0);
        assertThat(apic.acceptIrq(TestVm.fixed(0xEC))).isTrue();
        assertThat(vm.host(0).posted).containsExactly(0xEC);
        assertThat(apic.irrPending()).isFalse();
        assertThat(vm.host(0).kicks).isZero();
    }

    @Test
    void aSoftwareDisabledApicDropsFixedButTakesNmiInitAndSipi() {
        TestVm vm = new TestVm(1);
        LocalApic apic = vm.apic(0);
        assertThat(apic.acceptIrq(TestVm.fixed(0x40))).isFalse();
        assertThat(apic.acceptIrq(new ApicIrq().set(0x40, DM_LOWEST, false, true, false, 0, 0))).isFalse();
        assertThat(apic.irrPending()).isFalse();
        assertThat(apic.acceptIrq(new ApicIrq().set(0, DM_NMI, false, true, false, 0, 0))).isTrue();
        assertThat(apic.acceptIrq(new ApicIrq().set(0, DM_INIT, false, true, false, 0, 0))).isTrue();
        assertThat(apic.acceptIrq(new ApicIrq().set(0x10, DM_STARTUP, false, true, false, 0, 0))).isTrue();
        assertThat(vm.host(0).kicks).isEqualTo(3);
    }

    @Test
    void levelDeassertsAreIgnored() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        assertThat(apic.acceptIrq(new ApicIrq().set(0x40, DM_FIXED, false, false, true, 0, 0))).isFalse();
        assertThat(apic.acceptIrq(new ApicIrq().set(0, DM_INIT, false, false, true, 0, 0))).isFalse();
        assertThat(apic.takeInit()).isFalse();
        assertThat(apic.acceptIrq(new ApicIrq().set(0, DM_INIT, false, false, false, 0, 0))).as("edge INIT").isTrue();
        assertThat(apic.takeInit()).isTrue();
    }

    @Test
    void pendingNmiInitAndSipiAreTakenOnce() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        ApicIrq nmi = new ApicIrq().set(0, DM_NMI, false, true, false, 0, 0);
        apic.acceptIrq(nmi);
        apic.acceptIrq(nmi);
        apic.acceptIrq(nmi);
        assertThat(apic.takeNmi()).isTrue();
        assertThat(apic.takeNmi()).isTrue();
        assertThat(apic.takeNmi()).as("at most two NMIs pend").isFalse();

        ApicIrq init = new ApicIrq().set(0, DM_INIT, false, true, false, 0, 0);
        ApicIrq sipi = new ApicIrq().set(0x9A, DM_STARTUP, false, true, false, 0, 0);
        apic.acceptIrq(sipi);
        apic.acceptIrq(init);
        assertThat(apic.takeSipi()).as("INIT discards an earlier SIPI").isEqualTo(-1);
        apic.acceptIrq(sipi);
        apic.reset(true); // the INIT is processed; the SIPI that followed survives it
        assertThat(apic.takeInit()).isTrue();
        assertThat(apic.takeInit()).isFalse();
        assertThat(apic.takeSipi()).isEqualTo(0x9A);
        assertThat(apic.takeSipi()).isEqualTo(-1);
    }

    @Test
    void pendingEventsAndNmiCanBeObservedWithoutTakingThem() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        assertThat(apic.pendingEvents()).isFalse();
        assertThat(apic.nmiPending()).isFalse();
        apic.acceptIrq(new ApicIrq().set(0x20, DM_STARTUP, false, true, false, 0, 0));
        apic.acceptIrq(new ApicIrq().set(0, DM_NMI, false, true, false, 0, 0));
        assertThat(apic.pendingEvents()).isTrue();
        assertThat(apic.nmiPending()).isTrue();
        assertThat(apic.takeSipi()).isEqualTo(0x20);
        assertThat(apic.takeNmi()).isTrue();
        assertThat(apic.pendingEvents()).isFalse();
        assertThat(apic.nmiPending()).isFalse();
        assertThat(apic.isX2apicMode()).isFalse();
    }

    @Test
    void smiExtIntAndRemoteReadAreNotAccepted() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        for (int mode : new int[] {DM_SMI, DM_EXTINT, DM_REMRD}) {
            assertThat(apic.acceptIrq(new ApicIrq().set(0x40, mode, false, true, false, 0, 0))).isFalse();
        }
        assertThat(apic.irrPending()).isFalse();
    }

    @Test
    void tmrFollowsTheTriggerModeOfTheLastAcceptance() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        apic.acceptIrq(new ApicIrq().set(0x70, DM_FIXED, false, true, true, 0, 0));
        assertThat(apic.isTmrSet(0x70)).isTrue();
        apic.acceptIrq(TestVm.fixed(0x70));
        assertThat(apic.isTmrSet(0x70)).isFalse();
    }

    @Test
    void lowestPriorityAcceptanceCountsForKvmArbitration() {
        LocalApic apic = TestVm.enabled(1).apic(0);
        apic.acceptIrq(new ApicIrq().set(0x40, DM_LOWEST, false, true, false, 0, 0));
        apic.acceptIrq(TestVm.fixed(0x41));
        assertThat(apic.arbPrioCounter()).isEqualTo(1);
        assertThat(apic.highestIrr()).isEqualTo(0x41);
    }
}
