package dev.javic.hw;

/**
 * The CPU operations a guest program can execute. Each is one x86 instruction (or, for
 * {@link #WORK}, a stretch of ordinary computation that touches nothing the hypervisor sees); the
 * encoded length is what the instruction would take in 64-bit mode, so RIP and the VMCB's next_rip
 * behave as on hardware.
 */
public enum OpKind {
    /** N cycles of computation; interruptible at any cycle. */
    WORK(1),
    /** {@code mov eax, [moffs64]} (A1 + 8-byte address). */
    READ32(9),
    /** {@code mov [moffs64], eax} (A3 + 8-byte address). */
    WRITE32(9),
    /** {@code mov rax, [moffs64]} (48 A1 + 8-byte address). */
    READ64(10),
    /** {@code mov [moffs64], rax} (48 A3 + 8-byte address). */
    WRITE64(10),
    /** 0F 32: ECX = MSR, result in EDX:EAX. */
    RDMSR(2),
    /** 0F 30: ECX = MSR, EDX:EAX = value. */
    WRMSR(2),
    /** 0F A2: EAX = leaf, ECX = subleaf. */
    CPUID(2),
    /** {@code mov rax, cr8} (44 0F 20 C0). */
    READ_CR8(4),
    /** {@code mov cr8, rax} (44 0F 22 C0). */
    WRITE_CR8(4),
    /** FB: IF = 1, with a one-instruction interrupt shadow. */
    STI(1),
    /** FA: IF = 0. */
    CLI(1),
    /** F4. */
    HLT(1),
    /** F3 90. */
    PAUSE(2),
    /** 48 CF: return from the innermost interrupt or exception frame. */
    IRET(2),
    /** 0F 01 D9: hypercall; the guest-visible end of a program (exit to the VMM). */
    VMMCALL(3),
    /**
     * 66 EF: {@code out dx, ax}, a 16-bit I/O port write; {@code address} = the port (DX), {@code value} = AX.
     * What a virtio-pci legacy driver's {@code iowrite16} to VIRTIO_PCI_QUEUE_NOTIFY executes.
     */
    OUTW(2),
    /**
     * 0F BA /6 ib: {@code btr dword [rip+disp32], imm8}, bit {@code value} of the dword at {@code address};
     * the result is the dword before (CF = its bit). One read-modify-write instruction, so an exit cannot
     * split it, which is what Linux's {@code __test_and_clear_bit} in kvm_guest_apic_eoi_write relies on.
     * For guest RAM only: on any other address it takes the NPF, which javic's KVM emulator does not decode.
     */
    BTR32(8);

    private final int length;

    OpKind(int length) {
        this.length = length;
    }

    /** Instruction length in bytes. */
    public int length() {
        return length;
    }

    private static final OpKind[] VALUES = values();

    public static OpKind of(int ordinal) {
        return VALUES[ordinal];
    }
}
