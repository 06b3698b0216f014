package dev.javic.avic;

import dev.javic.experiment.Expectations;
import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.trace.TraceSink;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A guest that moves its xAPIC base inhibits AVIC for the VM (APIC_BASE_MODIFIED) and keeps a working APIC. */
class AvicInhibitTest {
    private static final Scenario RELOCATED = ScenarioLoader.load(Path.of("src/test/resources/scenarios/avic/apic-base-relocated.yaml"));

    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void theGuestSeesItsApicAtTheNewBaseOnEverySystem(SystemKind system) {
        ScenarioResult r = new ScenarioRunner(RELOCATED).system(system).run();
        assertThat(Expectations.check(RELOCATED, r)).isEmpty();
    }

    @Test
    void avicOnSetsTheInhibitOnceAndLeavesAvic() {
        List<String> events = new ArrayList<>();
        TraceSink sink = new TraceSink() {
            @Override
            public void kvmApicvInhibitChanged(long time, int cpu, boolean set, int reason, long inhibits) {
                events.add("inhibit " + set + " " + reason + " 0x" + Long.toHexString(inhibits));
            }

            @Override
            public void avicIpiAccelerated(long time, int cpu, int vcpuId, int target, int vector, boolean running) {
                events.add("accelerated " + vector);
            }
        };
        ScenarioRunner runner = new ScenarioRunner(RELOCATED).system(SystemKind.AVIC_ON).trace(sink);
        ScenarioResult r = runner.run();
        assertThat(events).containsExactly("inhibit true 6 0x40");
        assertThat(r.avicInactiveReasons()).singleElement().asString().contains("APIC_BASE_MODIFIED");
        assertThat(runner.vm().avicActive()).isFalse();
        for (int i = 0; i < 2; i++) {
            assertThat(runner.vm().vcpu(i).vmcb().isAvicEnabled()).as("vcpu %d left AVIC", i).isFalse();
        }
        // The IPI went through the emulated APIC at the new base: an NPF exit on the sender.
        assertThat(r.vcpus().get(0).exits()).containsKey("npf");
    }
}
