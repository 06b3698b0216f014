package dev.javic.guest.kernel;

import dev.javic.sim.CostModel;

import java.util.Arrays;

/**
 * A Linux-4.5-like guest kernel shared by the VM's vCPUs: tasks, per-CPU run queues with CFS, wake-ups
 * (try_to_wake_up with wake_wide / wake_affine, the remote wake list and its reschedule IPI), the load
 * balancer, pipes and process exit / wait. It runs only on CPU operations: each vCPU executes its
 * {@link KernelCpu}, and the kernel's data here is guest memory that all of them share.
 *
 * <p>Every piece of shared state changes at the simulated cycle it would change in step-by-step
 * execution. A vCPU that runs a batch of system calls as one WORK leaves their effects (a message added to
 * a pipe, one taken out) pending in its {@link Plan}; whoever looks at the kernel's data first applies,
 * in time order across all vCPUs, every effect that has happened by now ({@link #catchUp}), reading each
 * vCPU's progress through its guest work-cycle counter. See docs/guest-kernel.md.
 */
public final class Kernel {
    /** NICE_0_LOAD: every task here has nice 0. */
    static final long NICE_0_LOAD = 1024;
    /** sched_nr_latency = sysctl_sched_latency / sysctl_sched_min_granularity. */
    static final int SCHED_NR_LATENCY = 8;
    /** sysctl_sched_nr_migrate. */
    static final int NR_MIGRATE = 32;
    /** sd->imbalance_pct for the top (non-LLC) domain. */
    static final int IMBALANCE_PCT = 125;
    /** sd->cache_nice_tries for a domain above the LLC. */
    static final int CACHE_NICE_TRIES = 1;
    /** sd->busy_factor. */
    static final int BUSY_FACTOR = 32;
    /** The unit of a {@link #createStreamPipe} pipe: 8 KiB writes and 10 KiB reads are whole units, a page holds two. */
    public static final int STREAM_UNIT = 2048;

    /** Receives what user space records and when every task has exited. */
    public interface Listener {
        void note(int id, long time);

        default void allExited(long time) {
        }

        /** Task {@code task} has exited (its CPU has left it), at {@code time}. */
        default void exited(int task, long time) {
        }
    }

    final KernelConfig config;
    final KernelCosts costs;
    final int ncpus;
    final long tickCycles;
    /** sysctl_sched_latency, min_granularity and wakeup_granularity, scaled by 1 + ilog2(ncpus) (update_sysctl). */
    final long latency;
    final long minGranularity;
    final long wakeupGranularity;
    final long migrationCost;
    /** Cheapest possible write and read (the bounds on what another CPU can do in a given time). */
    long minWriteCycles;
    long minReadCycles;
    /**
     * Cheapest read effect of a task that starts running: its read's own pipe_read (or one unit's copy on a
     * stream pipe), the least of what a task switched out can have left before the effect (see
     * KernelCpu.readerMayFindEmpty).
     */
    long minReadEffectCycles;
    final FsCosts fsCosts;
    /** The page cache's writeback and the virtio-blk disk, or null (no workload here does block I/O). */
    BlockLayer block;
    /** Tasks asleep in {@link Action#SLEEP} (their timers, run from the tick of the CPU that armed them). */
    private int[] timers = new int[4];
    private int timerCount;

    Task[] tasks = new Task[16];
    int taskCount;
    private int liveTasks;
    Pipe[] pipes = new Pipe[16];
    int pipeCount;
    final RunQueue[] rqs;
    final KernelCpu[] cpus;
    private Listener listener = (id, time) -> { };
    final KernelStats stats = new KernelStats();
    private boolean started;
    private final int taskCapacity;

    public Kernel(KernelConfig config, CostModel costModel, int taskCapacity) {
        this.config = config;
        this.costs = KernelCosts.from(costModel);
        this.ncpus = config.cpus();
        this.taskCapacity = taskCapacity;
        this.tickCycles = costs.tscHz() / config.hz();
        int factor = 1 + 31 - Integer.numberOfLeadingZeros(Math.min(ncpus, 8));
        this.latency = factor * costs.nsToCycles(6_000_000);
        this.minGranularity = factor * costs.nsToCycles(750_000);
        this.wakeupGranularity = factor * costs.nsToCycles(1_000_000);
        this.migrationCost = costs.nsToCycles(500_000);
        this.tasks = new Task[taskCapacity];
        this.rqs = new RunQueue[ncpus];
        this.dueTimes = new long[ncpus];
        this.cpus = new KernelCpu[ncpus];
        for (int i = 0; i < ncpus; i++) {
            rqs[i] = new RunQueue(i, tasks, taskCapacity);
            rqs[i].balanceIntervalMs = ncpus;
            cpus[i] = new KernelCpu(this, i, taskCapacity);
        }
        this.minWriteCycles = Math.max(1, costs.syscall() + costs.pipeWrite());
        this.minReadCycles = Math.max(1, costs.syscall() + costs.pipeRead());
        this.minReadEffectCycles = Math.max(1, costs.pipeRead());
        this.fsCosts = FsCosts.from(costModel);
    }

    public void setListener(Listener l) {
        this.listener = l;
    }

    /** The program vCPU {@code i} runs. */
    public KernelCpu cpu(int i) {
        return cpus[i];
    }

    public int cpuCount() {
        return ncpus;
    }

    public KernelStats stats() {
        return stats;
    }

    public KernelConfig config() {
        return config;
    }

    // ---- building the workload's processes (before the vCPUs start) ----------------------------------------

    public int createPipe(int messageBytes) {
        if (pipeCount == pipes.length) {
            pipes = Arrays.copyOf(pipes, pipeCount * 2);
        }
        pipes[pipeCount] = new Pipe(pipeCount, messageBytes);
        return pipeCount++;
    }

    /**
     * A pipe for long writes and reads (xz's 8 KiB writes, tar's 10 KiB reads), counted in 2 KiB units so that
     * both are whole units and a page holds two: a write is {@link Action#write} then {@link Action#writeMore}
     * per further unit, a read likewise. The bounds on how fast other CPUs move data now count a single unit's copy.
     */
    public int createStreamPipe() {
        minWriteCycles = Math.max(1, Math.min(minWriteCycles, fsCosts.pipeCopyUnit()));
        minReadCycles = Math.max(1, Math.min(minReadCycles, fsCosts.pipeCopyUnit()));
        minReadEffectCycles = Math.max(1, Math.min(minReadEffectCycles, fsCosts.pipeCopyUnit()));
        return createPipe(STREAM_UNIT);
    }

    /**
     * Attaches a virtio-blk disk and the page-cache writeback that feeds it (see {@link BlockLayer}).
     *
     * @param vector           its request-queue interrupt vector
     * @param notifyPort       VIRTIO_PCI_QUEUE_NOTIFY of its legacy I/O BAR
     * @param queueSize        virtqueue size
     * @param maxRequestBytes  largest request the block layer builds
     * @param journalPerInode  journal bytes a created file or directory dirties
     */
    public BlockLayer attachBlockDevice(int vector, int notifyPort, int queueSize, long maxRequestBytes, long journalPerInode) {
        if (started) {
            throw new IllegalStateException("devices are attached before the vCPUs start");
        }
        block = new BlockLayer(ncpus, vector, notifyPort, queueSize, maxRequestBytes, journalPerInode);
        return block;
    }

    public BlockLayer blockLayer() {
        return block;
    }

    public Pipe pipe(int id) {
        return pipes[id];
    }

    /** Declares the task that reads {@code pipe} (what bounds how fast it can be drained). */
    public void setReader(int pipe, int task) {
        pipes[pipe].readerTask = task;
    }

    /** A runnable task on {@code cpu}'s run queue (placed as fork balancing would have put it). */
    public int createRunnableTask(String name, TaskProgram program, int cpu, int parent) {
        Task t = newTask(name, program, cpu, parent);
        t.state = Task.State.RUNNABLE;
        RunQueue rq = rqs[cpu];
        t.vruntime = rq.minVruntime;
        enqueueEntityLoadAvg(rq, t, 0); // wake_up_new_task -> enqueue: a new task is attached here
        enqueueEntity(rq, t);
        return t.id;
    }

    /**
     * A task already asleep in its first action, a poll() on a pipe (hackbench's children waiting for the
     * start signal), last run on {@code cpu}.
     */
    public int createTaskPolling(String name, TaskProgram program, int cpu, int parent) {
        Task t = newTask(name, program, cpu, parent);
        t.ensureCurrent();
        if (Action.kind(t.action) != Action.POLL) {
            throw new IllegalArgumentException(name + ": the first action must be a poll, got " + Action.describe(t.action));
        }
        Pipe p = pipes[(int) Action.arg(t.action)];
        if (p.messages() > 0) {
            throw new IllegalStateException("the poll would not sleep: " + p);
        }
        t.state = Task.State.SLEEPING;
        t.doneInAction = t.userCycles;
        t.retry = true;
        t.sleepingOnPipe = p.id;
        p.addWaiter(t.id);
        // PELT: forked onto this CPU (attach_entity_load_avg at time 0) and asleep since: its blocked load stays
        // in the cfs_rq's avg, its runnable contribution was removed when it slept.
        RunQueue rq = rqs[cpu];
        t.peltDetached = false;
        t.avg.lastUpdateTime = rq.avg.lastUpdateTime;
        rq.avg.loadAvg += t.avg.loadAvg;
        rq.avg.loadSum += t.avg.loadSum;
        return t.id;
    }

    private Task newTask(String name, TaskProgram program, int cpu, int parent) {
        if (started) {
            throw new IllegalStateException("tasks are created before the vCPUs start");
        }
        if (taskCount == tasks.length) {
            throw new IllegalStateException("more than " + tasks.length + " tasks");
        }
        Task t = new Task(taskCount, name, program, config.maxPlanOps() + 2);
        t.cpu = cpu;
        t.parent = parent;
        tasks[taskCount++] = t;
        liveTasks++;
        return t;
    }

    void markStarted() {
        started = true;
    }

    public int taskCount() {
        return taskCount;
    }

    public boolean taskExited(int task) {
        return tasks[task].state == Task.State.DEAD;
    }

    public int taskCpu(int task) {
        return tasks[task].cpu;
    }

    public long taskCpuCycles(int task) {
        return tasks[task].cpuCycles;
    }

    // ---- applying effects in time order -------------------------------------------------------------------

    /**
     * Brings the kernel's shared data up to {@code now}: applies, earliest first (ties: lower CPU first),
     * every pending effect of every vCPU's plan that its vCPU has executed by now.
     */
    void catchUp(long now) {
        KernelCpu[] cs = cpus;
        int n = cs.length;
        long[] next = dueTimes;
        boolean any = false;
        for (int i = 0; i < n; i++) {
            long t = cs[i].plan.nextEffectTime(now);
            next[i] = t;
            any |= t != Long.MAX_VALUE;
        }
        while (any) {
            int best = -1;
            long bestTime = Long.MAX_VALUE;
            for (int i = 0; i < n; i++) {
                if (next[i] < bestTime) {
                    bestTime = next[i];
                    best = i;
                }
            }
            if (best < 0) {
                return;
            }
            Plan p = cs[best].plan;
            p.applyNextEffect(this, bestTime);
            next[best] = p.nextEffectTimeAgain();
        }
    }

    private final long[] dueTimes;

    /**
     * The effect of one action of {@code t}, run on {@code cpu}, at {@code time}: what its system call does to
     * a pipe, a child or a note. Returns the outcome; woken tasks go to the CPU's wake buffer.
     */
    int applyEffect(KernelCpu cpu, Task t, long action, long time, boolean mustSucceed) {
        int kind = Action.kind(action);
        switch (kind) {
            case Action.WRITE, Action.WRITE_MORE -> {
                Pipe p = pipes[(int) Action.arg(action)];
                if (p.isFull()) {
                    check(!mustSucceed, t, action, "the pipe is full");
                    return block(t, p);
                }
                p.write();
                stats.messagesWritten++;
                if (p.waiters() > 0) {
                    check(!mustSucceed, t, action, "the write wakes sleepers");
                    return wake(cpu, p);
                }
                return Task.OUTCOME_DONE;
            }
            case Action.READ, Action.READ_MORE -> {
                Pipe p = pipes[(int) Action.arg(action)];
                if (p.messages() == 0) {
                    check(!mustSucceed, t, action, "the pipe is empty");
                    return block(t, p);
                }
                boolean released = p.read();
                stats.messagesRead++;
                if (released && p.waiters() > 0) {
                    check(!mustSucceed, t, action, "the read wakes sleepers");
                    return wake(cpu, p);
                }
                return Task.OUTCOME_DONE;
            }
            case Action.POLL -> {
                Pipe p = pipes[(int) Action.arg(action)];
                return p.messages() > 0 ? Task.OUTCOME_DONE : block(t, p);
            }
            case Action.WAIT_CHILD -> {
                Task child = tasks[(int) Action.arg(action)];
                if (child.state == Task.State.DEAD) {
                    return Task.OUTCOME_DONE;
                }
                t.state = Task.State.SLEEPING;
                t.waitingForChild = child.id;
                return Task.OUTCOME_BLOCKED;
            }
            case Action.EXIT -> {
                t.state = Task.State.DEAD;
                liveTasks--;
                stats.exits++;
                for (int i = 0; i < pipeCount; i++) {
                    if (pipes[i].readerTask == t.id) {
                        pipes[i].readerTask = -1;
                    }
                }
                if (t.parent >= 0) {
                    Task parent = tasks[t.parent];
                    if (parent.waitingForChild == t.id && parent.state == Task.State.SLEEPING) {
                        parent.waitingForChild = -1;
                        cpu.addWakee(parent);
                        return Task.OUTCOME_WOKE;
                    }
                }
                return Task.OUTCOME_DONE;
            }
            case Action.NOTE -> {
                listener.note((int) Action.arg(action), time);
                return Task.OUTCOME_DONE;
            }
            case Action.FS -> {
                return fsEffect(cpu, t, action, mustSucceed);
            }
            case Action.WAIT_DIRTY -> {
                if (block.dirtyBytes >= Action.arg(action)) {
                    return Task.OUTCOME_DONE;
                }
                t.state = Task.State.SLEEPING;
                block.dirtyWaiter = t.id;
                block.dirtyThreshold = Action.arg(action);
                return Task.OUTCOME_BLOCKED;
            }
            case Action.SUBMIT_IO -> {
                int n = block.requestsFor(Action.arg(action));
                if (n == 0) {
                    return Task.OUTCOME_DONE;
                }
                if (block.inFlight + n > block.queueSize()) {
                    return waitForIo(t, block.queueSize() - n); // blk_mq_get_tag sleeps until enough tags are free
                }
                block.submit(Action.arg(action), cpu.id);
                return Task.OUTCOME_KICK;
            }
            case Action.WAIT_IO -> {
                if (block.inFlight <= Action.arg(action)) {
                    return Task.OUTCOME_DONE;
                }
                return waitForIo(t, (int) Action.arg(action));
            }
            case Action.SLEEP -> {
                if (t.timerFired) {
                    t.timerFired = false;
                    return Task.OUTCOME_DONE;
                }
                t.state = Task.State.SLEEPING;
                t.timerAt = time + Action.arg(action);
                t.timerCpu = cpu.id;
                if (timerCount == timers.length) {
                    timers = Arrays.copyOf(timers, timerCount * 2);
                }
                timers[timerCount++] = t.id;
                return Task.OUTCOME_BLOCKED;
            }
            default -> {
                return Task.OUTCOME_DONE;
            }
        }
    }

    /** tar's file-system calls: creations dirty journal metadata, writes dirty page-cache bytes and may wake the flusher. */
    private int fsEffect(KernelCpu cpu, Task t, long action, boolean mustSucceed) {
        BlockLayer b = block;
        switch (Action.fsOp(action)) {
            case Action.FS_CREATE -> {
                b.filesCreated++;
                b.journalBytes += b.journalBytesPerInode;
            }
            case Action.FS_MKDIR -> {
                b.dirsCreated++;
                b.journalBytes += b.journalBytesPerInode;
            }
            case Action.FS_WRITE -> {
                long bytes = Action.fsBytes(action);
                b.bytesWritten += bytes;
                b.dirtyBytes += bytes;
                if (b.dirtyWaiter >= 0 && b.dirtyBytes >= b.dirtyThreshold) {
                    check(!mustSucceed, t, action, "the write wakes the flusher");
                    Task w = tasks[b.dirtyWaiter];
                    b.dirtyWaiter = -1;
                    cpu.addWakee(w);
                    return Task.OUTCOME_WOKE;
                }
            }
            default -> { }
        }
        return Task.OUTCOME_DONE;
    }

    private int waitForIo(Task t, int limit) {
        BlockLayer b = block;
        if (b.ioWaiterCount == b.ioWaiters.length) {
            throw new IllegalStateException("more than " + b.ioWaiters.length + " threads wait for block I/O");
        }
        t.state = Task.State.SLEEPING;
        b.ioWaiters[b.ioWaiterCount] = t.id;
        b.ioLimits[b.ioWaiterCount++] = limit;
        return Task.OUTCOME_BLOCKED;
    }

    /** Block requests completed on {@code cpu} (blk_mq_end_request): wakes the threads whose wait is over, oldest first. */
    void blockCompleted(KernelCpu cpu, int requests, long now) {
        BlockLayer b = block;
        b.inFlight -= requests;
        b.completions += requests;
        for (int i = 0; i < b.ioWaiterCount; ) {
            if (b.inFlight <= b.ioLimits[i]) {
                int w = b.ioWaiters[i];
                for (int j = i + 1; j < b.ioWaiterCount; j++) {
                    b.ioWaiters[j - 1] = b.ioWaiters[j];
                    b.ioLimits[j - 1] = b.ioLimits[j];
                }
                b.ioWaiterCount--;
                cpu.wakeFromInterrupt(w, now);
            } else {
                i++;
            }
        }
    }

    /** run_timer_softirq on {@code cpu}'s tick: wakes the tasks whose schedule_timeout armed there has expired. */
    void runTimers(KernelCpu cpu, long now) {
        for (int i = 0; i < timerCount; ) {
            Task t = tasks[timers[i]];
            if (t.timerCpu == cpu.id && t.timerAt <= now) {
                timers[i] = timers[--timerCount];
                t.timerAt = -1;
                t.timerFired = true;
                cpu.wakeFromInterrupt(t.id, now);
            } else {
                i++;
            }
        }
    }

    private static void check(boolean ok, Task t, long action, String why) {
        if (!ok) {
            throw new IllegalStateException("batched " + Action.describe(action) + " of " + t
                    + " was planned as certain, but " + why + ": a batching bound is wrong");
        }
    }

    private int block(Task t, Pipe p) {
        t.state = Task.State.SLEEPING;
        t.sleepingOnPipe = p.id;
        p.addWaiter(t.id);
        return Task.OUTCOME_BLOCKED;
    }

    private int wake(KernelCpu cpu, Pipe p) {
        int from = cpu.wakeeCount;
        int to = p.takeWaiters(cpu.wakees, from);
        cpu.wakeeCount = from;
        for (int i = from; i < to; i++) {
            Task w = tasks[cpu.wakees[i]];
            w.sleepingOnPipe = -1;
            cpu.addWakee(w);
        }
        return Task.OUTCOME_WOKE;
    }

    void taskExitedCompletely(int task, long now) {
        listener.exited(task, now);
        if (liveTasks == 0) {
            listener.allExited(now);
        }
    }

    int liveTasks() {
        return liveTasks;
    }

    // ---- CFS ----------------------------------------------------------------------------------------------

    /** update_curr: charge the running task for the time since it last was. */
    void updateCurr(RunQueue rq, long now) {
        if (rq.curr < 0) {
            return;
        }
        Task c = tasks[rq.curr];
        long delta = now - c.execStart;
        if (delta <= 0) {
            return;
        }
        c.execStart = now;
        c.sumExec += delta;
        c.cpuCycles += delta;
        c.vruntime += delta; // calc_delta_fair with NICE_0_LOAD is the identity
        updateMinVruntime(rq);
    }

    void updateMinVruntime(RunQueue rq) {
        long v = rq.minVruntime;
        boolean have = false;
        if (rq.curr >= 0) {
            v = tasks[rq.curr].vruntime;
            have = true;
        }
        int left = rq.leftmost();
        if (left >= 0) {
            long lv = tasks[left].vruntime;
            v = have ? Math.min(v, lv) : lv;
        }
        rq.minVruntime = Math.max(rq.minVruntime, v);
    }

    /** enqueue_entity without a wake-up (fork placement, migration): account and insert. */
    private void enqueueEntity(RunQueue rq, Task t) {
        t.cpu = rq.cpu;
        t.enqueueSeq = rq.enqueueCounter++;
        rq.insert(t);
        updateMinVruntime(rq);
    }

    /** ttwu_do_activate: enqueue a woken task (vruntime renormalised, place_entity) and check preemption. */
    void activate(RunQueue rq, Task t, long now) {
        // enqueue_entity (kernel/sched/fair.c, 4.5) with ENQUEUE_WAKEUP | ENQUEUE_WAKING (ttwu_do_activate):
        // "Update the normalized vruntime before updating min_vruntime through calling update_curr()", i.e.
        // the task_waking_fair-relative vruntime is made absolute with the queue's min_vruntime as it was
        // *before* update_curr charges the current task; place_entity then uses the updated min_vruntime.
        if (t.vruntimeRelative) {
            t.vruntime += rq.minVruntime;
            t.vruntimeRelative = false;
        }
        updateCurr(rq, now);
        enqueueEntityLoadAvg(rq, t, now);
        long floor = rq.minVruntime - latency / 2; // place_entity, GENTLE_FAIR_SLEEPERS
        t.vruntime = Math.max(t.vruntime, floor);
        t.state = Task.State.RUNNABLE;
        enqueueEntity(rq, t);
        stats.wakeups++;
        checkPreemptWakeup(rq, t, now);
    }

    /** check_preempt_wakeup. */
    private void checkPreemptWakeup(RunQueue rq, Task p, long now) {
        if (rq.curr < 0) {
            rq.needResched = true; // the idle task is preempted by anything
            return;
        }
        if (rq.needResched) {
            return;
        }
        Task curr = tasks[rq.curr];
        updateCurr(rq, now);
        if (wakeupPreemptEntity(curr, p) == 1) {
            rq.nextBuddy = p.id;
            rq.needResched = true;
            stats.wakeupPreemptions++;
            if (rq.nrRunning() >= SCHED_NR_LATENCY) {
                rq.lastBuddy = curr.id;
            }
        }
    }

    /** wakeup_preempt_entity: 1 when {@code se} should preempt {@code curr}. */
    int wakeupPreemptEntity(Task curr, Task se) {
        long vdiff = curr.vruntime - se.vruntime;
        if (vdiff <= 0) {
            return -1;
        }
        return vdiff > wakeupGranularity ? 1 : 0;
    }

    /** sched_slice for a task among {@code nr} of equal weight. */
    long sliceFor(int nr) {
        long period = nr > SCHED_NR_LATENCY ? nr * minGranularity : latency;
        return period / Math.max(1, nr);
    }

    /** check_preempt_tick, from the scheduler tick. */
    void checkPreemptTick(RunQueue rq, long now) {
        if (rq.curr < 0 || rq.nrRunning() <= 1) {
            return;
        }
        updateCurr(rq, now);
        Task curr = tasks[rq.curr];
        long ideal = sliceFor(rq.nrRunning());
        long deltaExec = curr.sumExec - curr.prevSumExec;
        if (deltaExec > ideal) {
            rq.needResched = true;
            clearBuddies(rq, curr.id);
            stats.tickPreemptions++;
            return;
        }
        if (deltaExec < minGranularity) {
            return;
        }
        int left = rq.leftmost();
        if (left < 0) {
            return;
        }
        long delta = curr.vruntime - tasks[left].vruntime;
        if (delta > ideal) {
            rq.needResched = true;
            stats.tickPreemptions++;
        }
    }

    private static void clearBuddies(RunQueue rq, int task) {
        if (rq.nextBuddy == task) {
            rq.nextBuddy = -1;
        }
        if (rq.lastBuddy == task) {
            rq.lastBuddy = -1;
        }
    }

    /** Whether {@code task} is some CPU's current task (picked by schedule(), not yet switched out). */
    boolean isCurrentOnSomeCpu(int task) {
        for (RunQueue rq : rqs) {
            if (rq.curr == task) {
                return true;
            }
        }
        return false;
    }

    /**
     * __schedule on {@code rq}: put the previous task back (or let it sleep / die), pick the next with
     * pick_next_entity's buddy rules, newly-idle balance when nothing is left. Returns the task to run, or -1
     * for idle; {@code balanceWork[0]} receives the cycles a newly-idle balance took.
     */
    int schedule(RunQueue rq, long now, long[] balanceWork) {
        updateCurr(rq, now);
        int prevId = rq.curr;
        if (prevId >= 0) {
            Task prev = tasks[prevId];
            if (prev.state != Task.State.RUNNING) {
                // deactivate_task -> dequeue_entity: update_curr, then dequeue_entity_load_avg while prev is still
                // cfs_rq->curr and counted in cfs_rq->load.
                dequeueEntityLoadAvg(rq, prev, now);
                if (prev.state == Task.State.DEAD) {
                    removeEntityLoadAvg(rq, prev); // task_dead_fair
                }
            }
            rq.curr = -1;
            if (prev.state == Task.State.RUNNING) {
                prev.state = Task.State.RUNNABLE;
                rq.insert(prev);
            } else {
                clearBuddies(rq, prevId); // dequeue_entity
            }
        }
        rq.needResched = false;
        int next = pickNext(rq);
        if (next < 0) {
            balanceWork[0] = newIdleBalance(rq, now);
            next = pickNext(rq);
        }
        if (next >= 0) {
            Task n = tasks[next];
            if (next != prevId) {
                // pick_next_task_fair: put_prev_entity (update_load_avg(prev, 0) if prev is still on the queue),
                // set_next_entity (update_load_avg(se, 1)); nothing when prev is picked again.
                if (prevId >= 0 && tasks[prevId].state == Task.State.RUNNABLE) {
                    updateLoadAvg(rq, tasks[prevId], now);
                }
                updateLoadAvg(rq, n, now);
            }
            rq.remove(n);
            rq.curr = next;
            n.state = Task.State.RUNNING;
            n.execStart = now;
            n.prevSumExec = n.sumExec;
            if (next != prevId) {
                stats.contextSwitches++;
                n.contextSwitches++;
            }
        } else if (prevId >= 0) {
            stats.contextSwitches++;
        }
        updateMinVruntime(rq);
        return next;
    }

    /** pick_next_entity with the last and next buddies. */
    private int pickNext(RunQueue rq) {
        int left = rq.leftmost();
        if (left < 0) {
            rq.nextBuddy = -1;
            rq.lastBuddy = -1;
            return -1;
        }
        int se = left;
        Task l = tasks[left];
        if (isQueued(rq, rq.lastBuddy) && wakeupPreemptEntity(tasks[rq.lastBuddy], l) < 1) {
            se = rq.lastBuddy;
        }
        if (isQueued(rq, rq.nextBuddy) && wakeupPreemptEntity(tasks[rq.nextBuddy], l) < 1) {
            se = rq.nextBuddy;
        }
        clearBuddies(rq, se);
        if (!isQueued(rq, rq.nextBuddy)) {
            rq.nextBuddy = -1;
        }
        if (!isQueued(rq, rq.lastBuddy)) {
            rq.lastBuddy = -1;
        }
        return se;
    }

    boolean isQueued(RunQueue rq, int task) {
        return task >= 0 && tasks[task].heapIndex >= 0 && tasks[task].cpu == rq.cpu;
    }

    // ---- wake-ups -------------------------------------------------------------------------------------------

    /** select_task_rq_fair for a wake-up of {@code p} by {@code waker} on {@code cpu} (WF_SYNC). */
    int selectTaskRq(int cpu, Task waker, Task p, long now) {
        if (waker != null) {
            recordWakee(waker, p, now);
        }
        int prev = p.cpu;
        boolean wide = waker != null && wakeWide(waker, p);
        int target = prev;
        if (!wide && cpu != prev && wakeAffine(cpu, prev, waker, p)) {
            target = cpu;
            stats.affineWakeups++;
        }
        // select_idle_sibling: with no cache shared between vCPUs (each its own socket) sd_llc spans one CPU,
        // so the choice stays the target.
        return target;
    }

    /** record_wakee: wakee_flips counts switches between wakees, halved once a second. */
    private void recordWakee(Task waker, Task p, long now) {
        long jiffies = now / tickCycles;
        if (jiffies > waker.wakeeFlipDecayTs + config.hz()) {
            waker.wakeeFlips >>= 1;
            waker.wakeeFlipDecayTs = jiffies;
        }
        if (waker.lastWakee != p.id) {
            waker.lastWakee = p.id;
            waker.wakeeFlips++;
        }
    }

    /** wake_wide with sd_llc_size = 1 (no vCPUs share a cache). */
    private static boolean wakeWide(Task waker, Task p) {
        int master = waker.wakeeFlips;
        int slave = p.wakeeFlips;
        if (master < slave) {
            int t = master;
            master = slave;
            slave = t;
        }
        int factor = 1;
        return !(slave < factor || master < slave * factor);
    }

    /**
     * wake_affine (4.5 kernel/sched/fair.c) for a sync wake-up, on PELT loads. sd->wake_idx is 0 for every
     * domain (sd_init), so source_load(prev_cpu, 0) and target_load(this_cpu, 0) are weighted_cpuload(), the
     * cfs_rq's runnable_load_avg as last updated (not decayed to now). The tasks are in the root task group, so
     * effective_load(tg, cpu, wl, wg) is wl ("the trivial, non-cgroup case"): the sync wake-up subtracts the
     * waker's se.avg.load_avg from this CPU's load and adds nothing to prev's; the wakee weighs its
     * se.avg.load_avg as of its last update (it was not decayed over its sleep). capacity_of() is the same on
     * every vCPU and cancels out.
     */
    private boolean wakeAffine(int thisCpu, int prevCpu, Task waker, Task p) {
        long load = rqs[prevCpu].runnableLoadAvg;     // source_load(prev_cpu, idx)
        long thisLoad = rqs[thisCpu].runnableLoadAvg; // target_load(this_cpu, idx)
        if (waker != null) {                          // sync: this_load += effective_load(tg, this_cpu, -weight, -weight)
            thisLoad -= waker.avg.loadAvg;
        }
        long weight = p.avg.loadAvg;
        long thisEff = 100;
        long prevEff = 100 + (IMBALANCE_PCT - 100) / 2;
        if (thisLoad > 0) {
            thisEff *= thisLoad + weight;             // + effective_load(tg, this_cpu, weight, weight)
            prevEff *= load;                          // + effective_load(tg, prev_cpu, 0, weight) = 0
        }
        return thisEff <= prevEff;                    // balanced
    }

    // ---- PELT (per-entity load tracking, 4.5; see Pelt) ---------------------------------------------------------

    /**
     * cfs_rq_clock_task in ns: the simulated wall time (kvmclock keeps running across exits and only steal time
     * is subtracted, none here; see the Clock bullet of docs/guest-kernel.md).
     */
    long clockNs(long cycles) {
        long hz = costs.tscHz();
        return cycles / hz * 1_000_000_000L + cycles % hz * 1_000_000_000L / hz;
    }

    /** update_cfs_rq_load_avg(now, cfs_rq): apply removed_load_avg, then __update_load_avg with cfs_rq->load. */
    private boolean updateCfsRqLoadAvg(RunQueue rq, long ns) {
        boolean removed = false;
        if (rq.removedLoadAvg != 0) {
            long r = rq.removedLoadAvg;
            rq.removedLoadAvg = 0;
            rq.avg.loadAvg = Math.max(rq.avg.loadAvg - r, 0);
            rq.avg.loadSum = Math.max(rq.avg.loadSum - r * Pelt.LOAD_AVG_MAX, 0);
            removed = true;
        }
        boolean decayed = Pelt.update(ns, rq.avg, rq.nrRunning() * NICE_0_LOAD, rq);
        return decayed || removed;
    }

    /** update_blocked_averages(cpu) without task groups: the root cfs_rq's update_cfs_rq_load_avg. */
    private void updateBlockedAverages(RunQueue rq, long now) {
        updateCfsRqLoadAvg(rq, clockNs(now));
    }

    /** update_load_avg(se, update_tg) for a task on {@code rq}'s queue or running there (se->on_rq = 1). */
    void updateLoadAvg(RunQueue rq, Task t, long now) {
        long ns = clockNs(now);
        Pelt.update(ns, t.avg, NICE_0_LOAD, null);
        updateCfsRqLoadAvg(rq, ns);
    }

    /**
     * enqueue_entity_load_avg: called after update_curr and before account_entity_enqueue (the task is not yet in
     * cfs_rq->load) with se->on_rq = 0, so a sleeper's average decays over its sleep with weight 0; a migrated
     * (or new) task is not decayed but attached as it is (attach_entity_load_avg).
     */
    private void enqueueEntityLoadAvg(RunQueue rq, Task t, long now) {
        long ns = clockNs(now);
        boolean migrated = t.peltDetached;
        if (!migrated) {
            Pelt.update(ns, t.avg, 0, null);
        }
        updateCfsRqLoadAvg(rq, ns);
        rq.runnableLoadAvg += t.avg.loadAvg;
        rq.runnableLoadSum += t.avg.loadSum;
        if (migrated) { // attach_entity_load_avg
            t.avg.lastUpdateTime = rq.avg.lastUpdateTime;
            rq.avg.loadAvg += t.avg.loadAvg;
            rq.avg.loadSum += t.avg.loadSum;
            t.peltDetached = false;
        }
    }

    /** dequeue_entity_load_avg: update_load_avg(se, 1) while still counted, then out of the runnable load. */
    private void dequeueEntityLoadAvg(RunQueue rq, Task t, long now) {
        updateLoadAvg(rq, t, now);
        rq.runnableLoadAvg = Math.max(rq.runnableLoadAvg - t.avg.loadAvg, 0);
        rq.runnableLoadSum = Math.max(rq.runnableLoadSum - t.avg.loadSum, 0);
    }

    /**
     * remove_entity_load_avg (from migrate_task_rq_fair via set_task_cpu, and task_dead_fair): sync the task to
     * its old cfs_rq's last update with weight 0, queue its load for removal there, mark it detached
     * (last_update_time = 0).
     */
    void removeEntityLoadAvg(RunQueue from, Task t) {
        Pelt.update(from.avg.lastUpdateTime, t.avg, 0, null);
        from.removedLoadAvg += t.avg.loadAvg;
        t.peltDetached = true;
    }

    // ---- load balancing ---------------------------------------------------------------------------------------

    /** idle_balance when {@code rq} would go idle: pull from the busiest CPU if any is overloaded. */
    private long newIdleBalance(RunQueue rq, long now) {
        if (ncpus == 1) {
            return 0;
        }
        boolean overload = false;
        for (RunQueue other : rqs) {
            overload |= other.nrRunning() > 1;
        }
        if (!overload) {
            return 0;
        }
        updateBlockedAverages(rq, now); // idle_balance: update_blocked_averages(this_cpu)
        int moved = loadBalance(rq, now);
        stats.newIdleBalances++;
        return costs.loadBalance() + moved * costs.migrateTask();
    }

    /** rebalance_domains from the tick: balance when the domain's interval has passed. Returns the cycles spent. */
    long periodicBalance(RunQueue rq, long now, boolean idle) {
        if (ncpus == 1) {
            return 0;
        }
        long intervalMs = rq.balanceIntervalMs * (idle ? 1 : BUSY_FACTOR);
        long interval = Math.min(Math.max(costs.nsToCycles(intervalMs * 1_000_000L), tickCycles), costs.tscHz() / 10);
        if (now - rq.lastBalance < interval) {
            return 0;
        }
        rq.lastBalance = now;
        updateBlockedAverages(rq, now); // rebalance_domains: update_blocked_averages(cpu)
        int moved = loadBalance(rq, now);
        stats.periodicBalances++;
        if (moved > 0) {
            rq.balanceIntervalMs = ncpus;
        } else if (rq.balanceIntervalMs < 2L * ncpus) {
            rq.balanceIntervalMs *= 2;
        }
        return costs.loadBalance() + moved * costs.migrateTask();
    }

    private int[] candidates = new int[64];

    /**
     * load_balance over the one domain: the busiest run queue by runnable tasks, an imbalance of half the
     * difference (needing 125 % of this CPU's load), and detach_tasks' choice among the tasks queued there,
     * most recently enqueued first, skipping cache-hot ones (ran within 0.5 ms) until balancing failed more
     * than cache_nice_tries times.
     */
    private int loadBalance(RunQueue rq, long now) {
        RunQueue busiest = null;
        for (RunQueue other : rqs) {
            if (other != rq && (busiest == null || other.nrRunning() > busiest.nrRunning())) {
                busiest = other;
            }
        }
        int thisN = rq.nrRunning();
        int busyN = busiest.nrRunning();
        if (busyN <= 1 || busiest.queued() == 0 || 100L * busyN <= (long) IMBALANCE_PCT * thisN) {
            return 0;
        }
        int imbalance = Math.max(1, (busyN - thisN) / 2);
        updateCurr(busiest, now);
        int n = busiest.queued();
        if (candidates.length < n) {
            candidates = new int[Math.max(n, candidates.length * 2)];
        }
        for (int i = 0; i < n; i++) {
            candidates[i] = busiest.queuedAt(i);
        }
        sortByEnqueueDescending(candidates, n);
        int loopMax = Math.min(NR_MIGRATE, busyN);
        int moved = 0;
        boolean allHot = true;
        for (int i = 0; i < n && i < loopMax && moved < imbalance; i++) {
            Task p = tasks[candidates[i]];
            boolean hot = now - p.execStart < migrationCost;
            if (hot && busiest.nrBalanceFailed <= CACHE_NICE_TRIES) {
                continue;
            }
            allHot = false;
            // detach_task: deactivate_task (dequeue_entity_load_avg), set_task_cpu (remove_entity_load_avg);
            // attach_task: activate_task (enqueue_entity_load_avg of a migrated task).
            dequeueEntityLoadAvg(busiest, p, now);
            busiest.remove(p);
            removeEntityLoadAvg(busiest, p);
            clearBuddies(busiest, p.id);
            p.vruntime -= busiest.minVruntime;
            p.vruntime += rq.minVruntime;
            updateCurr(rq, now);
            enqueueEntityLoadAvg(rq, p, now);
            enqueueEntity(rq, p);
            checkPreemptWakeup(rq, p, now);
            moved++;
            stats.migrations++;
        }
        if (moved == 0 && allHot) {
            busiest.nrBalanceFailed++;
        } else if (moved > 0) {
            busiest.nrBalanceFailed = 0;
        }
        return moved;
    }

    private void sortByEnqueueDescending(int[] a, int n) {
        for (int i = 1; i < n; i++) {
            int x = a[i];
            long key = tasks[x].enqueueSeq;
            int j = i - 1;
            while (j >= 0 && tasks[a[j]].enqueueSeq < key) {
                a[j + 1] = a[j];
                j--;
            }
            a[j + 1] = x;
        }
    }
}
