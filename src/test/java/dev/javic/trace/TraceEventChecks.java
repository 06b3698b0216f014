package dev.javic.trace;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the Perfetto UI needs of a Chrome trace-event JSON file, checked event by event: every event has
 * ph, ts, pid, tid and name; X has dur; B/E nest per track; flow events have an id, each start one finish,
 * and each sits inside a slice of its track (Perfetto binds v1 flows to the enclosing slice); ts never
 * goes backwards (so Perfetto's stable sort keeps the file's order).
 */
public final class TraceEventChecks {
    /** The line regex of Perfetto's SystraceLineTokenizer, as /work/shared/checks/observability.sh has it. */
    public static final Pattern FTRACE_LINE = Pattern.compile(
            "-(\\d+)\\s+\\(?\\s*(\\d+|-+)?\\)?\\s?\\[(\\d+)\\]\\s*[a-zA-Z0-9.]{0,4}\\s+(\\d+\\.\\d+):\\s+(\\S+):");

    public record Summary(int events, int flows, int slices, int instants, Map<Integer, Integer> flowEndsByTid,
                          Map<Integer, Integer> flowStartsByTid) {
    }

    private TraceEventChecks() {
    }

    /** Checks a file event by event, streaming (a large trace is never held whole). */
    public static Summary check(Reader json) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        try (JsonParser p = mapper.getFactory().createParser(json)) {
            assertThat(p.nextToken()).isEqualTo(JsonToken.START_OBJECT);
            assertThat(p.nextFieldName()).isEqualTo("traceEvents");
            assertThat(p.nextToken()).isEqualTo(JsonToken.START_ARRAY);
            Iterator<JsonNode> events = new Iterator<>() {
                JsonNode next = advance();

                private JsonNode advance() {
                    try {
                        return p.nextToken() == JsonToken.START_OBJECT ? mapper.readTree(p) : null;
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }

                @Override
                public boolean hasNext() {
                    return next != null;
                }

                @Override
                public JsonNode next() {
                    JsonNode n = next;
                    next = advance();
                    return n;
                }
            };
            Summary s = check(events);
            assertThat(p.currentToken()).as("traceEvents closed").isEqualTo(JsonToken.END_ARRAY);
            int rest = 0;
            while (p.nextToken() != null) {
                rest++;   // the rest of the document ("displayTimeUnit") must parse too
            }
            assertThat(rest).isPositive();
            return s;
        }
    }

    public static Summary check(JsonNode doc) {
        JsonNode events = doc.isArray() ? doc : doc.get("traceEvents");
        assertThat(events).as("traceEvents").isNotNull();
        assertThat(events.isArray()).isTrue();
        return check(events.iterator());
    }

    private static Summary check(Iterator<JsonNode> events) {
        Map<String, Deque<String>> open = new HashMap<>();
        Map<Long, JsonNode> starts = new HashMap<>();
        Set<Long> finishes = new HashSet<>();
        Map<Integer, Integer> endsByTid = new HashMap<>();
        Map<Integer, Integer> startsByTid = new HashMap<>();
        double lastTs = 0;
        int slices = 0;
        int instants = 0;
        int count = 0;
        while (events.hasNext()) {
            JsonNode e = events.next();
            count++;
            for (String field : new String[] {"ph", "ts", "pid", "tid", "name"}) {
                assertThat(e.has(field)).as("%s in %s", field, e).isTrue();
            }
            assertThat(e.get("ts").isNumber()).as("ts number: %s", e).isTrue();
            assertThat(e.get("pid").isInt() && e.get("tid").isInt()).as(e.toString()).isTrue();
            String ph = e.get("ph").asText();
            double ts = e.get("ts").asDouble();
            if (!ph.equals("M")) {
                assertThat(ts).as("ts went backwards at %s", e).isGreaterThanOrEqualTo(lastTs);
                lastTs = ts;
            }
            String track = e.get("pid").asInt() + "/" + e.get("tid").asInt();
            Deque<String> stack = open.computeIfAbsent(track, k -> new ArrayDeque<>());
            switch (ph) {
                case "M" -> assertThat(e.path("args").has("name") || e.path("args").has("sort_index")).as(e.toString()).isTrue();
                case "B" -> {
                    assertThat(e.get("name").asText()).as("B needs a name: %s", e).isNotEmpty();
                    stack.push(e.get("name").asText());
                    slices++;
                }
                case "E" -> {
                    assertThat(stack).as("E without B on %s: %s", track, e).isNotEmpty();
                    stack.pop();
                }
                case "X" -> {
                    assertThat(e.has("dur")).as("X needs dur: %s", e).isTrue();
                    assertThat(e.get("dur").asDouble()).isGreaterThanOrEqualTo(0);
                    slices++;
                }
                case "i", "I" -> {
                    assertThat(e.path("s").asText("t")).isIn("t", "p", "g");
                    instants++;
                }
                case "s", "f" -> {
                    assertThat(e.has("id")).as("flow needs id: %s", e).isTrue();
                    assertThat(stack).as("flow event outside a slice on %s: %s", track, e).isNotEmpty();
                    long id = e.get("id").asLong();
                    int tid = e.get("tid").asInt();
                    if (ph.equals("s")) {
                        assertThat(starts.put(id, e)).as("flow %d started twice", id).isNull();
                        startsByTid.merge(tid, 1, Integer::sum);
                    } else {
                        assertThat(starts).as("flow %d finishes before it starts", id).containsKey(id);
                        assertThat(finishes.add(id)).as("flow %d finished twice", id).isTrue();
                        assertThat(e.path("bp").asText()).isEqualTo("e");
                        JsonNode s = starts.get(id);
                        assertThat(e.get("name").asText()).isEqualTo(s.get("name").asText());
                        assertThat(e.path("cat").asText()).isEqualTo(s.path("cat").asText());
                        endsByTid.merge(tid, 1, Integer::sum);
                    }
                }
                default -> throw new AssertionError("unexpected phase " + ph + ": " + e);
            }
        }
        assertThat(finishes).as("every flow start has a finish").isEqualTo(starts.keySet());
        open.forEach((track, stack) -> assertThat(stack).as("slices left open on %s", track).isEmpty());
        return new Summary(count, starts.size(), slices, instants, endsByTid, startsByTid);
    }
}
