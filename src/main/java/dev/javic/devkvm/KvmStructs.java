package dev.javic.devkvm;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The KVM structures javic exchanges with the kernel, laid out exactly as the UAPI headers declare them for
 * x86-64: {@code include/uapi/linux/kvm.h} (kvm_run, kvm_userspace_memory_region, kvm_interrupt,
 * kvm_signal_mask, kvm_enable_cap) and {@code arch/x86/include/uapi/asm/kvm.h} (kvm_regs, kvm_segment,
 * kvm_dtable, kvm_sregs, kvm_cpuid_entry2, kvm_cpuid2, kvm_msr_filter_range, kvm_msr_filter). The padding C
 * inserts is written out as named padding, so the offsets are those of the C compiler;
 * {@code KvmStructsTest} checks every field's offset and size against the header (as {@code offsetof} and
 * {@code sizeof} give them for Linux 6.1's UAPI).
 */
public final class KvmStructs {
    private KvmStructs() {
    }

    private static MemoryLayout pad(long bytes, String name) {
        return MemoryLayout.paddingLayout(bytes).withName(name);
    }

    // ---- struct kvm_run (linux/kvm.h), mmap'ed from the vCPU fd ----

    /** KVM_EXIT_IO: {@code __u8 direction; __u8 size; __u16 port; __u32 count; __u64 data_offset}. */
    public static final StructLayout KVM_RUN_IO = MemoryLayout.structLayout(
            JAVA_BYTE.withName("direction"), JAVA_BYTE.withName("size"), JAVA_SHORT.withName("port"),
            JAVA_INT.withName("count"), JAVA_LONG.withName("data_offset"));

    /** KVM_EXIT_MMIO: {@code __u64 phys_addr; __u8 data[8]; __u32 len; __u8 is_write} (+3 bytes tail padding). */
    public static final StructLayout KVM_RUN_MMIO = MemoryLayout.structLayout(
            JAVA_LONG.withName("phys_addr"), MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("data"),
            JAVA_INT.withName("len"), JAVA_BYTE.withName("is_write"), pad(3, "pad"));

    /** KVM_EXIT_X86_RDMSR / WRMSR: {@code __u8 error; __u8 pad[7]; __u32 reason; __u32 index; __u64 data}. */
    public static final StructLayout KVM_RUN_MSR = MemoryLayout.structLayout(
            JAVA_BYTE.withName("error"), pad(7, "pad"), JAVA_INT.withName("reason"), JAVA_INT.withName("index"),
            JAVA_LONG.withName("data"));

    /** KVM_EXIT_FAIL_ENTRY: {@code __u64 hardware_entry_failure_reason; __u32 cpu} (+4 tail padding). */
    public static final StructLayout KVM_RUN_FAIL_ENTRY = MemoryLayout.structLayout(
            JAVA_LONG.withName("hardware_entry_failure_reason"), JAVA_INT.withName("cpu"), pad(4, "pad"));

    /** KVM_EXIT_INTERNAL_ERROR: {@code __u32 suberror; __u32 ndata; __u64 data[16]}. */
    public static final StructLayout KVM_RUN_INTERNAL = MemoryLayout.structLayout(
            JAVA_INT.withName("suberror"), JAVA_INT.withName("ndata"),
            MemoryLayout.sequenceLayout(16, JAVA_LONG).withName("data"));

    /** The exit union: 256 bytes ({@code char padding[256]} is its largest member). */
    public static final UnionLayout KVM_RUN_EXIT = MemoryLayout.unionLayout(
            JAVA_LONG.withName("hardware_exit_reason"), KVM_RUN_FAIL_ENTRY.withName("fail_entry"),
            KVM_RUN_IO.withName("io"), KVM_RUN_MMIO.withName("mmio"), KVM_RUN_INTERNAL.withName("internal"),
            KVM_RUN_MSR.withName("msr"), MemoryLayout.sequenceLayout(256, JAVA_BYTE).withName("padding"));

    public static final StructLayout KVM_RUN = MemoryLayout.structLayout(
            JAVA_BYTE.withName("request_interrupt_window"),
            JAVA_BYTE.withName("immediate_exit"),
            pad(6, "padding1"),
            JAVA_INT.withName("exit_reason"),
            JAVA_BYTE.withName("ready_for_interrupt_injection"),
            JAVA_BYTE.withName("if_flag"),
            JAVA_SHORT.withName("flags"),
            JAVA_LONG.withName("cr8"),
            JAVA_LONG.withName("apic_base"),
            KVM_RUN_EXIT.withName("exit"),
            JAVA_LONG.withName("kvm_valid_regs"),
            JAVA_LONG.withName("kvm_dirty_regs"),
            MemoryLayout.sequenceLayout(2048, JAVA_BYTE).withName("s"));

    // ---- struct kvm_regs (asm/kvm.h) ----
    public static final StructLayout KVM_REGS = MemoryLayout.structLayout(
            JAVA_LONG.withName("rax"), JAVA_LONG.withName("rbx"), JAVA_LONG.withName("rcx"), JAVA_LONG.withName("rdx"),
            JAVA_LONG.withName("rsi"), JAVA_LONG.withName("rdi"), JAVA_LONG.withName("rsp"), JAVA_LONG.withName("rbp"),
            JAVA_LONG.withName("r8"), JAVA_LONG.withName("r9"), JAVA_LONG.withName("r10"), JAVA_LONG.withName("r11"),
            JAVA_LONG.withName("r12"), JAVA_LONG.withName("r13"), JAVA_LONG.withName("r14"), JAVA_LONG.withName("r15"),
            JAVA_LONG.withName("rip"), JAVA_LONG.withName("rflags"));

    // ---- struct kvm_segment, kvm_dtable, kvm_sregs (asm/kvm.h) ----
    public static final StructLayout KVM_SEGMENT = MemoryLayout.structLayout(
            JAVA_LONG.withName("base"), JAVA_INT.withName("limit"), JAVA_SHORT.withName("selector"),
            JAVA_BYTE.withName("type"), JAVA_BYTE.withName("present"), JAVA_BYTE.withName("dpl"),
            JAVA_BYTE.withName("db"), JAVA_BYTE.withName("s"), JAVA_BYTE.withName("l"), JAVA_BYTE.withName("g"),
            JAVA_BYTE.withName("avl"), JAVA_BYTE.withName("unusable"), JAVA_BYTE.withName("padding"));

    public static final StructLayout KVM_DTABLE = MemoryLayout.structLayout(
            JAVA_LONG.withName("base"), JAVA_SHORT.withName("limit"),
            MemoryLayout.sequenceLayout(3, JAVA_SHORT).withName("padding"));

    /** KVM_NR_INTERRUPTS = 256: interrupt_bitmap is (256 + 63) / 64 = 4 longs. */
    public static final int KVM_NR_INTERRUPTS = 256;

    public static final StructLayout KVM_SREGS = MemoryLayout.structLayout(
            KVM_SEGMENT.withName("cs"), KVM_SEGMENT.withName("ds"), KVM_SEGMENT.withName("es"),
            KVM_SEGMENT.withName("fs"), KVM_SEGMENT.withName("gs"), KVM_SEGMENT.withName("ss"),
            KVM_SEGMENT.withName("tr"), KVM_SEGMENT.withName("ldt"),
            KVM_DTABLE.withName("gdt"), KVM_DTABLE.withName("idt"),
            JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"), JAVA_LONG.withName("cr4"),
            JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"), JAVA_LONG.withName("apic_base"),
            MemoryLayout.sequenceLayout((KVM_NR_INTERRUPTS + 63) / 64, JAVA_LONG).withName("interrupt_bitmap"));

    // ---- linux/kvm.h ----
    public static final StructLayout KVM_USERSPACE_MEMORY_REGION = MemoryLayout.structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("flags"), JAVA_LONG.withName("guest_phys_addr"),
            JAVA_LONG.withName("memory_size"), JAVA_LONG.withName("userspace_addr"));

    public static final StructLayout KVM_INTERRUPT = MemoryLayout.structLayout(JAVA_INT.withName("irq"));

    /** {@code struct kvm_signal_mask { __u32 len; __u8 sigset[]; }}: the ioctl size is the header's (4). */
    public static final StructLayout KVM_SIGNAL_MASK = MemoryLayout.structLayout(JAVA_INT.withName("len"));

    public static final StructLayout KVM_ENABLE_CAP = MemoryLayout.structLayout(
            JAVA_INT.withName("cap"), JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(4, JAVA_LONG).withName("args"),
            MemoryLayout.sequenceLayout(64, JAVA_BYTE).withName("pad"));

    // ---- asm/kvm.h CPUID ----
    public static final StructLayout KVM_CPUID_ENTRY2 = MemoryLayout.structLayout(
            JAVA_INT.withName("function"), JAVA_INT.withName("index"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("eax"), JAVA_INT.withName("ebx"), JAVA_INT.withName("ecx"), JAVA_INT.withName("edx"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("padding"));

    /** {@code struct kvm_cpuid2 { __u32 nent; __u32 padding; struct kvm_cpuid_entry2 entries[]; }}: 8-byte header. */
    public static final StructLayout KVM_CPUID2 = MemoryLayout.structLayout(
            JAVA_INT.withName("nent"), JAVA_INT.withName("padding"));

    // ---- asm/kvm.h KVM_GET_MSRS ----
    /** {@code struct kvm_msr_entry { __u32 index; __u32 reserved; __u64 data; }}. */
    public static final StructLayout KVM_MSR_ENTRY = MemoryLayout.structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("data"));

    /** {@code struct kvm_msrs { __u32 nmsrs; __u32 pad; struct kvm_msr_entry entries[]; }}: 8-byte header. */
    public static final StructLayout KVM_MSRS = MemoryLayout.structLayout(
            JAVA_INT.withName("nmsrs"), JAVA_INT.withName("pad"));

    // ---- asm/kvm.h MSR filter ----
    public static final int KVM_MSR_FILTER_MAX_RANGES = 16;

    public static final StructLayout KVM_MSR_FILTER_RANGE = MemoryLayout.structLayout(
            JAVA_INT.withName("flags"), JAVA_INT.withName("nmsrs"), JAVA_INT.withName("base"), pad(4, "pad"),
            ADDRESS.withName("bitmap"));

    public static final StructLayout KVM_MSR_FILTER = MemoryLayout.structLayout(
            JAVA_INT.withName("flags"), pad(4, "pad"),
            MemoryLayout.sequenceLayout(KVM_MSR_FILTER_MAX_RANGES, KVM_MSR_FILTER_RANGE).withName("ranges"));

    // =====================================================================================================
    // Accessors
    // =====================================================================================================

    /** Byte offset of a (possibly nested) field, e.g. {@code offset(KVM_RUN, "exit", "io", "port")}. */
    public static long offset(GroupLayout layout, String... path) {
        MemoryLayout.PathElement[] elements = new MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = groupElement(path[i]);
        }
        return layout.byteOffset(elements);
    }

    /** Size in bytes of a (possibly nested) field. */
    public static long size(GroupLayout layout, String... path) {
        MemoryLayout.PathElement[] elements = new MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = groupElement(path[i]);
        }
        return layout.select(elements).byteSize();
    }

    /** A VarHandle on a scalar field (coordinates: segment, base offset). */
    public static VarHandle handle(GroupLayout layout, String... path) {
        MemoryLayout.PathElement[] elements = new MemoryLayout.PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = groupElement(path[i]);
        }
        return layout.varHandle(elements);
    }

    // ---- struct kvm_run field offsets, for the run loop ----
    public static final long RUN_REQUEST_INTERRUPT_WINDOW = offset(KVM_RUN, "request_interrupt_window");
    public static final long RUN_IMMEDIATE_EXIT = offset(KVM_RUN, "immediate_exit");
    public static final long RUN_EXIT_REASON = offset(KVM_RUN, "exit_reason");
    public static final long RUN_READY_FOR_INTERRUPT_INJECTION = offset(KVM_RUN, "ready_for_interrupt_injection");
    public static final long RUN_IF_FLAG = offset(KVM_RUN, "if_flag");
    public static final long RUN_CR8 = offset(KVM_RUN, "cr8");
    public static final long RUN_APIC_BASE = offset(KVM_RUN, "apic_base");
    public static final long RUN_IO_DIRECTION = offset(KVM_RUN, "exit", "io", "direction");
    public static final long RUN_IO_SIZE = offset(KVM_RUN, "exit", "io", "size");
    public static final long RUN_IO_PORT = offset(KVM_RUN, "exit", "io", "port");
    public static final long RUN_IO_COUNT = offset(KVM_RUN, "exit", "io", "count");
    public static final long RUN_IO_DATA_OFFSET = offset(KVM_RUN, "exit", "io", "data_offset");
    public static final long RUN_MMIO_PHYS_ADDR = offset(KVM_RUN, "exit", "mmio", "phys_addr");
    public static final long RUN_MMIO_DATA = offset(KVM_RUN, "exit", "mmio", "data");
    public static final long RUN_MMIO_LEN = offset(KVM_RUN, "exit", "mmio", "len");
    public static final long RUN_MMIO_IS_WRITE = offset(KVM_RUN, "exit", "mmio", "is_write");
    public static final long RUN_FAIL_ENTRY_REASON = offset(KVM_RUN, "exit", "fail_entry", "hardware_entry_failure_reason");
    public static final long RUN_INTERNAL_SUBERROR = offset(KVM_RUN, "exit", "internal", "suberror");
    public static final long RUN_MSR_ERROR = offset(KVM_RUN, "exit", "msr", "error");
    public static final long RUN_MSR_REASON = offset(KVM_RUN, "exit", "msr", "reason");
    public static final long RUN_MSR_INDEX = offset(KVM_RUN, "exit", "msr", "index");
    public static final long RUN_MSR_DATA = offset(KVM_RUN, "exit", "msr", "data");

    /** Writes one kvm_segment at {@code base} in {@code seg}. */
    static void putSegment(MemorySegment seg, long base, long segBase, int limit, int selector, int type,
                           boolean db, boolean s, boolean g) {
        seg.set(JAVA_LONG, base + offset(KVM_SEGMENT, "base"), segBase);
        seg.set(JAVA_INT, base + offset(KVM_SEGMENT, "limit"), limit);
        seg.set(JAVA_SHORT, base + offset(KVM_SEGMENT, "selector"), (short) selector);
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "type"), (byte) type);
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "present"), (byte) 1);
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "dpl"), (byte) 0);
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "db"), (byte) (db ? 1 : 0));
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "s"), (byte) (s ? 1 : 0));
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "l"), (byte) 0);
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "g"), (byte) (g ? 1 : 0));
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "avl"), (byte) 0);
        seg.set(JAVA_BYTE, base + offset(KVM_SEGMENT, "unusable"), (byte) 0);
    }
}
