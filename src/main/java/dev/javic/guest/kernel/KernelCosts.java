package dev.javic.guest.kernel;

import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;

/**
 * The guest kernel's path lengths in cycles, read once from the cost model (each entry's source is in
 * the preset). The guest runs at the host's TSC rate, so guest cycles and TSC cycles are the same unit.
 */
public record KernelCosts(long tscHz, long syscall, long pipeWrite, long pipeRead, long poll, long schedule, long ttwu,
                          long ipiSend, long irqEntryExit, long schedIpiPerTask, long timerTick, long idleEnter,
                          long idleExit, long loadBalance, long migrateTask, long processExit, long waitReap) {

    public static KernelCosts from(CostModel m) {
        return new KernelCosts(m.tscHz(), m.get(Cost.GUEST_SYSCALL), m.get(Cost.GUEST_PIPE_WRITE),
                m.get(Cost.GUEST_PIPE_READ), m.get(Cost.GUEST_POLL), m.get(Cost.GUEST_SCHEDULE), m.get(Cost.GUEST_TTWU),
                m.get(Cost.GUEST_IPI_SEND), m.get(Cost.GUEST_IRQ_ENTRY_EXIT), m.get(Cost.GUEST_SCHED_IPI_PER_TASK),
                m.get(Cost.GUEST_TIMER_TICK), m.get(Cost.GUEST_IDLE_ENTER), m.get(Cost.GUEST_IDLE_EXIT),
                m.get(Cost.GUEST_LOAD_BALANCE), m.get(Cost.GUEST_MIGRATE_TASK), m.get(Cost.GUEST_PROCESS_EXIT),
                m.get(Cost.GUEST_WAIT_REAP));
    }

    /** System call entry: half of the entry + exit path. */
    long syscallEntry() {
        return syscall / 2;
    }

    long syscallExit() {
        return syscall - syscall / 2;
    }

    long nsToCycles(long ns) {
        return ns * (tscHz / 1_000_000L) / 1000L;
    }
}
