package dev.javic.cli;

import dev.javic.experiment.ReproduceReport;
import dev.javic.experiment.Reproduction;
import dev.javic.sim.CostModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code javic reproduce}: the series' whole table (hackbench 2 and 4 vCPUs, tar 4 vCPUs, netperf 1 vCPU; three
 * systems; 10 runs), printed like the series with the statistics and the counts that explain it, the
 * calibration cell beside the series' figures, and JSON, CSV and plots in {@code --out}.
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
        description = "Reproduce the AVIC series' measurements: hackbench -p -l 100000 (10 groups) on 2 and 4 vCPUs, tar xf "
                + "linux-4.3.3.tar.xz on 4 vCPUs, netperf TCP_RR 60 s on 1 vCPU; Vanilla, AVIC disabled and AVIC; 10 runs each.")
final class ReproduceCommand implements Callable<Integer> {
    @Option(names = "--quick", description = "Scale the work down for a fast look and for CI: hackbench -l "
            + Reproduction.QUICK_LOOPS + ", netperf " + (int) Reproduction.QUICK_NETPERF_SECONDS + " s, tar xf of "
            + (int) (Reproduction.QUICK_TAR_FRACTION * 100) + " % of the tarball, "
            + Reproduction.QUICK_RUNS + " runs per system (unless --runs). Said in the output.")
    boolean quick;

    @Option(names = "--runs", paramLabel = "R", description = "Runs per system and workload (default 10; "
            + Reproduction.QUICK_RUNS + " with --quick).")
    Integer runs;

    @Option(names = "--loops", paramLabel = "L", description = "Override hackbench -l (default 100000; "
            + Reproduction.QUICK_LOOPS + " with --quick). The output says the table is scaled.")
    Integer loops;

    @Option(names = "--netperf-seconds", paramLabel = "S", description = "Override netperf -l (default 60; "
            + (int) Reproduction.QUICK_NETPERF_SECONDS + " with --quick). The output says the table is scaled.")
    Double netperfSeconds;

    @Option(names = "--tar-fraction", paramLabel = "F", description = "Override the fraction of linux-4.3.3.tar.xz tar extracts "
            + "(default 1; " + Reproduction.QUICK_TAR_FRACTION + " with --quick), in a guest with that fraction of the RAM. "
            + "The output says the table is scaled.")
    Double tarFraction;

    @Option(names = "--jobs", paramLabel = "J", description = "Runs simulated in parallel (default: the number of cores). "
            + "Results do not depend on it.")
    Integer jobs;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the first run; run i uses S + i (default ${DEFAULT-VALUE}).",
            defaultValue = "1")
    long seed;

    @Option(names = "--cost", paramLabel = "FILE|PRESET", description = "Cost preset or file (default ${DEFAULT-VALUE}).",
            defaultValue = CostModel.CALIBRATED_PRESET)
    String cost;

    @Option(names = "--out", paramLabel = "DIR", description = "Where to write JSON, CSV and plots (default ${DEFAULT-VALUE}).",
            defaultValue = "results")
    Path out;

    @Mixin
    ChosenRunTraceOptions traceOptions;

    @Option(names = "--trace-cell", paramLabel = "CELL",
            description = "With --trace: the workload of the traced run: hackbench-2, hackbench-4, tar or netperf (default hackbench-2).")
    String traceCell;

    @Override
    public Integer call() throws Exception {
        if (runs != null) {
            positive("--runs", runs);
        }
        if (loops != null) {
            positive("--loops", loops);
        }
        if (netperfSeconds != null && (!(netperfSeconds > 0) || netperfSeconds.isInfinite())) {
            throw new UserErrors.UsageException("--netperf-seconds must be positive, got " + netperfSeconds);
        }
        if (tarFraction != null && (!(tarFraction > 0) || tarFraction > 1)) {
            throw new UserErrors.UsageException("--tar-fraction must be in (0, 1], got " + tarFraction);
        }
        int threads = jobs != null ? jobs : Runtime.getRuntime().availableProcessors();
        positive("--jobs", threads);
        CostModel costs = CostModel.presetOrFile(cost);
        Reproduction.Config config = Reproduction.Config.of(quick, runs, seed, costs);
        if (loops != null) {
            config = config.withLoops(loops);
        }
        if (netperfSeconds != null) {
            config = config.withNetperfSeconds(netperfSeconds);
        }
        if (tarFraction != null) {
            config = config.withTarFraction(tarFraction);
        }

        ChosenRunTraceOptions.Choice choice = traceOptions.choose(config.systems(), config.runs());
        Reproduction.Cell cell = null;
        if (traceCell != null) {
            if (choice == null) {
                throw new UserErrors.UsageException("--trace-cell needs --trace OUT");
            }
            try {
                cell = Reproduction.Cell.parse(traceCell.strip());
            } catch (IllegalArgumentException e) {
                throw new UserErrors.UsageException("--trace-cell: " + e.getMessage());
            }
        }
        choice = ChosenRunTraceOptions.open(choice);
        Reproduction.TraceChoice trace = choice == null ? null
                : new Reproduction.TraceChoice(cell == null ? Reproduction.Cell.HACKBENCH_2 : cell, choice.system(), choice.run(),
                choice.sinks());

        Reproduction.Result result;
        try (Progress bar = Progress.of("reproduce", Reproduction.runCount(config))) {
            result = Reproduction.run(config, threads, trace, bar::step);
        }
        ReproduceReport report = new ReproduceReport(result);
        PrintStream o = System.out;
        report.print(o);
        List<Path> files = report.write(out);
        o.println();
        o.println("wrote " + files.size() + " files to " + out + ": " + report.base() + ".json, .csv, .png (the table) and each "
                + "workload's own JSON, CSV and plot");
        if (trace != null) {
            o.printf(Locale.ROOT, "traced %s run %d on %s (seed %d) to %s (%s)%n", trace.cell().label(), trace.run(),
                    trace.system().label(), config.seed() + trace.run(), choice.file(), choice.format().label());
        }
        o.printf(Locale.ROOT, "simulated %.1f s in %.1f s of wall time on %d thread%s: %.2f simulated seconds per wall second%n",
                result.simulatedSeconds(), result.wallSeconds(), threads, threads == 1 ? "" : "s", result.simulatedPerWallSecond());
        o.printf(Locale.ROOT, "wall time: %s%n", wall(result.wallSeconds()));
        return 0;
    }

    private static String wall(double s) {
        long m = (long) (s / 60);
        return m > 0 ? String.format(Locale.ROOT, "%d min %.1f s", m, s - 60 * m) : String.format(Locale.ROOT, "%.1f s", s);
    }

    private static void positive(String option, long value) {
        if (value <= 0) {
            throw new UserErrors.UsageException(option + " must be positive, got " + value);
        }
    }
}
