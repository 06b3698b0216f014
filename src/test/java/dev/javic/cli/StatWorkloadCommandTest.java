package dev.javic.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.NetperfRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.experiment.TarRunner;
import dev.javic.sim.CostModel;
import dev.javic.workload.Hackbench;
import dev.javic.workload.tar.Tar;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code javic stat hackbench|tar|netperf}: one run of the workload per system with the stat sinks attached; the
 * report's exit totals equal the exits the run counted; anything that is neither a file nor a workload is one
 * line, exit 2.
 */
@Isolated
class StatWorkloadCommandTest {
    @TempDir
    Path dir;

    @Test
    void hackbenchStatTotalsEqualTheRunsExitCountsPerSystem() throws IOException {
        CliTest.Outcome o = CliTest.javic("stat", "hackbench", "--loops", "20", "--vcpus", "2", "--json");
        assertThat(o.code()).as(o.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(o.out());
        assertThat(doc.get("workload").asText()).isEqualTo("hackbench");
        assertThat(doc.get("description").asText()).contains("-l 20").contains("2 vCPUs");
        assertThat(doc.get("systems")).hasSize(3);
        CostModel costs = CostModel.presetOrFile(CostModel.CALIBRATED_PRESET);
        for (JsonNode s : doc.get("systems")) {
            SystemKind k = SystemKind.parse(s.get("system").asText());
            HackbenchRunner.Outcome run = HackbenchRunner.run(
                    new HackbenchRunner.Spec(k, 2, Hackbench.Params.of(10, 20), 1, costs, true));
            assertExitsEqual(s, run.exits(), run.exitsByReason());
            assertThat(s.get("latency").get("all").get("count").asLong()).as(k.label()).isPositive();
        }
    }

    @Test
    void netperfStatTotalsEqualTheRunsExitCountsPerSystem() throws IOException {
        CliTest.Outcome o = CliTest.javic("stat", "netperf", "--seconds", "1", "--json");
        assertThat(o.code()).as(o.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(o.out());
        assertThat(doc.get("workload").asText()).isEqualTo("netperf");
        assertThat(doc.get("systems")).hasSize(3);
        CostModel costs = CostModel.presetOrFile(CostModel.CALIBRATED_PRESET);
        for (JsonNode s : doc.get("systems")) {
            SystemKind k = SystemKind.parse(s.get("system").asText());
            NetperfRunner.Outcome run = NetperfRunner.run(NetperfRunner.Spec.of(k, 1, 1, costs));
            assertExitsEqual(s, run.exits(), run.exitsByReason());
        }
    }

    @Test
    void tarStatTotalsEqualTheRunsExitCountsPerSystem() throws IOException {
        CliTest.Outcome o = CliTest.javic("stat", "tar", "--fraction", "0.01", "--json");
        assertThat(o.code()).as(o.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(o.out());
        assertThat(doc.get("workload").asText()).isEqualTo("tar");
        assertThat(doc.get("description").asText()).contains("516 files").contains("4 vCPUs");
        assertThat(doc.get("systems")).hasSize(3);
        CostModel costs = CostModel.presetOrFile(CostModel.CALIBRATED_PRESET);
        for (JsonNode s : doc.get("systems")) {
            SystemKind k = SystemKind.parse(s.get("system").asText());
            TarRunner.Outcome run = TarRunner.run(new TarRunner.Spec(k, 4, Tar.Params.LINUX_4_3_3.scaled(0.01), 1, costs, true));
            assertExitsEqual(s, run.exits(), run.exitsByReason());
        }
        CliTest.Outcome bad = CliTest.javic("stat", "tar", "--loops", "3");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("--loops is not an option of tar");
        CliTest.Outcome frac = CliTest.javic("stat", "hackbench", "--fraction", "0.5");
        assertThat(frac.code()).isEqualTo(2);
        assertThat(frac.err()).contains("--fraction is an option of tar");
        CliTest.Outcome zero = CliTest.javic("stat", "tar", "--fraction", "0");
        assertThat(zero.code()).isEqualTo(2);
        assertThat(zero.err()).contains("--fraction must be in (0, 1]");
    }

    private static void assertExitsEqual(JsonNode system, long exits, Map<String, Long> byReason) {
        String label = system.get("system").asText();
        assertThat(system.get("exits").get("total").asLong()).as(label).isEqualTo(exits).isPositive();
        Map<String, Long> reported = new LinkedHashMap<>();
        for (JsonNode r : system.get("exits").get("by_reason")) {
            reported.put(r.get("reason").asText(), r.get("samples").asLong());
        }
        Map<String, Long> counted = new LinkedHashMap<>(byReason);
        counted.values().removeIf(v -> v == 0);
        assertThat(reported).as(label).containsExactlyInAnyOrderEntriesOf(counted);
    }

    @Test
    void hackbenchStatPrintsTheTablesSideBySideAndAPlot() throws IOException {
        Path png = dir.resolve("hb.png");
        CliTest.Outcome o = CliTest.javic("stat", "hackbench", "--loops", "20", "--vcpus", "2", "--system",
                "avic-off,avic-on", "--plot", png.toString());
        assertThat(o.code()).as(o.err()).isZero();
        assertThat(o.out()).startsWith("hackbench -p -g 10 -l 20")
                .contains("Analyze events for VM hackbench on avic-off, all VCPUs")
                .contains("Analyze events for VM hackbench on avic-on, all VCPUs")
                .doesNotContain("on vanilla")
                .containsPattern("VM-EXIT +Samples +Samples% +Time% +Min Time +Max Time +Avg time")
                .contains("Exits side by side").containsPattern("avic-on takes \\d+ fewer exits than avic-off")
                .contains("How interrupts were delivered")
                .containsPattern("avic-on +ipi +\\d+ ")
                .contains("latency plot: " + png);
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertThat(head).isEqualTo(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
    }

    @Test
    void hackbenchTimelineWindowsAddUpToTheRunInTextAndJson() throws IOException {
        CliTest.Outcome o = CliTest.javic("stat", "hackbench", "--loops", "20", "--system", "avic-off", "--timeline", "0.01",
                "--json");
        assertThat(o.code()).as(o.err()).isZero();
        JsonNode t = new ObjectMapper().readTree(o.out()).get("systems").get(0).get("timeline");
        assertThat(t.get("window_seconds").asDouble()).isEqualTo(0.01);
        long messages = 0;
        double end = 0;
        for (JsonNode w : t.get("windows")) {
            assertThat(w.get("start_seconds").asDouble()).isEqualTo(end);
            end = w.get("end_seconds").asDouble();
            messages += w.get("messages").asLong();
        }
        assertThat(messages).isEqualTo(Hackbench.Params.of(10, 20).messages());
        JsonNode last = t.get("windows").get(t.get("windows").size() - 1);
        assertThat(last.get("tasks_exited").asInt()).isEqualTo(Hackbench.Params.of(10, 20).tasks());
        CliTest.Outcome text = CliTest.javic("stat", "hackbench", "--loops", "20", "--system", "avic-on", "--timeline", "0.01");
        assertThat(text.code()).as(text.err()).isZero();
        assertThat(text.out()).contains("timeline, avic-on (windows of 0.01 simulated s):").contains("switch/msg");
    }

    @Test
    void badInputIsOneLineExitTwo() {
        assertOneLineError(CliTest.javic("stat", "hackbench", "--timeline", "0"), "--timeline must be a positive number");
        assertOneLineError(CliTest.javic("stat", "tar", "--timeline", "1"), "--timeline is an option of hackbench");
        assertOneLineError(CliTest.javic("stat", "examples/ipi-running.yaml", "--timeline", "1"),
                "--timeline is an option of the workloads");
        assertOneLineError(CliTest.javic("stat", "no-such-thing"), "no such scenario file or workload: no-such-thing");
        assertOneLineError(CliTest.javic("stat", "examples/no-such.yaml"),
                "no such scenario file or workload: examples/no-such.yaml");
        assertOneLineError(CliTest.javic("stat", "hackbench", "--seconds", "1"), "--seconds is an option of netperf");
        assertOneLineError(CliTest.javic("stat", "netperf", "--loops", "5"), "--loops is an option of hackbench");
        assertOneLineError(CliTest.javic("stat", "netperf", "--vcpus", "2"), "1-vCPU guest");
        assertOneLineError(CliTest.javic("stat", "netperf", "--seconds", "0"), "--seconds must be positive");
        assertOneLineError(CliTest.javic("stat", "hackbench", "--vcpus", "5"), "--vcpus must be 1..4");
        assertOneLineError(CliTest.javic("stat", "hackbench", "--loops", "0"), "--loops must be positive");
        assertOneLineError(CliTest.javic("stat", "hackbench", "--vcpus", "2", "--vcpu", "2"),
                "--vcpu: vCPU 2 out of range");
        assertOneLineError(CliTest.javic("stat", "hackbench", "--system", "avic-maybe"), "unknown system 'avic-maybe'");
        assertOneLineError(CliTest.javic("stat", "hackbench", "--cost", "no-such-preset"), "no-such-preset");
        assertOneLineError(CliTest.javic("stat", "examples/ipi-running.yaml", "--loops", "3"),
                "--loops is an option of the workloads");
    }

    private static void assertOneLineError(CliTest.Outcome o, String fragment) {
        assertThat(o.code()).as(o.err()).isEqualTo(2);
        assertThat(o.err().strip().lines().count()).as(o.err()).isEqualTo(1);
        assertThat(o.err()).contains(fragment).doesNotContain("Exception").doesNotContain("\tat ");
    }
}
