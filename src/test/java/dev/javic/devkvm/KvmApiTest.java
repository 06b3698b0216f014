package dev.javic.devkvm;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every ioctl number against linux/kvm.h, computed by hand from asm-generic/ioctl.h:
 * _IOC(dir, type, nr, size) = dir << 30 | size << 16 | type << 8 | nr, with _IOC_NONE 0, _IOC_WRITE 1,
 * _IOC_READ 2, KVMIO 0xAE. Sizes from arch/x86/include/uapi/asm/kvm.h and include/uapi/linux/kvm.h
 * (x86-64): kvm_regs 18 * 8 = 144 (0x90), kvm_sregs 8 * 24 + 2 * 16 + 7 * 8 + 4 * 8 = 312 (0x138),
 * kvm_userspace_memory_region 32 (0x20), kvm_interrupt 4, kvm_cpuid2 8 (header; entries[] is flexible),
 * kvm_enable_cap 4 + 4 + 32 + 64 = 104 (0x68), kvm_msr_filter 4 + 4 (pad) + 16 * 24 = 392 (0x188),
 * kvm_signal_mask 4. (The same values come out of gcc with Linux 6.1's UAPI headers.)
 */
class KvmApiTest {
    @Test
    void ioctlNumbersAreThoseOfLinuxKvmH() {
        // _IO(KVMIO, nr) = 0xAE00 | nr
        assertThat(KvmApi.KVM_GET_API_VERSION).isEqualTo(0xAE00L);
        assertThat(KvmApi.KVM_CREATE_VM).isEqualTo(0xAE01L);
        assertThat(KvmApi.KVM_CHECK_EXTENSION).isEqualTo(0xAE03L);
        assertThat(KvmApi.KVM_GET_VCPU_MMAP_SIZE).isEqualTo(0xAE04L);
        assertThat(KvmApi.KVM_CREATE_VCPU).isEqualTo(0xAE41L);
        assertThat(KvmApi.KVM_RUN).isEqualTo(0xAE80L);
        assertThat(KvmApi.KVM_NMI).isEqualTo(0xAE9AL);
        // _IOWR(KVMIO, 0x05, struct kvm_cpuid2): 3 << 30 | 8 << 16 | 0xAE05
        assertThat(KvmApi.KVM_GET_SUPPORTED_CPUID).isEqualTo(0xC008AE05L);
        // _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region): 1 << 30 | 0x20 << 16 | 0xAE46
        assertThat(KvmApi.KVM_SET_USER_MEMORY_REGION).isEqualTo(0x4020AE46L);
        // _IOR / _IOW(KVMIO, 0x81 / 0x82, struct kvm_regs): size 0x90
        assertThat(KvmApi.KVM_GET_REGS).isEqualTo(0x8090AE81L);
        assertThat(KvmApi.KVM_SET_REGS).isEqualTo(0x4090AE82L);
        // _IOR / _IOW(KVMIO, 0x83 / 0x84, struct kvm_sregs): size 0x138
        assertThat(KvmApi.KVM_GET_SREGS).isEqualTo(0x8138AE83L);
        assertThat(KvmApi.KVM_SET_SREGS).isEqualTo(0x4138AE84L);
        // _IOW(KVMIO, 0x86, struct kvm_interrupt): size 4
        assertThat(KvmApi.KVM_INTERRUPT).isEqualTo(0x4004AE86L);
        // _IOW(KVMIO, 0x8b, struct kvm_signal_mask): size 4
        assertThat(KvmApi.KVM_SET_SIGNAL_MASK).isEqualTo(0x4004AE8BL);
        // _IOW(KVMIO, 0x90, struct kvm_cpuid2): size 8
        assertThat(KvmApi.KVM_SET_CPUID2).isEqualTo(0x4008AE90L);
        // _IOW(KVMIO, 0xa3, struct kvm_enable_cap): size 0x68
        assertThat(KvmApi.KVM_ENABLE_CAP).isEqualTo(0x4068AEA3L);
        // _IOWR(KVMIO, 0x88, struct kvm_msrs): size 8
        assertThat(KvmApi.KVM_GET_MSRS).isEqualTo(0xC008AE88L);
        // _IO(KVMIO, 0xa3)
        assertThat(KvmApi.KVM_GET_TSC_KHZ).isEqualTo(0xAEA3L);
        // _IOW(KVMIO, 0xc6, struct kvm_msr_filter): size 0x188
        assertThat(KvmApi.KVM_X86_SET_MSR_FILTER).isEqualTo(0x4188AEC6L);
    }

    @Test
    void sigsetHasTheSignalsBitAsLibcAndTheKernelNumberIt() {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var set = KvmApi.sigset(arena, KvmApi.KERNEL_SIGSET_BYTES, KvmApi.SIG_KICK);
            // SIGUSR1 = 10 -> bit 9 -> byte 1, bit 1
            assertThat(set.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0)).isEqualTo(1L << 9);
        }
    }

    @Test
    void aMissingDeviceIsNamedWithWhatToDo() {
        String reason = KvmApi.unavailableReason("/dev/no-such-kvm");
        assertThat(reason).contains("/dev/no-such-kvm").contains("does not exist").contains("kvm_amd");
    }
}
