package dev.javic.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The machine's physical memory: 4 KiB pages, little-endian, shared by the CPU cores (guest
 * accesses, the AVIC unit) and by host software (the hypervisor's VMCBs, backing pages and tables).
 *
 * <p>32- and 64-bit accesses must be naturally aligned and are single-copy atomic, as on x86; the
 * {@code Volatile}, {@code getAndOr} and {@code compareAndSet} variants give the ordering and the
 * locked read-modify-write operations that hardware and KVM rely on (e.g. setting an IRR bit with
 * a locked OR, then a full barrier, then reading IsRunning). Frames are allocated lazily; reading
 * a frame never written returns zeros.
 */
public final class PhysicalMemory {
    public static final int PAGE_SHIFT = 12;
    public static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    public static final long PAGE_MASK = ~((long) PAGE_SIZE - 1);

    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final byte[][] frames;
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
        this.frames = new byte[(int) pages][];
        this.sizeBytes = sizeBytes;
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public boolean contains(long pa) {
        return pa >= 0 && pa < sizeBytes;
    }

    private byte[] frame(long pa, int width) {
        if ((pa & (width - 1)) != 0) {
            throw new IllegalArgumentException("unaligned " + width + "-byte access at 0x" + Long.toHexString(pa));
        }
        if (!contains(pa)) {
            throw new IllegalArgumentException("physical address out of range: 0x" + Long.toHexString(pa));
        }
        int pfn = (int) (pa >>> PAGE_SHIFT);
        byte[] f = frames[pfn];
        if (f == null) {
            f = new byte[PAGE_SIZE];
            frames[pfn] = f;
        }
        return f;
    }

    private static int offset(long pa) {
        return (int) (pa & (PAGE_SIZE - 1));
    }

    public int read32(long pa) {
        return (int) INT.getOpaque(frame(pa, 4), offset(pa));
    }

    public void write32(long pa, int value) {
        INT.setOpaque(frame(pa, 4), offset(pa), value);
    }

    public long read64(long pa) {
        return (long) LONG.getOpaque(frame(pa, 8), offset(pa));
    }

    public void write64(long pa, long value) {
        LONG.setOpaque(frame(pa, 8), offset(pa), value);
    }

    public int read32Volatile(long pa) {
        return (int) INT.getVolatile(frame(pa, 4), offset(pa));
    }

    public long read64Volatile(long pa) {
        return (long) LONG.getVolatile(frame(pa, 8), offset(pa));
    }

    public void write64Volatile(long pa, long value) {
        LONG.setVolatile(frame(pa, 8), offset(pa), value);
    }

    /** Locked OR (x86 {@code lock or}); returns the previous value. */
    public int getAndOr32(long pa, int bits) {
        return (int) INT.getAndBitwiseOr(frame(pa, 4), offset(pa), bits);
    }

    /** Locked AND; returns the previous value. */
    public int getAndAnd32(long pa, int bits) {
        return (int) INT.getAndBitwiseAnd(frame(pa, 4), offset(pa), bits);
    }

    public boolean compareAndSet64(long pa, long expected, long value) {
        return LONG.compareAndSet(frame(pa, 8), offset(pa), expected, value);
    }

    public boolean compareAndSet32(long pa, int expected, int value) {
        return INT.compareAndSet(frame(pa, 4), offset(pa), expected, value);
    }

    /** x86 {@code mfence} / Linux {@code smp_mb()}. */
    public static void fullFence() {
        VarHandle.fullFence();
    }

    /** Zeroes one page. */
    public void clearPage(long pa) {
        byte[] f = frame(pa & PAGE_MASK, 8);
        java.util.Arrays.fill(f, (byte) 0);
    }
}
