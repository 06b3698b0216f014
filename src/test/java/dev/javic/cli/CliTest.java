package dev.javic.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

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
}
