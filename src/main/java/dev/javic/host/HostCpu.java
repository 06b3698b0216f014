package dev.javic.host;

import dev.javic.hw.HostHandler;
import dev.javic.hw.SvmCore;
import dev.javic.sim.SimEvent;

import java.util.ArrayDeque;

/**
 * One physical CPU as the host kernel sees it: its SVM core, the thread running on it, its run queue,
 * and the per-CPU events of the scheduler (switch-in, end of timeslice).
 */
public final class HostCpu implements HostHandler {
    /** Linux x86 vectors: RESCHEDULE_VECTOR, LOCAL_TIMER_VECTOR (arch/x86/include/asm/irq_vectors.h). */
    public static final int RESCHEDULE_VECTOR = 0xFD;
    public static final int LOCAL_TIMER_VECTOR = 0xEC;

    private final int id;
    private final SvmCore core;
    final ArrayDeque<HostThread> runQueue = new ArrayDeque<>();
    HostThread current;
    /** Thread being switched in (the switch-in event is pending). */
    HostThread incoming;
    final SimEvent switchIn;
    final SimEvent sliceEnd;
    private final String idleComm;

    HostCpu(int id, SvmCore core, HostScheduler scheduler) {
        this.id = id;
        this.core = core;
        this.idleComm = "swapper/" + id;
        this.switchIn = SimEvent.of("switch-in cpu" + id, now -> scheduler.completeSwitchIn(this));
        this.sliceEnd = SimEvent.of("slice-end cpu" + id, now -> scheduler.sliceEnded(this));
        core.setHostHandler(this);
    }

    public int id() {
        return id;
    }

    public SvmCore core() {
        return core;
    }

    /** The running thread, or null when idle. */
    public HostThread current() {
        return current;
    }

    public boolean isIdle() {
        return current == null && incoming == null;
    }

    String idleComm() {
        return idleComm;
    }

    @Override
    public void vmexit(SvmCore c) {
        if (!(current instanceof GuestModeThread g)) {
            throw new IllegalStateException("#VMEXIT on cpu " + id + " with no vCPU thread running: " + current);
        }
        g.vmexit();
    }

    @Override
    public void interrupt(SvmCore c, int vector) {
        if (current != null) {
            current.hostInterrupt(vector);
        }
    }
}
