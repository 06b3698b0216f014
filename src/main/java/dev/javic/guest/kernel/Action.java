package dev.javic.guest.kernel;

/**
 * A task's action packed in a {@code long}: the kind in the top byte, its argument (a pipe, a task, a
 * cycle count, a note id) in the low 56 bits.
 *
 * <pre>
 *  63      56 55                                                   0
 * +----------+------------------------------------------------------+
 * |   kind   |  argument (pipe id, task id, cycles, note id)        |
 * +----------+------------------------------------------------------+
 * </pre>
 */
public final class Action {
    private Action() {
    }

    /** User-space computation of {@code arg} cycles. */
    public static final int COMPUTE = 1;
    /** write(2) of one message to pipe {@code arg}. */
    public static final int WRITE = 2;
    /** read(2) of one message from pipe {@code arg}. */
    public static final int READ = 3;
    /** poll(2) for POLLIN on pipe {@code arg}: returns once it holds data. */
    public static final int POLL = 4;
    /** waitpid(2) for task {@code arg}. */
    public static final int WAIT_CHILD = 5;
    /** A user-space clock read (gettimeofday in the vDSO) recorded as note {@code arg}. */
    public static final int NOTE = 6;
    /** exit(2). */
    public static final int EXIT = 7;
    /**
     * The next page-sized part of the same write(2) to pipe {@code arg} (fs/pipe.c copies a long write page by
     * page and may sleep between pages): no system call entry or exit of its own, only the copy.
     */
    public static final int WRITE_MORE = 8;
    /** The next part of the same read(2) from pipe {@code arg} (see {@link #WRITE_MORE}). */
    public static final int READ_MORE = 9;
    /** A file-system system call of {@code tar}: the operation ({@code FS_*}) and its byte count, see {@link #fs}. */
    public static final int FS = 10;
    /** Kernel thread: sleep until the page cache holds at least {@code arg} dirty bytes not yet under writeback. */
    public static final int WAIT_DIRTY = 11;
    /** Kernel thread: submit block I/O to the virtio-blk queue and kick it; {@code arg} bytes of dirty data, 0 = the journal. */
    public static final int SUBMIT_IO = 12;
    /** Kernel thread: sleep until at most {@code arg} block requests are in flight (completions wake it). */
    public static final int WAIT_IO = 13;
    /** Kernel thread: schedule_timeout of {@code arg} cycles (a timer on this CPU, run from its tick). */
    public static final int SLEEP = 14;

    /** {@link #FS} operations: open(O_CREAT) of a regular file, mkdir, write of bytes into the page cache, close + utime. */
    public static final int FS_CREATE = 1;
    public static final int FS_MKDIR = 2;
    public static final int FS_WRITE = 3;
    public static final int FS_CLOSE = 4;
    private static final int FS_OP_SHIFT = 48;

    private static final long ARG_MASK = (1L << 56) - 1;

    public static long compute(long cycles) {
        return pack(COMPUTE, cycles);
    }

    public static long write(int pipe) {
        return pack(WRITE, pipe);
    }

    public static long read(int pipe) {
        return pack(READ, pipe);
    }

    public static long poll(int pipe) {
        return pack(POLL, pipe);
    }

    public static long waitChild(int task) {
        return pack(WAIT_CHILD, task);
    }

    public static long note(int id) {
        return pack(NOTE, id);
    }

    public static long exit() {
        return pack(EXIT, 0);
    }

    public static long writeMore(int pipe) {
        return pack(WRITE_MORE, pipe);
    }

    public static long readMore(int pipe) {
        return pack(READ_MORE, pipe);
    }

    /** A file-system call: {@code op} one of {@code FS_*}, {@code bytes} what it writes (0 for the others). */
    public static long fs(int op, long bytes) {
        if (bytes < 0 || bytes >= 1L << FS_OP_SHIFT) {
            throw new IllegalArgumentException("fs bytes out of range: " + bytes);
        }
        return pack(FS, ((long) op << FS_OP_SHIFT) | bytes);
    }

    public static int fsOp(long action) {
        return (int) (arg(action) >>> FS_OP_SHIFT);
    }

    public static long fsBytes(long action) {
        return arg(action) & ((1L << FS_OP_SHIFT) - 1);
    }

    public static long waitDirty(long bytes) {
        return pack(WAIT_DIRTY, bytes);
    }

    public static long submitIo(long bytes) {
        return pack(SUBMIT_IO, bytes);
    }

    public static long waitIo(int maxInFlight) {
        return pack(WAIT_IO, maxInFlight);
    }

    public static long sleep(long cycles) {
        return pack(SLEEP, cycles);
    }

    static long pack(int kind, long arg) {
        if (arg < 0 || arg > ARG_MASK) {
            throw new IllegalArgumentException("action argument out of range: " + arg);
        }
        return ((long) kind << 56) | arg;
    }

    public static int kind(long action) {
        return (int) (action >>> 56);
    }

    public static long arg(long action) {
        return action & ARG_MASK;
    }

    /** Whether the action enters the kernel (and so has a system call's entry and exit). */
    static boolean isSyscall(int kind) {
        return kind == WRITE || kind == READ || kind == POLL || kind == WAIT_CHILD || kind == EXIT
                || kind == WRITE_MORE || kind == READ_MORE || kind == FS || isKernelThreadWork(kind);
    }

    /** Work of a kernel thread: in the kernel already, so no system call entry or exit. */
    static boolean isKernelThreadWork(int kind) {
        return kind == WAIT_DIRTY || kind == SUBMIT_IO || kind == WAIT_IO || kind == SLEEP;
    }

    public static String describe(long action) {
        String arg = Long.toString(arg(action));
        return switch (kind(action)) {
            case COMPUTE -> "compute(" + arg + ")";
            case WRITE -> "write(pipe " + arg + ")";
            case READ -> "read(pipe " + arg + ")";
            case POLL -> "poll(pipe " + arg + ")";
            case WAIT_CHILD -> "waitpid(" + arg + ")";
            case NOTE -> "note(" + arg + ")";
            case EXIT -> "exit";
            case WRITE_MORE -> "write+(pipe " + arg + ")";
            case READ_MORE -> "read+(pipe " + arg + ")";
            case FS -> "fs(" + fsOp(action) + ", " + fsBytes(action) + ")";
            case WAIT_DIRTY -> "wait_dirty(" + arg + ")";
            case SUBMIT_IO -> "submit_io(" + arg + ")";
            case WAIT_IO -> "wait_io(" + arg + ")";
            case SLEEP -> "sleep(" + arg + ")";
            default -> "action?" + kind(action);
        };
    }
}
