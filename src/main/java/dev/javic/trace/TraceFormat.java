package dev.javic.trace;

import java.io.Writer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The trace file formats, and the one place that turns a format into a sink (for every command that traces). */
public enum TraceFormat {
    /** Linux ftrace text ({@link FtraceTextSink}). */
    FTRACE("ftrace"),
    /** Chrome trace-event JSON for the Perfetto UI ({@link PerfettoJsonSink}). */
    PERFETTO("perfetto");

    private final String label;

    TraceFormat(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    public static TraceFormat parse(String s) {
        for (TraceFormat f : values()) {
            if (f.label.equalsIgnoreCase(s)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown format '" + s + "' (choose " + labels() + ")");
    }

    public static String labels() {
        return Arrays.stream(values()).map(TraceFormat::label).collect(Collectors.joining(" or "));
    }

    /** {@code explicit} if given, else inferred from the file name: {@code .json} is Perfetto, anything else ftrace. */
    public static TraceFormat forFile(Path file, TraceFormat explicit) {
        if (explicit != null) {
            return explicit;
        }
        Path name = file.getFileName();
        return name != null && name.toString().toLowerCase(Locale.ROOT).endsWith(".json") ? PERFETTO : FTRACE;
    }

    /**
     * A streaming sink writing this format to {@code out}.
     *
     * @param tscHz    host TSC frequency (event times are TSC cycles)
     * @param hostCpus host CPUs of the machine
     * @param vcpus    vCPUs of the VM
     * @param title    what ran, e.g. {@code "VM ipi-running (avic-on)"}: the VM's name in Perfetto
     */
    public TraceSink open(Writer out, long tscHz, int hostCpus, int vcpus, String title) {
        return switch (this) {
            case FTRACE -> new FtraceTextSink(out, tscHz, hostCpus);
            case PERFETTO -> new PerfettoJsonSink(out, tscHz, hostCpus, vcpus, title);
        };
    }

    @Override
    public String toString() {
        return label;
    }
}
