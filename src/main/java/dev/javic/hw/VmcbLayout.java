package dev.javic.hw;

/**
 * Byte offsets, shifts and masks of the VMCB fields the model uses: AMD APM vol. 2, appendix B
 * ("Layout of VMCB"), as Linux encodes it in {@code arch/x86/include/asm/svm.h} (struct
 * vmcb_control_area, struct vmcb_save_area, the V_* and AVIC_* masks). Fields are always accessed
 * through these constants, never through bit-fields (series item 3).
 */
public final class VmcbLayout {
    private VmcbLayout() {
    }

    // ---- control area --------------------------------------------------------------------------
    /** u16 CR read intercepts (bit n = CRn); u16 CR write intercepts follow at 0x002. */
    public static final int INTERCEPT_CR = 0x000;
    public static final int INTERCEPT_DR = 0x004;
    public static final int INTERCEPT_EXCEPTIONS = 0x008;
    /** Misc. intercept vector 1 (u32) — the INTERCEPT_* enum of svm.h, bits 0..31. */
    public static final int INTERCEPT_MISC1 = 0x00C;
    /** Misc. intercept vector 2 (u32) — bit 0 VMRUN, bit 1 VMMCALL, ... */
    public static final int INTERCEPT_MISC2 = 0x010;
    public static final int PAUSE_FILTER_THRESHOLD = 0x03C;
    public static final int PAUSE_FILTER_COUNT = 0x03E;
    public static final int IOPM_BASE_PA = 0x040;
    public static final int MSRPM_BASE_PA = 0x048;
    public static final int TSC_OFFSET = 0x050;
    public static final int ASID = 0x058;
    public static final int TLB_CTL = 0x05C;
    public static final int INT_CTL = 0x060;
    public static final int INT_VECTOR = 0x064;
    /** Bit 0: guest is in an interrupt shadow (after STI / MOV SS). */
    public static final int INT_STATE = 0x068;
    public static final int EXIT_CODE = 0x070;
    public static final int EXIT_INFO_1 = 0x078;
    public static final int EXIT_INFO_2 = 0x080;
    public static final int EXIT_INT_INFO = 0x088;
    /** Bit 0: nested paging enable. */
    public static final int NESTED_CTL = 0x090;
    /** AVIC APIC BAR (bits 51:12). */
    public static final int AVIC_VAPIC_BAR = 0x098;
    public static final int EVENT_INJ = 0x0A8;
    public static final int NESTED_CR3 = 0x0B0;
    public static final int VMCB_CLEAN = 0x0C0;
    /** nRIP: the guest RIP after the intercepted instruction (NRIPS feature). */
    public static final int NEXT_RIP = 0x0C8;
    /** Decode assists: number of instruction bytes fetched (u8), then up to 15 bytes at 0x0D1. */
    public static final int INSN_LEN = 0x0D0;
    public static final int INSN_BYTES = 0x0D1;
    public static final int AVIC_BACKING_PAGE = 0x0E0;
    public static final int AVIC_LOGICAL_ID = 0x0F0;
    public static final int AVIC_PHYSICAL_ID = 0x0F8;

    // ---- intercept bits (misc1 / misc2 / CR) ----------------------------------------------------
    public static final int INTERCEPT_INTR = 0;
    public static final int INTERCEPT_NMI = 1;
    public static final int INTERCEPT_SMI = 2;
    public static final int INTERCEPT_INIT = 3;
    public static final int INTERCEPT_VINTR = 4;
    public static final int INTERCEPT_CPUID = 18;
    public static final int INTERCEPT_IRET = 20;
    public static final int INTERCEPT_PAUSE = 23;
    public static final int INTERCEPT_HLT = 24;
    public static final int INTERCEPT_IOIO_PROT = 27;
    public static final int INTERCEPT_MSR_PROT = 28;
    /** misc2 bits. */
    public static final int INTERCEPT_VMRUN = 0;
    public static final int INTERCEPT_VMMCALL = 1;
    /** CR write intercepts live in the upper half of the CR word: bit 16 + n for CRn. */
    public static final int INTERCEPT_CR8_WRITE = 16 + 8;

    // ---- int_ctl ----------------------------------------------------------------------------------
    public static final int V_TPR_MASK = 0x0F;
    public static final int V_IRQ_SHIFT = 8;
    public static final int V_IRQ_MASK = 1 << V_IRQ_SHIFT;
    public static final int V_GIF_SHIFT = 9;
    public static final int V_GIF_MASK = 1 << V_GIF_SHIFT;
    public static final int V_INTR_PRIO_SHIFT = 16;
    public static final int V_INTR_PRIO_MASK = 0x0F << V_INTR_PRIO_SHIFT;
    public static final int V_IGN_TPR_SHIFT = 20;
    public static final int V_IGN_TPR_MASK = 1 << V_IGN_TPR_SHIFT;
    public static final int V_INTR_MASKING_SHIFT = 24;
    public static final int V_INTR_MASKING_MASK = 1 << V_INTR_MASKING_SHIFT;
    public static final int V_GIF_ENABLE_SHIFT = 25;
    public static final int V_GIF_ENABLE_MASK = 1 << V_GIF_ENABLE_SHIFT;
    public static final int X2APIC_MODE_SHIFT = 30;
    public static final int X2APIC_MODE_MASK = 1 << X2APIC_MODE_SHIFT;
    public static final int AVIC_ENABLE_SHIFT = 31;
    public static final int AVIC_ENABLE_MASK = 1 << AVIC_ENABLE_SHIFT;
    /** int_vector bits 7:0. */
    public static final int V_INTR_VECTOR_MASK = 0xFF;
    public static final int INT_STATE_SHADOW_MASK = 1;

    // ---- AVIC pointers (svm.h of 2016: AVIC_HPA_MASK = ~((0xFFFULL << 52) | 0xFFF)) ----------
    public static final long AVIC_HPA_MASK = ~((0xFFFL << 52) | 0xFFF);
    public static final long AVIC_VAPIC_BAR_MASK = 0xFFFFFFFFFF000L;
    /** Max index of the physical APIC ID table in avic_physical_id bits 7:0 (2016; 9/12 bits later). */
    public static final long AVIC_PHYSICAL_MAX_INDEX_MASK = 0xFF;

    // ---- event_inj / exit_int_info (same format) ----------------------------------------------
    public static final int EVTINJ_VEC_MASK = 0xFF;
    public static final int EVTINJ_TYPE_SHIFT = 8;
    public static final int EVTINJ_TYPE_MASK = 7 << EVTINJ_TYPE_SHIFT;
    public static final int EVTINJ_TYPE_INTR = 0 << EVTINJ_TYPE_SHIFT;
    public static final int EVTINJ_TYPE_NMI = 2 << EVTINJ_TYPE_SHIFT;
    public static final int EVTINJ_TYPE_EXEPT = 3 << EVTINJ_TYPE_SHIFT;
    public static final int EVTINJ_TYPE_SOFT = 4 << EVTINJ_TYPE_SHIFT;
    public static final int EVTINJ_VALID_ERR = 1 << 11;
    public static final int EVTINJ_VALID = 1 << 31;

    // ---- save area (struct vmcb_save_area starts at 0x400) --------------------------------------
    public static final int SAVE_CPL = 0x4CB;
    public static final int SAVE_EFER = 0x4D0;
    public static final int SAVE_CR4 = 0x548;
    public static final int SAVE_CR3 = 0x550;
    public static final int SAVE_CR0 = 0x558;
    public static final int SAVE_RFLAGS = 0x570;
    public static final int SAVE_RIP = 0x578;
    public static final int SAVE_RSP = 0x5D8;
    public static final int SAVE_RAX = 0x5F8;

    public static final long RFLAGS_IF = 1L << 9;
    /** RFLAGS bit 1 is reserved and always reads as 1. */
    public static final long RFLAGS_FIXED = 1L << 1;
}
