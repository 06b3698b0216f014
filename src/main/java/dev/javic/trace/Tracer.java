package dev.javic.trace;

import dev.javic.sim.Simulator;

/**
 * The tracepoints. Each method is a tracepoint of Linux's (or javic's own, see {@link TraceSink});
 * callers call them unconditionally. With no sink attached a tracepoint is one field load and a
 * branch, and its arguments are primitives, so nothing is allocated or formatted.
 */
public final class Tracer {
    private final Simulator sim;
    private TraceSink sink;

    public Tracer(Simulator sim) {
        this.sim = sim;
    }

    public void attach(TraceSink sink) {
        this.sink = sink;
    }

    public boolean enabled() {
        return sink != null;
    }

    public TraceSink sink() {
        return sink;
    }

    public void close() {
        if (sink != null) {
            sink.close();
        }
    }

    public void kvmEntry(int cpu, int vcpuId, long rip) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmEntry(sim.now(), cpu, vcpuId, rip);
        }
    }

    public void kvmExit(int cpu, int vcpuId, int exitCode, long rip, long info1, long info2, int intInfo, int errorCode) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmExit(sim.now(), cpu, vcpuId, exitCode, rip, info1, info2, intInfo, errorCode);
        }
    }

    public void kvmInjVirq(int cpu, int vcpuId, int vector, boolean soft, boolean reinjected) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmInjVirq(sim.now(), cpu, vcpuId, vector, soft, reinjected);
        }
    }

    public void kvmApic(int cpu, int vcpuId, boolean write, int reg, int value) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmApic(sim.now(), cpu, vcpuId, write, reg, value);
        }
    }

    public void kvmApicIpi(int cpu, int vcpuId, int icrLow, int destId) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmApicIpi(sim.now(), cpu, vcpuId, icrLow, destId);
        }
    }

    public void kvmApicAcceptIrq(int cpu, int apicId, int deliveryMode, boolean levelTriggered, int vector) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmApicAcceptIrq(sim.now(), cpu, apicId, deliveryMode, levelTriggered, vector);
        }
    }

    public void kvmEoi(int cpu, int apicId, int vector) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmEoi(sim.now(), cpu, apicId, vector);
        }
    }

    /** kvm_pv_eoi: KVM did the EOI a guest signalled through its PV EOI byte (apic_sync_pv_eoi_from_guest). */
    public void kvmPvEoi(int cpu, int apicId, int vector) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmPvEoi(sim.now(), cpu, apicId, vector);
        }
    }

    public void kvmMsr(int cpu, int vcpuId, boolean write, int msr, long data, boolean exception) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmMsr(sim.now(), cpu, vcpuId, write, msr, data, exception);
        }
    }

    public void kvmCr(int cpu, int vcpuId, boolean write, int cr, long value) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmCr(sim.now(), cpu, vcpuId, write, cr, value);
        }
    }

    public void kvmCpuid(int cpu, int vcpuId, int function, int index, long rax, long rbx, long rcx, long rdx,
                         boolean found) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmCpuid(sim.now(), cpu, vcpuId, function, index, rax, rbx, rcx, rdx, found);
        }
    }

    public void kvmVcpuWakeup(int cpu, int vcpuId, long haltedNs, boolean waited, boolean valid) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmVcpuWakeup(sim.now(), cpu, vcpuId, haltedNs, waited, valid);
        }
    }

    public void kvmAvicIncompleteIpi(int cpu, int vcpuId, int icrHigh, int icrLow, int id, int index) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmAvicIncompleteIpi(sim.now(), cpu, vcpuId, icrHigh, icrLow, id, index);
        }
    }

    public void kvmAvicUnacceleratedAccess(int cpu, int vcpuId, int offset, boolean trap, boolean write, int vector) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmAvicUnacceleratedAccess(sim.now(), cpu, vcpuId, offset, trap, write, vector);
        }
    }

    public void kvmAvicDoorbell(int cpu, int vcpuId, int apicId) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmAvicDoorbell(sim.now(), cpu, vcpuId, apicId);
        }
    }

    public void kvmAvicIsRunning(int cpu, int vcpuId, boolean running, int hostApicId) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmAvicIsRunning(sim.now(), cpu, vcpuId, running, hostApicId);
        }
    }

    public void kvmAvicTableUpdate(int cpu, int vcpuId, boolean logical, int index, long entry) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmAvicTableUpdate(sim.now(), cpu, vcpuId, logical, index, entry);
        }
    }

    public void kvmApicvInhibitChanged(int cpu, boolean set, int reason, long inhibits) {
        TraceSink s = sink;
        if (s != null) {
            s.kvmApicvInhibitChanged(sim.now(), cpu, set, reason, inhibits);
        }
    }

    public void avicIpiAccelerated(int cpu, int vcpuId, int targetApicId, int vector, boolean running) {
        TraceSink s = sink;
        if (s != null) {
            s.avicIpiAccelerated(sim.now(), cpu, vcpuId, targetApicId, vector, running);
        }
    }

    public void avicDoorbellReceived(int cpu, int vcpuId) {
        TraceSink s = sink;
        if (s != null) {
            s.avicDoorbellReceived(sim.now(), cpu, vcpuId);
        }
    }

    public void guestInterrupt(int cpu, int vcpuId, int vector) {
        TraceSink s = sink;
        if (s != null) {
            s.guestInterrupt(sim.now(), cpu, vcpuId, vector);
        }
    }

    public void schedSwitch(int cpu, String prevComm, int prevPid, String prevState, String nextComm, int nextPid) {
        TraceSink s = sink;
        if (s != null) {
            s.schedSwitch(sim.now(), cpu, prevComm, prevPid, prevState, nextComm, nextPid);
        }
    }

    public void schedWakeup(int cpu, String comm, int pid, int targetCpu) {
        TraceSink s = sink;
        if (s != null) {
            s.schedWakeup(sim.now(), cpu, comm, pid, targetCpu);
        }
    }

    public void ipiRaise(int cpu, int targetCpu, String reason) {
        TraceSink s = sink;
        if (s != null) {
            s.ipiRaise(sim.now(), cpu, targetCpu, reason);
        }
    }

    public void ipiEntry(int cpu, String reason) {
        TraceSink s = sink;
        if (s != null) {
            s.ipiEntry(sim.now(), cpu, reason);
        }
    }
}
