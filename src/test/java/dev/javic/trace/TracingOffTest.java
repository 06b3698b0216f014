package dev.javic.trace;

import dev.javic.sim.Simulator;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.assertj.core.api.Assertions.assertThat;

/** With no sink attached a tracepoint allocates nothing (design.md: "costs nearly nothing"). */
class TracingOffTest {
    @Test
    void tracepointsWithoutASinkAllocateNothing() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Tracer tracer = new Tracer(new Simulator());
        callEveryTracepoint(tracer, 10_000);            // warm up: class loading, JIT
        long tid = Thread.currentThread().threadId();
        long before = threads.getThreadAllocatedBytes(tid);
        callEveryTracepoint(tracer, 1_000_000);
        long allocated = threads.getThreadAllocatedBytes(tid) - before;
        // 24 million tracepoint calls; a single allocation each would be hundreds of MB.
        assertThat(allocated).as("bytes allocated by 24M tracepoints with no sink").isLessThan(64 * 1024);
    }

    private static void callEveryTracepoint(Tracer t, int times) {
        for (int i = 0; i < times; i++) {
            t.kvmEntry(1, 2, i);
            t.kvmExit(1, 2, 0x400, i, 6, 0xfee00300L, 0, 0);
            t.kvmInjVirq(1, 2, 0x40, false, false);
            t.kvmApic(1, 2, true, 0x300, i);
            t.kvmApicIpi(1, 2, 0x4040, 1);
            t.kvmApicAcceptIrq(1, 1, 0, false, 0x40);
            t.kvmEoi(1, 1, 0x40);
            t.kvmPvEoi(1, 1, 0x40);
            t.kvmMsr(1, 2, true, 0x830, i, false);
            t.kvmCr(1, 2, true, 8, i);
            t.kvmCpuid(1, 2, 1, 0, i, i, i, i, true);
            t.kvmVcpuWakeup(1, 2, i, true, true);
            t.kvmAvicIncompleteIpi(1, 2, 1, 0x4040, 0, 1);
            t.kvmAvicUnacceleratedAccess(1, 2, 0x300, true, true, 0x40);
            t.kvmAvicDoorbell(1, 2, 1);
            t.kvmAvicIsRunning(1, 2, true, 1);
            t.kvmAvicTableUpdate(1, 2, false, 1, i);
            t.avicIpiAccelerated(1, 2, 1, 0x40, true);
            t.avicDoorbellReceived(1, 2);
            t.guestInterrupt(1, 2, 0x40);
            t.schedSwitch(1, "swapper/1", 0, "R", "CPU 1/KVM", 1001);
            t.schedWakeup(1, "CPU 1/KVM", 1001, 1);
            t.ipiRaise(1, 2, "Rescheduling interrupts");
            t.ipiEntry(1, "Rescheduling interrupts");
        }
    }
}
