package dev.javic.trace;

import dev.javic.hw.SvmExit;
import dev.javic.sim.SimEvent;
import dev.javic.sim.Simulator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FtraceTextSinkTest {
    private static final long TSC_HZ = 1_800_000_000L;
    private static final int CPUS = 4;

    /** The line regex of Perfetto's SystraceLineTokenizer (systrace_line_tokenizer.cc). */
    private static final Pattern PERFETTO_LINE = Pattern.compile(
            "-(\\d+)\\s+\\(?\\s*(\\d+|-+)?\\)?\\s?\\[(\\d+)\\]\\s*[a-zA-Z0-9.]{0,4}\\s+(\\d+\\.\\d+):\\s+(\\S+):");

    /** Linux's trace_print_context, column for column: "%16s-%-7d [%03d] %4s %5lu.%06lu: %s: ". */
    private static final Pattern LINUX_LINE = Pattern.compile(
            "^(.{16})-([\\d ]{7}) \\[(\\d{3})] ([d.]\\.[h.]\\.) ([ \\d]{4}\\d)\\.(\\d{6}): ([a-z_]+): (\\S.*)$");

    private final Simulator sim = new Simulator();
    private final Tracer tracer = new Tracer(sim);
    private final StringWriter text = new StringWriter();
    private final FtraceTextSink sink = new FtraceTextSink(text, TSC_HZ, CPUS);

    {
        tracer.attach(sink);
    }

    /** Runs {@code call} at simulated time {@code cycles}, as a simulation event would. */
    private void at(long cycles, Consumer<Tracer> call) {
        sim.schedule(SimEvent.of("trace", now -> call.accept(tracer)), cycles);
        sim.run();
    }

    private List<String> eventLines() {
        tracer.close();
        List<String> lines = new ArrayList<>();
        for (String line : text.toString().split("\n")) {
            if (!line.startsWith("#")) {
                lines.add(line);
            }
        }
        return lines;
    }

    private String onlyLine() {
        List<String> lines = eventLines();
        assertThat(lines).hasSize(1);
        return lines.get(0);
    }

    /** {@code "event: fields"} of the single line traced by {@code call} at time 0. */
    private String event(Consumer<Tracer> call) {
        at(0, call);
        String line = onlyLine();
        Matcher m = LINUX_LINE.matcher(line);
        assertThat(m.matches()).as(line).isTrue();
        return m.group(7) + ": " + m.group(8);
    }

    @Test
    void headerIsLinuxNopHeader() {
        tracer.close();
        assertThat(text.toString()).isEqualTo("""
                # tracer: nop
                #
                #                                _-----=> irqs-off
                #                               / _----=> need-resched
                #                              | / _---=> hardirq/softirq
                #                              || / _--=> preempt-depth
                #                              ||| /     delay
                #           TASK-PID     CPU#  ||||   TIMESTAMP  FUNCTION
                #              | |         |   ||||      |         |
                """);
    }

    @Test
    void kvmExitLineIsLinuxsWholeLine() {
        at(TSC_HZ, t -> t.kvmExit(1, 1, SvmExit.AVIC_INCOMPLETE_IPI, 0xffffffff81061234L, 0x01000000000400fdL,
                1L << 32, 0, 0));
        assertThat(onlyLine()).isEqualTo("          <idle>-0       [001] d...     1.000000: kvm_exit: vcpu 1 "
                + "reason avic_incomplete_ipi rip 0xffffffff81061234 info1 0x01000000000400fd "
                + "info2 0x0000000100000000 intr_info 0x00000000 error_code 0x00000000");
    }

    @Test
    void kvmEntry() {
        assertThat(event(t -> t.kvmEntry(1, 1, 0xffffffff81061234L)))
                .isEqualTo("kvm_entry: vcpu 1, rip 0xffffffff81061234");
    }

    @Test
    void kvmExitWithInterruptInfo() {
        assertThat(event(t -> t.kvmExit(0, 3, SvmExit.HLT, 0x1000, 0, 0, 0x800000fd, 0)))
                .isEqualTo("kvm_exit: vcpu 3 reason hlt rip 0x1000 info1 0x0000000000000000 "
                        + "info2 0x0000000000000000 intr_info 0x800000fd error_code 0x00000000");
    }

    @Test
    void kvmApicNamesRegistersLikeKvmTraceSymbolApic() {
        assertThat(event(t -> t.kvmApic(1, 0, true, 0x300, 0x000400fd)))
                .isEqualTo("kvm_apic: apic_write APIC_ICR = 0x400fd");
    }

    @Test
    void kvmApicReadOfUnnamedOffsetPrintsHex() {
        assertThat(event(t -> t.kvmApic(1, 0, false, 0x110, 0xFFFFFFFF)))
                .isEqualTo("kvm_apic: apic_read 0x110 = 0xffffffff");
    }

    @Test
    void kvmApicIpiFixedPhysical() {
        assertThat(event(t -> t.kvmApicIpi(1, 0, 0x000000fd, 1)))
                .isEqualTo("kvm_apic_ipi: dst 1 vec 253 (Fixed|physical|de-assert|edge|dst)");
    }

    @Test
    void kvmApicIpiInitAllButSelf() {
        assertThat(event(t -> t.kvmApicIpi(1, 0, 0x000c4500, 0)))
                .isEqualTo("kvm_apic_ipi: dst 0 vec 0 (INIT|physical|assert|edge|all-but-self)");
    }

    @Test
    void kvmApicIpiLogicalLevelSelf() {
        assertThat(event(t -> t.kvmApicIpi(1, 0, 0x0004c9ff, 0xff)))
                .isEqualTo("kvm_apic_ipi: dst ff vec 255 (LowPrio|logical|assert|level|self)");
    }

    @Test
    void kvmAvicIncompleteIpi() {
        assertThat(event(t -> t.kvmAvicIncompleteIpi(1, 1, 0x01000000, 0x000400fd, 1, 0)))
                .isEqualTo("kvm_avic_incomplete_ipi: vcpu=1, icrh:icrl=0x01000000:000400fd, id=1, index=0");
    }

    @Test
    void kvmAvicIncompleteIpiWithZeroIcrhKeepsKernelHexPrefix() {
        // The kernel's vsprintf prints "0x" for %#x even for 0 (glibc would not).
        assertThat(event(t -> t.kvmAvicIncompleteIpi(1, 2, 0, 0x000000fd, 0, 3)))
                .isEqualTo("kvm_avic_incomplete_ipi: vcpu=2, icrh:icrl=0x00000000:000000fd, id=0, index=3");
    }

    @Test
    void kvmAvicUnacceleratedAccessTrapWrite() {
        assertThat(event(t -> t.kvmAvicUnacceleratedAccess(1, 0, 0x300, true, true, 0)))
                .isEqualTo("kvm_avic_unaccelerated_access: vcpu=0, offset=0x300(APIC_ICR), trap, write, vec=0x0");
    }

    @Test
    void kvmAvicUnacceleratedAccessFaultRead() {
        assertThat(event(t -> t.kvmAvicUnacceleratedAccess(1, 1, 0x390, false, false, 0xfd)))
                .isEqualTo("kvm_avic_unaccelerated_access: vcpu=1, offset=0x390(APIC_TMCCT), fault, read, vec=0xfd");
    }

    @Test
    void kvmInjVirq() {
        assertThat(event(t -> t.kvmInjVirq(1, 0, 0xef, false, false))).isEqualTo("kvm_inj_virq: IRQ 0xef");
    }

    @Test
    void kvmInjVirqSoftReinjected() {
        assertThat(event(t -> t.kvmInjVirq(1, 0, 0x80, true, true)))
                .isEqualTo("kvm_inj_virq: Soft/INTn 0x80 [reinjected]");
    }

    @Test
    void kvmApicAcceptIrq() {
        assertThat(event(t -> t.kvmApicAcceptIrq(1, 0x12, 0, false, 0xfd)))
                .isEqualTo("kvm_apic_accept_irq: apicid 12 vec 253 (Fixed|edge)");
    }

    @Test
    void kvmEoi() {
        assertThat(event(t -> t.kvmEoi(1, 0x1a, 253))).isEqualTo("kvm_eoi: apicid 1a vector 253");
    }

    @Test
    void kvmPvEoi() {
        assertThat(event(t -> t.kvmPvEoi(1, 0x1a, 253))).isEqualTo("kvm_pv_eoi: apicid 1a vector 253");
    }

    @Test
    void kvmMsrWriteWithGp() {
        assertThat(event(t -> t.kvmMsr(1, 0, true, 0xC001011B, 3, true)))
                .isEqualTo("kvm_msr: msr_write c001011b = 0x3 (#GP)");
    }

    @Test
    void kvmMsrRead() {
        assertThat(event(t -> t.kvmMsr(1, 0, false, 0x1b, 0xfee00900L, false)))
                .isEqualTo("kvm_msr: msr_read 1b = 0xfee00900");
    }

    @Test
    void kvmCr() {
        assertThat(event(t -> t.kvmCr(1, 0, true, 8, 0xf))).isEqualTo("kvm_cr: cr_write 8 = 0xf");
    }

    @Test
    void kvmCpuid() {
        assertThat(event(t -> t.kvmCpuid(1, 0, 0x8000000a, 0, 1, 0x10, 0, 0x2000, true)))
                .isEqualTo("kvm_cpuid: func 8000000a idx 0 rax 1 rbx 10 rcx 0 rdx 2000, cpuid entry found");
    }

    @Test
    void kvmVcpuWakeup() {
        assertThat(event(t -> t.kvmVcpuWakeup(1, 0, 12345, true, false)))
                .isEqualTo("kvm_vcpu_wakeup: wait time 12345 ns, polling invalid");
    }

    @Test
    void kvmUserspaceExitAndTheTaskOfARealThread() {
        sink.taskOnCpu(2, "javic-vcpu1", 4321);
        sink.kvmUserspaceExit(TSC_HZ, 2, 6, 0);
        sink.kvmUserspaceExit(TSC_HZ, 2, 0, -4);
        sink.kvmUserspaceExit(TSC_HZ, 2, 99, 0);
        List<String> lines = eventLines();
        assertThat(lines).containsExactly(
                "     javic-vcpu1-4321    [002] ....     1.000000: kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
                "     javic-vcpu1-4321    [002] ....     1.000000: kvm_userspace_exit: reason restart (4)",
                "     javic-vcpu1-4321    [002] ....     1.000000: kvm_userspace_exit: reason 0x63 (99)");
        assertThat(lines).allMatch(l -> LINUX_LINE.matcher(l).matches() && PERFETTO_LINE.matcher(l).find());
    }

    @Test
    void kvmAvicDoorbell() {
        assertThat(event(t -> t.kvmAvicDoorbell(1, 2, 3))).isEqualTo("kvm_avic_doorbell: vcpuid=2, apicid=3");
    }

    @Test
    void javicOwnEvents() {
        at(0, t -> t.kvmAvicIsRunning(1, 2, true, 3));
        at(1, t -> t.kvmAvicTableUpdate(1, 2, false, 2, 0xC000000012345003L));
        at(2, t -> t.kvmAvicTableUpdate(1, 2, true, 1, 0x80000002L));
        at(3, t -> t.avicIpiAccelerated(1, 0, 2, 0xfd, false));
        at(4, t -> t.avicDoorbellReceived(2, 2));
        at(5, t -> t.guestInterrupt(2, 2, 0xfd));
        assertThat(eventLines()).extracting(FtraceTextSinkTest::eventText).containsExactly(
                "kvm_avic_is_running: vcpu=2, running=1, host_apicid=3",
                "kvm_avic_table: vcpu=2, physical[2] = 0xc000000012345003",
                "kvm_avic_table: vcpu=2, logical[1] = 0x0000000080000002",
                "avic_ipi: vcpu=0, dest=2, vec=0xfd, running=0",
                "avic_doorbell_rcv: vcpu=2",
                "guest_irq: vcpu=2, vec=0xfd");
    }

    @Test
    void schedSwitchAndWakeupAndIpis() {
        at(0, t -> t.schedWakeup(0, "qemu-system-x86", 4242, 2));
        at(1, t -> t.ipiRaise(0, 2, "Rescheduling interrupts"));
        at(2, t -> t.ipiEntry(2, "Rescheduling interrupts"));
        at(3, t -> t.schedSwitch(2, "swapper/2", 0, "R", "qemu-system-x86", 4242));
        assertThat(eventLines()).extracting(FtraceTextSinkTest::eventText).containsExactly(
                "sched_wakeup: comm=qemu-system-x86 pid=4242 prio=120 target_cpu=002",
                "ipi_raise: target_mask=4 (Rescheduling interrupts)",
                "ipi_entry: (Rescheduling interrupts)",
                "sched_switch: prev_comm=swapper/2 prev_pid=0 prev_prio=120 prev_state=R ==> "
                        + "next_comm=qemu-system-x86 next_pid=4242 next_prio=120");
    }

    @Test
    void ipiRaiseMaskIsPercentStarPbOfCpuCountBits() {
        assertThat(maskFor(64, 2)).isEqualTo("target_mask=00000000,00000004 (x)");
        assertThat(maskFor(40, 35)).isEqualTo("target_mask=08,00000000 (x)");
        assertThat(maskFor(8, 7)).isEqualTo("target_mask=80 (x)");
        assertThat(maskFor(32, 0)).isEqualTo("target_mask=00000001 (x)");
    }

    private static String maskFor(int cpus, int target) {
        StringWriter w = new StringWriter();
        FtraceTextSink s = new FtraceTextSink(w, TSC_HZ, cpus);
        s.ipiRaise(0, 0, target, "x");
        s.close();
        String line = w.toString().lines().filter(l -> !l.startsWith("#")).findFirst().orElseThrow();
        return eventText(line).substring("ipi_raise: ".length());
    }

    @Test
    void taskFollowsSchedSwitchPerCpu() {
        at(10, t -> t.kvmEntry(2, 0, 0x1000));
        at(20, t -> t.schedSwitch(2, "swapper/2", 0, "R", "qemu-system-x86", 4242));
        at(30, t -> t.kvmEntry(2, 0, 0x1000));
        at(40, t -> t.kvmEntry(1, 1, 0x2000));
        at(50, t -> t.schedSwitch(2, "qemu-system-x86", 4242, "S", "swapper/2", 0));
        at(60, t -> t.kvmEntry(2, 0, 0x1000));
        List<String> lines = eventLines();
        assertThat(lines).extracting(l -> l.substring(0, 31)).containsExactly(
                "          <idle>-0       [002] ",
                "          <idle>-0       [002] ",   // the switch line belongs to the previous task
                " qemu-system-x86-4242    [002] ",
                "          <idle>-0       [001] ",   // other CPUs are unaffected
                " qemu-system-x86-4242    [002] ",
                "          <idle>-0       [002] ");  // pid 0 is "<idle>" whatever its comm
    }

    @Test
    void timestampsAreCyclesOverTscHzTruncatedToMicroseconds() {
        // " %5lu.%06lu": seconds right-aligned in 5 columns
        assertThat(timestampOf(0)).isEqualTo("    0.000000");
        assertThat(timestampOf(1_800_000_000L)).isEqualTo("    1.000000");
        assertThat(timestampOf(2_700_000_000L)).isEqualTo("    1.500000");
        assertThat(timestampOf(1_800_001_799L)).isEqualTo("    1.000000");
        assertThat(timestampOf(1_800_001_800L)).isEqualTo("    1.000001");
        assertThat(timestampOf(123_456_789_012L * 1_800)).isEqualTo("123456.789012");
    }

    private static String timestampOf(long cycles) {
        StringWriter w = new StringWriter();
        FtraceTextSink s = new FtraceTextSink(w, TSC_HZ, CPUS);
        s.kvmEntry(cycles, 0, 0, 0);
        s.close();
        String line = w.toString().lines().filter(l -> !l.startsWith("#")).findFirst().orElseThrow();
        return line.substring(36, line.indexOf(": "));
    }

    @Test
    void everyTracepointWritesALineBothPerfettoAndLinuxParse() throws Exception {
        List<Method> tracepoints = tracepoints();
        for (Method m : tracepoints) {
            m.invoke(tracer, defaultArguments(m));
        }
        List<String> lines = eventLines();
        assertThat(lines).hasSize(tracepoints.size());
        for (String line : lines) {
            Matcher perfetto = PERFETTO_LINE.matcher(line);
            assertThat(perfetto.find()).as(line).isTrue();
            assertThat(Integer.parseInt(perfetto.group(3))).as(line).isEqualTo(1);
            assertThat(perfetto.group(4)).as(line).isEqualTo("0.000000");
            assertThat(LINUX_LINE.matcher(line).matches()).as(line).isTrue();
        }
    }

    @Test
    void sinkImplementsEveryTracepoint() throws Exception {
        for (Method m : TraceSink.class.getMethods()) {
            Method impl = FtraceTextSink.class.getMethod(m.getName(), m.getParameterTypes());
            assertThat(impl.getDeclaringClass()).as(m.getName()).isEqualTo(FtraceTextSink.class);
        }
    }

    @Test
    void tracerWithoutSinkCallsNothing() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        TraceSink counting = (TraceSink) Proxy.newProxyInstance(TraceSink.class.getClassLoader(),
                new Class<?>[] {TraceSink.class}, (proxy, method, args) -> {
                    calls.incrementAndGet();
                    return null;
                });
        Tracer t = new Tracer(new Simulator());
        List<Method> tracepoints = tracepoints();
        for (Method m : tracepoints) {
            m.invoke(t, defaultArguments(m));   // never attached: nothing happens
        }
        t.attach(counting);
        for (Method m : tracepoints) {
            m.invoke(t, defaultArguments(m));
        }
        assertThat(calls.get()).isEqualTo(tracepoints.size());
        t.attach(null);
        for (Method m : tracepoints) {
            m.invoke(t, defaultArguments(m));
        }
        t.close();
        assertThat(t.enabled()).isFalse();
        assertThat(calls.get()).isEqualTo(tracepoints.size());
    }

    @Test
    void closeFlushesAndClosesTheWriter() {
        AtomicInteger closes = new AtomicInteger();
        StringWriter target = new StringWriter();
        Writer w = new Writer() {
            @Override
            public void write(char[] buf, int off, int len) {
                target.write(buf, off, len);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
                closes.incrementAndGet();
            }
        };
        FtraceTextSink s = new FtraceTextSink(w, TSC_HZ, CPUS);
        s.kvmEntry(0, 0, 0, 0);
        assertThat(target.toString()).isEmpty();   // buffered
        s.close();
        s.close();
        assertThat(closes.get()).isEqualTo(1);
        assertThat(target.toString()).startsWith("# tracer: nop\n").contains("kvm_entry: vcpu 0, rip 0x0\n");
    }

    @Test
    void ioErrorsBecomeUnchecked() {
        Writer failing = new Writer() {
            @Override
            public void write(char[] buf, int off, int len) throws IOException {
                throw new IOException("disk full");
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        FtraceTextSink s = new FtraceTextSink(failing, TSC_HZ, CPUS);
        assertThatThrownBy(s::close).isInstanceOf(UncheckedIOException.class).hasMessageContaining("disk full");
    }

    @Test
    void cpuOutsideTheMachineIsAProgrammingError() {
        assertThatThrownBy(() -> sink.kvmEntry(0, CPUS, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> sink.kvmEntry(0, -1, 0, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    /** {@code "event: fields"} of a line. */
    private static String eventText(String line) {
        Matcher m = LINUX_LINE.matcher(line);
        assertThat(m.matches()).as(line).isTrue();
        return m.group(7) + ": " + m.group(8);
    }

    private static final Set<String> NOT_TRACEPOINTS = Set.of("attach", "close", "enabled", "sink");

    private static List<Method> tracepoints() {
        return Arrays.stream(Tracer.class.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()))
                .filter(m -> !NOT_TRACEPOINTS.contains(m.getName()))
                .sorted((a, b) -> a.getName().compareTo(b.getName()))
                .toList();
    }

    /** 1 for every number (so every CPU argument is CPU 1), false, "x". */
    private static Object[] defaultArguments(Method m) {
        Class<?>[] types = m.getParameterTypes();
        Object[] args = new Object[types.length];
        for (int i = 0; i < types.length; i++) {
            Class<?> type = types[i];
            args[i] = type == int.class ? (Object) 1 : type == long.class ? (Object) 1L
                    : type == boolean.class ? (Object) false : "x";
        }
        return args;
    }
}
