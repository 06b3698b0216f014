package dev.javic.guest;

/**
 * One instruction of compiled guest code: a CPU operation, or a control step of the small guest
 * kernel (loops, waiting for interrupts) that runs inside the guest and issues CPU operations.
 *
 * @param code    what to do
 * @param a       first operand (address, MSR, leaf, cycles, count, jump target)
 * @param b       second operand (value, subleaf)
 * @param label   name under which a read's value is recorded, or null
 */
public record GuestInsn(Code code, long a, long b, String label) {
    public enum Code {
        // CPU operations (one each)
        WORK, READ32, WRITE32, READ64, WRITE64, RDMSR, WRMSR, CPUID, READ_CR8, WRITE_CR8, STI, CLI, HLT, PAUSE,
        VMMCALL,
        /** RDMSR(IA32_TSC) then WRMSR(IA32_TSC_DEADLINE, tsc + a). */
        TSC_DEADLINE_AFTER,
        /** RDMSR(a) then WRMSR(a, value read | b): a read-modify-write, e.g. x2APIC enable in IA32_APIC_BASE. */
        MSR_OR,
        // guest-kernel control (no CPU operation of their own)
        /** Start of a counted loop of {@code a} iterations; {@code b} = index of the matching LOOP_END. */
        LOOP_START,
        /** End of a loop; {@code a} = index of its LOOP_START. */
        LOOP_END,
        /** Jump to {@code a} when at least {@code b} interrupts (vector >= 32) have been taken. */
        JUMP_IF_IRQS,
        /** Unconditional jump to {@code a}. */
        JUMP
    }

    public static GuestInsn of(Code code, long a, long b) {
        return new GuestInsn(code, a, b, null);
    }
}
