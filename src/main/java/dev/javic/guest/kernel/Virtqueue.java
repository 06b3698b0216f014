package dev.javic.guest.kernel;

/**
 * One virtqueue of a virtio device as the ring in guest memory holds it (include/uapi/linux/virtio_ring.h):
 * the driver puts requests in the available ring, the device takes them, serves them and puts them in the
 * used ring, and the driver's interrupt handler reaps what is there. Both sides reach it as memory only:
 * the guest through its driver, the device model (QEMU) through guest memory; neither sees the other's
 * objects. A request here is its byte count (the driver keeps its own list of what it submitted); no data is stored.
 */
public final class Virtqueue {
    private final long[] avail;
    private int availHead;
    private int availCount;
    private int used;

    public Virtqueue(int size) {
        if (Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("a virtqueue's size is a power of 2: " + size);
        }
        this.avail = new long[size];
    }

    public int size() {
        return avail.length;
    }

    /** Driver: virtqueue_add_sgs of one request of {@code bytes}. */
    void add(long bytes) {
        if (availCount == avail.length) {
            throw new IllegalStateException("virtqueue full: the driver must not submit more than " + avail.length);
        }
        avail[(availHead + availCount) & (avail.length - 1)] = bytes;
        availCount++;
    }

    /** Device: requests in the available ring not yet taken. */
    public int available() {
        return availCount;
    }

    /** Device: virtqueue_pop; returns the request's bytes. */
    public long pop() {
        if (availCount == 0) {
            throw new IllegalStateException("virtqueue empty");
        }
        long b = avail[availHead];
        availHead = (availHead + 1) & (avail.length - 1);
        availCount--;
        return b;
    }

    /** Device: virtqueue_push of a served request (the device completes in order). */
    public void push() {
        used++;
    }

    /** Driver: takes every completed request (virtqueue_get_buf until empty); returns how many. */
    int reap() {
        int n = used;
        used = 0;
        return n;
    }
}
