package dev.javic.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The machine's physical memory: 4 KiB pages, little-endian, shared by the CPU cores (guest
 * accesses, the AVIC unit) and by host software (the hypervisor's VMCBs, backing pages and tables).
 *
 * <p>32- and 64-bit accesses must be naturally aligned and are single-copy atomic, as on x86; the
 * {@code Volatile}, {@code getAndOr} and {@code compareAndSet} variants give the ordering and the
 * locked read-modify-write operations that hardware and KVM rely on (e.g. setting an IRR bit with
 * a locked OR, then a full barrier, then reading IsRunning). Frames are allocated lazily; reading
 * a frame never written returns zeros.
 *
 * <p>A page is a {@code long[512]} accessed through an array-element VarHandle, which supports every
 * atomic access mode (a byte[] view VarHandle supports only plain access since JDK 22). A 32-bit
 * access is the low (offset % 8 == 0) or high (== 4) half of its 64-bit word; locked 32-bit
 * operations are atomic operations on that word that leave the other half unchanged.
 */
public final class PhysicalMemory {
    public static final int PAGE_SHIFT = 12;
    public static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    public static final long PAGE_MASK = ~((long) PAGE_SIZE - 1);
    private static final int WORDS_PER_PAGE = PAGE_SIZE / 8;

    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[][] frames;
    private final long sizeBytes;

    /** Memory of {@code sizeBytes} (a multiple of the page size) starting at physical address 0. */
    public PhysicalMemory(long sizeBytes) {
        if (sizeBytes <= 0 || (sizeBytes & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("memory size must be a positive multiple of 4 KiB: " + sizeBytes);
        }
        long pages = sizeBytes >>> PAGE_SHIFT;
        if (pages > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("memory too large: " + sizeBytes);
        }
        this.frames = new long[(int) pages][];
        this.sizeBytes = sizeBytes;
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public boolean contains(long pa) {
        return pa >= 0 && pa < sizeBytes;
    }

    private long[] frame(long pa, int width) {
        if ((pa & (width - 1)) != 0) {
            throw new IllegalArgumentException("unaligned " + width + "-byte access at 0x" + Long.toHexString(pa));
        }
        if (!contains(pa)) {
            throw new IllegalArgumentException("physical address out of range: 0x" + Long.toHexString(pa));
        }
        int pfn = (int) (pa >>> PAGE_SHIFT);
        long[] f = frames[pfn];
        if (f == null) {
            f = new long[WORDS_PER_PAGE];
            frames[pfn] = f;
        }
        return f;
    }

    private static int word(long pa) {
        return (int) ((pa & (PAGE_SIZE - 1)) >>> 3);
    }

    private static int shift(long pa) {
        return (int) (pa & 4) * 8;
    }

    private static final long LOW = 0xFFFFFFFFL;

    public int read32(long pa) {
        return read32(frame(pa, 4), pa);
    }

    public void write32(long pa, int value) {
        write32(frame(pa, 4), pa, value);
    }

    public long read64(long pa) {
        return read64(frame(pa, 8), pa);
    }

    public void write64(long pa, long value) {
        write64(frame(pa, 8), pa, value);
    }

    /**
     * The frame holding the page at {@code pagePa}, allocated if needed, for an owner of a whole page that
     * accesses it often (a VMCB) through the static accessors below. A frame, once allocated, is never replaced.
     */
    long[] page(long pagePa) {
        if ((pagePa & ~PAGE_MASK) != 0) {
            throw new IllegalArgumentException("not a page address: 0x" + Long.toHexString(pagePa));
        }
        return frame(pagePa, 8);
    }

    // The accesses themselves, on a frame and any address (or offset) inside it, already checked for alignment.
    static int read32(long[] frame, long pa) {
        return (int) ((long) WORD.getOpaque(frame, word(pa)) >>> shift(pa));
    }

    static void write32(long[] frame, long pa, int value) {
        int w = word(pa);
        int s = shift(pa);
        long keep = ~(LOW << s);
        long bits = (value & LOW) << s;
        long old;
        do {
            old = (long) WORD.getVolatile(frame, w);
        } while (!WORD.compareAndSet(frame, w, old, (old & keep) | bits));
    }

    static long read64(long[] frame, long pa) {
        return (long) WORD.getOpaque(frame, word(pa));
    }

    static void write64(long[] frame, long pa, long value) {
        WORD.setOpaque(frame, word(pa), value);
    }

    public int read32Volatile(long pa) {
        return (int) ((long) WORD.getVolatile(frame(pa, 4), word(pa)) >>> shift(pa));
    }

    public long read64Volatile(long pa) {
        return (long) WORD.getVolatile(frame(pa, 8), word(pa));
    }

    public void write64Volatile(long pa, long value) {
        WORD.setVolatile(frame(pa, 8), word(pa), value);
    }

    /** Locked OR (x86 {@code lock or}); returns the previous value. */
    public int getAndOr32(long pa, int bits) {
        int s = shift(pa);
        return (int) ((long) WORD.getAndBitwiseOr(frame(pa, 4), word(pa), (bits & LOW) << s) >>> s);
    }

    /** Locked AND; returns the previous value. */
    public int getAndAnd32(long pa, int bits) {
        int s = shift(pa);
        long mask = ((bits & LOW) << s) | ~(LOW << s);
        return (int) ((long) WORD.getAndBitwiseAnd(frame(pa, 4), word(pa), mask) >>> s);
    }

    public boolean compareAndSet64(long pa, long expected, long value) {
        return WORD.compareAndSet(frame(pa, 8), word(pa), expected, value);
    }

    public boolean compareAndSet32(long pa, int expected, int value) {
        long[] f = frame(pa, 4);
        int w = word(pa);
        int s = shift(pa);
        long old = (long) WORD.getVolatile(f, w);
        if ((int) (old >>> s) != expected) {
            return false;
        }
        long updated = (old & ~(LOW << s)) | ((value & LOW) << s);
        return WORD.compareAndSet(f, w, old, updated);
    }

    /** x86 {@code mfence} / Linux {@code smp_mb()}. */
    public static void fullFence() {
        VarHandle.fullFence();
    }

    /** Zeroes one page. */
    public void clearPage(long pa) {
        long base = pa & PAGE_MASK;
        if (!contains(base)) {
            throw new IllegalArgumentException("physical address out of range: 0x" + Long.toHexString(pa));
        }
        long[] f = frames[(int) (base >>> PAGE_SHIFT)];
        if (f != null) { // a frame never touched reads as zeros already: no need to allocate it
            java.util.Arrays.fill(f, 0L);
        }
    }
}
