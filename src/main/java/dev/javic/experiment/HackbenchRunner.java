package dev.javic.experiment;

import dev.javic.guest.kernel.Kernel;
import dev.javic.guest.kernel.KernelConfig;
import dev.javic.guest.kernel.KernelStats;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.sim.RandomStreams;
import dev.javic.sim.Simulator;
import dev.javic.sim.TieBreak;
import dev.javic.trace.TraceSink;
import dev.javic.workload.Hackbench;

import java.util.Map;

/**
 * Runs hackbench once on one system: a host with the series' shape (4 physical cores, vCPU i pinned to
 * core i), the guest kernel on every vCPU, and the workload; returns hackbench's time and what the
 * hypervisor and the guest counted.
 */
public final class HackbenchRunner {
    public static final int HOST_CPUS = 4;
    private static final long GUEST_RAM = 16L << 20;
    /** A run that has not finished after this much simulated time has gone wrong. */
    private static final double MAX_SIMULATED_SECONDS = 100_000;

    /**
     * @param system    vanilla, avic-off or avic-on
     * @param vcpus     guest CPUs (1..4)
     * @param params    groups, fds, loops
     * @param seed      drives the children's placement and the simulator's tie-break stream
     * @param costs     the cost model
     * @param batching  run unobservable stretches of system calls as one WORK (the default)
     */
    public record Spec(SystemKind system, int vcpus, Hackbench.Params params, long seed, CostModel costs,
                       boolean batching) {
        public Spec {
            if (vcpus < 1 || vcpus > HOST_CPUS) {
                throw new IllegalArgumentException("vcpus must be 1.." + HOST_CPUS + " (the host has " + HOST_CPUS + " cores)");
            }
        }
    }

    /** One run's result. Times in seconds of simulated time. */
    public record Outcome(String system, int vcpus, long seed, double seconds, double simulatedSeconds, long events,
                          long exits, Map<String, Long> exitsByReason, long interruptsDelivered, long reschedIpis,
                          long contextSwitches, long wakeups, long migrations, long messagesRead, long messagesExpected,
                          long haltExits, long doorbells, long hostIpis, long plans, long plannedActions,
                          long unattributedPauses, long pvEois, long pvEoisTaken) implements BenchRun {
        @Override
        public double value() {
            return seconds;
        }

        public double exitsPerSecond() {
            return seconds > 0 ? exits / seconds : 0;
        }
    }

    private HackbenchRunner() {
    }

    public static Outcome run(Spec spec) {
        return run(spec, null);
    }

    public static Outcome run(Spec spec, TraceSink sink) {
        return run(spec, sink, null);
    }

    /**
     * One run; with a {@code timeline}, the counters are sampled at the end of each of its windows (between
     * events: the run is the same as without).
     */
    public static Outcome run(Spec spec, TraceSink sink, HackbenchTimeline timeline) {
        SimulatedHost host = new SimulatedHost(spec.system(), spec.costs(), spec.seed(), TieBreak.FIFO, sink, true,
                HOST_CPUS, GUEST_RAM);
        Hackbench.Params p = spec.params();
        Kernel kernel = new Kernel(KernelConfig.linux45(spec.vcpus()).withBatching(spec.batching()), spec.costs(),
                p.tasks());
        Hackbench hb = new Hackbench(p);
        RandomStreams random = new RandomStreams(spec.seed());
        hb.install(kernel, spec.costs().get(Cost.HACKBENCH_USER_PER_MESSAGE), random.stream("hackbench.placement"));
        Simulator sim = host.sim();
        hb.onEnd(sim::stop);
        for (int i = 0; i < spec.vcpus(); i++) {
            host.vm().createVcpu(i, kernel.cpu(i));
        }
        host.vm().start();
        long limit = (long) (MAX_SIMULATED_SECONDS * spec.costs().tscHz());
        if (timeline == null) {
            sim.runUntil(limit);
        } else {
            // Window by window up to the same limit; a run whose events ran out ends as it would without.
            for (long t = timeline.windowCycles(); !hb.finished(); t += timeline.windowCycles()) {
                long until = Math.min(t, limit);
                sim.runUntil(until);
                timeline.sample(sim.now(), kernel, host.vm());
                if (until == limit || sim.pending() == 0) {
                    break;
                }
            }
        }
        host.tracer().close();
        if (!hb.finished()) {
            throw new IllegalStateException("hackbench did not finish within " + MAX_SIMULATED_SECONDS
                    + " simulated seconds (" + kernel.stats().messagesRead + " of " + p.messages() + " messages read)");
        }
        return collect(spec, host, kernel, hb);
    }

    private static Outcome collect(Spec spec, SimulatedHost host, Kernel kernel, Hackbench hb) {
        VmExitTotals x = VmExitTotals.of(host.vm());
        KernelStats ks = kernel.stats();
        CostModel c = spec.costs();
        return new Outcome(spec.system().label(), spec.vcpus(), spec.seed(), c.cyclesToSeconds(hb.elapsedCycles()),
                c.cyclesToSeconds(host.sim().now()), host.sim().eventsFired(), x.exits(), x.byReason(),
                ks.interrupts, ks.reschedIpisSent, ks.contextSwitches, ks.wakeups, ks.migrations, ks.messagesRead,
                spec.params().messages(), x.haltExits(), x.doorbells(), x.hostIpis(), ks.plans, ks.plannedActions, ks.unattributedPauses,
                x.pvEois(), ks.pvEoisTaken);
    }
}
