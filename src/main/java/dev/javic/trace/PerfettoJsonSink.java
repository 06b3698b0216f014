package dev.javic.trace;

import dev.javic.hw.SvmExit;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.util.Arrays;

/**
 * Writes the events as Chrome trace-event JSON ({@code {"traceEvents":[...]}}), the legacy JSON format the
 * Perfetto UI (ui.perfetto.dev) and {@code chrome://tracing} open. It is written while the simulation runs:
 * each event is appended as it happens, and the sink keeps only per-track state (a few words per host CPU
 * and per vCPU, and the {@link InterruptMatcher}'s {@code vcpus * 256 * 2} pending sends), so a trace of any
 * length goes to disk without being held in memory.
 *
 * <h2>Tracks</h2>
 * Two processes: {@code host} (pid 1) with one thread track per host CPU ({@code CPU n}, tid 1000 + n),
 * and the VM (pid 2) with one thread track per vCPU ({@code vCPU n}, tid 2000 + n).
 * <pre>
 * vCPU 1  |== guest ==|= npf =|== guest ====|===== hlt =======================|== guest ==
 *                                                |== halted ==|= runnable =|
 *              ^ send 0x40 -&gt; vCPU 0 (flow start)                             ^ irq 0x40 (flow end)
 * CPU 1   |============ CPU 1/KVM ========================|                   |== CPU 1/KVM ==
 *                                                    doorbell, ipi_raise, sched_wakeup (instants)
 * </pre>
 * <ul>
 * <li>vCPU slices ({@code B}/{@code E}): {@code guest} from {@code kvm_entry} to {@code kvm_exit}; the exit,
 * named by its reason as {@code kvm_exit} prints it ({@code npf}, {@code hlt}, {@code avic_incomplete_ipi}),
 * from {@code kvm_exit} to the next {@code kvm_entry}; nested in it, {@code halted} from the vCPU thread's
 * switch-out in state S/D to its {@code sched_wakeup}, then {@code runnable} until it runs again
 * ({@code preempted} when it was switched out runnable).</li>
 * <li>host CPU slices: the host thread running, from its {@code sched_switch} in to its switch out.</li>
 * <li>instants ({@code i}, thread scope): doorbells rung and received, host IPIs ({@code ipi_raise},
 * {@code ipi_entry}), wake-ups, AVIC table and IsRunning updates, injections, APIC/MSR/CR accesses.</li>
 * <li>flows ({@code s} / {@code f} with {@code bp:"e"}, name {@code interrupt}): from each send, a
 * zero-length slice on the sender's track ({@code send}/{@code avic_ipi} on the sending vCPU for an IPI,
 * {@code inject} on the host CPU for a device or timer interrupt), to the zero-length {@code irq} slice where
 * the target's handler starts ({@code guest_irq}). Sends are paired with handlers as
 * {@link InterruptMatcher} says; a send coalesced into a pending one draws no arrow; a send still pending
 * when the trace ends gets its arrow to a {@code still pending} slice at the end, so every flow that starts
 * finishes.</li>
 * </ul>
 * The state slices are {@code B}/{@code E} pairs written in event order, so every event's {@code ts} is at
 * least the previous one's and Perfetto (which sorts stably by {@code ts}) sees each flow event inside its
 * zero-length slice. {@code ts} is in microseconds with three decimals: the simulated TSC time, converted
 * to whole nanoseconds as {@code CostModel.cyclesToNs} does.
 *
 * <h2>Cost</h2>
 * One reused {@link StringBuilder} and char buffer; numbers are appended without allocation. Not thread-safe.
 */
public final class PerfettoJsonSink implements TraceSink {
    static final int PID_HOST = 1;
    static final int PID_VM = 2;
    static final int TID_HOST_CPU_BASE = 1000;
    static final int TID_VCPU_BASE = 2000;
    static final String FLOW_NAME = "interrupt";
    static final String FLOW_CATEGORY = "irq";

    /** Top-level vCPU slices. */
    private static final int SLICE_NONE = 0;
    private static final int SLICE_GUEST = 1;
    private static final int SLICE_EXIT = 2;
    /** Nested scheduler slices inside a vCPU's exit. */
    private static final int SCHED_NONE = 0;
    private static final int SCHED_HALTED = 1;
    private static final int SCHED_RUNNABLE = 2;
    private static final int SCHED_PREEMPTED = 3;

    private static final int RUNNING_UNKNOWN = -1;
    private static final long NS_PER_SECOND = 1_000_000_000L;

    private final Writer out;
    private final long tscHz;
    private final int cpuCount;
    private final int vcpuCount;
    private final InterruptMatcher matcher;

    private final int[] vcpuSlice;
    private final int[] vcpuSched;
    private final int[] vcpuThreadPid;
    private final int[] cpuThreadPid;
    private final boolean[] cpuThreadSlice;

    private final StringBuilder line = new StringBuilder(256);
    private final TraceWriter writer;
    private boolean first = true;
    private boolean instantOpen;
    private long lastTime;
    private boolean closed;

    /**
     * @param out      where the JSON goes; wrapped in a {@link BufferedWriter} unless it is one
     * @param tscHz    host TSC frequency, to turn event times (cycles) into microseconds
     * @param cpuCount host CPUs; events must name a CPU in {@code [0, cpuCount)}
     * @param vcpus    the VM's vCPUs; events must name a vCPU in {@code [0, vcpus)}
     * @param vmName   the VM's track group name (e.g. the scenario and system)
     */
    public PerfettoJsonSink(Writer out, long tscHz, int cpuCount, int vcpus, String vmName) {
        if (tscHz <= 0 || tscHz > Long.MAX_VALUE / NS_PER_SECOND) {
            throw new IllegalArgumentException("tscHz out of range: " + tscHz);
        }
        if (cpuCount <= 0 || vcpus <= 0) {
            throw new IllegalArgumentException("cpuCount and vcpus must be positive: " + cpuCount + ", " + vcpus);
        }
        this.out = out instanceof BufferedWriter ? out : new BufferedWriter(out, 1 << 16);
        this.writer = new TraceWriter(this.out);
        this.tscHz = tscHz;
        this.cpuCount = cpuCount;
        this.vcpuCount = vcpus;
        this.matcher = new InterruptMatcher(vcpus);
        vcpuSlice = new int[vcpus];
        vcpuSched = new int[vcpus];
        vcpuThreadPid = new int[vcpus];
        Arrays.fill(vcpuThreadPid, -1);
        cpuThreadPid = new int[cpuCount];
        cpuThreadSlice = new boolean[cpuCount];
        writeRaw("{\"traceEvents\":[\n");
        writeMetadata(vmName);
    }

    private void writeMetadata(String vmName) {
        metadata(PID_HOST, TID_HOST_CPU_BASE, "process_name", "host (" + cpuCount + " CPUs)");
        metadata(PID_HOST, TID_HOST_CPU_BASE, "process_sort_index", null);
        for (int c = 0; c < cpuCount; c++) {
            metadata(PID_HOST, TID_HOST_CPU_BASE + c, "thread_name", "CPU " + c);
        }
        metadata(PID_VM, TID_VCPU_BASE, "process_name", vmName);
        metadata(PID_VM, TID_VCPU_BASE, "process_sort_index", null);
        for (int v = 0; v < vcpuCount; v++) {
            metadata(PID_VM, TID_VCPU_BASE + v, "thread_name", "vCPU " + v);
        }
    }

    private void metadata(int pid, int tid, String name, String value) {
        StringBuilder b = start('M', 0, pid, tid).append(name).append('"');
        if (value == null) {
            b.append(",\"args\":{\"sort_index\":").append(pid).append('}');
        } else {
            b.append(",\"args\":{\"name\":");
            appendJsonString(b, value);
            b.append('}');
        }
        finish();
    }

    // ---- vCPU state slices ----------------------------------------------------------------------------

    @Override
    public void kvmEntry(long time, int cpu, int vcpuId, long rip) {
        checkCpu(cpu);
        int pid = cpuThreadPid[cpu];
        if (pid != 0) {
            vcpuThreadPid[checkVcpu(vcpuId)] = pid;
        }
        endSched(time, vcpuId);
        endTop(time, vcpuId);
        StringBuilder b = start('B', time, PID_VM, vcpuTid(vcpuId)).append("guest\",\"cat\":\"guest\",\"args\":{\"rip\":\"0x");
        FtraceTextSink.appendHex(b, rip, 1);
        b.append("\"}");
        finish();
        vcpuSlice[vcpuId] = SLICE_GUEST;
    }

    @Override
    public void kvmExit(long time, int cpu, int vcpuId, int exitCode, long rip, long info1, long info2,
                        int intInfo, int errorCode) {
        checkCpu(cpu);
        matcher.exit(time, vcpuId);
        endSched(time, vcpuId);
        endTop(time, vcpuId);
        StringBuilder b = start('B', time, PID_VM, vcpuTid(vcpuId)).append(SvmExit.name(exitCode))
                .append("\",\"cat\":\"exit\",\"args\":{\"exit_code\":\"0x");
        FtraceTextSink.appendHex(b, exitCode & 0xFFFF_FFFFL, 1);
        b.append("\",\"rip\":\"0x");
        FtraceTextSink.appendHex(b, rip, 1);
        b.append("\",\"info1\":\"0x");
        FtraceTextSink.appendHex(b, info1, 1);
        b.append("\",\"info2\":\"0x");
        FtraceTextSink.appendHex(b, info2, 1);
        b.append("\"}");
        finish();
        vcpuSlice[vcpuId] = SLICE_EXIT;
    }

    private void endTop(long time, int vcpuId) {
        if (vcpuSlice[checkVcpu(vcpuId)] != SLICE_NONE) {
            start('E', time, PID_VM, vcpuTid(vcpuId)).append('"');
            finish();
            vcpuSlice[vcpuId] = SLICE_NONE;
        }
    }

    private void beginSched(long time, int vcpuId, int state) {
        endSched(time, vcpuId);
        String name = switch (state) {
            case SCHED_HALTED -> "halted";
            case SCHED_RUNNABLE -> "runnable";
            default -> "preempted";
        };
        start('B', time, PID_VM, vcpuTid(vcpuId)).append(name).append("\",\"cat\":\"sched\"");
        finish();
        vcpuSched[vcpuId] = state;
    }

    private void endSched(long time, int vcpuId) {
        if (vcpuSched[checkVcpu(vcpuId)] != SCHED_NONE) {
            start('E', time, PID_VM, vcpuTid(vcpuId)).append('"');
            finish();
            vcpuSched[vcpuId] = SCHED_NONE;
        }
    }

    private int vcpuOfThread(int pid) {
        if (pid <= 0) {
            return -1;
        }
        for (int v = 0; v < vcpuCount; v++) {
            if (vcpuThreadPid[v] == pid) {
                return v;
            }
        }
        return -1;
    }

    // ---- host scheduler ----------------------------------------------------------------------------------

    @Override
    public void schedSwitch(long time, int cpu, String prevComm, int prevPid, String prevState,
                            String nextComm, int nextPid) {
        checkCpu(cpu);
        if (cpuThreadSlice[cpu]) {
            start('E', time, PID_HOST, cpuTid(cpu)).append('"');
            finish();
            cpuThreadSlice[cpu] = false;
        }
        int prevVcpu = vcpuOfThread(prevPid);
        if (prevVcpu >= 0) {
            beginSched(time, prevVcpu, prevState.startsWith("R") ? SCHED_PREEMPTED : SCHED_HALTED);
        }
        if (nextPid != 0) {
            StringBuilder b = start('B', time, PID_HOST, cpuTid(cpu));
            appendJsonChars(b, nextComm);
            b.append("\",\"cat\":\"sched\",\"args\":{\"pid\":").append(nextPid).append('}');
            finish();
            cpuThreadSlice[cpu] = true;
        }
        cpuThreadPid[cpu] = nextPid;
        int nextVcpu = vcpuOfThread(nextPid);
        if (nextVcpu >= 0) {
            endSched(time, nextVcpu);
        }
    }

    @Override
    public void schedWakeup(long time, int cpu, String comm, int pid, int targetCpu) {
        StringBuilder b = instant(time, PID_HOST, cpuTid(checkCpu(cpu)), "sched_wakeup ");
        appendJsonChars(b, comm);
        b.append("\",\"cat\":\"sched\",\"args\":{\"pid\":").append(pid).append(",\"target_cpu\":").append(targetCpu)
                .append('}');
        finish();
        int v = vcpuOfThread(pid);
        if (v >= 0 && vcpuSched[v] == SCHED_HALTED) {
            beginSched(time, v, SCHED_RUNNABLE);
        }
    }

    @Override
    public void ipiRaise(long time, int cpu, int targetCpu, String reason) {
        StringBuilder b = instant(time, PID_HOST, cpuTid(checkCpu(cpu)), "ipi_raise -> CPU ").append(targetCpu);
        b.append("\",\"cat\":\"ipi\",\"args\":{\"reason\":");
        appendJsonString(b, reason);
        b.append('}');
        finish();
    }

    @Override
    public void ipiEntry(long time, int cpu, String reason) {
        StringBuilder b = instant(time, PID_HOST, cpuTid(checkCpu(cpu)), "ipi_entry");
        b.append("\",\"cat\":\"ipi\",\"args\":{\"reason\":");
        appendJsonString(b, reason);
        b.append('}');
        finish();
    }

    // ---- interrupts: sends, flows, handler entries --------------------------------------------------------

    @Override
    public void kvmApicIpi(long time, int cpu, int vcpuId, int icrLow, int destId) {
        matcher.ipiEmulated(time, vcpuId);
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), "kvm_apic_ipi");
        // dst as unsigned: an x2APIC destination is 32 bits (0xffffffff broadcast).
        b.append("\",\"cat\":\"apic\",\"args\":{\"vec\":").append(icrLow & 0xFF)
                .append(",\"dst\":").append(Integer.toUnsignedLong(destId))
                .append(",\"icr_low\":\"0x");
        FtraceTextSink.appendHex(b, icrLow & 0xFFFF_FFFFL, 8);
        b.append("\"}");
        finish();
    }

    @Override
    public void kvmApicAcceptIrq(long time, int cpu, int apicId, int deliveryMode, boolean levelTriggered,
                                 int vector) {
        checkCpu(cpu);
        int sender = matcher.emulatedIpiSender(time);
        int slot = matcher.accepted(time, apicId, vector);
        int pid = sender >= 0 ? PID_VM : PID_HOST;
        int tid = sender >= 0 ? vcpuTid(sender) : cpuTid(cpu);
        StringBuilder b = start('B', time, pid, tid).append(sender >= 0 ? "send 0x" : "inject 0x");
        FtraceTextSink.appendHex(b, vector & 0xFF, 2);
        appendSendArgs(b, apicId, slot, RUNNING_UNKNOWN);
        closeSend(time, pid, tid, slot);
    }

    @Override
    public void avicIpiAccelerated(long time, int cpu, int vcpuId, int targetApicId, int vector, boolean running) {
        int slot = matcher.avicIpi(time, vcpuId, targetApicId, vector);
        int tid = vcpuTid(vcpuId);
        StringBuilder b = start('B', time, PID_VM, tid).append("avic_ipi 0x");
        FtraceTextSink.appendHex(b, vector & 0xFF, 2);
        appendSendArgs(b, targetApicId, slot, running ? 1 : 0);
        closeSend(time, PID_VM, tid, slot);
    }

    /**
     * Closes a send slice's name (which names only the vector, so that sends group in Perfetto's slice
     * aggregation) and writes its category and arguments, then the event.
     */
    private void appendSendArgs(StringBuilder b, int targetApicId, int slot, int targetRunning) {
        b.append("\",\"cat\":\"irq\",\"args\":{\"target_vcpu\":").append(matcher.vcpuOfApicId(targetApicId))
                .append(",\"target_apic_id\":").append(targetApicId);
        if (targetRunning != RUNNING_UNKNOWN) {
            b.append(targetRunning == 1 ? ",\"target_running\":true" : ",\"target_running\":false");
        }
        b.append(slot == InterruptMatcher.NONE ? ",\"coalesced\":true}" : ",\"coalesced\":false}");
        finish();
    }

    private void closeSend(long time, int pid, int tid, int slot) {
        if (slot != InterruptMatcher.NONE) {
            flow('s', time, pid, tid, matcher.flowId(slot));
        }
        start('E', time, pid, tid).append('"');
        finish();
    }

    @Override
    public void guestInterrupt(long time, int cpu, int vcpuId, int vector) {
        int slot = matcher.handlerEntered(vcpuId, vector);
        StringBuilder b = start('B', time, PID_VM, vcpuTid(checkVcpu(vcpuId))).append("irq 0x");
        FtraceTextSink.appendHex(b, vector & 0xFF, 2);
        b.append("\",\"cat\":\"irq\"");
        if (slot != InterruptMatcher.NONE) {
            appendReceiveArgs(b, time, slot);
        }
        finish();
        if (slot != InterruptMatcher.NONE) {
            flow('f', time, PID_VM, vcpuTid(vcpuId), matcher.flowId(slot));
            matcher.close(slot);
        }
        start('E', time, PID_VM, vcpuTid(vcpuId)).append('"');
        finish();
    }

    private void appendReceiveArgs(StringBuilder b, long time, int slot) {
        b.append(",\"args\":{\"kind\":\"").append(InterruptMatcher.kindName(matcher.kind(slot)))
                .append("\",\"from_vcpu\":").append(matcher.sender(slot)).append(",\"latency_us\":");
        appendMicros(b, time - matcher.sendTime(slot));
        b.append('}');
    }

    private void flow(char phase, long time, int pid, int tid, int id) {
        StringBuilder b = start(phase, time, pid, tid).append(FLOW_NAME).append("\",\"cat\":\"").append(FLOW_CATEGORY)
                .append("\",\"id\":").append(id);
        if (phase == 'f') {
            b.append(",\"bp\":\"e\"");
        }
        finish();
    }

    // ---- instants: KVM, AVIC --------------------------------------------------------------------------------

    @Override
    public void kvmInjVirq(long time, int cpu, int vcpuId, int vector, boolean soft, boolean reinjected) {
        matcher.injected(vcpuId, vector);
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), "kvm_inj_virq 0x");
        FtraceTextSink.appendHex(b, vector & 0xFF, 2);
        b.append("\",\"cat\":\"irq\",\"args\":{\"soft\":").append(soft).append(",\"reinjected\":").append(reinjected)
                .append('}');
        finish();
    }

    @Override
    public void kvmApic(long time, int cpu, int vcpuId, boolean write, int reg, int value) {
        matcher.apicWrite(vcpuId, write ? reg : -1, value);
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), write ? "apic_write " : "apic_read ");
        appendApicRegister(b, reg);
        b.append("\",\"cat\":\"apic\",\"args\":{\"value\":\"0x");
        FtraceTextSink.appendHex(b, value & 0xFFFF_FFFFL, 1);
        b.append("\"}");
        finish();
    }

    @Override
    public void kvmEoi(long time, int cpu, int apicId, int vector) {
        eoi(time, cpu, "kvm_eoi 0x", apicId, vector);
    }

    @Override
    public void kvmPvEoi(long time, int cpu, int apicId, int vector) {
        eoi(time, cpu, "kvm_pv_eoi 0x", apicId, vector);
    }

    /** An EOI instant on the vCPU's track, or on the host CPU's when no vCPU has that APIC ID. */
    private void eoi(long time, int cpu, String name, int apicId, int vector) {
        int v = matcher.vcpuOfApicId(apicId);
        StringBuilder b = v >= 0 ? instant(time, PID_VM, vcpuTid(v), name)
                : instant(time, PID_HOST, cpuTid(checkCpu(cpu)), name);
        FtraceTextSink.appendHex(b, vector & 0xFF, 2);
        b.append("\",\"cat\":\"apic\",\"args\":{\"apic_id\":").append(apicId).append('}');
        finish();
    }

    @Override
    public void kvmMsr(long time, int cpu, int vcpuId, boolean write, int msr, long data, boolean exception) {
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), write ? "msr_write 0x" : "msr_read 0x");
        FtraceTextSink.appendHex(b, msr & 0xFFFF_FFFFL, 1);
        b.append("\",\"cat\":\"msr\",\"args\":{\"data\":\"0x");
        FtraceTextSink.appendHex(b, data, 1);
        b.append("\",\"gp\":").append(exception).append('}');
        finish();
    }

    @Override
    public void kvmCr(long time, int cpu, int vcpuId, boolean write, int cr, long value) {
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), write ? "cr_write " : "cr_read ").append(cr);
        b.append("\",\"cat\":\"cr\",\"args\":{\"value\":\"0x");
        FtraceTextSink.appendHex(b, value, 1);
        b.append("\"}");
        finish();
    }

    @Override
    public void kvmCpuid(long time, int cpu, int vcpuId, int function, int index, long rax, long rbx, long rcx,
                         long rdx, boolean found) {
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), "cpuid 0x");
        FtraceTextSink.appendHex(b, function & 0xFFFF_FFFFL, 1);
        b.append("\",\"cat\":\"cpuid\",\"args\":{\"index\":").append(index).append(",\"found\":").append(found)
                .append('}');
        finish();
    }

    @Override
    public void kvmVcpuWakeup(long time, int cpu, int vcpuId, long haltedNs, boolean waited, boolean valid) {
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), waited ? "kvm_vcpu_wakeup" : "kvm_vcpu_wakeup (poll)");
        b.append("\",\"cat\":\"sched\",\"args\":{\"halted_ns\":").append(haltedNs).append('}');
        finish();
    }

    @Override
    public void kvmAvicIncompleteIpi(long time, int cpu, int vcpuId, int icrHigh, int icrLow, int id, int index) {
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), "avic_incomplete_ipi");
        b.append("\",\"cat\":\"avic\",\"args\":{\"icr\":\"0x");
        FtraceTextSink.appendHex(b, icrHigh & 0xFFFF_FFFFL, 8);
        b.append(':');
        FtraceTextSink.appendHex(b, icrLow & 0xFFFF_FFFFL, 8);
        b.append("\",\"cause\":").append(id).append(",\"index\":").append(index).append('}');
        finish();
    }

    @Override
    public void kvmAvicUnacceleratedAccess(long time, int cpu, int vcpuId, int offset, boolean trap, boolean write,
                                           int vector) {
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), "avic_unaccelerated ");
        appendApicRegister(b, offset);
        b.append("\",\"cat\":\"avic\",\"args\":{\"trap\":").append(trap).append(",\"write\":").append(write).append('}');
        finish();
    }

    @Override
    public void kvmAvicDoorbell(long time, int cpu, int vcpuId, int apicId) {
        StringBuilder b = instant(time, PID_HOST, cpuTid(checkCpu(cpu)), "doorbell -> vCPU ").append(vcpuId);
        b.append("\",\"cat\":\"avic\",\"args\":{\"host_apic_id\":").append(apicId).append('}');
        finish();
    }

    @Override
    public void kvmAvicIsRunning(long time, int cpu, int vcpuId, boolean running, int hostApicId) {
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), running ? "IsRunning=1" : "IsRunning=0");
        b.append("\",\"cat\":\"avic\",\"args\":{\"host_apic_id\":").append(hostApicId).append('}');
        finish();
    }

    @Override
    public void kvmAvicTableUpdate(long time, int cpu, int vcpuId, boolean logical, int index, long entry) {
        matcher.avicTableUpdate(vcpuId, logical, index, entry);
        StringBuilder b = instant(time, PID_VM, vcpuTid(vcpuId), logical ? "avic_table logical[" : "avic_table physical[")
                .append(index).append(']');
        b.append("\",\"cat\":\"avic\",\"args\":{\"entry\":\"0x");
        FtraceTextSink.appendHex(b, entry, 16);
        b.append("\"}");
        finish();
    }

    @Override
    public void kvmApicvInhibitChanged(long time, int cpu, boolean set, int reason, long inhibits) {
        StringBuilder b = instant(time, PID_HOST, cpuTid(checkCpu(cpu)), set ? "apicv inhibit set" : "apicv inhibit cleared");
        b.append("\",\"cat\":\"avic\",\"args\":{\"reason\":").append(reason).append(",\"inhibits\":\"0x");
        FtraceTextSink.appendHex(b, inhibits, 1);
        b.append("\"}");
        finish();
    }

    @Override
    public void avicDoorbellReceived(long time, int cpu, int vcpuId) {
        instant(time, PID_VM, vcpuTid(vcpuId), "doorbell received").append("\",\"cat\":\"avic\"");
        finish();
    }

    // ---- output ---------------------------------------------------------------------------------------------

    /**
     * Ends every open slice at the last event's time, finishes every flow still waiting for its handler on a
     * {@code still pending} slice, closes the JSON and the writer. Further calls do nothing.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        long t = lastTime;
        for (int v = 0; v < vcpuCount; v++) {
            endSched(t, v);
            endTop(t, v);
        }
        for (int c = 0; c < cpuCount; c++) {
            if (cpuThreadSlice[c]) {
                start('E', t, PID_HOST, cpuTid(c)).append('"');
                finish();
                cpuThreadSlice[c] = false;
            }
        }
        for (int slot = matcher.nextPending(0); slot != InterruptMatcher.NONE; slot = matcher.nextPending(slot + 1)) {
            int v = InterruptMatcher.targetVcpu(slot);
            StringBuilder b = start('B', t, PID_VM, vcpuTid(v)).append("still pending 0x");
            FtraceTextSink.appendHex(b, InterruptMatcher.vector(slot), 2);
            b.append("\",\"cat\":\"irq\"");
            finish();
            flow('f', t, PID_VM, vcpuTid(v), matcher.flowId(slot));
            start('E', t, PID_VM, vcpuTid(v)).append('"');
            finish();
            matcher.close(slot);
        }
        closed = true;
        writeRaw("\n],\"displayTimeUnit\":\"ns\"}\n");
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts an event: {@code {"ph":"B","ts":1.234,"pid":2,"tid":2001,"name":"} — the caller appends the name. */
    private StringBuilder start(char phase, long time, int pid, int tid) {
        if (closed) {
            throw new IllegalStateException("trace already closed");
        }
        if (time < lastTime) {
            throw new IllegalArgumentException("event time went backwards: " + time + " < " + lastTime);
        }
        lastTime = time;
        StringBuilder b = line;
        b.setLength(0);
        if (!first) {
            b.append(",\n");
        }
        first = false;
        b.append("{\"ph\":\"").append(phase).append("\",\"ts\":");
        appendMicros(b, time);
        b.append(",\"pid\":").append(pid).append(",\"tid\":").append(tid).append(",\"name\":\"");
        return b;
    }

    /** Starts a thread-scoped instant; {@link #finish()} adds its {@code "s":"t"}. */
    private StringBuilder instant(long time, int pid, int tid, String namePrefix) {
        StringBuilder b = start('i', time, pid, tid);
        instantOpen = true;
        return b.append(namePrefix);
    }

    /** Ends the event and writes it without creating a String. */
    private void finish() {
        StringBuilder b = line;
        if (instantOpen) {
            b.append(",\"s\":\"t\"");
            instantOpen = false;
        }
        b.append('}');
        writer.write(b);
    }

    private void writeRaw(String text) {
        writer.write(text);
    }

    /** Cycles as microseconds with three decimals (whole nanoseconds, rounded down). */
    private void appendMicros(StringBuilder b, long cycles) {
        long ns = (cycles / tscHz) * NS_PER_SECOND + (cycles % tscHz) * NS_PER_SECOND / tscHz;
        b.append(ns / 1000).append('.');
        long frac = ns % 1000;
        if (frac < 100) {
            b.append('0');
        }
        if (frac < 10) {
            b.append('0');
        }
        b.append(frac);
    }

    private static void appendApicRegister(StringBuilder b, int offset) {
        String name = FtraceTextSink.apicRegisterName(offset);
        if (name != null) {
            b.append(name);
        } else {
            b.append("0x");
            FtraceTextSink.appendHex(b, offset & 0xFFFF_FFFFL, 1);
        }
    }

    /** A JSON string literal, quotes included. */
    static void appendJsonString(StringBuilder b, String s) {
        b.append('"');
        appendJsonChars(b, s);
        b.append('"');
    }

    /** The characters of a JSON string literal, escaped (RFC 8259 section 7). */
    static void appendJsonChars(StringBuilder b, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                case '\r' -> b.append("\\r");
                default -> {
                    if (c < 0x20) {
                        b.append("\\u00");
                        FtraceTextSink.appendHex(b, c, 2);
                    } else {
                        b.append(c);
                    }
                }
            }
        }
    }

    private int checkCpu(int cpu) {
        if (cpu < 0 || cpu >= cpuCount) {
            throw new IllegalArgumentException("cpu " + cpu + " outside [0, " + cpuCount + ")");
        }
        return cpu;
    }

    private int checkVcpu(int vcpu) {
        if (vcpu < 0 || vcpu >= vcpuCount) {
            throw new IllegalArgumentException("vcpu " + vcpu + " outside [0, " + vcpuCount + ")");
        }
        return vcpu;
    }

    private int vcpuTid(int vcpu) {
        return TID_VCPU_BASE + checkVcpu(vcpu);
    }

    private static int cpuTid(int cpu) {
        return TID_HOST_CPU_BASE + cpu;
    }
}
