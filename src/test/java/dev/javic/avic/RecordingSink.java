package dev.javic.avic;

import dev.javic.hw.SvmExit;
import dev.javic.trace.TraceSink;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A trace sink that keeps the events the AVIC tests look at, in the order they happened, with their
 * fields bit for bit. An optional hook runs at each {@code kvm_exit}, i.e. after the #VMEXIT completed
 * and before KVM's handler ran, so a test can look at memory exactly as the hardware left it.
 */
final class RecordingSink implements TraceSink {
    sealed interface Event permits Exit, Entry, Incomplete, Unaccel, AccelIpi, DoorbellRx, KvmDoorbell, IsRunning,
            GuestIrq, IpiRaise, SchedWakeup, VcpuWakeup, SchedSwitch {
        long time();
    }

    record Exit(long time, int cpu, int vcpu, int code, long rip, long info1, long info2) implements Event {
        @Override
        public String toString() {
            return String.format("%d v%d exit %s rip=%x info1=%x info2=%x", time, vcpu, SvmExit.name(code), rip, info1, info2);
        }
    }

    record Entry(long time, int cpu, int vcpu, long rip) implements Event {
    }

    record Incomplete(long time, int vcpu, int icrHigh, int icrLow, int cause, int index) implements Event {
    }

    record Unaccel(long time, int vcpu, int offset, boolean trap, boolean write, int vector) implements Event {
    }

    record AccelIpi(long time, int cpu, int vcpu, int targetIndex, int vector, boolean running) implements Event {
    }

    record DoorbellRx(long time, int cpu, int vcpu) implements Event {
    }

    record KvmDoorbell(long time, int cpu, int vcpu, int apicId) implements Event {
    }

    record IsRunning(long time, int cpu, int vcpu, boolean running) implements Event {
    }

    record GuestIrq(long time, int cpu, int vcpu, int vector) implements Event {
    }

    record IpiRaise(long time, int cpu, int targetCpu, String reason) implements Event {
    }

    record SchedWakeup(long time, int cpu, String comm, int targetCpu) implements Event {
    }

    record VcpuWakeup(long time, int cpu, int vcpu, boolean waited) implements Event {
    }

    record SchedSwitch(long time, int cpu, String prev, String prevState, String next) implements Event {
    }

    final List<Event> events = new ArrayList<>();
    private Consumer<Exit> onExit = e -> { };

    RecordingSink onExit(Consumer<Exit> hook) {
        this.onExit = hook;
        return this;
    }

    <T extends Event> List<T> all(Class<T> type) {
        return events.stream().filter(type::isInstance).map(type::cast).toList();
    }

    <T extends Event> List<T> all(Class<T> type, Predicate<T> filter) {
        return all(type).stream().filter(filter).toList();
    }

    List<Exit> exits(int vcpu) {
        return all(Exit.class, e -> e.vcpu() == vcpu);
    }

    List<Exit> exits(int vcpu, int code) {
        return all(Exit.class, e -> e.vcpu() == vcpu && e.code() == code);
    }

    @Override
    public void kvmExit(long time, int cpu, int vcpuId, int exitCode, long rip, long info1, long info2, int intInfo,
                        int errorCode) {
        Exit e = new Exit(time, cpu, vcpuId, exitCode, rip, info1, info2);
        events.add(e);
        onExit.accept(e);
    }

    @Override
    public void kvmEntry(long time, int cpu, int vcpuId, long rip) {
        events.add(new Entry(time, cpu, vcpuId, rip));
    }

    @Override
    public void kvmAvicIncompleteIpi(long time, int cpu, int vcpuId, int icrHigh, int icrLow, int id, int index) {
        events.add(new Incomplete(time, vcpuId, icrHigh, icrLow, id, index));
    }

    @Override
    public void kvmAvicUnacceleratedAccess(long time, int cpu, int vcpuId, int offset, boolean trap, boolean write,
                                           int vector) {
        events.add(new Unaccel(time, vcpuId, offset, trap, write, vector));
    }

    @Override
    public void avicIpiAccelerated(long time, int cpu, int vcpuId, int targetApicId, int vector, boolean running) {
        events.add(new AccelIpi(time, cpu, vcpuId, targetApicId, vector, running));
    }

    @Override
    public void avicDoorbellReceived(long time, int cpu, int vcpuId) {
        events.add(new DoorbellRx(time, cpu, vcpuId));
    }

    @Override
    public void kvmAvicDoorbell(long time, int cpu, int vcpuId, int apicId) {
        events.add(new KvmDoorbell(time, cpu, vcpuId, apicId));
    }

    @Override
    public void kvmAvicIsRunning(long time, int cpu, int vcpuId, boolean running, int hostApicId) {
        events.add(new IsRunning(time, cpu, vcpuId, running));
    }

    @Override
    public void guestInterrupt(long time, int cpu, int vcpuId, int vector) {
        events.add(new GuestIrq(time, cpu, vcpuId, vector));
    }

    @Override
    public void ipiRaise(long time, int cpu, int targetCpu, String reason) {
        events.add(new IpiRaise(time, cpu, targetCpu, reason));
    }

    @Override
    public void schedWakeup(long time, int cpu, String comm, int pid, int targetCpu) {
        events.add(new SchedWakeup(time, cpu, comm, targetCpu));
    }

    @Override
    public void kvmVcpuWakeup(long time, int cpu, int vcpuId, long haltedNs, boolean waited, boolean valid) {
        events.add(new VcpuWakeup(time, cpu, vcpuId, waited));
    }

    @Override
    public void schedSwitch(long time, int cpu, String prevComm, int prevPid, String prevState, String nextComm,
                            int nextPid) {
        events.add(new SchedSwitch(time, cpu, prevComm, prevState, nextComm));
    }

    String dump() {
        StringBuilder b = new StringBuilder();
        for (Event e : events) {
            b.append(e).append('\n');
        }
        return b.toString();
    }
}
