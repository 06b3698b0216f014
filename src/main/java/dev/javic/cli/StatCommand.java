package dev.javic.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.KvmStatReport;
import dev.javic.experiment.LatencyPlot;
import dev.javic.experiment.NetperfRunner;
import dev.javic.experiment.RunPool;
import dev.javic.experiment.Scenario;
import dev.javic.experiment.SystemKind;
import dev.javic.experiment.SystemStats;
import dev.javic.experiment.TarRunner;
import dev.javic.sim.CostModel;
import dev.javic.workload.Hackbench;
import dev.javic.workload.tar.Tar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code javic stat FILE|hackbench|tar|netperf}: runs a scenario, or one run of a workload, on each system and
 * reports its exits like {@code perf kvm stat report}, the systems side by side, and the interrupt latency
 * distributions.
 */
@Command(name = "stat", mixinStandardHelpOptions = true,
        description = {"Run a scenario FILE, or one run of the workload hackbench, tar or netperf, on each system (default: "
                + "vanilla, avic-off and avic-on) and report its exits "
                + "like 'perf kvm stat report' (exit reason, samples, samples%%, time%%, min/max/avg handling time, "
                + "kvm_exit to the next kvm_entry), the systems side by side with how interrupts were delivered, "
                + "and the interrupt latency from send to guest handler entry (p50/p90/p99/p99.9/max).",
                "A first argument naming an existing file is a scenario; 'hackbench', 'tar' or 'netperf' is a workload "
                        + "(options --vcpus, --loops, --groups, --fraction, --seconds as for 'bench'; --timeline S: hackbench's "
                        + "counters in windows of S simulated seconds; --seed default 1, "
                        + "--cost default " + CostModel.CALIBRATED_PRESET + "; a scenario: its vm.cost).",
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

    @Option(names = "--vcpus", paramLabel = "N",
            description = "Workloads: guest vCPUs, 1.." + HackbenchRunner.HOST_CPUS + " (default: 2 for hackbench, 4 for tar; netperf runs 1).")
    Integer vcpus;

    @Option(names = "--fraction", paramLabel = "F", description = "tar: the fraction of linux-4.3.3.tar.xz to extract (default 1).")
    Double fraction;

    @Option(names = "--loops", paramLabel = "L", description = "hackbench -l (default " + DEFAULT_LOOPS + ").")
    Integer loops;

    @Option(names = "--groups", paramLabel = "G", description = "hackbench -g (default " + DEFAULT_GROUPS + ").")
    Integer groups;

    @Option(names = "--seconds", paramLabel = "S",
            description = "netperf -l: simulated seconds of the timed TCP_RR test (default " + DEFAULT_SECONDS + ").")
    Double seconds;

    @Option(names = "--timeline", paramLabel = "S", description = "hackbench: also print its counters (messages, us and "
            + "context switches per message, wake-ups, preemptions, reschedule IPIs, exits, tasks exited) in windows of S "
            + "simulated seconds: how the run moves between regimes (docs/guest-kernel.md).")
    Double timeline;

    /** The defaults of {@code bench}, so that {@code stat hackbench} looks at the run {@code bench} measures. */
    static final int DEFAULT_LOOPS = 100;
    static final int DEFAULT_GROUPS = 10;
    static final int DEFAULT_SECONDS = 60;
    static final long DEFAULT_SEED = 1;

    @Override
    public Integer call() throws IOException, InterruptedException {
        Path file = options.file;
        if (Files.exists(file)) {
            return scenario();
        }
        String name = file.toString();
        if (name.equals("hackbench") || name.equals("tar") || name.equals("netperf")) {
            return workload(name);
        }
        throw new UserErrors.UsageException("no such scenario file or workload: " + name
                + " (give a scenario file, hackbench, tar or netperf)");
    }

    private Integer scenario() throws IOException {
        for (Object[] o : new Object[][] {{"--vcpus", vcpus}, {"--loops", loops}, {"--groups", groups},
                {"--seconds", seconds}, {"--fraction", fraction}, {"--timeline", timeline}}) {
            if (o[1] != null) {
                throw new UserErrors.UsageException(o[0] + " is an option of the workloads (stat hackbench|tar|netperf), "
                        + "not of a scenario file");
            }
        }
        Scenario scenario = options.load();
        List<SystemKind> systems = options.systemsOrAll();
        int vcpuIndex = vcpuIndex(scenario.vm().vcpus(), "the scenario has");
        OutputStream plotOut = plot == null ? null : openPlot(plot);
        List<SystemStats> stats = new ArrayList<>();
        for (SystemKind system : systems) {
            stats.add(SystemStats.run(scenario, system, options.runner(scenario, system), options.costs(scenario), null));
        }
        report(new KvmStatReport(scenario.name(), stats, vcpuIndex), scenario.name(), stats, vcpuIndex, plotOut);
        return 0;
    }

    /** {@code stat hackbench|tar|netperf}: one run of the workload per system, on the pool, with the stat sinks. */
    private Integer workload(String workload) throws IOException, InterruptedException {
        boolean hackbench = workload.equals("hackbench");
        List<SystemKind> systems = options.systemsOrAll();
        long seed = options.seed != null ? options.seed : DEFAULT_SEED;
        int guestVcpus;
        String description;
        List<Callable<SystemStats>> tasks = new ArrayList<>();
        if (timeline != null && !hackbench) {
            throw new UserErrors.UsageException("--timeline is an option of hackbench, not of " + workload);
        }
        if (fraction != null && !workload.equals("tar")) {
            throw new UserErrors.UsageException("--fraction is an option of tar, not of " + workload);
        }
        if (workload.equals("tar")) {
            for (Object[] o : new Object[][] {{"--loops", loops}, {"--groups", groups}, {"--seconds", seconds}}) {
                if (o[1] != null) {
                    throw new UserErrors.UsageException(o[0] + " is not an option of tar");
                }
            }
            guestVcpus = vcpus == null ? 4 : vcpus;
            if (guestVcpus < 1 || guestVcpus > TarRunner.HOST_CPUS) {
                throw new UserErrors.UsageException("--vcpus must be 1.." + TarRunner.HOST_CPUS + " (the modelled host has "
                        + TarRunner.HOST_CPUS + " cores), got " + guestVcpus);
            }
            double f = fraction == null ? 1 : fraction;
            if (!(f > 0) || f > 1) {
                throw new UserErrors.UsageException("--fraction must be in (0, 1], got " + f);
            }
            int v = guestVcpus;
            CostModel costs = costs();
            Tar.Params params = f == 1 ? Tar.Params.LINUX_4_3_3 : Tar.Params.LINUX_4_3_3.scaled(f);
            description = TarRunner.describe(params, v) + String.format(Locale.ROOT, ", seed %d, cost model %s", seed,
                    costs.name());
            for (SystemKind k : systems) {
                tasks.add(() -> SystemStats.tar(new TarRunner.Spec(k, v, params, seed, costs, true), null));
            }
        } else if (hackbench) {
            if (seconds != null) {
                throw new UserErrors.UsageException("--seconds is an option of netperf, not of hackbench");
            }
            guestVcpus = vcpus == null ? 2 : vcpus;
            if (guestVcpus < 1 || guestVcpus > HackbenchRunner.HOST_CPUS) {
                throw new UserErrors.UsageException("--vcpus must be 1.." + HackbenchRunner.HOST_CPUS + " (the modelled host has "
                        + HackbenchRunner.HOST_CPUS + " cores), got " + guestVcpus);
            }
            int l = positive("--loops", loops == null ? DEFAULT_LOOPS : loops);
            int g = positive("--groups", groups == null ? DEFAULT_GROUPS : groups);
            int v = guestVcpus;
            double window = timeline == null ? 0 : timeline;
            if (timeline != null && (!(window > 0) || Double.isInfinite(window))) {
                throw new UserErrors.UsageException("--timeline must be a positive number of seconds, got " + timeline);
            }
            CostModel costs = costs();
            Hackbench.Params params = Hackbench.Params.of(g, l);
            description = String.format(Locale.ROOT, "hackbench -p -g %d -l %d (%d tasks, %d messages of %d bytes), "
                            + "%d vCPU%s, seed %d, cost model %s", g, l, params.tasks() - 1, params.messages(),
                    Hackbench.MESSAGE_BYTES, v, v == 1 ? "" : "s", seed, costs.name());
            for (SystemKind k : systems) {
                tasks.add(() -> SystemStats.hackbench(new HackbenchRunner.Spec(k, v, params, seed, costs, true), null, window));
            }
        } else {
            if (loops != null || groups != null) {
                throw new UserErrors.UsageException((loops != null ? "--loops" : "--groups")
                        + " is an option of hackbench, not of netperf");
            }
            if (vcpus != null && vcpus != 1) {
                throw new UserErrors.UsageException("--vcpus: netperf TCP_RR runs on a 1-vCPU guest (as in the series), got "
                        + vcpus);
            }
            guestVcpus = 1;
            double s = seconds == null ? DEFAULT_SECONDS : seconds;
            if (!(s > 0) || Double.isInfinite(s)) {
                throw new UserErrors.UsageException("--seconds must be positive, got " + s);
            }
            CostModel costs = costs();
            description = String.format(Locale.ROOT, "netperf -t TCP_RR -l %s (1-byte request/response) over virtio-net "
                    + "+ vhost-net, 1 vCPU, seed %d, cost model %s", fmt(s), seed, costs.name());
            for (SystemKind k : systems) {
                tasks.add(() -> SystemStats.netperf(NetperfRunner.Spec.of(k, s, seed, costs), null));
            }
        }
        int vcpuIndex = vcpuIndex(guestVcpus, "the guest has");
        OutputStream plotOut = plot == null ? null : openPlot(plot);
        List<SystemStats> stats;
        try (Progress bar = Progress.of("stat " + workload, tasks.size())) {
            stats = RunPool.run(tasks, Runtime.getRuntime().availableProcessors(), bar::step);
        }
        if (!json) {
            System.out.println(description);
            System.out.println();
        }
        report(KvmStatReport.ofWorkload(workload, description, stats, vcpuIndex), workload, stats, vcpuIndex, plotOut);
        return 0;
    }

    private void report(KvmStatReport report, String title, List<SystemStats> stats, int vcpuIndex, OutputStream plotOut)
            throws IOException {
        if (json) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report.json()));
        } else {
            report.print(System.out);
        }
        if (plotOut != null) {
            try (plotOut) {
                LatencyPlot.write(plotOut, title, stats, vcpuIndex);
            }
            if (!json) {
                System.out.println("latency plot: " + plot);
            }
        }
    }

    /** --vcpu checked against the guest's vCPUs: the index to report, -1 for all. */
    private int vcpuIndex(int guestVcpus, String has) {
        if (vcpu != null && (vcpu < 0 || vcpu >= guestVcpus)) {
            throw new UserErrors.UsageException("--vcpu: vCPU " + vcpu + " out of range (" + has + " "
                    + guestVcpus + ", numbered from 0)");
        }
        return vcpu == null ? -1 : vcpu;
    }

    private CostModel costs() {
        return CostModel.presetOrFile(options.cost != null ? options.cost : CostModel.CALIBRATED_PRESET);
    }

    private static int positive(String option, int value) {
        if (value <= 0) {
            throw new UserErrors.UsageException(option + " must be positive, got " + value);
        }
        return value;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
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
