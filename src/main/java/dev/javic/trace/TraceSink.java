package dev.javic.trace;

/**
 * Receives tracepoint events with their typed fields. Sinks format them (ftrace text, Perfetto JSON)
 * or aggregate them (exit statistics). Every method gets the simulated time in TSC cycles and the
 * host CPU the event happened on; {@link Tracer} only calls a sink when one is attached.
 * Default methods ignore the event, so a sink implements only what it needs.
 */
public interface TraceSink {
    // ---- KVM (arch/x86/kvm/trace.h) --------------------------------------------------------------
    default void kvmEntry(long time, int cpu, int vcpuId, long rip) {}

    default void kvmExit(long time, int cpu, int vcpuId, int exitCode, long rip, long info1, long info2,
                         int intInfo, int errorCode) {}

    default void kvmInjVirq(long time, int cpu, int vcpuId, int vector, boolean soft, boolean reinjected) {}

    default void kvmApic(long time, int cpu, int vcpuId, boolean write, int reg, int value) {}

    default void kvmApicIpi(long time, int cpu, int vcpuId, int icrLow, int destId) {}

    default void kvmApicAcceptIrq(long time, int cpu, int apicId, int deliveryMode, boolean levelTriggered,
                                  int vector) {}

    default void kvmEoi(long time, int cpu, int apicId, int vector) {}

    default void kvmPvEoi(long time, int cpu, int apicId, int vector) {}

    default void kvmMsr(long time, int cpu, int vcpuId, boolean write, int msr, long data, boolean exception) {}

    default void kvmCr(long time, int cpu, int vcpuId, boolean write, int cr, long value) {}

    default void kvmCpuid(long time, int cpu, int vcpuId, int function, int index, long rax, long rbx, long rcx,
                          long rdx, boolean found) {}

    default void kvmVcpuWakeup(long time, int cpu, int vcpuId, long haltedNs, boolean waited, boolean valid) {}

    default void kvmAvicIncompleteIpi(long time, int cpu, int vcpuId, int icrHigh, int icrLow, int id, int index) {}

    default void kvmAvicUnacceleratedAccess(long time, int cpu, int vcpuId, int offset, boolean trap,
                                            boolean write, int vector) {}

    default void kvmAvicDoorbell(long time, int cpu, int vcpuId, int apicId) {}

    /** IsRunning of a vCPU's physical APIC ID table entry changed (avic_set_running / vcpu_load/put). */
    default void kvmAvicIsRunning(long time, int cpu, int vcpuId, boolean running, int hostApicId) {}

    /** A physical or logical APIC ID table entry was written. */
    default void kvmAvicTableUpdate(long time, int cpu, int vcpuId, boolean logical, int index, long entry) {}

    /** kvm_apicv_inhibit_changed: an APICv/AVIC inhibit reason was set or cleared for a VM. */
    default void kvmApicvInhibitChanged(long time, int cpu, boolean set, int reason, long inhibits) {}

    // ---- hardware (no Linux tracepoint exists; javic's own, for following AVIC at work) ----------
    /** The AVIC unit of {@code cpu} delivered an IPI from its ICR write without an exit. */
    default void avicIpiAccelerated(long time, int cpu, int vcpuId, int targetApicId, int vector, boolean running) {}

    /** A core in guest mode received a doorbell and evaluated the vAPIC IRR. */
    default void avicDoorbellReceived(long time, int cpu, int vcpuId) {}

    /** The CPU vectored the guest to {@code vector} (interrupt handler entry). */
    default void guestInterrupt(long time, int cpu, int vcpuId, int vector) {}

    // ---- host kernel (sched, ipi) --------------------------------------------------------------------
    default void schedSwitch(long time, int cpu, String prevComm, int prevPid, String prevState,
                             String nextComm, int nextPid) {}

    default void schedWakeup(long time, int cpu, String comm, int pid, int targetCpu) {}

    default void ipiRaise(long time, int cpu, int targetCpu, String reason) {}

    default void ipiEntry(long time, int cpu, String reason) {}

    /** Flushes and closes the sink's output. */
    default void close() {}
}
