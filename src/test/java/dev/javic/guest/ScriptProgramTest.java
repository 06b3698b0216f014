package dev.javic.guest;

import dev.javic.hw.OpKind;
import dev.javic.hw.Operation;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link ScriptProgram} driven by hand, the way the CPU drives it: what an operation produced must be
 * recorded even when the CPU vectors to an interrupt before asking for the next operation (the operation
 * retired in an exit, or faulted), and a TSC-deadline write must survive an interrupt between its RDMSR
 * and its WRMSR. The x2APIC enable is a read-modify-write of IA32_APIC_BASE, after which the guest kernel's
 * default handler EOIs by MSR.
 */
class ScriptProgramTest {

    private static final long TSC_DEADLINE_MSR = 0x6E0;

    @Test
    void aReadCompletedInAnExitIsRecordedWhenAnInterruptIsInjectedOnReEntry() {
        ScriptProgram p = new ScriptProgram(GuestCode.builder().apicRead(GuestKernel.TPR, "tpr").work(10).build());
        Operation op = new Operation();
        p.next(op, 0);
        assertThat(op.kind).isEqualTo(OpKind.READ32);
        op.result = 0x20; // the hypervisor emulated the read; the CPU vectors before the next boundary
        p.interrupt(0x40, 5);
        assertThat(p.reads()).singleElement().satisfies(r -> {
            assertThat(r.label()).isEqualTo("tpr");
            assertThat(r.value()).isEqualTo(0x20);
        });
    }

    @Test
    void aFaultingOperationIsRecordedBeforeItsExceptionHandlerRuns() {
        ScriptProgram p = new ScriptProgram(GuestCode.builder().wrmsr(0x1234, 1).work(10).build());
        Operation op = new Operation();
        p.next(op, 0);
        assertThat(op.kind).isEqualTo(OpKind.WRMSR);
        op.fault = 13; // #GP, delivered through the IDT at once
        p.interrupt(13, 7);
        assertThat(p.faults()).singleElement().satisfies(f -> assertThat(f.value()).isEqualTo(13));
        assertThat(p.interruptCount()).isEqualTo(1);
    }

    @Test
    void aTscDeadlineWriteSurvivesAnInterruptBetweenItsTwoInstructions() {
        ScriptProgram p = new ScriptProgram(GuestCode.builder().tscDeadlineAfter(500).work(10).build());
        Operation op = new Operation();
        p.next(op, 0);
        assertThat(op.kind).isEqualTo(OpKind.RDMSR);
        op.result = 1000; // TSC read; an interrupt arrives before the WRMSR
        p.interrupt(0x40, 3);
        p.next(op, 4);     // the default handler: EOI
        assertThat(op.kind).isEqualTo(OpKind.WRITE32);
        op.fault = -1;
        p.next(op, 5);     // its end: IRET
        assertThat(op.kind).isEqualTo(OpKind.IRET);
        p.next(op, 6);     // back in the interrupted code: the deadline write it still owes
        assertThat(op.kind).isEqualTo(OpKind.WRMSR);
        assertThat(op.address).isEqualTo(TSC_DEADLINE_MSR);
        assertThat(op.value).isEqualTo(1500);
        p.next(op, 7);
        assertThat(op.kind).isEqualTo(OpKind.WORK);
    }

    @Test
    void x2apicEnableReadsTheApicBaseAndWritesItBackWithExtdAndEn() {
        ScriptProgram p = new ScriptProgram(GuestCode.builder().x2apicEnable().work(10).build());
        Operation op = new Operation();
        p.next(op, 0);
        assertThat(op.kind).isEqualTo(OpKind.RDMSR);
        assertThat(op.address).isEqualTo(GuestKernel.MSR_IA32_APICBASE);
        op.result = 0xFEE0_0900L;
        p.next(op, 1);
        assertThat(op.kind).isEqualTo(OpKind.WRMSR);
        assertThat(op.address).isEqualTo(GuestKernel.MSR_IA32_APICBASE);
        assertThat(op.value).isEqualTo(0xFEE0_0D00L);
        p.next(op, 2);
        assertThat(op.kind).isEqualTo(OpKind.WORK);
        assertThat(p.faults()).isEmpty();
    }

    @Test
    void afterX2apicIsEnabledTheDefaultHandlerEoisByMsr() {
        ScriptProgram p = new ScriptProgram(GuestCode.builder().work(10).x2apicEnable().work(10).build());
        Operation op = new Operation();
        p.next(op, 0);                      // WORK
        p.interrupt(0x40, 1);               // xAPIC: the default handler's EOI is an MMIO store
        p.next(op, 2);
        assertThat(op.kind).isEqualTo(OpKind.WRITE32);
        assertThat(op.address).isEqualTo(GuestKernel.APIC_BASE + GuestKernel.EOI);
        p.next(op, 3);                      // IRET
        p.next(op, 4);                      // RDMSR IA32_APIC_BASE (the interrupted WORK resumes in the CPU)
        assertThat(op.kind).isEqualTo(OpKind.RDMSR);
        op.result = 0xFEE0_0900L;
        p.next(op, 5);                      // WRMSR | EXTD | EN
        assertThat(op.kind).isEqualTo(OpKind.WRMSR);
        op.fault = -1;                      // the hypervisor accepted it; an interrupt is injected on re-entry
        p.interrupt(0x41, 6);
        p.next(op, 7);
        assertThat(op.kind).isEqualTo(OpKind.WRMSR);
        assertThat(op.address).isEqualTo(GuestKernel.MSR_X2APIC_EOI);
        assertThat(op.value).isZero();
    }

    @Test
    void aRefusedX2apicEnableLeavesTheKernelInXapicMode() {
        ScriptProgram p = new ScriptProgram(GuestCode.builder().x2apicEnable().work(10).build());
        Operation op = new Operation();
        p.next(op, 0);
        op.result = 0xFEE0_0900L;
        p.next(op, 1);                      // the WRMSR
        op.fault = 13;                      // #GP: no x2APIC in CPUID
        p.interrupt(13, 2);
        assertThat(p.faults()).singleElement().satisfies(f -> assertThat(f.value()).isEqualTo(13));
        p.next(op, 3);                      // IRET of the #GP handler
        op.fault = -1;
        p.next(op, 4);                      // WORK
        p.interrupt(0x42, 5);
        p.next(op, 6);
        assertThat(op.kind).isEqualTo(OpKind.WRITE32);
        assertThat(op.address).isEqualTo(GuestKernel.APIC_BASE + GuestKernel.EOI);
    }
}
