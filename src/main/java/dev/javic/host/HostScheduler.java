package dev.javic.host;

import dev.javic.hw.Machine;
import dev.javic.sim.Cost;
import dev.javic.sim.Simulator;
import dev.javic.trace.Tracer;

/**
 * The host scheduler: per-CPU FIFO run queues, threads pinned by affinity (vCPU threads pinned one
 * per CPU by default), wake-ups that bring an idle CPU out of idle after the wake-up latency (with a
 * reschedule IPI when the waker is another CPU), context switches with their cost, and timeslice
 * preemption when more than one thread wants a CPU.
 */
public final class HostScheduler {
    private final Machine machine;
    private final Simulator sim;
    private final Tracer tracer;
    private final HostCpu[] cpus;
    private final long wakeupLatency;
    private final long contextSwitch;
    private final long timeslice;
    private long contextSwitches;
    private long wakeups;

    public HostScheduler(Machine machine) {
        this.machine = machine;
        this.sim = machine.simulator();
        this.tracer = machine.tracer();
        this.wakeupLatency = machine.costs().get(Cost.HOST_WAKEUP_LATENCY);
        this.contextSwitch = machine.costs().get(Cost.HOST_CONTEXT_SWITCH);
        this.timeslice = machine.costs().get(Cost.HOST_TIMESLICE);
        this.cpus = new HostCpu[machine.coreCount()];
        for (int i = 0; i < cpus.length; i++) {
            cpus[i] = new HostCpu(i, machine.core(i), this);
        }
    }

    public HostCpu cpu(int id) {
        return cpus[id];
    }

    public int cpuCount() {
        return cpus.length;
    }

    public Machine machine() {
        return machine;
    }

    public long contextSwitches() {
        return contextSwitches;
    }

    public long wakeups() {
        return wakeups;
    }

    /** Makes a new thread runnable for the first time. */
    public void start(HostThread thread) {
        if (thread.affinity() >= cpus.length) {
            throw new IllegalArgumentException(thread + " pinned to cpu " + thread.affinity() + " of " + cpus.length);
        }
        thread.cpu = cpus[Math.max(thread.affinity(), 0)];
        enqueue(thread, -1);
    }

    /**
     * {@code try_to_wake_up}: a blocked thread becomes runnable on its CPU. Returns false when it was
     * not blocked. {@code wakerCpu} is the CPU doing the wake-up, or -1 for a wake-up from outside
     * the CPUs (a device).
     */
    public boolean wakeUp(HostThread thread, int wakerCpu) {
        if (thread.state != HostThread.State.BLOCKED) {
            return false;
        }
        wakeups++;
        enqueue(thread, wakerCpu);
        return true;
    }

    private void enqueue(HostThread thread, int wakerCpu) {
        HostCpu target = thread.affinity() >= 0 ? cpus[thread.affinity()] : thread.cpu;
        thread.cpu = target;
        thread.state = HostThread.State.RUNNABLE;
        tracer.schedWakeup(wakerCpu < 0 ? target.id() : wakerCpu, thread.comm(), thread.pid(), target.id());
        target.runQueue.addLast(thread);
        if (target.isIdle()) {
            if (wakerCpu >= 0 && wakerCpu != target.id()) {
                tracer.ipiRaise(wakerCpu, target.id(), "Rescheduling interrupts");
            }
            HostThread next = target.runQueue.pollFirst();
            target.incoming = next;
            sim.scheduleAfter(target.switchIn, wakeupLatency);
        } else if (!target.sliceEnd.isScheduled() && target.current != null) {
            sim.schedule(target.sliceEnd, Math.max(sim.now(), target.current.sliceStart + timeslice));
        }
    }

    void completeSwitchIn(HostCpu cpu) {
        HostThread next = cpu.incoming;
        cpu.incoming = null;
        HostThread prev = cpu.current;
        cpu.current = next;
        next.state = HostThread.State.RUNNING;
        next.sliceStart = sim.now();
        if (prev == null) {
            tracer.schedSwitch(cpu.id(), cpu.idleComm(), 0, "R", next.comm(), next.pid());
        }
        if (!cpu.runQueue.isEmpty() && !cpu.sliceEnd.isScheduled()) {
            sim.schedule(cpu.sliceEnd, sim.now() + timeslice);
        }
        next.run(cpu);
    }

    /** The running thread blocks (sleeps until {@link #wakeUp}); the CPU runs the next thread or idles. */
    public void block(HostThread thread) {
        switchOut(thread, HostThread.State.BLOCKED, "S");
    }

    /** The running thread gives the CPU to the next runnable thread and goes to the back of the queue. */
    public void yieldCpu(HostThread thread) {
        if (thread.cpu.runQueue.isEmpty()) {
            thread.sliceStart = sim.now();
            thread.run(thread.cpu);
            return;
        }
        switchOut(thread, HostThread.State.RUNNABLE, "R");
        thread.cpu.runQueue.addLast(thread);
    }

    private void switchOut(HostThread thread, HostThread.State newState, String traceState) {
        HostCpu cpu = thread.cpu;
        if (cpu.current != thread) {
            throw new IllegalStateException(thread + " is not running on cpu " + cpu.id());
        }
        thread.state = newState;
        cpu.current = null;
        sim.cancel(cpu.sliceEnd);
        HostThread next = cpu.runQueue.pollFirst();
        if (next == null) {
            tracer.schedSwitch(cpu.id(), thread.comm(), thread.pid(), traceState, cpu.idleComm(), 0);
            return;
        }
        contextSwitches++;
        tracer.schedSwitch(cpu.id(), thread.comm(), thread.pid(), traceState, next.comm(), next.pid());
        cpu.incoming = next;
        sim.scheduleAfter(cpu.switchIn, contextSwitch);
    }

    void sliceEnded(HostCpu cpu) {
        if (cpu.current != null && !cpu.runQueue.isEmpty()) {
            cpu.current.preemptRequested();
        }
    }
}
