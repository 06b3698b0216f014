package dev.javic.experiment;

import dev.javic.guest.GuestCode;

import java.util.List;
import java.util.Map;

/**
 * A scenario: a VM's shape and one guest program per vCPU, with optional expectations. Loaded from a
 * YAML or JSON file by {@link ScenarioLoader}; the format is documented in docs/scenarios.md.
 */
public record Scenario(String name, String description, VmSpec vm, List<VcpuSpec> vcpus,
                       List<Expectation> expectations) {

    /**
     * @param vcpus        number of vCPUs
     * @param system       system to run on unless overridden on the command line
     * @param seed         root seed
     * @param cost         cost preset name or cost file path
     * @param memoryMib    guest RAM from guest physical 0
     * @param hostCpus     physical CPUs of the host
     * @param pin          host CPU of each vCPU (-1 = any)
     * @param timeLimitUs  simulated time after which the run stops
     * @param cpuHasAvic   whether the modelled CPU reports AVIC
     */
    public record VmSpec(int vcpus, SystemKind system, long seed, String cost, int memoryMib, int hostCpus,
                         int[] pin, long timeLimitUs, boolean cpuHasAvic) {
    }

    /** One vCPU's program and interrupt handlers (vector -> code). */
    public record VcpuSpec(int id, GuestCode program, Map<Integer, GuestCode> handlers) {
    }

    /**
     * What one vCPU must have observed. Null fields are not checked.
     *
     * @param interrupts         the exact sequence of vectors taken
     * @param interruptsInclude  vectors that must each have been taken at least once
     * @param reads              label -> value read
     * @param faults             the exact sequence of exception vectors the guest's instructions raised
     * @param exits              exit reason (kvm_exit name) -> count constraint ("3", ">=1", "<5", "0")
     */
    public record Expectation(int vcpu, List<Integer> interrupts, List<Integer> interruptsInclude,
                              Map<String, Long> reads, List<Integer> faults, Map<String, String> exits) {
    }
}
