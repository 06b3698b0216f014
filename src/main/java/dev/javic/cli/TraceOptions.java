package dev.javic.cli;

import dev.javic.experiment.Scenario;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import dev.javic.trace.TraceFormat;
import dev.javic.trace.TraceSink;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * {@code --trace OUT [--trace-format ftrace|perfetto]}, for every command that can trace a run (run today;
 * bench and reproduce trace one chosen run the same way): a mixin, and the factory of the run's sink.
 */
final class TraceOptions {
    @Option(names = "--trace", paramLabel = "OUT",
            description = "Write a trace of the run to OUT, streamed as the simulation runs.")
    Path trace;

    @Option(names = "--trace-format", paramLabel = "FORMAT",
            description = "ftrace (Linux trace text) or perfetto (JSON for ui.perfetto.dev). Default: perfetto when OUT "
                    + "ends in .json, else ftrace.")
    String format;

    /** Checks the options before anything runs; a bad value is a one-line user error. */
    TraceFormat format() {
        TraceFormat explicit = null;
        if (format != null) {
            try {
                explicit = TraceFormat.parse(format);
            } catch (IllegalArgumentException e) {
                throw new UserErrors.UsageException("--trace-format: " + e.getMessage());
            }
        }
        if (trace == null) {
            if (explicit != null) {
                throw new UserErrors.UsageException("--trace-format needs --trace OUT");
            }
            return null;
        }
        return TraceFormat.forFile(trace, explicit);
    }

    /** The sink writing the trace of {@code scenario} run on {@code system}, or null without --trace. */
    TraceSink open(Scenario scenario, SystemKind system, CostModel costs) {
        TraceFormat f = format();
        if (f == null) {
            return null;
        }
        String title = "VM " + scenario.name() + " (" + system.label() + ")";
        return f.open(openWriter(trace), costs.tscHz(), scenario.vm().hostCpus(), scenario.vm().vcpus(), title);
    }

    static BufferedWriter openWriter(Path path) {
        try {
            Path parent = path.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            return Files.newBufferedWriter(path, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            throw new UserErrors.UsageException("--trace: cannot write " + path + ": " + reason(e));
        }
    }

    /** Why a file could not be written, in words rather than an exception's name. */
    static String reason(Exception e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "a file is in the way of a directory";
        }
        if (e instanceof NoSuchFileException) {
            return "no such directory";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
