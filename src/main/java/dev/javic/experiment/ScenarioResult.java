package dev.javic.experiment;

import java.util.List;
import java.util.Map;

/**
 * What a scenario run produced, per vCPU: the interrupts the guest took, the values it read, the
 * exceptions it raised, and the exits KVM counted by reason; plus whether AVIC was active and why not.
 */
public record ScenarioResult(String scenario, String system, long seed, String costModel, long simulatedNs,
                             long events, List<String> avicInactiveReasons, List<VcpuResult> vcpus) {

    public record Interrupt(int vector, long timeNs) {
    }

    public record Read(String label, long value, long timeNs) {
    }

    public record VcpuResult(int vcpu, int hostCpu, boolean avicActive, String state, List<Interrupt> interrupts,
                             List<Read> reads, List<Read> faults, Map<String, Long> exits, long exitsTotal,
                             long irqInjections, long haltWakeups, long hostIpisSent, long doorbellsSent) {
    }

    public long totalExits() {
        return vcpus.stream().mapToLong(VcpuResult::exitsTotal).sum();
    }
}
