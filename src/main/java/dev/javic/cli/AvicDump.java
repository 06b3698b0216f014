package dev.javic.cli;

import dev.javic.experiment.ScenarioRunner;
import dev.javic.hw.AvicTables;
import dev.javic.hw.PhysicalMemory;
import dev.javic.kvm.Vcpu;
import dev.javic.kvm.Vm;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code run --dump-avic}: the VM's physical and logical APIC ID tables and every vCPU's backing page
 * (IRR, ISR, TPR, PPR), decoded from simulated memory with the layouts of {@link AvicTables}.
 */
final class AvicDump {
    private AvicDump() {
    }

    static Map<String, Object> tables(ScenarioRunner runner) {
        Vm vm = runner.vm();
        PhysicalMemory mem = runner.machine().memory();
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("active", vm.avicActive());
        if (!vm.avicActive()) {
            doc.put("reasons", vm.avicInactiveReasons());
        } else {
            doc.put("vm_id", vm.avicVmId());
            List<Map<String, Object>> physical = new ArrayList<>();
            for (int i = 0; i <= AvicTables.PHYSICAL_MAX_INDEX; i++) {
                long e = mem.read64(vm.avicPhysicalTable() + 8L * i);
                if (e == 0) {
                    continue;
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("index", i);
                m.put("entry", String.format("0x%016x", e));
                m.put("valid", (e & AvicTables.PHYSICAL_VALID) != 0);
                m.put("is_running", (e & AvicTables.PHYSICAL_IS_RUNNING) != 0);
                m.put("host_apic_id", e & AvicTables.PHYSICAL_HOST_APIC_ID_MASK);
                m.put("backing_page", String.format("0x%x", e & AvicTables.PHYSICAL_BACKING_PAGE_MASK));
                physical.add(m);
            }
            doc.put("physical_table", physical);
            List<Map<String, Object>> logical = new ArrayList<>();
            for (int i = 0; i < PhysicalMemory.PAGE_SIZE / 4; i++) {
                int e = mem.read32(vm.avicLogicalTable() + 4L * i);
                if (e == 0) {
                    continue;
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("index", i);
                m.put("entry", String.format("0x%08x", e));
                m.put("valid", (e & AvicTables.LOGICAL_VALID) != 0);
                m.put("guest_physical_apic_id", e & AvicTables.LOGICAL_GUEST_PHYSICAL_ID_MASK);
                logical.add(m);
            }
            doc.put("logical_table", logical);
        }
        List<Map<String, Object>> pages = new ArrayList<>();
        for (Vcpu v : vm.vcpus()) {
            long page = v.lapic().regsPagePa();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("vcpu", v.vcpuId());
            m.put("backing_page", String.format("0x%x", page));
            m.put("apic_id", mem.read32(page + 0x20) >>> 24);
            m.put("tpr", String.format("0x%02x", mem.read32(page + 0x80) & 0xFF));
            m.put("ppr", String.format("0x%02x", v.lapic().ppr()));
            m.put("irr", vectors(mem, page + 0x200));
            m.put("isr", vectors(mem, page + 0x100));
            m.put("tmr", vectors(mem, page + 0x180));
            pages.add(m);
        }
        doc.put("backing_pages", pages);
        return doc;
    }

    private static List<String> vectors(PhysicalMemory mem, long base) {
        List<String> out = new ArrayList<>();
        for (int w = 0; w < 8; w++) {
            int bits = mem.read32(base + 0x10L * w);
            for (int b = 0; b < 32; b++) {
                if ((bits & (1 << b)) != 0) {
                    out.add(String.format("0x%02x", w * 32 + b));
                }
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static void print(PrintStream out, ScenarioRunner runner) {
        Map<String, Object> d = tables(runner);
        out.println("AVIC state (read from simulated memory):");
        if (!(Boolean) d.get("active")) {
            out.println("  AVIC inactive: " + String.join("; ", (List<String>) d.get("reasons")));
        } else {
            out.println("  VM id " + d.get("vm_id"));
            out.println("  physical APIC ID table:");
            for (Map<String, Object> e : (List<Map<String, Object>>) d.get("physical_table")) {
                out.printf("    [%3d] %s valid=%s is_running=%s host_apic_id=%s backing_page=%s%n", e.get("index"),
                        e.get("entry"), e.get("valid"), e.get("is_running"), e.get("host_apic_id"), e.get("backing_page"));
            }
            out.println("  logical APIC ID table:");
            List<Map<String, Object>> logical = (List<Map<String, Object>>) d.get("logical_table");
            if (logical.isEmpty()) {
                out.println("    (no entries)");
            }
            for (Map<String, Object> e : logical) {
                out.printf("    [%3d] %s valid=%s guest_physical_apic_id=%s%n", e.get("index"), e.get("entry"),
                        e.get("valid"), e.get("guest_physical_apic_id"));
            }
        }
        out.println("  backing pages:");
        for (Map<String, Object> p : (List<Map<String, Object>>) d.get("backing_pages")) {
            out.printf("    vcpu %s at %s: APIC ID %s TPR %s PPR %s IRR %s ISR %s TMR %s%n", p.get("vcpu"),
                    p.get("backing_page"), p.get("apic_id"), p.get("tpr"), p.get("ppr"), p.get("irr"), p.get("isr"),
                    p.get("tmr"));
        }
    }
}
