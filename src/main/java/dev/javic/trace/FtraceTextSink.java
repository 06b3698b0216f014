package dev.javic.trace;

import dev.javic.hw.ApicRegs;
import dev.javic.hw.SvmExit;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.util.Arrays;

/**
 * Writes the events as the text of Linux's {@code /sys/kernel/tracing/trace} with the {@code nop} tracer,
 * so that the file opens in Perfetto (its systrace/ftrace-text importer), in trace-cmd-minded scripts and
 * in a kernel developer's eyes exactly as a trace of a real host would.
 *
 * <h2>Layout</h2>
 * The header is the one {@code kernel/trace/trace.c} prints ({@code print_func_help_header_irq}, the
 * 4-flag form of Linux 5.11/5.12, whose columns match the 4 flag characters Perfetto accepts). The
 * {@code # entries-in-buffer/entries-written} line is left out: the sink streams and does not know the
 * count when it writes the header; Perfetto skips every {@code #} line and only needs {@code # tracer}
 * to recognise the format ({@code GuessTraceType}). Each event is one line, as
 * {@code trace_print_context} in {@code kernel/trace/trace_output.c} writes it:
 * <pre>
 * "%16s-%-7d [%03d] %s %5lu.%06lu: %s: %s\n"   comm, pid, cpu, flags, seconds, microseconds, event, fields
 *
 *  qemu-system-x86-4242    [002] d...     1.000000: kvm_exit: vcpu 1 reason hlt rip 0x...
 *           &lt;idle&gt;-0       [000] ....     0.000250: sched_wakeup: comm=qemu-system-x86 pid=4242 ...
 * </pre>
 * The task of a line is the thread running on that CPU, followed from {@code sched_switch} (the switch
 * line itself belongs to the previous task, as in Linux); before the first switch, and whenever the next
 * pid is 0, it is {@code <idle>-0} (Linux's {@code trace_find_cmdline} names pid 0 so). The timestamp is
 * {@code time / tscHz} seconds, truncated to whole microseconds like {@code ns2usecs}, in integer math.
 *
 * <p>Flags are {@code irqs-off, need-resched, hardirq/softirq, preempt-depth}. javic models only the
 * first and third: {@code d...} for events with host interrupts disabled (around VMRUN: {@code kvm_entry},
 * {@code kvm_exit} and what the CPU does in guest mode; inside {@code __schedule}: {@code sched_switch};
 * under {@code p->pi_lock}: {@code sched_wakeup}, {@code ipi_raise}), {@code d.h.} for the IPI handler
 * ({@code ipi_entry}), {@code ....} for everything else.
 *
 * <h2>Fields</h2>
 * Linux tracepoints print as their {@code TP_printk} does, rendered with the kernel's {@code vsprintf}
 * (so {@code %#x} of 0 is {@code 0x0}, not glibc's {@code 0}); the formats are those of Linux 6.x:
 * {@code arch/x86/kvm/trace.h}, {@code include/trace/events/kvm.h}, {@code sched.h}, {@code ipi.h}.
 * Fields a tracepoint has in Linux but javic does not model are printed as their common value:
 * {@code kvm_entry} without {@code [immediate exit]}, {@code kvm_cpuid} without {@code , used max basic},
 * {@code prio} 120. {@code ipi_raise} prints its cpumask as {@code %*pb} of {@code cpuCount} bits (hex in
 * comma-separated 32-bit groups, e.g. {@code 00000000,00000004} for CPU 2 of 64).
 *
 * <h2>javic's own events</h2>
 * These have no Linux equivalent; their names say so by not being Linux tracepoint names:
 * <ul>
 * <li>{@code kvm_avic_is_running: vcpu=%u, running=%u, host_apicid=%u} — IsRunning of the vCPU's physical
 * APIC ID table entry changed ({@code avic_vcpu_load}/{@code avic_vcpu_put}/{@code avic_set_running}).</li>
 * <li>{@code kvm_avic_table: vcpu=%u, %s[%u] = 0x%016llx} — a {@code physical} or {@code logical} APIC ID
 * table entry was written; the index in brackets, the new entry after the {@code =}.</li>
 * <li>{@code avic_ipi: vcpu=%u, dest=%u, vec=%#x, running=%u} — the AVIC hardware of the sending core
 * delivered an ICR write to guest APIC {@code dest} without an exit; {@code running} is the target's
 * IsRunning (1: a doorbell was rung, 0: only the IRR bit was set).</li>
 * <li>{@code avic_doorbell_rcv: vcpu=%u} — a core in guest mode received a doorbell and evaluated its
 * vAPIC IRR.</li>
 * <li>{@code guest_irq: vcpu=%u, vec=%#x} — the CPU vectored the guest through IDT entry {@code vec}.</li>
 * </ul>
 *
 * <h2>Cost</h2>
 * One reused {@link StringBuilder} and char buffer; decimal and hex are appended by hand, so a line
 * allocates nothing (except an unknown exit-reason or register name). Not thread-safe: the simulator
 * calls it from one thread. IO errors surface as {@link UncheckedIOException}.
 */
public final class FtraceTextSink implements TraceSink {
    /** Linux's prio of a SCHED_NORMAL task at nice 0 (and of the idle task). */
    static final int DEFAULT_PRIO = 120;
    static final String IDLE_COMM = "<idle>";

    private static final String FLAGS_NONE = "....";
    private static final String FLAGS_IRQS_OFF = "d...";
    private static final String FLAGS_HARDIRQ = "d.h.";

    /** {@code kvm_deliver_mode} in include/trace/events/kvm.h, indexed by ICR bits 10:8. */
    private static final String[] DELIVERY_MODES = {"Fixed", "LowPrio", "SMI", "Res3", "NMI", "INIT", "SIPI", "ExtINT"};
    /** {@code kvm_apic_dst_shorthand} in arch/x86/kvm/trace.h, indexed by ICR bits 19:18. */
    private static final String[] SHORTHANDS = {"dst", "self", "all", "all-but-self"};

    private static final char[] HEX_DIGITS = "0123456789abcdef".toCharArray();
    private static final long MICROS_PER_SECOND = 1_000_000L;

    private final Writer out;
    private final long tscHz;
    private final int cpuCount;
    private final String[] taskComm;
    private final int[] taskPid;
    private final StringBuilder line = new StringBuilder(256);
    private final TraceWriter writer;
    private boolean closed;

    /**
     * @param out      where the text goes; wrapped in a {@link BufferedWriter} unless it is one
     * @param tscHz    host TSC frequency, to turn event times (cycles) into seconds
     * @param cpuCount host CPUs; events must name a CPU in {@code [0, cpuCount)}
     */
    public FtraceTextSink(Writer out, long tscHz, int cpuCount) {
        if (tscHz <= 0 || tscHz > Long.MAX_VALUE / MICROS_PER_SECOND) {
            throw new IllegalArgumentException("tscHz out of range: " + tscHz);
        }
        if (cpuCount <= 0) {
            throw new IllegalArgumentException("cpuCount must be positive: " + cpuCount);
        }
        this.out = out instanceof BufferedWriter ? out : new BufferedWriter(out, 1 << 16);
        this.writer = new TraceWriter(this.out);
        this.tscHz = tscHz;
        this.cpuCount = cpuCount;
        this.taskComm = new String[cpuCount];
        this.taskPid = new int[cpuCount];
        Arrays.fill(taskComm, IDLE_COMM);
        writeRaw(header());
    }

    /** The header Linux prints above the events (without the entries line, see the class comment). */
    static String header() {
        return """
                # tracer: nop
                #
                #                                _-----=> irqs-off
                #                               / _----=> need-resched
                #                              | / _---=> hardirq/softirq
                #                              || / _--=> preempt-depth
                #                              ||| /     delay
                #           TASK-PID     CPU#  ||||   TIMESTAMP  FUNCTION
                #              | |         |   ||||      |         |
                """;
    }

    // ---- KVM (arch/x86/kvm/trace.h) --------------------------------------------------------------

    @Override
    public void kvmEntry(long time, int cpu, int vcpuId, long rip) {
        StringBuilder b = begin(time, cpu, FLAGS_IRQS_OFF, "kvm_entry");
        b.append("vcpu ");
        appendUnsigned(b, vcpuId);
        b.append(", rip 0x");
        appendHex(b, rip, 1);
        end();
    }

    @Override
    public void kvmExit(long time, int cpu, int vcpuId, int exitCode, long rip, long info1, long info2,
                        int intInfo, int errorCode) {
        StringBuilder b = begin(time, cpu, FLAGS_IRQS_OFF, "kvm_exit");
        b.append("vcpu ");
        appendUnsigned(b, vcpuId);
        b.append(" reason ").append(SvmExit.name(exitCode)).append(" rip 0x");
        appendHex(b, rip, 1);
        b.append(" info1 0x");
        appendHex(b, info1, 16);
        b.append(" info2 0x");
        appendHex(b, info2, 16);
        b.append(" intr_info 0x");
        appendHex32(b, intInfo, 8);
        b.append(" error_code 0x");
        appendHex32(b, errorCode, 8);
        end();
    }

    @Override
    public void kvmInjVirq(long time, int cpu, int vcpuId, int vector, boolean soft, boolean reinjected) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_inj_virq");
        b.append(soft ? "Soft/INTn" : "IRQ").append(" 0x");
        appendHex32(b, vector, 1);
        if (reinjected) {
            b.append(" [reinjected]");
        }
        end();
    }

    @Override
    public void kvmApic(long time, int cpu, int vcpuId, boolean write, int reg, int value) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_apic");
        b.append(write ? "apic_write " : "apic_read ");
        appendApicRegister(b, reg);
        b.append(" = 0x");
        appendHex32(b, value, 1);
        end();
    }

    @Override
    public void kvmApicIpi(long time, int cpu, int vcpuId, int icrLow, int destId) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_apic_ipi");
        b.append("dst ");
        appendHex32(b, destId, 1);
        b.append(" vec ").append(icrLow & 0xFF)
                .append(" (").append(DELIVERY_MODES[(icrLow >>> 8) & 0x7])
                .append((icrLow & (1 << 11)) != 0 ? "|logical" : "|physical")
                .append((icrLow & (1 << 14)) != 0 ? "|assert" : "|de-assert")
                .append((icrLow & (1 << 15)) != 0 ? "|level" : "|edge")
                .append('|').append(SHORTHANDS[(icrLow >>> 18) & 0x3]).append(')');
        end();
    }

    /** {@inheritDoc} {@code deliveryMode} is the unshifted ICR/LVT field (bits 10:8), 0 to 7. */
    @Override
    public void kvmApicAcceptIrq(long time, int cpu, int apicId, int deliveryMode, boolean levelTriggered,
                                 int vector) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_apic_accept_irq");
        b.append("apicid ");
        appendHex32(b, apicId, 1);
        b.append(" vec ").append(vector & 0xFF)
                .append(" (").append(DELIVERY_MODES[deliveryMode & 0x7])
                .append(levelTriggered ? "|level)" : "|edge)");
        end();
    }

    @Override
    public void kvmEoi(long time, int cpu, int apicId, int vector) {
        eoi(time, cpu, "kvm_eoi", apicId, vector);
    }

    /** trace.h kvm_pv_eoi: the same format as kvm_eoi. */
    @Override
    public void kvmPvEoi(long time, int cpu, int apicId, int vector) {
        eoi(time, cpu, "kvm_pv_eoi", apicId, vector);
    }

    private void eoi(long time, int cpu, String event, int apicId, int vector) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, event);
        b.append("apicid ");
        appendHex32(b, apicId, 1);
        b.append(" vector ").append(vector);
        end();
    }

    @Override
    public void kvmMsr(long time, int cpu, int vcpuId, boolean write, int msr, long data, boolean exception) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_msr");
        b.append(write ? "msr_write " : "msr_read ");
        appendHex32(b, msr, 1);
        b.append(" = 0x");
        appendHex(b, data, 1);
        if (exception) {
            b.append(" (#GP)");
        }
        end();
    }

    @Override
    public void kvmCr(long time, int cpu, int vcpuId, boolean write, int cr, long value) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_cr");
        b.append(write ? "cr_write " : "cr_read ");
        appendHex32(b, cr, 1);
        b.append(" = 0x");
        appendHex(b, value, 1);
        end();
    }

    @Override
    public void kvmCpuid(long time, int cpu, int vcpuId, int function, int index, long rax, long rbx, long rcx,
                         long rdx, boolean found) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_cpuid");
        b.append("func ");
        appendHex32(b, function, 1);
        b.append(" idx ");
        appendHex32(b, index, 1);
        b.append(" rax ");
        appendHex(b, rax, 1);
        b.append(" rbx ");
        appendHex(b, rbx, 1);
        b.append(" rcx ");
        appendHex(b, rcx, 1);
        b.append(" rdx ");
        appendHex(b, rdx, 1);
        b.append(found ? ", cpuid entry found" : ", cpuid entry not found");
        end();
    }

    /** {@inheritDoc} Linux's {@code kvm_vcpu_wakeup} has no vCPU field; the line's task names the vCPU. */
    /** {@code kvm_trace_exit_reason}: "KVM_EXIT_" and the name, for the exit reasons a VMM sees on x86. */
    private static String userspaceExitName(int reason) {
        return switch (reason) {
            case 0 -> "KVM_EXIT_UNKNOWN";
            case 1 -> "KVM_EXIT_EXCEPTION";
            case 2 -> "KVM_EXIT_IO";
            case 3 -> "KVM_EXIT_HYPERCALL";
            case 4 -> "KVM_EXIT_DEBUG";
            case 5 -> "KVM_EXIT_HLT";
            case 6 -> "KVM_EXIT_MMIO";
            case 7 -> "KVM_EXIT_IRQ_WINDOW_OPEN";
            case 8 -> "KVM_EXIT_SHUTDOWN";
            case 9 -> "KVM_EXIT_FAIL_ENTRY";
            case 10 -> "KVM_EXIT_INTR";
            case 17 -> "KVM_EXIT_INTERNAL_ERROR";
            case 24 -> "KVM_EXIT_SYSTEM_EVENT";
            case 29 -> "KVM_EXIT_X86_RDMSR";
            case 30 -> "KVM_EXIT_X86_WRMSR";
            default -> null;
        };
    }

    /**
     * kvm_userspace_exit (include/trace/events/kvm.h): KVM_RUN returned to the VMM with {@code reason}
     * ({@code kvm_run->exit_reason}), or failed with {@code errno} (negative; -EINTR prints as a restart).
     * Only a VMM sees it (javic boot), so it is not a {@link TraceSink} tracepoint of the simulator.
     */
    public void kvmUserspaceExit(long time, int cpu, int reason, int errno) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_userspace_exit");
        b.append("reason ");
        if (errno < 0) {
            b.append(errno == -4 ? "restart" : "error").append(" (").append(-errno).append(')');
        } else {
            String name = userspaceExitName(reason);
            if (name != null) {
                b.append(name);
            } else {
                b.append("0x"); // __print_symbolic of a value it has no name for
                appendHex32(b, reason, 1);
            }
            b.append(" (").append(reason).append(')');
        }
        end();
    }

    /**
     * The task running on {@code cpu} from now on, for a source that follows real threads instead of sending
     * {@code sched_switch} (javic boot: the vCPU thread that logs the next events).
     */
    public void taskOnCpu(int cpu, String comm, int pid) {
        checkCpu(cpu);
        taskComm[cpu] = comm;
        taskPid[cpu] = pid;
    }

    @Override
    public void kvmVcpuWakeup(long time, int cpu, int vcpuId, long haltedNs, boolean waited, boolean valid) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_vcpu_wakeup");
        b.append(waited ? "wait" : "poll").append(" time ").append(haltedNs)
                .append(valid ? " ns, polling valid" : " ns, polling invalid");
        end();
    }

    @Override
    public void kvmAvicIncompleteIpi(long time, int cpu, int vcpuId, int icrHigh, int icrLow, int id, int index) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_avic_incomplete_ipi");
        b.append("vcpu=");
        appendUnsigned(b, vcpuId);
        b.append(", icrh:icrl=0x");
        appendHex32(b, icrHigh, 8);
        b.append(':');
        appendHex32(b, icrLow, 8);
        b.append(", id=");
        appendUnsigned(b, id);
        b.append(", index=");
        appendUnsigned(b, index);
        end();
    }

    @Override
    public void kvmAvicUnacceleratedAccess(long time, int cpu, int vcpuId, int offset, boolean trap,
                                           boolean write, int vector) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_avic_unaccelerated_access");
        b.append("vcpu=");
        appendUnsigned(b, vcpuId);
        b.append(", offset=0x");
        appendHex32(b, offset, 1);
        b.append('(');
        appendApicRegister(b, offset);
        b.append(trap ? "), trap" : "), fault").append(write ? ", write, vec=0x" : ", read, vec=0x");
        appendHex32(b, vector, 1);
        end();
    }

    @Override
    public void kvmAvicDoorbell(long time, int cpu, int vcpuId, int apicId) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_avic_doorbell");
        b.append("vcpuid=");
        appendUnsigned(b, vcpuId);
        b.append(", apicid=");
        appendUnsigned(b, apicId);
        end();
    }

    @Override
    public void kvmAvicIsRunning(long time, int cpu, int vcpuId, boolean running, int hostApicId) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_avic_is_running");
        b.append("vcpu=");
        appendUnsigned(b, vcpuId);
        b.append(running ? ", running=1, host_apicid=" : ", running=0, host_apicid=");
        appendUnsigned(b, hostApicId);
        end();
    }

    @Override
    public void kvmAvicTableUpdate(long time, int cpu, int vcpuId, boolean logical, int index, long entry) {
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_avic_table");
        b.append("vcpu=");
        appendUnsigned(b, vcpuId);
        b.append(logical ? ", logical[" : ", physical[");
        appendUnsigned(b, index);
        b.append("] = 0x");
        appendHex(b, entry, 16);
        end();
    }

    /** enum kvm_apicv_inhibit names in bit order (arch/x86/include/asm/kvm_host.h, Linux 6.x). */
    private static final String[] APICV_INHIBIT_NAMES = {"DISABLED", "HYPERV", "ABSENT", "BLOCKIRQ",
        "PHYSICAL_ID_ALIASED", "APIC_ID_MODIFIED", "APIC_BASE_MODIFIED", "NESTED", "IRQWIN", "PIT_REINJ", "SEV",
        "LOGICAL_ID_ALIASED", "PHYSICAL_ID_TOO_BIG"};

    @Override
    public void kvmApicvInhibitChanged(long time, int cpu, boolean set, int reason, long inhibits) {
        // trace.h: "%s reason=%u, inhibits=0x%lx %s" with __print_flags(inhibits, "|", APICV_INHIBIT_REASONS)
        StringBuilder b = begin(time, cpu, FLAGS_NONE, "kvm_apicv_inhibit_changed");
        b.append(set ? "set reason=" : "cleared reason=");
        appendUnsigned(b, reason);
        b.append(", inhibits=0x");
        appendHex(b, inhibits, 1);
        b.append(' ');
        boolean first = true;
        for (int bit = 0; bit < APICV_INHIBIT_NAMES.length; bit++) {
            if ((inhibits & (1L << bit)) != 0) {
                if (!first) {
                    b.append('|');
                }
                b.append(APICV_INHIBIT_NAMES[bit]);
                first = false;
            }
        }
        end();
    }

    // ---- hardware (javic's own) -------------------------------------------------------------------

    @Override
    public void avicIpiAccelerated(long time, int cpu, int vcpuId, int targetApicId, int vector, boolean running) {
        StringBuilder b = begin(time, cpu, FLAGS_IRQS_OFF, "avic_ipi");
        b.append("vcpu=");
        appendUnsigned(b, vcpuId);
        b.append(", dest=");
        appendUnsigned(b, targetApicId);
        b.append(", vec=0x");
        appendHex32(b, vector, 1);
        b.append(running ? ", running=1" : ", running=0");
        end();
    }

    @Override
    public void avicDoorbellReceived(long time, int cpu, int vcpuId) {
        StringBuilder b = begin(time, cpu, FLAGS_IRQS_OFF, "avic_doorbell_rcv");
        b.append("vcpu=");
        appendUnsigned(b, vcpuId);
        end();
    }

    @Override
    public void guestInterrupt(long time, int cpu, int vcpuId, int vector) {
        StringBuilder b = begin(time, cpu, FLAGS_IRQS_OFF, "guest_irq");
        b.append("vcpu=");
        appendUnsigned(b, vcpuId);
        b.append(", vec=0x");
        appendHex32(b, vector, 1);
        end();
    }

    // ---- host kernel (sched, ipi) -------------------------------------------------------------------

    /** {@inheritDoc} {@code prevState} is printed as given ({@code R}, {@code S}, {@code D}, {@code R+}...). */
    @Override
    public void schedSwitch(long time, int cpu, String prevComm, int prevPid, String prevState,
                            String nextComm, int nextPid) {
        StringBuilder b = begin(time, cpu, FLAGS_IRQS_OFF, "sched_switch");
        b.append("prev_comm=").append(prevComm).append(" prev_pid=").append(prevPid)
                .append(" prev_prio=").append(DEFAULT_PRIO).append(" prev_state=").append(prevState)
                .append(" ==> next_comm=").append(nextComm).append(" next_pid=").append(nextPid)
                .append(" next_prio=").append(DEFAULT_PRIO);
        end();
        taskComm[cpu] = nextPid == 0 ? IDLE_COMM : nextComm;
        taskPid[cpu] = nextPid;
    }

    @Override
    public void schedWakeup(long time, int cpu, String comm, int pid, int targetCpu) {
        StringBuilder b = begin(time, cpu, FLAGS_IRQS_OFF, "sched_wakeup");
        b.append("comm=").append(comm).append(" pid=").append(pid).append(" prio=").append(DEFAULT_PRIO)
                .append(" target_cpu=");
        appendDecimalPadded(b, targetCpu, 3, '0');
        end();
    }

    @Override
    public void ipiRaise(long time, int cpu, int targetCpu, String reason) {
        checkCpu(targetCpu);
        StringBuilder b = begin(time, cpu, FLAGS_IRQS_OFF, "ipi_raise");
        b.append("target_mask=");
        appendCpuMask(b, targetCpu);
        b.append(" (").append(reason).append(')');
        end();
    }

    @Override
    public void ipiEntry(long time, int cpu, String reason) {
        StringBuilder b = begin(time, cpu, FLAGS_HARDIRQ, "ipi_entry");
        b.append('(').append(reason).append(')');
        end();
    }

    // ---- output ---------------------------------------------------------------------------------------

    /** Pushes buffered text to the underlying writer. */
    public void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Flushes and closes the writer; further calls do nothing. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts a line: the context columns of {@code trace_print_context} and {@code "event: "}. */
    private StringBuilder begin(long time, int cpu, String flags, String event) {
        checkCpu(cpu);
        if (time < 0) {
            throw new IllegalArgumentException("negative event time: " + time);
        }
        StringBuilder b = line;
        b.setLength(0);
        String comm = taskComm[cpu];
        for (int pad = 16 - comm.length(); pad > 0; pad--) {
            b.append(' ');
        }
        b.append(comm).append('-');
        int pidStart = b.length();
        b.append(taskPid[cpu]);
        for (int pad = 7 - (b.length() - pidStart); pad > 0; pad--) {
            b.append(' ');
        }
        b.append(" [");
        appendDecimalPadded(b, cpu, 3, '0');
        b.append("] ").append(flags).append(' ');
        long seconds = time / tscHz;
        long micros = (time % tscHz) * MICROS_PER_SECOND / tscHz;
        appendDecimalPadded(b, seconds, 5, ' ');
        b.append('.');
        appendDecimalPadded(b, micros, 6, '0');
        return b.append(": ").append(event).append(": ");
    }

    /** Ends the line and writes it without creating a String. */
    private void end() {
        writer.write(line.append('\n'));
    }

    private void writeRaw(String text) {
        writer.write(text);
    }

    private void checkCpu(int cpu) {
        if (cpu < 0 || cpu >= cpuCount) {
            throw new IllegalArgumentException("cpu " + cpu + " outside [0, " + cpuCount + ")");
        }
    }

    /**
     * {@code __get_bitmask} of a cpumask with only {@code targetCpu} set: {@code %*pb} of {@code cpuCount}
     * bits (lib/vsprintf.c {@code bitmap_string}): 32-bit groups, most significant first, separated by
     * commas; the first group as wide as its bits need, the others 8 hex digits, all zero-padded.
     */
    private void appendCpuMask(StringBuilder b, int targetCpu) {
        int firstChunkBits = cpuCount % 32 == 0 ? 32 : cpuCount % 32;
        int chunkBits = firstChunkBits;
        for (int low = ((cpuCount + 31) / 32 - 1) * 32; low >= 0; low -= 32) {
            long value = targetCpu >= low && targetCpu < low + chunkBits ? 1L << (targetCpu - low) : 0;
            appendHex(b, value, (chunkBits + 3) / 4);
            if (low > 0) {
                b.append(',');
            }
            chunkBits = 32;
        }
    }

    /** {@code __print_symbolic(reg, kvm_trace_symbol_apic)}: exact offsets only, else {@code 0x%lx}. */
    private static void appendApicRegister(StringBuilder b, int offset) {
        String name = apicRegisterName(offset);
        if (name != null) {
            b.append(name);
        } else {
            b.append("0x");
            appendHex32(b, offset, 1);
        }
    }

    /** kvm_trace_symbol_apic's name of a register offset, or null (printed as hex then). */
    static String apicRegisterName(int offset) {
        return ApicRegs.traceName(offset);
    }

    // ---- number formatting (no allocation) ------------------------------------------------------------

    /** {@code %u} of a 32-bit value. */
    private static void appendUnsigned(StringBuilder b, int value) {
        b.append(value & 0xFFFF_FFFFL);
    }

    /** {@code %0Nx} of a 32-bit value (unsigned), at least {@code minDigits} digits. */
    private static void appendHex32(StringBuilder b, int value, int minDigits) {
        appendHex(b, value & 0xFFFF_FFFFL, minDigits);
    }

    /** {@code %0Nllx}: {@code value} as unsigned lowercase hex, zero-padded to {@code minDigits}. */
    static void appendHex(StringBuilder b, long value, int minDigits) {
        int digits = Math.max(1, (64 - Long.numberOfLeadingZeros(value) + 3) >>> 2);
        for (int pad = minDigits - digits; pad > 0; pad--) {
            b.append('0');
        }
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
            b.append(HEX_DIGITS[(int) (value >>> shift) & 0xF]);
        }
    }

    /** {@code %Nd} / {@code %0Nd} of a non-negative value. */
    private static void appendDecimalPadded(StringBuilder b, long value, int width, char pad) {
        int digits = 1;
        for (long rest = value / 10; rest > 0; rest /= 10) {
            digits++;
        }
        for (int n = width - digits; n > 0; n--) {
            b.append(pad);
        }
        b.append(value);
    }
}
