package dev.javic.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.javic.experiment.KvmStatReport;
import dev.javic.experiment.LatencyPlot;
import dev.javic.experiment.Scenario;
import dev.javic.experiment.SystemKind;
import dev.javic.experiment.SystemStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code javic stat FILE}: runs a scenario on each system and reports its exits like {@code perf kvm stat
 * report}, the systems side by side, and the interrupt latency distributions.
 */
@Command(name = "stat", mixinStandardHelpOptions = true,
        description = {"Run a scenario on each system (default: vanilla, avic-off and avic-on) and report its exits "
                + "like 'perf kvm stat report' (exit reason, samples, samples%%, time%%, min/max/avg handling time, "
                + "kvm_exit to the next kvm_entry), the systems side by side with how interrupts were delivered, "
                + "and the interrupt latency from send to guest handler entry (p50/p90/p99/p99.9/max).",
                "All times are simulated. Exit status: 0 ok, 2 bad input."})
final class StatCommand implements Callable<Integer> {
    @Mixin
    ScenarioOptions options;

    @Option(names = "--vcpu", paramLabel = "N", description = "Report only vCPU N (default: all vCPUs together).")
    Integer vcpu;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = "--plot", paramLabel = "OUT.png",
            description = "Also draw the latency distributions (cumulative, per system and kind) as a PNG.")
    Path plot;

    @Override
    public Integer call() throws IOException {
        Scenario scenario = options.load();
        List<SystemKind> systems = options.systemsOrAll();
        int vcpuIndex = vcpu == null ? -1 : vcpu;
        if (vcpu != null && (vcpu < 0 || vcpu >= scenario.vm().vcpus())) {
            throw new UserErrors.UsageException("--vcpu: vCPU " + vcpu + " out of range (the scenario has "
                    + scenario.vm().vcpus() + ", numbered from 0)");
        }
        OutputStream plotOut = plot == null ? null : openPlot(plot);
        List<SystemStats> stats = new ArrayList<>();
        for (SystemKind system : systems) {
            stats.add(SystemStats.run(scenario, system, options.runner(scenario, system), options.costs(scenario), null));
        }
        KvmStatReport report = new KvmStatReport(scenario.name(), stats, vcpuIndex);
        if (json) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report.json()));
        } else {
            report.print(System.out);
        }
        if (plotOut != null) {
            try (plotOut) {
                LatencyPlot.write(plotOut, scenario.name(), stats, vcpuIndex);
            }
            if (!json) {
                System.out.println("latency plot: " + plot);
            }
        }
        return 0;
    }

    /** Opens the plot file before anything runs, so that a bad path fails at once. */
    private static OutputStream openPlot(Path path) {
        try {
            Path parent = path.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            return Files.newOutputStream(path);
        } catch (IOException | RuntimeException e) {
            throw new UserErrors.UsageException("--plot: cannot write " + path + ": " + TraceOptions.reason(e));
        }
    }
}
