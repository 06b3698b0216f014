package dev.javic.hw;

/**
 * xAPIC register offsets and bit fields (Linux {@code arch/x86/include/asm/apicdef.h}, Intel SDM vol. 3
 * ch. 10, AMD APM vol. 2 ch. 16). Offsets are from the APIC base and also index the 4 KiB register page
 * (the AVIC backing page). Delivery modes are the unshifted ICR/LVT field values (bits 10:8), as in
 * the software APIC's ApicIrq.deliveryMode. In x2APIC mode the same registers are MSRs 0x800 + offset / 16
 * ({@link #x2apicMsr}), plus SELF IPI at 0x3F0 (MSR 0x83F).
 *
 * <pre>
 *  0x020 ID        31:24 APIC ID          0x100..0x170 ISR  \
 *  0x030 LVR       version, max LVT       0x180..0x1F0 TMR   } 8 x 32 bits, one word per 0x10
 *  0x080 TPR       7:0                    0x200..0x270 IRR  /
 *  0x090 APR       7:0 (computed)         0x280 ESR
 *  0x0A0 PPR       7:0 (computed)         0x300 ICR low, 0x310 ICR high (dest 31:24)
 *  0x0B0 EOI       write-only             0x320..0x370 LVT timer, thermal, perf, LINT0, LINT1, error
 *  0x0C0 RRR       remote read            0x380 TMICT, 0x390 TMCCT (computed), 0x3E0 TDCR
 *  0x0D0 LDR       31:24 logical ID
 *  0x0E0 DFR       31:28 model (0xF flat, 0x0 cluster)
 *  0x0F0 SPIV      7:0 vector, 8 enable, 9 focus disable
 * </pre>
 */
public final class ApicRegs {
    private ApicRegs() {
    }

    // ---- register offsets ----
    public static final int ID = 0x20;
    public static final int LVR = 0x30;
    public static final int TPR = 0x80;
    public static final int APR = 0x90;
    public static final int PPR = 0xA0;
    public static final int EOI = 0xB0;
    public static final int RRR = 0xC0;
    public static final int LDR = 0xD0;
    public static final int DFR = 0xE0;
    public static final int SPIV = 0xF0;
    public static final int ISR = 0x100;
    public static final int TMR = 0x180;
    public static final int IRR = 0x200;
    public static final int ESR = 0x280;
    public static final int ICR = 0x300;
    public static final int ICR2 = 0x310;
    public static final int LVTT = 0x320;
    public static final int LVTTHMR = 0x330;
    public static final int LVTPC = 0x340;
    public static final int LVT0 = 0x350;
    public static final int LVT1 = 0x360;
    public static final int LVTERR = 0x370;
    public static final int TMICT = 0x380;
    public static final int TMCCT = 0x390;
    public static final int TDCR = 0x3E0;
    /** x2APIC only; reserved in xAPIC mode (named because KVM's trace table names it). */
    public static final int SELF_IPI = 0x3F0;
    /** AMD extended APIC feature / control registers; not modelled (named for the trace table). */
    public static final int EFEAT = 0x400;
    public static final int ECTRL = 0x410;

    /** ISR, TMR and IRR are 8 words of 32 bits, one word per 16-byte register slot. */
    public static final int VECTOR_REG_WORDS = 8;
    public static final int VECTOR_REG_STRIDE = 0x10;
    /** KVM_APIC_LVT_NUM in 2016: timer, thermal, perf, LINT0, LINT1, error. */
    public static final int LVT_COUNT = 6;

    /** lapic.c APIC_VERSION: 0x14 (integrated xAPIC) with "max LVT entry" = LVT_COUNT - 1 in bits 23:16. */
    public static final int LVR_VALUE = 0x14 | ((LVT_COUNT - 1) << 16);

    // ---- delivery modes (ICR / LVT bits 10:8, unshifted) ----
    public static final int DM_FIXED = 0;
    public static final int DM_LOWEST = 1;
    public static final int DM_SMI = 2;
    public static final int DM_REMRD = 3;
    public static final int DM_NMI = 4;
    public static final int DM_INIT = 5;
    public static final int DM_STARTUP = 6;
    public static final int DM_EXTINT = 7;

    // ---- destination shorthands (ICR bits 19:18, unshifted) ----
    public static final int SHORTHAND_NONE = 0;
    public static final int SHORTHAND_SELF = 1;
    public static final int SHORTHAND_ALL_INCLUDING_SELF = 2;
    public static final int SHORTHAND_ALL_EXCLUDING_SELF = 3;

    /** Physical destination broadcast (xAPIC MDA 0xFF), also the logical broadcast. */
    public static final int BROADCAST = 0xFF;

    // ---- ICR low ----
    public static final int VECTOR_MASK = 0xFF;
    public static final int DELIVERY_MODE_SHIFT = 8;
    public static final int DELIVERY_MODE_MASK = 0x700;
    public static final int ICR_DEST_LOGICAL = 1 << 11;
    /** Delivery status (busy); KVM delivers synchronously, so it always reads back 0. */
    public static final int ICR_BUSY = 1 << 12;
    public static final int ICR_LEVEL_ASSERT = 1 << 14;
    public static final int ICR_LEVEL_TRIGGER = 1 << 15;
    public static final int ICR_SHORTHAND_SHIFT = 18;
    public static final int ICR_SHORTHAND_MASK = 3 << ICR_SHORTHAND_SHIFT;
    /** ICR high: destination field bits 31:24 (xAPIC). */
    public static final int ICR2_DEST_MASK = 0xFF000000;
    public static final int ICR2_DEST_SHIFT = 24;

    // ---- ID / LDR / DFR ----
    public static final int ID_SHIFT = 24;
    public static final int ID_MASK = 0xFF000000;
    public static final int LDR_MASK = 0xFF000000;
    public static final int DFR_FLAT = 0xFFFFFFFF;
    public static final int DFR_CLUSTER = 0x0FFFFFFF;
    /** lapic.c kvm_lapic_reg_write(APIC_DFR): only the model bits 31:28 are writable, the rest read as 1. */
    public static final int DFR_RESERVED_ONES = 0x0FFFFFFF;

    // ---- SPIV ----
    public static final int SPIV_APIC_ENABLED = 1 << 8;
    public static final int SPIV_FOCUS_DISABLED = 1 << 9;
    /** lapic.c: SPIV writable bits without directed EOI (vector, enable, focus). */
    public static final int SPIV_WRITABLE = 0x3FF;
    public static final int SPIV_RESET = 0xFF;

    // ---- LVT ----
    public static final int LVT_SEND_PENDING = 1 << 12;
    public static final int LVT_INPUT_POLARITY = 1 << 13;
    public static final int LVT_REMOTE_IRR = 1 << 14;
    public static final int LVT_LEVEL_TRIGGER = 1 << 15;
    public static final int LVT_MASKED = 1 << 16;
    public static final int LVT_TIMER_MODE_SHIFT = 17;
    /** LVTT bits 18:17 with TSC-deadline support. */
    public static final int LVT_TIMER_MODE_MASK = 3 << LVT_TIMER_MODE_SHIFT;
    public static final int LVT_TIMER_ONESHOT = 0;
    public static final int LVT_TIMER_PERIODIC = 1 << LVT_TIMER_MODE_SHIFT;
    public static final int LVT_TIMER_TSCDEADLINE = 2 << LVT_TIMER_MODE_SHIFT;

    /** lapic.c LVT_MASK: mask, delivery status, vector. */
    public static final int LVT_MASK = LVT_MASKED | LVT_SEND_PENDING | VECTOR_MASK;
    /** lapic.c LINT_MASK: LVT_MASK plus mode, polarity, remote IRR, trigger. */
    public static final int LINT_MASK = LVT_MASK | DELIVERY_MODE_MASK | LVT_INPUT_POLARITY | LVT_REMOTE_IRR
            | LVT_LEVEL_TRIGGER;

    // ---- ESR (SDM 10.5.3, apicdef.h APIC_ESR_*) ----
    public static final int ESR_SEND_CHECKSUM = 0x01;
    public static final int ESR_RECEIVE_CHECKSUM = 0x02;
    public static final int ESR_SEND_ACCEPT = 0x04;
    public static final int ESR_RECEIVE_ACCEPT = 0x08;
    public static final int ESR_REDIRECTABLE_IPI = 0x10;
    public static final int ESR_SEND_ILLEGAL_VECTOR = 0x20;
    public static final int ESR_RECEIVE_ILLEGAL_VECTOR = 0x40;
    public static final int ESR_ILLEGAL_REGISTER_ADDRESS = 0x80;

    // ---- TDCR ----
    /** Writable divide bits 0, 1 and 3 (bit 2 is reserved); modern KVM masks the write with 0xB. */
    public static final int TDCR_MASK = 0xB;
    public static final int TDCR_DIVIDE_BY_1 = 0xB;
    public static final int TDCR_DIVIDE_BY_2 = 0x0;

    // ---- IA32_APIC_BASE MSR 0x1B ----
    public static final int MSR_APIC_BASE = 0x1B;
    public static final long APIC_BASE_BSP = 1L << 8;
    public static final long APIC_BASE_X2APIC_ENABLE = 1L << 10;
    public static final long APIC_BASE_ENABLE = 1L << 11;
    public static final long APIC_BASE_ADDRESS_MASK = 0x000F_FFFF_FFFF_F000L;
    public static final long APIC_DEFAULT_PHYS_BASE = 0xFEE0_0000L;
    /** MSR 0x6E0, IA32_TSC_DEADLINE. */
    public static final int MSR_TSC_DEADLINE = 0x6E0;

    // ---- x2APIC (SDM vol. 3 §10.12; apicdef.h APIC_BASE_MSR, X2APIC_BROADCAST) ----
    /** First x2APIC MSR: MSR = 0x800 + xAPIC offset / 16 (x86.c routes 0x800..0x8FF to kvm_x2apic_msr_*). */
    public static final int X2APIC_MSR_BASE = 0x800;
    public static final int X2APIC_MSR_LAST = 0x8FF;
    /** x2APIC physical and logical broadcast destination (32 bits). */
    public static final int X2APIC_BROADCAST = 0xFFFF_FFFF;
    /**
     * lapic.c X2APIC_ICR_RESERVED_BITS: GENMASK(31, 20) | GENMASK(17, 16) | BIT(13) of the 64-bit ICR; a WRMSR
     * that sets any of them raises #GP. (Bit 12, delivery status, is reserved too; KVM clears it instead.)
     */
    public static final long X2APIC_ICR_RESERVED = 0xFFF0_0000L | 0x3_0000L | 0x2000L;

    /** The x2APIC MSR of the register at xAPIC {@code offset}. */
    public static int x2apicMsr(int offset) {
        return X2APIC_MSR_BASE + (offset >>> 4);
    }

    /** The xAPIC offset of x2APIC MSR {@code msr} (lapic.c: {@code reg = (msr - APIC_BASE_MSR) << 4}). */
    public static int x2apicOffset(int msr) {
        return (msr - X2APIC_MSR_BASE) << 4;
    }

    /** Whether {@code msr} is in the x2APIC MSR range 0x800..0x8FF. */
    public static boolean isX2apicMsr(long msr) {
        return msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_LAST;
    }

    /**
     * kvm_apic_calc_x2apic_ldr (SDM §10.12.10.2): the logical x2APIC ID derived from the x2APIC ID, cluster
     * ID[19:4] in LDR[31:16] and bit ID[3:0] of the cluster's 16-bit member mask in LDR[15:0].
     */
    public static int x2apicLdr(int x2apicId) {
        return ((x2apicId >>> 4) << 16) | (1 << (x2apicId & 0xF));
    }

    /**
     * The registers RDMSR can read in x2APIC mode (kvm_lapic_readable_reg_mask with x2APIC on; SDM table
     * 10-6): ID, LVR, TPR, PPR, LDR, SPIV, ISR/TMR/IRR, ESR, ICR (64 bits), the LVTs, TMICT, TMCCT, TDCR.
     * Not APR, DFR and ICR2 (gone in x2APIC mode), nor the write-only EOI and SELF IPI, nor RRR.
     */
    public static boolean isX2apicReadable(int offset) {
        if (offset < 0 || (offset & 0xF) != 0 || offset > TDCR) {
            return false;
        }
        return switch (offset) {
            case ID, LVR, TPR, PPR, LDR, SPIV, ESR, ICR, LVTT, LVTTHMR, LVTPC, LVT0, LVT1, LVTERR, TMICT, TMCCT,
                 TDCR -> true;
            default -> offset >= ISR && offset < IRR + VECTOR_REG_WORDS * VECTOR_REG_STRIDE;
        };
    }

    /** Offset of the 32-bit word of ISR/TMR/IRR (at {@code base}) that holds {@code vector}. */
    public static int vectorWordOffset(int base, int vector) {
        return base + (vector >>> 5) * VECTOR_REG_STRIDE;
    }

    /** Bit of {@code vector} within its 32-bit word. */
    public static int vectorBit(int vector) {
        return 1 << (vector & 31);
    }

    /**
     * True for offsets of an xAPIC register: the set KVM's kvm_lapic_reg_read accepts (its {@code rmask})
     * plus the write-only EOI and the remote-read RRR. Offsets must be 16-byte aligned.
     */
    public static boolean isValidRegister(int offset) {
        if (offset < 0 || (offset & 0xF) != 0 || offset > TDCR) {
            return false;
        }
        return switch (offset) {
            case ID, LVR, TPR, APR, PPR, EOI, RRR, LDR, DFR, SPIV, ESR, ICR, ICR2,
                 LVTT, LVTTHMR, LVTPC, LVT0, LVT1, LVTERR, TMICT, TMCCT, TDCR -> true;
            default -> offset >= ISR && offset < IRR + VECTOR_REG_WORDS * VECTOR_REG_STRIDE;
        };
    }

    /**
     * The name Linux's kvm_trace_symbol_apic gives an exact register offset ("APIC_" + the apicdef.h
     * name, e.g. APIC_TASKPRI for TPR), or null for any other offset (including words 1-7 of
     * ISR/TMR/IRR, which __print_symbolic prints as hex).
     */
    public static String traceName(int offset) {
        // kvm_trace_symbol_apic names exact offsets only: words 1-7 of ISR/TMR/IRR print as hex.
        return switch (offset) {
            case ISR -> "APIC_ISR";
            case TMR -> "APIC_TMR";
            case IRR -> "APIC_IRR";
            case ID -> "APIC_ID";
            case LVR -> "APIC_LVR";
            case TPR -> "APIC_TASKPRI";
            case APR -> "APIC_ARBPRI";
            case PPR -> "APIC_PROCPRI";
            case EOI -> "APIC_EOI";
            case RRR -> "APIC_RRR";
            case LDR -> "APIC_LDR";
            case DFR -> "APIC_DFR";
            case SPIV -> "APIC_SPIV";
            case ESR -> "APIC_ESR";
            case ICR -> "APIC_ICR";
            case ICR2 -> "APIC_ICR2";
            case LVTT -> "APIC_LVTT";
            case LVTTHMR -> "APIC_LVTTHMR";
            case LVTPC -> "APIC_LVTPC";
            case LVT0 -> "APIC_LVT0";
            case LVT1 -> "APIC_LVT1";
            case LVTERR -> "APIC_LVTERR";
            case TMICT -> "APIC_TMICT";
            case TMCCT -> "APIC_TMCCT";
            case TDCR -> "APIC_TDCR";
            case SELF_IPI -> "APIC_SELF_IPI";
            case EFEAT -> "APIC_EFEAT";
            case ECTRL -> "APIC_ECTRL";
            default -> null;
        };
    }

    /** {@link #traceName}, or the offset in hex when it has none. */
    public static String name(int offset) {
        String n = traceName(offset);
        return n != null ? n : "0x" + Integer.toHexString(offset);
    }

    /** Divide value selected by TDCR (lapic.c update_divide_count): bits 0,1,3 encode 2^(n+1) mod 2^7. */
    public static int divideCount(int tdcr) {
        int code = (tdcr & 0x3) | ((tdcr & 0x8) >>> 1);
        return 1 << ((code + 1) & 0x7);
    }
}
