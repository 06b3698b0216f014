package dev.javic.workload.netperf;

import dev.javic.host.HostCpu;
import dev.javic.host.HostScheduler;
import dev.javic.host.HostThread;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.sim.SimEvent;
import dev.javic.sim.Simulator;

/**
 * netserver's data connection on the host (netperf {@code recv_omni}): recv() 1 byte, send() 1 byte, repeat.
 * It sleeps in recv until the request's segment reaches its socket (woken from vhost's TX path); the reply
 * goes through host TCP, the bridge and tun_net_xmit, which wakes vhost's RX side.
 */
public final class Netserver extends HostThread {
    private final HostScheduler scheduler;
    private final Simulator sim;
    private final VhostNet vhost;
    private final long cycles;
    private final long wakeupCost;
    private int requests;
    private boolean preempt;
    private final SimEvent replied = SimEvent.of("netserver-reply", now -> replied());
    private final SimEvent loop = SimEvent.of("netserver-loop", now -> loop());

    public long replies;

    public Netserver(String comm, int pid, int affinity, HostScheduler scheduler, VhostNet vhost, CostModel costs) {
        super(comm, pid, affinity);
        this.scheduler = scheduler;
        this.sim = scheduler.machine().simulator();
        this.vhost = vhost;
        this.cycles = costs.get(Cost.NETSERVER_USER_PER_TRANSACTION) + costs.get(Cost.HOST_NETSERVER_RECV)
                + costs.get(Cost.HOST_NETSERVER_SEND) + costs.get(Cost.HOST_NET_TX_PATH);
        this.wakeupCost = costs.get(Cost.HOST_WAKEUP);
        vhost.connect(this);
    }

    /** The request is in netserver's socket (tcp_rcv_established -> sk_data_ready); returns the waker's cost. */
    long requestArrived(int fromCpu) {
        requests++;
        return scheduler.wakeUp(this, fromCpu) ? wakeupCost : 0;
    }

    @Override
    protected void run(HostCpu cpu) {
        loop();
    }

    private void loop() {
        if (preempt) {
            preempt = false;
            scheduler.yieldCpu(this);
            return;
        }
        if (requests > 0) {
            requests--;
            sim.scheduleAfter(replied, cycles);
        } else {
            scheduler.block(this); // recv() sleeps in sk_wait_data
        }
    }

    private void replied() {
        replies++;
        long extra = vhost.packetForGuest(cpu().id());
        sim.scheduleAfter(loop, extra);
    }

    @Override
    protected void preemptRequested() {
        preempt = true;
    }
}
