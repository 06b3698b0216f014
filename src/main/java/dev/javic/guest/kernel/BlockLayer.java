package dev.javic.guest.kernel;

/**
 * The guest's page cache accounting, writeback and its virtio-blk disk (Linux 4.5, ext4 with delayed
 * allocation): tar's writes dirty page-cache bytes and its creates dirty metadata for the journal; the
 * writeback flusher sleeps until enough is dirty, then submits it as block requests; jbd2 commits the
 * metadata every few seconds and waits for it. The driver (drivers/block/virtio_blk.c) puts requests in the
 * {@link Virtqueue}, kicks the device with an OUT to its notify port, and its interrupt handler reaps the
 * completions and wakes a thread waiting for them.
 */
public final class BlockLayer {
    /** virtio-blk's request-queue vector (an MSI-X vector the 4.5 vector allocator hands out). */
    final int vector;
    /** VIRTIO_PCI_QUEUE_NOTIFY of the legacy virtio-pci BAR, and the queue index written to it. */
    final int notifyPort;
    final int queueIndex;
    final Virtqueue vq;
    /** Largest request the block layer builds (the queue's segment limit times a page). */
    final long maxRequestBytes;
    /** Journal bytes one created file or directory dirties (inode table share, directory entry, bitmaps). */
    final long journalBytesPerInode;

    long dirtyBytes;
    long journalBytes;
    int inFlight;
    int dirtyWaiter = -1;
    long dirtyThreshold;
    int ioWaiter = -1;
    int ioLimit;

    public long bytesWritten;
    public long filesCreated;
    public long dirsCreated;
    public long bytesSubmitted;
    public long journalBytesSubmitted;
    public long requests;
    public long completions;
    public long kicks;
    public long interrupts;

    BlockLayer(int vector, int notifyPort, int queueIndex, int queueSize, long maxRequestBytes, long journalBytesPerInode) {
        if (maxRequestBytes < Pipe.PAGE_SIZE || journalBytesPerInode < 0) {
            throw new IllegalArgumentException("bad block layer parameters");
        }
        this.vector = vector;
        this.notifyPort = notifyPort;
        this.queueIndex = queueIndex;
        this.vq = new Virtqueue(queueSize);
        this.maxRequestBytes = maxRequestBytes;
        this.journalBytesPerInode = journalBytesPerInode;
    }

    public Virtqueue virtqueue() {
        return vq;
    }

    public int notifyPort() {
        return notifyPort;
    }

    public int vector() {
        return vector;
    }

    public long dirtyBytes() {
        return dirtyBytes;
    }

    public int inFlight() {
        return inFlight;
    }

    /**
     * Builds the requests for {@code bytes} (0 = the journal: its dirty metadata rounded up to blocks, plus a
     * descriptor and a commit block) and puts them in the queue; returns how many.
     */
    int submit(long bytes) {
        long b;
        if (bytes == 0) {
            if (journalBytes == 0) {
                return 0;
            }
            b = roundUpToPage(journalBytes) + 2L * Pipe.PAGE_SIZE;
            journalBytes = 0;
            journalBytesSubmitted += b;
        } else {
            b = Math.min(bytes, dirtyBytes);
            dirtyBytes -= b;
        }
        int n = 0;
        while (b > 0) {
            long r = Math.min(b, maxRequestBytes);
            vq.add(r);
            b -= r;
            bytesSubmitted += r;
            n++;
        }
        inFlight += n;
        requests += n;
        return n;
    }

    static long roundUpToPage(long b) {
        return (b + Pipe.PAGE_SIZE - 1) / Pipe.PAGE_SIZE * Pipe.PAGE_SIZE;
    }
}
