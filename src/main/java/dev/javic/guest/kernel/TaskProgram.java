package dev.javic.guest.kernel;

/**
 * What a task (a user process) does, one action at a time: compute, pipe reads and writes, poll,
 * wait for a child, exit. Workloads implement it; the kernel asks for the next action when the task
 * gets to it (and may ask ahead, to run several actions as one stretch of work). Actions are encoded
 * in a {@code long} by {@link Action}, so that asking allocates nothing.
 *
 * <p>The sequence must not depend on timing: a program is asked for its actions in order, once each,
 * whatever the scheduler does (hackbench's, tar's and netperf's loops are such sequences).
 */
public interface TaskProgram {
    /** The next action ({@link Action#write}, {@link Action#read}, ...); {@link Action#exit()} last. */
    long nextAction();

    /** User-space cycles spent around each system call (the loop around write() / read()). */
    default long userCyclesPerSyscall() {
        return 0;
    }
}
