package dev.javic.devkvm;

import dev.javic.trace.FtraceTextSink;

import java.io.Writer;

/**
 * {@code javic boot --trace OUT}: the run as Linux ftrace text, in the simulated backend's format
 * ({@link FtraceTextSink}, the same line layout and tracepoint formats), with what a host with a userspace APIC
 * would record: {@code kvm_userspace_exit} for every return from KVM_RUN, then the events of javic's APIC
 * serving it ({@code kvm_apic}, {@code kvm_apic_ipi}, {@code kvm_apic_accept_irq}, {@code kvm_eoi}), its
 * injections ({@code kvm_inj_virq}), the filtered MSRs ({@code kvm_msr}) and HLT wake-ups
 * ({@code kvm_vcpu_wakeup}). Each line names the real thread and CPU: the thread's comm (its Java name, which
 * the JVM gives the native thread) and Linux thread ID, the host CPU from {@code sched_getcpu}, and the
 * time since the VM was created from the host's monotonic clock (microseconds, as ftrace prints them).
 *
 * <p>The vCPU threads log concurrently; every call is synchronized (the sink is single-threaded).
 */
final class KvmTrace {
    private final FtraceTextSink sink;
    private final long originNs;
    private final int cpus;

    KvmTrace(Writer out, long originNs) {
        this.cpus = Math.max(1, KvmApi.nprocsConf());
        this.sink = new FtraceTextSink(out, 1_000_000_000L, cpus);
        this.originNs = originNs;
    }

    /**
     * The calling thread's host CPU, after telling the sink that this thread runs there: its comm (the Java
     * thread name, cut to TASK_COMM_LEN - 1 = 15 characters as the kernel keeps it) and its thread ID. An event
     * is logged on the thread that caused it: a vCPU thread, or the APIC timer thread for a timer expiry.
     */
    private int cpu() {
        int cpu = KvmApi.schedGetcpu();
        cpu = cpu < 0 || cpu >= cpus ? 0 : cpu;
        String name = Thread.currentThread().getName();
        sink.taskOnCpu(cpu, name.length() > 15 ? name.substring(0, 15) : name, KvmApi.gettid());
        return cpu;
    }

    private long now() {
        return Math.max(0, System.nanoTime() - originNs);
    }

    synchronized void userspaceExit(int reason, int errno) {
        sink.kvmUserspaceExit(now(), cpu(), reason, errno);
    }

    synchronized void apic(int vcpu, boolean write, int reg, int value) {
        sink.kvmApic(now(), cpu(), vcpu, write, reg, value);
    }

    synchronized void apicIpi(int vcpu, int icrLow, int destId) {
        sink.kvmApicIpi(now(), cpu(), vcpu, icrLow, destId);
    }

    synchronized void acceptIrq(int apicId, int deliveryMode, boolean level, int vector) {
        sink.kvmApicAcceptIrq(now(), cpu(), apicId, deliveryMode, level, vector);
    }

    synchronized void eoi(int apicId, int vector) {
        sink.kvmEoi(now(), cpu(), apicId, vector);
    }

    synchronized void injVirq(int vcpu, int vector) {
        sink.kvmInjVirq(now(), cpu(), vcpu, vector, false, false);
    }

    synchronized void msr(int vcpu, boolean write, int msr, long data, boolean exception) {
        sink.kvmMsr(now(), cpu(), vcpu, write, msr, data, exception);
    }

    synchronized void wakeup(int vcpu, long haltedNs, boolean valid) {
        sink.kvmVcpuWakeup(now(), cpu(), vcpu, haltedNs, true, valid);
    }

    synchronized void close() {
        sink.close();
    }
}
