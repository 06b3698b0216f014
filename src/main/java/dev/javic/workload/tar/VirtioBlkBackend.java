package dev.javic.workload.tar;

import dev.javic.guest.kernel.Virtqueue;
import dev.javic.kvm.Vm;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.sim.SimEvent;
import dev.javic.sim.Simulator;

/**
 * QEMU's virtio-blk back end as the 2016 defaults run it: the main-loop thread wakes on the queue's ioeventfd
 * (the guest's kick, an IOIO exit), pops the requests from the virtqueue in guest memory and hands each to
 * the AIO thread pool ({@code aio=threads}, {@code cache=writeback}: a pwritev into the host page cache); the
 * disk here is that path's service time, one request after another. A finished request wakes the main loop,
 * which pushes it to the used ring and signals the guest through the irqfd from its host CPU: the APIC accept
 * path of the system under test ({@link Vm#injectDeviceIrqFrom}, legacy IRR + kick or AVIC IRR + doorbell /
 * wake_up).
 *
 * <p>The main loop is a timeline of its own (wake-up latency, then its work one item after another), not a
 * thread on the host scheduler: its CPU time (~15 us per request, a few ms in a whole run) is not taken from
 * the vCPU that shares its core. Taking it would pause that vCPU's guest work without the guest seeing an
 * interrupt, which the guest kernel model's batching does not allow (docs/tar.md).
 */
public final class VirtioBlkBackend {
    private final Simulator sim;
    private final Vm vm;
    private final Virtqueue vq;
    private final int vector;
    private final int irqVcpu;
    private final long handleCycles;
    private final long completeCycles;
    private final long latency;
    private final long perKib;
    private final long wakeupCost;
    private final long wakeupLatency;
    private final int hostCpu;

    private boolean kicked;
    /** The main loop is awake (working, or about to be after its wake-up). */
    private boolean awake;
    /** Requests the disk is serving or has finished, in order: their finish times. */
    private final long[] doneAt;
    private int head;
    private int count;
    /** Finished requests the main loop has not completed yet. */
    private int finished;
    private long diskFreeAt;
    private final SimEvent diskDone = SimEvent.of("virtio-blk-disk", now -> diskDone());
    private final SimEvent handled = SimEvent.of("virtio-blk-handled", now -> loop());
    private final SimEvent completed = SimEvent.of("virtio-blk-completed", now -> completed());

    /**
     * @param hostCpu  the host core the main loop runs on (whence its irqfd signal goes out)
     * @param irqVcpu  the vCPU the request queue's MSI is aimed at
     */
    public VirtioBlkBackend(Simulator sim, int hostCpu, Vm vm, Virtqueue vq, int vector, int irqVcpu, CostModel costs) {
        this.sim = sim;
        this.hostCpu = hostCpu;
        this.vm = vm;
        this.vq = vq;
        this.vector = vector;
        this.irqVcpu = irqVcpu;
        this.handleCycles = costs.get(Cost.HOST_BLK_HANDLE_REQUEST);
        this.completeCycles = costs.get(Cost.HOST_BLK_COMPLETE);
        this.latency = costs.get(Cost.DEVICE_BLK_LATENCY);
        this.perKib = costs.get(Cost.DEVICE_BLK_PER_KIB);
        this.wakeupCost = costs.get(Cost.HOST_WAKEUP);
        this.wakeupLatency = costs.get(Cost.HOST_WAKEUP_LATENCY);
        this.doneAt = new long[vq.size()];
    }

    /** The queue's ioeventfd was signalled from a vCPU's IOIO exit on {@code fromCpu}; returns the waker's cost. */
    public long kick(int fromCpu) {
        kicked = true;
        return wake() ? wakeupCost : 0;
    }

    /** Wakes the main loop from ppoll; false when it is awake already. */
    private boolean wake() {
        if (awake) {
            return false;
        }
        awake = true;
        sim.scheduleAfter(handled, wakeupLatency);
        return true;
    }

    /** The main loop: new requests first, then finished ones, else sleep in ppoll. */
    private void loop() {
        if (kicked) {
            kicked = false;
            int n = vq.available();
            if (n > 0) {
                long t = sim.now() + n * handleCycles;
                for (int i = 0; i < n; i++) {
                    long b = vq.pop();
                    int slot = (head + count) & (doneAt.length - 1);
                    diskFreeAt = Math.max(diskFreeAt, t) + latency + (b + 1023) / 1024 * perKib;
                    doneAt[slot] = diskFreeAt;
                    count++;
                }
                if (!diskDone.isScheduled() && finished < count) {
                    sim.schedule(diskDone, doneAt[(head + finished) & (doneAt.length - 1)]);
                }
                sim.schedule(handled, t);
                return;
            }
        }
        if (finished > 0) {
            finished--;
            head = (head + 1) & (doneAt.length - 1);
            count--;
            sim.scheduleAfter(completed, completeCycles);
            return;
        }
        awake = false;
    }

    /** The disk finished the oldest request it holds: the AIO completion wakes the main loop. */
    private void diskDone() {
        finished++;
        wake();
        int next = finished;
        if (next < count) {
            sim.schedule(diskDone, doneAt[(head + next) & (doneAt.length - 1)]);
        }
    }

    /** virtio_blk_rw_complete: used ring, then virtio_notify through the irqfd from this thread's CPU. */
    private void completed() {
        vq.push();
        long extra = vm.injectDeviceIrqFrom(hostCpu, irqVcpu, vector);
        sim.scheduleAfter(handled, extra);
    }
}
