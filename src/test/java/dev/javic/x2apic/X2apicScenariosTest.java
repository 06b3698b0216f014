package dev.javic.x2apic;

import dev.javic.experiment.Expectations;
import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioLoader;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import dev.javic.trace.FtraceTextSink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.StringWriter;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * x2APIC mode as KVM offers it to guests that do not use AVIC (the scenarios under
 * {@code scenarios/x2apic/}; each file's header says what it checks and where in KVM and the SDM that comes
 * from). The files that use x2APIC run on vanilla and avic-off, where CPUID.1:ECX[21] is set; the avic-on
 * file checks that x2APIC is hidden there and cannot be enabled.
 */
class X2apicScenariosTest {
    /** Files that enable x2APIC: their expectations must hold on both systems without AVIC. */
    static final List<String> X2APIC_FILES = List.of("x2apic-registers.yaml", "x2apic-transitions.yaml",
            "x2apic-ipis.yaml", "x2apic-mixed-modes.yaml");

    static Stream<Arguments> x2apicFilesOnSystemsWithoutAvic() {
        return X2APIC_FILES.stream().flatMap(f -> Stream.of(SystemKind.VANILLA, SystemKind.AVIC_OFF)
                .map(s -> Arguments.of(f, s)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("x2apicFilesOnSystemsWithoutAvic")
    void expectationsHold(String file, SystemKind system) {
        Run run = run(file, system);
        assertThat(run.scenario.expectations()).as("%s has an expect: block", file).isNotEmpty();
        assertThat(Expectations.check(run.scenario, run.result)).as(run.describe()).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("x2apicFiles")
    void vanillaAndAvicOffTakeTheSameInterruptsReadsAndExits(String file) {
        Run vanilla = run(file, SystemKind.VANILLA);
        Run off = run(file, SystemKind.AVIC_OFF);
        for (int v = 0; v < vanilla.result.vcpus().size(); v++) {
            String why = vanilla.describe() + off.describe();
            assertThat(off.vcpu(v).interrupts().stream().map(ScenarioResult.Interrupt::vector).toList()).as(why)
                    .isEqualTo(vanilla.vcpu(v).interrupts().stream().map(ScenarioResult.Interrupt::vector).toList());
            assertThat(off.vcpu(v).reads().stream().map(r -> r.label() + "=" + r.value()).toList()).as(why)
                    .isEqualTo(vanilla.vcpu(v).reads().stream().map(r -> r.label() + "=" + r.value()).toList());
            assertThat(off.vcpu(v).exits()).as(why).isEqualTo(vanilla.vcpu(v).exits());
        }
    }

    static List<String> x2apicFiles() {
        return X2APIC_FILES;
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = SystemKind.class, names = {"VANILLA", "AVIC_OFF"})
    void everyApicAccessOfAnX2apicGuestIsAnMsrExit(SystemKind system) {
        Run run = run("x2apic-ipis.yaml", system);
        String why = run.describe();
        // The sender: RDMSR + WRMSR to enable x2APIC, the SPIV MSR, ten IPIs (nine ICR writes, one SELF IPI),
        // and two EOIs by the default handler (the broadcasts reach it too; the self IPI is the third).
        assertThat(run.vcpu(0).exits()).as(why).containsEntry("msr", 2L + 1 + 10 + 3).doesNotContainKey("npf");
        for (int v : new int[] {1, 2, 3, 17}) {
            assertThat(run.vcpu(v).exits()).as(why).doesNotContainKey("npf").containsKey("msr");
        }
        // vCPU 1: enable (2), SPIV, the ISR read and EOI in its 0x41 handler, four default EOIs, the last read.
        assertThat(run.vcpu(1).exits().get("msr")).as(why).isEqualTo(2 + 1 + 2 + 4 + 1);
    }

    @Test
    void theX2apicBroadcastAndTheClusterDestinationAreTracedWith32BitDestinations() {
        Scenario scenario = ScenarioLoader.load(directory().resolve("x2apic-ipis.yaml"));
        CostModel costs = CostModel.presetOrFile(scenario.vm().cost());
        StringWriter text = new StringWriter();
        new ScenarioRunner(scenario).system(SystemKind.AVIC_OFF).costs(costs)
                .trace(new FtraceTextSink(text, costs.tscHz(), scenario.vm().hostCpus())).run();
        String trace = text.toString();
        assertThat(trace).contains("kvm_apic_ipi: dst ffffffff vec 70 ");
        assertThat(trace).contains("kvm_apic_ipi: dst 10002 vec 68 ");
        // kvm_msr for the ICR write carries the whole 64-bit value: x2APIC ID 17 in 63:32, assert | 0x42.
        assertThat(trace).contains("kvm_msr: msr_write 830 = 0x1100004042");
        assertThat(trace).contains("kvm_apic_ipi: dst 11 vec 66 (Fixed|physical|assert|edge|dst)");
        assertThat(trace).doesNotContainPattern("kvm_exit: vcpu [0-9]+ reason npf");
    }

    @Test
    void avicOnHidesX2apicAndRefusesToEnableIt() {
        Run run = run("x2apic-hidden-with-avic.yaml", SystemKind.AVIC_ON);
        assertThat(run.vcpu(0).avicActive()).as(run.describe()).isTrue();
        assertThat(Expectations.check(run.scenario, run.result)).as(run.describe()).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = SystemKind.class, names = {"VANILLA", "AVIC_OFF"})
    void withoutAvicTheSameGuestCodeSeesX2apicAndEnablesIt(SystemKind system) {
        // The avic-on file's program on the systems that offer x2APIC: CPUID.1:ECX[21] is set, the enable
        // succeeds, and the x2APIC MSRs then exist (ICR 0x40040 is a fixed self IPI to a disabled APIC:
        // dropped). Only the xAPIC page read changes: all ones, x2APIC mode does not decode MMIO.
        Run run = run("x2apic-hidden-with-avic.yaml", system);
        assertThat(run.vcpu(0).faults()).as(run.describe()).isEmpty();
        Map<String, Long> reads = run.vcpu(0).reads().stream()
                .collect(Collectors.toMap(ScenarioResult.Read::label, ScenarioResult.Read::value, (a, b) -> b));
        assertThat(reads).as(run.describe()).containsEntry("cpuid1.ecx", 0x1200000L)
                .containsEntry("base", 0xfee00d00L).containsEntry("x2apic_id", 0L)
                .containsEntry("lvr", 0xffffffffL);
        assertThat(run.vcpu(0).exits()).as(run.describe()).containsEntry("npf", 1L);
    }

    @Test
    void runsAreDeterministic() {
        assertThat(run("x2apic-ipis.yaml", SystemKind.AVIC_OFF).result)
                .isEqualTo(run("x2apic-ipis.yaml", SystemKind.AVIC_OFF).result);
    }

    // ---- running the files ----------------------------------------------------------------------------------

    private record Run(Scenario scenario, ScenarioResult result) {
        ScenarioResult.VcpuResult vcpu(int id) {
            return result.vcpus().get(id);
        }

        String describe() {
            StringBuilder sb = new StringBuilder(String.format("%s on %s:%n", result.scenario(), result.system()));
            for (ScenarioResult.VcpuResult v : result.vcpus()) {
                if (v.interrupts().isEmpty() && v.reads().isEmpty() && v.faults().isEmpty()) {
                    continue;
                }
                sb.append(String.format("  vCPU %d interrupts %s%n    reads %s%n    faults %s%n    exits %s%n", v.vcpu(),
                        v.interrupts().stream().map(i -> String.format("0x%x", i.vector())).toList(),
                        v.reads().stream().map(r -> String.format("%s=0x%x", r.label(), r.value())).toList(),
                        v.faults().stream().map(f -> f.label() + ":" + f.value()).toList(), v.exits()));
            }
            return sb.toString();
        }
    }

    private static Run run(String file, SystemKind system) {
        Scenario s = ScenarioLoader.load(directory().resolve(file));
        return new Run(s, new ScenarioRunner(s).system(system).run());
    }

    private static Path directory() {
        URL url = X2apicScenariosTest.class.getResource("/scenarios/x2apic");
        if (url == null) {
            return Path.of("src/test/resources/scenarios/x2apic");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
