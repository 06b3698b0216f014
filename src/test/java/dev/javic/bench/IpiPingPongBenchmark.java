package dev.javic.bench;

import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
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

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * An IPI ping-pong between two vCPUs, 2,000 round trips, on each system: vCPU 0 sends, vCPU 1's handler
 * answers, each side halts between messages, so every round trip exercises the ICR write, the halted
 * target's wake-up, injection (or AVIC delivery) and EOI. Reports the time per run; divide by the
 * events of a run ({@code ScenarioResult.events()}, printed by {@code ./javic run}) for events per
 * second. Run with {@code bash bench.sh IpiPingPong -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC", "-Xss8m"})
public class IpiPingPongBenchmark {
    static final String SCENARIO = """
            name: ipi-ping-pong
            vm: {vcpus: 2, memory_mib: 1, time_limit_us: 10000000}
            vcpus:
              - program:
                  - apic_enable
                  - sti
                  - work: 10000
                  - repeat: {times: 2000, ops: [{send_ipi: {dest: 1, vector: 0x40}}, hlt]}
              - program:
                  - apic_enable
                  - sti
                  - repeat: {times: 2000, ops: [hlt]}
                handlers: {0x40: [eoi, {send_ipi: {dest: 0, vector: 0x41}}]}
            """;

    @Param({"vanilla", "avic-off", "avic-on"})
    public String system;

    private Scenario scenario;
    private CostModel costs;

    @Setup
    public void load() {
        scenario = ScenarioLoader.parse(SCENARIO.getBytes(StandardCharsets.UTF_8), "ipi-ping-pong.yaml");
        costs = CostModel.defaults();
    }

    @Benchmark
    public ScenarioResult pingPong() {
        return new ScenarioRunner(scenario).system(SystemKind.parse(system)).costs(costs).run();
    }
}
