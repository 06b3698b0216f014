package dev.javic.guest;

import dev.javic.hw.ApicRegs;

/**
 * Constants of the guest kernel: where its local APIC is, the xAPIC register offsets it uses, and
 * its ICR encodings (Intel SDM vol. 3 §10.6.1; AMD APM vol. 2 §16.5). The guest knows these as any
 * kernel does, from the architecture, not from the hypervisor.
 */
public final class GuestKernel {
    private GuestKernel() {
    }

    /** Default xAPIC base (IA32_APIC_BASE after reset). */
    public static final long APIC_BASE = 0xFEE00000L;

    public static final int ID = ApicRegs.ID;
    public static final int LVR = ApicRegs.LVR;
    public static final int TPR = ApicRegs.TPR;
    public static final int APR = ApicRegs.APR;
    public static final int PPR = ApicRegs.PPR;
    public static final int EOI = ApicRegs.EOI;
    public static final int LDR = ApicRegs.LDR;
    public static final int DFR = ApicRegs.DFR;
    public static final int SPIV = ApicRegs.SPIV;
    public static final int ISR = ApicRegs.ISR;
    public static final int TMR = ApicRegs.TMR;
    public static final int IRR = ApicRegs.IRR;
    public static final int ESR = ApicRegs.ESR;
    public static final int ICR = ApicRegs.ICR;
    public static final int ICR2 = ApicRegs.ICR2;
    public static final int LVTT = ApicRegs.LVTT;
    public static final int LVT0 = ApicRegs.LVT0;
    public static final int LVT1 = ApicRegs.LVT1;
    public static final int LVTERR = ApicRegs.LVTERR;
    public static final int TMICT = ApicRegs.TMICT;
    public static final int TMCCT = ApicRegs.TMCCT;
    public static final int TDCR = ApicRegs.TDCR;
    /** SELF IPI, x2APIC only (MSR 0x83F). */
    public static final int SELF_IPI = ApicRegs.SELF_IPI;

    public static final int SPURIOUS_VECTOR = 0xFF;
    public static final int NMI_VECTOR = 2;

    // ICR low fields.
    public static final int DM_FIXED = 0 << 8;
    public static final int DM_LOWEST = 1 << 8;
    public static final int DM_SMI = 2 << 8;
    public static final int DM_NMI = 4 << 8;
    public static final int DM_INIT = 5 << 8;
    public static final int DM_STARTUP = 6 << 8;
    public static final int DEST_LOGICAL = 1 << 11;
    public static final int LEVEL_ASSERT = 1 << 14;
    public static final int TRIGGER_LEVEL = 1 << 15;
    public static final int SHORTHAND_SELF = 1 << 18;
    public static final int SHORTHAND_ALL = 2 << 18;
    public static final int SHORTHAND_ALL_BUT_SELF = 3 << 18;

    // LVT timer modes (bits 18:17) and mask.
    public static final int LVT_MASKED = 1 << 16;
    public static final int TIMER_ONESHOT = 0;
    public static final int TIMER_PERIODIC = 1 << 17;
    public static final int TIMER_TSC_DEADLINE = 2 << 17;

    public static final int MSR_IA32_TSC = 0x10;
    public static final int MSR_IA32_APICBASE = 0x1B;
    public static final int MSR_IA32_TSC_DEADLINE = 0x6E0;
    public static final int MSR_X2APIC_BASE = 0x800;
    /** x2APIC MSRs (SDM vol. 3 table 10-6): 0x800 + xAPIC offset / 16. */
    public static final int MSR_X2APIC_EOI = MSR_X2APIC_BASE + (EOI >>> 4);
    public static final int MSR_X2APIC_ICR = MSR_X2APIC_BASE + (ICR >>> 4);
    public static final int MSR_X2APIC_SELF_IPI = MSR_X2APIC_BASE + (SELF_IPI >>> 4);

    /** IA32_APIC_BASE bits 11 (EN, APIC global enable) and 10 (EXTD, x2APIC mode). */
    public static final long APICBASE_ENABLE = 1L << 11;
    public static final long APICBASE_X2APIC_ENABLE = 1L << 10;

    /** The x2APIC MSR of the register at xAPIC {@code offset}. */
    public static int x2apicMsr(int offset) {
        return MSR_X2APIC_BASE + (offset >>> 4);
    }

    /**
     * Where the guest kernel model keeps per-CPU data in its RAM: one 4 KiB page per CPU from 1 MiB (nothing
     * else of the model lives in guest memory; the smallest guest has 16 MiB). Linux's per-CPU areas hold
     * the PV EOI word ({@code kvm_apic_eoi}) the same way, one per CPU.
     */
    public static final long PER_CPU_BASE = 0x100000;

    /** The guest-physical address of CPU {@code cpu}'s PV EOI word (arch/x86/kernel/kvm.c kvm_apic_eoi). */
    public static long pvEoiWord(int cpu) {
        return PER_CPU_BASE + ((long) cpu << 12);
    }

    /** TDCR encoding for a divide value (1, 2, 4, ..., 128): bits 3,1,0 per the SDM. */
    public static int tdcrFor(int divide) {
        int log = Integer.numberOfTrailingZeros(divide);
        if (Integer.bitCount(divide) != 1 || log > 7) {
            throw new IllegalArgumentException("timer divide must be a power of two 1..128: " + divide);
        }
        int code = (log + 7) & 7; // 1 -> 7 (0b111), 2 -> 0, 4 -> 1, ... 128 -> 6
        return ((code & 4) << 1) | (code & 3);
    }
}
