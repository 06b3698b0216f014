package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static dev.javic.hw.ApicRegs.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.javic.hw.PhysicalMemory;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * x2APIC mode (SDM vol. 3 §10.12; lapic.c kvm_apic_set_base, kvm_apic_set_x2apic_id, kvm_x2apic_msr_read /
 * kvm_x2apic_msr_write, kvm_x2apic_icr_write, kvm_apic_mda, kvm_apic_match_physical_addr /
 * kvm_apic_match_logical_addr).
 */
class X2apicModeTest {
    private static final long XAPIC_AP = APIC_DEFAULT_PHYS_BASE | APIC_BASE_ENABLE;
    private static final long X2APIC_AP = XAPIC_AP | APIC_BASE_X2APIC_ENABLE;
    private static final long DISABLED_AP = APIC_DEFAULT_PHYS_BASE;

    private final long[] out = new long[1];

    /** {@code vcpus} APICs, all switched to x2APIC mode and software-enabled through the SPIV MSR. */
    private static TestVm x2apicVm(int vcpus) {
        TestVm vm = new TestVm(vcpus);
        for (LocalApic apic : vm.apics) {
            assertThat(apic.setApicBase(apic.apicBase() | APIC_BASE_X2APIC_ENABLE, true)).isTrue();
            assertThat(apic.x2apicMsrWrite(x2apicMsr(SPIV), SPIV_APIC_ENABLED | 0xFF)).isTrue();
        }
        vm.resetCounters();
        return vm;
    }

    private long msrRead(LocalApic apic, int offset) {
        assertThat(apic.x2apicMsrRead(x2apicMsr(offset), out)).as("RDMSR 0x%x", x2apicMsr(offset)).isTrue();
        return out[0];
    }

    private static int[] irrHolders(TestVm vm, int vector) {
        return java.util.Arrays.stream(vm.apics).filter(a -> a.isIrrSet(vector)).mapToInt(LocalApic::vcpuId).toArray();
    }

    // ---- IA32_APIC_BASE -------------------------------------------------------------------------------------

    @Test
    void xapicToX2apicNeedsX2apicInTheGuestCpuid() {
        TestVm vm = new TestVm(2);
        LocalApic apic = vm.apic(1);
        vm.resetCounters();
        assertThat(apic.setApicBase(X2APIC_AP, false)).as("bit 10 reserved without CPUID x2APIC").isFalse();
        assertThat(apic.setApicBase(X2APIC_AP)).isFalse();
        assertThat(apic.isX2apicMode()).isFalse();
        assertThat(vm.host(1).mapChanges).isZero();
        assertThat(apic.setApicBase(X2APIC_AP, true)).isTrue();
        assertThat(apic.isX2apicMode()).isTrue();
        assertThat(apic.apicBase()).isEqualTo(X2APIC_AP);
        assertThat(vm.host(1).mapChanges).as("kvm_recalculate_apic_map").isEqualTo(1);
        assertThat(apic.setApicBase(X2APIC_AP, true)).as("the same value again: a no-op").isTrue();
        assertThat(vm.host(1).mapChanges).isEqualTo(1);
    }

    @Test
    void theSdmStateMachineRefusesInvalidTransitions() {
        TestVm vm = new TestVm(2);
        LocalApic apic = vm.apic(1);
        long extdOnly = APIC_DEFAULT_PHYS_BASE | APIC_BASE_X2APIC_ENABLE;
        assertThat(apic.setApicBase(extdOnly, true)).as("xAPIC -> invalid (EXTD without EN)").isFalse();
        assertThat(apic.setApicBase(X2APIC_AP, true)).as("xAPIC -> x2APIC").isTrue();
        assertThat(apic.setApicBase(XAPIC_AP, true)).as("x2APIC -> xAPIC").isFalse();
        assertThat(apic.isX2apicMode()).isTrue();
        assertThat(apic.setApicBase(extdOnly, true)).as("x2APIC -> invalid").isFalse();
        assertThat(apic.setApicBase(X2APIC_AP | 0x1, true)).as("reserved bit 0").isFalse();
        assertThat(apic.setApicBase(DISABLED_AP, true)).as("x2APIC -> disabled").isTrue();
        assertThat(apic.isX2apicMode()).isFalse();
        assertThat(apic.isHardwareEnabled()).isFalse();
        assertThat(apic.setApicBase(X2APIC_AP, true)).as("disabled -> x2APIC").isFalse();
        assertThat(apic.setApicBase(extdOnly, true)).as("disabled -> invalid").isFalse();
        assertThat(apic.apicBase()).isEqualTo(DISABLED_AP);
        assertThat(apic.setApicBase(XAPIC_AP, true)).as("disabled -> xAPIC").isTrue();
        assertThat(apic.setApicBase(X2APIC_AP, true)).as("and x2APIC again").isTrue();
    }

    @Test
    void enteringX2apicSetsTheVcpuIdAndDerivesLdrWhateverTheXapicIdWas() {
        TestVm vm = new TestVm(18);
        LocalApic apic = vm.apic(17);
        apic.regWrite(ID, 0x2A00_0000); // software moved the xAPIC ID; the x2APIC ID is the initial APIC ID
        apic.regWrite(LDR, 0x8000_0000);
        assertThat(apic.setApicBase(X2APIC_AP, true)).isTrue();
        assertThat(apic.read(ID)).as("32-bit ID in the register page").isEqualTo(17);
        assertThat(apic.apicId()).isEqualTo(17);
        assertThat(apic.ldr()).as("cluster 1, bit 1").isEqualTo(0x0001_0002);
        assertThat(msrRead(apic, ID)).isEqualTo(17);
        assertThat(msrRead(apic, LDR)).isEqualTo(0x0001_0002);
    }

    @Test
    void leavingX2apicThroughDisabledRestoresTheXapicIdAndKeepsTheOtherRegisters() {
        TestVm vm = x2apicVm(2);
        LocalApic apic = vm.apic(1);
        assertThat(apic.x2apicMsrWrite(x2apicMsr(TPR), 0x20)).isTrue();
        assertThat(apic.setApicBase(DISABLED_AP, true)).isTrue();
        assertThat(apic.read(ID)).as("x2APIC ID preserved in the disabled state (SDM)").isEqualTo(1);
        assertThat(apic.setApicBase(XAPIC_AP, true)).isTrue();
        assertThat(apic.regRead(ID)).as("kvm_apic_set_xapic_id").isEqualTo(0x0100_0000);
        assertThat(apic.apicId()).isEqualTo(1);
        assertThat(apic.ldr()).as("KVM keeps the x2APIC LDR (SDM: undefined)").isEqualTo(0x2);
        assertThat(apic.tpr()).isEqualTo(0x20);
    }

    @Test
    void initKeepsX2apicModeIdAndLdrAndResetReturnsToXapic() {
        TestVm vm = x2apicVm(3);
        LocalApic apic = vm.apic(2);
        apic.reset(true);
        assertThat(apic.isX2apicMode()).as("SDM: an INIT keeps x2APIC mode").isTrue();
        assertThat(apic.apicId()).isEqualTo(2);
        assertThat(apic.ldr()).isEqualTo(0x4);
        assertThat(apic.isSoftwareEnabled()).isFalse();
        apic.reset(false);
        assertThat(apic.isX2apicMode()).isFalse();
        assertThat(apic.apicBase()).isEqualTo(XAPIC_AP);
        assertThat(apic.regRead(ID)).isEqualTo(0x0200_0000);
        assertThat(apic.ldr()).isZero();
    }

    // ---- registers as MSRs ----------------------------------------------------------------------------------

    @Property(tries = 255)
    void ldrIsDerivedFromTheX2apicId(@ForAll @IntRange(min = 0, max = 0xFE) int vcpuId) {
        LocalApic apic = new LocalApic(new PhysicalMemory(PhysicalMemory.PAGE_SIZE), 0, vcpuId, new FakeLapicHost());
        assertThat(apic.setApicBase(apic.apicBase() | APIC_BASE_X2APIC_ENABLE, true)).isTrue();
        int expected = ((vcpuId >> 4) << 16) | (1 << (vcpuId & 0xF));
        assertThat(apic.ldr()).isEqualTo(expected).isEqualTo(x2apicLdr(vcpuId));
        assertThat(apic.x2apicMsrRead(x2apicMsr(LDR), out)).isTrue();
        assertThat(out[0]).isEqualTo(expected);
    }

    @Test
    void theX2apicLdrFormulaAcrossClusters() {
        assertThat(x2apicLdr(0)).isEqualTo(0x0000_0001);
        assertThat(x2apicLdr(15)).isEqualTo(0x0000_8000);
        assertThat(x2apicLdr(16)).isEqualTo(0x0001_0001);
        assertThat(x2apicLdr(0x123)).isEqualTo(0x0012_0008);
    }

    @Test
    void msrNumbersAndTheIcrReservedMask() {
        assertThat(x2apicMsr(ICR)).isEqualTo(0x830);
        assertThat(x2apicMsr(EOI)).isEqualTo(0x80B);
        assertThat(x2apicMsr(SELF_IPI)).isEqualTo(0x83F);
        assertThat(x2apicOffset(0x802)).isEqualTo(ID);
        assertThat(isX2apicMsr(0x800)).isTrue();
        assertThat(isX2apicMsr(0x8FF)).isTrue();
        assertThat(isX2apicMsr(0x7FF)).isFalse();
        assertThat(isX2apicMsr(0x900)).isFalse();
        assertThat(X2APIC_ICR_RESERVED).isEqualTo(0xFFF3_2000L); // GENMASK(31,20) | GENMASK(17,16) | BIT(13)
    }

    @Test
    void theMsrsExistOnlyInX2apicMode() {
        TestVm vm = TestVm.enabled(1);
        LocalApic apic = vm.apic(0);
        assertThat(apic.x2apicMsrRead(x2apicMsr(LVR), out)).isFalse();
        assertThat(apic.x2apicMsrWrite(x2apicMsr(TPR), 0x10)).isFalse();
        assertThat(apic.tpr()).isZero();
        assertThat(TestVm.latchAndReadEsr(apic)).as("a #GP, not an APIC error").isZero();
    }

    @Test
    void readableRegistersReadAsTheSdmTableSays() {
        TestVm vm = x2apicVm(2);
        LocalApic apic = vm.apic(1);
        assertThat(msrRead(apic, LVR)).isEqualTo(0x50014);
        assertThat(msrRead(apic, SPIV)).isEqualTo(0x1FF);
        assertThat(apic.x2apicMsrWrite(x2apicMsr(TPR), 0x40)).isTrue();
        assertThat(msrRead(apic, TPR)).isEqualTo(0x40);
        assertThat(msrRead(apic, PPR)).isEqualTo(0x40);
        assertThat(msrRead(apic, LVTT)).isEqualTo(LVT_MASKED);
        assertThat(msrRead(apic, TMCCT)).isZero();
        assertThat(msrRead(apic, IRR + 0x70)).isZero();
    }

    @Test
    void absentAndWriteOnlyRegistersAndReservedMsrsFaultOnRead() {
        TestVm vm = x2apicVm(1);
        LocalApic apic = vm.apic(0);
        for (int offset : new int[] {APR, DFR, ICR2, EOI, SELF_IPI, RRR, 0x40, 0x3D0}) {
            assertThat(apic.x2apicMsrRead(x2apicMsr(offset), out)).as("RDMSR 0x%x", x2apicMsr(offset)).isFalse();
        }
        for (int msr : new int[] {0x840, 0x8FF, 0x7FF, 0x900}) {
            assertThat(apic.x2apicMsrRead(msr, out)).as("RDMSR 0x%x", msr).isFalse();
        }
        assertThat(apic.x2apicMsrWrite(x2apicMsr(ESR), 0)).isTrue();
        assertThat(msrRead(apic, ESR)).as("no 'illegal register address' in x2APIC mode: #GP instead").isZero();
    }

    @Test
    void readOnlyAndAbsentRegistersFaultOnWriteAndKeepTheirValue() {
        TestVm vm = x2apicVm(2);
        LocalApic apic = vm.apic(1);
        for (int offset : new int[] {ID, LDR, LVR, APR, PPR, RRR, DFR, ICR2, ISR, TMR + 0x10, IRR + 0x70, TMCCT, 0x40,
                0x3D0}) {
            assertThat(apic.x2apicMsrWrite(x2apicMsr(offset), 0)).as("WRMSR 0x%x", x2apicMsr(offset)).isFalse();
        }
        assertThat(apic.x2apicMsrWrite(0x840, 0)).isFalse();
        assertThat(apic.read(ID)).isEqualTo(1);
        assertThat(apic.ldr()).isEqualTo(2);
        assertThat(apic.dfr()).isEqualTo(DFR_FLAT);
        assertThat(vm.host(1).mapChanges).isZero();
    }

    @Test
    void valuesAbove32BitsEsrAndEoiOtherThanZeroFault() {
        TestVm vm = x2apicVm(1);
        LocalApic apic = vm.apic(0);
        assertThat(apic.x2apicMsrWrite(x2apicMsr(TPR), 1L << 32 | 0x30)).as("bits 63:32 reserved").isFalse();
        assertThat(apic.tpr()).isZero();
        assertThat(apic.x2apicMsrWrite(x2apicMsr(ESR), 1)).as("lapic.c: ESR takes only 0").isFalse();
        apic.acceptIrq(TestVm.fixed(0x40));
        assertThat(apic.getInterrupt()).isEqualTo(0x40);
        assertThat(apic.x2apicMsrWrite(x2apicMsr(EOI), 1)).as("SDM: non-zero EOI").isFalse();
        assertThat(apic.isIsrSet(0x40)).isTrue();
        assertThat(apic.x2apicMsrWrite(x2apicMsr(EOI), 0)).isTrue();
        assertThat(apic.isIsrSet(0x40)).isFalse();
    }

    // ---- ICR and SELF IPI -----------------------------------------------------------------------------------

    @Test
    void theIcrIsOne64BitRegisterWithA32BitDestination() {
        TestVm vm = x2apicVm(18);
        LocalApic apic = vm.apic(0);
        long icr = (17L << 32) | ICR_BUSY | ICR_LEVEL_ASSERT | 0x41;
        assertThat(apic.x2apicMsrWrite(x2apicMsr(ICR), icr)).isTrue();
        assertThat(irrHolders(vm, 0x41)).containsExactly(17);
        assertThat(vm.host(0).ipis).singleElement().satisfies(irq -> {
            assertThat(irq.destId).isEqualTo(17);
            assertThat(irq.levelAssert).isTrue();
        });
        assertThat(msrRead(apic, ICR)).as("busy dropped").isEqualTo((17L << 32) | ICR_LEVEL_ASSERT | 0x41);
        assertThat(apic.read(ICR2)).as("split ICR, as KVM on AMD").isEqualTo(17);
    }

    @Test
    void icrReservedBitsFaultAndSendNothing() {
        TestVm vm = x2apicVm(2);
        LocalApic apic = vm.apic(0);
        for (int bit : new int[] {13, 16, 17, 20, 31}) {
            long icr = (1L << 32) | (1L << bit) | 0x41;
            assertThat(apic.x2apicMsrWrite(x2apicMsr(ICR), icr)).as("bit %d", bit).isFalse();
        }
        assertThat(vm.host(0).ipis).isEmpty();
        assertThat(apic.read(ICR)).isZero();
    }

    @Test
    void selfIpiSendsAFixedEdgeIpiToThisApicOnly() {
        TestVm vm = x2apicVm(3);
        LocalApic apic = vm.apic(1);
        assertThat(apic.x2apicMsrWrite(x2apicMsr(SELF_IPI), 0x55)).isTrue();
        assertThat(irrHolders(vm, 0x55)).containsExactly(1);
        assertThat(vm.host(1).ipis).singleElement().satisfies(irq -> {
            assertThat(irq.shorthand).isEqualTo(SHORTHAND_SELF);
            assertThat(irq.deliveryMode).isEqualTo(DM_FIXED);
            assertThat(irq.levelTriggered).isFalse();
        });
        assertThat(apic.x2apicMsrWrite(x2apicMsr(SELF_IPI), 0x155)).as("bits 31:8 reserved").isFalse();
        assertThat(vm.host(1).ipis).hasSize(1);
    }

    // ---- destination matching -------------------------------------------------------------------------------

    @Test
    void physicalMatchesThe32BitIdAndOnly0xffffffffIsBroadcast() {
        TestVm vm = x2apicVm(18);
        LocalApic a = vm.apic(17);
        LocalApic src = vm.apic(0);
        assertThat(a.matchDest(src, SHORTHAND_NONE, 17, false)).isTrue();
        assertThat(a.matchDest(src, SHORTHAND_NONE, 17 | 0x100, false)).as("all 32 bits count").isFalse();
        assertThat(a.matchDest(src, SHORTHAND_NONE, X2APIC_BROADCAST, false)).isTrue();
        assertThat(a.matchDest(src, SHORTHAND_NONE, 0xFF, false)).as("0xff is x2APIC ID 255").isFalse();
        ApicIrq irq = new ApicIrq().set(0x60, DM_FIXED, false, true, false, SHORTHAND_NONE, X2APIC_BROADCAST);
        assertThat(IrqDelivery.irqDeliveryToApic(src, irq, vm.apics)).isEqualTo(18);
    }

    @Test
    void logicalIsTheClusterModel() {
        TestVm vm = x2apicVm(18);
        LocalApic src = vm.apic(0);
        ApicIrq irq = new ApicIrq();
        IrqDelivery.irqDeliveryToApic(src, irq.set(0x61, DM_FIXED, true, true, false, 0, 0x0000_000C), vm.apics);
        assertThat(irrHolders(vm, 0x61)).as("cluster 0, bits 2 and 3").containsExactly(2, 3);
        IrqDelivery.irqDeliveryToApic(src, irq.set(0x62, DM_FIXED, true, true, false, 0, 0x0001_0002), vm.apics);
        assertThat(irrHolders(vm, 0x62)).as("cluster 1, bit 1").containsExactly(17);
        IrqDelivery.irqDeliveryToApic(src, irq.set(0x63, DM_FIXED, true, true, false, 0, 0x0000_0002), vm.apics);
        assertThat(irrHolders(vm, 0x63)).as("cluster 0, bit 1").containsExactly(1);
        IrqDelivery.irqDeliveryToApic(src, irq.set(0x64, DM_FIXED, true, true, false, 0, 0x0001_FFFF), vm.apics);
        assertThat(irrHolders(vm, 0x64)).as("all of cluster 1").containsExactly(16, 17);
        IrqDelivery.irqDeliveryToApic(src, irq.set(0x65, DM_FIXED, true, true, false, 0, X2APIC_BROADCAST), vm.apics);
        assertThat(irrHolders(vm, 0x65)).hasSize(18);
        IrqDelivery.irqDeliveryToApic(src, irq.set(0x66, DM_FIXED, true, true, false, 0, 0xFF), vm.apics);
        assertThat(irrHolders(vm, 0x66)).as("0xff: cluster 0, bits 0-7").containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
    }

    @Property(tries = 500)
    void clusterMatchingIsTheFormula(@ForAll @IntRange(min = 0, max = 0xFE) int vcpuId, @ForAll int mda) {
        LocalApic a = new LocalApic(new PhysicalMemory(PhysicalMemory.PAGE_SIZE), 0, vcpuId, new FakeLapicHost());
        a.setApicBase(a.apicBase() | APIC_BASE_X2APIC_ENABLE, true);
        int ldr = x2apicLdr(vcpuId);
        boolean expected = mda == -1 || ((ldr >>> 16) == (mda >>> 16) && (ldr & mda & 0xFFFF) != 0);
        assertThat(a.matchDest(a, SHORTHAND_NONE, mda, true)).isEqualTo(expected);
    }

    @Test
    void lowestPriorityToTheX2apicBroadcastIsArbitratedAsKvmDoes() {
        // irq_comm.c only turns a physical lowest-priority IPI to 0xff into fixed; 0xffffffff picks one target.
        TestVm vm = x2apicVm(4);
        ApicIrq irq = new ApicIrq().set(0x70, DM_LOWEST, false, true, false, SHORTHAND_NONE, X2APIC_BROADCAST);
        assertThat(IrqDelivery.irqDeliveryToApic(vm.apic(0), irq, vm.apics)).isEqualTo(1);
        assertThat(irrHolders(vm, 0x70)).hasSize(1);
    }

    // ---- mixed xAPIC / x2APIC (kvm_apic_mda) ----------------------------------------------------------------

    @Test
    void aDeviceBroadcastTo0xffReachesX2apicsAsTheX2apicBroadcast() {
        TestVm vm = x2apicVm(3);
        vm.apic(2).setApicBase(DISABLED_AP, true);
        vm.apic(2).setApicBase(XAPIC_AP, true);
        vm.apic(2).regWrite(SPIV, SPIV_APIC_ENABLED | 0xFF);
        ApicIrq irq = new ApicIrq().set(0x71, DM_FIXED, false, true, false, SHORTHAND_NONE, 0xFF);
        assertThat(IrqDelivery.irqDeliveryToApic(null, irq, vm.apics)).isEqualTo(3);
        assertThat(vm.apic(0).matchDest(null, SHORTHAND_NONE, 0xFF, true)).as("logical too").isTrue();
    }

    @Test
    void ipisCompareTheDestinationAsWrittenWithEachTargetsIdAndBroadcast() {
        TestVm vm = x2apicVm(3);
        LocalApic x2 = vm.apic(0);
        LocalApic xapic = vm.apic(2);
        xapic.setApicBase(DISABLED_AP, true);
        xapic.setApicBase(XAPIC_AP, true);
        xapic.regWrite(SPIV, SPIV_APIC_ENABLED | 0xFF);
        assertThat(xapic.matchDest(x2, SHORTHAND_NONE, 2, false)).as("x2APIC sender, xAPIC ID 2").isTrue();
        assertThat(xapic.matchDest(x2, SHORTHAND_NONE, X2APIC_BROADCAST, false)).as("not its broadcast").isFalse();
        assertThat(vm.apic(1).matchDest(xapic, SHORTHAND_NONE, 0xFF, false)).as("xAPIC broadcast, x2APIC target")
                .isFalse();
        assertThat(vm.apic(1).matchDest(xapic, SHORTHAND_NONE, 1, false)).as("xAPIC sender, x2APIC ID 1").isTrue();
        assertThat(xapic.matchDest(xapic, SHORTHAND_NONE, 0xFF, false)).isTrue();
        // Through the ICRs: an xAPIC broadcast reaches the xAPIC only; an x2APIC one the x2APICs only.
        xapic.regWrite(ICR2, 0xFF00_0000);
        xapic.regWrite(ICR, ICR_LEVEL_ASSERT | 0x72);
        assertThat(irrHolders(vm, 0x72)).containsExactly(2);
        assertThat(x2.x2apicMsrWrite(x2apicMsr(ICR), 0xFFFF_FFFFL << 32 | ICR_LEVEL_ASSERT | 0x73)).isTrue();
        assertThat(irrHolders(vm, 0x73)).containsExactly(0, 1);
    }
}
