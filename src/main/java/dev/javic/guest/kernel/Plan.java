package dev.javic.guest.kernel;

import dev.javic.hw.Operation;

/**
 * A run of one task's actions that its CPU executes as WORK (one WORK when batching, one per segment
 * between effects when not), with the plan-relative cycle at which each action's effect happens and
 * ends. Every action but the last is <em>certain</em>: its outcome (the write goes in and wakes nobody,
 * the read finds a message and wakes nobody) holds whatever any other CPU does meanwhile, which the
 * planner proves from bounds (see {@link KernelCpu#plan}). The last may be uncertain: the plan then ends
 * at its effect, whose outcome is decided when it happens.
 *
 * <p>Effects are applied by {@link Kernel#catchUp} when anyone looks at the kernel's data after they
 * happened; the time of the effect at plan offset {@code o} is {@code start + o}, which the CPU's
 * guest work-cycle counter confirms (the plan ran without a pause up to there).
 */
final class Plan {
    private final KernelCpu cpu;
    private final Kernel kernel;
    boolean active;
    Task task;
    /** Simulated time and work-cycle counter when the plan's first WORK started. */
    long start;
    long c0;
    /** Length of the plan in cycles (the WORK it issues, split or not). */
    long total;
    boolean frozen;
    long frozenProgress;
    private boolean pauseCounted;

    int n;
    long[] act;
    long[] startAt;
    /** Plan offset of the action's effect, or -1 when it has none here (compute, or done before). */
    long[] effAt;
    long[] endAt;
    boolean[] certain;
    boolean terminal;
    int terminalOutcome;
    private int[] effIdx;
    private int nEff;
    int nextEff;

    Plan(KernelCpu cpu, Kernel kernel, int capacity) {
        this.cpu = cpu;
        this.kernel = kernel;
        act = new long[capacity];
        startAt = new long[capacity];
        effAt = new long[capacity];
        endAt = new long[capacity];
        certain = new boolean[capacity];
        effIdx = new int[capacity];
    }

    void begin(Task t, long now, long counter) {
        active = true;
        task = t;
        start = now;
        c0 = counter;
        total = 0;
        frozen = false;
        pauseCounted = false;
        n = 0;
        nEff = 0;
        nextEff = 0;
        terminal = false;
        terminalOutcome = Task.OUTCOME_NONE;
    }

    void add(long action, long startOffset, long effectOffset, long endOffset, boolean isCertain) {
        act[n] = action;
        startAt[n] = startOffset;
        effAt[n] = effectOffset;
        endAt[n] = endOffset;
        certain[n] = isCertain;
        if (effectOffset >= 0) {
            effIdx[nEff++] = n;
        }
        n++;
    }

    /** Cycles of the plan executed by {@code now}. */
    long progress(long now) {
        if (frozen) {
            return frozenProgress;
        }
        Operation op = cpu.op;
        long done = op.workCycles(now) - c0;
        if (!pauseCounted) {
            long elapsed = op.workRunning() ? now - start : op.workStoppedAt() - start;
            if (done != Math.min(elapsed, total) && done < total) {
                // The WORK stopped and ran again without an interrupt telling the guest: the time of an effect
                // inside it can no longer be told from the counter alone. Never seen with the systems here.
                kernel.stats.unattributedPauses++;
                pauseCounted = true;
            }
        }
        return Math.min(done, total);
    }

    /** An interrupt arrived: the plan stands still until the kernel decides what to do with it. */
    void freeze(long now) {
        frozenProgress = progress(now);
        frozen = true;
    }

    /** Progress as of the last {@link #nextEffectTime} call. */
    private long lastProgress;

    /** Time of the next effect if it has happened by {@code now}, else Long.MAX_VALUE. */
    long nextEffectTime(long now) {
        if (!active || nextEff >= nEff) {
            return Long.MAX_VALUE;
        }
        lastProgress = progress(now);
        return nextEffectTimeAgain();
    }

    /** The same, at the same instant, after an effect was applied (the progress has not changed). */
    long nextEffectTimeAgain() {
        if (nextEff >= nEff) {
            return Long.MAX_VALUE;
        }
        long o = effAt[effIdx[nextEff]];
        return o > lastProgress ? Long.MAX_VALUE : start + o;
    }

    void applyNextEffect(Kernel k, long time) {
        int i = effIdx[nextEff++];
        int outcome = k.applyEffect(cpu, task, act[i], time, certain[i]);
        if (terminal && i == n - 1) {
            terminalOutcome = outcome;
        }
    }

    /**
     * Effects applied so far must be exactly those at or before {@code progress}. Effects come in plan order at
     * rising offsets, so that is: the last applied is at or before it, the next one after it.
     */
    void checkApplied(long progress) {
        boolean lastAppliedDue = nextEff == 0 || effAt[effIdx[nextEff - 1]] <= progress;
        boolean nextNotDue = nextEff == nEff || effAt[effIdx[nextEff]] > progress;
        if (!lastAppliedDue || !nextNotDue) {
            throw new IllegalStateException("cpu " + cpu.id + ": " + nextEff + " effects applied, "
                    + (lastAppliedDue ? "more" : "fewer") + " due at progress " + progress);
        }
    }
}
