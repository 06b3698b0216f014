package dev.javic.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.javic.guest.GuestCode;
import dev.javic.guest.GuestKernel;

import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Compiles a scenario's list of operations into {@link GuestCode}. Each entry is either a bare name
 * ({@code sti}) or a one-key mapping ({@code work: 1000}, {@code send_ipi: {dest: 1, vector: 0x40}}).
 * The operations are documented in docs/scenarios.md.
 */
final class ProgramCompiler {
    private final ScenarioLoader loader;
    private final int vcpuCount;
    private GuestCode.Builder b;

    ProgramCompiler(ScenarioLoader loader, int vcpuCount) {
        this.loader = loader;
        this.vcpuCount = vcpuCount;
    }

    GuestCode compile(JsonNode ops, String where) {
        b = GuestCode.builder();
        if (ops != null && !ops.isNull()) {
            if (!ops.isArray()) {
                throw loader.errorAt(where, "expected a list of operations");
            }
            emitAll(ops, where);
        }
        return b.build();
    }

    private void emitAll(JsonNode ops, String where) {
        for (int i = 0; i < ops.size(); i++) {
            emit(ops.get(i), where + "[" + i + "]");
        }
    }

    private void emit(JsonNode entry, String where) {
        String name;
        JsonNode arg;
        if (entry.isTextual()) {
            name = entry.asText();
            arg = null;
        } else if (entry.isObject() && entry.size() == 1) {
            Map.Entry<String, JsonNode> e = entry.fields().next();
            name = e.getKey();
            arg = e.getValue();
        } else {
            throw loader.errorAt(where, "expected an operation: a name like 'sti' or a mapping like 'work: 1000'");
        }
        String at = where + "." + name;
        switch (name) {
            case "work" -> b.work(num(arg, at, 0, Long.MAX_VALUE));
            case "sti" -> b.sti();
            case "cli" -> b.cli();
            case "hlt" -> b.hlt();
            case "pause" -> b.pause();
            case "vmmcall" -> b.vmmcall();
            case "eoi" -> b.eoi();
            case "apic_enable" -> b.apicEnable();
            case "read_cr8" -> b.readCr8(arg == null ? "cr8" : label(arg, at, "cr8"));
            case "write_cr8" -> b.writeCr8(num(arg, at, 0, 0xFFFF_FFFFL));
            case "read32", "read64" -> {
                long addr = arg.isObject() ? num(req(arg, "addr", at), at + ".addr", 0, Long.MAX_VALUE) : num(arg, at, 0, Long.MAX_VALUE);
                String label = label(arg, at, "0x" + Long.toHexString(addr));
                if (name.equals("read32")) {
                    b.read32(addr, label);
                } else {
                    b.read64(addr, label);
                }
            }
            case "write32", "write64" -> {
                keys(arg, at, Set.of("addr", "value"));
                long addr = num(req(arg, "addr", at), at + ".addr", 0, Long.MAX_VALUE);
                long value = num(req(arg, "value", at), at + ".value", Long.MIN_VALUE, Long.MAX_VALUE);
                if (name.equals("write32")) {
                    b.write32(addr, value);
                } else {
                    b.write64(addr, value);
                }
            }
            case "apic_read" -> {
                JsonNode reg = arg != null && arg.isObject() ? req(arg, "reg", at) : arg;
                int off = register(reg, at);
                b.apicRead(off, label(arg, at, regName(reg)));
            }
            case "apic_write" -> {
                keys(arg, at, Set.of("reg", "value"));
                int off = register(req(arg, "reg", at), at + ".reg");
                b.apicWrite(off, num(req(arg, "value", at), at + ".value", 0, 0xFFFF_FFFFL));
            }
            case "rdmsr" -> {
                long msr = arg != null && arg.isObject() ? num(req(arg, "msr", at), at + ".msr", 0, 0xFFFF_FFFFL) : num(arg, at, 0, 0xFFFF_FFFFL);
                b.rdmsr(msr, label(arg, at, "msr 0x" + Long.toHexString(msr)));
            }
            case "wrmsr" -> {
                keys(arg, at, Set.of("msr", "value"));
                b.wrmsr(num(req(arg, "msr", at), at + ".msr", 0, 0xFFFF_FFFFL),
                        num(req(arg, "value", at), at + ".value", Long.MIN_VALUE, Long.MAX_VALUE));
            }
            case "cpuid" -> {
                long leaf = arg != null && arg.isObject() ? num(req(arg, "leaf", at), at + ".leaf", 0, 0xFFFF_FFFFL) : num(arg, at, 0, 0xFFFF_FFFFL);
                long sub = arg != null && arg.isObject() && arg.has("subleaf") ? num(arg.get("subleaf"), at + ".subleaf", 0, 0xFFFF_FFFFL) : 0;
                b.cpuid(leaf, sub, label(arg, at, "cpuid 0x" + Long.toHexString(leaf)));
            }
            case "send_ipi" -> sendIpi(arg, at);
            case "x2apic_enable" -> b.x2apicEnable();
            case "x2apic_eoi" -> b.x2apicEoi();
            case "x2apic_self_ipi" -> {
                long vector = num(arg, at, 0, 255);
                if (vector < 16) {
                    throw loader.errorAt(at, "vector " + vector + " is below 16 (vectors 0-15 are reserved; "
                            + "write MSR 0x83f with wrmsr to see the APIC's illegal-vector error)");
                }
                b.x2apicSelfIpi((int) vector);
            }
            case "x2apic_read" -> {
                JsonNode reg = arg != null && arg.isObject() ? req(arg, "reg", at) : arg;
                int off = x2apicRegister(reg, at);
                b.x2apicRead(off, label(arg, at, regName(reg)));
            }
            case "x2apic_write" -> {
                keys(arg, at, Set.of("reg", "value"));
                int off = x2apicRegister(req(arg, "reg", at), at + ".reg");
                b.x2apicWrite(off, num(req(arg, "value", at), at + ".value", Long.MIN_VALUE, Long.MAX_VALUE));
            }
            case "set_tpr" -> b.apicWrite(GuestKernel.TPR, num(arg, at, 0, 0xFF));
            case "set_ldr" -> b.apicWrite(GuestKernel.LDR, num(arg, at, 0, 0xFF) << 24);
            case "set_apic_id" -> b.apicWrite(GuestKernel.ID, num(arg, at, 0, 0xFF) << 24);
            case "set_dfr" -> {
                String model = text(arg, at);
                switch (model) {
                    case "flat" -> b.apicWrite(GuestKernel.DFR, 0xFFFFFFFFL);
                    case "cluster" -> b.apicWrite(GuestKernel.DFR, 0x0FFFFFFFL);
                    default -> throw loader.errorAt(at, "expected flat or cluster, got '" + model + "'");
                }
            }
            case "timer" -> timer(arg, at);
            case "wait_irqs" -> b.waitForInterrupts(num(arg, at, 1, Integer.MAX_VALUE));
            case "repeat" -> {
                keys(arg, at, Set.of("times", "ops"));
                b.loop(num(req(arg, "times", at), at + ".times", 0, Integer.MAX_VALUE));
                JsonNode body = req(arg, "ops", at);
                if (!body.isArray()) {
                    throw loader.errorAt(at + ".ops", "expected a list of operations");
                }
                emitAll(body, at + ".ops");
                b.endLoop();
            }
            default -> throw loader.errorAt(where, "unknown operation '" + name + "'");
        }
    }

    private void sendIpi(JsonNode arg, String at) {
        if (arg == null || !arg.isObject()) {
            throw loader.errorAt(at, "expected a mapping with vector and dest (or shorthand)");
        }
        keys(arg, at, Set.of("vector", "dest", "mode", "dest_mode", "shorthand", "trigger", "level", "x2apic"));
        JsonNode x2apicNode = arg.get("x2apic");
        if (x2apicNode != null && !x2apicNode.isBoolean()) {
            throw loader.errorAt(at + ".x2apic", "expected true or false");
        }
        boolean x2apic = x2apicNode != null && x2apicNode.asBoolean();
        String mode = arg.path("mode").asText("fixed");
        int dm = switch (mode) {
            case "fixed" -> GuestKernel.DM_FIXED;
            case "lowest" -> GuestKernel.DM_LOWEST;
            case "smi" -> GuestKernel.DM_SMI;
            case "nmi" -> GuestKernel.DM_NMI;
            case "init" -> GuestKernel.DM_INIT;
            case "sipi", "startup" -> GuestKernel.DM_STARTUP;
            default -> throw loader.errorAt(at + ".mode", "unknown delivery mode '" + mode + "' (fixed, lowest, smi, nmi, init, sipi)");
        };
        boolean needsVector = dm == GuestKernel.DM_FIXED || dm == GuestKernel.DM_LOWEST || dm == GuestKernel.DM_STARTUP;
        long vector = 0;
        if (needsVector) {
            vector = num(req(arg, "vector", at), at + ".vector", 0, 255);
            if (dm != GuestKernel.DM_STARTUP && vector < 16) {
                throw loader.errorAt(at + ".vector", "vector " + vector + " is below 16 (vectors 0-15 are reserved; "
                        + "write the ICR with apic_write to see the APIC's illegal-vector error)");
            }
        } else if (arg.has("vector")) {
            vector = num(arg.get("vector"), at + ".vector", 0, 255);
        }
        String sh = arg.path("shorthand").asText("none");
        int shorthand = switch (sh) {
            case "none" -> 0;
            case "self" -> GuestKernel.SHORTHAND_SELF;
            case "all" -> GuestKernel.SHORTHAND_ALL;
            case "all_but_self", "all-but-self" -> GuestKernel.SHORTHAND_ALL_BUT_SELF;
            default -> throw loader.errorAt(at + ".shorthand", "unknown shorthand '" + sh + "' (none, self, all, all_but_self)");
        };
        String destMode = arg.path("dest_mode").asText("physical");
        if (!destMode.equals("physical") && !destMode.equals("logical")) {
            throw loader.errorAt(at + ".dest_mode", "expected physical or logical, got '" + destMode + "'");
        }
        boolean logical = destMode.equals("logical");
        long dest = 0;
        if (shorthand == 0 && x2apic) {
            dest = num(req(arg, "dest", at), at + ".dest", 0, 0xFFFF_FFFFL);
        } else if (shorthand == 0) {
            dest = num(req(arg, "dest", at), at + ".dest", 0, 0xFF);
            if (!logical && dest != 0xFF && dest >= vcpuCount && dest > 0xFE) {
                throw loader.errorAt(at + ".dest", "physical destination " + dest + " is not an APIC ID");
            }
        }
        String trigger = arg.path("trigger").asText("edge");
        if (!trigger.equals("edge") && !trigger.equals("level")) {
            throw loader.errorAt(at + ".trigger", "expected edge or level, got '" + trigger + "'");
        }
        String level = arg.path("level").asText("assert");
        if (!level.equals("assert") && !level.equals("deassert")) {
            throw loader.errorAt(at + ".level", "expected assert or deassert, got '" + level + "'");
        }
        int icr = (int) vector | dm | (logical ? GuestKernel.DEST_LOGICAL : 0)
                | (level.equals("assert") ? GuestKernel.LEVEL_ASSERT : 0)
                | (trigger.equals("level") ? GuestKernel.TRIGGER_LEVEL : 0) | shorthand;
        if (x2apic) {
            b.x2apicSendIpi(icr, dest);
        } else {
            b.sendIpi(icr, (int) dest);
        }
    }

    private void timer(JsonNode arg, String at) {
        if (arg == null || !arg.isObject()) {
            throw loader.errorAt(at, "expected a mapping with mode, vector and initial");
        }
        keys(arg, at, Set.of("mode", "vector", "initial", "divide", "masked"));
        String mode = arg.path("mode").asText("oneshot");
        int modeBits = switch (mode) {
            case "oneshot", "one-shot" -> GuestKernel.TIMER_ONESHOT;
            case "periodic" -> GuestKernel.TIMER_PERIODIC;
            case "tsc_deadline", "tsc-deadline" -> GuestKernel.TIMER_TSC_DEADLINE;
            default -> throw loader.errorAt(at + ".mode", "unknown timer mode '" + mode + "' (oneshot, periodic, tsc_deadline)");
        };
        long vector = num(req(arg, "vector", at), at + ".vector", 0, 255);
        if (vector < 16) {
            throw loader.errorAt(at + ".vector", "vector " + vector + " is below 16");
        }
        boolean masked = arg.path("masked").asBoolean(false);
        long initial = num(req(arg, "initial", at), at + ".initial", 0, modeBits == GuestKernel.TIMER_TSC_DEADLINE ? Long.MAX_VALUE : 0xFFFF_FFFFL);
        b.apicWrite(GuestKernel.LVTT, vector | modeBits | (masked ? GuestKernel.LVT_MASKED : 0));
        if (modeBits == GuestKernel.TIMER_TSC_DEADLINE) {
            b.tscDeadlineAfter(initial);
        } else {
            int divide = arg.has("divide") ? (int) num(arg.get("divide"), at + ".divide", 1, 128) : 1;
            int tdcr;
            try {
                tdcr = GuestKernel.tdcrFor(divide);
            } catch (IllegalArgumentException e) {
                throw loader.errorAt(at + ".divide", e.getMessage());
            }
            b.apicWrite(GuestKernel.TDCR, tdcr);
            b.apicWrite(GuestKernel.TMICT, initial);
        }
    }

    private int register(JsonNode reg, String at) {
        if (reg == null) {
            throw loader.errorAt(at, "missing register");
        }
        if (reg.isTextual() && !reg.asText().startsWith("0x") && !reg.asText().matches("\\d+")) {
            String n = reg.asText().toUpperCase().replace("APIC_", "");
            Integer off = ScenarioLoader.APIC_REGISTERS.get(n);
            if (off == null) {
                throw loader.errorAt(at, "unknown APIC register '" + reg.asText() + "'");
            }
            return off;
        }
        long off = num(reg, at, 0, 0xFFF);
        if ((off & 0xF) != 0 || !ScenarioLoader.APIC_REGISTERS.containsValue((int) off)
                && !(off >= GuestKernel.ISR && off < GuestKernel.IRR + 0x80)) {
            throw loader.errorAt(at, String.format("bad APIC register offset 0x%x (registers are 16-byte aligned xAPIC offsets)", off));
        }
        return (int) off;
    }

    /** A register for x2apic_read / x2apic_write: as {@link #register}, plus SELF_IPI (0x3F0, x2APIC only). */
    private int x2apicRegister(JsonNode reg, String at) {
        if (reg != null && reg.isTextual() && reg.asText().toUpperCase().replace("APIC_", "").equals("SELF_IPI")) {
            return GuestKernel.SELF_IPI;
        }
        boolean numeric = reg != null && (reg.isIntegralNumber()
                || reg.isTextual() && (reg.asText().startsWith("0x") || reg.asText().matches("\\d+")));
        if (numeric && loader.number(reg, at) == GuestKernel.SELF_IPI) {
            return GuestKernel.SELF_IPI;
        }
        return register(reg, at);
    }

    private static String regName(JsonNode reg) {
        return reg == null ? "apic" : reg.asText();
    }

    private String label(JsonNode arg, String at, String dflt) {
        if (arg != null && arg.isObject() && arg.has("as")) {
            return arg.get("as").asText();
        }
        return dflt;
    }

    private String text(JsonNode arg, String at) {
        if (arg == null || !arg.isTextual()) {
            throw loader.errorAt(at, "expected a word");
        }
        return arg.asText();
    }

    private JsonNode req(JsonNode arg, String key, String at) {
        if (arg == null || !arg.isObject()) {
            throw loader.errorAt(at, "expected a mapping with '" + key + "'");
        }
        JsonNode v = arg.get(key);
        if (v == null || v.isNull()) {
            throw loader.errorAt(at, "missing field '" + key + "'");
        }
        return v;
    }

    private void keys(JsonNode arg, String at, Set<String> allowed) {
        if (arg == null || !arg.isObject()) {
            throw loader.errorAt(at, "expected a mapping with " + String.join(", ", new java.util.TreeSet<>(allowed)));
        }
        for (Iterator<String> it = arg.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k) && !k.equals("as")) {
                throw loader.errorAt(at, "unknown key '" + k + "'");
            }
        }
    }

    private long num(JsonNode n, String at, long min, long max) {
        if (n == null) {
            throw loader.errorAt(at, "missing value");
        }
        long v = loader.number(n, at);
        if (v < min || v > max) {
            throw loader.errorAt(at, v + " is out of range " + min + ".." + max);
        }
        return v;
    }
}
