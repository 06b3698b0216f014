package dev.javic.hw;

/**
 * One CPU operation requested by a guest program, and its result. The guest fills it in
 * {@link GuestProgram#next(Operation)}; the CPU executes it and leaves the outcome here before it asks
 * for the next one. One instance per vCPU, reused: executing guest code allocates nothing.
 */
public final class Operation {
    public OpKind kind = OpKind.WORK;
    /** Guest physical address for memory operations, MSR index for RDMSR / WRMSR, leaf for CPUID. */
    public long address;
    /** Value to write (memory, MSR, CR8), cycles for WORK, subleaf for CPUID. */
    public long value;

    /** Result of a read, RDMSR, CR8 read or CPUID (EAX). */
    public long result;
    /** CPUID EBX, ECX, EDX. */
    public int resultEbx;
    public int resultEcx;
    public int resultEdx;
    /** The vector of the exception the operation raised (e.g. 13 for #GP), or -1. */
    public int fault = -1;

    /**
     * {@code value} of an IRET that returns to a different context: a guest kernel that reschedules on
     * the interrupt-return path (Linux's preemption at IRQ exit) saves the interrupted task's state and
     * continues with another. The CPU pops the frame and restores RFLAGS but does not resume the
     * interrupted WORK; its remaining cycles are left in {@link #result} for the kernel to save.
     */
    public static final long IRET_TO_NEW_CONTEXT = 1;

    public Operation work(long cycles) {
        return set(OpKind.WORK, 0, cycles);
    }

    public Operation set(OpKind kind, long address, long value) {
        this.kind = kind;
        this.address = address;
        this.value = value;
        return this;
    }

    void clearResult() {
        result = 0;
        resultEbx = 0;
        resultEcx = 0;
        resultEdx = 0;
        fault = -1;
    }
}
