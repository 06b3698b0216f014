package dev.javic.kvm;

import dev.javic.hw.CpuModel;

/**
 * The CPUID a guest sees, as KVM builds it ({@code kvm_set_cpuid2} from the VMM's table, filtered by
 * {@code kvm_update_cpuid}): the host's identification, an APIC, the TSC-deadline timer and x2APIC
 * that KVM emulates, and the KVM signature leaf. With AVIC active x2APIC is hidden (series item 9: AVIC
 * of 2016 virtualizes xAPIC only; svm.c clears X86_FEATURE_X2APIC from the guest CPUID).
 */
public final class GuestCpuid {
    private GuestCpuid() {
    }

    /** Fills {@code out} with EAX..EDX of {@code leaf}; returns false when the leaf is not in the table. */
    public static boolean lookup(CpuModel cpu, int leaf, int subleaf, int apicId, boolean hideX2apic, int[] out) {
        out[0] = out[1] = out[2] = out[3] = 0;
        switch (leaf) {
            case 0x0 -> {
                out[0] = 0xD;
                out[1] = 0x68747541; // "Auth"
                out[3] = 0x69746E65; // "enti"
                out[2] = 0x444D4163; // "cAMD"
            }
            case 0x1 -> {
                out[0] = cpu.signature();
                out[1] = (apicId << 24) | (8 << 8);
                out[2] = CpuModel.CPUID1_ECX_TSC_DEADLINE | (hideX2apic ? 0 : CpuModel.CPUID1_ECX_X2APIC);
                out[3] = CpuModel.CPUID1_EDX_APIC;
            }
            case 0x40000000 -> {
                out[0] = 0x40000001;
                out[1] = 0x4B4D564B; // "KVMK"
                out[2] = 0x564B4D56; // "VMKV"
                out[3] = 0x0000004D; // "M"
            }
            case 0x40000001 -> { } // no paravirtual features offered
            case 0x80000000 -> out[0] = 0x80000008;
            case 0x80000001 -> out[0] = cpu.signature(); // SVM not offered to the guest (no nested)
            default -> {
                return false;
            }
        }
        return true;
    }
}
