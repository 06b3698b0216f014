package dev.javic.avic;

import dev.javic.experiment.Expectations;
import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.hw.VmcbLayout;
import dev.javic.sim.CostModel;
import dev.javic.sim.TieBreak;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/** One scenario run with its trace, for the AVIC tests: everything goes through public boundaries. */
record AvicRun(Scenario scenario, ScenarioRunner runner, ScenarioResult result, RecordingSink trace, CostModel costs) {
    static final CostModel COSTS = CostModel.preset(CostModel.DEFAULT_PRESET);
    static final long APIC_BASE = 0xFEE00000L;

    /** A scenario from src/test/resources/scenarios/avic/. */
    static Scenario load(String name) {
        String path = "/scenarios/avic/" + name;
        try (InputStream in = AvicRun.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalArgumentException("no test resource " + path);
            }
            return ScenarioLoader.parse(in.readAllBytes(), path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Scenario inline(String name, String yaml) {
        return ScenarioLoader.parse(yaml.getBytes(StandardCharsets.UTF_8), name);
    }

    static AvicRun run(Scenario s, SystemKind system) {
        return run(s, system, TieBreak.FIFO, 1, new RecordingSink());
    }

    static AvicRun run(Scenario s, SystemKind system, TieBreak tieBreak, long seed, RecordingSink sink) {
        return run(s, system, tieBreak, seed, sink, r -> { });
    }

    /** {@code beforeRun} sees the built machine and VM (e.g. to hook memory checks into the sink). */
    static AvicRun run(Scenario s, SystemKind system, TieBreak tieBreak, long seed, RecordingSink sink,
                       Consumer<ScenarioRunner> beforeRun) {
        return run(s, system, COSTS, tieBreak, seed, sink, beforeRun);
    }

    static AvicRun run(Scenario s, SystemKind system, CostModel costs) {
        return run(s, system, costs, TieBreak.FIFO, 1, new RecordingSink(), r -> { });
    }

    private static AvicRun run(Scenario s, SystemKind system, CostModel costs, TieBreak tieBreak, long seed,
                               RecordingSink sink, Consumer<ScenarioRunner> beforeRun) {
        ScenarioRunner r = new ScenarioRunner(s).system(system).tieBreak(tieBreak).seed(seed).costs(costs).trace(sink);
        r.build();
        beforeRun.accept(r);
        ScenarioResult result = r.run();
        return new AvicRun(s, r, result, sink, costs);
    }

    ScenarioResult.VcpuResult vcpu(int i) {
        return result.vcpus().get(i);
    }

    List<Integer> interrupts(int vcpu) {
        return vcpu(vcpu).interrupts().stream().map(ScenarioResult.Interrupt::vector).toList();
    }

    /** The last value the guest of {@code vcpu} read under {@code label}. */
    long read(int vcpu, String label) {
        List<ScenarioResult.Read> r = vcpu(vcpu).reads().stream().filter(x -> x.label().equals(label)).toList();
        assertThat(r).as("vcpu %d read '%s'", vcpu, label).isNotEmpty();
        return r.get(r.size() - 1).value();
    }

    long readTimeNs(int vcpu, String label) {
        return vcpu(vcpu).reads().stream().filter(x -> x.label().equals(label)).findFirst().orElseThrow().timeNs();
    }

    long exits(int vcpu, String reason) {
        return vcpu(vcpu).exits().getOrDefault(reason, 0L);
    }

    void assertExpectationsHold() {
        assertThat(Expectations.check(scenario, result)).as("scenario expectations\n%s", trace.dump()).isEmpty();
    }

    int logicalEntry(int index) {
        return access(runner).logical(index);
    }

    /** Reads the VM's AVIC tables from host memory (usable while the run is in progress). */
    interface Access {
        long physical(int index);

        int logical(int index);
    }

    static Access access(ScenarioRunner r) {
        return new Access() {
            @Override
            public long physical(int index) {
                return r.machine().memory().read64(r.vm().avicPhysicalTable() + 8L * index);
            }

            @Override
            public int logical(int index) {
                return r.machine().memory().read32(r.vm().avicLogicalTable() + 4L * index);
            }
        };
    }

    /** The vCPU's AVIC backing page, as the VMCB names it. */
    long backingPage(int vcpu) {
        return runner.vm().vcpu(vcpu).vmcb().read64(VmcbLayout.AVIC_BACKING_PAGE) & VmcbLayout.AVIC_HPA_MASK;
    }
}
