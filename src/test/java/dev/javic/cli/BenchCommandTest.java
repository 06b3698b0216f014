package dev.javic.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code javic bench}: a small run writes its table, JSON, CSV and plot; bad input is one line and exit 2. */
@Isolated
class BenchCommandTest {
    @TempDir
    Path dir;

    private static void assertOneLineError(CliTest.Outcome o, String fragment) {
        assertThat(o.code()).as(o.err()).isEqualTo(2);
        assertThat(o.err().strip().lines().count()).as(o.err()).isEqualTo(1);
        assertThat(o.err()).contains(fragment).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void smallBenchPrintsTheTableAndWritesJsonCsvAndPlot() throws IOException {
        CliTest.Outcome o = CliTest.javic("bench", "hackbench", "--vcpus", "2", "--groups", "1", "--loops", "5", "--runs", "2",
                "--out", dir.toString(), "--jobs", "2");
        assertThat(o.code()).as(o.out() + o.err()).isZero();
        assertThat(o.out()).contains("Vanilla").contains("AVIC disabled").contains("AVIC").contains("95% CI")
                .contains("vs avic-off").contains("exits/s").contains("simulated seconds per wall second");
        String base = "hackbench-2vcpu-g1-l5";
        assertThat(Files.readString(dir.resolve(base + ".json"))).contains("\"meanSeconds\"").contains("\"welchP\"");
        assertThat(Files.readAllLines(dir.resolve(base + ".csv"))).hasSize(1 + 3 * 2);
        assertThat(Files.size(dir.resolve(base + ".png"))).isPositive();
    }

    @Test
    void resultsDoNotDependOnTheNumberOfJobs() throws IOException {
        CliTest.javic("bench", "hackbench", "--groups", "1", "--loops", "5", "--runs", "2", "--systems", "avic-on",
                "--out", dir.resolve("a").toString(), "--jobs", "1");
        CliTest.javic("bench", "hackbench", "--groups", "1", "--loops", "5", "--runs", "2", "--systems", "avic-on",
                "--out", dir.resolve("b").toString(), "--jobs", "2");
        String csv = "hackbench-2vcpu-g1-l5.csv";
        assertThat(Files.readString(dir.resolve("b").resolve(csv))).isEqualTo(Files.readString(dir.resolve("a").resolve(csv)));
    }

    @Test
    void badInputIsOneLineAndExitTwo() throws IOException {
        assertOneLineError(CliTest.javic("bench", "kernbench"), "unknown workload 'kernbench'");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--systems", "avic-on,kvm-magic"), "unknown system 'kvm-magic'");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--runs", "0"), "--runs must be positive");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--loops", "-3"), "--loops must be positive");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--groups", "0"), "--groups must be positive");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--vcpus", "9"), "--vcpus must be 1..4");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--loops", "many"), "--loops");
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "name: x\ncosts: {svm.vmrun: {value: -1}}\n");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--cost", bad.toString()), "negative");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--cost", dir.resolve("none.yaml").toString()), "cannot read");
    }

    @Test
    void calibrateRejectsBadInputInOneLine() throws IOException {
        assertOneLineError(CliTest.javic("calibrate", "--loops", "0"), "--loops must be positive");
        assertOneLineError(CliTest.javic("calibrate", "--runs", "-1"), "--runs must be positive");
        assertOneLineError(CliTest.javic("calibrate", "--jobs", "0"), "--jobs must be positive");
        assertOneLineError(CliTest.javic("calibrate", "--cost", dir.resolve("none.yaml").toString()), "cannot read");
        Files.writeString(dir.resolve("file"), "x");
        assertOneLineError(CliTest.javic("calibrate", "--out", dir.resolve("file").resolve("c.yaml").toString()), "not a directory");
    }

    @Test
    void calibrateWritesACostFileThatBenchReads() throws IOException {
        Path cal = dir.resolve("cal").resolve("c.yaml");
        CliTest.Outcome o = CliTest.javic("calibrate", "--loops", "2", "--runs", "1", "--out", cal.toString());
        assertThat(o.code()).as(o.out() + o.err()).isZero();
        assertThat(o.out()).contains("fit after").contains("guest-cpu x").contains("exit-path x").contains("largest error")
                .contains("wrote " + cal);
        assertThat(Files.readString(cal)).contains("./javic calibrate").contains("name: \"carrizo-2016-calibrated\"");
        CliTest.Outcome b = CliTest.javic("bench", "hackbench", "--groups", "1", "--loops", "5", "--runs", "1", "--systems",
                "avic-on", "--cost", cal.toString(), "--out", dir.resolve("b").toString());
        assertThat(b.code()).as(b.out() + b.err()).isZero();
        assertThat(b.out()).contains("cost model carrizo-2016-calibrated");
    }
}
