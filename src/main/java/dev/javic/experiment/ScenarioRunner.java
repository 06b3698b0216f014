package dev.javic.experiment;

import dev.javic.guest.GuestCode;
import dev.javic.guest.ScriptProgram;
import dev.javic.hw.Machine;
import dev.javic.hw.SvmExit;
import dev.javic.kvm.Kvm;
import dev.javic.kvm.Vcpu;
import dev.javic.kvm.VcpuStats;
import dev.javic.kvm.Vm;
import dev.javic.sim.CostModel;
import dev.javic.sim.Simulator;
import dev.javic.sim.TieBreak;
import dev.javic.trace.TraceSink;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the machine, the hypervisor and the VM a scenario describes, runs it in simulated time and
 * collects what the guests observed. The run ends when nothing is left to happen (every vCPU halted
 * for good) or at the scenario's time limit.
 */
public final class ScenarioRunner {
    private final Scenario scenario;
    private SystemKind system;
    private long seed;
    private CostModel costs;
    private TraceSink sink;
    private TieBreak tieBreak = TieBreak.FIFO;

    private Simulator sim;
    private Machine machine;
    private Kvm kvm;
    private Vm vm;
    private ScriptProgram[] programs;

    public ScenarioRunner(Scenario scenario) {
        this.scenario = scenario;
        this.system = scenario.vm().system();
        this.seed = scenario.vm().seed();
    }

    public ScenarioRunner system(SystemKind s) {
        this.system = s;
        return this;
    }

    public ScenarioRunner seed(long s) {
        this.seed = s;
        return this;
    }

    public ScenarioRunner costs(CostModel c) {
        this.costs = c;
        return this;
    }

    public ScenarioRunner trace(TraceSink s) {
        this.sink = s;
        return this;
    }

    public ScenarioRunner tieBreak(TieBreak t) {
        this.tieBreak = t;
        return this;
    }

    /** Creates the machine, hypervisor, VM and vCPUs without running (used by explain and dumps too). */
    public ScenarioRunner build() {
        Scenario.VmSpec spec = scenario.vm();
        if (costs == null) {
            costs = CostModel.presetOrFile(spec.cost());
        }
        SimulatedHost host = new SimulatedHost(system, costs, seed, tieBreak, sink, spec.cpuHasAvic(), spec.hostCpus(),
                (long) spec.memoryMib() << 20);
        sim = host.sim();
        machine = host.machine();
        kvm = host.kvm();
        vm = host.vm();
        programs = new ScriptProgram[spec.vcpus()];
        for (Scenario.VcpuSpec v : scenario.vcpus()) {
            ScriptProgram p = new ScriptProgram(v.program());
            for (Map.Entry<Integer, GuestCode> h : v.handlers().entrySet()) {
                p.handler(h.getKey(), h.getValue());
            }
            programs[v.id()] = p;
        }
        for (int i = 0; i < spec.vcpus(); i++) {
            vm.createVcpu(spec.pin()[i], programs[i]);
        }
        return this;
    }

    public Vm vm() {
        return vm;
    }

    public Kvm kvm() {
        return kvm;
    }

    public Machine machine() {
        return machine;
    }

    /** Runs the scenario and returns what happened. */
    public ScenarioResult run() {
        if (vm == null) {
            build();
        }
        vm.start();
        long limit = costs.nsToCycles(scenario.vm().timeLimitUs() * 1000);
        sim.runUntil(limit);
        machine.tracer().close();
        return collect();
    }

    private ScenarioResult collect() {
        List<ScenarioResult.VcpuResult> out = new ArrayList<>();
        for (int i = 0; i < vm.vcpuCount(); i++) {
            Vcpu v = vm.vcpu(i);
            ScriptProgram p = programs[i];
            List<ScenarioResult.Interrupt> irqs = new ArrayList<>();
            for (int k = 0; k < p.interruptCount(); k++) {
                irqs.add(new ScenarioResult.Interrupt(p.interruptVector(k), costs.cyclesToNs(p.interruptTime(k))));
            }
            List<ScenarioResult.Read> reads = p.reads().stream()
                    .map(r -> new ScenarioResult.Read(r.label(), r.value(), costs.cyclesToNs(r.time()))).toList();
            List<ScenarioResult.Read> faults = p.faults().stream()
                    .map(r -> new ScenarioResult.Read(r.label(), r.value(), costs.cyclesToNs(r.time()))).toList();
            VcpuStats st = v.stats();
            Map<String, Long> exits = new LinkedHashMap<>();
            for (int code : st.exitCodes()) {
                exits.put(SvmExit.name(code), st.exits(code));
            }
            out.add(new ScenarioResult.VcpuResult(i, v.hostCpuId(), vm.avicActive(), v.mpState().name().toLowerCase(),
                    irqs, reads, faults, exits, st.exits, st.irqInjections, st.haltWakeups, st.hostIpisSent,
                    st.doorbellsSent));
        }
        return new ScenarioResult(scenario.name(), system.label(), seed, costs.name(), costs.cyclesToNs(sim.now()),
                sim.eventsFired(), vm.avicInactiveReasons(), out);
    }
}
