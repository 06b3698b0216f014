package dev.javic.experiment;

import dev.javic.hw.SvmExit;
import dev.javic.kvm.Vcpu;
import dev.javic.kvm.VcpuStats;
import dev.javic.kvm.Vm;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A VM's exit and delivery counters summed over its vCPUs, as a workload run reports them.
 *
 * @param byReason exits by {@code kvm_exit} reason name, in name order
 */
record VmExitTotals(long exits, Map<String, Long> byReason, long haltExits, long haltWakeups, long doorbells,
                    long hostIpis, long ioeventfdSignals, long irqInjections, long pvEois) {

    static VmExitTotals of(Vm vm) {
        long exits = 0;
        long halts = 0;
        long haltWakeups = 0;
        long doorbells = 0;
        long hostIpis = 0;
        long ioeventfd = 0;
        long injections = 0;
        long pvEois = 0;
        Map<String, Long> byReason = new TreeMap<>();
        for (Vcpu v : vm.vcpus()) {
            VcpuStats st = v.stats();
            exits += st.exits;
            halts += st.haltExits;
            haltWakeups += st.haltWakeups;
            doorbells += st.doorbellsSent;
            hostIpis += st.hostIpisSent;
            ioeventfd += st.ioeventfdSignals;
            injections += st.irqInjections;
            pvEois += st.pvEois;
            for (int code : st.exitCodes()) {
                byReason.merge(SvmExit.name(code), st.exits(code), Long::sum);
            }
        }
        return new VmExitTotals(exits, new LinkedHashMap<>(byReason), halts, haltWakeups, doorbells, hostIpis, ioeventfd,
                injections, pvEois);
    }
}
