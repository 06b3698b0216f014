package dev.javic.hw;

import static dev.javic.hw.VmcbLayout.*;

/**
 * A VMCB: one 4 KiB page of physical memory, read and written at the offsets of {@link VmcbLayout}.
 * The object holds no state of its own beyond the page address, so the CPU core and the hypervisor
 * looking at the same page always agree.
 */
public final class Vmcb {
    private final PhysicalMemory mem;
    private final long pa;
    /** The page's frame in {@code mem}: the core reads the VMCB at every instruction boundary. */
    private final long[] page;

    public Vmcb(PhysicalMemory mem, long pa) {
        if ((pa & ~PhysicalMemory.PAGE_MASK) != 0) {
            throw new IllegalArgumentException("VMCB must be page aligned: 0x" + Long.toHexString(pa));
        }
        this.mem = mem;
        this.pa = pa;
        this.page = mem.page(pa);
    }

    public long pa() {
        return pa;
    }

    public int read32(int offset) {
        return PhysicalMemory.read32(page, checked(offset, 4));
    }

    public void write32(int offset, int value) {
        PhysicalMemory.write32(page, checked(offset, 4), value);
    }

    public long read64(int offset) {
        return PhysicalMemory.read64(page, checked(offset, 8));
    }

    public void write64(int offset, long value) {
        PhysicalMemory.write64(page, checked(offset, 8), value);
    }

    /** An offset inside the page, naturally aligned for a {@code width}-byte access, as memory requires. */
    private static int checked(int offset, int width) {
        if (offset < 0 || offset >= PhysicalMemory.PAGE_SIZE || (offset & (width - 1)) != 0) {
            throw new IllegalArgumentException("VMCB offset 0x" + Integer.toHexString(offset) + " for a " + width + "-byte access");
        }
        return offset;
    }

    public int read8(int offset) {
        int word = mem.read32(pa + (offset & ~3));
        return (word >>> ((offset & 3) * 8)) & 0xFF;
    }

    public void write8(int offset, int value) {
        long wordPa = pa + (offset & ~3);
        int shift = (offset & 3) * 8;
        int word = mem.read32(wordPa);
        mem.write32(wordPa, (word & ~(0xFF << shift)) | ((value & 0xFF) << shift));
    }

    // ---- intercepts ------------------------------------------------------------------------------
    public boolean isInterceptSet(int vectorOffset, int bit) {
        return (read32(vectorOffset) & (1 << bit)) != 0;
    }

    public void setIntercept(int vectorOffset, int bit) {
        write32(vectorOffset, read32(vectorOffset) | (1 << bit));
    }

    public void clearIntercept(int vectorOffset, int bit) {
        write32(vectorOffset, read32(vectorOffset) & ~(1 << bit));
    }

    // ---- int_ctl -------------------------------------------------------------------------------
    public int intCtl() {
        return read32(INT_CTL);
    }

    public void setIntCtl(int value) {
        write32(INT_CTL, value);
    }

    /** Sets the bits of {@code mask} in int_ctl to {@code value} (already shifted). */
    public void updateIntCtl(int mask, int value) {
        setIntCtl((intCtl() & ~mask) | (value & mask));
    }

    public boolean isAvicEnabled() {
        return (intCtl() & AVIC_ENABLE_MASK) != 0;
    }

    public int vTpr() {
        return intCtl() & V_TPR_MASK;
    }

    // ---- save area ----------------------------------------------------------------------------------
    public long rflags() {
        return read64(SAVE_RFLAGS);
    }

    public void setRflags(long value) {
        write64(SAVE_RFLAGS, value | RFLAGS_FIXED);
    }

    public boolean interruptsEnabled() {
        return (rflags() & RFLAGS_IF) != 0;
    }

    public long rip() {
        return read64(SAVE_RIP);
    }

    public void setRip(long rip) {
        write64(SAVE_RIP, rip);
    }

    public long rax() {
        return read64(SAVE_RAX);
    }

    public void setRax(long value) {
        write64(SAVE_RAX, value);
    }

    public boolean inInterruptShadow() {
        return (read32(INT_STATE) & INT_STATE_SHADOW_MASK) != 0;
    }

    public void clearPage() {
        mem.clearPage(pa);
    }
}
