package dev.javic.experiment;

import dev.javic.guest.kernel.BlockLayer;
import dev.javic.guest.kernel.Kernel;
import dev.javic.guest.kernel.KernelConfig;
import dev.javic.guest.kernel.KernelStats;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.sim.RandomStreams;
import dev.javic.sim.Simulator;
import dev.javic.sim.TieBreak;
import dev.javic.trace.TraceSink;
import dev.javic.workload.tar.Tar;
import dev.javic.workload.tar.VirtioBlkBackend;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs {@code tar xf} once on one system: the series' 4-core host with vCPU i pinned to core i, the guest
 * kernel on every vCPU with tar, xz, the writeback flusher and jbd2, and a virtio-blk disk whose QEMU back end
 * (main loop + AIO) runs on host core {@link #BACKEND_CPU}; its kick is an ioeventfd on the legacy notify port,
 * its completion an irqfd into the system's injection path, aimed at vCPU 0 (the 4.5 guest leaves the MSI's
 * affinity at all CPUs; flat logical lowest-priority delivery, taken here as the first, estimate).
 */
public final class TarRunner {
    public static final int HOST_CPUS = 4;
    /**
     * The host core of QEMU's main loop (whence the completion's irqfd signal goes out): it is not pinned, and
     * CFS wakes it on an idle core; the last is the one tar, xz and the kernel threads leave idle most often
     * (estimate). Its CPU time is not taken from that core's vCPU (see {@link VirtioBlkBackend}).
     */
    public static final int BACKEND_CPU = 3;
    private static final long GUEST_RAM = 16L << 20;
    private static final double MAX_SIMULATED_SECONDS = 10_000;

    public record Spec(SystemKind system, int vcpus, Tar.Params params, long seed, CostModel costs, boolean batching) {
        public Spec {
            if (vcpus < 1 || vcpus > HOST_CPUS) {
                throw new IllegalArgumentException("vcpus must be 1.." + HOST_CPUS + " (the host has " + HOST_CPUS + " cores)");
            }
        }
    }

    /** One run's result; times in simulated seconds. */
    public record Outcome(String system, int vcpus, long seed, double seconds, double simulatedSeconds, long events,
                          long exits, Map<String, Long> exitsByReason, long interruptsDelivered, long reschedIpis,
                          long contextSwitches, long wakeups, long migrations, long haltExits, long doorbells, long hostIpis,
                          long archiveBytes, long bytesWritten, long filesCreated, long dirsCreated, long blockRequests,
                          long blockBytes, long journalBytes, long kicks, long ioeventfdSignals, long blockInterrupts,
                          long irqInjections, long pipeUnits, long callFunctionIpis,
                          long unattributedPauses, long blockCompletions, long remoteCompletions, long pvEois,
                          long pvEoisTaken)
            implements BenchRun {
        @Override
        public double value() {
            return seconds;
        }

        @Override
        public double exitsPerSecond() {
            return seconds > 0 ? exits / seconds : 0;
        }

        public long exits(String reason) {
            return exitsByReason.getOrDefault(reason, 0L);
        }
    }

    private TarRunner() {
    }

    /** The workload in words, for a report. */
    public static String describe(Tar.Params p, int vcpus) {
        String what = p.fraction() == 1 ? "tar xf linux-4.3.3.tar.xz" : String.format(Locale.ROOT,
                "tar xf of %s of linux-4.3.3.tar.xz (scaled down: %d of %d files)", pct(p.fraction()), p.files(),
                Tar.Params.LINUX_4_3_3.files());
        return String.format(Locale.ROOT, "%s (%d files, %d directories, %.1f MB of data, a %.1f MB tar stream from xz -d), "
                        + "%d vCPU%s, %d MiB guest RAM, virtio-blk (QEMU main loop on host core %d)", what, p.files(), p.dirs(),
                p.fileBytes() / 1e6, p.archiveBytes() / 1e6, vcpus, vcpus == 1 ? "" : "s", p.guestRamBytes() >> 20,
                Math.min(BACKEND_CPU, HOST_CPUS - 1));
    }

    private static String pct(double f) {
        double v = f * 100;
        return (v == Math.rint(v) ? Long.toString((long) v) : String.format(Locale.ROOT, "%.3g", v)) + " %";
    }

    /** The file name of a run's JSON/CSV/plot. */
    public static String base(int vcpus, Tar.Params p) {
        return p.fraction() == 1 ? "tar-" + vcpus + "vcpu" : String.format(Locale.ROOT, "tar-%dvcpu-f%s", vcpus,
                Double.toString(p.fraction()));
    }

    /** Per system (first run): where the exits come from, per MB of tar stream. */
    public static void printPerSystem(PrintStream o, Map<String, ? extends List<Outcome>> bySystem) {
        o.printf(Locale.ROOT, "%-15s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s%n", "first run", "exits", "hlt", "npf+msr",
                "io", "interrupt", "incompl.", "resched", "blk irqs", "csd IPIs", "doorbells");
        for (Map.Entry<String, ? extends List<Outcome>> e : bySystem.entrySet()) {
            Outcome r = e.getValue().get(0);
            o.printf(Locale.ROOT, "%-15s %10d %10d %10d %10d %10d %10d %10d %10d %10d %10d%n", BenchReport.seriesName(e.getKey()),
                    r.exits(), r.exits("hlt"), r.exits("npf") + r.exits("msr"), r.exits("io"), r.exits("interrupt"), r.exits("avic_incomplete_ipi"),
                    r.reschedIpis(), r.blockInterrupts(), r.callFunctionIpis(), r.doorbells());
        }
        Outcome r = bySystem.values().iterator().next().get(0);
        o.printf(Locale.ROOT, "tar wrote %d bytes into %d files and %d directories; %d block requests (%.1f MB, %.1f MB of "
                        + "journal), %d kicks%n", r.bytesWritten(), r.filesCreated(), r.dirsCreated(), r.blockRequests(),
                r.blockBytes() / 1e6, r.journalBytes() / 1e6, r.kicks());
    }

    public static Outcome run(Spec spec) {
        return run(spec, null);
    }

    public static Outcome run(Spec spec, TraceSink sink) {
        SimulatedHost host = new SimulatedHost(spec.system(), spec.costs(), spec.seed(), TieBreak.FIFO, sink, true,
                HOST_CPUS, GUEST_RAM);
        CostModel c = spec.costs();
        Kernel kernel = new Kernel(KernelConfig.linux45(spec.vcpus()).withBatching(spec.batching()), c, 4);
        BlockLayer blk = kernel.attachBlockDevice(Tar.VIRTIO_BLK_VECTOR, Tar.NOTIFY_PORT, Tar.QUEUE_SIZE,
                Tar.MAX_REQUEST_BYTES, Tar.JOURNAL_BYTES_PER_INODE);
        Tar tar = new Tar(spec.params());
        RandomStreams random = new RandomStreams(spec.seed());
        tar.install(kernel, c.get(Cost.XZ_DECOMPRESS_PER_KIB), c.get(Cost.TAR_USER_PER_MEMBER), c.tscHz(),
                random.stream("tar.start"));
        Simulator sim = host.sim();
        tar.onEnd(sim::stop);
        for (int i = 0; i < spec.vcpus(); i++) {
            host.vm().createVcpu(i, kernel.cpu(i));
        }
        VirtioBlkBackend backend = new VirtioBlkBackend(sim, BACKEND_CPU, host.vm(), blk.virtqueue(), Tar.VIRTIO_BLK_VECTOR, 0, c);
        host.vm().registerIoEventFd(Tar.NOTIFY_PORT, 2, backend::kick);
        host.vm().start();
        sim.runUntil((long) (MAX_SIMULATED_SECONDS * c.tscHz()));
        host.tracer().close();
        if (!tar.finished()) {
            throw new IllegalStateException("tar did not finish within " + MAX_SIMULATED_SECONDS + " simulated seconds ("
                    + blk.bytesWritten + " of " + spec.params().fileBytes() + " bytes written)");
        }
        VmExitTotals x = VmExitTotals.of(host.vm());
        KernelStats ks = kernel.stats();
        return new Outcome(spec.system().label(), spec.vcpus(), spec.seed(), c.cyclesToSeconds(tar.elapsedCycles()),
                c.cyclesToSeconds(sim.now()), sim.eventsFired(), x.exits(), x.byReason(), ks.interrupts,
                ks.reschedIpisSent, ks.contextSwitches, ks.wakeups, ks.migrations, x.haltExits(), x.doorbells(), x.hostIpis(),
                spec.params().archiveBytes(), blk.bytesWritten, blk.filesCreated, blk.dirsCreated, blk.requests,
                blk.bytesSubmitted, blk.journalBytesSubmitted, blk.kicks, x.ioeventfdSignals(), blk.interrupts, x.irqInjections(),
                ks.messagesWritten, ks.callFunctionIpisSent, ks.unattributedPauses, blk.completions,
                blk.remoteCompletions, x.pvEois(), ks.pvEoisTaken);
    }
}
