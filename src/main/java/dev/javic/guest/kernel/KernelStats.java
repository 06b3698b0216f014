package dev.javic.guest.kernel;

/** What the guest kernel counted (as /proc/schedstat and /proc/interrupts would show it). */
public final class KernelStats {
    public long contextSwitches;
    public long wakeups;
    public long wakeupPreemptions;
    public long tickPreemptions;
    public long affineWakeups;
    public long reschedIpisSent;
    /** CALL_FUNCTION_SINGLE IPIs (blk-mq completions redirected to the submitting CPU). */
    public long callFunctionIpisSent;
    public long interrupts;
    /** EOIs that PV EOI took: the word's bit was set, so the handler did not touch the APIC. */
    public long pvEoisTaken;
    public long timerInterrupts;
    public long reschedInterrupts;
    public long migrations;
    public long newIdleBalances;
    public long periodicBalances;
    public long messagesWritten;
    public long messagesRead;
    public long exits;
    public long halts;
    /** WORK operations that carried tasks' system calls, and the system calls they carried. */
    public long plans;
    public long plannedActions;
    /** Effects whose time could not be told exactly (a vCPU paused twice without an interrupt in between). */
    public long unattributedPauses;
}
