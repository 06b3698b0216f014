package dev.javic.cli;

import dev.javic.experiment.Calibration;
import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.Reproduction;
import dev.javic.experiment.RunPool;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import dev.javic.workload.Hackbench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code javic calibrate}: fits the two free parameters of {@link Calibration} to the series' calibration
 * point and writes the calibrated cost file, which {@code bench} and {@code reproduce} take with
 * {@code --cost FILE}.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = "Fit at most two free parameters (the guest's CPU work and the exit path's world switch, each a factor on "
                + "its cost entries) to the series' one calibration point, hackbench 2 vCPUs -l 100000: 273.76 s vanilla, "
                + "260.51 s AVIC off, 248.53 s AVIC on; print every candidate and the fit, and write the calibrated cost file. "
                + "At the defaults (the series' scale, 10 runs, at most 5 candidates) it takes about 80 minutes on 2 cores.")
final class CalibrateCommand implements Callable<Integer> {
    @Option(names = "--loops", paramLabel = "L", description = "hackbench -l of each evaluation; below 100000 the time is scaled "
            + "linearly to -l 100000, a quick look only (default ${DEFAULT-VALUE}, the series' scale).", defaultValue = "100000")
    int loops;

    @Option(names = "--runs", paramLabel = "R", description = "Runs per system and candidate (default ${DEFAULT-VALUE}, as the "
            + "series and reproduce).", defaultValue = "10")
    int runs;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the first run; run i uses S + i (default ${DEFAULT-VALUE}).",
            defaultValue = "1")
    long seed;

    @Option(names = "--cost", paramLabel = "FILE|PRESET", description = "The cost model to calibrate (default ${DEFAULT-VALUE}).",
            defaultValue = CostModel.DEFAULT_PRESET)
    String cost;

    @Option(names = "--out", paramLabel = "FILE", description = "Where to write the calibrated cost file "
            + "(default ${DEFAULT-VALUE}).", defaultValue = "results/carrizo-2016-calibrated.yaml")
    Path out;

    @Option(names = "--jobs", paramLabel = "J", description = "Runs simulated in parallel (default: the number of cores). "
            + "The fit does not depend on it.")
    Integer jobs;

    @Option(names = "--verify", description = "With --loops below 100000: afterwards, run hackbench 2 vCPUs at the series' full "
            + "scale (-l 100000, one run per system) with the calibrated costs and compare it with the series (minutes of wall time).")
    boolean verify;

    @Override
    public Integer call() throws Exception {
        positive("--loops", loops);
        positive("--runs", runs);
        int threads = jobs != null ? jobs : Runtime.getRuntime().availableProcessors();
        positive("--jobs", threads);
        CostModel base = CostModel.presetOrFile(cost);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && Files.exists(parent) && !Files.isDirectory(parent)) {
            throw new UserErrors.UsageException("--out: " + parent + " is not a directory");
        }
        PrintStream o = System.out;
        o.printf(Locale.ROOT, "calibrating cost model %s against the series: hackbench 2 vCPUs -l %d, %s%n", base.name(),
                Reproduction.SERIES_LOOPS, targets());
        for (Calibration.Parameter p : Calibration.Parameter.values()) {
            o.printf(Locale.ROOT, "  parameter %s: a factor on %s%n%s", p.label(), p.description(),
                    wrap(p.costs().stream().map(c -> c.key() + "=" + base.get(c)).toList(), "    ", 110));
        }
        o.printf(Locale.ROOT, "  each candidate: hackbench -l %d, %d run%s per system (seeds %d..%d)%s%n",
                loops, runs, runs == 1 ? "" : "s", seed, seed + runs - 1, loops == Reproduction.SERIES_LOOPS ? ", the series' scale"
                        : String.format(Locale.ROOT, ", mean scaled x%s to -l %d (a quick look: the model is not linear in -l)",
                        BigDecimal.valueOf((double) Reproduction.SERIES_LOOPS / loops).round(new MathContext(4)).stripTrailingZeros()
                                .toPlainString(), Reproduction.SERIES_LOOPS));
        o.println();
        Calibration.Result r = new Calibration(new Calibration.Config(base, loops, runs, seed, threads), o::println).fit();
        Calibration.Point best = r.best();
        o.println();
        o.printf(Locale.ROOT, "fit after %d candidates in %.1f s of wall time:%n", r.evaluated().size(), r.wallSeconds());
        o.printf(Locale.ROOT, "  %s x%.3f, %s x%.3f%n", Calibration.Parameter.GUEST_CPU.label(), best.guestScale(),
                Calibration.Parameter.EXIT_PATH.label(), best.exitScale());
        o.printf(Locale.ROOT, "  %-10s %12s %12s %8s %16s%n", "system", "model (s)", "series (s)", "error", "switches/message");
        for (SystemKind k : SystemKind.values()) {
            o.printf(Locale.ROOT, "  %-10s %12.2f %12.2f %+7.1f%% %16.3f%n", k.label(), best.predictedSeconds().get(k),
                    Calibration.TARGETS.get(k), 100 * best.relativeError(k), best.contextSwitchesPerMessage().get(k));
        }
        o.printf(Locale.ROOT, "  largest error %.1f%%: %s the %.0f%% the calibration cell allows%n", 100 * best.maxRelativeError(),
                best.withinTolerance() ? "within" : "NOT within", 100 * Calibration.TOLERANCE);
        for (Calibration.Parameter p : Calibration.Parameter.values()) {
            o.printf(Locale.ROOT, "  %s%n", p.costs().stream().map(c -> c.key() + " " + base.get(c) + " -> " + r.calibrated().get(c))
                    .collect(Collectors.joining(", ")));
        }
        CostModel calibrated = r.calibrated().withName(base.name() + "-calibrated");
        write(calibrated, best);
        o.println();
        o.println("wrote " + out + " (use it with --cost " + out + ")");
        if (verify && loops < Reproduction.SERIES_LOOPS) {
            verify(o, calibrated, threads);
        }
        return 0;
    }

    private void write(CostModel calibrated, Calibration.Point best) throws IOException {
        String header = String.format(Locale.ROOT, """
                javic cost file written by ./javic calibrate --cost %s --loops %d --runs %d --seed %d
                Two free parameters fitted to the series' calibration point (hackbench 2 vCPUs -l 100000: 273.76 s vanilla,
                260.51 s AVIC off, 248.53 s AVIC on): %s x%.3f, %s x%.3f; largest error %.1f%% (model: hackbench -l %d,
                mean of %d run%s per system%s). Every other entry is the base model's, unchanged.
                Re-run the command to reproduce this file.""",
                cost, loops, runs, seed, Calibration.Parameter.GUEST_CPU.label(), best.guestScale(),
                Calibration.Parameter.EXIT_PATH.label(), best.exitScale(), 100 * best.maxRelativeError(), loops, runs,
                runs == 1 ? "" : "s", loops == Reproduction.SERIES_LOOPS ? "" : ", scaled linearly to -l " + Reproduction.SERIES_LOOPS);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(out, calibrated.toYaml(header));
    }

    private void verify(PrintStream o, CostModel calibrated, int threads) throws InterruptedException {
        o.println();
        o.printf(Locale.ROOT, "verifying at the series' scale (hackbench 2 vCPUs -l %d, seed %d, one run per system)...%n",
                Reproduction.SERIES_LOOPS, seed);
        Hackbench.Params params = Hackbench.Params.of(Reproduction.SERIES_GROUPS, Reproduction.SERIES_LOOPS);
        List<Callable<HackbenchRunner.Outcome>> tasks = new ArrayList<>();
        for (SystemKind k : SystemKind.values()) {
            tasks.add(() -> HackbenchRunner.run(new HackbenchRunner.Spec(k, 2, params, seed, calibrated, true)));
        }
        List<HackbenchRunner.Outcome> outcomes = RunPool.run(tasks, threads, null);
        for (int i = 0; i < outcomes.size(); i++) {
            SystemKind k = SystemKind.values()[i];
            double s = outcomes.get(i).seconds();
            o.printf(Locale.ROOT, "  %-10s %12.2f s  series %8.2f s  %+6.1f%%%n", k.label(), s, Calibration.TARGETS.get(k),
                    100 * (s / Calibration.TARGETS.get(k) - 1));
        }
    }

    /** {@code items} joined by ", " in lines of at most {@code width} characters, each starting with {@code indent}. */
    static String wrap(List<String> items, String indent, int width) {
        StringBuilder out = new StringBuilder();
        StringBuilder line = new StringBuilder(indent);
        for (String item : items) {
            if (line.length() > indent.length() && line.length() + item.length() + 2 > width) {
                out.append(line).append(",\n");
                line = new StringBuilder(indent);
            } else if (line.length() > indent.length()) {
                line.append(", ");
            }
            line.append(item);
        }
        return out.append(line).append('\n').toString();
    }

    private static String targets() {
        return Calibration.TARGETS.entrySet().stream()
                .map(e -> String.format(Locale.ROOT, "%s %.2f s", e.getKey().label(), e.getValue()))
                .collect(Collectors.joining(", "));
    }

    private static void positive(String option, long value) {
        if (value <= 0) {
            throw new UserErrors.UsageException(option + " must be positive, got " + value);
        }
    }
}
