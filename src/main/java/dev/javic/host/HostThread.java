package dev.javic.host;

/**
 * A host kernel thread (a vCPU thread, later vhost and netserver): a state machine the scheduler
 * switches in and out of a CPU. Subclasses do their work in {@link #run(HostCpu)} by scheduling
 * simulated events, and give the CPU back with {@link HostScheduler#block} or when preempted.
 */
public abstract class HostThread {
    public enum State { RUNNING, RUNNABLE, BLOCKED }

    private final String comm;
    private final int pid;
    /** CPU the thread is pinned to, or -1 for any (then it stays where it last ran). */
    private final int affinity;
    State state = State.BLOCKED;
    HostCpu cpu;
    long sliceStart;

    protected HostThread(String comm, int pid, int affinity) {
        this.comm = comm;
        this.pid = pid;
        this.affinity = affinity;
    }

    public final String comm() {
        return comm;
    }

    public final int pid() {
        return pid;
    }

    public final int affinity() {
        return affinity;
    }

    public final State state() {
        return state;
    }

    /** The CPU the thread runs on, or last ran on. */
    public final HostCpu cpu() {
        return cpu;
    }

    /** The thread was switched in on {@code cpu} (after the context switch or wake-up latency). */
    protected abstract void run(HostCpu cpu);

    /**
     * The scheduler wants the CPU back (its timeslice ended and another thread is runnable). The
     * thread must reach a point where it can be switched out and then call
     * {@link HostScheduler#yieldCpu}; a vCPU thread does so after its next exit.
     */
    protected abstract void preemptRequested();

    /** A physical interrupt was taken in host mode while this thread ran. */
    protected void hostInterrupt(int vector) {
    }

    @Override
    public String toString() {
        return comm + "-" + pid;
    }
}
