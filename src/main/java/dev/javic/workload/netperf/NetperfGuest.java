package dev.javic.workload.netperf;

import dev.javic.guest.GuestApic;
import dev.javic.guest.GuestKernel;
import dev.javic.guest.OpQueue;
import dev.javic.guest.kernel.KernelCosts;
import dev.javic.hw.GuestProgram;
import dev.javic.hw.OpKind;
import dev.javic.hw.Operation;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;

/**
 * The guest of netperf TCP_RR: a one-CPU Linux 4.5 running the netperf client (one task) over a virtio-net
 * device, as CPU operations only (design.md). Per transaction:
 * <pre>
 *  netperf: send(1 byte)   WORK user loop + syscall entry + tcp_sendmsg + virtio_net start_xmit
 *                          OUTW VIRTIO_PCI_QUEUE_NOTIFY, TX queue  (the kick: an IOIO exit on every system)
 *                          WORK syscall exit
 *           recv(1 byte)   WORK syscall entry; data there? else WORK schedule() to idle
 *  idle:                   WORK idle_enter; loop { CLI; runnable? ; STI; HLT }      (HLT exits)
 *  virtio-net IRQ:         EOI: PV EOI's test of its word; if KVM had not set it (or with AVIC), the APIC EOI
 *                          (x2APIC wrmsr: an msr exit on vanilla/avic-off; xAPIC write accelerated with AVIC);
 *                          WORK irq entry/exit + vring_interrupt + NAPI poll + TCP receive; [WORK ttwu]; IRET
 *  idle -> netperf:        STI; WORK idle_exit + schedule(); WORK tcp_recvmsg + syscall exit
 * </pre>
 * plus the APIC driver's choice from CPUID ({@link GuestApic}), its set-up and PV EOI at boot and the periodic LAPIC
 * timer tick (HZ=250) exactly as
 * {@code dev.javic.guest.kernel.KernelCpu} does them. With one CPU and one task there is no run-queue
 * choice to make, so this program carries the few scheduler steps itself and costs them with the guest
 * kernel model's entries ({@link KernelCosts}); docs/netperf.md says what a port onto {@code Kernel} needs.
 *
 * <p>The test is time-bound like netperf's {@code -l}: after a seeded start-up delay (connection set-up;
 * it spreads the runs' phase against the tick) the guest notes the start, runs transactions until its
 * clock says the test length has passed, and notes the end.
 */
public final class NetperfGuest implements GuestProgram {
    /** virtio-net's RX MSI-X vector as the 4.5 vector allocator would hand it out (below the timer's class). */
    public static final int VIRTIO_NET_VECTOR = 0x41;
    public static final int LOCAL_TIMER_VECTOR = 0xEF;
    /** virtio-pci legacy: BAR0 in I/O space at 0xC040 (QEMU's first I/O BARs), VIRTIO_PCI_QUEUE_NOTIFY at +16. */
    public static final int NOTIFY_PORT = 0xC040 + 16;
    /** virtio-net queue 1 is the first TX queue (queue 0 is RX). */
    public static final int TX_QUEUE = 1;
    static final int TIMER_DIVIDE = 16;

    /** Told when the timed run starts and ends (netperf's own clock reads). */
    public interface Listener {
        void started(long time);

        void ended(long time, long transactions);
    }

    private static final int TASK = 0;
    private static final int IRQ = 1;

    // Task-context continuations.
    private static final int C_BOOT = 1;
    private static final int C_START = 2;
    private static final int C_SEND = 3;
    private static final int C_RECV = 4;
    private static final int C_RECV_CHECK = 5;
    private static final int C_IDLE_LOOP = 6;
    private static final int C_IDLE_CHECK = 7;
    private static final int C_RECV_DONE = 8;
    private static final int C_DONE = 9;
    private static final int C_BOOT_STARTUP = 15;
    // IRQ-context continuations.
    private static final int C_NET_RX = 20;
    private static final int C_IRET = 21;
    private static final int C_PV_EOI = 22;

    private final long hz;
    private final long durationCycles;
    private final long startDelay;
    private final Listener listener;

    private final long syscallEntry;
    private final long syscallExit;
    private final long sendPath;
    private final long recvDone;
    private final long schedule;
    private final long ttwu;
    private final long idleEnter;
    private final long idleExit;
    private final long irqEntryExit;
    private final long timerTick;
    private final long netIrq;

    private final OpQueue[] queue = {new OpQueue(), new OpQueue()};
    private final GuestApic apic = new GuestApic();
    /** The operation the CPU executes for this program (its results: CPUID, RDMSR). */
    private Operation op;
    private final int[] cont = {C_BOOT, 0};
    private int ctx = TASK;
    /** The socket's receive queue holds the reply (sk_receive_queue not empty). */
    private boolean replyQueued;
    /** netperf sleeps in sk_wait_data (TASK_INTERRUPTIBLE, off the run queue). */
    private boolean netperfSleeping;
    /** Set by the wake-up: the idle loop's need_resched. */
    private boolean needResched;
    private boolean finished;
    private long start = -1;
    private long transactions;

    public long interrupts;
    public long netInterrupts;
    public long timerInterrupts;
    public long halts;
    public long kicks;
    public long sleeps;
    /** EOIs that PV EOI took (no APIC access). */
    public long pvEoisTaken;

    public NetperfGuest(CostModel costs, double seconds, long startDelayCycles, Listener listener) {
        KernelCosts k = KernelCosts.from(costs);
        this.hz = 250;
        this.durationCycles = (long) (seconds * costs.tscHz());
        this.startDelay = Math.max(1, startDelayCycles);
        this.listener = listener;
        this.syscallEntry = k.syscall() / 2;
        this.syscallExit = k.syscall() - k.syscall() / 2;
        this.sendPath = costs.get(Cost.NETPERF_USER_PER_TRANSACTION) + syscallEntry + costs.get(Cost.GUEST_NET_TCP_SENDMSG)
                + costs.get(Cost.GUEST_NET_VIRTIO_XMIT);
        this.recvDone = costs.get(Cost.GUEST_NET_TCP_RECVMSG) + syscallExit;
        this.schedule = k.schedule();
        this.ttwu = k.ttwu();
        this.idleEnter = k.idleEnter();
        this.idleExit = k.idleExit();
        this.irqEntryExit = k.irqEntryExit();
        this.timerTick = k.timerTick();
        this.netIrq = costs.get(Cost.GUEST_NET_VIRTIO_IRQ) + costs.get(Cost.GUEST_NET_NAPI_POLL) + costs.get(Cost.GUEST_NET_TCP_RCV);
    }

    public long transactions() {
        return transactions;
    }

    @Override
    public boolean finished() {
        return false; // after the test the guest idles, like a kernel whose netperf exited
    }

    public boolean testFinished() {
        return finished;
    }

    // ---- the CPU's entry points -----------------------------------------------------------------------------

    @Override
    public void next(Operation op, long now) {
        this.op = op;
        for (int guard = 0; guard < 1000; guard++) {
            int c = ctx;
            if (!queue[c].isEmpty()) {
                if (queue[c].takeInto(op) == OpKind.IRET && c == IRQ) {
                    ctx = TASK;
                }
                return;
            }
            queue[c].clear();
            step(c, now);
        }
        throw new IllegalStateException("netperf guest issued no operation");
    }

    @Override
    public void interrupt(int vector, long now) {
        if (ctx == IRQ) {
            throw new IllegalStateException("interrupt " + vector + " inside a handler");
        }
        interrupts++;
        ctx = IRQ;
        queue[IRQ].clear();
        switch (vector) {
            case VIRTIO_NET_VECTOR -> {
                // handle_edge_irq: the MSI is acked (apic_ack_edge -> EOI) before the flow handler runs.
                netInterrupts++;
                eoiThen(irqEntryExit + netIrq, C_NET_RX);
            }
            case LOCAL_TIMER_VECTOR -> {
                timerInterrupts++;
                eoiThen(irqEntryExit + timerTick, C_IRET);
            }
            case GuestKernel.SPURIOUS_VECTOR -> cont[IRQ] = C_IRET;
            default -> {
                if (vector >= 32) {
                    eoiThen(0, C_IRET);
                } else {
                    cont[IRQ] = C_IRET;
                }
            }
        }
    }

    /** The EOI, then {@code work} and {@code next}; with PV EOI after the word's test (as KernelCpu). */
    private void eoiThen(long work, int next) {
        cont[IRQ] = apic.eoiThen(queue[IRQ], work, next, C_PV_EOI);
    }

    private void emit(int c, OpKind kind, long address, long value) {
        queue[c].add(kind, address, value);
    }

    private void emitWork(int c, long cycles) {
        queue[c].addWork(cycles);
    }

    // ---- continuations --------------------------------------------------------------------------------------

    private void step(int c, long now) {
        switch (cont[c]) {
            case C_BOOT -> {
                // the APIC driver, its set-up and KVM's PV EOI, as KernelCpu's boot
                if (apic.boot(queue[TASK], op, 0, LOCAL_TIMER_VECTOR, TIMER_DIVIDE, 1_000_000_000L / hz / TIMER_DIVIDE,
                        GuestKernel.pvEoiWord(0))) {
                    cont[TASK] = C_BOOT_STARTUP;
                }
            }
            case C_BOOT_STARTUP -> {
                emit(TASK, OpKind.STI, 0, 0);
                emitWork(TASK, startDelay); // netperf's start-up: connection set-up, the control exchange
                cont[TASK] = C_START;
            }
            case C_START -> {
                start = now;
                listener.started(now);
                cont[TASK] = C_SEND;
            }
            case C_SEND -> {
                emitWork(TASK, sendPath);
                emit(TASK, OpKind.OUTW, NOTIFY_PORT, TX_QUEUE); // iowrite16(vq->index, VIRTIO_PCI_QUEUE_NOTIFY)
                kicks++;
                emitWork(TASK, syscallExit);
                cont[TASK] = C_RECV;
            }
            case C_RECV -> {
                emitWork(TASK, syscallEntry);
                cont[TASK] = C_RECV_CHECK;
            }
            case C_RECV_CHECK -> {
                // sk_wait_data: the check and prepare_to_wait happen with the socket locked; an interrupt is
                // taken only at an operation boundary, so this decision is atomic against the RX interrupt.
                if (replyQueued) {
                    cont[TASK] = C_RECV_DONE;
                } else {
                    netperfSleeping = true;
                    sleeps++;
                    emitWork(TASK, schedule); // schedule() to the idle task
                    emitWork(TASK, idleEnter);
                    cont[TASK] = C_IDLE_LOOP;
                }
            }
            case C_IDLE_LOOP -> {
                emit(TASK, OpKind.CLI, 0, 0);
                cont[TASK] = C_IDLE_CHECK;
            }
            case C_IDLE_CHECK -> {
                emit(TASK, OpKind.STI, 0, 0);
                if (needResched) {
                    needResched = false;
                    emitWork(TASK, idleExit + schedule);
                    cont[TASK] = C_RECV_DONE;
                } else {
                    // default_idle: STI; HLT with the polling flag clear (4.5: no guest halt polling).
                    emit(TASK, OpKind.HLT, 0, 0);
                    halts++;
                    cont[TASK] = C_IDLE_LOOP;
                }
            }
            case C_RECV_DONE -> {
                replyQueued = false;
                emitWork(TASK, recvDone);
                cont[TASK] = C_DONE;
            }
            case C_DONE -> {
                transactions++;
                if (now - start >= durationCycles) {
                    finished = true;
                    listener.ended(now, transactions);
                    emitWork(TASK, idleEnter);
                    cont[TASK] = C_IDLE_LOOP; // netperf exits; the CPU idles
                } else {
                    cont[TASK] = C_SEND;
                }
            }
            case C_NET_RX -> {
                // tcp_rcv_established queued the reply and called sk_data_ready: wake netperf if it sleeps.
                if (!finished) {
                    replyQueued = true;
                }
                if (netperfSleeping) {
                    netperfSleeping = false;
                    needResched = true;
                    emitWork(IRQ, ttwu);
                }
                cont[IRQ] = C_IRET;
            }
            case C_PV_EOI -> {
                if (apic.finishEoi(queue[IRQ], op.result)) {
                    pvEoisTaken++;
                }
                cont[IRQ] = apic.afterEoi();
            }
            case C_IRET -> {
                emit(IRQ, OpKind.IRET, 0, 0);
                cont[IRQ] = 0;
            }
            default -> throw new IllegalStateException("no continuation " + cont[c] + " in context " + c);
        }
    }
}
