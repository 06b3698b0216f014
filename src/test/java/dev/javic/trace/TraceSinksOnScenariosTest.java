package dev.javic.trace;

import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The sinks on real runs of the examples, on every system: they agree with the run's own counts. */
class TraceSinksOnScenariosTest {
    static Stream<Arguments> runs() {
        return Stream.of("examples/ipi-running.yaml", "examples/ipi-storm.yaml")
                .flatMap(f -> Stream.of(SystemKind.values()).map(s -> Arguments.of(f, s)));
    }

    private record Run(ScenarioResult result, ExitStatsSink exits, IrqLatencySink latency, String perfetto, String ftrace) {
    }

    private static Run run(String file, SystemKind system) {
        Scenario scenario = ScenarioLoader.load(Path.of(file));
        CostModel costs = CostModel.presetOrFile(scenario.vm().cost());
        int cpus = scenario.vm().hostCpus();
        int vcpus = scenario.vm().vcpus();
        ExitStatsSink exits = new ExitStatsSink(costs.tscHz(), cpus, vcpus);
        IrqLatencySink latency = new IrqLatencySink(costs.tscHz(), vcpus);
        StringWriter json = new StringWriter();
        StringWriter text = new StringWriter();
        TraceSink all = TeeSink.of(exits, latency, new PerfettoJsonSink(json, costs.tscHz(), cpus, vcpus, "VM"),
                new FtraceTextSink(text, costs.tscHz(), cpus));
        ScenarioResult result = new ScenarioRunner(scenario).system(system).costs(costs).trace(all).run();
        return new Run(result, exits, latency, json.toString(), text.toString());
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("runs")
    void statTotalsEqualTheRunsExitCounts(String file, SystemKind system) throws Exception {
        Run r = run(file, system);
        assertThat(r.exits().table(-1).totalSamples()).isEqualTo(r.result().totalExits()).isPositive();
        for (ScenarioResult.VcpuResult v : r.result().vcpus()) {
            Map<String, Long> byReason = new LinkedHashMap<>();
            r.exits().table(v.vcpu()).rows().forEach(row -> byReason.put(row.reason(), row.samples()));
            assertThat(byReason).as("vCPU %d", v.vcpu()).isEqualTo(v.exits());
            assertThat(r.exits().table(v.vcpu()).totalSamples()).isEqualTo(v.exitsTotal());
        }

        long interrupts = r.result().vcpus().stream().flatMap(v -> v.interrupts().stream())
                .filter(i -> i.vector() >= 32).count();
        long measured = r.latency().summaries(-1).get(IrqLatencySink.ALL_KINDS).count();
        assertThat(measured).as("every interrupt the guest took is matched to its send").isEqualTo(interrupts);

        TraceEventChecks.Summary perfetto = TraceEventChecks.check(new StringReader(r.perfetto()));
        assertThat(perfetto.flows()).as("a flow per handler entry (plus sends still pending)").isGreaterThanOrEqualTo((int) measured);
        assertThat(perfetto.flows()).isPositive();

        r.ftrace().lines().filter(l -> !l.startsWith("#")).forEach(line ->
                assertThat(TraceEventChecks.FTRACE_LINE.matcher(line).find()).as(line).isTrue());
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("runs")
    void theSameRunGivesTheSameTraceAndStatistics(String file, SystemKind system) {
        Run a = run(file, system);
        Run b = run(file, system);
        assertThat(a.perfetto()).isEqualTo(b.perfetto());
        assertThat(a.ftrace()).isEqualTo(b.ftrace());
        assertThat(a.exits().table(-1)).isEqualTo(b.exits().table(-1));
        assertThat(a.latency().summaries(-1)).isEqualTo(b.latency().summaries(-1));
    }
}
