package dev.javic.bench;

import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import dev.javic.trace.ExitStatsSink;
import dev.javic.trace.FtraceTextSink;
import dev.javic.trace.IrqLatencySink;
import dev.javic.trace.PerfettoJsonSink;
import dev.javic.trace.TeeSink;
import dev.javic.trace.TraceSink;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * One scenario run (500 IPIs from vCPU 0 to vCPU 1, which works and halts in turn, on avic-off: about 10,000
 * tracepoint calls) with no sink attached, with a sink that ignores every event (the cost of calling a
 * sink), and with the real sinks writing to a null writer (the cost of formatting). Run with
 * {@code bash bench.sh TracingOverhead}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC", "-Xss8m"})
public class TracingOverheadScenario {
    static final String SCENARIO = """
            name: bench-ipis
            vm: {vcpus: 2, memory_mib: 1, time_limit_us: 1000000}
            vcpus:
              - program:
                  - apic_enable
                  - work: 20000
                  - repeat: {times: 500, ops: [{send_ipi: {dest: 1, vector: 0x40}}, {work: 5000}]}
              - program:
                  - apic_enable
                  - sti
                  - repeat: {times: 1000000, ops: [{work: 4000}, hlt]}
                handlers: {0x40: [eoi]}
            """;

    /** none: no sink; noop: a sink whose methods do nothing; ftrace, perfetto: to a null writer; stats: stat's sinks. */
    @Param({"none", "noop", "ftrace", "perfetto", "stats"})
    public String sink;

    @Param({"avic-off"})
    public String system;

    private Scenario scenario;
    private CostModel costs;

    @Setup
    public void load() {
        scenario = ScenarioLoader.parse(SCENARIO.getBytes(StandardCharsets.UTF_8), "bench-ipis.yaml");
        costs = CostModel.presetOrFile(scenario.vm().cost());
    }

    @Benchmark
    public ScenarioResult run() {
        ScenarioRunner runner = new ScenarioRunner(scenario).system(SystemKind.parse(system)).costs(costs);
        TraceSink s = newSink();
        if (s != null) {
            runner.trace(s);
        }
        return runner.run();
    }

    private TraceSink newSink() {
        int cpus = scenario.vm().hostCpus();
        int vcpus = scenario.vm().vcpus();
        return switch (sink) {
            case "none" -> null;
            case "noop" -> new TraceSink() {
            };
            case "ftrace" -> new FtraceTextSink(Writer.nullWriter(), costs.tscHz(), cpus);
            case "perfetto" -> new PerfettoJsonSink(Writer.nullWriter(), costs.tscHz(), cpus, vcpus, "VM");
            case "stats" -> TeeSink.of(new ExitStatsSink(costs.tscHz(), cpus, vcpus), new IrqLatencySink(costs.tscHz(), vcpus));
            default -> throw new IllegalArgumentException("unknown sink " + sink);
        };
    }
}
