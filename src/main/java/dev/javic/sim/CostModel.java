package dev.javic.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one cost model: a value for every {@link Cost}, loaded from a preset or a user's file, each
 * entry carrying the source of its number. Lookups are array reads.
 *
 * <p>File format (YAML): {@code name: the preset's name}, then {@code costs:} mapping each key to
 * {@code {value: N, source: "..."}}. Every key must be present exactly once; values are
 * non-negative integers.
 */
public final class CostModel {
    /** The estimates, each with its source: the model scenarios use and the input of {@code javic calibrate}. */
    public static final String DEFAULT_PRESET = "carrizo-2016";
    /**
     * {@link #DEFAULT_PRESET} with the two factors {@code javic calibrate} fitted to the series' calibration point
     * (its header says how it was made): the default of the workload commands, bench, reproduce and stat.
     */
    public static final String CALIBRATED_PRESET = "carrizo-2016-calibrated";

    private final String name;
    private final long[] values = new long[Cost.values().length];
    private final Map<Cost, String> sources = new EnumMap<>(Cost.class);

    private CostModel(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    public long get(Cost cost) {
        return values[cost.ordinal()];
    }

    public String source(Cost cost) {
        return sources.get(cost);
    }

    public long tscHz() {
        return values[Cost.TSC_HZ.ordinal()];
    }

    /** Converts nanoseconds to TSC cycles. */
    public long nsToCycles(long ns) {
        long hz = tscHz();
        // Split into whole seconds and the rest so that neither product overflows.
        return (ns / 1_000_000_000L) * hz + (ns % 1_000_000_000L) * hz / 1_000_000_000L;
    }

    /** Converts TSC cycles to nanoseconds (rounded down). */
    public long cyclesToNs(long cycles) {
        long hz = tscHz();
        return (cycles / hz) * 1_000_000_000L + (cycles % hz) * 1_000_000_000L / hz;
    }

    public double cyclesToSeconds(long cycles) {
        return (double) cycles / tscHz();
    }

    /** A copy with one value replaced (calibration, tests). */
    public CostModel with(Cost cost, long value, String source) {
        CostModel m = new CostModel(name);
        System.arraycopy(values, 0, m.values, 0, values.length);
        m.sources.putAll(sources);
        m.values[cost.ordinal()] = value;
        m.sources.put(cost, source);
        return m;
    }

    /** A copy under another name (a calibrated preset). */
    public CostModel withName(String newName) {
        CostModel m = new CostModel(newName);
        System.arraycopy(values, 0, m.values, 0, values.length);
        m.sources.putAll(sources);
        return m;
    }

    /** This model as a cost file that {@link #load} reads back: every entry, in {@link Cost} order, with its source. */
    public String toYaml(String headerComment) {
        Map<String, Object> costs = new LinkedHashMap<>();
        for (Cost c : Cost.values()) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("value", values[c.ordinal()]);
            entry.put("source", sources.getOrDefault(c, ""));
            costs.put(c.key(), entry);
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("name", name);
        root.put("costs", costs);
        try {
            String body = new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER))
                    .writeValueAsString(root);
            StringBuilder out = new StringBuilder();
            for (String line : headerComment.split("\n")) {
                out.append("# ").append(line).append('\n');
            }
            return out.append(body).toString();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Loads a preset shipped with javic, e.g. {@code carrizo-2016}. */
    public static CostModel preset(String presetName) {
        String resource = "/presets/" + presetName + ".yaml";
        try (InputStream in = CostModel.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new CostFileException("unknown cost preset '" + presetName + "' (known: " + DEFAULT_PRESET + ", "
                        + CALIBRATED_PRESET + ")");
            }
            return parse(in.readAllBytes(), "preset " + presetName);
        } catch (IOException e) {
            throw new CostFileException("cannot read preset " + presetName + ": " + e.getMessage());
        }
    }

    public static CostModel defaults() {
        return preset(DEFAULT_PRESET);
    }

    /** Loads a cost file a user wrote. */
    public static CostModel load(Path file) {
        try {
            return parse(Files.readAllBytes(file), file.toString());
        } catch (IOException e) {
            throw new CostFileException("cannot read cost file " + file + ": " + e.getMessage());
        }
    }

    /** A preset name, or a path to a cost file when it names an existing file or ends in .yaml/.yml. */
    public static CostModel presetOrFile(String nameOrPath) {
        if (nameOrPath.endsWith(".yaml") || nameOrPath.endsWith(".yml") || Files.isRegularFile(Path.of(nameOrPath))) {
            return load(Path.of(nameOrPath));
        }
        return preset(nameOrPath);
    }

    static CostModel parse(byte[] yaml, String where) {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
        } catch (IOException e) {
            throw new CostFileException(where + ": not valid YAML: " + firstLine(e.getMessage()));
        }
        if (root == null || !root.isObject() || !root.path("costs").isObject()) {
            throw new CostFileException(where + ": expected a mapping with 'name' and 'costs'");
        }
        CostModel model = new CostModel(root.path("name").asText("unnamed"));
        boolean[] seen = new boolean[Cost.values().length];
        for (Iterator<Map.Entry<String, JsonNode>> it = root.get("costs").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Cost cost = Cost.byKey(e.getKey());
            if (cost == null) {
                throw new CostFileException(where + ": unknown cost '" + e.getKey() + "'");
            }
            JsonNode v = e.getValue().isObject() ? e.getValue().get("value") : e.getValue();
            if (v == null || !v.isIntegralNumber()) {
                throw new CostFileException(where + ": cost '" + e.getKey() + "' must be a non-negative integer, got "
                        + (v == null ? "nothing" : v.toString()));
            }
            long value = v.asLong();
            if (value < 0) {
                throw new CostFileException(where + ": cost '" + e.getKey() + "' is negative: " + value);
            }
            model.values[cost.ordinal()] = value;
            model.sources.put(cost, e.getValue().path("source").asText(""));
            seen[cost.ordinal()] = true;
        }
        for (Cost c : Cost.values()) {
            if (!seen[c.ordinal()]) {
                throw new CostFileException(where + ": missing cost '" + c.key() + "'");
            }
        }
        if (model.tscHz() <= 0) {
            throw new CostFileException(where + ": machine.tsc_hz must be positive");
        }
        return model;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** A cost file or preset that cannot be used; its message is the one line the user sees. */
    public static final class CostFileException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public CostFileException(String message) {
            super(message);
        }
    }
}
