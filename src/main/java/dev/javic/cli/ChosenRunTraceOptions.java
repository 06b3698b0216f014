package dev.javic.cli;

import dev.javic.experiment.Reproduction;
import dev.javic.experiment.SystemKind;
import dev.javic.trace.TraceFormat;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code --trace OUT [--trace-format F] [--trace-system S] [--trace-run N]} for commands that run many runs
 * ({@code bench}, {@code reproduce}): only the chosen run is traced, every other run has no sink.
 */
final class ChosenRunTraceOptions {
    @Mixin
    TraceOptions trace;

    @Option(names = "--trace-system", paramLabel = "S",
            description = "With --trace: the system of the traced run (default: avic-on, or the first of --systems without it).")
    String system;

    @Option(names = "--trace-run", paramLabel = "N",
            description = "With --trace: the index of the traced run, 0..runs-1 (default 0).")
    Integer run;

    /** The chosen run, its system and a factory of its sink (the file is opened now); null without --trace. */
    record Choice(SystemKind system, int run, Path file, TraceFormat format, Reproduction.SinkFactory sinks) {
    }

    /**
     * Checks the options against what will run (one line, exit 2 for a bad combination) and opens the file.
     *
     * @param systems the systems that run
     * @param runs    runs per system
     */
    Choice choose(List<SystemKind> systems, int runs) {
        TraceFormat f = trace.format();
        if (f == null) {
            if (system != null) {
                throw new UserErrors.UsageException("--trace-system needs --trace OUT");
            }
            if (run != null) {
                throw new UserErrors.UsageException("--trace-run needs --trace OUT");
            }
            return null;
        }
        SystemKind k;
        if (system == null) {
            k = systems.contains(SystemKind.AVIC_ON) ? SystemKind.AVIC_ON : systems.get(0);
        } else {
            try {
                k = SystemKind.parse(system.strip());
            } catch (IllegalArgumentException e) {
                throw new UserErrors.UsageException("--trace-system: " + e.getMessage());
            }
            if (!systems.contains(k)) {
                throw new UserErrors.UsageException("--trace-system " + k.label() + " does not run (systems: "
                        + String.join(",", systems.stream().map(SystemKind::label).toList()) + ")");
            }
        }
        int n = run == null ? 0 : run;
        if (n < 0 || n >= runs) {
            throw new UserErrors.UsageException("--trace-run must be 0.." + (runs - 1) + " (" + runs + " run"
                    + (runs == 1 ? "" : "s") + " per system), got " + n);
        }
        return new Choice(k, n, trace.trace, f, null);
    }

    /** Opens the trace file (a bad path is one line before anything runs) and returns the choice with its sinks. */
    static Choice open(Choice c) {
        if (c == null) {
            return null;
        }
        BufferedWriter w = TraceOptions.openWriter(c.file());
        TraceFormat f = c.format();
        return new Choice(c.system(), c.run(), c.file(), f,
                (tscHz, hostCpus, vcpus, title) -> f.open(w, tscHz, hostCpus, vcpus, title));
    }
}
