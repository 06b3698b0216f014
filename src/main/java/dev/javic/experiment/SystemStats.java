package dev.javic.experiment;

import dev.javic.sim.CostModel;
import dev.javic.trace.ExitStatsSink;
import dev.javic.trace.IrqLatencySink;
import dev.javic.trace.TeeSink;
import dev.javic.trace.TraceSink;

/**
 * One run on one system with the statistics sinks attached: what {@code stat} reports (a scenario file or a
 * workload), and what {@code bench} can collect for the run it traces.
 *
 * @param seed        the run's root seed
 * @param costModel   the name of its cost model
 * @param simulatedNs simulated time the run took
 * @param result      the scenario's result, or null for a workload run ({@code stat hackbench|tar|netperf})
 * @param exits       exits by reason and how interrupts were delivered ({@code perf kvm stat} style)
 * @param latency     interrupt latency distributions, send to handler entry
 * @param timeline    hackbench's counters by window of simulated time, or null
 */
public record SystemStats(SystemKind system, long seed, String costModel, long simulatedNs, ScenarioResult result,
                          ExitStatsSink exits, IrqLatencySink latency, HackbenchTimeline timeline) {

    /**
     * Runs {@code runner} (already set to {@code system}, seed and {@code costs}) with the statistics sinks and
     * {@code extra} (another sink of the same run, e.g. a trace file; may be null) attached.
     */
    public static SystemStats run(Scenario scenario, SystemKind system, ScenarioRunner runner, CostModel costs,
                                  TraceSink extra) {
        Scenario.VmSpec vm = scenario.vm();
        ExitStatsSink exits = new ExitStatsSink(costs.tscHz(), vm.hostCpus(), vm.vcpus());
        IrqLatencySink latency = new IrqLatencySink(costs.tscHz(), vm.vcpus());
        runner.trace(TeeSink.of(exits, latency, extra));
        ScenarioResult r = runner.run();
        return new SystemStats(system, r.seed(), r.costModel(), r.simulatedNs(), r, exits, latency, null);
    }

    /**
     * One hackbench run ({@link HackbenchRunner}) with the statistics sinks and {@code extra} (may be null); with
     * {@code timelineSeconds > 0} also its counters in windows of that many simulated seconds.
     */
    public static SystemStats hackbench(HackbenchRunner.Spec spec, TraceSink extra, double timelineSeconds) {
        CostModel costs = spec.costs();
        ExitStatsSink exits = new ExitStatsSink(costs.tscHz(), HackbenchRunner.HOST_CPUS, spec.vcpus());
        IrqLatencySink latency = new IrqLatencySink(costs.tscHz(), spec.vcpus());
        HackbenchTimeline timeline = timelineSeconds > 0 ? new HackbenchTimeline(timelineSeconds, costs) : null;
        HackbenchRunner.Outcome o = HackbenchRunner.run(spec, TeeSink.of(exits, latency, extra), timeline);
        return new SystemStats(spec.system(), spec.seed(), costs.name(), Math.round(o.simulatedSeconds() * 1e9), null,
                exits, latency, timeline);
    }

    /** One tar xf run ({@link TarRunner}) with the statistics sinks and {@code extra} (may be null). */
    public static SystemStats tar(TarRunner.Spec spec, TraceSink extra) {
        CostModel costs = spec.costs();
        ExitStatsSink exits = new ExitStatsSink(costs.tscHz(), TarRunner.HOST_CPUS, spec.vcpus());
        IrqLatencySink latency = new IrqLatencySink(costs.tscHz(), spec.vcpus());
        TarRunner.Outcome o = TarRunner.run(spec, TeeSink.of(exits, latency, extra));
        return new SystemStats(spec.system(), spec.seed(), costs.name(), Math.round(o.simulatedSeconds() * 1e9), null,
                exits, latency, null);
    }

    /** One netperf TCP_RR run ({@link NetperfRunner}, a 1-vCPU guest) with the statistics sinks and {@code extra}. */
    public static SystemStats netperf(NetperfRunner.Spec spec, TraceSink extra) {
        CostModel costs = spec.costs();
        ExitStatsSink exits = new ExitStatsSink(costs.tscHz(), NetperfRunner.HOST_CPUS, 1);
        IrqLatencySink latency = new IrqLatencySink(costs.tscHz(), 1);
        NetperfRunner.Outcome o = NetperfRunner.run(spec, TeeSink.of(exits, latency, extra));
        return new SystemStats(spec.system(), spec.seed(), costs.name(), Math.round(o.simulatedSeconds() * 1e9), null,
                exits, latency, null);
    }
}
