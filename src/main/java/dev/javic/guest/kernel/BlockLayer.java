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
    /** VIRTIO_PCI_QUEUE_NOTIFY of the legacy virtio-pci BAR, and the queue index written to it (virtio-blk's one queue). */
    final int notifyPort;
    static final int QUEUE_INDEX = 0;
    final Virtqueue vq;
    /** Largest request the block layer builds (the queue's segment limit times a page). */
    final long maxRequestBytes;
    /** Journal bytes one created file or directory dirties (inode table share, directory entry, bitmaps). */
    final long journalBytesPerInode;

    /** The driver's requests in flight, oldest first (the device completes in order): bytes and submitting CPU. */
    private final long[] reqBytes;
    private final int[] reqCpu;
    private int reqHead;
    /**
     * Completions queued for each CPU by another CPU's interrupt (blk-mq's per-request call_single_data, run by
     * the CALL_FUNCTION_SINGLE IPI): how many and their bytes.
     */
    final int[] remoteRequests;
    final long[] remoteBytes;

    long dirtyBytes;
    long journalBytes;
    /** Requests holding a tag: submitted, not yet completed (blk_mq_end_request). */
    int inFlight;
    /** Requests on the in-flight list: submitted, completion not yet reaped. */
    private int listed;
    int dirtyWaiter = -1;
    long dirtyThreshold;
    /** Threads waiting until at most their limit of requests is in flight (WAIT_IO, or a tag for SUBMIT_IO). */
    final int[] ioWaiters = new int[4];
    final int[] ioLimits = new int[4];
    int ioWaiterCount;

    public long bytesWritten;
    public long filesCreated;
    public long dirsCreated;
    public long bytesSubmitted;
    public long journalBytesSubmitted;
    public long requests;
    public long completions;
    public long kicks;
    public long interrupts;
    /** Completions redirected to the submitting CPU by an IPI. */
    public long remoteCompletions;

    BlockLayer(int cpus, int vector, int notifyPort, int queueSize, long maxRequestBytes, long journalBytesPerInode) {
        if (maxRequestBytes < Pipe.PAGE_SIZE || journalBytesPerInode < 0) {
            throw new IllegalArgumentException("bad block layer parameters");
        }
        this.vector = vector;
        this.notifyPort = notifyPort;
        this.vq = new Virtqueue(queueSize);
        this.maxRequestBytes = maxRequestBytes;
        this.journalBytesPerInode = journalBytesPerInode;
        this.reqBytes = new long[queueSize];
        this.reqCpu = new int[queueSize];
        this.remoteRequests = new int[cpus];
        this.remoteBytes = new long[cpus];
    }

    public Virtqueue virtqueue() {
        return vq;
    }

    /** The bytes a {@link Action#SUBMIT_IO} of {@code bytes} writes now (0 = the journal: its metadata, a descriptor and a commit block). */
    private long bytesFor(long bytes) {
        if (bytes == 0) {
            return journalBytes == 0 ? 0 : roundUpToPage(journalBytes) + 2L * Pipe.PAGE_SIZE;
        }
        return Math.min(bytes, dirtyBytes);
    }

    /** The requests a {@link Action#SUBMIT_IO} of {@code bytes} needs now. */
    int requestsFor(long bytes) {
        return (int) ((bytesFor(bytes) + maxRequestBytes - 1) / maxRequestBytes);
    }

    int queueSize() {
        return reqBytes.length;
    }

    /** Builds the requests for {@code bytes} (see {@link #bytesFor}), submitted from {@code cpu}, and queues them; returns how many. */
    int submit(long bytes, int cpu) {
        long b = bytesFor(bytes);
        if (bytes == 0) {
            journalBytes = 0;
            journalBytesSubmitted += b;
        } else {
            dirtyBytes -= b;
        }
        int n = 0;
        while (b > 0) {
            long r = Math.min(b, maxRequestBytes);
            vq.add(r);
            int slot = (reqHead + listed + n) & (reqBytes.length - 1);
            reqBytes[slot] = r;
            reqCpu[slot] = cpu;
            b -= r;
            bytesSubmitted += r;
            n++;
        }
        inFlight += n;
        listed += n;
        requests += n;
        return n;
    }

    /** The oldest request in flight: its bytes, then (with {@link #popCompleted}) its submitting CPU. */
    long oldestBytes() {
        return reqBytes[reqHead];
    }

    /** Takes the oldest request off the in-flight list (its completion was reaped); returns its submitting CPU. */
    int popCompleted() {
        int cpu = reqCpu[reqHead];
        reqHead = (reqHead + 1) & (reqBytes.length - 1);
        listed--;
        return cpu;
    }

    static long roundUpToPage(long b) {
        return (b + Pipe.PAGE_SIZE - 1) / Pipe.PAGE_SIZE * Pipe.PAGE_SIZE;
    }
}
