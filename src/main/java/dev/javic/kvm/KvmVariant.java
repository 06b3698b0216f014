package dev.javic.kvm;

/**
 * Which hypervisor code base runs: KVM as it was before the AVIC series, or with the series applied.
 * The difference with {@code avic=0} is only in code paths: the series adds VM init / uninit hooks and
 * vCPU blocking / unblocking hooks (which do nothing without AVIC) and splits
 * {@code kvm_vcpu_wake_up} out of {@code kvm_vcpu_kick}.
 */
public enum KvmVariant {
    /** Before the series: no VM init/uninit hooks, no vCPU blocking hooks, kick and wake-up in one. */
    VANILLA,
    /** With the series' hooks; AVIC itself then depends on the {@code avic} parameter and the CPU. */
    AVIC_SERIES
}
