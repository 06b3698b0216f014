package dev.javic.cli;

import dev.javic.experiment.ScenarioResult;

import java.io.PrintStream;
import java.util.Map;
import java.util.stream.Collectors;

/** The human-readable report of a scenario run. */
final class ResultPrinter {
    private ResultPrinter() {
    }

    /** Lists longer than this are cut in the text report (--json has everything). */
    private static final int SHOWN = 16;

    static void print(PrintStream out, ScenarioResult r) {
        out.printf("scenario %s on %s (seed %d, costs %s): %s simulated, %d events%n", r.scenario(), r.system(),
                r.seed(), r.costModel(), micros(r.simulatedNs()), r.events());
        out.println("AVIC: " + (r.avicInactiveReasons().isEmpty() ? "active" : "inactive — "
                + String.join("; ", r.avicInactiveReasons())));
        for (ScenarioResult.VcpuResult v : r.vcpus()) {
            out.printf("vcpu %d (host cpu %d, %s)%n", v.vcpu(), v.hostCpu(), v.state());
            if (v.interrupts().isEmpty()) {
                out.println("  interrupts: none");
            } else {
                int n = v.interrupts().size();
                String shown = v.interrupts().stream().limit(SHOWN)
                        .map(i -> String.format("0x%02x @ %s", i.vector(), micros(i.timeNs())))
                        .collect(Collectors.joining(", "));
                out.println("  interrupts: " + (n > SHOWN ? n + " in all, the first " + SHOWN + ": " : "") + shown);
            }
            if (!v.reads().isEmpty()) {
                int n = v.reads().size();
                out.println("  reads: " + (n > SHOWN ? n + " in all, the first " + SHOWN + ": " : "") + v.reads().stream()
                        .limit(SHOWN).map(x -> x.label() + "=0x" + Long.toHexString(x.value()))
                        .collect(Collectors.joining(", ")));
            }
            if (!v.faults().isEmpty()) {
                out.println("  faults: " + v.faults().stream()
                        .map(x -> "#" + vectorName((int) x.value()) + " on " + x.label()).collect(Collectors.joining(", ")));
            }
            out.println("  exits: " + v.exitsTotal() + (v.exits().isEmpty() ? "" : " — " + v.exits().entrySet().stream()
                    .map(Map.Entry::toString).collect(Collectors.joining(", ")).replace('=', ' ')));
        }
        out.printf("total exits: %d%n", r.totalExits());
    }

    static String micros(long ns) {
        return String.format("%d.%03d us", ns / 1000, ns % 1000);
    }

    private static String vectorName(int v) {
        return switch (v) {
            case 6 -> "UD";
            case 13 -> "GP";
            case 17 -> "AC";
            default -> Integer.toString(v);
        };
    }
}
