package dev.javic.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.javic.trace.TraceEventChecks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code javic reproduce} on a tiny configuration (hackbench -l 3, netperf 0.02 s, 1 % of the tarball, 2 runs): the series'
 * four rows, the files, independence from --jobs; and {@code --trace} of one chosen run on bench and reproduce.
 */
@Isolated
class ReproduceCommandTest {
    @TempDir
    Path dir;

    private static final String[] TINY = {"--quick", "--loops", "3", "--netperf-seconds", "0.02", "--tar-fraction", "0.01",
        "--runs", "2"};

    private static String[] args(String[] head, String... tail) {
        String[] all = new String[head.length + tail.length + 1];
        all[0] = "reproduce";
        System.arraycopy(head, 0, all, 1, head.length);
        System.arraycopy(tail, 0, all, 1 + head.length, tail.length);
        return all;
    }

    private static void assertOneLineError(CliTest.Outcome o, String fragment) {
        assertThat(o.code()).as(o.out() + o.err()).isEqualTo(2);
        assertThat(o.err().strip().lines().count()).as(o.err()).isEqualTo(1);
        assertThat(o.err()).contains(fragment).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void tinyReproducePrintsTheSeriesTableAndWritesJsonCsvAndPlots() throws IOException {
        CliTest.Outcome o = CliTest.javic(args(TINY, "--out", dir.toString(), "--jobs", "2"));
        assertThat(o.code()).as(o.out() + o.err()).isZero();
        String out = o.out();
        assertThat(out).contains("QUICK (--quick)").contains("hackbench -l 3 instead of -l 100000")
                .contains("netperf -l 0.02 s instead of 60 s").contains("2 runs per system instead of 10")
                .contains("tar xf of 1 % of the tarball's files and bytes");
        // the four rows of the series, in its order, and the three columns
        List<String> rows = out.lines().toList();
        int hb2 = indexOf(rows, "hackbench 2 vCPUs (s)");
        int hb4 = indexOf(rows, "hackbench 4 vCPUs (s)");
        int tar = indexOf(rows, "tar xf 4 vCPUs (s)");
        int np = indexOf(rows, "netperf TCP_RR 1 vCPU (trans/s)");
        assertThat(hb2).isNotNegative().isLessThan(hb4);
        assertThat(hb4).isLessThan(tar);
        assertThat(tar).isLessThan(np);
        assertThat(rows.get(tar).substring("tar xf 4 vCPUs (s)".length()).strip().split("\\s+")).hasSize(3)
                .allSatisfy(v -> assertThat(Double.parseDouble(v)).isPositive());
        assertThat(rows.get(hb2 - 1)).contains("Vanilla").contains("AVIC disabled").contains("AVIC");
        assertThat(out).contains("95% CI").contains("Welch").contains("vs Vanilla").contains("exits/s").contains("interrupts")
                .contains("273.76").contains("260.51").contains("248.53")
                .contains("simulated seconds per wall second").contains("wall time:");
        for (String f : List.of("reproduce-quick.json", "reproduce-quick.csv", "reproduce-quick.png",
                "hackbench-2vcpu-g10-l3.json", "hackbench-4vcpu-g10-l3.csv", "netperf-tcp_rr-0.02s.png", "tar-4vcpu-f0.01.json",
                "tar-4vcpu-f0.01.png")) {
            assertThat(dir.resolve(f)).exists();
            assertThat(Files.size(dir.resolve(f))).as(f).isPositive();
        }
        JsonNode doc = new ObjectMapper().readTree(dir.resolve("reproduce-quick.json").toFile());
        assertThat(doc.get("quick").asBoolean()).isTrue();
        assertThat(doc.get("cells")).hasSize(4);
        assertThat(doc.get("cells").get(2).get("cell").asText()).isEqualTo("tar");
        assertThat(doc.get("cells").get(2).get("systems")).hasSize(3);
        assertThat(doc.get("cells").get(0).get("systems")).hasSize(3);
        assertThat(doc.get("calibration").get("vanilla").get("seriesSeconds").asDouble()).isEqualTo(273.76);
        assertThat(Files.readAllLines(dir.resolve("reproduce-quick.csv"))).hasSize(1 + 4 * 3);
    }

    private static int indexOf(List<String> lines, String prefix) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(prefix)) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void resultsDoNotDependOnTheNumberOfJobs() throws IOException {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        assertThat(CliTest.javic(args(TINY, "--out", a.toString(), "--jobs", "1")).code()).isZero();
        assertThat(CliTest.javic(args(TINY, "--out", b.toString(), "--jobs", "2")).code()).isZero();
        for (String f : List.of("reproduce-quick.csv", "hackbench-2vcpu-g10-l3.csv", "hackbench-4vcpu-g10-l3.csv",
                "netperf-tcp_rr-0.02s.csv", "tar-4vcpu-f0.01.csv")) {
            assertThat(Files.readString(b.resolve(f))).as(f).isEqualTo(Files.readString(a.resolve(f)));
        }
    }

    @Test
    void benchTracesOneChosenRun() throws IOException {
        Path t = dir.resolve("one.json");
        CliTest.Outcome o = CliTest.javic("bench", "hackbench", "--groups", "1", "--loops", "3", "--runs", "2", "--jobs", "2",
                "--out", dir.toString(), "--trace", t.toString(), "--trace-system", "avic-off", "--trace-run", "1");
        assertThat(o.code()).as(o.out() + o.err()).isZero();
        assertThat(o.out()).contains("traced run 1 on avic-off (seed 2) to " + t);
        try (Reader r = Files.newBufferedReader(t)) {
            assertThat(TraceEventChecks.check(r).events()).isPositive();
        }
        assertThat(Files.readString(t)).contains("avic-off").doesNotContain("(avic-on)").doesNotContain("(vanilla)");

        Path text = dir.resolve("one.trace");
        CliTest.Outcome n = CliTest.javic("bench", "netperf", "--seconds", "0.01", "--runs", "1", "--out", dir.toString(),
                "--trace", text.toString());
        assertThat(n.code()).as(n.out() + n.err()).isZero();
        List<String> lines = Files.readAllLines(text);
        assertThat(lines.get(0)).isEqualTo("# tracer: nop");
        long events = lines.stream().filter(l -> !l.startsWith("#")).peek(l ->
                assertThat(TraceEventChecks.FTRACE_LINE.matcher(l).find()).as(l).isTrue()).count();
        assertThat(events).isPositive();
        assertThat(lines).anyMatch(l -> l.contains("kvm_exit"));
    }

    @Test
    void reproduceTracesTheChosenCell() throws IOException {
        Path t = dir.resolve("np.json");
        CliTest.Outcome o = CliTest.javic(args(TINY, "--out", dir.toString(), "--trace", t.toString(),
                "--trace-cell", "netperf", "--trace-system", "vanilla"));
        assertThat(o.code()).as(o.out() + o.err()).isZero();
        assertThat(o.out()).contains("traced netperf run 0 on vanilla");
        try (Reader r = Files.newBufferedReader(t)) {
            assertThat(TraceEventChecks.check(r).events()).isPositive();
        }
        assertThat(Files.readString(t)).contains("netperf TCP_RR 1 vCPU run 0 (vanilla)");
    }

    @Test
    void badInputIsOneLineAndExitTwo() throws IOException {
        assertOneLineError(CliTest.javic("reproduce", "--runs", "0"), "--runs must be positive");
        assertOneLineError(CliTest.javic("reproduce", "--jobs", "0"), "--jobs must be positive");
        assertOneLineError(CliTest.javic("reproduce", "--loops", "-1"), "--loops must be positive");
        assertOneLineError(CliTest.javic("reproduce", "--netperf-seconds", "0"), "--netperf-seconds must be positive");
        assertOneLineError(CliTest.javic("reproduce", "--runs", "lots"), "--runs");
        assertOneLineError(CliTest.javic("reproduce", "--cost", dir.resolve("none.yaml").toString()), "cannot read");
        assertOneLineError(CliTest.javic("reproduce", "--trace-cell", "netperf"), "--trace-cell needs --trace OUT");
        assertOneLineError(CliTest.javic("reproduce", "--trace-run", "1"), "--trace-run needs --trace OUT");
        String out = dir.resolve("t.json").toString();
        assertOneLineError(CliTest.javic("reproduce", "--tar-fraction", "0"), "--tar-fraction must be in (0, 1]");
        assertOneLineError(CliTest.javic("reproduce", "--tar-fraction", "1.5"), "--tar-fraction must be in (0, 1]");
        assertOneLineError(CliTest.javic("reproduce", "--trace", out, "--trace-cell", "kernbench"), "unknown cell 'kernbench'");
        assertOneLineError(CliTest.javic("reproduce", "--quick", "--trace", out, "--trace-run", "5"), "--trace-run must be 0..4");
        assertOneLineError(CliTest.javic("reproduce", "--trace", out, "--trace-system", "xen"), "unknown system 'xen'");
        assertOneLineError(CliTest.javic("reproduce", "--trace", out, "--trace-format", "ctf"), "unknown format 'ctf'");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--trace-system", "avic-on"), "--trace-system needs --trace OUT");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--systems", "vanilla", "--trace", out, "--trace-system", "avic-on"),
                "--trace-system avic-on does not run");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--runs", "2", "--trace", out, "--trace-run", "2"),
                "--trace-run must be 0..1");
        assertOneLineError(CliTest.javic("bench", "netperf", "--trace-cell", "netperf"), "--trace-cell");
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertOneLineError(CliTest.javic("bench", "hackbench", "--trace", file.resolve("sub").resolve("t.json").toString()),
                "--trace: cannot write");
    }
}
