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
        return kind == WRITE || kind == READ || kind == POLL || kind == WAIT_CHILD || kind == EXIT;
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
            default -> "action?" + kind(action);
        };
    }
}
