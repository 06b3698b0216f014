package dev.javic.devkvm;

import dev.javic.hw.ApicRegs;
import dev.javic.hw.AvicRegisterPolicy;
import dev.javic.hw.AvicRegisterPolicy.IpiOutcome;
import dev.javic.hw.AvicRegisterPolicy.Outcome;
import dev.javic.hw.AvicTables;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code javic boot --system avic-on}: per vCPU, what AVIC hardware would have done with every APIC access and
 * every interrupt delivery of a run on /dev/kvm, next to the exits the run really took (which are avic-off's:
 * no in-kernel irqchip, every APIC MMIO access exits). The register classification is
 * {@link AvicRegisterPolicy}'s, the same code the simulated AVIC unit acts on. The guest itself runs exactly as
 * on avic-off (javic's software APIC serves every access), so the verdict is the same.
 *
 * <p>Called by the vCPU threads under the machine's lock; read after the run.
 */
public final class AvicAccounting {
    /** One line of the access table: the same access, register and AVIC outcome. */
    public static final class Row {
        final String access;
        final int offset;
        final String register;
        final String avicOn;
        final boolean accelerated;
        final String exitReason;
        long count;

        Row(String access, int offset, String avicOn, boolean accelerated, String exitReason) {
            this.access = access;
            this.offset = offset;
            this.register = registerName(offset);
            this.avicOn = avicOn;
            this.accelerated = accelerated;
            this.exitReason = exitReason;
        }

        public String access() {
            return access;
        }

        public String register() {
            return register;
        }

        public String avicOn() {
            return avicOn;
        }

        public boolean accelerated() {
            return accelerated;
        }

        public long count() {
            return count;
        }
    }

    /** One vCPU's counts. */
    public static final class Vcpu {
        final Map<String, Row> rows = new LinkedHashMap<>();
        long apicMmio;
        long otherMmio;
        long msr;
        long nmis;
        long io;
        long hlt;
        long irqWindow;
        long kicks;
        long injected;
        long trap;
        long fault;
        final Map<String, Long> incomplete = new LinkedHashMap<>();
        long accelerated;
        /** After the VM's AVIC was inhibited: APIC MMIO exits, interrupt windows and kicks avic-on takes too. */
        long inhibitedMmio;
        long inhibitedIrqWindow;
        long inhibitedKicks;
        long inhibitedInjected;

        public List<Row> rows() {
            return new ArrayList<>(rows.values());
        }

        public long avicOffExits() {
            return apicMmio + otherMmio + msr + io + hlt + irqWindow + kicks;
        }

        public long avicOnExits() {
            return trap + fault + incompleteTotal() + otherMmio + msr + io + hlt + inhibitedMmio + inhibitedIrqWindow
                    + inhibitedKicks;
        }

        public long incompleteTotal() {
            return incomplete.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    private final Vcpu[] vcpus;
    /** The APICv inhibit reason that turned AVIC off for the VM (sticky), or null while AVIC is active. */
    private String inhibit;

    AvicAccounting(int vcpuCount) {
        vcpus = new Vcpu[vcpuCount];
        for (int i = 0; i < vcpuCount; i++) {
            vcpus[i] = new Vcpu();
        }
    }

    public Vcpu vcpu(int i) {
        return vcpus[i];
    }

    public int vcpuCount() {
        return vcpus.length;
    }

    // ---- recording (vCPU threads, machine lock held) --------------------------------------------------------

    /**
     * KVM turned AVIC off for the whole VM ({@code reason}, e.g. APIC_BASE_MODIFIED when a vCPU moves its xAPIC
     * away from 0xFEE00000: kvm_lapic_set_base, as the simulated {@code Svm} models it). The inhibit is sticky:
     * from then on avic-on takes the same exits as avic-off (APIC MMIO, interrupt windows, kicks).
     */
    void inhibit(String reason) {
        if (inhibit == null) {
            inhibit = reason;
        }
    }

    /** The inhibit reason, or null. */
    public String inhibitReason() {
        return inhibit;
    }

    /** An APIC page read of {@code width} bytes. */
    void apicRead(int vcpu, int offset, int width) {
        Outcome o = AvicRegisterPolicy.classifyRead(offset, width);
        access(vcpu, "read", offset, o, null);
    }

    /** An APIC page write; {@code ipi} is the ICR-write classification (null for other registers). */
    void apicWrite(int vcpu, int offset, int width, int value, boolean levelEoi, IpiOutcome ipi) {
        Outcome o = AvicRegisterPolicy.classifyWrite(offset, width, levelEoi);
        access(vcpu, "write", offset, o, o == Outcome.IPI ? ipi : null, value);
    }

    private void access(int vcpu, String access, int offset, Outcome o, IpiOutcome ipi) {
        access(vcpu, access, offset, o, ipi, 0);
    }

    private void access(int vcpu, String access, int offset, Outcome o, IpiOutcome ipi, int value) {
        Vcpu v = vcpus[vcpu];
        v.apicMmio++;
        String label;
        boolean accelerated;
        String exit;
        if (inhibit != null) {
            v.inhibitedMmio++;
            label = "AVIC inhibited (" + inhibit + "): MMIO exit";
            v.rows.computeIfAbsent(access + "|" + offset + "|" + label,
                    k -> new Row(access, offset, label, false, "APIC access (MMIO)")).count++;
            return;
        }
        if (o == Outcome.IPI) {
            accelerated = ipi.accelerated();
            if (accelerated) {
                label = ((value >>> 18) & 3) == ApicRegs.SHORTHAND_SELF ? "accelerated: self IPI (running target)"
                        : "accelerated: IPI to " + ipi.targets() + " running target" + (ipi.targets() == 1 ? "" : "s");
                exit = null;
            } else {
                String cause = AvicTables.causeName(ipi.cause());
                label = "AVIC_INCOMPLETE_IPI " + cause + " (index " + ipi.index() + ")";
                exit = "AVIC_INCOMPLETE_IPI " + cause;
            }
        } else {
            accelerated = o.accelerated();
            label = switch (o) {
                case BACKING_PAGE_READ -> "accelerated: backing-page read";
                case TPR_WRITE -> "accelerated: TPR write";
                case EOI_EDGE -> "accelerated: EOI (edge)";
                case ICR2_WRITE -> "accelerated: ICR2 write";
                case TRAP -> "AVIC_UNACCELERATED_ACCESS trap";
                default -> "AVIC_UNACCELERATED_ACCESS fault";
            };
            exit = accelerated ? null : label;
        }
        if (accelerated) {
            v.accelerated++;
        } else if (o == Outcome.TRAP) {
            v.trap++;
        } else if (o == Outcome.FAULT) {
            v.fault++;
        } else {
            v.incomplete.merge(AvicTables.causeName(ipi.cause()), 1L, Long::sum);
        }
        String key = access + "|" + offset + "|" + label;
        v.rows.computeIfAbsent(key, k -> new Row(access, offset, label, accelerated, exit)).count++;
    }

    void otherMmio(int vcpu) {
        vcpus[vcpu].otherMmio++;
    }

    /**
     * An MSR exit (APIC_BASE or TSC_DEADLINE, denied to KVM by javic's MSR filter). SVM intercepts both with
     * AVIC on as well (svm.c direct_access_msrs lists neither), so it is an exit in both columns.
     */
    void msr(int vcpu) {
        vcpus[vcpu].msr++;
    }

    /** An NMI injected with KVM_NMI (AVIC delivers only fixed interrupts; an NMI IPI is AVIC_INCOMPLETE_IPI). */
    void nmi(int vcpu) {
        vcpus[vcpu].nmis++;
    }

    void io(int vcpu) {
        vcpus[vcpu].io++;
    }

    void hlt(int vcpu) {
        vcpus[vcpu].hlt++;
    }

    void irqWindow(int vcpu) {
        vcpus[vcpu].irqWindow++;
        if (inhibit != null) {
            vcpus[vcpu].inhibitedIrqWindow++;
        }
    }

    void kick(int vcpu) {
        vcpus[vcpu].kicks++;
        if (inhibit != null) {
            vcpus[vcpu].inhibitedKicks++;
        }
    }

    void injected(int vcpu) {
        vcpus[vcpu].injected++;
        if (inhibit != null) {
            vcpus[vcpu].inhibitedInjected++;
        }
    }

    // ---- reporting --------------------------------------------------------------------------------------------

    /** "TPR (0x080)", "IRR+0x20 (0x220)", or the offset. */
    static String registerName(int offset) {
        String name = ApicRegs.traceName(offset);
        if (name == null && offset >= ApicRegs.ISR && offset < ApicRegs.IRR + 0x80) {
            int base = offset >= ApicRegs.IRR ? ApicRegs.IRR : offset >= ApicRegs.TMR ? ApicRegs.TMR : ApicRegs.ISR;
            name = ApicRegs.traceName(base) + "+0x" + Integer.toHexString(offset - base);
        }
        String hex = String.format("0x%03x", offset);
        if (name == null) {
            return hex;
        }
        name = switch (name) {
            case "APIC_TASKPRI" -> "TPR";
            case "APIC_ARBPRI" -> "APR";
            case "APIC_PROCPRI" -> "PPR";
            default -> name.replaceFirst("^APIC_", "");
        };
        return name + " (" + hex + ")";
    }

    /** The stat-like text report. */
    public String text() {
        StringBuilder sb = new StringBuilder();
        sb.append("AVIC accounting (--system avic-on): what AVIC would have done with each APIC access and interrupt\n");
        sb.append("of this run, next to the exits avic-off took (every APIC MMIO access exits there)\n");
        if (inhibit != null) {
            sb.append("AVIC was inhibited for the VM during the run (").append(inhibit)
                    .append(", sticky): from then on avic-on exits as avic-off does\n");
        }
        for (int i = 0; i < vcpus.length; i++) {
            Vcpu v = vcpus[i];
            sb.append('\n').append("vCPU ").append(i).append('\n');
            sb.append(String.format("  %-5s %-22s %8s  %-52s %s%n", "", "APIC register", "accesses", "avic-on",
                    "avic-off"));
            for (Row r : v.rows.values()) {
                sb.append(String.format("  %-5s %-22s %8d  %-52s %d exit%s (MMIO)%n", r.access, r.register, r.count,
                        r.avicOn, r.count, r.count == 1 ? "" : "s"));
            }
            long viaAvic = v.injected - v.inhibitedInjected;
            sb.append(String.format("  %-28s %8d  %-52s %d injected (KVM_INTERRUPT)%n", "interrupts delivered",
                    viaAvic, "from the backing page's IRR, no exit", viaAvic));
            if (v.inhibitedInjected > 0) {
                sb.append(String.format("  %-28s %8d  %-52s %d injected (KVM_INTERRUPT)%n", "interrupts delivered",
                        v.inhibitedInjected, "AVIC inhibited: injected as on avic-off", v.inhibitedInjected));
            }
            if (v.nmis > 0) {
                sb.append(String.format("  %-28s %8d  %-52s %d injected (KVM_NMI)%n", "NMIs delivered", v.nmis,
                        "injected by KVM (not through AVIC)", v.nmis));
            }
            sb.append('\n');
            sb.append(String.format("  %-40s %10s %10s%n", "exits", "avic-off", "avic-on"));
            line(sb, "APIC access (MMIO)", v.apicMmio, inhibit == null ? -1 : v.inhibitedMmio);
            line(sb, "AVIC_UNACCELERATED_ACCESS trap", -1, v.trap);
            line(sb, "AVIC_UNACCELERATED_ACCESS fault", -1, v.fault);
            if (v.incomplete.isEmpty()) {
                line(sb, "AVIC_INCOMPLETE_IPI", -1, 0);
            }
            for (Map.Entry<String, Long> e : v.incomplete.entrySet()) {
                line(sb, "AVIC_INCOMPLETE_IPI " + e.getKey(), -1, e.getValue());
            }
            line(sb, "HLT", v.hlt, v.hlt);
            line(sb, "IO", v.io, v.io);
            line(sb, "MSR (APIC_BASE, TSC_DEADLINE)", v.msr, v.msr);
            line(sb, "interrupt window", v.irqWindow, inhibit == null ? -1 : v.inhibitedIrqWindow);
            line(sb, "kick (KVM_RUN interrupted)", v.kicks, inhibit == null ? -1 : v.inhibitedKicks);
            line(sb, "other MMIO", v.otherMmio, v.otherMmio);
            line(sb, "total", v.avicOffExits(), v.avicOnExits());
            line(sb, "APIC accesses accelerated (no exit)", -1, v.accelerated);
        }
        return sb.toString();
    }

    private static void line(StringBuilder sb, String what, long off, long on) {
        sb.append(String.format("  %-40s %10s %10s%n", what, off < 0 ? "-" : Long.toString(off),
                on < 0 ? "-" : Long.toString(on)));
    }

    /** The same report as JSON. */
    public String json() {
        StringBuilder sb = new StringBuilder("{\"system\":\"avic-on\",\"inhibit\":")
                .append(inhibit == null ? "null" : q(inhibit)).append(",\"vcpus\":[");
        for (int i = 0; i < vcpus.length; i++) {
            Vcpu v = vcpus[i];
            sb.append(i == 0 ? "" : ",").append("{\"vcpu\":").append(i).append(",\"accesses\":[");
            boolean first = true;
            for (Row r : v.rows.values()) {
                sb.append(first ? "" : ",").append("{\"access\":").append(q(r.access))
                        .append(",\"offset\":").append(r.offset).append(",\"register\":").append(q(r.register))
                        .append(",\"count\":").append(r.count).append(",\"avicOn\":").append(q(r.avicOn))
                        .append(",\"accelerated\":").append(r.accelerated)
                        .append(",\"avicOnExit\":").append(r.exitReason == null ? "null" : q(r.exitReason))
                        .append(",\"avicOffExits\":").append(r.count).append('}');
                first = false;
            }
            sb.append("],\"interruptsDelivered\":").append(v.injected).append(",\"nmisDelivered\":").append(v.nmis);
            sb.append(",\"avicOff\":{\"apicMmio\":").append(v.apicMmio).append(",\"hlt\":").append(v.hlt)
                    .append(",\"io\":").append(v.io).append(",\"interruptWindow\":").append(v.irqWindow)
                    .append(",\"kick\":").append(v.kicks).append(",\"msr\":").append(v.msr)
                    .append(",\"otherMmio\":").append(v.otherMmio)
                    .append(",\"total\":").append(v.avicOffExits()).append('}');
            sb.append(",\"avicOn\":{\"accelerated\":").append(v.accelerated).append(",\"unacceleratedTrap\":")
                    .append(v.trap).append(",\"unacceleratedFault\":").append(v.fault).append(",\"incompleteIpi\":{");
            first = true;
            for (Map.Entry<String, Long> e : v.incomplete.entrySet()) {
                sb.append(first ? "" : ",").append(q(e.getKey())).append(':').append(e.getValue());
                first = false;
            }
            sb.append("},\"inhibitedApicMmio\":").append(v.inhibitedMmio).append(",\"inhibitedInterruptWindow\":")
                    .append(v.inhibitedIrqWindow).append(",\"inhibitedKick\":").append(v.inhibitedKicks)
                    .append(",\"inhibitedInjected\":").append(v.inhibitedInjected);
            sb.append(",\"hlt\":").append(v.hlt).append(",\"io\":").append(v.io).append(",\"msr\":").append(v.msr)
                    .append(",\"otherMmio\":")
                    .append(v.otherMmio).append(",\"total\":").append(v.avicOnExits()).append("}}");
        }
        return sb.append("]}").toString();
    }

    private static String q(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
