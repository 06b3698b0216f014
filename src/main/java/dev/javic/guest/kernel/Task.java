package dev.javic.guest.kernel;

/**
 * A task (struct task_struct with its sched_entity): scheduling state, where it is in its program, and
 * the actions fetched from the program but not yet done (a plan may look ahead, then stop early).
 */
final class Task {
    enum State { RUNNING, RUNNABLE, SLEEPING, WAKING, DEAD }

    /** How an action's effect turned out (the effect of a blocking action is decided when it happens). */
    static final int OUTCOME_NONE = 0;
    static final int OUTCOME_DONE = 1;
    static final int OUTCOME_BLOCKED = 2;
    static final int OUTCOME_WOKE = 3;
    /** The effect queued block requests: the driver kicks the device next. */
    static final int OUTCOME_KICK = 4;

    final int id;
    final String name;
    final TaskProgram program;
    final long userCycles;
    State state = State.SLEEPING;
    int cpu;

    // sched_entity
    long vruntime;
    long sumExec;
    long prevSumExec;
    long execStart;
    int heapIndex = -1;
    /** Order of insertion into the tree (ties of vruntime go right, after earlier ones). */
    long treeSeq;
    /** Order of enqueue_entity on its run queue (rq->cfs_tasks, which detach_tasks walks). */
    long enqueueSeq;
    /** task_struct: last_wakee, wakee_flips, wakee_flip_decay_ts (kernel/sched/fair.c record_wakee). */
    int lastWakee = -1;
    int wakeeFlips;
    long wakeeFlipDecayTs;

    /**
     * se->avg (PELT, see {@link Pelt}). init_entity_runnable_average (4.5): a new task starts with the load of a
     * task always runnable (load_avg = 1024, load_sum = 1024 x LOAD_AVG_MAX, period_contrib = 1023).
     */
    final Pelt.Avg avg = new Pelt.Avg();
    /**
     * se->avg.last_update_time == 0 in 4.5: not attached to a cfs_rq (new, or migrated by
     * migrate_task_rq_fair); the next enqueue attaches it without decaying it first.
     */
    boolean peltDetached = true;

    int parent = -1;
    int waitingForChild = -1;
    int sleepingOnPipe = -1;
    /** schedule_timeout: when the timer fires (-1: none), the CPU whose tick runs it, and whether it has fired. */
    long timerAt = -1;
    int timerCpu;
    boolean timerFired;
    /** vruntime relative to its old run queue, between task_waking_fair and the enqueue (remote wake-ups). */
    boolean vruntimeRelative;

    // Where the task is in its current action.
    long action;
    boolean hasAction;
    long doneInAction;
    boolean effectDone;
    int outcome;
    /** Wake-ups that took the task off a wait queue so far (see KernelCpu.addWakee). */
    int wakeGen;
    /** The action blocked and is retried after the wake-up (its system call was entered already). */
    boolean retry;

    // Actions fetched ahead of the current one: a ring that grows (by doubling, rarely) up to aheadCapacity.
    private long[] ahead;
    private final int aheadCapacity;
    private int aheadHead;
    private int aheadCount;

    long cpuCycles;
    long contextSwitches;

    Task(int id, String name, TaskProgram program, int aheadCapacity) {
        this.id = id;
        this.name = name;
        this.program = program;
        this.userCycles = program.userCyclesPerSyscall();
        this.avg.loadAvg = Kernel.NICE_0_LOAD;
        this.avg.loadSum = Kernel.NICE_0_LOAD * Pelt.LOAD_AVG_MAX;
        this.avg.periodContrib = 1023;
        this.aheadCapacity = Integer.highestOneBit(Math.max(2, aheadCapacity) - 1) << 1;
        this.ahead = new long[Math.min(16, this.aheadCapacity)];
    }

    /** The action {@code k} places after the current one (0 = the current one), fetching as needed. */
    long peek(int k) {
        if (k == 0) {
            ensureCurrent();
            return action;
        }
        while (aheadCount < k) {
            if (aheadCount == ahead.length) {
                growAhead();
            }
            ahead[(aheadHead + aheadCount) & (ahead.length - 1)] = program.nextAction();
            aheadCount++;
        }
        return ahead[(aheadHead + k - 1) & (ahead.length - 1)];
    }

    int aheadCapacity() {
        return aheadCapacity;
    }

    /** Doubles the full ring, oldest action first. */
    private void growAhead() {
        if (ahead.length == aheadCapacity) {
            throw new IllegalStateException("look-ahead beyond " + aheadCapacity + " actions");
        }
        long[] grown = new long[ahead.length * 2];
        for (int i = 0; i < aheadCount; i++) {
            grown[i] = ahead[(aheadHead + i) & (ahead.length - 1)];
        }
        ahead = grown;
        aheadHead = 0;
    }

    void ensureCurrent() {
        if (!hasAction) {
            if (aheadCount > 0) {
                action = ahead[aheadHead];
                aheadCount--;
                // Emptied: start again at the front, so that the look-ahead stays in a few cache lines
                // instead of walking the whole ring (a plan may look ahead maxPlanOps actions).
                aheadHead = aheadCount == 0 ? 0 : (aheadHead + 1) & (ahead.length - 1);
            } else {
                action = program.nextAction();
            }
            hasAction = true;
            doneInAction = 0;
            effectDone = false;
            outcome = OUTCOME_NONE;
            retry = false;
        }
    }

    /** The current action is finished; the next one becomes current when asked for. */
    void finishAction() {
        hasAction = false;
    }

    /**
     * The current action and the {@code count - 1} fetched after it are finished: the same as finishing each
     * and making the next current in turn, with the ring advanced at once (the last one finished was made
     * current, fresh, before it finished).
     */
    void finishActions(int count) {
        finishAction();
        if (count > 1) {
            int skipped = count - 2;
            if (skipped > aheadCount) {
                throw new IllegalStateException("finishing " + count + " actions, " + (aheadCount + 1) + " fetched");
            }
            aheadCount -= skipped;
            aheadHead = aheadCount == 0 ? 0 : (aheadHead + skipped) & (ahead.length - 1);
            ensureCurrent();
            finishAction();
        }
    }

    @Override
    public String toString() {
        return name + "#" + id;
    }
}
