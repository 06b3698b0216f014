package dev.javic.workload;

import dev.javic.guest.kernel.Action;
import dev.javic.guest.kernel.Kernel;
import dev.javic.guest.kernel.TaskProgram;

import java.util.SplittableRandom;

/**
 * hackbench in process mode with pipes (rt-tests src/hackbench/hackbench.c, the series' "hackbench -p"):
 * G groups of 20 receivers and 20 senders, one pipe per receiver written by every sender of its group,
 * 100-byte messages; each sender writes {@code loops} messages to each receiver of its group, each receiver
 * reads {@code 20 x loops}. The parent takes the start time just before it writes the wake byte that every
 * child polls for, and the end time once it has reaped every child; that difference is hackbench's "Time:".
 *
 * <p>The fork and ready phase before the start is not simulated (it is not timed): the children start out
 * asleep in poll() on the wake pipe, spread over the CPUs as fork balancing spreads them, in an order drawn
 * from the seed. The parent runs on CPU 0.
 */
public final class Hackbench {
    public static final int NOTE_START = 1;
    public static final int NOTE_END = 2;
    public static final int MESSAGE_BYTES = 100;

    /**
     * @param groups  -g (default 10)
     * @param fds     -f, receivers and senders per group (default 20)
     * @param loops   -l
     */
    public record Params(int groups, int fds, int loops) {
        public Params {
            if (groups < 1 || fds < 1 || loops < 1) {
                throw new IllegalArgumentException("groups, fds and loops must be positive");
            }
        }

        public static Params of(int groups, int loops) {
            return new Params(groups, 20, loops);
        }

        public int tasks() {
            return groups * fds * 2 + 1;
        }

        public long messages() {
            return (long) groups * fds * fds * loops;
        }
    }

    private final Params params;
    private long start = -1;
    private long end = -1;
    private Runnable onEnd = () -> { };

    public Hackbench(Params params) {
        this.params = params;
    }

    public Params params() {
        return params;
    }

    /** Called (from the simulation) when every task, the parent last, has exited. */
    public void onEnd(Runnable r) {
        this.onEnd = r;
    }

    /** Creates the parent, the pipes and the children in {@code k}; placement drawn from {@code rng}. */
    public void install(Kernel k, long userCyclesPerMessage, SplittableRandom rng) {
        int cpus = k.cpuCount();
        int children = params.groups() * params.fds() * 2;
        int wakePipe = k.createPipe(1);
        int[] childIds = new int[children];
        for (int i = 0; i < children; i++) {
            childIds[i] = i + 1; // the parent is task 0, children follow in fork order
        }
        int parent = k.createRunnableTask("hackbench", new ParentProgram(wakePipe, childIds), 0, -1);
        if (parent != 0) {
            throw new IllegalStateException("the parent must be the first task");
        }
        k.setListener(new Kernel.Listener() {
            @Override
            public void note(int id, long time) {
                if (id == NOTE_START) {
                    start = time;
                } else if (id == NOTE_END) {
                    end = time;
                }
            }

            @Override
            public void allExited(long time) {
                onEnd.run();
            }
        });
        int[] cpuOrder = new int[cpus];
        int placed = 0;
        for (int g = 0; g < params.groups(); g++) {
            int[] pipes = new int[params.fds()];
            for (int j = 0; j < params.fds(); j++) {
                pipes[j] = k.createPipe(MESSAGE_BYTES);
            }
            for (int j = 0; j < params.fds(); j++) {
                int cpu = placement(cpuOrder, placed++, rng);
                int id = k.createTaskPolling("receiver-" + g + "." + j,
                        new ReceiverProgram(wakePipe, pipes[j], (long) params.fds() * params.loops(), userCyclesPerMessage),
                        cpu, parent);
                k.setReader(pipes[j], id);
            }
            for (int j = 0; j < params.fds(); j++) {
                int cpu = placement(cpuOrder, placed++, rng);
                k.createTaskPolling("sender-" + g + "." + j,
                        new SenderProgram(wakePipe, pipes, params.loops(), userCyclesPerMessage), cpu, parent);
            }
        }
    }

    /** Fork balancing spreads children evenly: each round of {@code cpus} children gets a seeded permutation. */
    private static int placement(int[] order, int index, SplittableRandom rng) {
        int cpus = order.length;
        int slot = index % cpus;
        if (slot == 0) {
            for (int i = 0; i < cpus; i++) {
                order[i] = i;
            }
            for (int i = cpus - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        return order[slot];
    }

    public boolean finished() {
        return end >= 0;
    }

    /** hackbench's "Time:" in cycles (start of the wake write to the last child reaped), or -1. */
    public long elapsedCycles() {
        return finished() ? end - start : -1;
    }

    public long startCycles() {
        return start;
    }

    // ---- the programs ---------------------------------------------------------------------------------------

    /** The parent: start time, the wake byte, waitpid for every child in fork order, end time. */
    static final class ParentProgram implements TaskProgram {
        private final int wakePipe;
        private final int[] children;
        private int step;

        ParentProgram(int wakePipe, int[] children) {
            this.wakePipe = wakePipe;
            this.children = children;
        }

        @Override
        public long nextAction() {
            int s = step++;
            if (s == 0) {
                return Action.note(NOTE_START);
            }
            if (s == 1) {
                return Action.write(wakePipe);
            }
            int c = s - 2;
            if (c < children.length) {
                return Action.waitChild(children[c]);
            }
            if (c == children.length) {
                return Action.note(NOTE_END);
            }
            return Action.exit();
        }
    }

    /** A sender: poll for the start, then for each loop one message to each receiver of its group. */
    static final class SenderProgram implements TaskProgram {
        private final int wakePipe;
        private final int[] pipes;
        private final long writes;
        private final long user;
        private long done = -1;
        /** The receiver the next message goes to (round robin, without a division per message). */
        private int next;

        SenderProgram(int wakePipe, int[] pipes, int loops, long user) {
            this.wakePipe = wakePipe;
            this.pipes = pipes;
            this.writes = (long) loops * pipes.length;
            this.user = user;
        }

        @Override
        public long nextAction() {
            if (done < 0) {
                done = 0;
                return Action.poll(wakePipe);
            }
            if (done < writes) {
                done++;
                int pipe = pipes[next];
                next = next + 1 == pipes.length ? 0 : next + 1;
                return Action.write(pipe);
            }
            return Action.exit();
        }

        @Override
        public long userCyclesPerSyscall() {
            return user;
        }
    }

    /** A receiver: poll for the start, then read its 20 x loops messages one by one. */
    static final class ReceiverProgram implements TaskProgram {
        private final int wakePipe;
        private final int pipe;
        private final long reads;
        private final long user;
        private long done = -1;

        ReceiverProgram(int wakePipe, int pipe, long reads, long user) {
            this.wakePipe = wakePipe;
            this.pipe = pipe;
            this.reads = reads;
            this.user = user;
        }

        @Override
        public long nextAction() {
            if (done < 0) {
                done = 0;
                return Action.poll(wakePipe);
            }
            if (done < reads) {
                done++;
                return Action.read(pipe);
            }
            return Action.exit();
        }

        @Override
        public long userCyclesPerSyscall() {
            return user;
        }
    }
}
