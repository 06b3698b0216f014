package dev.javic.trace;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A trace larger than the whole Java heap is written by a JVM limited to that heap: the sinks stream to
 * disk and keep only per-track state. Runs javic in a forked JVM with {@code -Xmx16m}.
 */
class LargeTraceStreamingTest {
    private static final int HEAP_MIB = 16;
    private static final int IPIS = 20_000;

    @TempDir
    Path dir;

    @Test
    void perfettoAndFtraceTracesLargerThanTheHeapStreamToDisk() throws Exception {
        Path scenario = dir.resolve("many-ipis.yaml");
        Files.writeString(scenario, """
                name: many-ipis
                vm: {vcpus: 2, memory_mib: 1, time_limit_us: 1000000}
                vcpus:
                  - program:
                      - apic_enable
                      - work: 20000
                      - repeat: {times: %d, ops: [{send_ipi: {dest: 1, vector: 0x40}}, {work: 5000}]}
                  - program:
                      - apic_enable
                      - sti
                      - repeat: {times: 1000000, ops: [{work: 4000}, hlt]}
                    handlers: {0x40: [eoi]}
                """.formatted(IPIS));
        for (String name : List.of("big.json", "big.txt")) {
            Path out = dir.resolve(name);
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx" + HEAP_MIB + "m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                    "dev.javic.cli.Main", "run", scenario.toString(), "--system", "avic-off", "--trace", out.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile()).start();
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("finished").isTrue();
            assertThat(p.exitValue()).as(Files.readString(dir.resolve(name + ".log"))).isZero();
            assertThat(Files.size(out)).as("trace larger than the heap").isGreaterThan(3L * HEAP_MIB << 19);   // 1.5 x the heap
            if (name.endsWith(".json")) {
                try (BufferedReader r = Files.newBufferedReader(out, StandardCharsets.UTF_8)) {
                    TraceEventChecks.Summary s = TraceEventChecks.check(r);
                    assertThat(s.flows()).isGreaterThanOrEqualTo(IPIS - 10);
                }
            } else {
                try (var lines = Files.lines(out)) {
                    assertThat(lines.filter(l -> l.contains("kvm_apic_ipi:")).count()).isEqualTo(IPIS);
                }
            }
        }
    }

    @Test
    void theSinksStateDoesNotGrowWithTheTrace() throws IOException {
        // The per-track arrays are sized at construction: a sink fed a million events keeps the same fields.
        PerfettoJsonSink sink = new PerfettoJsonSink(java.io.Writer.nullWriter(), 1_000_000_000L, 2, 2, "VM");
        long before = retainedArrays(sink);
        for (int i = 0; i < 1_000_000; i++) {
            long t = i * 1000L;
            sink.avicIpiAccelerated(t, 0, 0, 1, 0x40, true);
            sink.guestInterrupt(t + 500, 1, 1, 0x40);
        }
        sink.close();
        assertThat(retainedArrays(sink)).isEqualTo(before);
    }

    /** Total length of the arrays the sink (and its matcher) hold. */
    private static long retainedArrays(Object o) {
        long total = 0;
        for (var f : o.getClass().getDeclaredFields()) {
            if (java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            f.setAccessible(true);
            try {
                Object v = f.get(o);
                if (v != null && v.getClass().isArray()) {
                    total += java.lang.reflect.Array.getLength(v);
                } else if (v instanceof InterruptMatcher m) {
                    total += retainedArrays(m);
                } else if (v instanceof StringBuilder b) {
                    total += b.capacity();
                }
            } catch (IllegalAccessException e) {
                throw new AssertionError(e);
            }
        }
        return total;
    }
}
