package dev.javic.experiment;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.javic.guest.GuestCode;
import dev.javic.hw.ApicRegs;
import dev.javic.guest.GuestKernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads a scenario file (YAML, or JSON which is YAML too) and compiles its programs. Every error
 * names the file and the place in it (e.g. {@code vcpus[1].program[3].send_ipi.vector}).
 */
public final class ScenarioLoader {
    private static final Set<String> TOP_KEYS = Set.of("name", "description", "vm", "vcpus", "expect");
    private static final Set<String> VM_KEYS = Set.of("vcpus", "system", "seed", "cost", "memory_mib", "host_cpus",
            "pin", "time_limit_us", "cpu_avic");
    private static final Set<String> VCPU_KEYS = Set.of("id", "program", "handlers");
    private static final Set<String> EXPECT_KEYS = Set.of("vcpu", "interrupts", "interrupts_include", "reads",
            "faults", "exits");

    private final String file;

    private ScenarioLoader(String file) {
        this.file = file;
    }

    public static Scenario load(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new ScenarioException(path + ": no such file");
        } catch (IOException e) {
            throw new ScenarioException(path + ": cannot read: " + e.getMessage());
        }
        return parse(bytes, path.toString());
    }

    public static Scenario parse(byte[] bytes, String fileName) {
        return new ScenarioLoader(fileName).parse(bytes);
    }

    private ScenarioException error(String where, String what) {
        return new ScenarioException(file + ": " + (where.isEmpty() ? "" : where + ": ") + what);
    }

    private Scenario parse(byte[] bytes) {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(bytes);
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage();
            int line = e.getLocation() == null ? -1 : e.getLocation().getLineNr();
            throw error(line > 0 ? "line " + line : "", "not valid YAML/JSON: " + firstLine(msg));
        } catch (IOException e) {
            throw error("", "cannot parse: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw error("", "expected a mapping with 'vm' and 'vcpus'");
        }
        checkKeys(root, TOP_KEYS, "");
        Scenario.VmSpec vm = vmSpec(required(root, "vm", ""));
        JsonNode vcpusNode = required(root, "vcpus", "");
        if (!vcpusNode.isArray()) {
            throw error("vcpus", "expected a list of vCPU programs");
        }
        List<Scenario.VcpuSpec> vcpus = new ArrayList<>();
        boolean[] seen = new boolean[vm.vcpus()];
        for (int i = 0; i < vcpusNode.size(); i++) {
            Scenario.VcpuSpec spec = vcpuSpec(vcpusNode.get(i), "vcpus[" + i + "]", vm.vcpus(), i);
            if (seen[spec.id()]) {
                throw error("vcpus[" + i + "].id", "vCPU " + spec.id() + " is given twice");
            }
            seen[spec.id()] = true;
            vcpus.add(spec);
        }
        for (int id = 0; id < vm.vcpus(); id++) {
            if (!seen[id]) {
                vcpus.add(new Scenario.VcpuSpec(id, GuestCode.builder().build(), Map.of()));
            }
        }
        vcpus.sort((a, b) -> Integer.compare(a.id(), b.id()));
        List<Scenario.Expectation> expectations = new ArrayList<>();
        JsonNode expect = root.get("expect");
        if (expect != null && !expect.isNull()) {
            if (!expect.isArray()) {
                throw error("expect", "expected a list of per-vCPU expectations");
            }
            for (int i = 0; i < expect.size(); i++) {
                expectations.add(expectation(expect.get(i), "expect[" + i + "]", vm.vcpus()));
            }
        }
        String name = root.path("name").asText(file);
        return new Scenario(name, root.path("description").asText(""), vm, List.copyOf(vcpus), List.copyOf(expectations));
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private void checkKeys(JsonNode node, Set<String> allowed, String where) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw error(where, "unknown key '" + k + "' (expected one of: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        }
    }

    private JsonNode required(JsonNode node, String key, String where) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            throw error(where, "missing field '" + key + "'");
        }
        return v;
    }

    /** An integer: a YAML/JSON number or a string in decimal or 0x-hex. */
    long number(JsonNode n, String where) {
        if (n == null || n.isNull()) {
            throw error(where, "missing number");
        }
        if (n.isIntegralNumber()) {
            return n.asLong();
        }
        if (n.isTextual()) {
            String t = n.asText().trim().replace("_", "");
            try {
                if (t.startsWith("0x") || t.startsWith("0X")) {
                    return Long.parseUnsignedLong(t.substring(2), 16);
                }
                return Long.parseLong(t);
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw error(where, "expected an integer, got " + n);
    }

    private long number(JsonNode n, String where, long min, long max) {
        long v = number(n, where);
        if (v < min || v > max) {
            throw error(where, v + " is out of range " + min + ".." + max);
        }
        return v;
    }

    private Scenario.VmSpec vmSpec(JsonNode vm) {
        if (!vm.isObject()) {
            throw error("vm", "expected a mapping");
        }
        checkKeys(vm, VM_KEYS, "vm");
        int vcpus = (int) number(required(vm, "vcpus", "vm"), "vm.vcpus", 1, 64);
        SystemKind system = SystemKind.AVIC_OFF;
        if (vm.hasNonNull("system")) {
            try {
                system = SystemKind.parse(vm.get("system").asText());
            } catch (IllegalArgumentException e) {
                throw error("vm.system", e.getMessage());
            }
        }
        long seed = vm.hasNonNull("seed") ? number(vm.get("seed"), "vm.seed") : 1;
        String cost = vm.path("cost").asText("carrizo-2016");
        int memory = vm.hasNonNull("memory_mib") ? (int) number(vm.get("memory_mib"), "vm.memory_mib", 1, 4096) : 16;
        int hostCpus = vm.hasNonNull("host_cpus") ? (int) number(vm.get("host_cpus"), "vm.host_cpus", 1, 255)
                : Math.max(4, vcpus);
        int[] pin = new int[vcpus];
        for (int i = 0; i < vcpus; i++) {
            pin[i] = i % hostCpus;
        }
        if (vm.hasNonNull("pin")) {
            JsonNode p = vm.get("pin");
            if (!p.isArray() || p.size() != vcpus) {
                throw error("vm.pin", "expected a list of " + vcpus + " host CPU numbers (-1 = not pinned)");
            }
            for (int i = 0; i < vcpus; i++) {
                pin[i] = (int) number(p.get(i), "vm.pin[" + i + "]", -1, hostCpus - 1);
            }
        }
        long limit = vm.hasNonNull("time_limit_us") ? number(vm.get("time_limit_us"), "vm.time_limit_us", 1, 3_600_000_000L)
                : 100_000;
        boolean cpuAvic = !vm.has("cpu_avic") || vm.get("cpu_avic").asBoolean(true);
        return new Scenario.VmSpec(vcpus, system, seed, cost, memory, hostCpus, pin, limit, cpuAvic);
    }

    private Scenario.VcpuSpec vcpuSpec(JsonNode v, String where, int vcpuCount, int index) {
        if (!v.isObject()) {
            throw error(where, "expected a mapping with 'id' and 'program'");
        }
        checkKeys(v, VCPU_KEYS, where);
        int id = v.has("id") ? (int) number(v.get("id"), where + ".id") : index;
        if (id < 0 || id >= vcpuCount) {
            throw error(where + ".id", "vCPU " + id + " out of range: the VM has " + vcpuCount + " vCPU(s)");
        }
        ProgramCompiler compiler = new ProgramCompiler(this, vcpuCount);
        GuestCode program = compiler.compile(v.get("program"), where + ".program");
        Map<Integer, GuestCode> handlers = new TreeMap<>();
        JsonNode h = v.get("handlers");
        if (h != null && !h.isNull()) {
            if (!h.isObject()) {
                throw error(where + ".handlers", "expected a mapping vector -> list of operations");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = h.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String hw = where + ".handlers." + e.getKey();
                int vector = (int) number(new com.fasterxml.jackson.databind.node.TextNode(e.getKey()), hw, 0, 255);
                handlers.put(vector, compiler.compile(e.getValue(), hw));
            }
        }
        return new Scenario.VcpuSpec(id, program, handlers);
    }

    private Scenario.Expectation expectation(JsonNode e, String where, int vcpuCount) {
        if (!e.isObject()) {
            throw error(where, "expected a mapping with 'vcpu' and what to check");
        }
        checkKeys(e, EXPECT_KEYS, where);
        int vcpu = (int) number(required(e, "vcpu", where), where + ".vcpu");
        if (vcpu < 0 || vcpu >= vcpuCount) {
            throw error(where + ".vcpu", "vCPU " + vcpu + " out of range: the VM has " + vcpuCount + " vCPU(s)");
        }
        List<Integer> interrupts = vectors(e.get("interrupts"), where + ".interrupts");
        List<Integer> include = vectors(e.get("interrupts_include"), where + ".interrupts_include");
        List<Integer> faults = vectors(e.get("faults"), where + ".faults");
        Map<String, Long> reads = null;
        if (e.hasNonNull("reads")) {
            reads = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = e.get("reads").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> r = it.next();
                reads.put(r.getKey(), number(r.getValue(), where + ".reads." + r.getKey()));
            }
        }
        Map<String, String> exits = null;
        if (e.hasNonNull("exits")) {
            exits = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = e.get("exits").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> r = it.next();
                String constraint = r.getValue().asText().trim();
                if (!constraint.matches("(>=|<=|>|<|==)?\\s*\\d+")) {
                    throw error(where + ".exits." + r.getKey(), "expected a count like 3, >=1 or <5, got '" + constraint + "'");
                }
                exits.put(r.getKey(), constraint);
            }
        }
        return new Scenario.Expectation(vcpu, interrupts, include, reads, faults, exits);
    }

    private List<Integer> vectors(JsonNode n, String where) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isArray()) {
            throw error(where, "expected a list of vectors");
        }
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < n.size(); i++) {
            out.add((int) number(n.get(i), where + "[" + i + "]", 0, 255));
        }
        return out;
    }

    ScenarioException errorAt(String where, String what) {
        return error(where, what);
    }

    /** Register names accepted in apic_read / apic_write, as the SDM and Linux's apicdef.h name them. */
    static final Map<String, Integer> APIC_REGISTERS = Map.ofEntries(
            Map.entry("ID", GuestKernel.ID), Map.entry("LVR", GuestKernel.LVR), Map.entry("TPR", GuestKernel.TPR),
            Map.entry("APR", GuestKernel.APR), Map.entry("PPR", GuestKernel.PPR), Map.entry("EOI", GuestKernel.EOI),
            Map.entry("RRR", ApicRegs.RRR), Map.entry("LDR", GuestKernel.LDR), Map.entry("DFR", GuestKernel.DFR),
            Map.entry("SPIV", GuestKernel.SPIV), Map.entry("ISR", GuestKernel.ISR), Map.entry("TMR", GuestKernel.TMR),
            Map.entry("IRR", GuestKernel.IRR), Map.entry("ESR", GuestKernel.ESR), Map.entry("ICR", GuestKernel.ICR),
            Map.entry("ICR2", GuestKernel.ICR2), Map.entry("LVTT", GuestKernel.LVTT), Map.entry("LVTTHMR", ApicRegs.LVTTHMR),
            Map.entry("LVTPC", ApicRegs.LVTPC), Map.entry("LVT0", GuestKernel.LVT0), Map.entry("LVT1", GuestKernel.LVT1),
            Map.entry("LVTERR", GuestKernel.LVTERR), Map.entry("TMICT", GuestKernel.TMICT),
            Map.entry("TMCCT", GuestKernel.TMCCT), Map.entry("TDCR", GuestKernel.TDCR));
}
