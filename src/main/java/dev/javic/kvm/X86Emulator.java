package dev.javic.kvm;

import dev.javic.hw.Vmcb;

import static dev.javic.hw.VmcbLayout.INSN_BYTES;
import static dev.javic.hw.VmcbLayout.INSN_LEN;

/**
 * The part of KVM's x86 emulator ({@code arch/x86/kvm/emulate.c}) that MMIO to the local APIC needs:
 * decoding the instruction bytes the CPU left in the VMCB (decode assists) for
 * {@code mov eax/rax, [moffs64]} (A1, 48 A1) and {@code mov [moffs64], eax/rax} (A3, 48 A3), the forms
 * javic's guests use. Anything else is an emulation failure, as KVM reports it.
 */
final class X86Emulator {
    /** The decoded instruction; reused. */
    boolean write;
    int size;
    long address;
    int length;

    /** Decodes the instruction bytes of the last exit; false when the instruction is not supported. */
    boolean decode(Vmcb vmcb) {
        int len = vmcb.read8(INSN_LEN);
        if (len == 0) {
            return false;
        }
        int i = 0;
        int b = vmcb.read8(INSN_BYTES + i++);
        size = 4;
        if (b == 0x48) { // REX.W
            size = 8;
            b = vmcb.read8(INSN_BYTES + i++);
        }
        if (b != 0xA1 && b != 0xA3) {
            return false;
        }
        write = b == 0xA3;
        long a = 0;
        for (int k = 0; k < 8; k++) {
            a |= (long) vmcb.read8(INSN_BYTES + i++) << (8 * k);
        }
        address = a;
        length = i;
        return i == len;
    }
}
