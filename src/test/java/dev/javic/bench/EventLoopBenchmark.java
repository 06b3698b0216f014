package dev.javic.bench;

import dev.javic.sim.SimEvent;
import dev.javic.sim.Simulator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The discrete-event engine alone: {@code pending} events that each re-arm themselves a pseudo-random
 * delay later, as vCPUs, timers and host threads do. Reports events per second (ops/s, one op = one
 * event fired) and, with {@code -prof gc}, bytes allocated per event (expected: 0). Run with
 * {@code bash bench.sh EventLoop -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC"})
public class EventLoopBenchmark {
    static final int EVENTS_PER_INVOCATION = 1_000_000;

    /** Events in the queue at any time (a few per vCPU and host thread). */
    @Param({"16", "256"})
    public int pending;

    private Simulator sim;
    private long limit;

    /** An event that re-arms itself; the delay sequence is a fixed LCG so the run is deterministic. */
    static final class Rearming extends SimEvent {
        private final Simulator sim;
        private long state;

        Rearming(Simulator sim, long seed) {
            super("rearm");
            this.sim = sim;
            this.state = seed;
        }

        @Override
        protected void fire(long now) {
            state = state * 6364136223846793005L + 1442695040888963407L;
            sim.schedule(this, now + 1 + ((state >>> 33) & 1023));
        }
    }

    @Setup
    public void setUp() {
        sim = new Simulator();
        for (int i = 0; i < pending; i++) {
            sim.schedule(new Rearming(sim, i * 7919L + 1), i);
        }
        limit = 0;
    }

    @Benchmark
    @OperationsPerInvocation(EVENTS_PER_INVOCATION)
    public long fireAMillionEvents() {
        long before = sim.eventsFired();
        // Mean delay is ~512 cycles per event and event; advance until a million more have fired.
        while (sim.eventsFired() - before < EVENTS_PER_INVOCATION) {
            limit += 512L * EVENTS_PER_INVOCATION / pending / 4;
            sim.runUntil(limit);
        }
        return sim.eventsFired();
    }
}
