package dev.javic.workload.netperf;

import dev.javic.host.HostCpu;
import dev.javic.host.HostScheduler;
import dev.javic.host.HostThread;
import dev.javic.kvm.Vm;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.sim.SimEvent;
import dev.javic.sim.Simulator;

/**
 * The {@code vhost-<pid>} kernel thread of one virtio-net device (drivers/vhost/{vhost,net}.c): one worker
 * for both queues. It sleeps until work is queued: a TX kick through the ioeventfd (the guest's notify
 * exit), or the tap socket's wake-up when the host sends a packet towards the guest.
 * <ul>
 * <li>handle_tx: take the guest's descriptors, tun_sendmsg; the tap -> bridge -> host TCP receive path runs
 *     in this thread's context (netif_rx_ni) and wakes the netserver ({@code host.net.rx_path}).</li>
 * <li>handle_rx: copy the packet into the guest's RX buffers, then vhost_signal -> irqfd -> the APIC accept
 *     path of the system under test ({@link Vm#injectDeviceIrqFrom}: legacy IRR + kick, or AVIC IRR +
 *     doorbell / wake_up), from this thread's CPU.</li>
 * </ul>
 * Each item is one stretch of host work (one event), followed by the cycles its wake-ups and injection cost.
 */
public final class VhostNet extends HostThread {
    private final HostScheduler scheduler;
    private final Simulator sim;
    private final Vm vm;
    private final int vector;
    private final long txCycles;
    private final long rxCycles;
    private final long wakeupCost;
    private Netserver netserver;

    private boolean txPending;
    private boolean rxPending;
    private boolean preempt;
    private int item;
    private final SimEvent workDone = SimEvent.of("vhost-work", now -> workDone());
    private final SimEvent loop = SimEvent.of("vhost-loop", now -> loop());

    public long txItems;
    public long rxItems;
    public long signals;

    public VhostNet(String comm, int pid, int affinity, HostScheduler scheduler, Vm vm, int vector, CostModel costs) {
        super(comm, pid, affinity);
        this.scheduler = scheduler;
        this.sim = scheduler.machine().simulator();
        this.vm = vm;
        this.vector = vector;
        this.txCycles = costs.get(Cost.HOST_VHOST_TX) + costs.get(Cost.HOST_NET_RX_PATH);
        this.rxCycles = costs.get(Cost.HOST_VHOST_RX) + costs.get(Cost.HOST_VHOST_SIGNAL);
        this.wakeupCost = costs.get(Cost.HOST_WAKEUP);
    }

    void connect(Netserver n) {
        this.netserver = n;
    }

    /** The TX ioeventfd was signalled (from a vCPU's IOIO exit on {@code fromCpu}); returns the waker's cost. */
    public long kickTx(int fromCpu) {
        txPending = true;
        return wake(fromCpu);
    }

    /** tun_net_xmit queued a packet for the guest on the tap socket: vhost's RX poll is woken. */
    long packetForGuest(int fromCpu) {
        rxPending = true;
        return wake(fromCpu);
    }

    private long wake(int fromCpu) {
        return scheduler.wakeUp(this, fromCpu) ? wakeupCost : 0;
    }

    @Override
    protected void run(HostCpu cpu) {
        loop();
    }

    /** vhost_worker: run queued work, else sleep. */
    private void loop() {
        if (preempt) {
            preempt = false;
            scheduler.yieldCpu(this);
            return;
        }
        if (txPending) {
            txPending = false;
            item = 1;
            sim.scheduleAfter(workDone, txCycles);
        } else if (rxPending) {
            rxPending = false;
            item = 2;
            sim.scheduleAfter(workDone, rxCycles);
        } else {
            scheduler.block(this);
        }
    }

    private void workDone() {
        int cpu = cpu().id();
        long extra;
        if (item == 1) {
            txItems++;
            extra = netserver.requestArrived(cpu); // sk_data_ready on netserver's socket
        } else {
            rxItems++;
            signals++;
            extra = vm.injectDeviceIrqFrom(cpu, 0, vector);
        }
        item = 0;
        sim.scheduleAfter(loop, extra);
    }

    @Override
    protected void preemptRequested() {
        preempt = true;
    }
}
