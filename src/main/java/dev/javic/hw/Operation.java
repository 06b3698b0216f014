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

    // ---- WORK progress, kept by the CPU -------------------------------------------------------------

    /** Cycles of WORK this vCPU executed in stretches that have ended. */
    long workCyclesRetired;
    /** When the stretch of WORK now executing started, or -1 while none executes. */
    long workRunningSince = -1;
    /** When the last stretch of WORK stopped (it completed, or an exit or interrupt stopped it). */
    long workStoppedAt;

    /**
     * Cycles of WORK this vCPU has executed up to {@code now}, counting the WORK in progress as far as it
     * got. It stands still while the vCPU is out of guest mode (an exit, halted) and while it executes
     * anything but WORK: what a guest-only cycle counter (a PMC with the Guest-only bit, APM vol. 2
     * §13.2) counting just the guest's computation would read. A guest kernel that runs a batch of
     * operations as one WORK reads it to apply each operation's effect on shared guest memory at the
     * cycle it happened, so that other vCPUs see exactly what step-by-step execution would show them
     * (design.md: "work is one event"). It changes nothing the CPU does.
     */
    public long workCycles(long now) {
        long since = workRunningSince;
        return since < 0 ? workCyclesRetired : workCyclesRetired + (now - since);
    }

    /** Whether a stretch of WORK is executing now. */
    public boolean workRunning() {
        return workRunningSince >= 0;
    }

    /** When the stretch of WORK now executing started; meaningful while {@link #workRunning()}. */
    public long workRunningSince() {
        return workRunningSince;
    }

    /** When the last stretch of WORK stopped; meaningful while not {@link #workRunning()}. */
    public long workStoppedAt() {
        return workStoppedAt;
    }

    void workStarted(long now) {
        workRunningSince = now;
    }

    void workStopped(long now) {
        if (workRunningSince >= 0) {
            workCyclesRetired += now - workRunningSince;
            workRunningSince = -1;
            workStoppedAt = now;
        }
    }

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
