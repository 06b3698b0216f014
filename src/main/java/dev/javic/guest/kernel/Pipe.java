package dev.javic.guest.kernel;

/**
 * A pipe as fs/pipe.c of Linux 4.5 keeps it: a ring of 16 page buffers (64 KiB), small writes merged into
 * the last page while it has room and the pipe is not empty (so a page takes 40 messages of 100 bytes and a
 * message never straddles two pages), reads consuming from the first page, which is released once all
 * that was written into it is read. One wait queue per pipe with non-exclusive waiters (readers waiting
 * for data, writers waiting for room, pollers), woken all at once, most recent sleeper first
 * ({@code prepare_to_wait} adds at the head, {@code __wake_up_common} walks from it).
 *
 * <p>Contents are counted in messages of one size per pipe; no data is stored.
 */
public final class Pipe {
    /** PIPE_DEF_BUFFERS. */
    public static final int BUFFERS = 16;
    public static final int PAGE_SIZE = 4096;

    final int id;
    final int messageBytes;
    /** Messages one page takes: the merge rule lets writes append while offset + len + chars <= PAGE_SIZE. */
    final int perPage;
    private final int[] written = new int[BUFFERS];
    private final int[] consumed = new int[BUFFERS];
    private int curbuf;
    private int nrbufs;
    private int messages;
    private long messagesWritten;

    private int[] waiters = new int[4];
    private int waiterCount;
    /** The task that reads this pipe (hackbench: one receiver), or -1; bounds what others can do to it. */
    int readerTask = -1;

    Pipe(int id, int messageBytes) {
        if (messageBytes <= 0 || messageBytes > PAGE_SIZE) {
            throw new IllegalArgumentException("message size must be 1.." + PAGE_SIZE + ": " + messageBytes);
        }
        this.id = id;
        this.messageBytes = messageBytes;
        this.perPage = PAGE_SIZE / messageBytes;
    }

    public int id() {
        return id;
    }

    /** Messages buffered now. */
    public int messages() {
        return messages;
    }

    /** Page buffers in use (pipe->nrbufs). */
    public int pages() {
        return nrbufs;
    }

    public long messagesWritten() {
        return messagesWritten;
    }

    private int lastBuf() {
        return (curbuf + nrbufs - 1) & (BUFFERS - 1);
    }

    /** True when a write would block: all slots used and the last page cannot take another message. */
    public boolean isFull() {
        return nrbufs == BUFFERS && written[lastBuf()] >= perPage;
    }

    /** How many more messages fit before a writer blocks, reads aside. */
    public int freeSlots() {
        int free = (BUFFERS - nrbufs) * perPage;
        if (nrbufs > 0) {
            free += perPage - written[lastBuf()];
        }
        return free;
    }

    /** Messages still unread in the first page. */
    int firstPageUnread() {
        return nrbufs == 0 ? 0 : written[curbuf] - consumed[curbuf];
    }

    /** Messages unread in the {@code k}-th page from the first (0 = first). */
    int pageUnread(int k) {
        int b = (curbuf + k) & (BUFFERS - 1);
        return written[b] - consumed[b];
    }

    /** pipe_write of one message: merge into the last page or take a new one. The caller checked it is not full. */
    void write() {
        if (nrbufs > 0 && written[lastBuf()] < perPage) {
            written[lastBuf()]++;
        } else {
            if (nrbufs == BUFFERS) {
                throw new IllegalStateException("pipe " + id + " written while full");
            }
            int b = (curbuf + nrbufs) & (BUFFERS - 1);
            written[b] = 1;
            consumed[b] = 0;
            nrbufs++;
        }
        messages++;
        messagesWritten++;
    }

    /** pipe_read of one message; returns true when it released the first page. The caller checked it is not empty. */
    boolean read() {
        if (messages == 0) {
            throw new IllegalStateException("pipe " + id + " read while empty");
        }
        messages--;
        if (++consumed[curbuf] == written[curbuf]) {
            curbuf = (curbuf + 1) & (BUFFERS - 1);
            nrbufs--;
            return true;
        }
        return false;
    }

    // ---- the wait queue -------------------------------------------------------------------------------

    int waiters() {
        return waiterCount;
    }

    void addWaiter(int task) {
        if (waiterCount == waiters.length) {
            waiters = java.util.Arrays.copyOf(waiters, waiterCount * 2);
        }
        waiters[waiterCount++] = task;
    }

    /** Removes every waiter, most recent first, into {@code out} from {@code at}; returns the new end. */
    int takeWaiters(int[] out, int at) {
        for (int i = waiterCount - 1; i >= 0; i--) {
            out[at++] = waiters[i];
        }
        waiterCount = 0;
        return at;
    }

    @Override
    public String toString() {
        return "pipe " + id + " (" + messages + " msgs in " + nrbufs + " pages, " + waiterCount + " waiting)";
    }
}
