package dev.javic.guest;

import java.util.ArrayList;
import java.util.List;

import static dev.javic.guest.GuestInsn.Code.*;

/**
 * Compiled guest code: a flat array of {@link GuestInsn}, built once, executed by {@link ScriptProgram}
 * without allocation. The builder is also the guest-kernel helper API: besides the CPU operations it
 * offers what a small kernel gives its programs (APIC enable, send IPI, EOI, wait for interrupts),
 * expressed as the CPU operations such a kernel would execute.
 */
public final class GuestCode {
    private final GuestInsn[] insns;

    private GuestCode(GuestInsn[] insns) {
        this.insns = insns;
    }

    public int length() {
        return insns.length;
    }

    public GuestInsn at(int pc) {
        return insns[pc];
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds guest code. Loop bodies nest with {@link #loop} / {@link #endLoop}. */
    public static final class Builder {
        private final List<GuestInsn> insns = new ArrayList<>();
        private final List<Integer> openLoops = new ArrayList<>();

        public Builder add(GuestInsn insn) {
            insns.add(insn);
            return this;
        }

        private Builder op(GuestInsn.Code code, long a, long b, String label) {
            return add(new GuestInsn(code, a, b, label));
        }

        public Builder work(long cycles) { return op(WORK, cycles, 0, null); }
        public Builder read32(long addr, String label) { return op(READ32, addr, 0, label); }
        public Builder read64(long addr, String label) { return op(READ64, addr, 0, label); }
        public Builder write32(long addr, long value) { return op(WRITE32, addr, value, null); }
        public Builder write64(long addr, long value) { return op(WRITE64, addr, value, null); }
        public Builder rdmsr(long msr, String label) { return op(RDMSR, msr, 0, label); }
        public Builder wrmsr(long msr, long value) { return op(WRMSR, msr, value, null); }
        public Builder cpuid(long leaf, long subleaf, String label) { return op(CPUID, leaf, subleaf, label); }
        public Builder readCr8(String label) { return op(READ_CR8, 0, 0, label); }
        public Builder writeCr8(long value) { return op(WRITE_CR8, value, 0, null); }
        public Builder sti() { return op(STI, 0, 0, null); }
        public Builder cli() { return op(CLI, 0, 0, null); }
        public Builder hlt() { return op(HLT, 0, 0, null); }
        public Builder pause() { return op(PAUSE, 0, 0, null); }
        public Builder vmmcall() { return op(VMMCALL, 0, 0, null); }
        public Builder tscDeadlineAfter(long cycles) { return op(TSC_DEADLINE_AFTER, cycles, 0, null); }
        /** RDMSR {@code msr}, then WRMSR {@code msr} = the value read | {@code bits}. */
        public Builder msrOr(long msr, long bits) { return op(MSR_OR, msr, bits, null); }

        // ---- guest-kernel helpers, each the CPU operations a kernel would execute ----------------------

        /** Reads an APIC register (a 32-bit load from the APIC page). */
        public Builder apicRead(int offset, String label) {
            return read32(GuestKernel.APIC_BASE + offset, label);
        }

        /** Writes an APIC register (a 32-bit store to the APIC page). */
        public Builder apicWrite(int offset, long value) {
            return write32(GuestKernel.APIC_BASE + offset, value);
        }

        /** Software-enables the APIC: SPIV = enable | spurious vector 0xFF. */
        public Builder apicEnable() {
            return apicWrite(GuestKernel.SPIV, 0x100 | GuestKernel.SPURIOUS_VECTOR);
        }

        /** Sends an IPI the way Linux's xAPIC code does: ICR high (destination) first, then ICR low. */
        public Builder sendIpi(int icrLow, int dest) {
            apicWrite(GuestKernel.ICR2, (long) (dest & 0xFF) << 24);
            return apicWrite(GuestKernel.ICR, icrLow & 0xFFFFFFFFL);
        }

        public Builder eoi() {
            return apicWrite(GuestKernel.EOI, 0);
        }

        /**
         * Switches the APIC to x2APIC mode as Linux's {@code __x2apic_enable} does: read IA32_APIC_BASE, write
         * it back with EXTD (bit 10) and EN (bit 11) set. The hypervisor refuses it (#GP) when the CPUID does
         * not offer x2APIC, or from the disabled state.
         */
        public Builder x2apicEnable() {
            long bits = GuestKernel.APICBASE_X2APIC_ENABLE | GuestKernel.APICBASE_ENABLE;
            return msrOr(GuestKernel.MSR_IA32_APICBASE, bits);
        }

        /** Reads an x2APIC register: RDMSR of 0x800 + offset / 16. */
        public Builder x2apicRead(int offset, String label) {
            return rdmsr(GuestKernel.x2apicMsr(offset), label);
        }

        /** Writes an x2APIC register: WRMSR of 0x800 + offset / 16. */
        public Builder x2apicWrite(int offset, long value) {
            return wrmsr(GuestKernel.x2apicMsr(offset), value);
        }

        /** Sends an IPI the x2APIC way: one WRMSR of the 64-bit ICR, the 32-bit destination in 63:32. */
        public Builder x2apicSendIpi(int icrLow, long dest) {
            return wrmsr(GuestKernel.MSR_X2APIC_ICR, ((dest & 0xFFFF_FFFFL) << 32) | (icrLow & 0xFFFF_FFFFL));
        }

        /** A fixed self IPI through the x2APIC SELF IPI register (MSR 0x83F). */
        public Builder x2apicSelfIpi(int vector) {
            return wrmsr(GuestKernel.MSR_X2APIC_SELF_IPI, vector & 0xFF);
        }

        /** EOI in x2APIC mode: WRMSR 0x80B = 0. */
        public Builder x2apicEoi() {
            return wrmsr(GuestKernel.MSR_X2APIC_EOI, 0);
        }

        /**
         * Idles until {@code count} interrupts have been taken in total, as a kernel's idle loop:
         * {@code cli; check; sti; hlt} (the STI shadow makes sti;hlt atomic, so no wake-up is lost).
         */
        public Builder waitForInterrupts(long count) {
            int top = insns.size();
            cli();
            int check = insns.size();
            op(JUMP_IF_IRQS, -1, count, null); // target patched below
            sti();
            hlt();
            op(JUMP, top, 0, null);
            int end = insns.size();
            insns.set(check, new GuestInsn(JUMP_IF_IRQS, end, count, null));
            return sti();
        }

        public Builder loop(long times) {
            openLoops.add(insns.size());
            return op(LOOP_START, times, -1, null);
        }

        public Builder endLoop() {
            if (openLoops.isEmpty()) {
                throw new IllegalStateException("endLoop without loop");
            }
            int start = openLoops.remove(openLoops.size() - 1);
            int end = insns.size();
            GuestInsn s = insns.get(start);
            insns.set(start, new GuestInsn(LOOP_START, s.a(), end, null));
            return op(LOOP_END, start, 0, null);
        }

        public int size() {
            return insns.size();
        }

        public GuestCode build() {
            if (!openLoops.isEmpty()) {
                throw new IllegalStateException("unclosed loop");
            }
            return new GuestCode(insns.toArray(new GuestInsn[0]));
        }
    }
}
