package dev.javic.experiment;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.javic.experiment.Reproduction.Cell;
import dev.javic.experiment.Reproduction.CellResult;
import dev.javic.experiment.Reproduction.Result;
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
 * The series' table as {@code reproduce} prints and writes it: rows = workloads, columns = the three systems
 * (mean); then the spread and the change against Vanilla (Welch's t-test); then what the hypervisor counted
 * (exits per second, interrupts delivered), which is why the numbers differ; then the calibration cell beside
 * the series' own figures. Files: {@code reproduce[-quick].json/.csv/.png}, plus each cell's own JSON, CSV
 * and plot as {@code bench} writes them.
 */
public final class ReproduceReport {
    private static final String BASELINE = "vanilla";

    private final Result result;

    public ReproduceReport(Result result) {
        this.result = result;
    }

    /** The file name of the summary files: {@code reproduce}, or {@code reproduce-quick} / {@code reproduce-scaled}. */
    public String base() {
        Reproduction.Config c = result.config();
        return c.quick() ? "reproduce-quick" : c.scaledDown().isEmpty() ? "reproduce" : "reproduce-scaled";
    }

    // ---- text --------------------------------------------------------------------------------------------------

    public void print(PrintStream out) {
        Reproduction.Config c = result.config();
        out.println("The measurements of \"KVM: x86: Introduce SVM AVIC support\" (2016), on javic's model of the series' machine");
        out.printf(Locale.ROOT, "(AMD family 15h model 6xh, 4 cores); cost model %s; %d run%s per system, seeds %d..%d.%n",
                c.costs().name(), c.runs(), c.runs() == 1 ? "" : "s", c.seed(), c.seed() + c.runs() - 1);
        if (c.quick()) {
            out.println("QUICK (--quick): scaled down for a fast look: " + c.scaledDown()
                    + ". Everything else is the series' setup; the times are not the series' scale.");
        } else if (!c.scaledDown().isEmpty()) {
            out.println("SCALED: " + c.scaledDown() + ". The times are not the series' scale.");
        }
        out.println();

        // 1. The series' layout.
        String head = String.format(Locale.ROOT, "%-34s", "Mean of " + c.runs() + " run" + (c.runs() == 1 ? "" : "s"));
        StringBuilder h = new StringBuilder(head);
        for (SystemKind k : c.systems()) {
            h.append(String.format(Locale.ROOT, "%16s", BenchReport.seriesName(k.label())));
        }
        out.println(h);
        for (CellResult cr : result.cells()) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-34s", rowTitle(cr)));
            for (SystemKind k : c.systems()) {
                row.append(String.format(Locale.ROOT, "%16s", value(cr.cell(), cr.report().summary(k.label()).meanSeconds())));
            }
            out.println(row);
        }
        out.println();

        // 2. Spread and change vs Vanilla.
        out.println("Spread and change vs Vanilla (sd, 95% confidence interval of the mean, Welch's t-test):");
        out.printf(Locale.ROOT, "%-24s %-15s %14s %12s  %-27s  %s%n", "workload", "system", "mean", "sd", "95% CI", "vs Vanilla");
        for (CellResult cr : result.cells()) {
            boolean first = true;
            for (BenchReport.SystemSummary s : cr.report().systems()) {
                BenchReport.Comparison cmp = cr.report().comparison(s.system(), BASELINE);
                out.printf(Locale.ROOT, "%-24s %-15s %14s %12s  %-27s  %s%n", first ? cr.cell().title() : "", s.seriesName(),
                        value(cr.cell(), s.meanSeconds()), value(cr.cell(), s.sdSeconds()), ci(cr.cell(), s),
                        cmp == null ? "-" : change(cmp));
                first = false;
            }
        }
        out.println();

        // 3. Why.
        out.println("Why they differ (per run, mean over runs): exits the hypervisor took and interrupts the guest took:");
        out.printf(Locale.ROOT, "%-24s %-15s %12s %12s %12s %12s %12s %12s%n", "workload", "system", "exits/s", "exits",
                "interrupts", "halt exits", "doorbells", "host IPIs");
        for (CellResult cr : result.cells()) {
            boolean first = true;
            for (BenchReport.SystemSummary s : cr.report().systems()) {
                out.printf(Locale.ROOT, "%-24s %-15s %12.0f %12.0f %12.0f %12.0f %12.0f %12.0f%n", first ? cr.cell().title() : "",
                        s.seriesName(), s.exitsPerSecond(), mean(s, BenchRun::exits), s.interruptsDelivered(),
                        mean(s, BenchRun::haltExits), mean(s, BenchRun::doorbells), mean(s, BenchRun::hostIpis));
                first = false;
            }
        }
        out.println();

        // 4. Calibration cell.
        printCalibration(out);
    }

    private void printCalibration(PrintStream out) {
        Reproduction.Config c = result.config();
        BenchReport hb2 = result.cell(Cell.HACKBENCH_2).report();
        out.println("Calibration cell: hackbench -p -l 100000, 10 groups, 2 vCPUs; the series' figures (Carrizo, 2016) beside the model's:");
        boolean comparable = c.seriesScale();
        String modelHead = comparable ? "model (s)" : "model -l " + c.loops();
        out.printf(Locale.ROOT, "%-15s %12s %14s %12s%n", "system", "series (s)", modelHead, "difference");
        double largest = 0;
        for (SystemKind k : c.systems()) {
            Double series = Reproduction.SERIES_HACKBENCH_2.get(k.label());
            double model = hb2.summary(k.label()).meanSeconds();
            largest = Math.max(largest, Math.abs(model - series) / series);
            String diff = !comparable ? "n/a" : String.format(Locale.ROOT, "%+.1f%%", 100 * (model - series) / series);
            out.printf(Locale.ROOT, "%-15s %12.2f %14s %12s%n", BenchReport.seriesName(k.label()), series,
                    value(Cell.HACKBENCH_2, model), diff);
        }
        if (comparable && c.runs() == Reproduction.SERIES_RUNS) {
            out.printf(Locale.ROOT, "largest difference %.1f%%: %s the %.0f%% ./javic calibrate fits to (cost model %s)%n",
                    100 * largest, largest <= Calibration.TOLERANCE ? "within" : "NOT within", 100 * Calibration.TOLERANCE,
                    c.costs().name());
        }
        if (!comparable) {
            out.println("(the model ran hackbench -l " + c.loops() + ", not the series' -l 100000: the difference is only "
                    + "meaningful for the full ./javic reproduce)");
        }
        // The series' relative gains, which do not depend on the scale.
        BenchReport.Comparison off = hb2.comparison("avic-off", BASELINE);
        BenchReport.Comparison on = hb2.comparison("avic-on", BASELINE);
        if (off != null && on != null) {
            out.printf(Locale.ROOT, "change vs Vanilla: series AVIC disabled %+.2f%%, AVIC %+.2f%%; model AVIC disabled %+.2f%%, AVIC %+.2f%%%n",
                    seriesChange("avic-off"), seriesChange("avic-on"), off.changePercent(), on.changePercent());
        }
    }

    private static double seriesChange(String system) {
        double v = Reproduction.SERIES_HACKBENCH_2.get(BASELINE);
        return 100 * (Reproduction.SERIES_HACKBENCH_2.get(system) - v) / v;
    }

    private static String rowTitle(CellResult cr) {
        return cr.cell().title() + (cr.cell().metric().equals(BenchReport.Metric.TIME) ? " (s)" : " (trans/s)");
    }

    private static double mean(BenchReport.SystemSummary s, java.util.function.ToLongFunction<BenchRun> f) {
        return s.runs().stream().mapToLong(f).average().orElse(0);
    }

    /** Seconds with 2 decimals from 10 s up, 4 below (quick and tiny runs); transactions per second with 0. */
    private static String value(Cell cell, double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        if (!cell.metric().equals(BenchReport.Metric.TIME)) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        return String.format(Locale.ROOT, Math.abs(v) >= 10 ? "%.2f" : "%.4f", v);
    }

    private static String ci(Cell cell, BenchReport.SystemSummary s) {
        if (Double.isNaN(s.ci95Low())) {
            return "n/a (1 run)";
        }
        return "[" + value(cell, s.ci95Low()) + ", " + value(cell, s.ci95High()) + "]";
    }

    private static String change(BenchReport.Comparison c) {
        if (c.system().equals(c.baseline())) {
            return "-";
        }
        String p = Double.isNaN(c.welchP()) ? "p n/a" : String.format(Locale.ROOT, "p=%.3g", c.welchP());
        return String.format(Locale.ROOT, "%+.2f%% (%s)", c.changePercent(), p);
    }

    // ---- files -------------------------------------------------------------------------------------------------

    /**
     * Writes each cell's JSON, CSV and plot (as {@code bench} does) and the summary {@code <base>.json},
     * {@code <base>.csv} and {@code <base>.png}; returns every path written.
     */
    public List<Path> write(Path dir) {
        List<Path> files = new ArrayList<>();
        for (CellResult cr : result.cells()) {
            if (cr.report() != null) {
                files.addAll(cr.report().write(dir, cr.base()));
            }
        }
        try {
            Files.createDirectories(dir);
            Path json = dir.resolve(base() + ".json");
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), document());
            Path csv = dir.resolve(base() + ".csv");
            Files.writeString(csv, csv());
            Path png = dir.resolve(base() + ".png");
            plot(png);
            files.add(json);
            files.add(csv);
            files.add(png);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return files;
    }

    private Map<String, Object> document() {
        Reproduction.Config c = result.config();
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("quick", c.quick());
        doc.put("scaledDown", c.scaledDown());
        doc.put("groups", c.groups());
        doc.put("loops", c.loops());
        doc.put("netperfSeconds", c.netperfSeconds());
        doc.put("tarFraction", c.tarFraction());
        doc.put("runs", c.runs());
        doc.put("seed", c.seed());
        doc.put("costModel", c.costs().name());
        doc.put("systems", c.systems().stream().map(SystemKind::label).toList());
        List<Map<String, Object>> cells = new ArrayList<>();
        for (CellResult cr : result.cells()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("cell", cr.cell().label());
            m.put("title", cr.cell().title());
            m.put("vcpus", cr.cell().vcpus());
            m.put("description", cr.description());
            m.put("metric", cr.cell().metric().column());
            m.put("files", cr.base());
            List<Map<String, Object>> systems = new ArrayList<>();
            for (BenchReport.SystemSummary s : cr.report().systems()) {
                Map<String, Object> sm = new LinkedHashMap<>();
                sm.put("system", s.system());
                sm.put("seriesName", s.seriesName());
                sm.put("mean", s.meanSeconds());
                sm.put("sd", s.sdSeconds());
                sm.put("ci95Low", s.ci95Low());
                sm.put("ci95High", s.ci95High());
                BenchReport.Comparison cmp = cr.report().comparison(s.system(), BASELINE);
                sm.put("changeVsVanillaPercent", cmp == null ? null : cmp.changePercent());
                sm.put("welchPVsVanilla", cmp == null ? null : cmp.welchP());
                sm.put("exitsPerSecond", s.exitsPerSecond());
                sm.put("interruptsDelivered", s.interruptsDelivered());
                sm.put("values", s.runs().stream().mapToDouble(BenchRun::value).toArray());
                systems.add(sm);
            }
            m.put("systems", systems);
            cells.add(m);
        }
        doc.put("cells", cells);
        Map<String, Object> cal = new LinkedHashMap<>();
        cal.put("cell", Cell.HACKBENCH_2.label());
        cal.put("comparable", c.seriesScale());
        BenchReport hb2 = result.cell(Cell.HACKBENCH_2).report();
        for (SystemKind k : c.systems()) {
            Map<String, Object> e = new LinkedHashMap<>();
            double series = Reproduction.SERIES_HACKBENCH_2.get(k.label());
            double model = hb2.summary(k.label()).meanSeconds();
            e.put("seriesSeconds", series);
            e.put("modelSeconds", model);
            e.put("differencePercent", c.seriesScale() ? 100 * (model - series) / series : null);
            cal.put(k.label(), e);
        }
        doc.put("calibration", cal);
        doc.put("wallSeconds", result.wallSeconds());
        doc.put("jobs", result.jobs());
        doc.put("simulatedSeconds", result.simulatedSeconds());
        doc.put("simulatedPerWallSecond", result.simulatedPerWallSecond());
        return doc;
    }

    /** One row per cell and system; no wall times, so it is reproducible. */
    String csv() {
        StringBuilder b = new StringBuilder("cell,vcpus,system,runs,metric,mean,sd,ci95_low,ci95_high,change_vs_vanilla_percent,"
                + "welch_p_vs_vanilla,exits_per_second,interrupts_delivered,status\n");
        Reproduction.Config c = result.config();
        for (CellResult cr : result.cells()) {
            for (BenchReport.SystemSummary s : cr.report().systems()) {
                BenchReport.Comparison cmp = cr.report().comparison(s.system(), BASELINE);
                b.append(String.format(Locale.ROOT, "%s,%d,%s,%d,%s,%.9g,%.9g,%s,%s,%s,%s,%.1f,%.1f,ok%n", cr.cell().label(),
                        cr.cell().vcpus(), s.system(), s.runs().size(), metricKey(cr.cell()), s.meanSeconds(), s.sdSeconds(),
                        num(s.ci95Low()), num(s.ci95High()), cmp == null ? "" : num(cmp.changePercent()),
                        cmp == null ? "" : num(cmp.welchP()), s.exitsPerSecond(), s.interruptsDelivered()));
            }
        }
        return b.toString();
    }

    private static String metricKey(Cell cell) {
        return cell.metric().equals(BenchReport.Metric.TIME) ? "seconds" : "transactions_per_second";
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.9g", v);
    }

    /** Each cell's mean relative to Vanilla (= 100), one bar per system: the series' table at a glance. */
    private void plot(Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Reproduction.Config c = result.config();
        CategoryChart chart = new CategoryChartBuilder().width(820).height(480)
                .title("The series' table relative to Vanilla (mean of " + c.runs() + (c.quick() ? ", --quick" : "") + ")")
                .xAxisTitle("workload (time: lower is better; netperf trans/s: higher is better)")
                .yAxisTitle("% of Vanilla").build();
        List<String> names = new ArrayList<>();
        for (CellResult cr : result.cells()) {
            names.add(cr.cell().title());
        }
        for (SystemKind k : c.systems()) {
            List<Double> values = new ArrayList<>();
            for (CellResult cr : result.cells()) {
                BenchReport.SystemSummary base = cr.report().summary(BASELINE);
                double v = cr.report().summary(k.label()).meanSeconds();
                values.add(base == null || base.meanSeconds() == 0 ? v : 100 * v / base.meanSeconds());
            }
            chart.addSeries(BenchReport.seriesName(k.label()), names, values);
        }
        String file = png.toString();
        BitmapEncoder.saveBitmap(chart, file.substring(0, file.length() - ".png".length()), BitmapEncoder.BitmapFormat.PNG);
    }
}
