package dev.javic.experiment;

import dev.javic.kvm.VcpuStats;
import dev.javic.sim.CostModel;
import dev.javic.sim.RandomStreams;
import dev.javic.sim.Simulator;
import dev.javic.sim.TieBreak;
import dev.javic.trace.TraceSink;
import dev.javic.workload.netperf.Netserver;
import dev.javic.workload.netperf.NetperfGuest;
import dev.javic.workload.netperf.VhostNet;

import java.util.Map;

/**
 * Runs netperf TCP_RR once on one system: a 1-vCPU guest (netperf over virtio-net) on the series' 4-core
 * host, its {@code vhost-<pid>} thread and a {@code netserver} on the host, the TX kick as an ioeventfd on
 * the legacy virtio-pci notify port, the RX interrupt through an irqfd into the system's injection path.
 *
 * <p>Host placement (docs/netperf.md): a default QEMU/KVM host pins nothing; on an otherwise idle 4-core
 * host each of the three busy threads is woken while the others are busy or about to sleep and CFS's
 * select_idle_sibling puts it on an idle core; this host scheduler does not migrate, so the default is
 * vCPU thread on core 0, vhost on core 1, netserver on core 2 (core 3 idle). {@code Spec} lets a run put
 * them elsewhere (e.g. all on one core).
 */
public final class NetperfRunner {
    public static final int HOST_CPUS = 4;
    private static final long GUEST_RAM = 16L << 20;
    /** Longest seeded start-up delay of netperf: one tick period, so runs' phases against the tick differ. */
    private static final long MAX_START_DELAY_NS = 4_000_000;

    /**
     * @param system        vanilla, avic-off or avic-on
     * @param seconds       netperf -l (simulated seconds of the timed test)
     * @param seed          drives the start-up delay and the simulator's tie-breaks
     * @param vcpuCpu       host core of the vCPU thread
     * @param vhostCpu      host core of the vhost thread
     * @param netserverCpu  host core of netserver
     */
    public record Spec(SystemKind system, double seconds, long seed, CostModel costs, int vcpuCpu, int vhostCpu,
                       int netserverCpu) {
        public Spec {
            if (!(seconds > 0)) {
                throw new IllegalArgumentException("seconds must be positive");
            }
            for (int c : new int[] {vcpuCpu, vhostCpu, netserverCpu}) {
                if (c < 0 || c >= HOST_CPUS) {
                    throw new IllegalArgumentException("host cores are 0.." + (HOST_CPUS - 1) + ": " + c);
                }
            }
        }

        /** The default placement: vCPU 0, vhost 1, netserver 2. */
        public static Spec of(SystemKind system, double seconds, long seed, CostModel costs) {
            return new Spec(system, seconds, seed, costs, 0, 1, 2);
        }
    }

    /** One run's result; times in simulated seconds. */
    public record Outcome(String system, long seed, double transactionsPerSecond, long transactions, double seconds,
                          double simulatedSeconds, long events, long exits, Map<String, Long> exitsByReason,
                          long interruptsDelivered, long netInterrupts, long timerInterrupts, long guestHalts,
                          long guestSleeps, long kicks, long ioeventfdSignals, long vhostSignals, long netserverReplies,
                          long haltExits, long haltWakeups, long doorbells, long hostIpis, long irqInjections,
                          long contextSwitches, long wakeups, long pvEois, long pvEoisTaken) implements BenchRun {
        @Override
        public double value() {
            return transactionsPerSecond;
        }

        @Override
        public double exitsPerSecond() {
            return seconds > 0 ? exits / seconds : 0;
        }

        /** Mean latency of a transaction in microseconds (netperf's RR latency = 1 / rate). */
        public double latencyMicros() {
            return transactionsPerSecond > 0 ? 1e6 / transactionsPerSecond : 0;
        }

        public long exits(String reason) {
            return exitsByReason.getOrDefault(reason, 0L);
        }

        @Override
        public long reschedIpis() {
            return 0;
        }

        @Override
        public long migrations() {
            return 0;
        }
    }

    private NetperfRunner() {
    }

    public static Outcome run(Spec spec) {
        return run(spec, null);
    }

    public static Outcome run(Spec spec, TraceSink sink) {
        SimulatedHost host = new SimulatedHost(spec.system(), spec.costs(), spec.seed(), TieBreak.FIFO, sink, true,
                HOST_CPUS, GUEST_RAM);
        CostModel c = spec.costs();
        RandomStreams random = new RandomStreams(spec.seed());
        long delay = c.nsToCycles(1 + random.stream("netperf.start").nextLong(MAX_START_DELAY_NS));
        long[] window = {-1, -1, 0};
        Simulator sim = host.sim();
        NetperfGuest guest = new NetperfGuest(c, spec.seconds(), delay, new NetperfGuest.Listener() {
            @Override
            public void started(long time) {
                window[0] = time;
            }

            @Override
            public void ended(long time, long transactions) {
                window[1] = time;
                window[2] = transactions;
                sim.stop();
            }
        });
        host.vm().createVcpu(spec.vcpuCpu(), guest);
        int qemuPid = 1000 * 1;
        VhostNet vhost = new VhostNet("vhost-" + qemuPid, qemuPid + 100, spec.vhostCpu(), host.scheduler(), host.vm(),
                NetperfGuest.VIRTIO_NET_VECTOR, c);
        Netserver netserver = new Netserver("netserver", 2000, spec.netserverCpu(), host.scheduler(), vhost, c);
        host.vm().registerIoEventFd(NetperfGuest.NOTIFY_PORT, 2, vhost::kickTx);
        host.scheduler().start(vhost);
        host.scheduler().start(netserver);
        host.vm().start();
        long limit = c.nsToCycles((long) ((spec.seconds() + 10) * 1e9));
        sim.runUntil(limit);
        host.tracer().close();
        if (window[1] < 0) {
            throw new IllegalStateException("netperf did not finish its " + spec.seconds() + " s test ("
                    + guest.transactions() + " transactions)");
        }
        double seconds = c.cyclesToSeconds(window[1] - window[0]);
        VmExitTotals x = VmExitTotals.of(host.vm());
        VcpuStats st = host.vm().vcpu(0).stats();
        return new Outcome(spec.system().label(), spec.seed(), window[2] / seconds, window[2], seconds,
                c.cyclesToSeconds(sim.now()), sim.eventsFired(), x.exits(), x.byReason(), guest.interrupts,
                guest.netInterrupts, guest.timerInterrupts, guest.halts, guest.sleeps, guest.kicks, st.ioeventfdSignals,
                vhost.signals, netserver.replies, st.haltExits, st.haltWakeups, st.doorbellsSent, st.hostIpisSent,
                st.irqInjections, host.scheduler().contextSwitches(), host.scheduler().wakeups(), st.pvEois,
                guest.pvEoisTaken);
    }
}
