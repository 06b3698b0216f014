package dev.javic.guest.kernel;

/**
 * How the guest kernel is built and run.
 *
 * @param cpus        online CPUs (one per vCPU)
 * @param hz          CONFIG_HZ: the periodic tick's rate (250 on the distribution kernels of 2016)
 * @param batching    run a task's operations that nobody else can observe as one WORK (true), or one
 *                    operation per WORK split at every effect (false, the reference the batched run must match)
 * @param maxPlanOps  longest run of operations one WORK may carry
 */
public record KernelConfig(int cpus, int hz, boolean batching, int maxPlanOps) {
    public KernelConfig {
        if (cpus < 1 || cpus > 8) {
            throw new IllegalArgumentException("the guest kernel model handles 1..8 CPUs (flat logical APIC mode): " + cpus);
        }
        if (hz <= 0 || maxPlanOps < 1) {
            throw new IllegalArgumentException("hz and maxPlanOps must be positive");
        }
    }

    public static KernelConfig linux45(int cpus) {
        return new KernelConfig(cpus, 250, true, 1024);
    }

    public KernelConfig withBatching(boolean on) {
        return new KernelConfig(cpus, hz, on, maxPlanOps);
    }
}
