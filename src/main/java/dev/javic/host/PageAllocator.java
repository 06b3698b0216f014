package dev.javic.host;

import dev.javic.hw.PhysicalMemory;

import java.util.Arrays;

/**
 * The host kernel's page allocator ({@code alloc_page(GFP_KERNEL | __GFP_ZERO)}): hands out zeroed 4 KiB
 * frames of physical memory and takes them back. Freed frames are reused last-in first-out, so the
 * addresses a run sees depend only on the order of allocations.
 */
public final class PageAllocator {
    private final PhysicalMemory memory;
    private long next;
    private final long end;
    private long[] free = new long[16];
    private int freeCount;
    private long allocated;

    /** Allocates from [start, memory end); frames below {@code start} are left to the caller. */
    public PageAllocator(PhysicalMemory memory, long start) {
        this.memory = memory;
        this.next = start;
        this.end = memory.sizeBytes();
    }

    public long allocatePage() {
        long pa;
        if (freeCount > 0) {
            pa = free[--freeCount];
        } else {
            if (next + PhysicalMemory.PAGE_SIZE > end) {
                throw new IllegalStateException("host out of memory: " + (end >> 20) + " MiB in use");
            }
            pa = next;
            next += PhysicalMemory.PAGE_SIZE;
        }
        memory.clearPage(pa);
        allocated++;
        return pa;
    }

    /** {@code count} physically contiguous pages (never from the free list). */
    public long allocateContiguous(int count) {
        long size = (long) count * PhysicalMemory.PAGE_SIZE;
        if (next + size > end) {
            throw new IllegalStateException("host out of memory for " + count + " contiguous pages");
        }
        long pa = next;
        next += size;
        for (int i = 0; i < count; i++) {
            memory.clearPage(pa + (long) i * PhysicalMemory.PAGE_SIZE);
        }
        allocated += count;
        return pa;
    }

    public void freePage(long pa) {
        if (freeCount == free.length) {
            free = Arrays.copyOf(free, freeCount * 2);
        }
        free[freeCount++] = pa;
        allocated--;
    }

    public long pagesInUse() {
        return allocated;
    }
}
