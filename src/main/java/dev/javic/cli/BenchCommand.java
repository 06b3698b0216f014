package dev.javic.cli;

import dev.javic.experiment.BenchReport;
import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.NetperfRunner;
import dev.javic.experiment.RunPool;
import dev.javic.experiment.SystemKind;
import dev.javic.experiment.TarRunner;
import dev.javic.workload.tar.Tar;
import dev.javic.sim.CostModel;
import dev.javic.workload.Hackbench;
import dev.javic.trace.TraceSink;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code javic bench hackbench}: runs a workload on each system a number of times (seed + run index),
 * prints mean, sd, 95 % CI, each system against the others (Welch's t-test), exits per second and
 * interrupts delivered, and writes JSON, CSV and a PNG plot.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Run a workload on vanilla, avic-off and avic-on and compare them (the series' measurements). "
                + "Workloads: hackbench, tar (tar xf linux-4.3.3.tar.xz on 4 vCPUs), netperf (TCP_RR over virtio-net + vhost).")
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "WORKLOAD", description = "hackbench | tar | netperf")
    String workload;

    @Option(names = "--vcpus", paramLabel = "N", description = "Guest vCPUs, 1..4 (default: 2 for hackbench, 4 for tar; netperf runs 1).")
    Integer vcpusOption;
    int vcpus;

    @Option(names = "--seconds", paramLabel = "S", description = "netperf -l: length of the timed TCP_RR test in simulated "
            + "seconds (default ${DEFAULT-VALUE}, as the series).", defaultValue = "60")
    double seconds;

    @Option(names = "--loops", paramLabel = "L", description = "hackbench -l (default ${DEFAULT-VALUE}; the series used 100000).",
            defaultValue = "100")
    int loops;

    @Option(names = "--fraction", paramLabel = "F", description = "tar: the fraction of linux-4.3.3.tar.xz's files, directories "
            + "and bytes to extract, in a guest with that fraction of the RAM (default ${DEFAULT-VALUE}: the whole tarball).",
            defaultValue = "1")
    double fraction;

    @Option(names = "--groups", paramLabel = "G", description = "hackbench -g (default ${DEFAULT-VALUE}).", defaultValue = "10")
    int groups;

    @Option(names = "--systems", paramLabel = "LIST", split = ",", description = "Systems to run (default: vanilla,avic-off,avic-on).")
    List<String> systems = List.of("vanilla", "avic-off", "avic-on");

    @Option(names = "--runs", paramLabel = "R", description = "Runs per system (default ${DEFAULT-VALUE}).", defaultValue = "3")
    int runs;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the first run; run i uses S + i (default ${DEFAULT-VALUE}).",
            defaultValue = "1")
    long seed;

    @Option(names = "--cost", paramLabel = "FILE|PRESET", description = "Cost preset or file (default ${DEFAULT-VALUE}).",
            defaultValue = CostModel.CALIBRATED_PRESET)
    String cost;

    @Option(names = "--out", paramLabel = "DIR", description = "Where to write JSON, CSV and the plot (default ${DEFAULT-VALUE}).",
            defaultValue = "results")
    Path out;

    @Option(names = "--jobs", paramLabel = "J", description = "Runs simulated in parallel (default: the number of cores). "
            + "Results do not depend on it.")
    Integer jobs;

    @Option(names = "--no-batching", description = "Simulate every system call as its own WORK (slower; same results).")
    boolean noBatching;

    @Mixin
    ChosenRunTraceOptions traceOptions;

    /** The traced run (checked and opened before anything runs), or null. */
    private ChosenRunTraceOptions.Choice trace;

    @Override
    public Integer call() throws Exception {
        if ("netperf".equals(workload)) {
            return netperf();
        }
        if ("tar".equals(workload)) {
            return tar();
        }
        if (!"hackbench".equals(workload)) {
            throw new UserErrors.UsageException("unknown workload '" + workload + "' (choose hackbench, tar or netperf)");
        }
        vcpus = vcpusOption == null ? 2 : vcpusOption;
        positive("--loops", loops);
        positive("--groups", groups);
        if (vcpus < 1 || vcpus > HackbenchRunner.HOST_CPUS) {
            throw new UserErrors.UsageException("--vcpus must be 1.." + HackbenchRunner.HOST_CPUS + " (the modelled host has "
                    + HackbenchRunner.HOST_CPUS + " cores), got " + vcpus);
        }
        Setup setup = setUp();
        int threads = setup.threads();
        List<SystemKind> kinds = setup.kinds();
        CostModel costs = setup.costs();
        Hackbench.Params params = Hackbench.Params.of(groups, loops);
        String description = String.format(Locale.ROOT,
                "hackbench -p -g %d -l %d (%d tasks, %d messages of %d bytes), %d vCPU%s, %d run%s per system, seeds %d..%d, cost model %s",
                groups, loops, params.tasks() - 1, params.messages(), Hackbench.MESSAGE_BYTES, vcpus, vcpus == 1 ? "" : "s",
                runs, runs == 1 ? "" : "s", seed, seed + runs - 1, costs.name());

        long wallStart = System.nanoTime();
        Map<String, List<HackbenchRunner.Outcome>> bySystem = runAll(kinds, params, costs, threads);
        double wall = (System.nanoTime() - wallStart) / 1e9;

        BenchReport report = BenchReport.of("hackbench", description, vcpus, runs, seed, costs.name(), bySystem, wall);
        PrintStream o = System.out;
        report.printTable(o);
        String base = String.format(Locale.ROOT, "hackbench-%dvcpu-g%d-l%d", vcpus, groups, loops);
        return finish(o, report, base, wall);
    }

    private void printTraced(PrintStream o) {
        if (trace != null) {
            o.printf(Locale.ROOT, "traced run %d on %s (seed %d) to %s (%s)%n", trace.run(), trace.system().label(),
                    seed + trace.run(), trace.file(), trace.format().label());
        }
    }

    /** The sink of run {@code r} on {@code k}: the trace file's for the chosen run, none for the others. */
    private TraceSink sinkFor(SystemKind k, int r, CostModel costs, String title) {
        if (trace == null || trace.system() != k || trace.run() != r) {
            return null;
        }
        return trace.sinks().open(costs.tscHz(), HackbenchRunner.HOST_CPUS, vcpus, title + " run " + r + " (" + k.label() + ")");
    }

    /** Runs every (run, system) pair on the pool; returns each system's runs in run order. */
    private <T> Map<String, List<T>> runPairs(List<SystemKind> kinds, int threads, RunOne<T> one) throws InterruptedException {
        List<Callable<T>> tasks = new ArrayList<>();
        for (int r = 0; r < runs; r++) {
            for (SystemKind k : kinds) {
                int run = r;
                tasks.add(() -> one.run(k, run));
            }
        }
        List<T> results;
        try (Progress bar = Progress.of("bench", tasks.size())) {
            results = RunPool.run(tasks, threads, bar::step);
        }
        Map<String, List<T>> bySystem = new LinkedHashMap<>();
        for (int i = 0; i < results.size(); i++) {
            bySystem.computeIfAbsent(kinds.get(i % kinds.size()).label(), x -> new ArrayList<>()).add(results.get(i));
        }
        return bySystem;
    }

    @FunctionalInterface
    private interface RunOne<T> {
        T run(SystemKind system, int run) throws Exception;
    }

    private Map<String, List<HackbenchRunner.Outcome>> runAll(List<SystemKind> kinds, Hackbench.Params params, CostModel costs,
                                                             int threads) throws InterruptedException {
        Map<String, List<HackbenchRunner.Outcome>> bySystem = runPairs(kinds, threads, (k, r) -> HackbenchRunner.run(
                new HackbenchRunner.Spec(k, vcpus, params, seed + r, costs, !noBatching),
                sinkFor(k, r, costs, "hackbench " + vcpus + " vCPUs")));
        return bySystem;
    }

    private List<SystemKind> parseSystems() {
        List<SystemKind> kinds = new ArrayList<>();
        for (String s : systems) {
            try {
                SystemKind k = SystemKind.parse(s.strip());
                if (!kinds.contains(k)) {
                    kinds.add(k);
                }
            } catch (IllegalArgumentException e) {
                throw new UserErrors.UsageException("--systems: " + e.getMessage());
            }
        }
        if (kinds.isEmpty()) {
            throw new UserErrors.UsageException("--systems: name at least one system");
        }
        return kinds;
    }

    /** {@code bench netperf}: TCP_RR for --seconds on a 1-vCPU guest, transactions per second per system. */
    private Integer netperf() throws InterruptedException {
        if (vcpusOption != null && vcpusOption != 1) {
            throw new UserErrors.UsageException("--vcpus: netperf TCP_RR runs on a 1-vCPU guest (as in the series), got " + vcpusOption);
        }
        vcpus = 1;
        if (!(seconds > 0) || Double.isInfinite(seconds)) {
            throw new UserErrors.UsageException("--seconds must be positive, got " + seconds);
        }
        Setup setup = setUp();
        int threads = setup.threads();
        List<SystemKind> kinds = setup.kinds();
        CostModel costs = setup.costs();
        String description = String.format(Locale.ROOT,
                "netperf -t TCP_RR -l %s (1-byte request/response) over virtio-net + vhost-net, tap, bridge; 1 vCPU; "
                        + "host: vCPU on core 0, vhost on core 1, netserver on core 2; %d run%s per system, seeds %d..%d, cost model %s",
                fmt(seconds), runs, runs == 1 ? "" : "s", seed, seed + runs - 1, costs.name());
        long wallStart = System.nanoTime();
        Map<String, List<NetperfRunner.Outcome>> bySystem = runPairs(kinds, threads, (k, r) -> NetperfRunner.run(
                NetperfRunner.Spec.of(k, seconds, seed + r, costs), sinkFor(k, r, costs, "netperf TCP_RR 1 vCPU")));
        double wall = (System.nanoTime() - wallStart) / 1e9;
        BenchReport report = BenchReport.of("netperf", description, 1, runs, seed, costs.name(), BenchReport.Metric.TRANSACTIONS,
                bySystem, wall);
        PrintStream o = System.out;
        report.printTable(o);
        o.println();
        o.printf(Locale.ROOT, "%-15s %12s %10s %10s %10s %10s %10s %10s%n", "per transaction", "latency us", "exits", "io",
                "hlt", "npf+msr", "intr", "doorbells");
        for (Map.Entry<String, List<NetperfRunner.Outcome>> e : bySystem.entrySet()) {
            NetperfRunner.Outcome r = e.getValue().get(0);
            double n = Math.max(1, r.transactions());
            o.printf(Locale.ROOT, "%-15s %12.2f %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f%n", BenchReport.seriesName(e.getKey()),
                    r.latencyMicros(), r.exits() / n, r.exits("io") / n, r.exits("hlt") / n, (r.exits("npf") + r.exits("msr")) / n,
                    r.exits("interrupt") / n, r.doorbells() / n);
        }
        String base = "netperf-tcp_rr-" + fmt(seconds) + "s";
        return finish(o, report, base, wall);
    }

    /** {@code bench tar}: tar xf of linux-4.3.3.tar.xz (or --fraction of it) on --vcpus (default 4), seconds per system. */
    private Integer tar() throws InterruptedException {
        vcpus = vcpusOption == null ? 4 : vcpusOption;
        if (vcpus < 1 || vcpus > TarRunner.HOST_CPUS) {
            throw new UserErrors.UsageException("--vcpus must be 1.." + TarRunner.HOST_CPUS + " (the modelled host has "
                    + TarRunner.HOST_CPUS + " cores), got " + vcpus);
        }
        if (!(fraction > 0) || fraction > 1) {
            throw new UserErrors.UsageException("--fraction must be in (0, 1], got " + fraction);
        }
        Setup setup = setUp();
        int threads = setup.threads();
        List<SystemKind> kinds = setup.kinds();
        CostModel costs = setup.costs();
        Tar.Params params = fraction == 1 ? Tar.Params.LINUX_4_3_3 : Tar.Params.LINUX_4_3_3.scaled(fraction);
        String description = TarRunner.describe(params, vcpus) + String.format(Locale.ROOT,
                ", %d run%s per system, seeds %d..%d, cost model %s", runs, runs == 1 ? "" : "s", seed, seed + runs - 1, costs.name());
        long wallStart = System.nanoTime();
        Map<String, List<TarRunner.Outcome>> bySystem = runPairs(kinds, threads, (k, r) -> TarRunner.run(
                new TarRunner.Spec(k, vcpus, params, seed + r, costs, !noBatching), sinkFor(k, r, costs, "tar xf " + vcpus + " vCPUs")));
        double wall = (System.nanoTime() - wallStart) / 1e9;
        BenchReport report = BenchReport.of("tar", description, vcpus, runs, seed, costs.name(), bySystem, wall);
        PrintStream o = System.out;
        report.printTable(o);
        o.println();
        TarRunner.printPerSystem(o, bySystem);
        String base = TarRunner.base(vcpus, params);
        return finish(o, report, base, wall);
    }

    /** What every workload checks and opens before it runs: threads, systems, costs, the traced run. */
    private record Setup(int threads, List<SystemKind> kinds, CostModel costs) {
    }

    private Setup setUp() {
        positive("--runs", runs);
        int threads = jobs != null ? jobs : Runtime.getRuntime().availableProcessors();
        positive("--jobs", threads);
        List<SystemKind> kinds = parseSystems();
        CostModel costs = CostModel.presetOrFile(cost);
        trace = ChosenRunTraceOptions.open(traceOptions.choose(kinds, runs));
        return new Setup(threads, kinds, costs);
    }

    /** Every workload's report ends alike: the files written, the traced run, the simulation's speed. */
    private int finish(PrintStream o, BenchReport report, String base, double wall) {
        List<Path> files = report.write(out, base);
        o.println();
        o.println("wrote " + files.stream().map(Path::toString).reduce((a, b) -> a + ", " + b).orElse(""));
        printTraced(o);
        o.printf(Locale.ROOT, "simulated %.2f s in %.2f s of wall time: %.2f simulated seconds per wall second%n",
                report.simulatedSeconds(), wall, report.simulatedPerWallSecond());
        return 0;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    private static void positive(String option, long value) {
        if (value <= 0) {
            throw new UserErrors.UsageException(option + " must be positive, got " + value);
        }
    }
}
