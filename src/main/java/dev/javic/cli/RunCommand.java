package dev.javic.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.javic.experiment.Expectations;
import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code javic run FILE}: runs a scenario and reports what each vCPU saw and which exits it took. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run a scenario file and report, per vCPU, the interrupts taken, values read and exits by reason. "
                + "Exit status: 0 ok, 1 an expectation failed, 2 bad input.")
final class RunCommand implements Callable<Integer> {
    @Mixin
    ScenarioOptions options;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Mixin
    TraceOptions traceOptions;

    @Option(names = "--dump-avic", description = "After the run, print the AVIC tables and each backing page's IRR/ISR/TPR.")
    boolean dumpAvic;

    @Override
    public Integer call() throws IOException {
        traceOptions.format();
        Scenario scenario = options.load();
        SystemKind system = options.system(scenario);
        ScenarioRunner runner = options.runner(scenario, system);
        runner.trace(traceOptions.open(scenario, system, options.costs(scenario)));
        ScenarioResult result = runner.run();
        List<String> diffs = Expectations.check(scenario, result);
        PrintStream out = System.out;
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("result", result);
            doc.put("expectations", Map.of("checked", scenario.expectations().size(), "failures", diffs));
            if (dumpAvic) {
                doc.put("avic", AvicDump.tables(runner));
            }
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(doc));
        } else {
            ResultPrinter.print(out, result);
            if (dumpAvic) {
                AvicDump.print(out, runner);
            }
            if (!scenario.expectations().isEmpty()) {
                if (diffs.isEmpty()) {
                    out.println("expectations: all " + scenario.expectations().size() + " hold");
                } else {
                    out.println("expectations FAILED:");
                    diffs.forEach(d -> out.println("  - " + d));
                }
            }
        }
        return diffs.isEmpty() ? 0 : 1;
    }
}
