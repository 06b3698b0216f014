package dev.javic.devkvm;

import org.junit.jupiter.api.Test;

import static dev.javic.devkvm.KvmStructs.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every field's offset and size against the UAPI headers for x86-64: include/uapi/linux/kvm.h (struct kvm_run,
 * kvm_userspace_memory_region, kvm_interrupt, kvm_enable_cap) and arch/x86/include/uapi/asm/kvm.h (kvm_regs,
 * kvm_segment, kvm_dtable, kvm_sregs, kvm_cpuid_entry2, kvm_cpuid2, kvm_msr_filter[_range]). The expected
 * values follow the C layout rules by hand (each field at the next multiple of its alignment) and agree with
 * offsetof / sizeof from gcc on Linux 6.1's headers.
 */
class KvmStructsTest {
    private static void field(java.lang.foreign.GroupLayout l, long offset, long size, String... path) {
        assertThat(KvmStructs.offset(l, path)).as("offset of %s", String.join(".", path)).isEqualTo(offset);
        assertThat(KvmStructs.size(l, path)).as("size of %s", String.join(".", path)).isEqualTo(size);
    }

    @Test
    void kvmRun() {
        assertThat(KVM_RUN.byteSize()).isEqualTo(2352);
        field(KVM_RUN, 0, 1, "request_interrupt_window");
        field(KVM_RUN, 1, 1, "immediate_exit");
        field(KVM_RUN, 8, 4, "exit_reason");               // after __u8 padding1[6]
        field(KVM_RUN, 12, 1, "ready_for_interrupt_injection");
        field(KVM_RUN, 13, 1, "if_flag");
        field(KVM_RUN, 14, 2, "flags");
        field(KVM_RUN, 16, 8, "cr8");
        field(KVM_RUN, 24, 8, "apic_base");
        field(KVM_RUN, 32, 256, "exit");                   // the exit union: char padding[256]
        field(KVM_RUN, 32, 8, "exit", "hardware_exit_reason");
        field(KVM_RUN, 32, 8, "exit", "fail_entry", "hardware_entry_failure_reason");
        field(KVM_RUN, 40, 4, "exit", "fail_entry", "cpu");
        field(KVM_RUN, 32, 16, "exit", "io");
        field(KVM_RUN, 32, 1, "exit", "io", "direction");
        field(KVM_RUN, 33, 1, "exit", "io", "size");
        field(KVM_RUN, 34, 2, "exit", "io", "port");
        field(KVM_RUN, 36, 4, "exit", "io", "count");
        field(KVM_RUN, 40, 8, "exit", "io", "data_offset");
        field(KVM_RUN, 32, 24, "exit", "mmio");
        field(KVM_RUN, 32, 8, "exit", "mmio", "phys_addr");
        field(KVM_RUN, 40, 8, "exit", "mmio", "data");
        field(KVM_RUN, 48, 4, "exit", "mmio", "len");
        field(KVM_RUN, 52, 1, "exit", "mmio", "is_write");
        field(KVM_RUN, 32, 4, "exit", "internal", "suberror");
        field(KVM_RUN, 36, 4, "exit", "internal", "ndata");
        field(KVM_RUN, 40, 128, "exit", "internal", "data");
        field(KVM_RUN, 32, 1, "exit", "msr", "error");
        field(KVM_RUN, 40, 4, "exit", "msr", "reason");
        field(KVM_RUN, 44, 4, "exit", "msr", "index");
        field(KVM_RUN, 48, 8, "exit", "msr", "data");
        field(KVM_RUN, 288, 8, "kvm_valid_regs");
        field(KVM_RUN, 296, 8, "kvm_dirty_regs");
        field(KVM_RUN, 304, 2048, "s");
    }

    @Test
    void kvmRegs() {
        assertThat(KVM_REGS.byteSize()).isEqualTo(144);
        String[] names = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11",
                "r12", "r13", "r14", "r15", "rip", "rflags"};
        for (int i = 0; i < names.length; i++) {
            field(KVM_REGS, 8L * i, 8, names[i]);
        }
    }

    @Test
    void kvmSegmentDtableSregs() {
        assertThat(KVM_SEGMENT.byteSize()).isEqualTo(24);
        field(KVM_SEGMENT, 0, 8, "base");
        field(KVM_SEGMENT, 8, 4, "limit");
        field(KVM_SEGMENT, 12, 2, "selector");
        String[] bytes = {"type", "present", "dpl", "db", "s", "l", "g", "avl", "unusable", "padding"};
        for (int i = 0; i < bytes.length; i++) {
            field(KVM_SEGMENT, 14 + i, 1, bytes[i]);
        }
        assertThat(KVM_DTABLE.byteSize()).isEqualTo(16);
        field(KVM_DTABLE, 0, 8, "base");
        field(KVM_DTABLE, 8, 2, "limit");
        field(KVM_DTABLE, 10, 6, "padding");
        assertThat(KVM_SREGS.byteSize()).isEqualTo(312);
        String[] segs = {"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"};
        for (int i = 0; i < segs.length; i++) {
            field(KVM_SREGS, 24L * i, 24, segs[i]);
        }
        field(KVM_SREGS, 192, 16, "gdt");
        field(KVM_SREGS, 208, 16, "idt");
        String[] regs = {"cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base"};
        for (int i = 0; i < regs.length; i++) {
            field(KVM_SREGS, 224 + 8L * i, 8, regs[i]);
        }
        field(KVM_SREGS, 280, 32, "interrupt_bitmap"); // (KVM_NR_INTERRUPTS + 63) / 64 = 4 longs
    }

    @Test
    void memoryRegionInterruptCpuidCapFilter() {
        assertThat(KVM_USERSPACE_MEMORY_REGION.byteSize()).isEqualTo(32);
        field(KVM_USERSPACE_MEMORY_REGION, 0, 4, "slot");
        field(KVM_USERSPACE_MEMORY_REGION, 4, 4, "flags");
        field(KVM_USERSPACE_MEMORY_REGION, 8, 8, "guest_phys_addr");
        field(KVM_USERSPACE_MEMORY_REGION, 16, 8, "memory_size");
        field(KVM_USERSPACE_MEMORY_REGION, 24, 8, "userspace_addr");

        assertThat(KvmStructs.KVM_INTERRUPT.byteSize()).isEqualTo(4);
        field(KvmStructs.KVM_INTERRUPT, 0, 4, "irq");

        assertThat(KVM_CPUID_ENTRY2.byteSize()).isEqualTo(40);
        String[] cpuid = {"function", "index", "flags", "eax", "ebx", "ecx", "edx"};
        for (int i = 0; i < cpuid.length; i++) {
            field(KVM_CPUID_ENTRY2, 4L * i, 4, cpuid[i]);
        }
        field(KVM_CPUID_ENTRY2, 28, 12, "padding");
        assertThat(KVM_CPUID2.byteSize()).isEqualTo(8); // entries[] starts at 8
        field(KVM_CPUID2, 0, 4, "nent");
        field(KVM_CPUID2, 4, 4, "padding");

        assertThat(KVM_ENABLE_CAP.byteSize()).isEqualTo(104);
        field(KVM_ENABLE_CAP, 0, 4, "cap");
        field(KVM_ENABLE_CAP, 4, 4, "flags");
        field(KVM_ENABLE_CAP, 8, 32, "args");
        field(KVM_ENABLE_CAP, 40, 64, "pad");

        assertThat(KVM_MSR_ENTRY.byteSize()).isEqualTo(16);
        field(KVM_MSR_ENTRY, 0, 4, "index");
        field(KVM_MSR_ENTRY, 4, 4, "reserved");
        field(KVM_MSR_ENTRY, 8, 8, "data");
        assertThat(KVM_MSRS.byteSize()).isEqualTo(8);
        field(KVM_MSRS, 0, 4, "nmsrs");
        field(KVM_MSRS, 4, 4, "pad");
        assertThat(KVM_MSR_FILTER_RANGE.byteSize()).isEqualTo(24);
        field(KVM_MSR_FILTER_RANGE, 0, 4, "flags");
        field(KVM_MSR_FILTER_RANGE, 4, 4, "nmsrs");
        field(KVM_MSR_FILTER_RANGE, 8, 4, "base");
        field(KVM_MSR_FILTER_RANGE, 16, 8, "bitmap");
        assertThat(KVM_MSR_FILTER.byteSize()).isEqualTo(392);
        field(KVM_MSR_FILTER, 0, 4, "flags");
        field(KVM_MSR_FILTER, 8, 384, "ranges");
    }
}
