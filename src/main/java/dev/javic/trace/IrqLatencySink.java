package dev.javic.trace;

import org.HdrHistogram.Histogram;

import java.util.ArrayList;
import java.util.List;

/**
 * Interrupt latency: for every interrupt a vCPU's guest took, the simulated time from its send to the
 * entry of the guest's handler, recorded in HdrHistograms per target vCPU and kind.
 *
 * <h2>What exactly is measured</h2>
 * From the instant the interrupt was sent, as {@link InterruptMatcher} defines it:
 * <ul>
 * <li>an IPI: the instant the sender executed its ICR write: the {@code kvm_exit} that trapped it on the
 * exit path (avic-off, vanilla; and an {@code AVIC_INCOMPLETE_IPI} KVM emulates), or the {@code avic_ipi}
 * of the AVIC unit that accelerated it (avic-on, including a target that was not running);</li>
 * <li>a device or timer interrupt: the instant the host put it into the vCPU's APIC
 * ({@code kvm_apic_accept_irq} with no IPI behind it: the APIC timer's hrtimer, an irqfd);</li>
 * </ul>
 * to the instant the target CPU vectored the guest through its IDT ({@code guest_irq}), the first
 * instruction of the handler. It includes everything in between: the sender's exit and KVM's emulation,
 * host IPIs and the target's exit, wake-up and scheduling of a halted target, VMRUN and event injection,
 * or the doorbell. It excludes the handler itself and its EOI. An interrupt sent again while pending
 * (same vector, IRR bit already set) is coalesced: one latency, from the first send.
 *
 * <p>Values are recorded in nanoseconds of simulated time with 3 significant digits (HdrHistogram's
 * relative precision of 0.1%); min and max are also kept exactly, and percentiles are clamped to them.
 */
public final class IrqLatencySink implements TraceSink {
    /** The kinds reported: IPIs, device/timer interrupts, and both together. */
    public static final List<String> KINDS = List.of("ipi", "device/timer", "all");
    public static final int ALL_KINDS = InterruptMatcher.KINDS;
    private static final int SIGNIFICANT_DIGITS = 3;
    private static final long NS_PER_SECOND = 1_000_000_000L;

    /** One distribution's summary, in simulated microseconds. */
    public record Summary(String kind, long count, double minUs, double p50Us, double p90Us, double p99Us,
                          double p999Us, double maxUs, double meanUs) {
    }

    private final long tscHz;
    private final InterruptMatcher matcher;
    private final Histogram[] histograms;
    private final long[] minNs;
    private final long[] maxNs;

    public IrqLatencySink(long tscHz, int vcpus) {
        if (tscHz <= 0 || tscHz > Long.MAX_VALUE / NS_PER_SECOND) {
            throw new IllegalArgumentException("tscHz out of range: " + tscHz);
        }
        this.tscHz = tscHz;
        this.matcher = new InterruptMatcher(vcpus);
        histograms = new Histogram[vcpus * InterruptMatcher.KINDS];
        minNs = new long[histograms.length];
        maxNs = new long[histograms.length];
        for (int i = 0; i < histograms.length; i++) {
            histograms[i] = new Histogram(SIGNIFICANT_DIGITS);
            minNs[i] = Long.MAX_VALUE;
        }
    }

    // ---- events the matcher needs ------------------------------------------------------------------------

    @Override
    public void kvmExit(long time, int cpu, int vcpuId, int exitCode, long rip, long info1, long info2,
                        int intInfo, int errorCode) {
        matcher.exit(time, vcpuId);
    }

    @Override
    public void kvmApic(long time, int cpu, int vcpuId, boolean write, int reg, int value) {
        if (write) {
            matcher.apicWrite(vcpuId, reg, value);
        }
    }

    @Override
    public void kvmAvicTableUpdate(long time, int cpu, int vcpuId, boolean logical, int index, long entry) {
        matcher.avicTableUpdate(vcpuId, logical, index, entry);
    }

    @Override
    public void kvmApicIpi(long time, int cpu, int vcpuId, int icrLow, int destId) {
        matcher.ipiEmulated(time, vcpuId);
    }

    @Override
    public void kvmApicAcceptIrq(long time, int cpu, int apicId, int deliveryMode, boolean levelTriggered,
                                 int vector) {
        matcher.accepted(time, apicId, vector);
    }

    @Override
    public void kvmInjVirq(long time, int cpu, int vcpuId, int vector, boolean soft, boolean reinjected) {
        matcher.injected(vcpuId, vector);
    }

    @Override
    public void avicIpiAccelerated(long time, int cpu, int vcpuId, int targetApicId, int vector, boolean running) {
        matcher.avicIpi(time, vcpuId, targetApicId, vector);
    }

    @Override
    public void guestInterrupt(long time, int cpu, int vcpuId, int vector) {
        int slot = matcher.handlerEntered(vcpuId, vector);
        if (slot == InterruptMatcher.NONE) {
            return;
        }
        long cycles = time - matcher.sendTime(slot);
        long ns = (cycles / tscHz) * NS_PER_SECOND + (cycles % tscHz) * NS_PER_SECOND / tscHz;
        int i = vcpuId * InterruptMatcher.KINDS + matcher.kind(slot);
        histograms[i].recordValue(ns);
        minNs[i] = Math.min(minNs[i], ns);
        maxNs[i] = Math.max(maxNs[i], ns);
        matcher.close(slot);
    }

    // ---- results -----------------------------------------------------------------------------------------

    /** Sends coalesced into one already pending (one handler entry for several sends). */
    public long coalesced() {
        return matcher.coalesced();
    }

    /**
     * The distribution for target {@code vcpu} (all when {@code vcpu < 0}) and {@code kind} (an index of
     * {@link #KINDS}; {@link #ALL_KINDS} for both), as a new histogram in nanoseconds.
     */
    public Histogram histogram(int vcpu, int kind) {
        Histogram sum = new Histogram(SIGNIFICANT_DIGITS);
        for (int i = 0; i < histograms.length; i++) {
            if (selected(i, vcpu, kind)) {
                sum.add(histograms[i]);
            }
        }
        return sum;
    }

    /** One summary per kind of {@link #KINDS}, for target {@code vcpu} (all when {@code vcpu < 0}). */
    public List<Summary> summaries(int vcpu) {
        List<Summary> out = new ArrayList<>();
        for (int kind = 0; kind < KINDS.size(); kind++) {
            out.add(summary(vcpu, kind));
        }
        return out;
    }

    private Summary summary(int vcpu, int kind) {
        Histogram h = histogram(vcpu, kind);
        long min = Long.MAX_VALUE;
        long max = 0;
        for (int i = 0; i < histograms.length; i++) {
            if (selected(i, vcpu, kind) && histograms[i].getTotalCount() > 0) {
                min = Math.min(min, minNs[i]);
                max = Math.max(max, maxNs[i]);
            }
        }
        long n = h.getTotalCount();
        if (n == 0) {
            return new Summary(KINDS.get(kind), 0, 0, 0, 0, 0, 0, 0, 0);
        }
        return new Summary(KINDS.get(kind), n, us(min), us(at(h, 50, min, max)), us(at(h, 90, min, max)),
                us(at(h, 99, min, max)), us(at(h, 99.9, min, max)), us(max), h.getMean() / 1000.0);
    }

    private static long at(Histogram h, double percentile, long min, long max) {
        return Math.max(min, Math.min(max, h.getValueAtPercentile(percentile)));
    }

    private static boolean selected(int index, int vcpu, int kind) {
        int v = index / InterruptMatcher.KINDS;
        int k = index % InterruptMatcher.KINDS;
        return (vcpu < 0 || v == vcpu) && (kind == ALL_KINDS || k == kind);
    }

    private static double us(long ns) {
        return ns / 1000.0;
    }
}
