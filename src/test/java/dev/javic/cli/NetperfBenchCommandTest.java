package dev.javic.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code javic bench netperf}: a short TCP_RR run writes the table, JSON, CSV and plot; only 1 vCPU. */
@Isolated
class NetperfBenchCommandTest {
    @TempDir
    Path dir;

    @Test
    void shortNetperfBenchWritesTransactionsPerSecond() throws IOException {
        CliTest.Outcome o = CliTest.javic("bench", "netperf", "--seconds", "0.02", "--runs", "2", "--out", dir.toString(),
                "--jobs", "2");
        assertThat(o.code()).as(o.out() + o.err()).isZero();
        assertThat(o.out()).contains("Trans/s").contains("Vanilla").contains("AVIC disabled").contains("AVIC")
                .contains("transactions per second").contains("latency us").contains("simulated seconds per wall second");
        String base = "netperf-tcp_rr-0.02s";
        assertThat(Files.readString(dir.resolve(base + ".json"))).contains("\"transactionsPerSecond\"").contains("\"welchP\"");
        assertThat(Files.readAllLines(dir.resolve(base + ".csv"))).hasSize(1 + 3 * 2).first().asString()
                .contains("transactions_per_second");
        assertThat(Files.size(dir.resolve(base + ".png"))).isPositive();
    }

    @Test
    void netperfTakesOneVcpuAndPositiveSeconds() {
        CliTest.Outcome o = CliTest.javic("bench", "netperf", "--vcpus", "2");
        assertThat(o.code()).isEqualTo(2);
        assertThat(o.err().strip().lines().count()).isEqualTo(1);
        assertThat(o.err()).contains("1-vCPU guest");
        CliTest.Outcome s = CliTest.javic("bench", "netperf", "--seconds", "0");
        assertThat(s.code()).isEqualTo(2);
        assertThat(s.err()).contains("--seconds must be positive");
    }
}
