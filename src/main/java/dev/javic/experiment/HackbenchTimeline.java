package dev.javic.experiment;

import dev.javic.guest.kernel.Kernel;
import dev.javic.guest.kernel.KernelStats;
import dev.javic.kvm.Vm;
import dev.javic.sim.CostModel;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * hackbench's counters in windows of simulated time: how a run moves between the regimes of
 * docs/guest-kernel.md (the throughput start, the steady state gated by slow receivers, wake-up storms, the
 * tail). Sampled between events, so a run with a timeline is the same run as one without.
 */
public final class HackbenchTimeline {
    /**
     * One window's counts. {@code tasksExited} is the total at the window's end (hackbench's children finish
     * over the tail).
     */
    public record Window(double startSeconds, double endSeconds, long messages, long contextSwitches, long wakeups,
                         long wakeupPreemptions, long reschedIpis, long exits, int tasksExited) {
        public double microsPerMessage() {
            return messages == 0 ? Double.NaN : (endSeconds - startSeconds) * 1e6 / messages;
        }

        public double perMessage(long count) {
            return messages == 0 ? Double.NaN : (double) count / messages;
        }

        public double preemptionsPerWakeup() {
            return wakeups == 0 ? Double.NaN : (double) wakeupPreemptions / wakeups;
        }
    }

    private final long windowCycles;
    private final double windowSeconds;
    private final CostModel costs;
    private final List<Window> windows = new ArrayList<>();
    private long messages;
    private long switches;
    private long wakeups;
    private long preemptions;
    private long ipis;
    private long exits;
    private long lastCycles;

    public HackbenchTimeline(double windowSeconds, CostModel costs) {
        if (!(windowSeconds > 0) || Double.isInfinite(windowSeconds)) {
            throw new IllegalArgumentException("a timeline's window must be a positive number of seconds");
        }
        this.windowSeconds = windowSeconds;
        this.costs = costs;
        this.windowCycles = Math.max(1, Math.round(windowSeconds * costs.tscHz()));
    }

    public double windowSeconds() {
        return windowSeconds;
    }

    long windowCycles() {
        return windowCycles;
    }

    public List<Window> windows() {
        return List.copyOf(windows);
    }

    /** Closes the window that ends at {@code nowCycles}. */
    void sample(long nowCycles, Kernel kernel, Vm vm) {
        KernelStats s = kernel.stats();
        long x = VmExitTotals.of(vm).exits();
        int exited = 0;
        for (int i = 0; i < kernel.taskCount(); i++) {
            if (kernel.taskExited(i)) {
                exited++;
            }
        }
        windows.add(new Window(costs.cyclesToSeconds(lastCycles), costs.cyclesToSeconds(nowCycles), s.messagesRead - messages,
                s.contextSwitches - switches, s.wakeups - wakeups, s.wakeupPreemptions - preemptions,
                s.reschedIpisSent - ipis, x - exits, exited));
        messages = s.messagesRead;
        switches = s.contextSwitches;
        wakeups = s.wakeups;
        preemptions = s.wakeupPreemptions;
        ipis = s.reschedIpisSent;
        exits = x;
        lastCycles = nowCycles;
    }

    public void print(PrintStream out, String system) {
        out.printf(Locale.ROOT, "timeline, %s (windows of %s simulated s):%n", system, fmt(windowSeconds));
        out.printf(Locale.ROOT, "  %9s %10s %8s %10s %9s %9s %12s %10s %7s%n", "until (s)", "messages", "us/msg",
                "switch/msg", "wake/msg", "preempt/", "resched IPI/", "exits/msg", "exited");
        out.printf(Locale.ROOT, "  %9s %10s %8s %10s %9s %9s %12s %10s %7s%n", "", "", "", "", "", "wake-up", "msg", "", "tasks");
        for (Window w : windows) {
            out.printf(Locale.ROOT, "  %9.2f %10d %8s %10s %9s %9s %12s %10s %7d%n", w.endSeconds(), w.messages(),
                    num(w.microsPerMessage(), 3), num(w.perMessage(w.contextSwitches()), 3), num(w.perMessage(w.wakeups()), 3),
                    num(w.preemptionsPerWakeup(), 2), num(w.perMessage(w.reschedIpis()), 3), num(w.perMessage(w.exits()), 3),
                    w.tasksExited());
        }
    }

    public Map<String, Object> json() {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("window_seconds", windowSeconds);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Window w : windows) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("start_seconds", w.startSeconds());
            r.put("end_seconds", w.endSeconds());
            r.put("messages", w.messages());
            r.put("context_switches", w.contextSwitches());
            r.put("wakeups", w.wakeups());
            r.put("wakeup_preemptions", w.wakeupPreemptions());
            r.put("resched_ipis", w.reschedIpis());
            r.put("exits", w.exits());
            r.put("tasks_exited", w.tasksExited());
            rows.add(r);
        }
        doc.put("windows", rows);
        return doc;
    }

    private static String num(double v, int decimals) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
