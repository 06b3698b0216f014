package dev.javic.kvm;

import dev.javic.hw.SvmExit;

/**
 * Per-vCPU counters, as KVM's {@code struct kvm_vcpu_stat} plus exits by reason. Primitive arrays,
 * so counting allocates nothing.
 */
public final class VcpuStats {
    private final long[] exitsByCode = new long[SvmExit.MAX + 1];
    public long exits;
    public long irqInjections;
    public long nmiInjections;
    public long irqWindowExits;
    public long haltExits;
    public long haltWakeups;
    public long ipisSent;
    public long hostIpisSent;
    public long doorbellsSent;
    public long avicWakeups;
    /** IOIO exits handled by an ioeventfd in the kernel, and port accesses nobody in the kernel took. */
    public long ioeventfdSignals;
    public long ioDropped;
    /** EOIs the guest signalled through its PV EOI byte and KVM did at the next exit (kvm_pv_eoi). */
    public long pvEois;

    void countExit(int code) {
        exits++;
        if (code >= 0 && code <= SvmExit.MAX) {
            exitsByCode[code]++;
        }
    }

    public long exits(int code) {
        return code >= 0 && code <= SvmExit.MAX ? exitsByCode[code] : 0;
    }

    /** Exit codes that occurred, in ascending order. */
    public int[] exitCodes() {
        int n = 0;
        for (long c : exitsByCode) {
            if (c != 0) {
                n++;
            }
        }
        int[] codes = new int[n];
        int i = 0;
        for (int code = 0; code < exitsByCode.length; code++) {
            if (exitsByCode[code] != 0) {
                codes[i++] = code;
            }
        }
        return codes;
    }
}
