package dev.javic.experiment;

import dev.javic.host.HostScheduler;
import dev.javic.host.PageAllocator;
import dev.javic.hw.CpuModel;
import dev.javic.hw.Machine;
import dev.javic.kvm.Kvm;
import dev.javic.kvm.Vm;
import dev.javic.sim.CostModel;
import dev.javic.sim.Simulator;
import dev.javic.sim.TieBreak;
import dev.javic.trace.TraceSink;
import dev.javic.trace.Tracer;

/**
 * One simulated host, built the same way for scenarios and workloads: the simulator, the machine (a
 * Carrizo-class CPU model with or without AVIC), the host scheduler, kvm / kvm_amd loaded for one of the
 * three systems, and one VM. Its vCPUs are added by the caller with {@code vm().createVcpu(pin, program)}.
 */
public final class SimulatedHost {
    /** Host memory beyond guest RAM: VMCBs, APIC pages, AVIC tables, MSR maps. */
    private static final long HOST_OVERHEAD_BYTES = 32L << 20;
    private static final long FIRST_HOST_PAGE = 1L << 20;

    private final Simulator sim;
    private final Tracer tracer;
    private final Machine machine;
    private final HostScheduler scheduler;
    private final Kvm kvm;
    private final Vm vm;

    /**
     * @param system      which hypervisor and {@code avic} setting
     * @param costs       the cost model
     * @param seed        root seed (the simulator's tie-break stream)
     * @param tieBreak    ordering of simultaneous events
     * @param sink        trace sink, or null
     * @param cpuHasAvic  whether the CPU model reports AVIC
     * @param hostCpus    physical CPUs
     * @param ramBytes    guest RAM from guest physical 0
     */
    public SimulatedHost(SystemKind system, CostModel costs, long seed, TieBreak tieBreak, TraceSink sink,
                         boolean cpuHasAvic, int hostCpus, long ramBytes) {
        sim = new Simulator(tieBreak, seed);
        tracer = new Tracer(sim);
        if (sink != null) {
            tracer.attach(sink);
        }
        CpuModel cpu = cpuHasAvic ? CpuModel.carrizo() : CpuModel.carrizo().withoutAvic();
        machine = new Machine(sim, costs, tracer, cpu, hostCpus, FIRST_HOST_PAGE + ramBytes + HOST_OVERHEAD_BYTES);
        PageAllocator pages = new PageAllocator(machine.memory(), FIRST_HOST_PAGE);
        scheduler = new HostScheduler(machine);
        kvm = new Kvm(machine, scheduler, pages, system.params(), system.variant());
        vm = kvm.createVm(ramBytes);
    }

    public Simulator sim() {
        return sim;
    }

    public Tracer tracer() {
        return tracer;
    }

    public Machine machine() {
        return machine;
    }

    public HostScheduler scheduler() {
        return scheduler;
    }

    public Kvm kvm() {
        return kvm;
    }

    public Vm vm() {
        return vm;
    }
}
