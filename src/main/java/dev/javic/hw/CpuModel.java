package dev.javic.hw;

/**
 * The processor model: identification and the CPUID leaves host software sees when it executes
 * CPUID in host mode (guests see what their hypervisor chooses, since KVM intercepts CPUID).
 *
 * <p>Default: AMD family 15h model 60h (Carrizo), the series' machine. Leaf values follow the AMD
 * CPUID specification (pub. 25481) and the APM vol. 2 §15.37 for Fn8000_000A.
 */
public record CpuModel(String name, int family, int model, int stepping, boolean avic, boolean x2apic,
                       int asids) {

    /** AMD A10-8700P class part, family 15h model 60h; AVIC present, no x2APIC (that came with Zen). */
    public static CpuModel carrizo() {
        return new CpuModel("AMD family 15h model 60h (Carrizo)", 0x15, 0x60, 1, true, false, 0x8000);
    }

    /** The same part without AVIC, for "the CPU lacks it" configurations. */
    public CpuModel withoutAvic() {
        return new CpuModel(name + " without AVIC", family, model, stepping, false, x2apic, asids);
    }

    // Fn8000_000A EDX feature bits (APM vol. 2, CPUID Fn8000_000A; Linux cpufeatures.h word 15).
    public static final int SVM_FEATURE_NP = 1;
    public static final int SVM_FEATURE_NRIPS = 1 << 3;
    public static final int SVM_FEATURE_VMCB_CLEAN = 1 << 5;
    public static final int SVM_FEATURE_DECODE_ASSISTS = 1 << 7;
    public static final int SVM_FEATURE_PAUSE_FILTER = 1 << 10;
    public static final int SVM_FEATURE_AVIC = 1 << 13;
    public static final int SVM_FEATURE_X2AVIC = 1 << 18;
    /** Fn0000_0001 ECX bit 21: x2APIC. */
    public static final int CPUID1_ECX_X2APIC = 1 << 21;
    /** Fn0000_0001 ECX bit 24: TSC-deadline timer. */
    public static final int CPUID1_ECX_TSC_DEADLINE = 1 << 24;
    /** Fn0000_0001 EDX bit 9: on-chip APIC. */
    public static final int CPUID1_EDX_APIC = 1 << 9;
    /** Fn8000_0001 ECX bit 2: SVM. */
    public static final int CPUID_EXT_ECX_SVM = 1 << 2;

    /** Fn0000_0001 EAX: extended family/model in bits 27:20 / 19:16, base family 0xF. */
    public int signature() {
        int baseFamily = Math.min(family, 0xF);
        int extFamily = family - baseFamily;
        return (extFamily << 20) | ((model >> 4) << 16) | (baseFamily << 8) | ((model & 0xF) << 4) | stepping;
    }

    /**
     * Executes CPUID for host software on the core whose initial APIC ID is {@code apicId}; writes
     * EAX, EBX, ECX, EDX into {@code out}.
     */
    public void cpuid(int leaf, int subleaf, int apicId, int[] out) {
        int a = 0, b = 0, c = 0, d = 0;
        switch (leaf) {
            case 0x0 -> { a = 0xD; b = 0x68747541; d = 0x69746E65; c = 0x444D4163; } // "AuthenticAMD"
            case 0x1 -> {
                a = signature();
                b = (apicId << 24) | (4 << 16) | (8 << 8); // initial APIC ID, 4 logical CPUs, CLFLUSH 64 B
                c = (x2apic ? CPUID1_ECX_X2APIC : 0);
                d = CPUID1_EDX_APIC;
            }
            case 0x80000000 -> a = 0x8000001E;
            case 0x80000001 -> { a = signature(); c = CPUID_EXT_ECX_SVM; }
            case 0x8000000A -> {
                a = 1; // SVM revision
                b = asids;
                d = SVM_FEATURE_NP | SVM_FEATURE_NRIPS | SVM_FEATURE_VMCB_CLEAN | SVM_FEATURE_DECODE_ASSISTS
                        | SVM_FEATURE_PAUSE_FILTER | (avic ? SVM_FEATURE_AVIC : 0);
            }
            default -> { }
        }
        out[0] = a;
        out[1] = b;
        out[2] = c;
        out[3] = d;
    }
}
