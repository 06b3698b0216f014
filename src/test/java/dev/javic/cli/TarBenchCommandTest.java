package dev.javic.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code javic bench tar}: a scaled-down tar xf writes the table, JSON, CSV and plot; bad counts are refused. */
@Isolated
class TarBenchCommandTest {
    @TempDir
    Path dir;

    @Test
    void scaledDownTarBenchWritesTheReport() throws IOException {
        CliTest.Outcome o = CliTest.javic("bench", "tar", "--fraction", "0.01", "--runs", "2", "--out", dir.toString(),
                "--jobs", "2");
        assertThat(o.code()).as(o.out() + o.err()).isZero();
        assertThat(o.out()).contains("Time (s)").contains("Vanilla").contains("AVIC disabled").contains("tar 4 vCPU")
                .contains("tar xf of 1 % of linux-4.3.3.tar.xz (scaled down: 516 of 51600 files)")
                .contains("tar wrote 6100000 bytes into 516 files and 34 directories")
                .contains("simulated seconds per wall second");
        String base = "tar-4vcpu-f0.01";
        assertThat(Files.readString(dir.resolve(base + ".json"))).contains("\"welchP\"");
        assertThat(Files.readAllLines(dir.resolve(base + ".csv"))).hasSize(1 + 3 * 2);
        assertThat(Files.size(dir.resolve(base + ".png"))).isPositive();
    }

    @Test
    void badCountsAreOneLineAndExitTwo() {
        for (String[] args : new String[][] {
                {"--fraction", "0"}, {"--fraction", "-0.5"}, {"--fraction", "2"}, {"--runs", "0"}, {"--vcpus", "0"},
                {"--vcpus", "5"}, {"--jobs", "0"}, {"--fraction", "lots"}}) {
            String[] all = new String[args.length + 2];
            all[0] = "bench";
            all[1] = "tar";
            System.arraycopy(args, 0, all, 2, args.length);
            CliTest.Outcome o = CliTest.javic(all);
            assertThat(o.code()).as(String.join(" ", args) + ": " + o.err()).isEqualTo(2);
            assertThat(o.err().strip().lines().count()).as(o.err()).isEqualTo(1);
            assertThat(o.err()).contains(args[0]).doesNotContain("Exception");
        }
    }
}
