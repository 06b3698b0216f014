package dev.javic.hw;

import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.sim.SimEvent;
import dev.javic.sim.Simulator;
import dev.javic.trace.Tracer;

import java.util.Arrays;

/**
 * The simulated host machine: physical memory, the SVM cores, the interrupt fabric between them (host
 * IPIs and AVIC doorbells, each arriving after its latency), and the nested page tables the cores
 * find through nested_cr3.
 */
public final class Machine {
    private final Simulator sim;
    private final CostModel costs;
    private final Tracer tracer;
    private final CpuModel cpuModel;
    private final PhysicalMemory memory;
    private final SvmCore[] cores;

    private long[] nptRoots = new long[4];
    private NestedPageTable[] npts = new NestedPageTable[4];
    private int nptCount;

    /** In-flight host IPIs, one event per (target core, vector): a second IPI before the first lands merges. */
    private final SimEvent[][] ipiInFlight;
    private final SimEvent[] doorbellInFlight;
    private final long ipiLatency;
    private final long doorbellLatency;

    public Machine(Simulator sim, CostModel costs, Tracer tracer, CpuModel cpuModel, int coreCount, long memoryBytes) {
        if (coreCount <= 0 || coreCount > 255) {
            throw new IllegalArgumentException("core count must be 1..255: " + coreCount);
        }
        this.sim = sim;
        this.costs = costs;
        this.tracer = tracer;
        this.cpuModel = cpuModel;
        this.memory = new PhysicalMemory(memoryBytes);
        this.ipiLatency = costs.get(Cost.HOST_IPI_LATENCY);
        this.doorbellLatency = costs.get(Cost.AVIC_DOORBELL_LATENCY);
        this.cores = new SvmCore[coreCount];
        this.ipiInFlight = new SimEvent[coreCount][];
        this.doorbellInFlight = new SimEvent[coreCount];
        for (int i = 0; i < coreCount; i++) {
            cores[i] = new SvmCore(i, this);
            ipiInFlight[i] = new SimEvent[256];
            SvmCore target = cores[i];
            doorbellInFlight[i] = SimEvent.of("doorbell->" + i, now -> target.doorbell());
        }
    }

    public Simulator simulator() {
        return sim;
    }

    public CostModel costs() {
        return costs;
    }

    public Tracer tracer() {
        return tracer;
    }

    public CpuModel cpuModel() {
        return cpuModel;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    public int coreCount() {
        return cores.length;
    }

    public SvmCore core(int id) {
        return cores[id];
    }

    /** Registers the nested page table whose root the hypervisor will write into nested_cr3. */
    public void registerNestedPageTable(long root, NestedPageTable npt) {
        if (nptCount == nptRoots.length) {
            nptRoots = Arrays.copyOf(nptRoots, nptCount * 2);
            npts = Arrays.copyOf(npts, nptCount * 2);
        }
        nptRoots[nptCount] = root;
        npts[nptCount] = npt;
        nptCount++;
    }

    public void unregisterNestedPageTable(long root) {
        for (int i = 0; i < nptCount; i++) {
            if (nptRoots[i] == root) {
                nptCount--;
                nptRoots[i] = nptRoots[nptCount];
                npts[i] = npts[nptCount];
                npts[nptCount] = null;
                return;
            }
        }
    }

    NestedPageTable nestedPageTable(long root) {
        for (int i = 0; i < nptCount; i++) {
            if (nptRoots[i] == root) {
                return npts[i];
            }
        }
        return null;
    }

    /**
     * A host IPI from {@code from} to the core with physical APIC ID {@code targetApicId}; it raises a
     * physical interrupt there after the IPI latency.
     */
    public void sendIpi(SvmCore from, int targetApicId, int vector, String reason) {
        tracer.ipiRaise(from.id(), targetApicId, reason);
        SimEvent e = ipiInFlight[targetApicId][vector];
        if (e == null) {
            SvmCore target = cores[targetApicId];
            e = SimEvent.of("ipi " + vector + "->" + targetApicId, now -> target.raiseInterrupt(vector));
            ipiInFlight[targetApicId][vector] = e;
        }
        if (!e.isScheduled()) {
            sim.scheduleAfter(e, ipiLatency);
        }
    }

    /** An AVIC doorbell to the core with host physical APIC ID {@code targetApicId}. */
    public void sendDoorbell(SvmCore from, int targetApicId) {
        if (targetApicId >= cores.length) {
            return; // no such core: the message goes nowhere
        }
        SimEvent e = doorbellInFlight[targetApicId];
        if (!e.isScheduled()) {
            sim.scheduleAfter(e, doorbellLatency);
        }
    }
}
