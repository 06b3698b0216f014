package dev.javic.experiment;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Checks a run against a scenario's expectations and says, line by line, what differs. */
public final class Expectations {
    private Expectations() {
    }

    /** Returns one readable line per failed expectation; empty when all hold. */
    public static List<String> check(Scenario scenario, ScenarioResult result) {
        List<String> diffs = new ArrayList<>();
        for (Scenario.Expectation e : scenario.expectations()) {
            ScenarioResult.VcpuResult v = result.vcpus().get(e.vcpu());
            String who = "vcpu " + e.vcpu();
            List<Integer> taken = v.interrupts().stream().map(ScenarioResult.Interrupt::vector).toList();
            if (e.interrupts() != null && !e.interrupts().equals(taken)) {
                diffs.add(who + " interrupts: expected " + hex(e.interrupts()) + ", got " + hex(taken));
            }
            if (e.interruptsInclude() != null) {
                for (int vec : e.interruptsInclude()) {
                    if (!taken.contains(vec)) {
                        diffs.add(who + " interrupts: expected to include " + String.format("0x%x", vec) + ", got " + hex(taken));
                    }
                }
            }
            if (e.faults() != null) {
                List<Integer> faults = v.faults().stream().map(f -> (int) f.value()).toList();
                if (!e.faults().equals(faults)) {
                    diffs.add(who + " faults: expected " + hex(e.faults()) + ", got " + hex(faults));
                }
            }
            if (e.reads() != null) {
                for (Map.Entry<String, Long> r : e.reads().entrySet()) {
                    List<Long> seen = v.reads().stream().filter(x -> x.label().equals(r.getKey()))
                            .map(ScenarioResult.Read::value).toList();
                    if (seen.isEmpty()) {
                        diffs.add(who + " read '" + r.getKey() + "': expected 0x" + Long.toHexString(r.getValue())
                                + ", but nothing was read under that name");
                    } else if (seen.get(seen.size() - 1).longValue() != r.getValue()) {
                        diffs.add(who + " read '" + r.getKey() + "': expected 0x" + Long.toHexString(r.getValue())
                                + ", got 0x" + Long.toHexString(seen.get(seen.size() - 1)));
                    }
                }
            }
            if (e.exits() != null) {
                for (Map.Entry<String, String> x : e.exits().entrySet()) {
                    long count = x.getKey().equals("total") ? v.exitsTotal() : v.exits().getOrDefault(x.getKey(), 0L);
                    if (!holds(x.getValue(), count)) {
                        diffs.add(who + " exits '" + x.getKey() + "': expected " + x.getValue() + ", got " + count);
                    }
                }
            }
        }
        return diffs;
    }

    static boolean holds(String constraint, long count) {
        String c = constraint.replace(" ", "");
        if (c.startsWith(">=")) {
            return count >= Long.parseLong(c.substring(2));
        }
        if (c.startsWith("<=")) {
            return count <= Long.parseLong(c.substring(2));
        }
        if (c.startsWith("==")) {
            return count == Long.parseLong(c.substring(2));
        }
        if (c.startsWith(">")) {
            return count > Long.parseLong(c.substring(1));
        }
        if (c.startsWith("<")) {
            return count < Long.parseLong(c.substring(1));
        }
        return count == Long.parseLong(c);
    }

    static String hex(List<Integer> vectors) {
        return vectors.stream().map(v -> String.format("0x%x", v)).collect(Collectors.joining(", ", "[", "]"));
    }
}
