package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static dev.javic.hw.ApicRegs.*;
import static dev.javic.hw.KvmPara.KVM_MSR_ENABLED;
import static dev.javic.hw.KvmPara.KVM_PV_EOI_ENABLED;

import dev.javic.hw.PhysicalMemory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One vCPU's software local APIC, after Linux {@code arch/x86/kvm/lapic.c} (2016 era, with the few later
 * fixes noted where they apply), in xAPIC mode (registers in the MMIO page: {@link #regRead} /
 * {@link #regWrite}) or x2APIC mode (registers as MSRs 0x800..0x8FF: {@link #x2apicMsrRead} /
 * {@link #x2apicMsrWrite}; SDM vol. 3 §10.12), switched by IA32_APIC_BASE ({@link #setApicBase}).
 *
 * <p>In x2APIC mode the register page keeps KVM's layout on AMD ({@code x2apic_icr_is_split}): the ID
 * word holds the whole 32-bit x2APIC ID, LDR the derived logical ID, ICR the low and ICR2 the high half of
 * the 64-bit ICR.
 *
 * <p><b>One copy of state.</b> Every architectural register lives in the 4 KiB register page at
 * {@link #regsPagePa()} in {@link PhysicalMemory}, at its xAPIC offset. With AVIC the same page is the
 * backing page: the CPU sets IRR bits there with locked ORs and reads/writes TPR and ISR there. So IRR,
 * ISR, TMR and TPR are never cached here: every query re-reads the page, and IRR/ISR/TMR bits are changed
 * with atomic OR/AND. The Java fields hold only what KVM keeps outside {@code apic->regs} (the APIC base
 * MSR, {@code sw_enabled}, the timer's {@code struct kvm_timer}, pending INIT/SIPI/NMI) plus the SDM's
 * internal error latch behind ESR.
 *
 * <p>The class does not know the simulator: time is the guest TSC from {@link LapicHost#guestTsc()}, and
 * the host fires the armed timer by calling {@link #timerExpired()}.
 */
public final class LocalApic {
    /** lapic.h APIC_BUS_CYCLE_NS: KVM's APIC timer counts at 1 GHz before the divider. */
    public static final long APIC_BUS_CYCLE_NS = 1;
    /** x86.c {@code min_timer_period_us = 200}: periodic timers are clamped to at least this period. */
    public static final long MIN_TIMER_PERIOD_NS = 200_000;
    /** x86.c process_nmi: at most two NMIs are kept pending (one in service, one latched). */
    public static final int NMI_PENDING_MAX = 2;
    /** IA32_APIC_BASE bit 10 (EXTD, x2APIC enable). */
    public static final long APIC_BASE_X2APIC_ENABLE = ApicRegs.APIC_BASE_X2APIC_ENABLE;
    /** IA32_APIC_BASE bits a guest may never set: 1..7 and 9, and above the 52-bit physical address width. */
    private static final long APIC_BASE_RESERVED = 0xFFF0_0000_0000_0000L | 0x2FF;

    /**
     * The APIC's mode as IA32_APIC_BASE[EN, EXTD] gives it (lapic.h {@code enum lapic_mode}; SDM §10.12.5.1):
     * EN=0 EXTD=0 disabled, EN=1 EXTD=0 xAPIC, EN=1 EXTD=1 x2APIC; EN=0 EXTD=1 is not a state at all.
     * <pre>
     *   DISABLED --EN=1--> XAPIC --EXTD=1--> X2APIC
     *      ^                 |                 |
     *      +------EN=0-------+------EN=0-------+      (X2APIC -> XAPIC and DISABLED -> X2APIC: #GP)
     * </pre>
     */
    enum ApicMode {
        DISABLED, INVALID, XAPIC, X2APIC;

        static ApicMode of(long apicBase) {
            boolean en = (apicBase & APIC_BASE_ENABLE) != 0;
            boolean extd = (apicBase & APIC_BASE_X2APIC_ENABLE) != 0;
            return en ? (extd ? X2APIC : XAPIC) : (extd ? INVALID : DISABLED);
        }

        /** kvm_apic_set_base: the transitions a guest WRMSR may make (a host-initiated write may make any). */
        boolean canBecome(ApicMode next) {
            return next != INVALID && !(this == X2APIC && next == XAPIC) && !(this == DISABLED && next == X2APIC);
        }
    }

    // lapic.h KVM_APIC_INIT / KVM_APIC_SIPI bit numbers in apic->pending_events.
    private static final int EVENT_INIT = 1;
    private static final int EVENT_SIPI = 1 << 1;

    private final PhysicalMemory mem;
    private final long regsPagePa;
    private final int vcpuId;
    private final LapicHost host;
    /** Decoded ICR of the last send; reused so that an IPI allocates nothing. */
    private final ApicIrq icrIrq = new ApicIrq();
    /** LVT-sourced interrupts (timer, error, LINT); separate from icrIrq because they can nest in a send. */
    private final ApicIrq localIrq = new ApicIrq();

    // ---- KVM software state (not in the register page) ----
    private long apicBase;
    /** lapic.c apic->sw_enabled: SPIV bit 8 as last emulated (with AVIC the page may be ahead until the trap). */
    private boolean swEnabled;
    /** SDM 10.5.3: errors collect internally and reach ESR only when software writes ESR. */
    private int esrPendingErrors;
    private final AtomicInteger nmiPending = new AtomicInteger();
    private final AtomicInteger pendingEvents = new AtomicInteger();
    private volatile int sipiVector;
    private int eoiLevelVector = -1;
    /** KVM's vcpu->arch.apic_arb_prio: lowest-priority interrupts this APIC was offered. */
    private int arbPrioCounter;
    /**
     * apic->highest_isr_cache: the vector the last legacy injection put in service (apic_set_isr), -1 once an
     * EOI retired one (apic_clear_isr) or after a reset. With APICv/AVIC KVM does not keep it (the CPU changes
     * ISR behind its back); javic's AVIC path never injects through {@link #getInterrupt}, so it stays -1.
     */
    private int highestIsrCache = -1;

    // ---- PV EOI (lapic.c pv_eoi_*, vcpu->arch.pv_eoi; Documentation/virtual/kvm/msr.txt) ----
    /** What {@link #syncPvEoiFromGuest} returns when the guest had not EOI'd (the bit was still set). */
    public static final int PV_EOI_NOT_TAKEN = -2;
    /** vcpu->arch.pv_eoi.msr_val. */
    private long pvEoiMsr;
    /** The host-physical address of the guest's byte (KVM's gfn_to_hva_cache of it), -1 if it has none. */
    private long pvEoiHpa = -1;
    /** KVM_APIC_PV_EOI_PENDING in vcpu->arch.apic_attention: KVM set the guest's bit before this entry. */
    private boolean pvEoiPending;

    // ---- struct kvm_timer ----
    private int timerMode;
    private int divideCount;
    private long periodNs;
    private long periodTsc;
    /** Guest TSC of the next one-shot/periodic expiry (KVM's target_expiration, in TSC units here). */
    private long targetTsc;
    private long tscDeadline;
    private boolean timerArmed;

    public LocalApic(PhysicalMemory mem, long regsPagePa, int vcpuId, LapicHost host) {
        if ((regsPagePa & (PhysicalMemory.PAGE_SIZE - 1)) != 0 || !mem.contains(regsPagePa)) {
            throw new IllegalArgumentException("APIC register page must be a page in memory: 0x"
                    + Long.toHexString(regsPagePa));
        }
        if (vcpuId < 0 || vcpuId > 0xFE) {
            throw new IllegalArgumentException("xAPIC IDs are 0..254 (0xFF is broadcast): " + vcpuId);
        }
        this.mem = mem;
        this.regsPagePa = regsPagePa;
        this.vcpuId = vcpuId;
        this.host = host;
        mem.clearPage(regsPagePa); // kvm_create_lapic: get_zeroed_page
        resetState(false);
    }

    // =====================================================================================================
    // Reset and the APIC base MSR
    // =====================================================================================================

    /** Power-on reset (kvm_lapic_reset with init_event = false); the VM's APIC map must be recomputed. */
    public void reset() {
        reset(false);
    }

    /**
     * kvm_lapic_reset: architectural reset values. An INIT ({@code initEvent}) keeps the APIC ID, the APIC
     * base MSR and a SIPI that is already pending (it is consumed after the INIT, as in kvm_apic_accept_events).
     */
    public void reset(boolean initEvent) {
        resetState(initEvent);
        host.apicMapChanged(this);
    }

    private void resetState(boolean initEvent) {
        cancelTimer();
        if (!initEvent) {
            apicBase = APIC_DEFAULT_PHYS_BASE | APIC_BASE_ENABLE | (vcpuId == 0 ? APIC_BASE_BSP : 0);
            write(ID, vcpuId << ID_SHIFT);
            pendingEvents.set(0);
        }
        write(LVR, LVR_VALUE);
        // lapic.c masks all LVTs. KVM_X86_QUIRK_LINT0_REENABLED would leave the BSP's LINT0 in ExtINT mode for
        // a legacy PIC; javic has no PIC, so LINT0 stays masked like the others.
        for (int i = 0; i < LVT_COUNT; i++) {
            write(LVTT + VECTOR_REG_STRIDE * i, LVT_MASKED);
        }
        write(DFR, DFR_FLAT);
        write(SPIV, SPIV_RESET);
        swEnabled = false;
        write(TPR, 0);
        if (!isX2apicMode()) {
            write(LDR, 0); // kvm_lapic_reset: an INIT in x2APIC mode keeps the (read-only, derived) LDR
        }
        write(ESR, 0);
        write(ICR, 0);
        write(ICR2, 0);
        write(TDCR, 0);
        write(TMICT, 0);
        for (int i = 0; i < VECTOR_REG_WORDS; i++) {
            write(IRR + VECTOR_REG_STRIDE * i, 0);
            write(ISR + VECTOR_REG_STRIDE * i, 0);
            write(TMR + VECTOR_REG_STRIDE * i, 0);
        }
        write(PPR, 0);
        timerMode = LVT_TIMER_ONESHOT;
        divideCount = ApicRegs.divideCount(0);
        periodNs = 0;
        periodTsc = 0;
        targetTsc = 0;
        tscDeadline = 0;
        esrPendingErrors = 0;
        nmiPending.set(0);
        eoiLevelVector = -1;
        arbPrioCounter = 0;
        // kvm_lapic_reset: highest_isr_cache = -1, pv_eoi.msr_val = 0, apic_attention = 0 (INIT too).
        highestIsrCache = -1;
        pvEoiMsr = 0;
        pvEoiPending = false;
    }

    /** IA32_APIC_BASE (MSR 0x1B) value: base address, global enable (bit 11), x2APIC (bit 10), BSP (bit 8). */
    public long apicBase() {
        return apicBase;
    }

    /**
     * WRMSR IA32_APIC_BASE from a guest whose CPUID does not offer x2APIC: {@link #setApicBase(long, boolean)}
     * with {@code x2apicInCpuid} false, so that bit 10 is a reserved bit.
     */
    public boolean setApicBase(long value) {
        return setApicBase(value, false);
    }

    /**
     * WRMSR IA32_APIC_BASE by the guest (kvm_apic_set_base with host_initiated = false, then
     * __kvm_apic_set_base). Returns false, changing nothing, for a value the guest may not write (the caller
     * injects #GP): reserved bits (bit 10 too unless {@code x2apicInCpuid}: KVM reserves it when the guest's
     * CPUID lacks X86_FEATURE_X2APIC), EXTD without EN, x2APIC to xAPIC and disabled to x2APIC (SDM
     * §10.12.5.1; {@link ApicMode}). Writing the current value is a no-op.
     *
     * <p>Enabling the APIC sets the xAPIC ID to the vCPU id (kvm_apic_set_xapic_id); entering x2APIC mode
     * sets the 32-bit x2APIC ID and derives LDR from it (kvm_apic_set_x2apic_id). Leaving x2APIC mode for
     * disabled keeps every register (SDM: the x2APIC ID is preserved, the rest is undefined; KVM keeps them).
     */
    public boolean setApicBase(long value, boolean x2apicInCpuid) {
        if (value == apicBase) {
            return true;
        }
        long reserved = APIC_BASE_RESERVED | (x2apicInCpuid ? 0 : APIC_BASE_X2APIC_ENABLE);
        if ((value & reserved) != 0 || !ApicMode.of(apicBase).canBecome(ApicMode.of(value))) {
            return false;
        }
        long old = apicBase;
        apicBase = value;
        if (((old ^ value) & APIC_BASE_ENABLE) != 0 && (value & APIC_BASE_ENABLE) != 0) {
            write(ID, vcpuId << ID_SHIFT); // lapic.c: re-enabling restores the APIC ID to the vCPU id
        }
        if (((old ^ value) & APIC_BASE_X2APIC_ENABLE) != 0) {
            if ((value & APIC_BASE_X2APIC_ENABLE) != 0) {
                setX2apicId();
            } else if ((value & APIC_BASE_ENABLE) != 0) {
                write(ID, vcpuId << ID_SHIFT); // only a host-initiated write goes x2APIC -> xAPIC directly
            }
        }
        if (((old ^ value) & (APIC_BASE_ENABLE | APIC_BASE_X2APIC_ENABLE)) != 0) {
            host.apicMapChanged(this);
        }
        return true;
    }

    /**
     * kvm_apic_set_x2apic_id: the x2APIC ID is the vCPU id (SDM: the initial APIC ID, not whatever software
     * wrote to the xAPIC ID register) and LDR = cluster (ID[31:4]) in 31:16, bit ID[3:0] in 15:0.
     */
    private void setX2apicId() {
        write(ID, vcpuId);
        write(LDR, ApicRegs.x2apicLdr(vcpuId));
    }

    public boolean isHardwareEnabled() {
        return (apicBase & APIC_BASE_ENABLE) != 0;
    }

    public boolean isSoftwareEnabled() {
        return swEnabled;
    }

    /** lapic.h apic_x2apic_mode: IA32_APIC_BASE has EXTD (and, as the state machine ensures, EN) set. */
    public boolean isX2apicMode() {
        return (apicBase & APIC_BASE_X2APIC_ENABLE) != 0;
    }

    /** lapic.c apic_enabled: both the MSR enable and the SPIV software enable are set. */
    public boolean isEnabled() {
        return swEnabled && isHardwareEnabled();
    }

    // =====================================================================================================
    // Register access (kvm_lapic_reg_read / kvm_lapic_reg_write)
    // =====================================================================================================

    /**
     * An aligned 32-bit read of register {@code offset} (kvm_lapic_reg_read + __apic_read), as an xAPIC MMIO
     * read reaches it; in x2APIC mode the page is not decoded and the guest uses {@link #x2apicMsrRead}. APR, PPR and
     * TMCCT are computed; write-only EOI and the unimplemented RRR read 0. A reserved offset reads 0 and
     * sets ESR "illegal register address" as the SDM says; KVM instead fails the access silently (no ESR).
     */
    public int regRead(int offset) {
        checkOffset(offset);
        if (!ApicRegs.isValidRegister(offset)) {
            recordError(ESR_ILLEGAL_REGISTER_ADDRESS);
            return 0;
        }
        return switch (offset) {
            // KVM returns 0 for APR ("P6 only"); AMD's APIC implements it, so it is computed here.
            case APR -> arbitrationPriority();
            case PPR -> ppr();
            // KVM's rmask rejects EOI and RRR reads; 0 is what a guest sees from the emulated MMIO read.
            case EOI, RRR -> 0;
            case TMCCT -> timerCurrentCount();
            default -> read(offset);
        };
    }

    /**
     * An aligned 32-bit write of {@code value} to register {@code offset} with every side effect, with xAPIC
     * semantics (an MMIO write, or an AVIC trap); x2APIC-mode writes go through {@link #x2apicMsrWrite}.
     */
    public void regWrite(int offset, int value) {
        checkOffset(offset);
        switch (offset) {
            case ID -> {
                write(ID, value & ID_MASK);
                host.apicMapChanged(this); // lapic.c kvm_apic_set_xapic_id recalculates the map on every write
            }
            case TPR -> setTpr(value);
            case EOI -> setEoi();
            case LDR -> {
                write(LDR, value & LDR_MASK);
                host.apicMapChanged(this);
            }
            case DFR -> {
                write(DFR, value | DFR_RESERVED_ONES);
                host.apicMapChanged(this);
            }
            case SPIV -> writeSpiv(value);
            case ESR -> latchErrors(value);
            case ICR -> {
                write(ICR, value & ~ICR_BUSY); // lapic.c: delivery is immediate, so busy always reads 0
                sendIpi();
            }
            case ICR2 -> write(ICR2, value & ICR2_DEST_MASK);
            case LVTT -> writeLvtt(value);
            case LVTTHMR, LVTPC, LVT0, LVT1, LVTERR -> writeLvt(offset, value);
            case TMICT -> writeTmict(value);
            case TDCR -> writeTdcr(value);
            default -> {
                // Writes to read-only registers (LVR, APR, PPR, RRR, ISR, TMR, IRR, TMCCT) are ignored as in
                // KVM; writes to reserved offsets are an SDM "illegal register address" error.
                if (!ApicRegs.isValidRegister(offset)) {
                    recordError(ESR_ILLEGAL_REGISTER_ADDRESS);
                }
            }
        }
    }

    /**
     * kvm_apic_write_nodecode: emulate the side effects of a write that has already landed in the page
     * (an AVIC trap), by re-writing the page's value. EOI carries no value.
     */
    public void writeNodecode(int offset) {
        regWrite(offset, offset == EOI ? 0 : read(offset));
    }

    // =====================================================================================================
    // x2APIC MSR access (kvm_x2apic_msr_read / kvm_x2apic_msr_write)
    // =====================================================================================================

    /**
     * RDMSR of x2APIC MSR {@code msr} (0x800..0x8FF), kvm_x2apic_msr_read: on success stores the value in
     * {@code out[0]} and returns true; returns false for #GP: the APIC is not in x2APIC mode, or the MSR is
     * not a readable register ({@link ApicRegs#isX2apicReadable}: reserved, APR, DFR, ICR2, the write-only
     * EOI and SELF IPI, RRR). ICR reads as one 64-bit value, ID as the 32-bit x2APIC ID. A #GP leaves ESR
     * alone (SDM §10.12.1.2: in x2APIC mode illegal accesses fault instead of setting ESR bit 7).
     */
    public boolean x2apicMsrRead(int msr, long[] out) {
        int offset = ApicRegs.x2apicOffset(msr);
        if (!isX2apicMode() || !ApicRegs.isX2apicMsr(msr) || !ApicRegs.isX2apicReadable(offset)) {
            return false;
        }
        if (offset == ICR) {
            out[0] = ((long) read(ICR2) << 32) | (read(ICR) & 0xFFFF_FFFFL); // kvm_x2apic_icr_read, split ICR
        } else {
            out[0] = regRead(offset) & 0xFFFF_FFFFL;
        }
        return true;
    }

    /**
     * WRMSR of x2APIC MSR {@code msr} (0x800..0x8FF), kvm_x2apic_msr_write + kvm_lapic_msr_write: returns
     * false, having changed nothing, for #GP. ICR takes all 64 bits (its reserved bits #GP, the busy bit is
     * dropped) and sends at once; every other register #GPs on a value above 32 bits. Then, as
     * kvm_lapic_reg_write in x2APIC mode: the read-only ID, LDR, LVR, PPR, ISR, TMR, IRR, TMCCT and the absent
     * APR, DFR, ICR2, RRR and reserved offsets #GP; ESR accepts only 0; SELF IPI takes a vector (bits 31:8
     * reserved) and sends a fixed edge IPI to this APIC; EOI accepts only 0 (SDM; KVM ignores the value).
     */
    public boolean x2apicMsrWrite(int msr, long value) {
        if (!isX2apicMode() || !ApicRegs.isX2apicMsr(msr)) {
            return false;
        }
        int offset = ApicRegs.x2apicOffset(msr);
        if (offset == ICR) {
            return x2apicIcrWrite(value);
        }
        if ((value >>> 32) != 0) {
            return false; // kvm_lapic_msr_write: "Bits 63:32 are reserved in all other registers"
        }
        int v = (int) value;
        switch (offset) {
            case TPR, SPIV, LVTT, LVTTHMR, LVTPC, LVT0, LVT1, LVTERR, TMICT, TDCR -> regWrite(offset, v);
            case EOI -> {
                if (v != 0) {
                    return false; // SDM table 10-6 note: WRMSR of a non-zero value to EOI raises #GP
                }
                setEoi();
            }
            case ESR -> {
                if (v != 0) {
                    return false; // lapic.c: "if (apic_x2apic_mode(apic) && val != 0) ret = 1"
                }
                latchErrors(v);
            }
            case SELF_IPI -> {
                if ((v & ~VECTOR_MASK) != 0) {
                    return false;
                }
                // lapic.c: kvm_apic_send_ipi(apic, APIC_DEST_SELF | val, 0): fixed, edge, shorthand self.
                icrIrq.set(v & VECTOR_MASK, DM_FIXED, false, false, false, SHORTHAND_SELF, 0);
                sendIpi(icrIrq);
            }
            default -> {
                return false; // read-only, absent in x2APIC mode, or reserved
            }
        }
        return true;
    }

    /**
     * kvm_x2apic_icr_write: the 64-bit ICR, destination in 63:32. Stored split as KVM does on AMD (low half at
     * ICR, high half at ICR2), then sent.
     */
    private boolean x2apicIcrWrite(long value) {
        if ((value & ApicRegs.X2APIC_ICR_RESERVED) != 0) {
            return false;
        }
        int low = (int) value & ~ICR_BUSY;
        int high = (int) (value >>> 32);
        write(ICR, low);
        write(ICR2, high);
        sendIpi(icrIrq.fromIcr(low, high, true));
        return true;
    }

    private static void checkOffset(int offset) {
        if (offset < 0 || offset >= PhysicalMemory.PAGE_SIZE) {
            throw new IllegalArgumentException("APIC register offset outside the page: 0x" + Integer.toHexString(offset));
        }
    }

    private void writeSpiv(int value) {
        int spiv = value & SPIV_WRITABLE;
        write(SPIV, spiv);
        boolean enabled = (spiv & SPIV_APIC_ENABLED) != 0;
        if (!enabled) {
            // SDM 10.4.7.2 / lapic.c: a software disable sets the mask bit of every LVT entry.
            for (int i = 0; i < LVT_COUNT; i++) {
                int off = LVTT + VECTOR_REG_STRIDE * i;
                write(off, read(off) | LVT_MASKED);
            }
            updateLvtt();
        }
        if (enabled != swEnabled) {
            swEnabled = enabled;
            host.apicMapChanged(this);
            if (enabled && hasInterrupt() >= 0) {
                host.requestEventAndKick(); // interrupts held in IRR while disabled become deliverable
            }
        }
    }

    /** lapic.c apic_lvt_mask: the writable bits of each LVT entry (LVTT's mode bits included). */
    private static int lvtMask(int offset) {
        return switch (offset) {
            case LVTT -> LVT_MASK | LVT_TIMER_MODE_MASK;
            case LVTTHMR, LVTPC -> LVT_MASK | DELIVERY_MODE_MASK;
            case LVT0, LVT1 -> LINT_MASK;
            default -> LVT_MASK; // LVTERR
        };
    }

    private void writeLvt(int offset, int value) {
        if (!swEnabled) {
            value |= LVT_MASKED; // SDM 10.4.7.2: the mask bits cannot be cleared while software-disabled
        }
        write(offset, value & lvtMask(offset));
    }

    private void writeLvtt(int value) {
        writeLvt(LVTT, value);
        updateLvtt();
    }

    // =====================================================================================================
    // ESR
    // =====================================================================================================

    /**
     * ESR write. SDM 10.5.3: the write copies the errors detected since the previous write into ESR and
     * clears the internal ones (so back-to-back writes clear ESR); the value written is ignored. KVM
     * (lapic.c) ignores the write in xAPIC mode and never records an error, so its ESR always reads 0; the
     * two agree for any guest that causes no APIC error.
     */
    private void latchErrors(int ignoredValue) {
        write(ESR, esrPendingErrors);
        esrPendingErrors = 0;
    }

    /** Records an APIC error; a newly set error raises the LVT error interrupt unless it is masked. */
    private void recordError(int errorBits) {
        int newBits = errorBits & ~esrPendingErrors;
        esrPendingErrors |= errorBits;
        if (newBits != 0) {
            localDeliver(LVTERR); // SDM: errors are collected even when LVTERR is masked; only the interrupt is
        }
    }

    // =====================================================================================================
    // IPIs (apic_send_ipi) and acceptance (__apic_accept_irq)
    // =====================================================================================================

    private void sendIpi() {
        sendIpi(icrIrq.fromIcr(read(ICR), read(ICR2)));
    }

    /** apic_send_ipi for a decoded ICR (xAPIC ICR write, x2APIC ICR write, x2APIC SELF IPI). */
    private void sendIpi(ApicIrq irq) {
        // SDM 10.5.3 "Send Illegal Vector": vectors 0-15 cannot be sent as fixed or lowest-priority interrupts;
        // here the IPI is dropped. KVM does not check and sends it (and the receivers accept it).
        if ((irq.deliveryMode == DM_FIXED || irq.deliveryMode == DM_LOWEST) && irq.vector < 16) {
            recordError(ESR_SEND_ILLEGAL_VECTOR);
            return;
        }
        host.sendIpi(this, irq);
    }

    /**
     * __apic_accept_irq for this APIC: returns true if the interrupt was accepted. Fixed and lowest-priority
     * interrupts go to IRR (or to the host's posted-interrupt path); NMI, INIT and SIPI become pending events.
     */
    public boolean acceptIrq(ApicIrq irq) {
        // Read the fields first: an error raised below may deliver through LVTERR and reuse localIrq.
        int vector = irq.vector;
        boolean level = irq.levelTriggered;
        boolean assertLevel = irq.levelAssert;
        switch (irq.deliveryMode) {
            case DM_LOWEST:
                arbPrioCounter++; // lapic.c counts lowest-priority offers for kvm_apic_compare_prio
                return acceptFixed(DM_LOWEST, vector, level, assertLevel);
            case DM_FIXED:
                return acceptFixed(DM_FIXED, vector, level, assertLevel);
            case DM_NMI:
                queueNmi();
                host.requestEventAndKick();
                return true;
            case DM_INIT:
                if (level && !assertLevel) {
                    return false; // lapic.c: an INIT level de-assert is ignored
                }
                pendingEvents.set(EVENT_INIT); // lapic.c: INIT replaces any pending SIPI
                host.requestEventAndKick();
                return true;
            case DM_STARTUP:
                sipiVector = vector; // published before the pending bit, as lapic.c's smp_wmb()
                setPendingEvent(EVENT_SIPI);
                host.requestEventAndKick();
                return true;
            default:
                // SMI (KVM raises KVM_REQ_SMI) and ExtINT (a PIC acknowledge cycle) need models javic does not
                // have; remote read is obsolete. They are not accepted.
                return false;
        }
    }

    private boolean acceptFixed(int deliveryMode, int vector, boolean level, boolean assertLevel) {
        if (level && !assertLevel) {
            return false; // lapic.c: a level de-assert of a fixed interrupt carries nothing
        }
        if (!isEnabled()) {
            return false; // lapic.c: a disabled APIC drops fixed interrupts
        }
        if (vector < 16) {
            // SDM 10.5.3 "Receive Illegal Vector": never set IRR 0-15. KVM has no such check.
            recordError(ESR_RECEIVE_ILLEGAL_VECTOR);
            return false;
        }
        long tmrPa = pa(vectorWordOffset(TMR, vector));
        if (level) {
            mem.getAndOr32(tmrPa, vectorBit(vector));
        } else {
            mem.getAndAnd32(tmrPa, ~vectorBit(vector));
        }
        host.tracepointAcceptIrq(apicId(), deliveryMode, level, vector);
        if (!host.deliverPostedInterrupt(vector)) {
            setIrr(vector);
            host.requestEventAndKick();
        }
        return true;
    }

    private void queueNmi() {
        int n;
        do {
            n = nmiPending.get();
            if (n >= NMI_PENDING_MAX) {
                return;
            }
        } while (!nmiPending.compareAndSet(n, n + 1));
    }

    private void setPendingEvent(int bit) {
        int e;
        do {
            e = pendingEvents.get();
        } while (!pendingEvents.compareAndSet(e, e | bit));
    }

    /**
     * kvm_apic_local_deliver: delivers the interrupt programmed in LVT entry {@code lvtOffset} unless the
     * entry is masked or the APIC is hardware-disabled. Returns true if it was accepted.
     */
    public boolean localDeliver(int lvtOffset) {
        int lvt = read(lvtOffset);
        if (!isHardwareEnabled() || (lvt & LVT_MASKED) != 0) {
            return false;
        }
        localIrq.set(lvt & VECTOR_MASK, (lvt & DELIVERY_MODE_MASK) >>> DELIVERY_MODE_SHIFT, false, true,
                (lvt & LVT_LEVEL_TRIGGER) != 0, SHORTHAND_NONE, apicId());
        return acceptIrq(localIrq);
    }

    /** Takes one pending NMI (KVM's nmi_queued); false if none. */
    public boolean takeNmi() {
        int n;
        do {
            n = nmiPending.get();
            if (n == 0) {
                return false;
            }
        } while (!nmiPending.compareAndSet(n, n - 1));
        return true;
    }

    /** kvm_apic_has_events: an INIT or a SIPI is pending (NMIs are counted apart, see {@link #nmiPending()}). */
    public boolean pendingEvents() {
        return pendingEvents.get() != 0;
    }

    /** Whether an NMI is pending (KVM's nmi_queued != 0), without taking it. */
    public boolean nmiPending() {
        return nmiPending.get() != 0;
    }

    /** Takes a pending INIT; a pending SIPI stays pending for {@link #takeSipi()}. */
    public boolean takeInit() {
        int e;
        do {
            e = pendingEvents.get();
            if ((e & EVENT_INIT) == 0) {
                return false;
            }
        } while (!pendingEvents.compareAndSet(e, e & ~EVENT_INIT));
        return true;
    }

    /** Takes a pending SIPI and returns its vector (the start page number), or -1 if none is pending. */
    public int takeSipi() {
        int e;
        do {
            e = pendingEvents.get();
            if ((e & EVENT_SIPI) == 0) {
                return -1;
            }
        } while (!pendingEvents.compareAndSet(e, e & ~EVENT_SIPI));
        return sipiVector;
    }

    /**
     * The vector of the last EOI whose TMR bit was set (a level-triggered interrupt, which KVM forwards to
     * the IOAPIC in kvm_ioapic_send_eoi), or -1; reading it clears it.
     */
    public int takeEoiLevelVector() {
        int v = eoiLevelVector;
        eoiLevelVector = -1;
        return v;
    }

    /** KVM's vcpu->arch.apic_arb_prio: how many lowest-priority interrupts this APIC has been offered. */
    public int arbPrioCounter() {
        return arbPrioCounter;
    }

    // =====================================================================================================
    // Destination matching (kvm_apic_match_dest)
    // =====================================================================================================

    /**
     * kvm_apic_match_dest: does an interrupt from {@code source} (null for a device) with this shorthand and
     * destination target this APIC? {@code dest} is the destination as the sender wrote it: 8 bits from an
     * xAPIC, 32 bits from an x2APIC ({@link ApicIrq#destId}); it is turned into this APIC's MDA by
     * {@link #messageDestinationAddress}.
     */
    public boolean matchDest(LocalApic source, int shorthand, int dest, boolean logical) {
        return switch (shorthand) {
            case SHORTHAND_NONE -> {
                int mda = messageDestinationAddress(source, dest);
                yield logical ? matchLogicalAddr(mda) : matchPhysicalAddr(mda);
            }
            case SHORTHAND_SELF -> this == source;
            case SHORTHAND_ALL_INCLUDING_SELF -> true;
            case SHORTHAND_ALL_EXCLUDING_SELF -> this != source;
            default -> false;
        };
    }

    /**
     * kvm_apic_mda (today's lapic.c, the KVM_CAP_X2APIC_API broadcast quirk left on, as by default): the
     * destination is compared as written, except that an interrupt that is not an IPI (an IOAPIC or MSI
     * message, {@code source} null) to the xAPIC broadcast 0xFF means {@link ApicRegs#X2APIC_BROADCAST} to an
     * APIC in x2APIC mode (KVM has no interrupt remapping, so devices can only address x2APICs in 8 bits).
     * An IPI from an xAPIC to 0xFF therefore does not reach an x2APIC, and one from an x2APIC to 0xFFFFFFFF
     * does not reach an xAPIC (mixed modes are undefined in the SDM). Before Linux 4.8 (the KVM_CAP_X2APIC_API
     * series) kvm_apic_mda put an xAPIC sender's destination in MDA bits 31:24 and matched an xAPIC target on
     * ID << 24; the unshifted form used here, and already by this class's xAPIC code, gives the same result
     * whenever all APICs are in the same mode.
     */
    int messageDestinationAddress(LocalApic source, int dest) {
        if (source == null && dest == BROADCAST && isX2apicMode()) {
            return X2APIC_BROADCAST;
        }
        return dest;
    }

    /** kvm_apic_broadcast: 0xFFFFFFFF in x2APIC mode, 0xFF in xAPIC mode. */
    private boolean isBroadcast(int mda) {
        return mda == (isX2apicMode() ? X2APIC_BROADCAST : BROADCAST);
    }

    /**
     * kvm_apic_match_physical_addr: the MDA is the broadcast, or equals the APIC ID: the 32-bit x2APIC ID in
     * x2APIC mode, the 8-bit xAPIC ID (which software may have rewritten) in xAPIC mode. KVM's "hotplug hack"
     * also lets an xAPIC match a destination above 0xFF that equals its x2APIC ID (its vCPU id); with javic's
     * IDs below 0xFF it never fires, but it is kept for fidelity.
     */
    public boolean matchPhysicalAddr(int mda) {
        if (isBroadcast(mda)) {
            return true;
        }
        if (isX2apicMode() || Integer.compareUnsigned(mda, 0xFF) > 0) {
            return mda == vcpuId; // kvm_x2apic_id: the x2APIC ID is the vCPU id and read-only
        }
        return mda == apicId();
    }

    /**
     * kvm_apic_match_logical_addr. x2APIC mode: the cluster model only, LDR[31:16] == MDA[31:16] and a common
     * bit in LDR[15:0] and MDA[15:0] (SDM §10.12.10.2), 0xFFFFFFFF broadcast. xAPIC mode: flat model = any
     * common bit of LDR[31:24] and the MDA; cluster model = same cluster (high nibbles) and a common bit in
     * the low nibbles; 0xFF is broadcast. Any other DFR model matches nothing.
     */
    public boolean matchLogicalAddr(int mda) {
        if (isBroadcast(mda)) {
            return true;
        }
        if (isX2apicMode()) {
            int ldr = ldr();
            return (ldr >>> 16) == (mda >>> 16) && (ldr & mda & 0xFFFF) != 0;
        }
        int logicalId = ldr() >>> 24;
        int dfr = dfr();
        if (dfr == DFR_FLAT) {
            return (logicalId & mda) != 0;
        }
        if (dfr == DFR_CLUSTER) {
            return (logicalId >>> 4) == (mda >>> 4) && (logicalId & mda & 0xF) != 0;
        }
        return false;
    }

    // =====================================================================================================
    // IRR / ISR / priorities
    // =====================================================================================================

    /** Highest vector set in the 8 x 32-bit vector register at physical address {@code regPa}, or -1. */
    public static int findHighestVector(PhysicalMemory mem, long regPa) {
        for (int word = VECTOR_REG_WORDS - 1; word >= 0; word--) {
            int bits = mem.read32Volatile(regPa + (long) word * VECTOR_REG_STRIDE);
            if (bits != 0) {
                return word * 32 + 31 - Integer.numberOfLeadingZeros(bits);
            }
        }
        return -1;
    }

    /** Whether {@code vector} is set in the 8 x 32-bit vector register at {@code regPa}. */
    public static boolean testVector(PhysicalMemory mem, long regPa, int vector) {
        return (mem.read32Volatile(regPa + (long) (vector >>> 5) * VECTOR_REG_STRIDE) & vectorBit(vector)) != 0;
    }

    public int highestIrr() {
        return findHighestVector(mem, pa(IRR));
    }

    public int highestIsr() {
        return findHighestVector(mem, pa(ISR));
    }

    public boolean irrPending() {
        return highestIrr() >= 0;
    }

    /** Sets {@code vector} in IRR with a locked OR (kvm_lapic_set_irr). */
    public void setIrr(int vector) {
        mem.getAndOr32(pa(vectorWordOffset(IRR, vector)), vectorBit(vector));
    }

    public void clearIrr(int vector) {
        mem.getAndAnd32(pa(vectorWordOffset(IRR, vector)), ~vectorBit(vector));
    }

    public boolean isIrrSet(int vector) {
        return testVector(mem, pa(IRR), vector);
    }

    public boolean isIsrSet(int vector) {
        return testVector(mem, pa(ISR), vector);
    }

    public boolean isTmrSet(int vector) {
        return testVector(mem, pa(TMR), vector);
    }

    public int tpr() {
        return read(TPR) & 0xFF;
    }

    /**
     * apic_set_tpr: writes the 8-bit TPR (as a TPR register write does) and re-evaluates PPR; requests an
     * event if a pending interrupt became deliverable. For MOV to CR8 use {@link #setCr8(long)}.
     */
    public void setTpr(int tpr) {
        write(TPR, tpr & 0xFF);
        updatePprAndRequestEvent();
    }

    /** MOV to CR8 (kvm_lapic_set_tpr): TPR[7:4] = CR8[3:0]; SDM 10.8.6.1 clears TPR[3:0]. */
    public void setCr8(long cr8) {
        setTpr((int) (cr8 & 0xF) << 4);
    }

    /** MOV from CR8 (kvm_lapic_get_cr8): TPR[7:4]. */
    public long cr8() {
        return (tpr() >>> 4) & 0xF;
    }

    /**
     * PPR from the page's TPR and ISR (__apic_update_ppr): TPR if its class is at least the class of the
     * highest in-service vector, else that vector's class. Also stores it at the PPR offset.
     */
    public int ppr() {
        int tpr = tpr();
        int isr = highestIsr();
        int isrv = isr < 0 ? 0 : isr;
        int ppr = (tpr & 0xF0) >= (isrv & 0xF0) ? tpr : isrv & 0xF0;
        if (read(PPR) != ppr) {
            write(PPR, ppr);
        }
        return ppr;
    }

    /**
     * APR as the SDM's lowest-priority arbitration defines it: TPR if its class is at least IRRV's and above
     * ISRV's, else the highest of the three classes (the SDM prints "max(TPR[7:4] AND ISRV[7:4], IRRV[7:4])",
     * read here as the maximum of all three, as in the P6 manual's description).
     */
    public int arbitrationPriority() {
        int tpr = tpr();
        int irr = highestIrr();
        int isr = highestIsr();
        int irrv = irr < 0 ? 0 : irr;
        int isrv = isr < 0 ? 0 : isr;
        if ((tpr >>> 4) >= (irrv >>> 4) && (tpr >>> 4) > (isrv >>> 4)) {
            return tpr;
        }
        return Math.max(tpr & 0xF0, Math.max(isrv & 0xF0, irrv & 0xF0));
    }

    /** apic_has_interrupt_for_ppr: the highest IRR vector if its class is above {@code ppr}'s, else -1. */
    private int hasInterruptForPpr(int ppr) {
        int irr = highestIrr();
        if (irr < 0 || (irr & 0xF0) <= ppr) {
            return -1;
        }
        return irr;
    }

    /** kvm_apic_has_interrupt: the vector that would be delivered now, or -1 (none, or APIC disabled). */
    public int hasInterrupt() {
        if (!isEnabled()) {
            return -1;
        }
        return hasInterruptForPpr(ppr());
    }

    /**
     * kvm_get_apic_interrupt: acknowledges the deliverable interrupt (IRR to ISR, PPR raised) and returns its
     * vector, or -1 if none.
     */
    public int getInterrupt() {
        int vector = hasInterrupt();
        if (vector < 0) {
            return -1;
        }
        clearIrr(vector);
        mem.getAndOr32(pa(vectorWordOffset(ISR, vector)), vectorBit(vector));
        highestIsrCache = vector; // apic_set_isr: the injected vector is the highest in service
        ppr();
        return vector;
    }

    /** apic_update_ppr: if PPR went down and that uncovered a pending interrupt, ask for event processing. */
    private void updatePprAndRequestEvent() {
        int old = read(PPR);
        int ppr = ppr();
        if (ppr < old && hasInterruptForPpr(ppr) >= 0) {
            host.requestEventAndKick();
        }
    }

    /** apic_set_eoi: retires the highest in-service vector; returns it, or -1 if nothing was in service. */
    private int setEoi() {
        int vector = highestIsr();
        if (vector < 0) {
            return -1; // lapic.c: an EOI with nothing in service is legal and does nothing
        }
        mem.getAndAnd32(pa(vectorWordOffset(ISR, vector)), ~vectorBit(vector));
        highestIsrCache = -1; // apic_clear_isr
        ppr();
        host.tracepointEoi(apicId(), vector);
        if (isTmrSet(vector)) {
            eoiLevelVector = vector;
        }
        if (hasInterrupt() >= 0) {
            host.requestEventAndKick();
        }
        return vector;
    }

    // =====================================================================================================
    // PV EOI (lapic.c of 4.5: kvm_lapic_enable_pv_eoi, apic_sync_pv_eoi_to_guest / _from_guest)
    // =====================================================================================================

    /**
     * kvm_lapic_enable_pv_eoi for a WRMSR of MSR_KVM_PV_EOI_EN with {@code data}: the address (bit 0 masked off)
     * must be 4-byte aligned, else #GP and nothing changes; the value is then kept, and if bit 0 enables PV
     * EOI the address must be in guest memory: {@code hpa} is where it is on the host (the memslot lookup
     * of kvm_gfn_to_hva_cache_init), -1 when no memslot holds it, which #GPs too (the value stays written,
     * as in KVM, but KVM can then never set the guest's bit). Returns false for #GP.
     */
    public boolean enablePvEoi(long data, long hpa) {
        long addr = data & ~KVM_MSR_ENABLED;
        if ((addr & 3) != 0) {
            return false;
        }
        pvEoiMsr = data;
        if (!pvEoiEnabled()) {
            return true;
        }
        pvEoiHpa = hpa;
        return hpa >= 0;
    }

    /** RDMSR of MSR_KVM_PV_EOI_EN: vcpu->arch.pv_eoi.msr_val. */
    public long pvEoiMsr() {
        return pvEoiMsr;
    }

    /** pv_eoi_enabled: bit 0 of the MSR. */
    public boolean pvEoiEnabled() {
        return (pvEoiMsr & KVM_MSR_ENABLED) != 0;
    }

    /** Whether KVM set the guest's bit for the entry now running (KVM_APIC_PV_EOI_PENDING). */
    public boolean pvEoiPending() {
        return pvEoiPending;
    }

    /**
     * apic_sync_pv_eoi_to_guest, before VMRUN on the legacy path: when PV EOI is on, nothing waits in IRR
     * (apic->irr_pending: the EOI could uncover it), the in-service vector is known (highest_isr_cache: the
     * one KVM injected last, the highest in service; -1 after any EOI, so a handler that another interrupted
     * EOIs through the APIC) and its EOI need not reach an IOAPIC (KVM's test is kvm_ioapic_handles_vector;
     * javic has no IOAPIC, and a vector that would be routed through one is level-triggered: TMR set),
     * KVM stores KVM_PV_EOI_ENABLED in the guest's byte (pv_eoi_set_pending, a kvm_write_guest_cached) and
     * notes it pending. Returns whether it wrote guest memory.
     */
    public boolean syncPvEoiToGuest() {
        if (!pvEoiEnabled() || irrPending() || highestIsrCache < 0 || isTmrSet(highestIsrCache) || pvEoiHpa < 0) {
            return false; // a failed put_user ("Can't set EOI MSR value") leaves it not pending too
        }
        storeGuestByte(KVM_PV_EOI_ENABLED);
        pvEoiPending = true;
        return true;
    }

    /**
     * apic_sync_pv_eoi_from_guest, after #VMEXIT when {@link #pvEoiPending()}: reads the guest's byte
     * (pv_eoi_get_pending), clears it and the pending note in any case (pv_eoi_clr_pending: it is set again
     * before the next entry if still safe), and if the guest had cleared the bit, i.e. executed its EOI
     * without touching the APIC, does that EOI now (apic_set_eoi). Returns the vector retired (-1 if none
     * was in service), or {@link #PV_EOI_NOT_TAKEN} when the bit was still set. The caller traces
     * kvm_pv_eoi for an EOI done here.
     */
    public int syncPvEoiFromGuest() {
        boolean stillSet = (mem.read32(pvEoiHpa) & KVM_PV_EOI_ENABLED) != 0;
        storeGuestByte(0);
        pvEoiPending = false;
        if (stillSet) {
            return PV_EOI_NOT_TAKEN;
        }
        return setEoi();
    }

    /** pv_eoi_put_user: KVM writes one byte (the guest's word is little-endian, so its low byte). */
    private void storeGuestByte(int value) {
        mem.write32(pvEoiHpa, (mem.read32(pvEoiHpa) & ~0xFF) | value);
    }

    // =====================================================================================================
    // Timer (struct kvm_timer; one-shot, periodic, TSC-deadline)
    // =====================================================================================================

    /** apic_update_lvtt: follow LVTT's mode; entering or leaving TSC-deadline mode stops the timer. */
    private void updateLvtt() {
        int mode = read(LVTT) & LVT_TIMER_MODE_MASK;
        if (mode == timerMode) {
            return;
        }
        if ((timerMode == LVT_TIMER_TSCDEADLINE) != (mode == LVT_TIMER_TSCDEADLINE)) {
            cancelTimer();
            write(TMICT, 0);
            periodNs = 0;
            periodTsc = 0;
            tscDeadline = 0;
        }
        timerMode = mode;
        limitPeriodicTimerFrequency();
    }

    private void limitPeriodicTimerFrequency() {
        if (timerMode == LVT_TIMER_PERIODIC && periodNs != 0 && periodNs < MIN_TIMER_PERIOD_NS) {
            periodNs = MIN_TIMER_PERIOD_NS;
            periodTsc = nsToTsc(periodNs);
        }
    }

    private void writeTmict(int value) {
        if (timerMode == LVT_TIMER_TSCDEADLINE) {
            return; // lapic.c: TMICT is ignored in TSC-deadline mode
        }
        cancelTimer();
        write(TMICT, value);
        if (timerMode == LVT_TIMER_ONESHOT || timerMode == LVT_TIMER_PERIODIC) {
            if (setTargetExpiration()) {
                arm(targetTsc);
            }
        }
    }

    /** set_target_expiration: period = TMICT x bus cycle x divide; false (timer stopped) when TMICT is 0. */
    private boolean setTargetExpiration() {
        periodNs = (read(TMICT) & 0xFFFF_FFFFL) * APIC_BUS_CYCLE_NS * divideCount;
        if (periodNs == 0) {
            periodTsc = 0;
            tscDeadline = 0;
            return false;
        }
        periodTsc = nsToTsc(periodNs);
        limitPeriodicTimerFrequency();
        targetTsc = host.guestTsc() + periodTsc;
        return true;
    }

    private void writeTdcr(int value) {
        int oldDivide = divideCount;
        write(TDCR, value & TDCR_MASK);
        divideCount = ApicRegs.divideCount(value);
        // lapic.c rescales a running count (update_target_expiration). It also does so for a one-shot that
        // already fired, re-firing it; only an armed timer is rescaled here.
        if (divideCount != oldDivide && periodNs != 0 && timerArmed) {
            cancelTimer();
            updateTargetExpiration(oldDivide);
            arm(targetTsc);
        }
    }

    private void updateTargetExpiration(int oldDivide) {
        periodNs = (read(TMICT) & 0xFFFF_FFFFL) * APIC_BUS_CYCLE_NS * divideCount;
        periodTsc = nsToTsc(periodNs);
        limitPeriodicTimerFrequency();
        long now = host.guestTsc();
        long remainingOld = Math.max(0, targetTsc - now);
        targetTsc = now + remainingOld * divideCount / oldDivide;
    }

    /**
     * TMCCT (apic_get_tmcct): the count left until the target, in divided bus cycles, 0 once expired or in
     * TSC-deadline mode. Rounded up and capped at TMICT so that it reads TMICT right after the write (KVM takes
     * the remaining time modulo the period, which reads 0 at that instant).
     */
    private int timerCurrentCount() {
        if (timerMode == LVT_TIMER_TSCDEADLINE) {
            return 0;
        }
        long initial = read(TMICT) & 0xFFFF_FFFFL;
        if (initial == 0 || periodNs == 0) {
            return 0;
        }
        long remainingTsc = targetTsc - host.guestTsc();
        if (remainingTsc <= 0) {
            return 0;
        }
        long tscPerCountX1000 = host.tscKhzPerMhz() * APIC_BUS_CYCLE_NS * divideCount;
        long count = (remainingTsc * 1000 + tscPerCountX1000 - 1) / tscPerCountX1000;
        return (int) Math.min(count, initial);
    }

    /** MSR IA32_TSC_DEADLINE write (kvm_set_lapic_tscdeadline_msr); ignored unless LVTT is in TSC-deadline mode. */
    public void setTscDeadline(long tsc) {
        if (timerMode != LVT_TIMER_TSCDEADLINE) {
            return;
        }
        cancelTimer();
        tscDeadline = tsc;
        if (tsc == 0) {
            return; // writing 0 disarms
        }
        if (Long.compareUnsigned(tsc, host.guestTsc()) > 0) {
            arm(tsc);
        } else {
            fireTimer(); // start_sw_tscdeadline: a deadline already passed expires at once
        }
    }

    /** MSR IA32_TSC_DEADLINE read (kvm_get_lapic_tscdeadline_msr): 0 unless in TSC-deadline mode. */
    public long getTscDeadline() {
        return timerMode == LVT_TIMER_TSCDEADLINE ? tscDeadline : 0;
    }

    /** Whether the APIC has asked the host for a timer expiry that has not fired or been cancelled. */
    public boolean isTimerArmed() {
        return timerArmed;
    }

    /**
     * The host's hrtimer for this APIC fired (apic_timer_fn + kvm_inject_apic_timer_irqs): deliver the LVTT
     * vector unless masked, re-arm a periodic timer one period after its previous target, retire a one-shot
     * or TSC deadline. A call for a timer no longer armed is ignored.
     */
    public void timerExpired() {
        if (!timerArmed) {
            return;
        }
        timerArmed = false;
        fireTimer();
    }

    private void fireTimer() {
        if (swEnabled) {
            localDeliver(LVTT); // apic_has_pending_timer requires an enabled APIC and an unmasked LVTT
        }
        switch (timerMode) {
            case LVT_TIMER_TSCDEADLINE -> tscDeadline = 0;
            case LVT_TIMER_ONESHOT -> targetTsc = 0;
            case LVT_TIMER_PERIODIC -> {
                if (periodTsc != 0) {
                    targetTsc += periodTsc; // advance_periodic_target_expiration: no drift from late firing
                    arm(targetTsc);
                }
            }
            default -> {
                // reserved mode 3: no timer runs
            }
        }
    }

    private void arm(long deadlineTsc) {
        timerArmed = true;
        host.armTimer(deadlineTsc);
    }

    private void cancelTimer() {
        if (timerArmed) {
            timerArmed = false;
            host.cancelTimer();
        }
    }

    /** nsec_to_cycles: guest TSC ticks in {@code ns} nanoseconds. */
    private long nsToTsc(long ns) {
        return ns * host.tscKhzPerMhz() / 1000;
    }

    // =====================================================================================================
    // Identity and raw page access
    // =====================================================================================================

    /**
     * The APIC ID: the 32-bit x2APIC ID in x2APIC mode (kvm_x2apic_id), else the xAPIC ID in ID[31:24]
     * (kvm_xapic_id).
     */
    public int apicId() {
        return isX2apicMode() ? read(ID) : read(ID) >>> ID_SHIFT;
    }

    public int ldr() {
        return read(LDR);
    }

    public int dfr() {
        return read(DFR);
    }

    public int vcpuId() {
        return vcpuId;
    }

    public long regsPagePa() {
        return regsPagePa;
    }

    /** Raw read of the page word at {@code offset}, without side effects (kvm_lapic_get_reg). */
    public int read(int offset) {
        return mem.read32Volatile(pa(offset));
    }

    /** Raw write of the page word at {@code offset}, without side effects (kvm_lapic_set_reg). */
    public void write(int offset, int value) {
        mem.write32(pa(offset), value);
    }

    private long pa(int offset) {
        return regsPagePa + offset;
    }

    @Override
    public String toString() {
        return "LocalApic[vcpu=" + vcpuId + ", id=" + apicId() + "]";
    }
}
