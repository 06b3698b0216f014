package dev.javic.trace;

import dev.javic.hw.SvmExit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Exit statistics as {@code perf kvm stat report} computes them, from {@code kvm_exit} and {@code kvm_entry}:
 * for each vCPU and exit reason, how many exits (samples) and how long each was handled, from the
 * {@code kvm_exit} to the vCPU's next {@code kvm_entry} (so a {@code hlt} exit includes the time the vCPU
 * was halted, as in perf). Alongside, counters of how interrupts were delivered (through exits, by the AVIC
 * hardware, by doorbells, by host IPIs), which say why one system exits less than another.
 *
 * <p>An exit is counted when it happens, so the samples add up to the run's exit counts; an exit still
 * being handled when the run ends (typically the last {@code hlt} of a vCPU that stays halted) has no
 * duration and is counted in {@link Table#untimed()}, not in the times.
 *
 * <p>Per (vCPU, reason): count, min, max and a running mean and sum of squared deviations (Welford), as
 * perf's {@code struct stats}; merged across vCPUs with Chan's formula, in vCPU order. Primitive arrays sized
 * at construction; nothing is allocated per event.
 */
public final class ExitStatsSink implements TraceSink {
    /** Delivery counters, per vCPU. */
    public enum Delivery {
        IPI_THROUGH_EXIT("IPIs emulated by KVM after an exit (kvm_apic_ipi)"),
        IPI_BY_AVIC("IPIs delivered by the AVIC hardware (avic_ipi)"),
        AVIC_INCOMPLETE_IPI("  of which the sender then exited (kvm_avic_incomplete_ipi)"),
        INJECTED("interrupts injected by KVM on entry (kvm_inj_virq)"),
        PV_EOI("EOIs the guest left in its PV EOI word, done by KVM at the next exit (kvm_pv_eoi)"),
        DOORBELL_RUNG("doorbells rung by KVM (kvm_avic_doorbell)"),
        DOORBELL_TAKEN("doorbells taken in guest mode, no exit (avic_doorbell_rcv)"),
        HOST_IPI("host IPIs to a CPU running the vCPU (ipi_raise)"),
        WAKEUP("wake-ups of a halted vCPU (kvm_vcpu_wakeup)"),
        GUEST_IRQ("interrupts the guest took (guest_irq)");

        private final String description;

        Delivery(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    /** One exit reason's row of the report; times in simulated microseconds. */
    public record Row(int exitCode, String reason, long samples, long timed, double totalUs, double minUs, double maxUs,
                      double avgUs, double relStddevPct) {
    }

    /**
     * The report of one vCPU or all: rows sorted by samples (perf's default key), then exit code.
     * {@code totalTimeUs} sums the timed exits; {@code untimed} counts exits that had not ended.
     */
    public record Table(String scope, List<Row> rows, long totalSamples, long untimed, double totalTimeUs) {
    }

    /** Codes are stored at index code + 1, so that SVM_EXIT_ERR (-1) is 0; codes past MAX share the last. */
    private static final int CODES = SvmExit.MAX + 3;
    private static final int OTHER = CODES - 1;
    private static final long NONE = -1;
    private static final int DELIVERY_KINDS = Delivery.values().length;

    private final long tscHz;
    private final int vcpus;
    private final int cpuCount;
    private final long[] samples;
    private final long[] timed;
    private final long[] minCycles;
    private final long[] maxCycles;
    private final double[] mean;
    private final double[] m2;
    private final long[] exitStart;
    private final int[] exitIndex;
    private final long[] delivery;
    private final int[] vcpuOnCpu;

    public ExitStatsSink(long tscHz, int cpuCount, int vcpus) {
        if (tscHz <= 0 || vcpus <= 0 || cpuCount <= 0) {
            throw new IllegalArgumentException("tscHz, cpuCount and vcpus must be positive");
        }
        this.tscHz = tscHz;
        this.vcpus = vcpus;
        this.cpuCount = cpuCount;
        samples = new long[vcpus * CODES];
        timed = new long[vcpus * CODES];
        minCycles = new long[vcpus * CODES];
        Arrays.fill(minCycles, Long.MAX_VALUE);
        maxCycles = new long[vcpus * CODES];
        mean = new double[vcpus * CODES];
        m2 = new double[vcpus * CODES];
        exitStart = new long[vcpus];
        Arrays.fill(exitStart, NONE);
        exitIndex = new int[vcpus];
        delivery = new long[vcpus * DELIVERY_KINDS];
        vcpuOnCpu = new int[cpuCount];
        Arrays.fill(vcpuOnCpu, -1);
    }

    // ---- events --------------------------------------------------------------------------------------------

    @Override
    public void kvmExit(long time, int cpu, int vcpuId, int exitCode, long rip, long info1, long info2,
                        int intInfo, int errorCode) {
        int v = checkVcpu(vcpuId);
        int index = exitCode >= -1 && exitCode <= SvmExit.MAX ? exitCode + 1 : OTHER;
        samples[v * CODES + index]++;
        exitStart[v] = time;
        exitIndex[v] = index;
    }

    @Override
    public void kvmEntry(long time, int cpu, int vcpuId, long rip) {
        int v = checkVcpu(vcpuId);
        if (cpu >= 0 && cpu < cpuCount) {
            vcpuOnCpu[cpu] = v;
        }
        if (exitStart[v] == NONE) {
            return;
        }
        int i = v * CODES + exitIndex[v];
        long d = time - exitStart[v];
        exitStart[v] = NONE;
        long n = ++timed[i];
        minCycles[i] = Math.min(minCycles[i], d);
        maxCycles[i] = Math.max(maxCycles[i], d);
        double delta = d - mean[i];
        mean[i] += delta / n;
        m2[i] += delta * (d - mean[i]);
    }

    @Override
    public void kvmApicIpi(long time, int cpu, int vcpuId, int icrLow, int destId) {
        count(vcpuId, Delivery.IPI_THROUGH_EXIT);
    }

    @Override
    public void avicIpiAccelerated(long time, int cpu, int vcpuId, int targetApicId, int vector, boolean running) {
        count(vcpuId, Delivery.IPI_BY_AVIC);
    }

    @Override
    public void kvmAvicIncompleteIpi(long time, int cpu, int vcpuId, int icrHigh, int icrLow, int id, int index) {
        count(vcpuId, Delivery.AVIC_INCOMPLETE_IPI);
    }

    @Override
    public void kvmInjVirq(long time, int cpu, int vcpuId, int vector, boolean soft, boolean reinjected) {
        count(vcpuId, Delivery.INJECTED);
    }

    @Override
    public void kvmAvicDoorbell(long time, int cpu, int vcpuId, int apicId) {
        count(vcpuId, Delivery.DOORBELL_RUNG);
    }

    @Override
    public void avicDoorbellReceived(long time, int cpu, int vcpuId) {
        count(vcpuId, Delivery.DOORBELL_TAKEN);
    }

    /** {@inheritDoc} Counted for the vCPU that last entered guest mode on {@code cpu}: KVM syncs after its exit. */
    @Override
    public void kvmPvEoi(long time, int cpu, int apicId, int vector) {
        if (cpu >= 0 && cpu < cpuCount && vcpuOnCpu[cpu] >= 0) {
            count(vcpuOnCpu[cpu], Delivery.PV_EOI);
        }
    }

    /** {@inheritDoc} Counted for the vCPU that last entered guest mode on the target CPU. */
    @Override
    public void ipiRaise(long time, int cpu, int targetCpu, String reason) {
        if (targetCpu >= 0 && targetCpu < cpuCount && vcpuOnCpu[targetCpu] >= 0) {
            count(vcpuOnCpu[targetCpu], Delivery.HOST_IPI);
        }
    }

    @Override
    public void kvmVcpuWakeup(long time, int cpu, int vcpuId, long haltedNs, boolean waited, boolean valid) {
        if (waited) {
            count(vcpuId, Delivery.WAKEUP);
        }
    }

    @Override
    public void guestInterrupt(long time, int cpu, int vcpuId, int vector) {
        if (vector >= 32) {
            count(vcpuId, Delivery.GUEST_IRQ);
        }
    }

    private void count(int vcpuId, Delivery d) {
        delivery[checkVcpu(vcpuId) * DELIVERY_KINDS + d.ordinal()]++;
    }

    // ---- results -------------------------------------------------------------------------------------------

    public int vcpus() {
        return vcpus;
    }

    /** Exits of {@code vcpu} (or of all vCPUs when {@code vcpu < 0}) by reason. */
    public Table table(int vcpu) {
        List<Row> rows = new ArrayList<>();
        long totalSamples = 0;
        long untimed = 0;
        double totalUs = 0;
        for (int index = 0; index < CODES; index++) {
            long n = 0;
            long t = 0;
            long min = Long.MAX_VALUE;
            long max = 0;
            double mu = 0;
            double sq = 0;
            for (int v = 0; v < vcpus; v++) {
                if (vcpu >= 0 && v != vcpu) {
                    continue;
                }
                int i = v * CODES + index;
                n += samples[i];
                long tb = timed[i];
                if (tb == 0) {
                    continue;
                }
                // Chan et al.: merge (t, mu, sq) with (tb, mean, m2).
                double delta = mean[i] - mu;
                long tab = t + tb;
                mu += delta * tb / tab;
                sq += m2[i] + delta * delta * t * tb / tab;
                t = tab;
                min = Math.min(min, minCycles[i]);
                max = Math.max(max, maxCycles[i]);
            }
            if (n == 0) {
                continue;
            }
            totalSamples += n;
            untimed += n - t;
            double sumUs = micros(mu) * t;
            totalUs += sumUs;
            rows.add(new Row(index == OTHER ? Integer.MAX_VALUE : index - 1, index == OTHER ? "other" : SvmExit.name(index - 1),
                    n, t, sumUs, t == 0 ? 0 : micros(min), t == 0 ? 0 : micros(max), t == 0 ? 0 : micros(mu),
                    relStddevPct(t, mu, sq)));
        }
        rows.sort(Comparator.comparingLong(Row::samples).reversed().thenComparingInt(Row::exitCode));
        return new Table(vcpu < 0 ? "all VCPUs" : "VCPU " + vcpu, List.copyOf(rows), totalSamples, untimed, totalUs);
    }

    /** Delivery counters of {@code vcpu} (or of all when {@code vcpu < 0}), in {@link Delivery} order. */
    public long[] delivery(int vcpu) {
        Delivery[] kinds = Delivery.values();
        long[] sums = new long[kinds.length];
        for (int v = 0; v < vcpus; v++) {
            if (vcpu >= 0 && v != vcpu) {
                continue;
            }
            for (int k = 0; k < kinds.length; k++) {
                sums[k] += delivery[v * kinds.length + k];
            }
        }
        return sums;
    }

    /**
     * perf's {@code kvm_event_rel_stddev}: the standard error of the mean, {@code sqrt(s^2 / n)} with the
     * sample variance {@code s^2 = M2 / (n - 1)}, as a percentage of the mean (0 for fewer than 2 samples).
     */
    static double relStddevPct(long n, double mean, double m2) {
        if (n < 2 || mean == 0) {
            return 0;
        }
        double variance = m2 / (n - 1);
        return 100.0 * Math.sqrt(variance / n) / mean;
    }

    private double micros(double cycles) {
        return cycles * 1e6 / tscHz;
    }

    private int checkVcpu(int vcpu) {
        if (vcpu < 0 || vcpu >= vcpus) {
            throw new IllegalArgumentException("vcpu " + vcpu + " outside [0, " + vcpus + ")");
        }
        return vcpu;
    }
}
