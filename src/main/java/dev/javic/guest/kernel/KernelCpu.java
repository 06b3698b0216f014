package dev.javic.guest.kernel;

import dev.javic.guest.GuestApic;
import dev.javic.guest.GuestKernel;
import dev.javic.guest.OpQueue;
import dev.javic.hw.GuestProgram;
import dev.javic.hw.OpKind;
import dev.javic.hw.Operation;

/**
 * What one vCPU executes: the guest kernel's code on that CPU, as CPU operations. Boot (APIC set-up and
 * the periodic LAPIC timer), the idle loop ({@code cli; check; sti; hlt}), running the current task's
 * actions as WORK, wake-ups with their reschedule IPIs (xAPIC ICR writes), the reschedule IPI and timer
 * interrupt handlers, and preemption on interrupt return ({@link Operation#IRET_TO_NEW_CONTEXT}).
 *
 * <p>Two contexts, each a short queue of operations and a continuation that refills it: the task (or
 * idle) context, and the interrupt handler's. Interrupts do not nest: handlers run with IF = 0.
 */
public final class KernelCpu implements GuestProgram {
    // Linux x86 vectors (arch/x86/include/asm/irq_vectors.h).
    public static final int LOCAL_TIMER_VECTOR = 0xEF;
    public static final int RESCHEDULE_VECTOR = 0xFD;
    public static final int CALL_FUNCTION_SINGLE_VECTOR = 0xFB;
    /** APIC timer: divide by 16 (__setup_APIC_LVTT), KVM's bus at 1 GHz. */
    static final int TIMER_DIVIDE = 16;
    /** The cost of the NOTE action (a vDSO clock read), in cycles. */
    static final long NOTE_CYCLES = 50;

    private static final int TASK = 0;
    private static final int IRQ = 1;

    // Continuations.
    private static final int C_BOOT = 1;
    private static final int C_BOOT_DONE = 2;
    private static final int C_SCHEDULE = 3;
    private static final int C_RUN = 4;
    private static final int C_PLAN_DONE = 5;
    private static final int C_AFTER_PLAN = 6;
    private static final int C_AFTER_OUTCOME = 7;
    private static final int C_TTWU_WORK = 8;
    private static final int C_TTWU_DO = 9;
    private static final int C_IDLE_ENTER = 10;
    private static final int C_IDLE_LOOP = 11;
    private static final int C_IDLE_CHECK = 12;
    private static final int C_TICK = 20;
    private static final int C_IPI_TAKE = 21;
    private static final int C_IPI_ACTIVATE = 22;
    private static final int C_IRQ_EXIT = 23;
    private static final int C_BLK_IRQ = 24;
    private static final int C_BLK_DONE = 25;
    private static final int C_CSD_TAKE = 26;
    private static final int C_PV_EOI = 27;

    final Kernel k;
    final int id;
    final RunQueue rq;
    final Plan plan;
    Operation op;

    private final OpQueue[] queue = {new OpQueue(), new OpQueue()};
    private final GuestApic apic = new GuestApic();
    private final int[] cont = {C_BOOT, 0};
    private int ctx = TASK;
    private boolean awaitingNewContext;

    /** Tasks a wake-up (or an exit) of this CPU's task must try_to_wake_up. */
    int[] wakees;
    private final int[] wakeeGens;
    int wakeeCount;
    private int wakeeNext;
    private final int[] ipiTaken;
    private int ipiTakenCount;
    private final long[] balanceWork = new long[1];
    /** Block requests this CPU's interrupt handler completes now (its own, or those another CPU queued here). */
    private int blkDone;

    // The planner's per-pipe bookkeeping (writes and reads planned so far, the read cursor's page).
    private int[] planWrites = new int[16];
    private int[] planReads = new int[16];
    private int[] readPage = new int[16];
    private int[] readLeft = new int[16];
    /** The plan whose bookkeeping a pipe's entries hold: entries of an older plan are stale (reset lazily). */
    private int[] planOfPipe = new int[16];
    private int planNumber = 1;

    public long interruptsTaken;

    KernelCpu(Kernel k, int id, int taskCapacity) {
        this.k = k;
        this.id = id;
        this.rq = k.rqs[id];
        this.plan = new Plan(this, k, k.config.maxPlanOps() + 2);
        this.wakees = new int[taskCapacity];
        this.wakeeGens = new int[taskCapacity];
        this.ipiTaken = new int[taskCapacity];
    }

    @Override
    public boolean finished() {
        return false;
    }

    // ---- the CPU's entry points -----------------------------------------------------------------------------

    @Override
    public void next(Operation op, long now) {
        this.op = op;
        k.catchUp(now);
        if (awaitingNewContext) {
            awaitingNewContext = false;
            resumeInterruptedPlan(now);
        }
        for (int guard = 0; guard < 1_000_000; guard++) {
            int c = ctx;
            if (!queue[c].isEmpty()) {
                if (queue[c].takeInto(op) == OpKind.IRET && c == IRQ) {
                    ctx = TASK;
                }
                return;
            }
            queue[c].clear();
            step(c, now);
        }
        throw new IllegalStateException("cpu " + id + ": the kernel issued no operation");
    }

    @Override
    public void interrupt(int vector, long now) {
        if (ctx == IRQ) {
            throw new IllegalStateException("cpu " + id + ": interrupt " + vector + " inside a handler");
        }
        k.catchUp(now);
        interruptsTaken++;
        k.stats.interrupts++;
        if (plan.active && !plan.frozen) {
            plan.freeze(now);
        }
        ctx = IRQ;
        queue[IRQ].clear();
        if (k.block != null && vector == k.block.vector) {
            // handle_edge_irq: the APIC is acked first, then virtblk_done reaps the used ring.
            k.block.interrupts++;
            eoiThen(0, C_BLK_IRQ);
            return;
        }
        switch (vector) {
            case LOCAL_TIMER_VECTOR -> {
                k.stats.timerInterrupts++;
                eoiThen(k.costs.irqEntryExit() + k.costs.timerTick(), C_TICK);
            }
            case RESCHEDULE_VECTOR -> {
                k.stats.reschedInterrupts++;
                eoiThen(0, C_IPI_TAKE);
            }
            case CALL_FUNCTION_SINGLE_VECTOR -> eoiThen(0, C_CSD_TAKE);
            case GuestKernel.SPURIOUS_VECTOR -> cont[IRQ] = C_IRQ_EXIT;
            default -> {
                if (vector >= 32) {
                    eoiThen(0, C_IRQ_EXIT);
                } else {
                    cont[IRQ] = C_IRQ_EXIT;
                }
            }
        }
    }

    /**
     * The handler's EOI (apic->eoi_write), then {@code work} and continuation {@code next}. With PV EOI the
     * test of the word comes first and the handler goes on once its result is known ({@link #C_PV_EOI}).
     */
    private void eoiThen(long work, int next) {
        cont[IRQ] = apic.eoiThen(queue[IRQ], work, next, C_PV_EOI);
    }

    // ---- operation queues ---------------------------------------------------------------------------------

    private void emit(int c, OpKind kind, long address, long value) {
        queue[c].add(kind, address, value);
    }

    private void emitWork(int c, long cycles) {
        queue[c].addWork(cycles);
    }

    // ---- continuations --------------------------------------------------------------------------------------

    private void step(int c, long now) {
        int what = cont[c];
        switch (what) {
            case C_BOOT -> {
                long periodNs = 1_000_000_000L / k.config.hz();
                // KVM's APIC bus counts at 1 GHz
                if (apic.boot(queue[TASK], op, id, LOCAL_TIMER_VECTOR, TIMER_DIVIDE, periodNs / TIMER_DIVIDE,
                        GuestKernel.pvEoiWord(id))) {
                    cont[TASK] = C_BOOT_DONE;
                }
            }
            case C_BOOT_DONE -> {
                k.markStarted();
                emit(TASK, OpKind.STI, 0, 0);
                cont[TASK] = rq.queued() > 0 ? C_SCHEDULE : C_IDLE_ENTER;
            }
            case C_SCHEDULE -> schedule(now);
            case C_RUN -> runTask(now);
            case C_PLAN_DONE -> {
                k.catchUp(now);
                finalizePlan(plan.total);
                cont[TASK] = C_AFTER_PLAN;
            }
            case C_AFTER_PLAN -> afterPlan(now);
            case C_AFTER_OUTCOME -> afterOutcome(now);
            case C_TTWU_WORK -> {
                if (wakeeNext < wakeeCount) {
                    emitWork(TASK, k.costs.ttwu());
                    cont[TASK] = C_TTWU_DO;
                } else {
                    wakeeCount = 0;
                    wakeeNext = 0;
                    emit(TASK, OpKind.STI, 0, 0);
                    cont[TASK] = C_AFTER_OUTCOME;
                }
            }
            case C_TTWU_DO -> {
                int i = wakeeNext++;
                if (owesWakeUp(i)) {
                    ttwuOne(k.tasks[wakees[i]], now);
                }
                cont[TASK] = C_TTWU_WORK;
            }
            case C_IDLE_ENTER -> {
                emitWork(TASK, k.costs.idleEnter());
                cont[TASK] = C_IDLE_LOOP;
            }
            case C_IDLE_LOOP -> {
                emit(TASK, OpKind.CLI, 0, 0);
                cont[TASK] = C_IDLE_CHECK;
            }
            case C_IDLE_CHECK -> idleCheck();
            case C_TICK -> tick(now);
            case C_IPI_TAKE -> {
                ipiTakenCount = 0;
                for (int i = rq.wakeListCount - 1; i >= 0; i--) { // llist_del_all: newest first
                    ipiTaken[ipiTakenCount++] = rq.wakeList[i];
                }
                rq.wakeListCount = 0;
                emitWork(IRQ, k.costs.irqEntryExit() + ipiTakenCount * k.costs.schedIpiPerTask());
                cont[IRQ] = C_IPI_ACTIVATE;
            }
            case C_IPI_ACTIVATE -> {
                for (int i = 0; i < ipiTakenCount; i++) {
                    k.activate(rq, k.tasks[ipiTaken[i]], now);
                }
                ipiTakenCount = 0;
                cont[IRQ] = C_IRQ_EXIT;
            }
            case C_PV_EOI -> {
                if (apic.finishEoi(queue[IRQ], op.result)) {
                    k.stats.pvEoisTaken++;
                }
                cont[IRQ] = apic.afterEoi();
            }
            case C_BLK_IRQ -> blockInterrupt();
            case C_BLK_DONE -> {
                k.blockCompleted(this, blkDone, now);
                blkDone = 0;
                cont[IRQ] = C_IRQ_EXIT;
            }
            case C_CSD_TAKE -> {
                // generic_smp_call_function_single_interrupt: the completions other CPUs' interrupts queued here.
                BlockLayer b = k.block;
                blkDone = b.remoteRequests[id];
                long bytes = b.remoteBytes[id];
                b.remoteRequests[id] = 0;
                b.remoteBytes[id] = 0;
                FsCosts f = k.fsCosts;
                emitWork(IRQ, k.costs.irqEntryExit() + blkDone * f.completeRequest() + FsCosts.pages(bytes) * f.endPage());
                cont[IRQ] = C_BLK_DONE;
            }
            case C_IRQ_EXIT -> {
                if (plan.active) {
                    // Return to a task through the scheduler's path: the CPU hands back what was left of the
                    // WORK, and the kernel resumes, re-plans or preempts the task (preemption at IRQ exit).
                    emit(IRQ, OpKind.IRET, 0, Operation.IRET_TO_NEW_CONTEXT);
                    awaitingNewContext = true;
                } else {
                    emit(IRQ, OpKind.IRET, 0, 0);
                }
                cont[IRQ] = 0;
            }
            default -> throw new IllegalStateException("cpu " + id + ": no continuation in context " + c);
        }
    }

    /**
     * virtblk_done: reap the used ring; blk-mq completes each request on the CPU that submitted it, so a request
     * of another CPU (which shares no cache with this one) is queued on its call_single_queue with an IPI when
     * that queue was empty (blk_mq_ipi_complete_request, QUEUE_FLAG_SAME_COMP); this CPU's own are completed here.
     */
    private void blockInterrupt() {
        BlockLayer b = k.block;
        int n = b.vq.reap();
        long localBytes = 0;
        blkDone = 0;
        FsCosts f = k.fsCosts;
        long work = k.costs.irqEntryExit() + f.blkIrq();
        for (int i = 0; i < n; i++) {
            long bytes = b.oldestBytes();
            int cpu = b.popCompleted();
            if (cpu == id) {
                blkDone++;
                localBytes += bytes;
            } else {
                b.remoteCompletions++;
                if (b.remoteRequests[cpu]++ == 0) {
                    sendIpi(IRQ, cpu, CALL_FUNCTION_SINGLE_VECTOR);
                }
                b.remoteBytes[cpu] += bytes;
            }
        }
        emitWork(IRQ, work + blkDone * f.completeRequest() + FsCosts.pages(localBytes) * f.endPage());
        cont[IRQ] = C_BLK_DONE;
    }

    /**
     * A fixed IPI from context {@code c} in flat logical mode, as smp_send_reschedule / the call-function IPIs do
     * it: wait for ICR idle, ICR2 = the target's logical mask, ICR = vector.
     */
    private void sendIpi(int c, int target, int vector) {
        if (vector == RESCHEDULE_VECTOR) {
            k.stats.reschedIpisSent++;
        } else {
            k.stats.callFunctionIpisSent++;
        }
        emitWork(c, k.costs.ipiSend());
        apic.sendIpi(queue[c], target, vector);
    }

    private void schedule(long now) {
        balanceWork[0] = 0;
        int prev = rq.curr;
        int next = k.schedule(rq, now, balanceWork);
        long work = balanceWork[0];
        if (prev >= 0 || next >= 0) {
            work += k.costs.schedule();
        }
        emitWork(TASK, work);
        cont[TASK] = next >= 0 ? C_RUN : C_IDLE_ENTER;
    }

    private void idleCheck() {
        if (rq.needResched || rq.queued() > 0) {
            emit(TASK, OpKind.STI, 0, 0);
            emitWork(TASK, k.costs.idleExit());
            cont[TASK] = C_SCHEDULE;
        } else {
            // default_idle: the polling flag is clear, so wakers must send an IPI; STI's shadow covers HLT.
            emit(TASK, OpKind.STI, 0, 0);
            emit(TASK, OpKind.HLT, 0, 0);
            k.stats.halts++;
            cont[TASK] = C_IDLE_LOOP;
        }
    }

    private void tick(long now) {
        // scheduler_tick: update_curr and check_preempt_tick; trigger_load_balance -> rebalance_domains.
        k.updateCurr(rq, now);
        if (rq.curr >= 0) {
            k.updateLoadAvg(rq, k.tasks[rq.curr], now); // entity_tick: update_load_avg(curr, 1)
        }
        k.checkPreemptTick(rq, now);
        long work = k.periodicBalance(rq, now, rq.curr < 0);
        k.runTimers(this, now);
        emitWork(IRQ, work);
        cont[IRQ] = C_IRQ_EXIT;
    }

    // ---- running a task ------------------------------------------------------------------------------------

    private Task current() {
        return k.tasks[rq.curr];
    }

    private void runTask(long now) {
        Task t = current();
        t.ensureCurrent();
        if (rq.needResched && inUserMode(t)) {
            cont[TASK] = C_SCHEDULE; // preemption point on the return to user space
            return;
        }
        plan(t, now);
        if (plan.total == 0) {
            cont[TASK] = C_PLAN_DONE;
            return;
        }
        k.stats.plans++;
        k.stats.plannedActions += plan.n;
        if (k.config.batching()) {
            emitWork(TASK, plan.total);
        } else {
            long at = 0;
            for (int i = 0; i < plan.n; i++) {
                long e = plan.effAt[i];
                if (e > at) {
                    emitWork(TASK, e - at);
                    at = e;
                }
                long end = Math.min(plan.endAt[i], plan.total);
                if (end > at) {
                    emitWork(TASK, end - at);
                    at = end;
                }
            }
        }
        cont[TASK] = C_PLAN_DONE;
    }

    private boolean inUserMode(Task t) {
        int kind = Action.kind(t.action);
        if (!Action.isSyscall(kind)) {
            return true;
        }
        return !t.retry && !t.effectDone && (t.doneInAction == 0 || t.doneInAction < userCycles(t, kind));
    }

    private long userCycles(Task t, int kind) {
        return switch (kind) {
            case Action.COMPUTE, Action.NOTE, Action.WRITE_MORE, Action.READ_MORE, Action.WAIT_DIRTY, Action.SUBMIT_IO,
                 Action.WAIT_IO, Action.SLEEP -> 0;
            default -> t.userCycles;
        };
    }

    private long opCycles(int kind, long action) {
        return switch (kind) {
            case Action.WRITE_MORE, Action.READ_MORE -> k.fsCosts.pipeCopyUnit();
            case Action.FS -> k.fsCosts.fs(action);
            case Action.SUBMIT_IO -> k.fsCosts.submit(Action.arg(action), k.block.maxRequestBytes);
            case Action.WRITE -> k.costs.pipeWrite();
            case Action.READ -> k.costs.pipeRead();
            case Action.POLL -> k.costs.poll();
            case Action.WAIT_CHILD -> k.costs.waitReap();
            case Action.EXIT -> k.costs.processExit();
            default -> 0;
        };
    }

    /**
     * Builds the plan: the task's actions from where it is, as long as each is certain and no more than
     * the configured number (one when not batching), stopping at the first uncertain one (the plan then ends
     * at its effect) or at the end of the current action when a reschedule is pending.
     */
    private void plan(Task t, long now) {
        plan.begin(t, now, op.workCycles(now));
        int maxOps = k.config.batching() ? k.config.maxPlanOps() : 1;
        long off = 0;
        for (int i = 0; i < maxOps; i++) {
            long a = t.peek(i);
            int kind = Action.kind(a);
            boolean first = i == 0;
            long done = first ? t.doneInAction : 0;
            boolean effDone = first && t.effectDone;
            long user = userCycles(t, kind);
            long pre;
            long post;
            if (kind == Action.COMPUTE) {
                user = Math.max(1, Action.arg(a));
                pre = 0;
                post = 0;
            } else if (kind == Action.NOTE) {
                user = NOTE_CYCLES;
                pre = 0;
                post = 0;
            } else {
                boolean retry = first && t.retry;
                // The later parts of a long pipe transfer and a kernel thread's work enter no system call.
                boolean inKernel = kind == Action.WRITE_MORE || kind == Action.READ_MORE || Action.isKernelThreadWork(kind);
                pre = (retry || inKernel ? 0 : k.costs.syscallEntry()) + opCycles(kind, a);
                post = kind == Action.EXIT || inKernel ? 0 : k.costs.syscallExit();
            }
            long opStart = off - done;
            long effect = opStart + user + pre;
            long end = opStart + user + pre + post;
            boolean hasEffect = kind != Action.COMPUTE && !effDone;
            if (!hasEffect) {
                plan.add(a, opStart, -1, end, true);
                off = end;
            } else if (isCertain(t, kind, a, effect)) {
                plan.add(a, opStart, effect, end, true);
                off = end;
            } else {
                plan.add(a, opStart, effect, effect, false);
                plan.terminal = true;
                off = effect;
                break;
            }
            if (rq.needResched || off >= k.tickCycles || i + 2 >= t.aheadCapacity()) {
                break;
            }
        }
        plan.total = off;
        resetPlanner();
    }

    /**
     * Whether the effect of {@code action} at plan offset {@code at} (now + at in time) has one outcome
     * whatever other CPUs do meanwhile: it neither blocks nor wakes anyone. Another CPU can write at most one
     * message per cheapest write and the pipe's reader read at most one per cheapest read, so:
     * <ul>
     * <li>a write is certain when nobody waits on the pipe, it keeps room for this plan's writes plus every
     *     write the other CPUs could make by then, and its reader cannot find it empty and sleep by then
     *     ({@link #readerMayFindEmpty});</li>
     * <li>a read is certain when the message is there now, and either it cannot release a page, or nobody
     *     waits and no writer could fill the pipe by then.</li>
     * </ul>
     */
    private boolean isCertain(Task t, int kind, long action, long at) {
        if (kind == Action.NOTE) {
            return true;
        }
        if (kind == Action.FS) {
            return Action.fsOp(action) != Action.FS_WRITE; // only a write can wake another task (the flusher)
        }
        if (kind == Action.WRITE_MORE) {
            kind = Action.WRITE;
        } else if (kind == Action.READ_MORE) {
            kind = Action.READ;
        }
        if (kind != Action.WRITE && kind != Action.READ) {
            return false;
        }
        int pipeId = (int) Action.arg(action);
        Pipe p = k.pipes[pipeId];
        touch(pipeId, p);
        long othersWrites = (long) (k.ncpus - 1) * (at / k.minWriteCycles + 1);
        if (kind == Action.WRITE) {
            if (p.waiters() > 0) {
                return false;
            }
            if (p.freeSlots() < planWrites[pipeId] + 1 + othersWrites) {
                return false;
            }
            int reader = p.readerTask;
            if (reader >= 0 && reader != t.id && readerMayFindEmpty(p, reader, at)) {
                return false;
            }
            planWrites[pipeId]++;
            return true;
        }
        if (planReads[pipeId] + 1 > p.messages()) {
            return false;
        }
        boolean mayRelease = readLeft[pipeId] == 1;
        if (mayRelease && (p.waiters() > 0 || p.freeSlots() <= othersWrites)) {
            return false;
        }
        planReads[pipeId]++;
        if (--readLeft[pipeId] == 0) {
            readPage[pipeId]++;
            readLeft[pipeId] = readPage[pipeId] < p.pages() ? p.pageUnread(readPage[pipeId]) : 0;
        }
        return true;
    }

    /**
     * Whether {@code reader}, the only task that reads {@code p}, could find it empty (and so sleep on it) by
     * plan offset {@code at}: the pipe holds fewer messages than the read attempts it could make by then.
     * <p>
     * A reader that is some CPU's current task may be at its read's effect now, then make one per cheapest
     * read; one message more is kept as margin. A reader that is nobody's current task (runnable on a queue,
     * or asleep: not on this pipe, or the write would be a wake-up) reads nothing until schedule() picks it
     * ({@link Kernel#schedule}, the only place a task becomes current): whatever the path (its CPU's task
     * blocks, yields or is preempted at IRQ exit or the return to user space, an idle CPU leaves idle, or it is
     * first woken by another CPU's write, an effect at now or later), the pick is at now or later, and
     * schedule()'s WORK ({@code guest.schedule}) runs before the task's plan starts. In that plan its first
     * read effect lies at least one pipe_read (one unit's copy on a stream pipe) in, because a task leaves its
     * CPU only (a) preempted in user mode (no system call entered: entry + pipe_read ahead, or a whole
     * READ_MORE unit), (b) blocked, retrying with the pipe_read still ahead ({@code doneInAction} is its user
     * part), or (c) before it ever ran; its action state does not change while it is not current, and a
     * later action's read has at least as much ahead. So its attempts lie at
     * {@code guest.schedule + minReadEffectCycles} or later, one per cheapest read, and as each finds a
     * message when there are at least as many as attempts (only it takes messages out), no margin is needed.
     * <p>
     * A reader queued on this CPU's run queue is later still: this CPU runs the plan until {@code at}, and if
     * an interrupt stops it first, the rest of the plan (this write with it) is planned anew. Only another
     * CPU's load_balance can take the reader before then (newly idle in schedule(), or from the tick, then
     * schedule() after the handler), moving it at that instant and running {@code guest.load_balance} plus
     * {@code guest.migrate_task} for it before its schedule().
     */
    private boolean readerMayFindEmpty(Pipe p, int reader, long at) {
        if (k.isCurrentOnSomeCpu(reader)) {
            return p.messages() < at / k.minReadCycles + 2;
        }
        long first = k.costs.schedule() + k.minReadEffectCycles;
        if (k.isQueued(rq, reader)) {
            first += k.costs.loadBalance() + k.costs.migrateTask();
        }
        long attempts = at < first ? 0 : (at - first) / k.minReadCycles + 1;
        return p.messages() < attempts;
    }

    private void touch(int pipeId, Pipe p) {
        if (pipeId >= planWrites.length) {
            int n = Math.max(pipeId + 1, planWrites.length * 2);
            planWrites = java.util.Arrays.copyOf(planWrites, n);
            planReads = java.util.Arrays.copyOf(planReads, n);
            readPage = java.util.Arrays.copyOf(readPage, n);
            readLeft = java.util.Arrays.copyOf(readLeft, n);
            planOfPipe = java.util.Arrays.copyOf(planOfPipe, n);
        }
        if (planOfPipe[pipeId] != planNumber) {
            planOfPipe[pipeId] = planNumber;
            planWrites[pipeId] = 0;
            planReads[pipeId] = 0;
            readPage[pipeId] = 0;
            readLeft[pipeId] = p.pages() > 0 ? p.pageUnread(0) : 0;
        }
    }

    /** Makes every pipe's bookkeeping stale at once. */
    private void resetPlanner() {
        if (++planNumber == 0) { // wrapped: no stale entry may look current
            java.util.Arrays.fill(planOfPipe, 0);
            planNumber = 1;
        }
    }

    /**
     * The plan stopped at {@code progress} (it ran to its end, or an interrupt stopped it): the task moves
     * past the actions it completed and keeps how far it got into the next.
     */
    private void finalizePlan(long progress) {
        plan.checkApplied(progress);
        Task t = plan.task;
        int n = plan.n;
        int completed = 0;
        while (completed < n && !(plan.terminal && completed == n - 1) && progress >= plan.endAt[completed]) {
            completed++;
        }
        if (completed > 0) {
            t.finishActions(completed);
            if (completed < n) {
                t.ensureCurrent(); // the next planned action becomes current, fresh
            }
        }
        if (completed < n) {
            int i = completed;
            boolean terminalOp = plan.terminal && i == n - 1;
            long e = plan.effAt[i];
            long stop = terminalOp ? Math.min(progress, e) : progress;
            t.doneInAction = stop - plan.startAt[i];
            if (e >= 0 && progress >= e) {
                t.effectDone = true;
                if (terminalOp) {
                    t.outcome = plan.terminalOutcome;
                }
            }
        }
        plan.active = false;
    }

    /** After IRET_TO_NEW_CONTEXT: the interrupted plan ends where it was frozen. */
    private void resumeInterruptedPlan(long now) {
        if (!plan.active) {
            return;
        }
        finalizePlan(plan.frozenProgress);
        queue[TASK].clear();
        cont[TASK] = C_AFTER_PLAN;
    }

    private void afterPlan(long now) {
        Task t = plan.task;
        if (t.hasAction && t.effectDone && t.outcome != Task.OUTCOME_NONE) {
            int outcome = t.outcome;
            t.outcome = Task.OUTCOME_NONE;
            switch (outcome) {
                case Task.OUTCOME_WOKE -> {
                    emit(TASK, OpKind.CLI, 0, 0); // try_to_wake_up holds p->pi_lock with interrupts off
                    wakeeNext = 0;
                    cont[TASK] = C_TTWU_WORK;
                    return;
                }
                case Task.OUTCOME_KICK -> {
                    // virtio_queue_rq -> virtqueue_notify: iowrite16(queue index, VIRTIO_PCI_QUEUE_NOTIFY).
                    k.block.kicks++;
                    emit(TASK, OpKind.OUTW, k.block.notifyPort, BlockLayer.QUEUE_INDEX);
                    cont[TASK] = C_AFTER_OUTCOME;
                    return;
                }
                case Task.OUTCOME_BLOCKED -> {
                    t.effectDone = false;
                    t.retry = true;
                    t.doneInAction = userCycles(t, Action.kind(t.action));
                    if (t.state == Task.State.SLEEPING) {
                        cont[TASK] = C_SCHEDULE; // schedule() with the task off the run queue
                    } else {
                        t.state = Task.State.RUNNING; // woken before it could sleep: it retries at once
                        cont[TASK] = C_RUN;
                    }
                    return;
                }
                default -> { }
            }
        }
        cont[TASK] = C_AFTER_OUTCOME;
    }

    private void afterOutcome(long now) {
        Task t = plan.task;
        if (t.state == Task.State.DEAD) {
            k.taskExitedCompletely(t.id, now);
            cont[TASK] = C_SCHEDULE;
            return;
        }
        cont[TASK] = C_RUN;
    }

    /** try_to_wake_up for one task a pipe operation or an exit woke (the select, enqueue or IPI part). */
    private void ttwuOne(Task p, long now) {
        if (k.rqs[p.cpu].curr == p.id) {
            p.state = Task.State.RUNNING; // ttwu_remote: still on its CPU, not yet asleep
            return;
        }
        selectAndQueue(p, rq.curr >= 0 ? k.tasks[rq.curr] : null, TASK, now);
    }

    /**
     * The rest of try_to_wake_up once {@code p} is known to be off its CPU: task_waking_fair, select_task_rq_fair
     * ({@code waker} null for a wake-up from an interrupt: no sync hint), set_task_cpu, then ttwu_queue: a local
     * enqueue, or (no cache shared with the target) the target's wake list and a reschedule IPI if it was empty,
     * sent from context {@code c}.
     */
    private void selectAndQueue(Task p, Task waker, int c, long now) {
        RunQueue prq = k.rqs[p.cpu];
        p.vruntime -= prq.minVruntime; // task_waking_fair
        p.vruntimeRelative = true;
        int target = k.selectTaskRq(id, waker, p, now);
        if (target != p.cpu) {
            k.removeEntityLoadAvg(prq, p); // set_task_cpu -> migrate_task_rq_fair
        }
        p.cpu = target;
        if (target == id) {
            k.activate(rq, p, now);
            return;
        }
        RunQueue trq = k.rqs[target];
        trq.wakeList[trq.wakeListCount++] = p.id;
        if (trq.wakeListCount == 1) {
            sendIpi(c, target, RESCHEDULE_VECTOR);
        }
    }


    /**
     * try_to_wake_up from an interrupt handler or the timer softirq on this CPU (a block completion, an expired
     * schedule_timeout): no waker task, no sync hint (select_task_rq_fair's wake_affine on loads alone), and a
     * wake-up on another CPU goes through its wake list with a reschedule IPI sent from the handler.
     */
    void wakeFromInterrupt(int taskId, long now) {
        Task p = k.tasks[taskId];
        if (p.state != Task.State.SLEEPING) {
            return;
        }
        if (k.rqs[p.cpu].curr == p.id) {
            p.state = Task.State.RUNNING; // ttwu_remote: still on its CPU, not yet switched out
            return;
        }
        p.state = Task.State.WAKING;
        p.wakeGen++; // any try_to_wake_up still owed for an earlier wake-up of p is stale now
        selectAndQueue(p, null, IRQ, now);
    }

    /**
     * A wake-up took {@code t} off a wait queue: it is WAKING and this CPU owes it a try_to_wake_up, which runs
     * after the waker's system call (C_TTWU_WORK). The entry carries the task's wake generation: if the task
     * was meanwhile found still running by its own CPU, blocked again and was woken by someone else, this entry
     * is stale and does nothing (Linux's ttwu runs inside the wake-up, under p->pi_lock, so it cannot see a
     * later sleep).
     */
    /** Whether wakee entry {@code i} is still the task's latest wake-up, not yet done (see {@link #addWakee}). */
    boolean owesWakeUp(int i) {
        Task p = k.tasks[wakees[i]];
        return p.state == Task.State.WAKING && p.wakeGen == wakeeGens[i];
    }

    void addWakee(Task t) {
        t.state = Task.State.WAKING;
        t.wakeGen++;
        wakeeGens[wakeeCount] = t.wakeGen;
        wakees[wakeeCount++] = t.id;
    }

    @Override
    public String toString() {
        return "cpu" + id;
    }
}
