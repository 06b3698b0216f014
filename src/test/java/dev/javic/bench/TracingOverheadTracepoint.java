package dev.javic.bench;

import dev.javic.sim.Simulator;
import dev.javic.trace.TraceSink;
import dev.javic.trace.Tracer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * One tracepoint ({@code kvm_exit}, the most frequent, 8 arguments) with tracing off, against a baseline that
 * only advances the counter its arguments come from, and with a do-nothing sink attached. The sink field
 * is not final and set in a {@code @Setup}, as in a run, so the JIT cannot fold the check away.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TracingOverheadTracepoint {
    private Tracer off;
    private Tracer noop;
    private long rip;

    @Setup
    public void setUp() {
        Simulator sim = new Simulator();
        off = new Tracer(sim);
        noop = new Tracer(sim);
        noop.attach(new TraceSink() {
        });
    }

    @Benchmark
    public long baseline() {
        return rip++;
    }

    @Benchmark
    public long kvmExitOff() {
        off.kvmExit(1, 2, 0x400, rip, 6, 0xfee00300L, 0, 0);
        return rip++;
    }

    @Benchmark
    public long kvmExitNoopSink() {
        noop.kvmExit(1, 2, 0x400, rip, 6, 0xfee00300L, 0, 0);
        return rip++;
    }
}
