package dev.javic.bench;

import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import dev.javic.workload.Hackbench;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * hackbench at a small scale, the whole simulation (guest kernel, vCPUs, KVM, host) as {@code bench} runs it:
 * 2 vCPUs, 2 groups (80 tasks), 200 loops (160,000 messages), seed 1, batching on. Reports runs per second
 * and, through the auxiliary counters, simulator events and messages per second. Run with
 * {@code bash bench.sh Hackbench -prof gc} (bytes per event = gc.alloc.rate.norm / events per run).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC"})
public class HackbenchBenchmark {
    @Param({"vanilla", "avic-off", "avic-on"})
    public String system;

    private HackbenchRunner.Spec spec;

    /** Simulator events and hackbench messages, reported per second of benchmark time. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        public long events;
        public long messages;

        @Setup(Level.Iteration)
        public void clear() {
            events = 0;
            messages = 0;
        }
    }

    @Setup
    public void setUp() {
        spec = new HackbenchRunner.Spec(SystemKind.parse(system), 2, new Hackbench.Params(2, 20, 200), 1,
                CostModel.defaults(), true);
    }

    @Benchmark
    public HackbenchRunner.Outcome hackbench(Counters counters) {
        HackbenchRunner.Outcome o = HackbenchRunner.run(spec);
        counters.events += o.events();
        counters.messages += o.messagesRead();
        return o;
    }
}
