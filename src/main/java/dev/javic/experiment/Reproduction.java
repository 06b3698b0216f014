package dev.javic.experiment;

import dev.javic.sim.CostModel;
import dev.javic.trace.TraceSink;
import dev.javic.workload.Hackbench;
import dev.javic.workload.tar.Tar;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * The series' whole table (mission item 14): hackbench {@code -p -l 100000}, 10 groups, on 2 and on 4 vCPUs,
 * {@code tar xf} on 4 vCPUs, netperf TCP_RR for 60 s on 1 vCPU; each on vanilla, avic-off and avic-on, 10 runs
 * (run r uses seed + r). Every run is independent, so they are spread over threads with {@link RunPool}
 * and the result does not depend on how many.
 */
public final class Reproduction {
    /** The series' scale. */
    public static final int SERIES_LOOPS = 100_000;
    public static final int SERIES_GROUPS = 10;
    public static final double SERIES_NETPERF_SECONDS = 60;
    public static final int SERIES_RUNS = 10;
    /** {@code --quick}: 1/100 of hackbench's loops, 5 s of netperf, 5 runs (still enough for a CI and Welch's test). */
    public static final int QUICK_LOOPS = 1_000;
    public static final double QUICK_NETPERF_SECONDS = 5;
    public static final int QUICK_RUNS = 5;
    /** {@code --quick}: tar xf of a tenth of the tarball's files, directories and bytes, in a guest with a tenth of the RAM. */
    public static final double QUICK_TAR_FRACTION = 0.1;

    /** The series' calibration cell, hackbench on 2 vCPUs {@code -l 100000}, in seconds (Carrizo, 2016). */
    public static final Map<String, Double> SERIES_HACKBENCH_2 = Map.of("vanilla", 273.76, "avic-off", 260.51, "avic-on", 248.53);

    /** The rows of the series' table, in its order. */
    public enum Cell {
        HACKBENCH_2("hackbench-2", "hackbench 2 vCPUs", 2, BenchReport.Metric.TIME),
        HACKBENCH_4("hackbench-4", "hackbench 4 vCPUs", 4, BenchReport.Metric.TIME),
        TAR_4("tar", "tar xf 4 vCPUs", 4, BenchReport.Metric.TIME),
        NETPERF_1("netperf", "netperf TCP_RR 1 vCPU", 1, BenchReport.Metric.TRANSACTIONS);

        private final String label;
        private final String title;
        private final int vcpus;
        private final BenchReport.Metric metric;

        Cell(String label, String title, int vcpus, BenchReport.Metric metric) {
            this.label = label;
            this.title = title;
            this.vcpus = vcpus;
            this.metric = metric;
        }

        public String label() {
            return label;
        }

        public String title() {
            return title;
        }

        public int vcpus() {
            return vcpus;
        }

        public BenchReport.Metric metric() {
            return metric;
        }

        /** A cell by label (tar also as tar-4, tar-4vcpu, ...). */
        public static Cell parse(String s) {
            for (Cell c : values()) {
                if (c.label.equalsIgnoreCase(s) || (c == TAR_4 && s.toLowerCase(Locale.ROOT).startsWith("tar"))) {
                    return c;
                }
            }
            throw new IllegalArgumentException("unknown cell '" + s + "' (choose " + Arrays.stream(values())
                    .map(Cell::label).collect(Collectors.joining(", ")) + ")");
        }
    }

    /**
     * What to run.
     *
     * @param quick          scaled down with {@code --quick} (said in the output)
     * @param groups         hackbench -g
     * @param loops          hackbench -l
     * @param netperfSeconds netperf -l
     * @param tarFraction    the fraction of linux-4.3.3.tar.xz that tar extracts (1: all of it)
     * @param runs           runs per system and cell
     * @param seed           seed of run 0; run r uses seed + r
     * @param costs          the cost model
     * @param systems        the systems, in column order
     */
    public record Config(boolean quick, int groups, int loops, double netperfSeconds, double tarFraction, int runs, long seed,
                         CostModel costs, List<SystemKind> systems) {
        public Config {
            if (groups < 1 || loops < 1 || runs < 1 || !(netperfSeconds > 0) || Double.isInfinite(netperfSeconds)) {
                throw new IllegalArgumentException("groups, loops, runs and seconds must be positive");
            }
            if (!(tarFraction > 0) || tarFraction > 1) {
                throw new IllegalArgumentException("the tar fraction must be in (0, 1]");
            }
            systems = List.copyOf(systems);
            if (systems.isEmpty()) {
                throw new IllegalArgumentException("no system");
            }
        }

        /** The series' table, or {@code --quick}'s scaled-down one; {@code runs}, when not null, overrides the count. */
        public static Config of(boolean quick, Integer runs, long seed, CostModel costs) {
            return new Config(quick, SERIES_GROUPS, quick ? QUICK_LOOPS : SERIES_LOOPS,
                    quick ? QUICK_NETPERF_SECONDS : SERIES_NETPERF_SECONDS, quick ? QUICK_TAR_FRACTION : 1,
                    runs != null ? runs : quick ? QUICK_RUNS : SERIES_RUNS, seed, costs, List.of(SystemKind.values()));
        }

        public Config withLoops(int l) {
            return new Config(quick, groups, l, netperfSeconds, tarFraction, runs, seed, costs, systems);
        }

        public Config withNetperfSeconds(double s) {
            return new Config(quick, groups, loops, s, tarFraction, runs, seed, costs, systems);
        }

        public Config withTarFraction(double f) {
            return new Config(quick, groups, loops, netperfSeconds, f, runs, seed, costs, systems);
        }

        /** The tarball tar extracts. */
        public Tar.Params tarParams() {
            return tarFraction == 1 ? Tar.Params.LINUX_4_3_3 : Tar.Params.LINUX_4_3_3.scaled(tarFraction);
        }

        /** Whether hackbench runs at the series' scale, so the calibration cell can be compared with its figures. */
        public boolean seriesScale() {
            return loops == SERIES_LOOPS && groups == SERIES_GROUPS;
        }

        /** What differs from the series' scale, in words ({@code ""} when nothing does). */
        public String scaledDown() {
            List<String> parts = new ArrayList<>();
            if (loops != SERIES_LOOPS) {
                parts.add("hackbench -l " + loops + " instead of -l " + SERIES_LOOPS);
            }
            if (groups != SERIES_GROUPS) {
                parts.add("hackbench -g " + groups + " instead of -g " + SERIES_GROUPS);
            }
            if (netperfSeconds != SERIES_NETPERF_SECONDS) {
                parts.add("netperf -l " + fmt(netperfSeconds) + " s instead of " + fmt(SERIES_NETPERF_SECONDS) + " s");
            }
            if (tarFraction != 1) {
                parts.add("tar xf of " + fmt(tarFraction * 100) + " % of the tarball's files and bytes (and of the guest's RAM) "
                        + "instead of all of it");
            }
            if (runs != SERIES_RUNS) {
                parts.add(runs + " run" + (runs == 1 ? "" : "s") + " per system instead of " + SERIES_RUNS);
            }
            return String.join(", ", parts);
        }

        /** The file name of a cell's JSON/CSV/plot, as {@code bench} names them. */
        public String base(Cell cell) {
            return switch (cell) {
                case HACKBENCH_2, HACKBENCH_4 -> String.format(Locale.ROOT, "hackbench-%dvcpu-g%d-l%d", cell.vcpus(), groups, loops);
                case NETPERF_1 -> "netperf-tcp_rr-" + fmt(netperfSeconds) + "s";
                case TAR_4 -> TarRunner.base(cell.vcpus(), tarParams());
            };
        }

        /** A cell's workload in words, for its report. */
        public String describe(Cell cell) {
            String runsText = String.format(Locale.ROOT, "%d run%s per system, seeds %d..%d, cost model %s", runs,
                    runs == 1 ? "" : "s", seed, seed + runs - 1, costs.name());
            return switch (cell) {
                case HACKBENCH_2, HACKBENCH_4 -> {
                    Hackbench.Params p = Hackbench.Params.of(groups, loops);
                    yield String.format(Locale.ROOT, "hackbench -p -g %d -l %d (%d tasks, %d messages of %d bytes), %d vCPUs, %s",
                            groups, loops, p.tasks() - 1, p.messages(), Hackbench.MESSAGE_BYTES, cell.vcpus(), runsText);
                }
                case NETPERF_1 -> String.format(Locale.ROOT,
                        "netperf -t TCP_RR -l %s (1-byte request/response) over virtio-net + vhost-net, tap, bridge; 1 vCPU; %s",
                        fmt(netperfSeconds), runsText);
                case TAR_4 -> TarRunner.describe(tarParams(), cell.vcpus()) + "; " + runsText;
            };
        }
    }

    /** Opens the sink of the one traced run. */
    @FunctionalInterface
    public interface SinkFactory {
        TraceSink open(long tscHz, int hostCpus, int vcpus, String title);
    }

    /** The one run to trace: cell, system and run index; every other run has no sink. */
    public record TraceChoice(Cell cell, SystemKind system, int run, SinkFactory sinks) {
    }

    /** One cell's outcome: its description, file name and report. */
    public record CellResult(Cell cell, String description, String base, BenchReport report) {
    }

    /** The whole table. {@code wallSeconds} is the wall time of all runs; {@code jobs} the threads used. */
    public record Result(Config config, List<CellResult> cells, double wallSeconds, int jobs) {
        public double simulatedSeconds() {
            return cells.stream().mapToDouble(c -> c.report().simulatedSeconds()).sum();
        }

        public double simulatedPerWallSecond() {
            return wallSeconds > 0 ? simulatedSeconds() / wallSeconds : 0;
        }

        public CellResult cell(Cell cell) {
            return cells.stream().filter(c -> c.cell() == cell).findFirst().orElseThrow();
        }
    }

    private record Task(Cell cell, SystemKind system, int run) {
    }

    private Reproduction() {
    }

    /** Runs in a cell x system x run order that puts the longest runs first (the pool then balances the tail). */
    private static List<Task> tasks(Config config) {
        List<Task> tasks = new ArrayList<>();
        for (Cell cell : List.of(Cell.HACKBENCH_4, Cell.HACKBENCH_2, Cell.NETPERF_1, Cell.TAR_4)) {
            for (int r = 0; r < config.runs(); r++) {
                for (SystemKind k : config.systems()) {
                    tasks.add(new Task(cell, k, r));
                }
            }
        }
        return tasks;
    }

    /** The number of runs {@link #run} does (for a progress bar). */
    public static int runCount(Config config) {
        return tasks(config).size();
    }

    /**
     * Runs the table on {@code jobs} threads.
     *
     * @param trace  the one run to trace, or null
     * @param onDone called after each run (progress), may be null
     */
    public static Result run(Config config, int jobs, TraceChoice trace, Runnable onDone) throws InterruptedException {
        List<Task> tasks = tasks(config);
        double[] runWall = new double[tasks.size()];
        List<Callable<BenchRun>> callables = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            int index = i;
            boolean traced = trace != null && trace.cell() == t.cell() && trace.system() == t.system() && trace.run() == t.run();
            callables.add(() -> {
                long start = System.nanoTime();
                TraceSink sink = traced ? trace.sinks().open(config.costs().tscHz(), HackbenchRunner.HOST_CPUS, t.cell().vcpus(),
                        t.cell().title() + " run " + t.run() + " (" + t.system().label() + ")") : null;
                BenchRun r = runOne(config, t, sink);
                runWall[index] = (System.nanoTime() - start) / 1e9;
                return r;
            });
        }
        long wallStart = System.nanoTime();
        List<BenchRun> results = RunPool.run(callables, jobs, onDone);
        double wall = (System.nanoTime() - wallStart) / 1e9;

        List<CellResult> cells = new ArrayList<>();
        for (Cell cell : Cell.values()) {
            Map<String, List<BenchRun>> bySystem = new LinkedHashMap<>();
            double cellWall = 0;
            for (SystemKind k : config.systems()) {
                List<BenchRun> list = new ArrayList<>();
                for (int r = 0; r < config.runs(); r++) {
                    int index = tasks.indexOf(new Task(cell, k, r));
                    list.add(results.get(index));
                    cellWall += runWall[index];
                }
                bySystem.put(k.label(), list);
            }
            String workload = switch (cell) {
                case NETPERF_1 -> "netperf";
                case TAR_4 -> "tar";
                default -> "hackbench";
            };
            BenchReport report = BenchReport.of(workload, config.describe(cell),
                    cell.vcpus(), config.runs(), config.seed(), config.costs().name(), cell.metric(), bySystem, cellWall);
            cells.add(new CellResult(cell, config.describe(cell), config.base(cell), report));
        }
        return new Result(config, cells, wall, jobs);
    }

    private static BenchRun runOne(Config config, Task t, TraceSink sink) {
        long seed = config.seed() + t.run();
        return switch (t.cell()) {
            case HACKBENCH_2, HACKBENCH_4 -> HackbenchRunner.run(new HackbenchRunner.Spec(t.system(), t.cell().vcpus(),
                    Hackbench.Params.of(config.groups(), config.loops()), seed, config.costs(), true), sink);
            case NETPERF_1 -> NetperfRunner.run(NetperfRunner.Spec.of(t.system(), config.netperfSeconds(), seed, config.costs()),
                    sink);
            case TAR_4 -> TarRunner.run(new TarRunner.Spec(t.system(), t.cell().vcpus(), config.tarParams(), seed, config.costs(),
                    true), sink);
        };
    }

    static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
