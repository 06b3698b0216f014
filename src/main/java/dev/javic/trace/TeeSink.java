package dev.javic.trace;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Sends every event to several sinks in order (e.g. a trace file and the exit statistics of the same run).
 * Closing closes each sink, even if an earlier one failed; the first failure is rethrown.
 */
public final class TeeSink implements TraceSink {
    private final TraceSink[] sinks;

    private TeeSink(TraceSink[] sinks) {
        this.sinks = sinks;
    }

    /** The sinks that are not null, as one: null if none, the sink itself if one. */
    public static TraceSink of(TraceSink... sinks) {
        List<TraceSink> present = Arrays.stream(sinks).filter(Objects::nonNull).toList();
        return switch (present.size()) {
            case 0 -> null;
            case 1 -> present.get(0);
            default -> new TeeSink(present.toArray(TraceSink[]::new));
        };
    }

    @Override
    public void kvmEntry(long time, int cpu, int vcpuId, long rip) {
        for (TraceSink s : sinks) {
            s.kvmEntry(time, cpu, vcpuId, rip);
        }
    }

    @Override
    public void kvmExit(long time, int cpu, int vcpuId, int exitCode, long rip, long info1, long info2, int intInfo, int errorCode) {
        for (TraceSink s : sinks) {
            s.kvmExit(time, cpu, vcpuId, exitCode, rip, info1, info2, intInfo, errorCode);
        }
    }

    @Override
    public void kvmInjVirq(long time, int cpu, int vcpuId, int vector, boolean soft, boolean reinjected) {
        for (TraceSink s : sinks) {
            s.kvmInjVirq(time, cpu, vcpuId, vector, soft, reinjected);
        }
    }

    @Override
    public void kvmApic(long time, int cpu, int vcpuId, boolean write, int reg, int value) {
        for (TraceSink s : sinks) {
            s.kvmApic(time, cpu, vcpuId, write, reg, value);
        }
    }

    @Override
    public void kvmApicIpi(long time, int cpu, int vcpuId, int icrLow, int destId) {
        for (TraceSink s : sinks) {
            s.kvmApicIpi(time, cpu, vcpuId, icrLow, destId);
        }
    }

    @Override
    public void kvmApicAcceptIrq(long time, int cpu, int apicId, int deliveryMode, boolean levelTriggered, int vector) {
        for (TraceSink s : sinks) {
            s.kvmApicAcceptIrq(time, cpu, apicId, deliveryMode, levelTriggered, vector);
        }
    }

    @Override
    public void kvmEoi(long time, int cpu, int apicId, int vector) {
        for (TraceSink s : sinks) {
            s.kvmEoi(time, cpu, apicId, vector);
        }
    }

    @Override
    public void kvmPvEoi(long time, int cpu, int apicId, int vector) {
        for (TraceSink s : sinks) {
            s.kvmPvEoi(time, cpu, apicId, vector);
        }
    }

    @Override
    public void kvmMsr(long time, int cpu, int vcpuId, boolean write, int msr, long data, boolean exception) {
        for (TraceSink s : sinks) {
            s.kvmMsr(time, cpu, vcpuId, write, msr, data, exception);
        }
    }

    @Override
    public void kvmCr(long time, int cpu, int vcpuId, boolean write, int cr, long value) {
        for (TraceSink s : sinks) {
            s.kvmCr(time, cpu, vcpuId, write, cr, value);
        }
    }

    @Override
    public void kvmCpuid(long time, int cpu, int vcpuId, int function, int index, long rax, long rbx, long rcx, long rdx, boolean found) {
        for (TraceSink s : sinks) {
            s.kvmCpuid(time, cpu, vcpuId, function, index, rax, rbx, rcx, rdx, found);
        }
    }

    @Override
    public void kvmVcpuWakeup(long time, int cpu, int vcpuId, long haltedNs, boolean waited, boolean valid) {
        for (TraceSink s : sinks) {
            s.kvmVcpuWakeup(time, cpu, vcpuId, haltedNs, waited, valid);
        }
    }

    @Override
    public void kvmAvicIncompleteIpi(long time, int cpu, int vcpuId, int icrHigh, int icrLow, int id, int index) {
        for (TraceSink s : sinks) {
            s.kvmAvicIncompleteIpi(time, cpu, vcpuId, icrHigh, icrLow, id, index);
        }
    }

    @Override
    public void kvmAvicUnacceleratedAccess(long time, int cpu, int vcpuId, int offset, boolean trap, boolean write, int vector) {
        for (TraceSink s : sinks) {
            s.kvmAvicUnacceleratedAccess(time, cpu, vcpuId, offset, trap, write, vector);
        }
    }

    @Override
    public void kvmAvicDoorbell(long time, int cpu, int vcpuId, int apicId) {
        for (TraceSink s : sinks) {
            s.kvmAvicDoorbell(time, cpu, vcpuId, apicId);
        }
    }

    @Override
    public void kvmAvicIsRunning(long time, int cpu, int vcpuId, boolean running, int hostApicId) {
        for (TraceSink s : sinks) {
            s.kvmAvicIsRunning(time, cpu, vcpuId, running, hostApicId);
        }
    }

    @Override
    public void kvmAvicTableUpdate(long time, int cpu, int vcpuId, boolean logical, int index, long entry) {
        for (TraceSink s : sinks) {
            s.kvmAvicTableUpdate(time, cpu, vcpuId, logical, index, entry);
        }
    }

    @Override
    public void kvmApicvInhibitChanged(long time, int cpu, boolean set, int reason, long inhibits) {
        for (TraceSink s : sinks) {
            s.kvmApicvInhibitChanged(time, cpu, set, reason, inhibits);
        }
    }

    @Override
    public void avicIpiAccelerated(long time, int cpu, int vcpuId, int targetApicId, int vector, boolean running) {
        for (TraceSink s : sinks) {
            s.avicIpiAccelerated(time, cpu, vcpuId, targetApicId, vector, running);
        }
    }

    @Override
    public void avicDoorbellReceived(long time, int cpu, int vcpuId) {
        for (TraceSink s : sinks) {
            s.avicDoorbellReceived(time, cpu, vcpuId);
        }
    }

    @Override
    public void guestInterrupt(long time, int cpu, int vcpuId, int vector) {
        for (TraceSink s : sinks) {
            s.guestInterrupt(time, cpu, vcpuId, vector);
        }
    }

    @Override
    public void schedSwitch(long time, int cpu, String prevComm, int prevPid, String prevState, String nextComm, int nextPid) {
        for (TraceSink s : sinks) {
            s.schedSwitch(time, cpu, prevComm, prevPid, prevState, nextComm, nextPid);
        }
    }

    @Override
    public void schedWakeup(long time, int cpu, String comm, int pid, int targetCpu) {
        for (TraceSink s : sinks) {
            s.schedWakeup(time, cpu, comm, pid, targetCpu);
        }
    }

    @Override
    public void ipiRaise(long time, int cpu, int targetCpu, String reason) {
        for (TraceSink s : sinks) {
            s.ipiRaise(time, cpu, targetCpu, reason);
        }
    }

    @Override
    public void ipiEntry(long time, int cpu, String reason) {
        for (TraceSink s : sinks) {
            s.ipiEntry(time, cpu, reason);
        }
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (TraceSink s : sinks) {
            try {
                s.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
