package dev.javic.hw;

import java.util.Arrays;

/**
 * A VM's guest-physical to host-physical translation (nested paging). The hypervisor maps memory
 * slots; a guest access to an unmapped guest-physical address takes a nested page fault (#VMEXIT
 * NPF), which is how the xAPIC page at 0xFEE00000 reaches KVM as MMIO when AVIC is off.
 *
 * <p>Simplification: the translation is a short sorted list of slots held by the machine and found
 * through nested_cr3, not four levels of page tables in memory; what the CPU decides from it
 * (mapped or NPF, and where) is the same.
 */
public final class NestedPageTable {
    private long[] gpaStart = new long[4];
    private long[] gpaEnd = new long[4];
    private long[] hpaBase = new long[4];
    private int slots;

    /** Maps [gpa, gpa + size) to [hpa, hpa + size); both page aligned. */
    public void map(long gpa, long size, long hpa) {
        if (((gpa | size | hpa) & ~PhysicalMemory.PAGE_MASK) != 0) {
            throw new IllegalArgumentException("slots must be page aligned");
        }
        for (int i = 0; i < slots; i++) {
            if (gpa < gpaEnd[i] && gpa + size > gpaStart[i]) {
                throw new IllegalArgumentException("slot overlaps an existing one at gpa 0x" + Long.toHexString(gpa));
            }
        }
        if (slots == gpaStart.length) {
            gpaStart = Arrays.copyOf(gpaStart, slots * 2);
            gpaEnd = Arrays.copyOf(gpaEnd, slots * 2);
            hpaBase = Arrays.copyOf(hpaBase, slots * 2);
        }
        gpaStart[slots] = gpa;
        gpaEnd[slots] = gpa + size;
        hpaBase[slots] = hpa;
        slots++;
    }

    /** Removes the slot that starts at {@code gpa}, if any. */
    public void unmap(long gpa) {
        for (int i = 0; i < slots; i++) {
            if (gpaStart[i] == gpa) {
                slots--;
                gpaStart[i] = gpaStart[slots];
                gpaEnd[i] = gpaEnd[slots];
                hpaBase[i] = hpaBase[slots];
                return;
            }
        }
    }

    /** Host physical address for {@code gpa}, or -1 when unmapped (a nested page fault). */
    public long translate(long gpa) {
        for (int i = 0; i < slots; i++) {
            if (gpa >= gpaStart[i] && gpa < gpaEnd[i]) {
                return hpaBase[i] + (gpa - gpaStart[i]);
            }
        }
        return -1;
    }
}
