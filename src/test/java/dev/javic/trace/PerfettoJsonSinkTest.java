package dev.javic.trace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.javic.hw.SvmExit;
import dev.javic.sim.Simulator;
import org.junit.jupiter.api.Test;

import java.io.StringWriter;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PerfettoJsonSinkTest {
    /** 1 GHz: one cycle is one nanosecond, so times read directly. */
    private static final long TSC_HZ = 1_000_000_000L;
    private static final int CPUS = 2;
    private static final int VCPUS = 2;
    private static final int VCPU0_TID = PerfettoJsonSink.TID_VCPU_BASE;
    private static final int VCPU1_TID = PerfettoJsonSink.TID_VCPU_BASE + 1;

    private final StringWriter text = new StringWriter();
    private final PerfettoJsonSink sink = new PerfettoJsonSink(text, TSC_HZ, CPUS, VCPUS, "VM test");

    private JsonNode closeAndParse() throws Exception {
        sink.close();
        JsonNode doc = new ObjectMapper().readTree(text.toString());
        TraceEventChecks.check(doc);
        return doc;
    }

    private static List<JsonNode> events(JsonNode doc, String ph) {
        List<JsonNode> out = new ArrayList<>();
        doc.get("traceEvents").forEach(e -> {
            if (e.get("ph").asText().equals(ph)) {
                out.add(e);
            }
        });
        return out;
    }

    private static JsonNode only(List<JsonNode> events) {
        assertThat(events).hasSize(1);
        return events.get(0);
    }

    /** Both vCPU threads run on their CPUs and enter the guest at time 0. */
    private void bothInGuest() {
        sink.schedSwitch(0, 0, "swapper/0", 0, "R", "CPU 0/KVM", 1000);
        sink.schedSwitch(0, 1, "swapper/1", 0, "R", "CPU 1/KVM", 1001);
        sink.kvmEntry(0, 0, 0, 0x1000);
        sink.kvmEntry(0, 1, 1, 0x1000);
    }

    @Test
    void tracksAreNamedHostCpusAndVcpus() throws Exception {
        JsonNode doc = closeAndParse();
        List<String> names = new ArrayList<>();
        for (JsonNode m : events(doc, "M")) {
            names.add(m.get("pid").asInt() + "/" + m.get("tid").asInt() + " " + m.get("name").asText() + " "
                    + m.get("args").path("name").asText());
        }
        assertThat(names).contains("1/1000 process_name host (2 CPUs)", "1/1000 thread_name CPU 0",
                "1/1001 thread_name CPU 1", "2/2000 process_name VM test", "2/2000 thread_name vCPU 0",
                "2/2001 thread_name vCPU 1");
    }

    @Test
    void guestAndExitSlicesFollowEntriesAndExits() throws Exception {
        bothInGuest();
        sink.kvmExit(1_500, 0, 0, SvmExit.NPF, 0x1000, 6, 0xfee00300L, 0, 0);
        sink.kvmEntry(3_250, 0, 0, 0x1009);
        JsonNode doc = closeAndParse();
        List<String> vcpu0 = new ArrayList<>();
        for (JsonNode e : doc.get("traceEvents")) {
            if (e.get("tid").asInt() == VCPU0_TID && !e.get("ph").asText().equals("M")) {
                vcpu0.add(e.get("ph").asText() + " " + e.get("ts").asText() + " " + e.get("name").asText());
            }
        }
        assertThat(vcpu0).containsExactly("B 0.0 guest", "E 1.5 ", "B 1.5 npf", "E 3.25 ", "B 3.25 guest", "E 3.25 ");
        JsonNode npf = events(doc, "B").stream().filter(e -> e.get("name").asText().equals("npf")).findFirst().orElseThrow();
        assertThat(npf.get("cat").asText()).isEqualTo("exit");
        assertThat(npf.get("args").get("info2").asText()).isEqualTo("0xfee00300");
    }

    @Test
    void legacyIpiDrawsAFlowFromTheSendersExitToTheTargetsHandler() throws Exception {
        bothInGuest();
        sink.kvmExit(1_000, 0, 0, SvmExit.NPF, 0, 0, 0xfee00300L, 0, 0);   // the ICR write traps
        sink.kvmApicIpi(1_200, 0, 0, 0x4040, 1);
        sink.kvmApicAcceptIrq(1_200, 0, 1, 0, false, 0x40);
        sink.kvmExit(1_500, 1, 1, SvmExit.INTR, 0, 0, 0, 0, 0);
        sink.kvmEntry(1_900, 1, 1, 0);
        sink.guestInterrupt(2_000, 1, 1, 0x40);
        JsonNode doc = closeAndParse();
        JsonNode s = only(events(doc, "s"));
        JsonNode f = only(events(doc, "f"));
        assertThat(s.get("tid").asInt()).isEqualTo(VCPU0_TID);
        assertThat(s.get("ts").asDouble()).isEqualTo(1.2);
        assertThat(f.get("tid").asInt()).isEqualTo(VCPU1_TID);
        assertThat(f.get("ts").asDouble()).isEqualTo(2.0);
        assertThat(f.get("id").asLong()).isEqualTo(s.get("id").asLong());
        JsonNode irq = events(doc, "B").stream().filter(e -> e.get("name").asText().equals("irq 0x40")).findFirst()
                .orElseThrow();
        assertThat(irq.get("args").get("kind").asText()).isEqualTo("ipi");
        assertThat(irq.get("args").get("from_vcpu").asInt()).isZero();
        assertThat(irq.get("args").get("latency_us").asDouble()).as("from the trapping exit").isEqualTo(1.0);
        assertThat(events(doc, "B").stream().map(e -> e.get("name").asText())).contains("send 0x40");
    }

    @Test
    void avicIpiAndHostInjectionStartFlowsOnTheSenderAndTheHostCpu() throws Exception {
        bothInGuest();
        sink.avicIpiAccelerated(100, 0, 0, 1, 0x41, true);
        sink.avicDoorbellReceived(120, 1, 1);
        sink.guestInterrupt(150, 1, 1, 0x41);
        sink.kvmApicAcceptIrq(400, 1, 0, 0, false, 0xec);          // the APIC timer of vCPU 0
        sink.guestInterrupt(600, 0, 0, 0xec);
        JsonNode doc = closeAndParse();
        List<JsonNode> starts = events(doc, "s");
        assertThat(starts).hasSize(2);
        assertThat(starts.get(0).get("tid").asInt()).isEqualTo(VCPU0_TID);
        assertThat(starts.get(1).get("pid").asInt()).isEqualTo(PerfettoJsonSink.PID_HOST);
        assertThat(starts.get(1).get("tid").asInt()).isEqualTo(PerfettoJsonSink.TID_HOST_CPU_BASE + 1);
        List<String> sendNames = events(doc, "B").stream().map(e -> e.get("name").asText())
                .filter(n -> n.startsWith("avic_ipi") || n.startsWith("inject")).toList();
        assertThat(sendNames).containsExactly("avic_ipi 0x41", "inject 0xec");
        assertThat(events(doc, "i").stream().map(e -> e.get("name").asText())).contains("doorbell received");
    }

    @Test
    void aSendCoalescedIntoAPendingOneDrawsNoSecondArrow() throws Exception {
        bothInGuest();
        sink.avicIpiAccelerated(100, 0, 0, 1, 0x41, true);
        sink.avicIpiAccelerated(110, 0, 0, 1, 0x41, true);
        sink.guestInterrupt(150, 1, 1, 0x41);
        JsonNode doc = closeAndParse();
        assertThat(events(doc, "s")).hasSize(1);
        List<Boolean> coalesced = events(doc, "B").stream().filter(e -> e.get("name").asText().startsWith("avic_ipi"))
                .map(e -> e.get("args").get("coalesced").asBoolean()).toList();
        assertThat(coalesced).containsExactly(false, true);
    }

    @Test
    void aSendNeverTakenEndsOnAStillPendingSliceSoEveryFlowFinishes() throws Exception {
        bothInGuest();
        sink.avicIpiAccelerated(100, 0, 0, 1, 0x42, false);
        sink.kvmExit(200, 1, 1, SvmExit.HLT, 0, 0, 0, 0, 0);
        JsonNode doc = closeAndParse();
        JsonNode f = only(events(doc, "f"));
        assertThat(f.get("tid").asInt()).isEqualTo(VCPU1_TID);
        assertThat(f.get("ts").asDouble()).isEqualTo(0.2);
        assertThat(events(doc, "B").stream().map(e -> e.get("name").asText())).contains("still pending 0x42");
    }

    @Test
    void haltedAndRunnableNestInsideTheHltExit() throws Exception {
        bothInGuest();
        sink.kvmExit(1_000, 1, 1, SvmExit.HLT, 0, 0, 0, 0, 0);
        sink.schedSwitch(1_100, 1, "CPU 1/KVM", 1001, "S", "swapper/1", 0);
        sink.schedWakeup(5_000, 0, "CPU 1/KVM", 1001, 1);
        sink.schedSwitch(5_400, 1, "swapper/1", 0, "R", "CPU 1/KVM", 1001);
        sink.kvmVcpuWakeup(5_500, 1, 1, 4_400, true, true);
        sink.kvmEntry(6_000, 1, 1, 0);
        JsonNode doc = closeAndParse();
        List<String> vcpu1 = new ArrayList<>();
        for (JsonNode e : doc.get("traceEvents")) {
            if (e.get("tid").asInt() == VCPU1_TID && !e.get("ph").asText().matches("[Mi]")) {
                vcpu1.add(e.get("ph").asText() + " " + e.get("ts").asText() + " " + e.get("name").asText());
            }
        }
        assertThat(vcpu1).containsExactly("B 0.0 guest", "E 1.0 ", "B 1.0 hlt", "B 1.1 halted", "E 5.0 ",
                "B 5.0 runnable", "E 5.4 ", "E 6.0 ", "B 6.0 guest", "E 6.0 ");
    }

    @Test
    void apicIdChangesAreFollowedToFindTheTarget() throws Exception {
        bothInGuest();
        sink.kvmApic(50, 1, 1, true, 0x20, 7 << 24);      // vCPU 1 moves to APIC ID 7
        sink.avicIpiAccelerated(100, 0, 0, 7, 0x41, true);
        sink.guestInterrupt(150, 1, 1, 0x41);
        JsonNode doc = closeAndParse();
        assertThat(only(events(doc, "f")).get("tid").asInt()).isEqualTo(VCPU1_TID);
        assertThat(events(doc, "B").stream().filter(e -> e.get("name").asText().equals("still pending 0x41"))).isEmpty();
    }

    @Test
    void stringsAreEscaped() throws Exception {
        sink.schedSwitch(0, 0, "swapper/0", 0, "R", "we\"ird\\comm\n", 77);
        sink.ipiRaise(10, 0, 1, "tab\there");
        JsonNode doc = closeAndParse();
        assertThat(events(doc, "B").get(0).get("name").asText()).isEqualTo("we\"ird\\comm\n");
        assertThat(events(doc, "i").get(0).get("args").get("reason").asText()).isEqualTo("tab\there");
    }

    @Test
    void timestampsAreMicrosecondsWithNanosecondDecimals() throws Exception {
        StringWriter w = new StringWriter();
        PerfettoJsonSink s = new PerfettoJsonSink(w, 1_800_000_000L, 1, 1, "VM");
        s.avicDoorbellReceived(1_800_000_000L * 3 + 1_799, 0, 0);   // 3 s + 999.44 ns
        s.close();
        assertThat(w.toString()).contains("\"ts\":3000000.999,");
    }

    @Test
    void everyTracepointGivesValidJson() throws Exception {
        Simulator sim = new Simulator();
        Tracer tracer = new Tracer(sim);
        tracer.attach(sink);
        for (Method m : tracepoints()) {
            m.invoke(tracer, defaultArguments(m));
        }
        JsonNode doc = closeAndParse();
        assertThat(doc.get("traceEvents").size()).isGreaterThan(tracepoints().size());
    }

    @Test
    void sinkImplementsEveryTracepointAndSoDoesTheTee() throws Exception {
        for (Method m : TraceSink.class.getMethods()) {
            assertThat(PerfettoJsonSink.class.getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass())
                    .as(m.getName()).isEqualTo(PerfettoJsonSink.class);
            assertThat(TeeSink.class.getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass())
                    .as(m.getName()).isEqualTo(TeeSink.class);
        }
    }

    @Test
    void timeGoingBackwardsOrUnknownTracksAreProgrammingErrors() {
        sink.avicDoorbellReceived(100, 0, 0);
        assertThatThrownBy(() -> sink.avicDoorbellReceived(99, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> sink.avicDoorbellReceived(100, 0, VCPUS)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> sink.ipiEntry(100, CPUS, "x")).isInstanceOf(IllegalArgumentException.class);
    }

    private static final Set<String> NOT_TRACEPOINTS = Set.of("attach", "close", "enabled", "sink");

    static List<Method> tracepoints() {
        return Arrays.stream(Tracer.class.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()))
                .filter(m -> !NOT_TRACEPOINTS.contains(m.getName()))
                .sorted((a, b) -> a.getName().compareTo(b.getName()))
                .toList();
    }

    /** 1 for every number (CPU 1, vCPU 1, APIC ID 1, vector 1), false, "x". */
    static Object[] defaultArguments(Method m) {
        Class<?>[] types = m.getParameterTypes();
        Object[] args = new Object[types.length];
        for (int i = 0; i < types.length; i++) {
            Class<?> type = types[i];
            args[i] = type == int.class ? (Object) 1 : type == long.class ? (Object) 1L
                    : type == boolean.class ? (Object) false : "x";
        }
        return args;
    }
}
