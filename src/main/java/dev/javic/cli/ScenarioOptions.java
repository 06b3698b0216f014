package dev.javic.cli;

import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;

/** The options every command that runs a scenario file shares. */
final class ScenarioOptions {
    @Parameters(index = "0", paramLabel = "FILE", description = "Scenario file (YAML or JSON).")
    Path file;

    @Option(names = "--system", paramLabel = "SYSTEM",
            description = "vanilla, avic-off or avic-on (default: the scenario's vm.system).")
    String system;

    @Option(names = "--seed", paramLabel = "N", description = "Root seed (default: the scenario's vm.seed).")
    Long seed;

    @Option(names = "--cost", paramLabel = "FILE|PRESET", description = "Cost preset or cost file (default: the scenario's vm.cost).")
    String cost;

    Scenario load() {
        return ScenarioLoader.load(file);
    }

    SystemKind system(Scenario s) {
        if (system == null) {
            return s.vm().system();
        }
        try {
            return SystemKind.parse(system);
        } catch (IllegalArgumentException e) {
            throw new UserErrors.UsageException("--system: " + e.getMessage());
        }
    }

    ScenarioRunner runner(Scenario s) {
        ScenarioRunner r = new ScenarioRunner(s).system(system(s));
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
