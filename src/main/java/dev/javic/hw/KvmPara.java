package dev.javic.hw;

/**
 * KVM's paravirtual interface as a guest sees it (arch/x86/include/uapi/asm/kvm_para.h and
 * Documentation/virtual/kvm/msr.txt of 4.5): the CPUID leaves that announce KVM and its features, and the
 * MSRs that enable them. Like the uapi header, which the guest kernel and KVM both include, it is the one
 * place both sides of the contract read: the guest kernel model ({@code GuestApic}) and the hypervisor
 * ({@code GuestCpuid}, the MSR handlers, the local APIC's PV EOI).
 */
public final class KvmPara {
    private KvmPara() {
    }

    /** KVM_CPUID_SIGNATURE: EAX = the highest KVM leaf, EBX..EDX = "KVMKVMKVM\0\0\0". */
    public static final int KVM_CPUID_SIGNATURE = 0x40000000;
    /** KVM_CPUID_FEATURES: EAX holds one bit per paravirtual feature. */
    public static final int KVM_CPUID_FEATURES = 0x40000001;
    public static final int KVM_SIGNATURE_EBX = 0x4B4D564B; // "KVMK"
    public static final int KVM_SIGNATURE_ECX = 0x564B4D56; // "VMKV"
    public static final int KVM_SIGNATURE_EDX = 0x0000004D; // "M"

    /** KVM_FEATURE_PV_EOI: bit 6 of KVM_CPUID_FEATURES.EAX. */
    public static final int KVM_FEATURE_PV_EOI = 1 << 6;
    /** MSR_KVM_PV_EOI_EN: the EOI word's guest-physical address | KVM_MSR_ENABLED. */
    public static final int MSR_KVM_PV_EOI_EN = 0x4b564d04;
    /** KVM_MSR_ENABLED: bit 0 of the paravirtual MSRs. */
    public static final long KVM_MSR_ENABLED = 1;
    /** KVM_PV_EOI_BIT: KVM sets bit 0 of the guest's word when the guest may skip the APIC EOI. */
    public static final int KVM_PV_EOI_BIT = 0;
    /** KVM_PV_EOI_ENABLED: the word's value with KVM_PV_EOI_BIT set. */
    public static final int KVM_PV_EOI_ENABLED = 1 << KVM_PV_EOI_BIT;
}
