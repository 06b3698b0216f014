package dev.javic.hw;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.javic.hw.VmcbLayout.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link VmcbLayout} against Linux's {@code arch/x86/include/asm/svm.h} (struct vmcb_control_area,
 * struct vmcb_save_area, the V_* / AVIC_* / SVM_EVTINJ_* macros). The struct declarations below are
 * copied field by field from svm.h as of Linux 4.15 (the AVIC fields have been in this layout since
 * the 2016 series; checked against sndrzt/linux-4.15 arch/x86/include/asm/svm.h), and the offsets
 * are computed from the declared sizes of the packed structs, so a wrong constant or a wrong reading
 * of the header both show up here.
 */
class VmcbLayoutTest {

    /** struct vmcb_control_area (packed), declaration order: name -> size in bytes. */
    private static Map<String, Integer> controlAreaDeclaration() {
        Map<String, Integer> f = new LinkedHashMap<>();
        f.put("intercept_cr", 4);
        f.put("intercept_dr", 4);
        f.put("intercept_exceptions", 4);
        f.put("intercept", 8);            // u64: misc vector 1 (0x00C) and misc vector 2 (0x010)
        f.put("reserved_1", 42);
        f.put("pause_filter_count", 2);
        f.put("iopm_base_pa", 8);
        f.put("msrpm_base_pa", 8);
        f.put("tsc_offset", 8);
        f.put("asid", 4);
        f.put("tlb_ctl", 1);
        f.put("reserved_2", 3);
        f.put("int_ctl", 4);
        f.put("int_vector", 4);
        f.put("int_state", 4);
        f.put("reserved_3", 4);
        f.put("exit_code", 4);
        f.put("exit_code_hi", 4);
        f.put("exit_info_1", 8);
        f.put("exit_info_2", 8);
        f.put("exit_int_info", 4);
        f.put("exit_int_info_err", 4);
        f.put("nested_ctl", 8);
        f.put("avic_vapic_bar", 8);
        f.put("reserved_4", 8);
        f.put("event_inj", 4);
        f.put("event_inj_err", 4);
        f.put("nested_cr3", 8);
        f.put("virt_ext", 8);
        f.put("clean", 4);
        f.put("reserved_5", 4);
        f.put("next_rip", 8);
        f.put("insn_len", 1);
        f.put("insn_bytes", 15);
        f.put("avic_backing_page", 8);   /* Offset 0xe0 in svm.h's own comment */
        f.put("reserved_6", 8);
        f.put("avic_logical_id", 8);     /* Offset 0xf0 */
        f.put("avic_physical_id", 8);    /* Offset 0xf8 */
        f.put("reserved_7", 768);
        return f;
    }

    /** struct vmcb_save_area (packed) up to RAX; it starts at 0x400, right after the control area. */
    private static Map<String, Integer> saveAreaDeclaration() {
        Map<String, Integer> f = new LinkedHashMap<>();
        for (String seg : new String[] {"es", "cs", "ss", "ds", "fs", "gs", "gdtr", "ldtr", "idtr", "tr"}) {
            f.put(seg, 16); // struct vmcb_seg { u16 selector; u16 attrib; u32 limit; u64 base; }
        }
        f.put("reserved_1", 43);
        f.put("cpl", 1);
        f.put("reserved_2", 4);
        f.put("efer", 8);
        f.put("reserved_3", 112);
        f.put("cr4", 8);
        f.put("cr3", 8);
        f.put("cr0", 8);
        f.put("dr7", 8);
        f.put("dr6", 8);
        f.put("rflags", 8);
        f.put("rip", 8);
        f.put("reserved_4", 88);
        f.put("rsp", 8);
        f.put("reserved_5", 24);
        f.put("rax", 8);
        return f;
    }

    private static Map<String, Integer> offsets(Map<String, Integer> declaration, int base) {
        Map<String, Integer> out = new LinkedHashMap<>();
        int offset = base;
        for (Map.Entry<String, Integer> e : declaration.entrySet()) {
            out.put(e.getKey(), offset);
            offset += e.getValue();
        }
        out.put("<end>", offset);
        return out;
    }

    @Test
    void controlAreaIsOneKibibyteAndTheSaveAreaFollowsIt() {
        assertThat(offsets(controlAreaDeclaration(), 0).get("<end>")).isEqualTo(0x400);
    }

    @Test
    void controlAreaOffsetsMatchSvmH() {
        Map<String, Integer> o = offsets(controlAreaDeclaration(), 0);
        // The intercept vectors span 0x000-0x013: CR (u16 read + u16 write), DR, exceptions, misc1, misc2.
        assertThat(INTERCEPT_CR).isEqualTo(o.get("intercept_cr")).isEqualTo(0x000);
        assertThat(INTERCEPT_DR).isEqualTo(o.get("intercept_dr")).isEqualTo(0x004);
        assertThat(INTERCEPT_EXCEPTIONS).isEqualTo(o.get("intercept_exceptions")).isEqualTo(0x008);
        assertThat(INTERCEPT_MISC1).isEqualTo(o.get("intercept")).isEqualTo(0x00C);
        assertThat(INTERCEPT_MISC2).isEqualTo(o.get("intercept") + 4).isEqualTo(0x010);
        assertThat(o.get("reserved_1")).isEqualTo(0x014); // the intercepts end at 0x013
        assertThat(PAUSE_FILTER_COUNT).isEqualTo(o.get("pause_filter_count")).isEqualTo(0x03E);
        assertThat(IOPM_BASE_PA).isEqualTo(o.get("iopm_base_pa")).isEqualTo(0x040);
        assertThat(MSRPM_BASE_PA).isEqualTo(o.get("msrpm_base_pa")).isEqualTo(0x048);
        assertThat(TSC_OFFSET).isEqualTo(o.get("tsc_offset")).isEqualTo(0x050);
        assertThat(ASID).isEqualTo(o.get("asid")).isEqualTo(0x058);
        assertThat(TLB_CTL).isEqualTo(o.get("tlb_ctl")).isEqualTo(0x05C);
        assertThat(INT_CTL).isEqualTo(o.get("int_ctl")).isEqualTo(0x060);
        assertThat(INT_VECTOR).isEqualTo(o.get("int_vector")).isEqualTo(0x064);
        assertThat(INT_STATE).isEqualTo(o.get("int_state")).isEqualTo(0x068);
        assertThat(EXIT_CODE).isEqualTo(o.get("exit_code")).isEqualTo(0x070);
        assertThat(EXIT_INFO_1).isEqualTo(o.get("exit_info_1")).isEqualTo(0x078);
        assertThat(EXIT_INFO_2).isEqualTo(o.get("exit_info_2")).isEqualTo(0x080);
        assertThat(EXIT_INT_INFO).isEqualTo(o.get("exit_int_info")).isEqualTo(0x088);
        assertThat(NESTED_CTL).isEqualTo(o.get("nested_ctl")).isEqualTo(0x090);
        assertThat(AVIC_VAPIC_BAR).isEqualTo(o.get("avic_vapic_bar")).isEqualTo(0x098);
        assertThat(EVENT_INJ).isEqualTo(o.get("event_inj")).isEqualTo(0x0A8);
        assertThat(NESTED_CR3).isEqualTo(o.get("nested_cr3")).isEqualTo(0x0B0);
        assertThat(VMCB_CLEAN).isEqualTo(o.get("clean")).isEqualTo(0x0C0);
        assertThat(NEXT_RIP).isEqualTo(o.get("next_rip")).isEqualTo(0x0C8);
        assertThat(INSN_LEN).isEqualTo(o.get("insn_len")).isEqualTo(0x0D0);
        assertThat(INSN_BYTES).isEqualTo(o.get("insn_bytes")).isEqualTo(0x0D1);
        assertThat(AVIC_BACKING_PAGE).isEqualTo(o.get("avic_backing_page")).isEqualTo(0x0E0);
        assertThat(AVIC_LOGICAL_ID).isEqualTo(o.get("avic_logical_id")).isEqualTo(0x0F0);
        assertThat(AVIC_PHYSICAL_ID).isEqualTo(o.get("avic_physical_id")).isEqualTo(0x0F8);
    }

    @Test
    void saveAreaOffsetsMatchSvmH() {
        Map<String, Integer> o = offsets(saveAreaDeclaration(), 0x400);
        assertThat(SAVE_CPL).isEqualTo(o.get("cpl")).isEqualTo(0x4CB);
        assertThat(SAVE_EFER).isEqualTo(o.get("efer")).isEqualTo(0x4D0);
        assertThat(SAVE_CR4).isEqualTo(o.get("cr4")).isEqualTo(0x548);
        assertThat(SAVE_CR3).isEqualTo(o.get("cr3")).isEqualTo(0x550);
        assertThat(SAVE_CR0).isEqualTo(o.get("cr0")).isEqualTo(0x558);
        assertThat(SAVE_RFLAGS).isEqualTo(o.get("rflags")).isEqualTo(0x570);
        assertThat(SAVE_RIP).isEqualTo(o.get("rip")).isEqualTo(0x578);
        assertThat(SAVE_RSP).isEqualTo(o.get("rsp")).isEqualTo(0x5D8);
        assertThat(SAVE_RAX).isEqualTo(o.get("rax")).isEqualTo(0x5F8);
    }

    @Test
    void intCtlMasksMatchSvmH() {
        // svm.h: V_TPR_MASK 0x0f, V_IRQ_SHIFT 8, V_GIF_SHIFT 9, V_INTR_PRIO_SHIFT 16 (mask 0x0f << 16),
        // V_IGN_TPR_SHIFT 20, V_INTR_MASKING_SHIFT 24, V_GIF_ENABLE_SHIFT 25, AVIC_ENABLE_SHIFT 31;
        // X2APIC_MODE_SHIFT 30 arrived with x2AVIC (Linux 6.0).
        assertThat(V_TPR_MASK).isEqualTo(0x0000000F);
        assertThat(V_IRQ_MASK).isEqualTo(0x00000100);
        assertThat(V_GIF_MASK).isEqualTo(0x00000200);
        assertThat(V_INTR_PRIO_MASK).isEqualTo(0x000F0000);
        assertThat(V_IGN_TPR_MASK).isEqualTo(0x00100000);
        assertThat(V_INTR_MASKING_MASK).isEqualTo(0x01000000);
        assertThat(V_GIF_ENABLE_MASK).isEqualTo(0x02000000);
        assertThat(X2APIC_MODE_MASK).isEqualTo(0x40000000);
        assertThat(AVIC_ENABLE_MASK).isEqualTo(0x80000000);
        assertThat(V_INTR_VECTOR_MASK).isEqualTo(0xFF);
        // The fields do not overlap.
        int[] masks = {V_TPR_MASK, V_IRQ_MASK, V_GIF_MASK, V_INTR_PRIO_MASK, V_IGN_TPR_MASK, V_INTR_MASKING_MASK,
                V_GIF_ENABLE_MASK, X2APIC_MODE_MASK, AVIC_ENABLE_MASK};
        int seen = 0;
        for (int m : masks) {
            assertThat(seen & m).as("int_ctl mask 0x%08x overlaps another", m).isZero();
            seen |= m;
        }
    }

    @Test
    void eventInjectionFormatMatchesSvmH() {
        // SVM_EVTINJ_VEC_MASK 0xff, TYPE in 10:8 (INTR 0, NMI 2, EXEPT 3, SOFT 4), VALID_ERR bit 11, VALID bit 31.
        assertThat(EVTINJ_VEC_MASK).isEqualTo(0xFF);
        assertThat(EVTINJ_TYPE_SHIFT).isEqualTo(8);
        assertThat(EVTINJ_TYPE_MASK).isEqualTo(0x700);
        assertThat(EVTINJ_TYPE_INTR).isEqualTo(0x000);
        assertThat(EVTINJ_TYPE_NMI).isEqualTo(0x200);
        assertThat(EVTINJ_TYPE_EXEPT).isEqualTo(0x300);
        assertThat(EVTINJ_TYPE_SOFT).isEqualTo(0x400);
        assertThat(EVTINJ_VALID_ERR).isEqualTo(0x800);
        assertThat(EVTINJ_VALID).isEqualTo(0x80000000);
        // What KVM writes for #GP(0) (kvm_inject_gp -> svm_queue_exception) and for an external interrupt.
        int gp = 13 | EVTINJ_TYPE_EXEPT | EVTINJ_VALID | EVTINJ_VALID_ERR;
        assertThat(gp).isEqualTo(0x80000B0D);
        int intr = 0x41 | EVTINJ_TYPE_INTR | EVTINJ_VALID;
        assertThat(intr & EVTINJ_VEC_MASK).isEqualTo(0x41);
        assertThat(intr & EVTINJ_TYPE_MASK).isEqualTo(EVTINJ_TYPE_INTR);
        assertThat(intr).isEqualTo(0x80000041);
    }

    @Test
    void interceptBitsMatchSvmH() {
        // enum { INTERCEPT_INTR, INTERCEPT_NMI, ... } counts bits of the u64 at 0x00C: misc1 = bits 0-31,
        // misc2 = bits 32-63 (INTERCEPT_VMRUN = 32, INTERCEPT_VMMCALL = 33).
        assertThat(INTERCEPT_INTR).isEqualTo(0);
        assertThat(INTERCEPT_NMI).isEqualTo(1);
        assertThat(INTERCEPT_SMI).isEqualTo(2);
        assertThat(INTERCEPT_INIT).isEqualTo(3);
        assertThat(INTERCEPT_VINTR).isEqualTo(4);
        assertThat(INTERCEPT_CPUID).isEqualTo(18);
        assertThat(INTERCEPT_IRET).isEqualTo(20);
        assertThat(INTERCEPT_PAUSE).isEqualTo(23);
        assertThat(INTERCEPT_HLT).isEqualTo(24);
        assertThat(INTERCEPT_IOIO_PROT).isEqualTo(27);
        assertThat(INTERCEPT_MSR_PROT).isEqualTo(28);
        assertThat(32 + INTERCEPT_VMRUN).isEqualTo(32);
        assertThat(32 + INTERCEPT_VMMCALL).isEqualTo(33);
        assertThat(INTERCEPT_CR8_WRITE).isEqualTo(16 + 8); // svm.h INTERCEPT_CR8_WRITE (16 + 8)
    }

    @Test
    void avicPointerMasksMatchSvm2016() {
        // svm.c (2016): AVIC_HPA_MASK ~((0xFFFULL << 52) | 0xFFF); VMCB_AVIC_APIC_BAR_MASK 0xFFFFFFFFFF000ULL;
        // AVIC_PHYSICAL_ID_TABLE_SIZE_MASK 0xFF.
        assertThat(AVIC_HPA_MASK).isEqualTo(0x000FFFFFFFFFF000L);
        assertThat(AVIC_VAPIC_BAR_MASK).isEqualTo(0x000FFFFFFFFFF000L);
        assertThat(AVIC_PHYSICAL_MAX_INDEX_MASK).isEqualTo(0xFFL);
        assertThat(RFLAGS_IF).isEqualTo(0x200L);
    }

    // ---- Vmcb on a PhysicalMemory ------------------------------------------------------------------

    private static final long VMCB_PA = 0x3000;

    @Test
    void vmcbFieldsLandAtTheirOffsetsInMemory() {
        PhysicalMemory mem = new PhysicalMemory(1 << 16);
        Vmcb v = new Vmcb(mem, VMCB_PA);
        v.write64(EXIT_INFO_1, 0x0100000000004041L);
        v.write64(EXIT_INFO_2, 0x0000000100000001L);
        v.write64(AVIC_BACKING_PAGE, 0x12345000L);
        v.write64(AVIC_PHYSICAL_ID, 0x23456000L | 0xFF);
        v.setRip(0xFFFFFFFF81000009L);
        v.setRax(0xDEADBEEFL);
        assertThat(mem.read64(VMCB_PA + 0x078)).isEqualTo(0x0100000000004041L);
        assertThat(mem.read32(VMCB_PA + 0x078)).isEqualTo(0x00004041);    // ICR low: low half
        assertThat(mem.read32(VMCB_PA + 0x07C)).isEqualTo(0x01000000);    // ICR high: high half
        assertThat(mem.read32(VMCB_PA + 0x084)).isEqualTo(1);             // cause in EXITINFO2 63:32
        assertThat(mem.read64(VMCB_PA + 0x0E0)).isEqualTo(0x12345000L);
        assertThat(mem.read64(VMCB_PA + 0x0F8) & AVIC_PHYSICAL_MAX_INDEX_MASK).isEqualTo(0xFF);
        assertThat(mem.read64(VMCB_PA + 0x578)).isEqualTo(0xFFFFFFFF81000009L);
        assertThat(mem.read64(VMCB_PA + 0x5F8)).isEqualTo(0xDEADBEEFL);
        // ...and memory written directly is what the Vmcb reads.
        mem.write32(VMCB_PA + 0x060, AVIC_ENABLE_MASK | V_INTR_MASKING_MASK | 0x7);
        assertThat(v.isAvicEnabled()).isTrue();
        assertThat(v.vTpr()).isEqualTo(7);
    }

    @Test
    void bytesFlagsAndInterceptsThroughTheVmcb() {
        PhysicalMemory mem = new PhysicalMemory(1 << 16);
        Vmcb v = new Vmcb(mem, VMCB_PA);
        v.write8(INSN_LEN, 9);
        v.write8(INSN_BYTES, 0xA3);
        v.write8(INSN_BYTES + 1, 0xF0);
        assertThat(v.read8(INSN_LEN)).isEqualTo(9);
        assertThat(mem.read32(VMCB_PA + 0x0D0)).isEqualTo(0x0000F0A3 << 8 | 9);
        assertThat(v.read8(0x0D3)).isZero();

        v.setRflags(RFLAGS_IF);
        assertThat(v.rflags()).isEqualTo(RFLAGS_IF | RFLAGS_FIXED);
        assertThat(v.interruptsEnabled()).isTrue();

        v.setIntercept(INTERCEPT_MISC1, INTERCEPT_HLT);
        v.setIntercept(INTERCEPT_CR, INTERCEPT_CR8_WRITE);
        assertThat(mem.read32(VMCB_PA + 0x00C)).isEqualTo(1 << 24);
        assertThat(mem.read32(VMCB_PA + 0x000)).isEqualTo(1 << 24); // CR8 write: bit 8 of the u16 at 0x002
        assertThat(v.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_HLT)).isTrue();
        v.clearIntercept(INTERCEPT_MISC1, INTERCEPT_HLT);
        assertThat(v.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_HLT)).isFalse();

        v.setIntCtl(V_INTR_MASKING_MASK | AVIC_ENABLE_MASK);
        v.updateIntCtl(V_IRQ_MASK | V_INTR_PRIO_MASK | V_IGN_TPR_MASK,
                V_IRQ_MASK | (0xF << V_INTR_PRIO_SHIFT) | V_IGN_TPR_MASK);
        assertThat(v.intCtl()).isEqualTo(0x811F0100);
    }

    @Test
    void vmcbMustBePageAligned() {
        PhysicalMemory mem = new PhysicalMemory(1 << 16);
        assertThatThrownBy(() -> new Vmcb(mem, VMCB_PA + 8)).isInstanceOf(IllegalArgumentException.class);
    }
}
