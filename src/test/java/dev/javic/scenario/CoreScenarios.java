package dev.javic.scenario;

import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The core's scenario suite: the YAML files under {@code src/test/resources/scenarios/core/}, modelled on
 * kvm-unit-tests' x86/apic.c, and what the tests need to run them and to explain a failure.
 */
final class CoreScenarios {
    private CoreScenarios() {
    }

    /** The suite's directory (from the test classpath, so that it works from any working directory). */
    static Path directory() {
        URL url = CoreScenarios.class.getResource("/scenarios/core");
        if (url == null) {
            return Path.of("src/test/resources/scenarios/core");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** File names of every scenario of the suite, sorted. */
    static List<String> files() {
        try (Stream<Path> s = Files.list(directory())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Scenario load(String file) {
        return ScenarioLoader.load(directory().resolve(file));
    }

    /** A finished run: the scenario, the runner (machine, VM) and what the guests observed. */
    record Run(Scenario scenario, SystemKind system, ScenarioRunner runner, ScenarioResult result) {
        ScenarioResult.VcpuResult vcpu(int id) {
            return result.vcpus().get(id);
        }

        /** Vectors vCPU {@code id} took, in order. */
        List<Integer> vectors(int id) {
            return vcpu(id).interrupts().stream().map(ScenarioResult.Interrupt::vector).toList();
        }

        /** Times (ns) at which vCPU {@code id} took {@code vector}, in order. */
        List<Long> times(int id, int vector) {
            return vcpu(id).interrupts().stream().filter(i -> i.vector() == vector)
                    .map(ScenarioResult.Interrupt::timeNs).toList();
        }

        /** The last read recorded under {@code label} on vCPU {@code id}. */
        ScenarioResult.Read read(int id, String label) {
            List<ScenarioResult.Read> all = reads(id, label);
            if (all.isEmpty()) {
                throw new AssertionError("vCPU " + id + " read nothing as '" + label + "'\n" + describe(this));
            }
            return all.get(all.size() - 1);
        }

        List<ScenarioResult.Read> reads(int id, String label) {
            return vcpu(id).reads().stream().filter(r -> r.label().equals(label)).toList();
        }

        long exits(int id, String reason) {
            return vcpu(id).exits().getOrDefault(reason, 0L);
        }

        /** Nanoseconds of guest TSC cycles. */
        double tscToNs(long cycles) {
            return cycles * 1e9 / runner.machine().costs().tscHz();
        }
    }

    static Run run(String file, SystemKind system) {
        Scenario s = load(file);
        ScenarioRunner runner = new ScenarioRunner(s).system(system);
        return new Run(s, system, runner, runner.run());
    }

    /** Everything a failure report needs: per vCPU the interrupts with times, reads, faults and exits. */
    static String describe(Run run) {
        ScenarioResult r = run.result();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%s on %s (seed %d): %d ns simulated, %d events%n", r.scenario(), r.system(), r.seed(),
                r.simulatedNs(), r.events()));
        for (ScenarioResult.VcpuResult v : r.vcpus()) {
            sb.append(String.format("  vCPU %d (%s, host CPU %d)%n", v.vcpu(), v.state(), v.hostCpu()));
            sb.append("    interrupts: ").append(v.interrupts().stream()
                    .map(i -> String.format("0x%x@%dns", i.vector(), i.timeNs())).collect(Collectors.joining(" ")))
                    .append('\n');
            sb.append("    reads:      ").append(v.reads().stream()
                    .map(x -> String.format("%s=0x%x@%dns", x.label(), x.value(), x.timeNs()))
                    .collect(Collectors.joining(" "))).append('\n');
            sb.append("    faults:     ").append(v.faults().stream()
                    .map(x -> String.format("%s:%d", x.label(), x.value())).collect(Collectors.joining(" ")))
                    .append('\n');
            sb.append("    exits:      ").append(exits(v.exits())).append('\n');
        }
        return sb.toString();
    }

    private static String exits(Map<String, Long> exits) {
        return exits.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(" "));
    }
}
