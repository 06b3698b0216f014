package dev.javic.experiment;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The result of a benchmark: every run per system, each system's summary (mean, sd, 95 % CI, exits per
 * second, interrupts delivered) and each pair of systems compared with Welch's t-test; printed as a table in
 * the series' layout and written as JSON, CSV and a PNG plot.
 */
public record BenchReport(String workload, String description, int vcpus, int runs, long seed, String costModel,
                          Metric metric, List<SystemSummary> systems, List<Comparison> comparisons, double wallSeconds,
                          double simulatedSeconds) {

    /**
     * What a run's {@link BenchRun#value()} is: its column head, the series' wording, the plot's axis.
     * The summary's {@code meanSeconds} etc. then hold that value (kept under their first name for JSON).
     */
    public record Metric(String column, String seriesWording, String axis) {
        public static final Metric TIME = new Metric("Time (s)", "time in seconds", "time (s)");
        public static final Metric TRANSACTIONS = new Metric("Trans/s", "transactions per second", "transactions / s");
    }

    public record SystemSummary(String system, String seriesName, double meanSeconds, double sdSeconds,
                                double ci95Low, double ci95High, double exitsPerSecond, double interruptsDelivered,
                                double reschedIpis, double contextSwitches, List<? extends BenchRun> runs) {
    }

    /** {@code system} against {@code baseline}: change of the mean time in percent, and Welch's p. */
    public record Comparison(String system, String baseline, double changePercent, double welchP) {
    }

    /** The series' names for the three systems. */
    public static String seriesName(String label) {
        return switch (label) {
            case "vanilla" -> "Vanilla";
            case "avic-off" -> "AVIC disabled";
            case "avic-on" -> "AVIC";
            default -> label;
        };
    }

    public static BenchReport of(String workload, String description, int vcpus, int runs, long seed, String costModel,
                                 Map<String, ? extends List<? extends BenchRun>> bySystem, double wallSeconds) {
        return of(workload, description, vcpus, runs, seed, costModel, Metric.TIME, bySystem, wallSeconds);
    }

    public static BenchReport of(String workload, String description, int vcpus, int runs, long seed, String costModel,
                                 Metric metric, Map<String, ? extends List<? extends BenchRun>> bySystem, double wallSeconds) {
        List<SystemSummary> summaries = new ArrayList<>();
        Map<String, double[]> times = new LinkedHashMap<>();
        double simulated = 0;
        for (Map.Entry<String, ? extends List<? extends BenchRun>> e : bySystem.entrySet()) {
            List<? extends BenchRun> rs = e.getValue();
            double[] t = rs.stream().mapToDouble(BenchRun::value).toArray();
            times.put(e.getKey(), t);
            double mean = Statistics.mean(t);
            double half = Statistics.ci95HalfWidth(t);
            simulated += rs.stream().mapToDouble(BenchRun::simulatedSeconds).sum();
            summaries.add(new SystemSummary(e.getKey(), seriesName(e.getKey()), mean, Statistics.sd(t), mean - half,
                    mean + half, rs.stream().mapToDouble(BenchRun::exitsPerSecond).average().orElse(0),
                    rs.stream().mapToDouble(BenchRun::interruptsDelivered).average().orElse(0),
                    rs.stream().mapToDouble(BenchRun::reschedIpis).average().orElse(0),
                    rs.stream().mapToDouble(BenchRun::contextSwitches).average().orElse(0), rs));
        }
        List<Comparison> comparisons = new ArrayList<>();
        for (String a : times.keySet()) {
            for (String b : times.keySet()) {
                if (!a.equals(b)) {
                    double ma = Statistics.mean(times.get(a));
                    double mb = Statistics.mean(times.get(b));
                    comparisons.add(new Comparison(a, b, 100 * (ma - mb) / mb, Statistics.welchP(times.get(a), times.get(b))));
                }
            }
        }
        return new BenchReport(workload, description, vcpus, runs, seed, costModel, metric, summaries, comparisons, wallSeconds,
                simulated);
    }

    public double simulatedPerWallSecond() {
        return wallSeconds > 0 ? simulatedSeconds / wallSeconds : 0;
    }

    /** {@code system} against {@code baseline}, or null when either did not run. */
    public Comparison comparison(String system, String baseline) {
        for (Comparison c : comparisons) {
            if (c.system().equals(system) && c.baseline().equals(baseline)) {
                return c;
            }
        }
        return null;
    }

    /** The summary of {@code system} (a label such as {@code avic-on}), or null when it did not run. */
    public SystemSummary summary(String system) {
        for (SystemSummary s : systems) {
            if (s.system().equals(system)) {
                return s;
            }
        }
        return null;
    }

    // ---- text --------------------------------------------------------------------------------------------------

    public void printTable(PrintStream out) {
        out.println(description);
        out.println();
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-15s %12s %10s  %-25s", "System",
                metric.column(), "sd", "95% CI"));
        for (SystemSummary s : systems) {
            head.append(String.format(Locale.ROOT, "  %-22s", "vs " + s.system()));
        }
        head.append(String.format(Locale.ROOT, "  %12s  %12s  %12s", "exits/s", "interrupts", "resched IPIs"));
        out.println(head);
        for (SystemSummary s : systems) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-15s %12.4f %10.4f  %-25s", s.seriesName(),
                    s.meanSeconds(), s.sdSeconds(), ci(s)));
            for (SystemSummary b : systems) {
                Comparison c = comparison(s.system(), b.system());
                row.append(String.format(Locale.ROOT, "  %-22s", c == null ? "-" : change(c)));
            }
            row.append(String.format(Locale.ROOT, "  %12.0f  %12.0f  %12.0f", s.exitsPerSecond(), s.interruptsDelivered(),
                    s.reschedIpis()));
            out.println(row);
        }
        out.println();
        out.println("As in the series (" + metric.seriesWording() + ", mean of " + runs + (runs == 1 ? " run" : " runs") + "):");
        StringBuilder h = new StringBuilder(String.format(Locale.ROOT, "%-22s", ""));
        StringBuilder r = new StringBuilder(String.format(Locale.ROOT, "%-22s", workload + " " + vcpus + " vCPU"));
        for (SystemSummary s : systems) {
            h.append(String.format(Locale.ROOT, "%16s", s.seriesName()));
            r.append(String.format(Locale.ROOT, "%16.4f", s.meanSeconds()));
        }
        out.println(h);
        out.println(r);
    }

    private static String ci(SystemSummary s) {
        if (Double.isNaN(s.ci95Low())) {
            return "n/a (1 run)";
        }
        return String.format(Locale.ROOT, "[%.4f, %.4f]", s.ci95Low(), s.ci95High());
    }

    private static String change(Comparison c) {
        String p = Double.isNaN(c.welchP()) ? "p n/a" : String.format(Locale.ROOT, "p=%.3g", c.welchP());
        return String.format(Locale.ROOT, "%+.2f%% (%s)", c.changePercent(), p);
    }

    // ---- files -------------------------------------------------------------------------------------------------

    /** Writes {@code <base>.json}, {@code <base>.csv} and {@code <base>.png} into {@code dir}; returns the paths. */
    public List<Path> write(Path dir, String base) {
        try {
            Files.createDirectories(dir);
            Path json = dir.resolve(base + ".json");
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), this);
            Path csv = dir.resolve(base + ".csv");
            Files.writeString(csv, csv());
            Path png = dir.resolve(base + ".png");
            plot(png);
            return List.of(json, csv, png);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String csv() {
        StringBuilder b = new StringBuilder("workload,vcpus,system,run,seed,"
                + (metric.equals(Metric.TIME) ? "seconds" : "transactions_per_second") + ",simulated_seconds,exits,exits_per_second,"
                + "interrupts_delivered,resched_ipis,context_switches,wakeups,migrations,halt_exits,doorbells,host_ipis,events\n");
        for (SystemSummary s : systems) {
            int i = 0;
            for (BenchRun o : s.runs()) {
                b.append(String.format(Locale.ROOT, "%s,%d,%s,%d,%d,%.9f,%.9f,%d,%.1f,%d,%d,%d,%d,%d,%d,%d,%d,%d%n", workload,
                        vcpus, s.system(), i++, o.seed(), o.value(), o.simulatedSeconds(), o.exits(), o.exitsPerSecond(),
                        o.interruptsDelivered(), o.reschedIpis(), o.contextSwitches(), o.wakeups(), o.migrations(),
                        o.haltExits(), o.doorbells(), o.hostIpis(), o.events()));
            }
        }
        return b.toString();
    }

    private void plot(Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        CategoryChart chart = new CategoryChartBuilder().width(720).height(480)
                .title(workload + ", " + vcpus + " vCPU" + (vcpus == 1 ? "" : "s") + " (mean of " + runs + ", 95% CI)")
                .xAxisTitle("system").yAxisTitle(metric.axis()).build();
        chart.getStyler().setLegendVisible(false);
        List<String> names = new ArrayList<>();
        List<Double> means = new ArrayList<>();
        List<Double> errors = new ArrayList<>();
        for (SystemSummary s : systems) {
            names.add(s.seriesName());
            means.add(s.meanSeconds());
            errors.add(Double.isNaN(s.ci95Low()) ? 0.0 : s.ci95High() - s.meanSeconds());
        }
        chart.addSeries("time", names, means, errors);
        String file = png.toString();
        BitmapEncoder.saveBitmap(chart, file.substring(0, file.length() - ".png".length()), BitmapEncoder.BitmapFormat.PNG);
    }
}
