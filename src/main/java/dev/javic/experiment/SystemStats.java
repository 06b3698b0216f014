package dev.javic.experiment;

import dev.javic.sim.CostModel;
import dev.javic.trace.ExitStatsSink;
import dev.javic.trace.IrqLatencySink;
import dev.javic.trace.TeeSink;
import dev.javic.trace.TraceSink;

/**
 * One scenario run on one system with the statistics sinks attached: what {@code stat} reports, and what
 * {@code bench} can collect for the run it traces.
 *
 * @param exits   exits by reason and how interrupts were delivered ({@code perf kvm stat} style)
 * @param latency interrupt latency distributions, send to handler entry
 */
public record SystemStats(SystemKind system, ScenarioResult result, ExitStatsSink exits, IrqLatencySink latency) {

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
        return new SystemStats(system, runner.run(), exits, latency);
    }
}
