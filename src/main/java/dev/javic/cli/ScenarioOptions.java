package dev.javic.cli;

import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The options every command that runs a scenario file shares. */
final class ScenarioOptions {
    @Parameters(index = "0", paramLabel = "FILE", description = "Scenario file (YAML or JSON).")
    Path file;

    @Option(names = "--system", paramLabel = "SYSTEM", split = ",",
            description = "vanilla, avic-off or avic-on (default: the scenario's vm.system). Commands that compare "
                    + "systems (stat, explain) take several (repeat the option or separate with commas) or 'all'.")
    List<String> systems;

    @Option(names = "--seed", paramLabel = "N", description = "Root seed (default: the scenario's vm.seed).")
    Long seed;

    @Option(names = "--cost", paramLabel = "FILE|PRESET", description = "Cost preset or cost file (default: the scenario's vm.cost).")
    String cost;

    Scenario load() {
        return ScenarioLoader.load(file);
    }

    /** The one system to run: --system if given, else the scenario's. */
    SystemKind system(Scenario s) {
        if (systems == null || systems.isEmpty()) {
            return s.vm().system();
        }
        List<SystemKind> chosen = parseSystems();
        if (chosen.size() != 1) {
            throw new UserErrors.UsageException("--system: this command runs one system, got " + String.join(", ", systems));
        }
        return chosen.get(0);
    }

    /** The systems to compare: those given (in order, without repeats; 'all' is every one), else all three. */
    List<SystemKind> systemsOrAll() {
        if (systems == null || systems.isEmpty()) {
            return List.of(SystemKind.values());
        }
        return parseSystems();
    }

    private List<SystemKind> parseSystems() {
        List<SystemKind> out = new ArrayList<>();
        for (String name : systems) {
            List<SystemKind> named;
            if (name.strip().equalsIgnoreCase("all")) {
                named = List.of(SystemKind.values());
            } else {
                try {
                    named = List.of(SystemKind.parse(name.strip()));
                } catch (IllegalArgumentException e) {
                    throw new UserErrors.UsageException("--system: " + e.getMessage() + " or all");
                }
            }
            for (SystemKind k : named) {
                if (!out.contains(k)) {
                    out.add(k);
                }
            }
        }
        return out;
    }

    ScenarioRunner runner(Scenario s) {
        return runner(s, system(s));
    }

    ScenarioRunner runner(Scenario s, SystemKind system) {
        ScenarioRunner r = new ScenarioRunner(s).system(system);
        if (seed != null) {
            r.seed(seed);
        }
        r.costs(costs(s));
        return r;
    }

    CostModel costs(Scenario s) {
        if (costModel == null) {
            costModel = CostModel.presetOrFile(cost != null ? cost : s.vm().cost());
        }
        return costModel;
    }

    private CostModel costModel;
}
