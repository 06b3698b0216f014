package dev.javic.experiment;

import dev.javic.trace.ExitStatsSink;
import dev.javic.trace.IrqLatencySink;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code stat} report: for each system, a table laid out like {@code perf kvm stat report}
 * ({@code tools/perf/builtin-kvm.c}, {@code print_result}); then the systems side by side (exits by reason,
 * how interrupts were delivered) and the interrupt latency distributions; or the same as a JSON document.
 * All numbers are simulated time; the layout is fixed (Locale.ROOT, rows in a defined order), so the same
 * run prints the same report.
 */
public final class KvmStatReport {
    /** perf prints the event name in {@code %20s}; wider names widen the column instead of breaking it. */
    private static final int PERF_NAME_WIDTH = 20;

    private final String scenario;
    private final List<SystemStats> systems;
    private final int vcpu;
    /** For a workload report: its command line (the JSON's "workload" and "description"); null for a scenario. */
    private final String workloadDescription;

    /**
     * @param vcpu the vCPU to report, or -1 for all
     */
    public KvmStatReport(String scenario, List<SystemStats> systems, int vcpu) {
        this(scenario, null, systems, vcpu);
    }

    private KvmStatReport(String scenario, String workloadDescription, List<SystemStats> systems, int vcpu) {
        if (systems.isEmpty()) {
            throw new IllegalArgumentException("no systems to report");
        }
        this.scenario = scenario;
        this.workloadDescription = workloadDescription;
        this.systems = List.copyOf(systems);
        this.vcpu = vcpu;
    }

    /**
     * The report of a workload ({@code stat hackbench|netperf}): the same tables, titled by the workload's name;
     * the JSON names it under "workload" (with {@code description}) instead of "scenario".
     *
     * @param vcpu the vCPU to report, or -1 for all
     */
    public static KvmStatReport ofWorkload(String workload, String description, List<SystemStats> systems, int vcpu) {
        return new KvmStatReport(workload, description, systems, vcpu);
    }

    // ---- text ----------------------------------------------------------------------------------------------

    public void print(PrintStream out) {
        for (SystemStats s : systems) {
            printPerfTable(out, s);
        }
        if (systems.size() > 1) {
            printSideBySide(out);
            printDelivery(out);
        }
        printLatency(out);
        for (SystemStats s : systems) {
            if (s.timeline() != null) {
                out.println();
                s.timeline().print(out, s.system().label());
            }
        }
    }

    /** One system's table, as perf kvm stat report prints it (Time% and the times over timed exits). */
    void printPerfTable(PrintStream out, SystemStats s) {
        ExitStatsSink.Table t = s.exits().table(vcpu);
        int w = nameWidth(t.rows());
        out.printf(Locale.ROOT, "Analyze events for VM %s on %s, %s (simulated time):%n%n", scenario, s.system().label(),
                t.scope());
        out.printf(Locale.ROOT, "%" + w + "s %10s %9s %9s %11s %11s %16s %n%n", "VM-EXIT", "Samples", "Samples%", "Time%",
                "Min Time", "Max Time", "Avg time");
        for (ExitStatsSink.Row r : t.rows()) {
            if (r.timed() == 0) {
                out.printf(Locale.ROOT, "%" + w + "s %10d %8.2f%% %8.2f%% %11s %11s %11s%n", r.reason(), r.samples(),
                        pct(r.samples(), t.totalSamples()), 0.0, "-", "-", "-");
                continue;
            }
            out.printf(Locale.ROOT, "%" + w + "s %10d %8.2f%% %8.2f%% %9.2fus %9.2fus %9.2fus ( +-%7.2f%% )%n",
                    r.reason(), r.samples(), pct(r.samples(), t.totalSamples()), pct(r.totalUs(), t.totalTimeUs()),
                    r.minUs(), r.maxUs(), r.avgUs(), r.relStddevPct());
        }
        out.printf(Locale.ROOT, "%nTotal Samples:%d, Total events handled time:%.2fus.%n", t.totalSamples(), t.totalTimeUs());
        if (t.untimed() > 0) {
            out.printf(Locale.ROOT, "(%d exit%s still being handled when the run ended, e.g. the hlt of a vCPU left "
                    + "halted: counted in Samples, not timed)%n", t.untimed(), t.untimed() == 1 ? " was" : "s were");
        }
        out.println();
    }

    /** Exits by reason, one column group per system, and which exits avic-on avoids. */
    void printSideBySide(PrintStream out) {
        List<ExitStatsSink.Table> tables = systems.stream().map(s -> s.exits().table(vcpu)).toList();
        List<String> reasons = reasonsBySamples(tables);
        int w = Math.max(PERF_NAME_WIDTH, reasons.stream().mapToInt(String::length).max().orElse(0));
        out.printf(Locale.ROOT, "Exits side by side, %s (Samples; Time = total handling time, simulated us):%n%n",
                tables.get(0).scope());
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%" + w + "s ", ""));
        StringBuilder cols = new StringBuilder(String.format(Locale.ROOT, "%" + w + "s ", "VM-EXIT"));
        for (SystemStats s : systems) {
            head.append(String.format(Locale.ROOT, "| %-21s ", center(s.system().label(), 21)));
            cols.append(String.format(Locale.ROOT, "| %9s %11s ", "Samples", "Time"));
        }
        out.println(head.toString().stripTrailing());
        out.println(cols.toString().stripTrailing());
        for (String reason : reasons) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%" + w + "s ", reason));
            for (ExitStatsSink.Table t : tables) {
                ExitStatsSink.Row r = row(t, reason);
                line.append(r == null || r.timed() == 0 ? String.format(Locale.ROOT, "| %9d %11s ", r == null ? 0 : r.samples(), "-")
                        : String.format(Locale.ROOT, "| %9d %9.2fus ", r.samples(), r.totalUs()));
            }
            out.println(line.toString().stripTrailing());
        }
        StringBuilder total = new StringBuilder(String.format(Locale.ROOT, "%" + w + "s ", "Total"));
        for (ExitStatsSink.Table t : tables) {
            total.append(String.format(Locale.ROOT, "| %9d %9.2fus ", t.totalSamples(), t.totalTimeUs()));
        }
        out.println(total.toString().stripTrailing());
        out.println();
        String why = avicOnVersusOff(tables);
        if (why != null) {
            out.println(why);
            out.println();
        }
    }

    /** How interrupts reached the guests, per system: the reason the exit counts differ. */
    void printDelivery(PrintStream out) {
        List<long[]> counts = systems.stream().map(s -> s.exits().delivery(vcpu)).toList();
        int w = 0;
        for (ExitStatsSink.Delivery d : ExitStatsSink.Delivery.values()) {
            w = Math.max(w, d.description().length());
        }
        out.printf(Locale.ROOT, "How interrupts were delivered, %s:%n%n", systems.get(0).exits().table(vcpu).scope());
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-" + w + "s", ""));
        for (SystemStats s : systems) {
            head.append(String.format(Locale.ROOT, " %10s", s.system().label()));
        }
        out.println(head);
        for (ExitStatsSink.Delivery d : ExitStatsSink.Delivery.values()) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-" + w + "s", d.description()));
            for (long[] c : counts) {
                line.append(String.format(Locale.ROOT, " %10d", c[d.ordinal()]));
            }
            out.println(line);
        }
        out.println();
    }

    void printLatency(PrintStream out) {
        out.printf(Locale.ROOT, "Interrupt latency, send -> guest handler entry, %s (simulated us; HdrHistogram, "
                + "3 significant digits):%n", vcpu < 0 ? "all target vCPUs" : "target vCPU " + vcpu);
        out.println("  send = the sender's ICR write (ipi: its trapping kvm_exit, or avic_ipi), or the host's injection");
        out.println("  into the APIC (device/timer: kvm_apic_accept_irq); entry = guest_irq, the handler's first instruction.");
        out.println();
        out.printf(Locale.ROOT, "%10s  %-12s %8s %10s %10s %10s %10s %10s %10s%n", "system", "kind", "count", "min",
                "p50", "p90", "p99", "p99.9", "max");
        for (SystemStats s : systems) {
            for (IrqLatencySink.Summary m : s.latency().summaries(vcpu)) {
                if (m.count() == 0) {
                    out.printf(Locale.ROOT, "%10s  %-12s %8d %10s %10s %10s %10s %10s %10s%n", s.system().label(), m.kind(),
                            0, "-", "-", "-", "-", "-", "-");
                } else {
                    out.printf(Locale.ROOT, "%10s  %-12s %8d %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f%n",
                            s.system().label(), m.kind(), m.count(), m.minUs(), m.p50Us(), m.p90Us(), m.p99Us(),
                            m.p999Us(), m.maxUs());
                }
            }
        }
        long coalesced = systems.stream().mapToLong(s -> s.latency().coalesced()).sum();
        if (coalesced > 0) {
            out.println("  (sends of a vector already pending are coalesced: measured once, from the first; per system: "
                    + String.join(", ", systems.stream().map(s -> s.system().label() + " " + s.latency().coalesced())
                    .toList()) + ")");
        }
    }

    /** "avic-on takes N fewer exits than avic-off: ..." when both ran; null otherwise. */
    private String avicOnVersusOff(List<ExitStatsSink.Table> tables) {
        ExitStatsSink.Table off = null;
        ExitStatsSink.Table on = null;
        for (int i = 0; i < systems.size(); i++) {
            switch (systems.get(i).system()) {
                case AVIC_OFF -> off = tables.get(i);
                case AVIC_ON -> on = tables.get(i);
                default -> {
                }
            }
        }
        if (off == null || on == null) {
            return null;
        }
        long diff = off.totalSamples() - on.totalSamples();
        List<String> changes = new ArrayList<>();
        for (String reason : reasonsBySamples(List.of(off, on))) {
            long a = samples(off, reason);
            long b = samples(on, reason);
            if (a != b) {
                changes.add(String.format(Locale.ROOT, "%s %d -> %d", reason, a, b));
            }
        }
        String verdict = diff > 0 ? "avic-on takes " + diff + " fewer exit" + (diff == 1 ? "" : "s") + " than avic-off"
                : diff < 0 ? "avic-on takes " + -diff + " more exit" + (diff == -1 ? "" : "s") + " than avic-off"
                : "avic-on and avic-off take the same number of exits";
        return String.format(Locale.ROOT, "%s (%d vs %d)%s", verdict, on.totalSamples(), off.totalSamples(),
                changes.isEmpty() ? "." : ": " + String.join(", ", changes) + " (avic-off -> avic-on).");
    }

    // ---- JSON ----------------------------------------------------------------------------------------------

    /** The report as a JSON-ready tree (ordered maps and lists); times in simulated microseconds. */
    public Map<String, Object> json() {
        Map<String, Object> doc = new LinkedHashMap<>();
        if (workloadDescription == null) {
            doc.put("scenario", scenario);
        } else {
            doc.put("workload", scenario);
            doc.put("description", workloadDescription);
        }
        doc.put("vcpu", vcpu < 0 ? "all" : vcpu);
        doc.put("time_unit", "us (simulated)");
        List<Object> list = new ArrayList<>();
        for (SystemStats s : systems) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("system", s.system().label());
            m.put("seed", s.seed());
            m.put("costs", s.costModel());
            m.put("simulated_us", s.simulatedNs() / 1000.0);
            m.put("exits", exitsJson(s.exits().table(vcpu)));
            Map<String, Object> delivery = new LinkedHashMap<>();
            long[] counts = s.exits().delivery(vcpu);
            for (ExitStatsSink.Delivery d : ExitStatsSink.Delivery.values()) {
                delivery.put(d.name().toLowerCase(Locale.ROOT), counts[d.ordinal()]);
            }
            m.put("delivery", delivery);
            Map<String, Object> latency = new LinkedHashMap<>();
            for (IrqLatencySink.Summary l : s.latency().summaries(vcpu)) {
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("count", l.count());
                d.put("min_us", round3(l.minUs()));
                d.put("p50_us", round3(l.p50Us()));
                d.put("p90_us", round3(l.p90Us()));
                d.put("p99_us", round3(l.p99Us()));
                d.put("p99_9_us", round3(l.p999Us()));
                d.put("max_us", round3(l.maxUs()));
                d.put("mean_us", round3(l.meanUs()));
                latency.put(l.kind(), d);
            }
            latency.put("coalesced_sends", s.latency().coalesced());
            m.put("latency", latency);
            if (s.timeline() != null) {
                m.put("timeline", s.timeline().json());
            }
            list.add(m);
        }
        doc.put("systems", list);
        return doc;
    }

    private static Map<String, Object> exitsJson(ExitStatsSink.Table t) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("total", t.totalSamples());
        e.put("untimed", t.untimed());
        e.put("total_time_us", round3(t.totalTimeUs()));
        List<Object> rows = new ArrayList<>();
        for (ExitStatsSink.Row r : t.rows()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("reason", r.reason());
            m.put("samples", r.samples());
            m.put("samples_pct", round2(pct(r.samples(), t.totalSamples())));
            m.put("time_pct", round2(pct(r.totalUs(), t.totalTimeUs())));
            m.put("min_us", round3(r.minUs()));
            m.put("max_us", round3(r.maxUs()));
            m.put("avg_us", round3(r.avgUs()));
            m.put("stddev_pct", round2(r.relStddevPct()));
            m.put("total_us", round3(r.totalUs()));
            rows.add(m);
        }
        e.put("by_reason", rows);
        return e;
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    /** Reasons of all tables, most samples first (summed over the tables), then by exit code. */
    private static List<String> reasonsBySamples(List<ExitStatsSink.Table> tables) {
        Map<String, long[]> byReason = new LinkedHashMap<>();
        for (ExitStatsSink.Table t : tables) {
            for (ExitStatsSink.Row r : t.rows()) {
                long[] v = byReason.computeIfAbsent(r.reason(), k -> new long[] {0, r.exitCode()});
                v[0] += r.samples();
            }
        }
        return byReason.entrySet().stream()
                .sorted(Comparator.<Map.Entry<String, long[]>>comparingLong(e -> -e.getValue()[0])
                        .thenComparingLong(e -> e.getValue()[1]))
                .map(Map.Entry::getKey).toList();
    }

    private static ExitStatsSink.Row row(ExitStatsSink.Table t, String reason) {
        for (ExitStatsSink.Row r : t.rows()) {
            if (r.reason().equals(reason)) {
                return r;
            }
        }
        return null;
    }

    private static long samples(ExitStatsSink.Table t, String reason) {
        ExitStatsSink.Row r = row(t, reason);
        return r == null ? 0 : r.samples();
    }

    private static int nameWidth(List<ExitStatsSink.Row> rows) {
        return Math.max(PERF_NAME_WIDTH, rows.stream().mapToInt(r -> r.reason().length()).max().orElse(0));
    }

    private static String center(String s, int width) {
        int pad = Math.max(0, (width - s.length()) / 2);
        return " ".repeat(pad) + s;
    }

    private static double pct(double part, double whole) {
        return whole == 0 ? 0 : part / whole * 100;
    }

    private static double round2(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static double round3(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
