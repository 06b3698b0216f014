package dev.javic.kvm;

import dev.javic.hw.CpuModel;

import static dev.javic.hw.KvmPara.KVM_CPUID_FEATURES;
import static dev.javic.hw.KvmPara.KVM_CPUID_SIGNATURE;
import static dev.javic.hw.KvmPara.KVM_FEATURE_PV_EOI;
import static dev.javic.hw.KvmPara.KVM_SIGNATURE_EBX;
import static dev.javic.hw.KvmPara.KVM_SIGNATURE_ECX;
import static dev.javic.hw.KvmPara.KVM_SIGNATURE_EDX;

/**
 * The CPUID a guest sees, as KVM builds it ({@code kvm_set_cpuid2} from the VMM's table, filtered by
 * {@code kvm_update_cpuid}): the host's identification, an APIC, the TSC-deadline timer and x2APIC
 * that KVM emulates, and the KVM leaves: the signature at 0x40000000 and the paravirtual features at
 * 0x40000001. With AVIC active x2APIC is hidden (series item 9: AVIC of 2016 virtualizes xAPIC only; svm.c
 * clears X86_FEATURE_X2APIC from the guest CPUID); the KVM leaves are the same on every system.
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
            case KVM_CPUID_SIGNATURE -> {
                out[0] = KVM_CPUID_FEATURES; // cpuid.c: EAX = the highest KVM leaf
                out[1] = KVM_SIGNATURE_EBX;
                out[2] = KVM_SIGNATURE_ECX;
                out[3] = KVM_SIGNATURE_EDX;
            }
            // cpuid.c of 4.5 offers CLOCKSOURCE(2), NOP_IO_DELAY, ASYNC_PF, PV_EOI, CLOCKSOURCE_STABLE_BIT,
            // PV_UNHALT and STEAL_TIME; javic's KVM implements only PV EOI, so its table offers only that
            // (as a VMM that filters the leaf would), and a guest never finds an MSR that is not there.
            case KVM_CPUID_FEATURES -> out[0] = KVM_FEATURE_PV_EOI;
            case 0x80000000 -> out[0] = 0x80000008;
            case 0x80000001 -> out[0] = cpu.signature(); // SVM not offered to the guest (no nested)
            default -> {
                return false;
            }
        }
        return true;
    }
}
