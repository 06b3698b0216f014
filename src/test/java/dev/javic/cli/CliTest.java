package dev.javic.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.javic.trace.TraceEventChecks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The command line as a user meets it: exit codes, one-line errors, deterministic traces. */
@Isolated
class CliTest {
    @TempDir
    Path dir;

    record Outcome(int code, String out, String err) {
    }

    static Outcome javic(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.execute(args);
            return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private Path scenario(String yaml) throws IOException {
        Path f = dir.resolve("s.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    private static void assertOneLineError(Outcome o, String fragment) {
        assertThat(o.code()).as(o.err()).isEqualTo(2);
        assertThat(o.err().strip().lines().count()).as(o.err()).isEqualTo(1);
        assertThat(o.err()).contains(fragment).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void helpListsTheCommands() {
        Outcome o = javic("--help");
        assertThat(o.code()).isZero();
        assertThat(o.out()).contains("run").contains("explain");
    }

    @Test
    void runsTheExampleAndChecksItsExpectations() {
        Outcome o = javic("run", "examples/ipi-running.yaml", "--system", "avic-on");
        assertThat(o.code()).as(o.out() + o.err()).isZero();
        assertThat(o.out()).contains("0x40 @").contains("expectations: all 1 hold");
    }

    @Test
    void failedExpectationExitsOneWithADiff() throws IOException {
        Path f = scenario("""
                vm: {vcpus: 1}
                vcpus:
                  - program: [apic_enable, sti, {send_ipi: {shorthand: self, vector: 0x41}}, work: 1000]
                expect:
                  - {vcpu: 0, interrupts: [0x42]}
                """);
        Outcome o = javic("run", f.toString());
        assertThat(o.code()).isEqualTo(1);
        assertThat(o.out()).contains("vcpu 0 interrupts: expected [0x42], got [0x41]");
    }

    @Test
    void malformedScenarioIsOneLineExitTwo() throws IOException {
        assertOneLineError(javic("run", scenario("vcpus: [\n  this is not a scenario\n").toString()), "not valid YAML");
    }

    @Test
    void unknownOperationNamesThePlace() throws IOException {
        Path f = scenario("vm: {vcpus: 1}\nvcpus:\n  - program: [sti, frobnicate]\n");
        assertOneLineError(javic("run", f.toString()), "vcpus[0].program[1]: unknown operation 'frobnicate'");
    }

    @Test
    void badRegisterVectorAndVcpuIndex() throws IOException {
        assertOneLineError(javic("run", scenario("vm: {vcpus: 1}\nvcpus:\n  - program: [{apic_read: 0x84}]\n").toString()),
                "bad APIC register offset 0x84");
        assertOneLineError(javic("run", scenario(
                "vm: {vcpus: 2}\nvcpus:\n  - program: [{send_ipi: {dest: 1, vector: 5}}]\n").toString()),
                "vector 5 is below 16");
        assertOneLineError(javic("run", scenario("vm: {vcpus: 2}\nvcpus:\n  - {id: 2, program: [sti]}\n").toString()),
                "vCPU 2 out of range");
        assertOneLineError(javic("run", scenario("vcpus:\n  - {program: [sti]}\n").toString()), "missing field 'vm'");
        assertOneLineError(javic("run", scenario("vm: {}\nvcpus: []\n").toString()), "missing field 'vcpus'");
    }

    @Test
    void unknownSystemOptionAndMissingFile() {
        assertOneLineError(javic("run", "examples/ipi-running.yaml", "--system", "avic-maybe"), "unknown system 'avic-maybe'");
        assertOneLineError(javic("run", "examples/ipi-running.yaml", "--frobnicate"), "Unknown option");
        assertOneLineError(javic("run", dir.resolve("nope.yaml").toString()), "no such file");
        assertOneLineError(javic("run", "examples/ipi-running.yaml", "--cost", "pentium-1993"), "unknown cost preset");
    }

    @Test
    void sameScenarioAndSeedGiveByteIdenticalTraces() throws IOException {
        for (String system : new String[] {"vanilla", "avic-off", "avic-on"}) {
            Path a = dir.resolve(system + "-a.txt");
            Path b = dir.resolve(system + "-b.txt");
            assertThat(javic("run", "examples/ipi-running.yaml", "--system", system, "--seed", "7", "--trace", a.toString()).code()).isZero();
            assertThat(javic("run", "examples/ipi-running.yaml", "--system", system, "--seed", "7", "--trace", b.toString()).code()).isZero();
            assertThat(Files.size(a)).isGreaterThan(1000);
            assertThat(Files.mismatch(a, b)).as(system).isEqualTo(-1L);
        }
    }

    @Test
    void explainAnswersForEverySystem() {
        Outcome o = javic("explain", "examples/ipi-running.yaml");
        assertThat(o.code()).isZero();
        assertThat(o.out()).contains("vanilla:").contains("predates the AVIC series")
                .contains("avic-off:").contains("kvm_amd.avic=0")
                .contains("avic-on:").contains("AVIC active");
    }

    @Test
    void jsonResultCarriesExitsAndAvicState() {
        Outcome o = javic("run", "examples/ipi-running.yaml", "--system", "avic-on", "--json", "--dump-avic");
        assertThat(o.code()).isZero();
        assertThat(o.out()).contains("\"exits\"").contains("\"avicActive\" : true").contains("\"physical_table\"");
    }

    // ---- observability: --trace-format, stat ------------------------------------------------------------

    @Test
    void perfettoTraceFromTheFormatOptionOrTheJsonExtension() throws IOException {
        Path explicit = dir.resolve("t.trace");
        Path inferred = dir.resolve("t.json");
        assertThat(javic("run", "examples/ipi-running.yaml", "--system", "avic-off", "--trace", explicit.toString(),
                "--trace-format", "perfetto").code()).isZero();
        assertThat(javic("run", "examples/ipi-running.yaml", "--system", "avic-off", "--trace", inferred.toString()).code())
                .isZero();
        assertThat(Files.mismatch(explicit, inferred)).isEqualTo(-1L);
        try (Reader r = Files.newBufferedReader(explicit)) {
            TraceEventChecks.Summary s = TraceEventChecks.check(r);
            assertThat(s.flows()).as("the IPI's arrow").isEqualTo(1);
            assertThat(s.flowStartsByTid()).containsOnlyKeys(2000);   // vCPU 0 sends
            assertThat(s.flowEndsByTid()).containsOnlyKeys(2001);     // vCPU 1's handler takes it
        }
        Path text = dir.resolve("t.txt");
        assertThat(javic("run", "examples/ipi-running.yaml", "--trace", text.toString(), "--trace-format", "FTRACE").code())
                .isZero();
        assertThat(Files.readString(text)).startsWith("# tracer: nop");
    }

    @Test
    void everyFtraceLineParsesOnEverySystem() throws IOException {
        for (String system : new String[] {"vanilla", "avic-off", "avic-on"}) {
            Path t = dir.resolve(system + ".txt");
            assertThat(javic("run", "examples/ipi-storm.yaml", "--system", system, "--trace", t.toString()).code()).isZero();
            List<String> lines = Files.readAllLines(t).stream().filter(l -> !l.startsWith("#") && !l.isBlank()).toList();
            assertThat(lines).hasSizeGreaterThan(1000);
            for (String line : lines) {
                assertThat(TraceEventChecks.FTRACE_LINE.matcher(line).find()).as(line).isTrue();
            }
        }
    }

    @Test
    void sameScenarioAndSeedGiveByteIdenticalPerfettoTraces() throws IOException {
        Path a = dir.resolve("a.json");
        Path b = dir.resolve("b.json");
        assertThat(javic("run", "examples/ipi-storm.yaml", "--seed", "3", "--trace", a.toString()).code()).isZero();
        assertThat(javic("run", "examples/ipi-storm.yaml", "--seed", "3", "--trace", b.toString()).code()).isZero();
        assertThat(Files.size(a)).isGreaterThan(100_000);
        assertThat(Files.mismatch(a, b)).isEqualTo(-1L);
    }

    @Test
    void badTraceOptionsAreOneLineExitTwo() {
        assertOneLineError(javic("run", "examples/ipi-running.yaml", "--trace", dir.resolve("x").toString(),
                "--trace-format", "ctf"), "--trace-format: unknown format 'ctf' (choose ftrace or perfetto)");
        assertOneLineError(javic("run", "examples/ipi-running.yaml", "--trace-format", "perfetto"),
                "--trace-format needs --trace OUT");
        Path file = dir.resolve("plain-file");
        assertThat(file.toFile().mkdirs() || Files.isDirectory(file)).isTrue();
        assertOneLineError(javic("run", "examples/ipi-running.yaml", "--trace", file.toString()),
                "--trace: cannot write " + file);
        assertOneLineError(javic("stat", "examples/ipi-running.yaml", "--plot", file.toString()),
                "--plot: cannot write " + file);
    }

    @Test
    void statShowsPerfKvmStatTablesSideBySide() {
        Outcome o = javic("stat", "examples/ipi-running.yaml");
        assertThat(o.code()).as(o.err()).isZero();
        assertThat(o.out()).contains("Analyze events for VM ipi-running on vanilla, all VCPUs")
                .contains("Analyze events for VM ipi-running on avic-off, all VCPUs")
                .contains("Analyze events for VM ipi-running on avic-on, all VCPUs")
                .containsPattern("VM-EXIT +Samples +Samples% +Time% +Min Time +Max Time +Avg time")
                .containsPattern("npf +5 +62\\.50% +[0-9.]+% +[0-9.]+us +[0-9.]+us +[0-9.]+us \\( \\+- +[0-9.]+% \\)")
                .contains("Total Samples:8, Total events handled time:")
                .contains("Total Samples:4, Total events handled time:")
                .contains("Exits side by side")
                .contains("avic-on takes 4 fewer exits than avic-off (4 vs 8)")
                .containsPattern("IPIs delivered by the AVIC hardware \\(avic_ipi\\) +0 +0 +1")
                .containsPattern("avic-on +ipi +1 +0\\.555");
    }

    @Test
    void statForOneVcpuAndChosenSystems() {
        Outcome o = javic("stat", "examples/ipi-running.yaml", "--system", "avic-on,avic-off", "--vcpu", "1");
        assertThat(o.code()).as(o.err()).isZero();
        assertThat(o.out()).contains("on avic-on, VCPU 1").contains("on avic-off, VCPU 1").doesNotContain("vanilla")
                .contains("Total Samples:4, Total events handled time:")   // avic-off vCPU 1: interrupt, hlt, npf x2
                .contains("target vCPU 1");
        assertThat(o.out().indexOf("on avic-on,")).isLessThan(o.out().indexOf("on avic-off,"));
        assertOneLineError(javic("stat", "examples/ipi-running.yaml", "--vcpu", "2"), "--vcpu: vCPU 2 out of range");
        assertOneLineError(javic("stat", "examples/ipi-running.yaml", "--system", "avic-maybe"),
                "unknown system 'avic-maybe'");
        assertOneLineError(javic("run", "examples/ipi-running.yaml", "--system", "avic-on,avic-off"),
                "--system: this command runs one system");
    }

    @Test
    void statJsonTotalsEqualTheRunsExitsAndPlotIsAPng() throws IOException {
        Path png = dir.resolve("plots/latency.png");
        Outcome o = javic("stat", "examples/ipi-storm.yaml", "--system", "all", "--json", "--plot", png.toString());
        assertThat(o.code()).as(o.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(o.out());
        assertThat(doc.get("systems")).hasSize(3);
        for (JsonNode s : doc.get("systems")) {
            Outcome run = javic("run", "examples/ipi-storm.yaml", "--system", s.get("system").asText(), "--json");
            JsonNode result = new ObjectMapper().readTree(run.out()).get("result");
            long exits = 0;
            for (JsonNode v : result.get("vcpus")) {
                exits += v.get("exitsTotal").asLong();
            }
            assertThat(s.get("exits").get("total").asLong()).as(s.get("system").asText()).isEqualTo(exits);
            long byReason = 0;
            for (JsonNode r : s.get("exits").get("by_reason")) {
                byReason += r.get("samples").asLong();
            }
            assertThat(byReason).isEqualTo(exits);
            JsonNode ipi = s.get("latency").get("ipi");
            assertThat(ipi.get("count").asLong()).isGreaterThan(1900);
            assertThat(ipi.get("p50_us").asDouble()).isPositive().isLessThanOrEqualTo(ipi.get("p90_us").asDouble());
            assertThat(ipi.get("p99_9_us").asDouble()).isLessThanOrEqualTo(ipi.get("max_us").asDouble());
        }
        byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(png), 8);
        assertThat(head).isEqualTo(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
    }
}
