package dev.javic.devkvm;

import dev.javic.hw.ApicRegs;
import dev.javic.hw.AvicRegisterPolicy;
import dev.javic.kvm.lapic.ApicIrq;
import dev.javic.kvm.lapic.LapicHost;
import dev.javic.kvm.lapic.LocalApic;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;

import static dev.javic.devkvm.KvmApi.*;
import static dev.javic.devkvm.KvmStructs.KVM_CPUID2;
import static dev.javic.devkvm.KvmStructs.KVM_CPUID_ENTRY2;
import static dev.javic.devkvm.KvmStructs.KVM_REGS;
import static dev.javic.devkvm.KvmStructs.KVM_SIGNAL_MASK;
import static dev.javic.devkvm.KvmStructs.KVM_SREGS;
import static dev.javic.devkvm.KvmStructs.RUN_CR8;
import static dev.javic.devkvm.KvmStructs.RUN_EXIT_REASON;
import static dev.javic.devkvm.KvmStructs.RUN_FAIL_ENTRY_REASON;
import static dev.javic.devkvm.KvmStructs.RUN_IF_FLAG;
import static dev.javic.devkvm.KvmStructs.RUN_INTERNAL_SUBERROR;
import static dev.javic.devkvm.KvmStructs.RUN_IO_COUNT;
import static dev.javic.devkvm.KvmStructs.RUN_IO_DATA_OFFSET;
import static dev.javic.devkvm.KvmStructs.RUN_IO_DIRECTION;
import static dev.javic.devkvm.KvmStructs.RUN_IO_PORT;
import static dev.javic.devkvm.KvmStructs.RUN_IO_SIZE;
import static dev.javic.devkvm.KvmStructs.RUN_MMIO_DATA;
import static dev.javic.devkvm.KvmStructs.RUN_MMIO_IS_WRITE;
import static dev.javic.devkvm.KvmStructs.RUN_MMIO_LEN;
import static dev.javic.devkvm.KvmStructs.RUN_MMIO_PHYS_ADDR;
import static dev.javic.devkvm.KvmStructs.RUN_READY_FOR_INTERRUPT_INJECTION;
import static dev.javic.devkvm.KvmStructs.RUN_REQUEST_INTERRUPT_WINDOW;
import static dev.javic.devkvm.KvmStructs.offset;
import static dev.javic.devkvm.KvmStructs.putSegment;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One vCPU: its fd, its mmap'ed {@code struct kvm_run}, its platform thread running the KVM_RUN loop, and the
 * {@link LapicHost} side of its software local APIC.
 *
 * <p><b>Kicking the thread out of KVM_RUN.</b> An IPI (or a timer) for a vCPU that is inside KVM_RUN must
 * force it out so that javic can inject. KVM returns -EINTR from KVM_RUN when a signal is pending for the
 * thread; this is done without any signal handler (which the JVM could not run in a signal context):
 * <ol>
 * <li>the vCPU thread blocks SIGUSR1 ({@link KvmApi#SIG_KICK}) for itself with pthread_sigmask, so the signal is
 *     never delivered to it in userspace (and HotSpot does not use SIGUSR1);</li>
 * <li>KVM_SET_SIGNAL_MASK gives KVM the mask to use <em>while in KVM_RUN</em>: the empty set, so a pending
 *     SIGUSR1 interrupts guest mode (KVM checks signal_pending before every entry and the host IPI that
 *     comes with the signal forces a running guest out);</li>
 * <li>the kicker sends it with pthread_kill to this thread's pthread_t (taken with pthread_self on the thread);
 *     </li>
 * <li>back in userspace, after -EINTR, the thread consumes the still-blocked, still-pending signal with
 *     sigtimedwait (zero timeout), like QEMU's kvm_eat_signals.</li>
 * </ol>
 * A kick that lands between two KVM_RUNs stays pending (blocked) and makes the next KVM_RUN return -EINTR at
 * once, so no kick is lost between "decide to enter" and "entered". The kernel never delivers the signal:
 * during KVM_RUN the thread's real mask (current->real_blocked) still holds SIGUSR1, which also keeps the
 * default action (terminate) from being taken (complete_signal checks real_blocked); on the way out KVM
 * restores the blocked mask.
 */
final class KvmVcpu implements LapicHost {
    private static final boolean DEBUG = System.getenv("JAVIC_KVM_DEBUG") != null;
    private final KvmMachine machine;
    private final int index;
    private final int fd;
    private final MemorySegment run;
    private final Arena arena = Arena.ofShared();
    /** KVM_INTERRUPT's argument, reused: an injection allocates nothing. */
    private final MemorySegment interruptArg = arena.allocate(KvmStructs.KVM_INTERRUPT);
    private final Condition wake;
    private final Thread thread;
    /** pthread_t of {@link #thread} once it runs, 0 before and after (guarded by the machine's lock). */
    private long pthread;
    private boolean kickPending;
    /** Blocked in HLT or waiting for SIPI (guarded by the machine's lock): AVIC's IsRunning would be clear. */
    private boolean halted;
    /**
     * KVM_MP_STATE_INIT_RECEIVED (guarded by the machine's lock): the vCPU does not run until a SIPI arrives.
     * Application processors start here; with a userspace APIC, KVM leaves every vCPU runnable and the VMM
     * decides when to enter (x86.c kvm_arch_vcpu_create), so javic keeps an AP's thread off KVM_RUN.
     */
    private boolean waitingForSipi;
    private ScheduledFuture<?> timer;
    /** Bumped by every arm and cancel, so that an expiry already queued for an older arming does nothing. */
    private long timerGeneration;

    KvmVcpu(KvmMachine machine, int index, int fd, int mmapSize) {
        this.machine = machine;
        this.index = index;
        this.fd = fd;
        this.run = KvmApi.mmap(mmapSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        this.wake = machine.lock.newCondition();
        this.thread = Thread.ofPlatform().name("javic-vcpu" + index).daemon(true).unstarted(this::threadMain);
        this.waitingForSipi = index != 0;
    }

    boolean isHalted() {
        return halted;
    }

    private LocalApic apic() {
        return machine.apics[index];
    }

    // =====================================================================================================
    // Setup
    // =====================================================================================================

    /** KVM_SET_CPUID2 from the (edited) supported CPUID, with this vCPU's APIC ID. */
    void setCpuid(MemorySegment supported) {
        int nent = supported.get(JAVA_INT, 0);
        long entrySize = KVM_CPUID_ENTRY2.byteSize();
        MemorySegment c = arena.allocate(KVM_CPUID2.byteSize() + nent * entrySize, 8);
        MemorySegment.copy(supported, 0, c, 0, c.byteSize());
        for (int i = 0; i < nent; i++) {
            long e = KVM_CPUID2.byteSize() + i * entrySize;
            int function = c.get(JAVA_INT, e + offset(KVM_CPUID_ENTRY2, "function"));
            long ecx = e + offset(KVM_CPUID_ENTRY2, "ecx");
            long ebx = e + offset(KVM_CPUID_ENTRY2, "ebx");
            long edx = e + offset(KVM_CPUID_ENTRY2, "edx");
            if (function == 1) {
                int hidden = (1 << 21) | (machine.msrExits ? 0 : 1 << 24); // x2APIC; TSC-deadline without MSR exits
                c.set(JAVA_INT, ecx, c.get(JAVA_INT, ecx) & ~hidden);
                // initial APIC ID in 31:24; 23:16 the logical processors per package (meaningful with HTT set)
                c.set(JAVA_INT, ebx, (c.get(JAVA_INT, ebx) & 0x0000FFFF) | (index << 24)
                        | (Math.min(255, machine.vcpus.length) << 16));
            } else if (function == 0xB || function == 0x1F) {
                c.set(JAVA_INT, edx, index); // x2APIC ID of this logical processor
            }
        }
        ioctl(fd, KVM_SET_CPUID2, c);
    }

    /**
     * Multiboot v1 machine state (spec §3.2): EAX = 0x2BADB002, EBX = the information structure, 32-bit
     * protected mode with paging off, flat 4 GiB code (read/execute) and data (read/write) segments at base 0,
     * EFLAGS with IF and VM clear; GDTR and IDTR are left for the kernel to load (their contents are undefined).
     */
    void setupMultibootEntry(long entry, long mbi, long apicBase) {
        MemorySegment sregs = arena.allocate(KVM_SREGS);
        ioctl(fd, KVM_GET_SREGS, sregs);
        putSegment(sregs, offset(KVM_SREGS, "cs"), 0, 0xFFFFFFFF, 0x08, 0xB, true, true, true);
        for (String s : new String[] {"ds", "es", "fs", "gs", "ss"}) {
            putSegment(sregs, offset(KVM_SREGS, s), 0, 0xFFFFFFFF, 0x10, 0x3, true, true, true);
        }
        long cr0 = sregs.get(JAVA_LONG, offset(KVM_SREGS, "cr0"));
        sregs.set(JAVA_LONG, offset(KVM_SREGS, "cr0"), (cr0 | 0x1) & ~0x8000_0000L); // PE on, PG off
        sregs.set(JAVA_LONG, offset(KVM_SREGS, "cr4"), 0L);
        sregs.set(JAVA_LONG, offset(KVM_SREGS, "efer"), 0L);
        sregs.set(JAVA_LONG, offset(KVM_SREGS, "apic_base"), apicBase);
        ioctl(fd, KVM_SET_SREGS, sregs);

        MemorySegment regs = arena.allocate(KVM_REGS);
        regs.set(JAVA_LONG, offset(KVM_REGS, "rax"), Integer.toUnsignedLong(MultibootImage.BOOTLOADER_MAGIC));
        regs.set(JAVA_LONG, offset(KVM_REGS, "rbx"), mbi);
        regs.set(JAVA_LONG, offset(KVM_REGS, "rip"), entry);
        regs.set(JAVA_LONG, offset(KVM_REGS, "rflags"), 0x2L); // bit 1 is reserved-one; IF = 0
        ioctl(fd, KVM_SET_REGS, regs);
    }

    void start() {
        thread.start();
    }

    /**
     * The SIPI (SDM 10.4.4, KVM's kvm_vcpu_deliver_sipi_vector): the AP leaves wait-for-SIPI in real mode at
     * CS = vector << 8 (base vector << 12), IP = 0; the other segments and registers keep their reset
     * values, which KVM gave the vCPU at creation and javic restores here (real-mode flat 64 KiB segments, CR0
     * with PE and PG clear, RFLAGS = 2).
     */
    private void startAtSipi(int vector) {
        MemorySegment sregs = arena.allocate(KVM_SREGS);
        ioctl(fd, KVM_GET_SREGS, sregs);
        putRealModeSegment(sregs, "cs", vector << 8, 0xB);
        for (String s : new String[] {"ds", "es", "fs", "gs", "ss"}) {
            putRealModeSegment(sregs, s, 0, 0x3);
        }
        long cr0 = sregs.get(JAVA_LONG, offset(KVM_SREGS, "cr0"));
        sregs.set(JAVA_LONG, offset(KVM_SREGS, "cr0"), cr0 & ~0x8000_0001L);
        sregs.set(JAVA_LONG, offset(KVM_SREGS, "cr4"), 0L);
        sregs.set(JAVA_LONG, offset(KVM_SREGS, "efer"), 0L);
        sregs.set(JAVA_LONG, offset(KVM_SREGS, "apic_base"), apic().apicBase());
        ioctl(fd, KVM_SET_SREGS, sregs);
        MemorySegment regs = arena.allocate(KVM_REGS); // all zero: IP 0, general registers 0
        regs.set(JAVA_LONG, offset(KVM_REGS, "rflags"), 0x2L);
        ioctl(fd, KVM_SET_REGS, regs);
        // the last exit's ready/IF flags belong to the previous life of this vCPU
        run.set(JAVA_BYTE, RUN_READY_FOR_INTERRUPT_INJECTION, (byte) 0);
        run.set(JAVA_BYTE, RUN_IF_FLAG, (byte) 0);
    }

    private static void putRealModeSegment(MemorySegment sregs, String name, int selector, int type) {
        long at = offset(KVM_SREGS, name);
        putSegment(sregs, at, (long) selector << 4, 0xFFFF, selector, type, false, true, false);
    }

    void join() throws InterruptedException {
        thread.join();
    }

    void close() {
        KvmApi.munmap(run);
        KvmApi.close(fd);
        arena.close();
    }

    // =====================================================================================================
    // The vCPU thread
    // =====================================================================================================

    private void threadMain() {
        try {
            KvmApi.blockSignalInThisThread(SIG_KICK);
            MemorySegment mask = arena.allocate(KVM_SIGNAL_MASK.byteSize() + KERNEL_SIGSET_BYTES, 8);
            mask.set(JAVA_INT, 0, KERNEL_SIGSET_BYTES); // len; sigset: empty, nothing blocked inside KVM_RUN
            ioctl(fd, KVM_SET_SIGNAL_MASK, mask);
            machine.lock.lock();
            try {
                pthread = KvmApi.pthreadSelf();
                if (kickPending || machine.stopped()) {
                    KvmApi.pthreadKill(pthread, SIG_KICK);
                }
            } finally {
                machine.lock.unlock();
            }
            loop();
        } catch (RuntimeException | Error e) {
            machine.finish(new KvmMachine.Result(KvmMachine.Outcome.GUEST_ERROR, KvmMachine.STATUS_GUEST_ERROR,
                    "vCPU " + index + ": " + e, null));
        } finally {
            machine.lock.lock();
            try {
                pthread = 0; // never signal a thread that has ended
            } finally {
                machine.lock.unlock();
            }
            // No kick can come now; eat one that is still pending, or the JVM's thread exit, which restores the
            // default signal mask, would let SIGUSR1's default action (terminate the process) happen.
            KvmApi.consumePendingSignal(SIG_KICK);
        }
    }

    private void loop() throws RuntimeException {
        while (!machine.stopped()) {
            if (!acceptEvents()) {
                continue;
            }
            prepareEntry();
            int r = KvmApi.ioctlRaw(fd, KVM_RUN, MemorySegment.NULL);
            KvmTrace trace = machine.trace();
            if (trace != null) {
                trace.userspaceExit(r < 0 ? 0 : run.get(JAVA_INT, RUN_EXIT_REASON), Math.min(r, 0));
            }
            if (r == -EINTR) {
                KvmApi.consumePendingSignal(SIG_KICK);
                AvicAccounting avic = machine.avicAccounting();
                if (avic != null && !machine.stopped()) {
                    machine.lock.lock();
                    try {
                        avic.kick(index);
                    } finally {
                        machine.lock.unlock();
                    }
                }
                continue;
            }
            if (r < 0) {
                throw new KvmException("KVM_RUN", -r);
            }
            afterExit();
            if (DEBUG) {
                System.err.printf("exit %d ready=%d if=%d win=%d%n", run.get(JAVA_INT, RUN_EXIT_REASON),
                        run.get(JAVA_BYTE, RUN_READY_FOR_INTERRUPT_INJECTION), run.get(JAVA_BYTE, RUN_IF_FLAG),
                        run.get(JAVA_BYTE, RUN_REQUEST_INTERRUPT_WINDOW));
            }
            handleExit(run.get(JAVA_INT, RUN_EXIT_REASON));
        }
    }

    /**
     * kvm_apic_accept_events in userspace: an INIT resets the APIC (keeping its ID and base) and puts the vCPU
     * in wait-for-SIPI; in that state the thread sleeps until a SIPI starts it in real mode (a SIPI to a vCPU
     * that is not waiting for one is dropped, SDM 10.4.4). INIT to the BSP does the same: there is no firmware
     * at the reset vector to run. Returns whether the vCPU may enter the guest now.
     */
    private boolean acceptEvents() {
        machine.lock.lock();
        try {
            if (apic().takeInit()) {
                apic().reset(true);
                waitingForSipi = true;
            }
            if (!waitingForSipi) {
                apic().takeSipi();
                return true;
            }
            halted = true;
            try {
                while (!machine.stopped()) {
                    if (apic().takeInit()) {
                        apic().reset(true);
                    }
                    int vector = apic().takeSipi();
                    if (vector >= 0) {
                        waitingForSipi = false;
                        startAtSipi(vector);
                        return true;
                    }
                    wake.awaitUninterruptibly();
                }
                return false;
            } finally {
                halted = false;
            }
        } finally {
            machine.lock.unlock();
        }
    }

    /**
     * Before KVM_RUN: the TPR goes to kvm_run->cr8; the highest deliverable APIC interrupt is injected with
     * KVM_INTERRUPT if the guest can take it now (ready_for_interrupt_injection and IF, as of the last exit),
     * else an interrupt window is requested so that KVM exits as soon as it can.
     */
    private void prepareEntry() {
        machine.lock.lock();
        try {
            kickPending = false;
            LocalApic apic = apic();
            // An NMI goes to KVM, which injects it when the guest can take one (NMI window, in the kernel).
            while (apic.takeNmi()) {
                ioctl(fd, KVM_NMI, MemorySegment.NULL);
                if (machine.avicAccounting() != null) {
                    machine.avicAccounting().nmi(index);
                }
            }
            run.set(JAVA_LONG, RUN_CR8, apic.cr8());
            boolean ready = run.get(JAVA_BYTE, RUN_READY_FOR_INTERRUPT_INJECTION) != 0
                    && run.get(JAVA_BYTE, RUN_IF_FLAG) != 0;
            if (ready && apic.hasInterrupt() >= 0) {
                int vector = apic.getInterrupt();
                interruptArg.set(JAVA_INT, 0, vector);
                ioctl(fd, KVM_INTERRUPT, interruptArg);
                if (machine.trace() != null) {
                    machine.trace().injVirq(index, vector);
                }
                if (machine.avicAccounting() != null) {
                    machine.avicAccounting().injected(index);
                }
            }
            run.set(JAVA_BYTE, RUN_REQUEST_INTERRUPT_WINDOW, (byte) (apic.hasInterrupt() >= 0 ? 1 : 0));
        } finally {
            machine.lock.unlock();
        }
    }

    /** After KVM_RUN: KVM keeps the TPR in kvm_run->cr8 (MOV to CR8 in a 64-bit guest does not exit). */
    private void afterExit() {
        long cr8 = run.get(JAVA_LONG, RUN_CR8) & 0xF;
        machine.lock.lock();
        try {
            if (cr8 != apic().cr8()) {
                apic().setCr8(cr8);
            }
        } finally {
            machine.lock.unlock();
        }
    }

    private void handleExit(int reason) {
        AvicAccounting avic = machine.avicAccounting();
        if (avic != null && reason != KVM_EXIT_MMIO) {
            machine.lock.lock();
            try {
                switch (reason) {
                    case KVM_EXIT_IO -> avic.io(index);
                    case KVM_EXIT_HLT -> avic.hlt(index);
                    case KVM_EXIT_IRQ_WINDOW_OPEN -> avic.irqWindow(index);
                    case KVM_EXIT_INTR -> avic.kick(index);
                    case KVM_EXIT_X86_RDMSR, KVM_EXIT_X86_WRMSR -> avic.msr(index);
                    default -> {
                        // the run ends
                    }
                }
            } finally {
                machine.lock.unlock();
            }
        }
        switch (reason) {
            case KVM_EXIT_IO -> handleIo();
            case KVM_EXIT_MMIO -> handleMmio();
            case KVM_EXIT_HLT -> halt();
            case KVM_EXIT_X86_RDMSR -> rdmsr();
            case KVM_EXIT_X86_WRMSR -> wrmsr();
            case KVM_EXIT_IRQ_WINDOW_OPEN, KVM_EXIT_INTR -> {
                // prepareEntry injects
            }
            case KVM_EXIT_SHUTDOWN -> guestError("the guest shut down (triple fault: KVM_EXIT_SHUTDOWN)");
            case KVM_EXIT_FAIL_ENTRY -> guestError(String.format("KVM_EXIT_FAIL_ENTRY, hardware reason 0x%x",
                    run.get(JAVA_LONG, RUN_FAIL_ENTRY_REASON)));
            case KVM_EXIT_INTERNAL_ERROR -> guestError("KVM_EXIT_INTERNAL_ERROR, suberror "
                    + run.get(JAVA_INT, RUN_INTERNAL_SUBERROR) + internalErrorData());
            default -> guestError("unhandled KVM exit reason " + reason);
        }
    }

    /** internal.data[0..ndata) in hex (what KVM says about the failure: for SVM exit info, the event being delivered). */
    private String internalErrorData() {
        int ndata = Math.min(16, run.get(JAVA_INT, RUN_INTERNAL_SUBERROR + 4));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ndata; i++) {
            sb.append(i == 0 ? ", data" : "").append(" 0x").append(Long.toHexString(run.get(JAVA_LONG, RUN_INTERNAL_SUBERROR + 8 + 8L * i)));
        }
        return sb.toString();
    }

    private void guestError(String what) {
        String rip = "";
        try {
            MemorySegment regs = arena.allocate(KVM_REGS);
            ioctl(fd, KVM_GET_REGS, regs);
            rip = String.format(" at rip 0x%x", regs.get(JAVA_LONG, offset(KVM_REGS, "rip")));
            if (DEBUG) {
                MemorySegment sregs = arena.allocate(KVM_SREGS);
                ioctl(fd, KVM_GET_SREGS, sregs);
                rip += String.format(" (cr0 0x%x idt 0x%x/0x%x gdt 0x%x/0x%x cs 0x%x esp 0x%x)",
                        sregs.get(JAVA_LONG, offset(KVM_SREGS, "cr0")),
                        sregs.get(JAVA_LONG, offset(KVM_SREGS, "idt", "base")), sregs.get(ValueLayout.JAVA_SHORT, offset(KVM_SREGS, "idt", "limit")),
                        sregs.get(JAVA_LONG, offset(KVM_SREGS, "gdt", "base")), sregs.get(ValueLayout.JAVA_SHORT, offset(KVM_SREGS, "gdt", "limit")),
                        sregs.get(ValueLayout.JAVA_SHORT, offset(KVM_SREGS, "cs", "selector")), regs.get(JAVA_LONG, offset(KVM_REGS, "rsp")));
            }
        } catch (RuntimeException e) {
            // the registers are a nicety
        }
        machine.finish(new KvmMachine.Result(KvmMachine.Outcome.GUEST_ERROR, KvmMachine.STATUS_GUEST_ERROR,
                "vCPU " + index + ": " + what + rip, null));
    }

    private void handleIo() {
        machine.lock.lock();
        try {
            handleIoLocked();
        } finally {
            machine.lock.unlock();
        }
    }

    private void handleIoLocked() {
        int direction = run.get(JAVA_BYTE, RUN_IO_DIRECTION);
        int size = run.get(JAVA_BYTE, RUN_IO_SIZE);
        int port = Short.toUnsignedInt(run.get(ValueLayout.JAVA_SHORT, RUN_IO_PORT));
        int count = run.get(JAVA_INT, RUN_IO_COUNT);
        long data = run.get(JAVA_LONG, RUN_IO_DATA_OFFSET);
        for (int i = 0; i < count; i++) {
            long at = data + (long) i * size;
            if (direction == KVM_EXIT_IO_OUT) {
                int value = switch (size) {
                    case 1 -> Byte.toUnsignedInt(run.get(JAVA_BYTE, at));
                    case 2 -> Short.toUnsignedInt(run.get(ValueLayout.JAVA_SHORT_UNALIGNED, at));
                    default -> run.get(ValueLayout.JAVA_INT_UNALIGNED, at);
                };
                machine.portOut(port, size, value);
            } else {
                int value = machine.portIn(port, size);
                for (int b = 0; b < size; b++) {
                    run.set(JAVA_BYTE, at + b, (byte) (value >>> (8 * b)));
                }
            }
        }
    }

    /**
     * An MMIO exit. In the APIC page: an aligned 32-bit write is a register write (lapic.c apic_mmio_write
     * ignores any other size or alignment); a read returns the bytes of the register's 32-bit value it covers.
     * In the I/O APIC page: 32-bit accesses to IOREGSEL / IOWIN ({@link IoApic}). Elsewhere (nothing there):
     * reads return all ones and writes are dropped.
     */
    private void handleMmio() {
        long gpa = run.get(JAVA_LONG, RUN_MMIO_PHYS_ADDR);
        int len = run.get(JAVA_INT, RUN_MMIO_LEN);
        boolean write = run.get(JAVA_BYTE, RUN_MMIO_IS_WRITE) != 0;
        machine.lock.lock();
        try {
            LocalApic apic = apic();
            long base = apic.apicBase() & ~0xFFFL;
            boolean inApic = apic.isHardwareEnabled() && !apic.isX2apicMode() && gpa >= base && gpa < base + 0x1000;
            int offset = (int) (gpa - base);
            AvicAccounting avic = machine.avicAccounting();
            if (avic != null) {
                account(avic, apic, inApic, offset, len, write);
            }
            boolean inIoApic = !inApic && IoApic.contains(gpa);
            int ioApicOffset = (int) (gpa - IoApic.BASE);
            KvmTrace trace = machine.trace();
            if (write) {
                if (inApic && len == 4 && (offset & 0xF) == 0) {
                    int value = run.get(JAVA_INT, RUN_MMIO_DATA);
                    if (trace != null) { // kvm_lapic_reg_write traces first, then kvm_apic_send_ipi for an ICR write
                        trace.apic(index, true, offset, value);
                        if (offset == ApicRegs.ICR) {
                            trace.apicIpi(index, value, apic.read(ApicRegs.ICR2) >>> 24);
                        }
                    }
                    apic.regWrite(offset, value);
                } else if (inIoApic && len == 4) {
                    machine.ioApic().write(ioApicOffset, run.get(JAVA_INT, RUN_MMIO_DATA));
                }
                return;
            }
            long value;
            if (inApic) {
                int within = offset & 0xF;
                int reg = apic.regRead(offset & 0xFF0);
                value = within + len <= 4 ? Integer.toUnsignedLong(reg) >>> (8 * within) : 0;
                if (trace != null) {
                    trace.apic(index, false, offset & 0xFF0, reg);
                }
            } else if (inIoApic) {
                value = len == 4 ? Integer.toUnsignedLong(machine.ioApic().read(ioApicOffset)) : -1L;
            } else {
                value = -1L;
            }
            for (int b = 0; b < Math.min(len, 8); b++) {
                run.set(JAVA_BYTE, RUN_MMIO_DATA + b, (byte) (value >>> (8 * b)));
            }
        } finally {
            machine.lock.unlock();
        }
    }

    /**
     * avic-on: what AVIC would have done with this access, from the APIC's state before the software APIC serves
     * it (the EOI's in-service vector, the ICR's destination and the targets' running state).
     */
    private void account(AvicAccounting avic, LocalApic apic, boolean inApic, int offset, int len, boolean write) {
        if (!inApic) {
            avic.otherMmio(index);
        } else if (!write) {
            avic.apicRead(index, offset, len);
        } else {
            int isr = apic.highestIsr();
            boolean levelEoi = offset == ApicRegs.EOI && isr >= 0 && apic.isTmrSet(isr);
            int value = len >= 4 ? run.get(JAVA_INT, RUN_MMIO_DATA) : 0;
            AvicRegisterPolicy.IpiOutcome ipi = null;
            if (offset == ApicRegs.ICR && len <= 4) {
                ipi = AvicRegisterPolicy.classifyIpi(value, apic.read(ApicRegs.ICR2), apic.apicId(),
                        (apic.dfr() >>> 28) == 0xF, machine.avicTables());
            }
            avic.apicWrite(index, offset, len, value, levelEoi, ipi);
        }
    }

    /**
     * RDMSR of an MSR javic's filter denies to KVM: IA32_APIC_BASE from javic's APIC, IA32_TSC_DEADLINE
     * (kvm_get_lapic_tscdeadline_msr). Anything else (no other MSR is filtered) is a #GP (error = 1).
     */
    private void rdmsr() {
        int msr = run.get(JAVA_INT, KvmStructs.RUN_MSR_INDEX);
        machine.lock.lock();
        try {
            long value;
            byte error = 0;
            switch (msr) {
                case KvmMachine.MSR_IA32_APICBASE -> value = apic().apicBase();
                case KvmMachine.MSR_IA32_TSC_DEADLINE -> value = apic().getTscDeadline();
                default -> {
                    value = 0;
                    error = 1;
                }
            }
            run.set(JAVA_LONG, KvmStructs.RUN_MSR_DATA, value);
            run.set(JAVA_BYTE, KvmStructs.RUN_MSR_ERROR, error);
            if (machine.trace() != null) {
                machine.trace().msr(index, false, msr, value, error != 0);
            }
        } finally {
            machine.lock.unlock();
        }
    }

    /**
     * WRMSR of a filtered MSR: IA32_APIC_BASE goes to {@link LocalApic#setApicBase} (a value it refuses is a
     * #GP, as kvm_set_apic_base returning 1; relocation moves the page {@link #handleMmio} serves, disable makes
     * it plain unbacked MMIO), IA32_TSC_DEADLINE to {@link LocalApic#setTscDeadline}.
     */
    private void wrmsr() {
        int msr = run.get(JAVA_INT, KvmStructs.RUN_MSR_INDEX);
        long value = run.get(JAVA_LONG, KvmStructs.RUN_MSR_DATA);
        machine.lock.lock();
        try {
            boolean ok = switch (msr) {
                case KvmMachine.MSR_IA32_APICBASE -> {
                    boolean set = apic().setApicBase(value);
                    AvicAccounting avic = machine.avicAccounting();
                    if (set && avic != null && (value & ~0xFFFL) != ApicRegs.APIC_DEFAULT_PHYS_BASE) {
                        avic.inhibit("APIC_BASE_MODIFIED"); // kvm_lapic_set_base, as the simulated Svm.setMsr
                    }
                    yield set;
                }
                case KvmMachine.MSR_IA32_TSC_DEADLINE -> {
                    apic().setTscDeadline(value);
                    yield true;
                }
                default -> false;
            };
            run.set(JAVA_BYTE, KvmStructs.RUN_MSR_ERROR, (byte) (ok ? 0 : 1));
            if (machine.trace() != null) {
                machine.trace().msr(index, true, msr, value, !ok);
            }
        } finally {
            machine.lock.unlock();
        }
    }

    /**
     * KVM_EXIT_HLT: the vCPU thread sleeps until its APIC has an interrupt the guest can take (IF set, as of
     * the HLT) or an NMI, or the run ends (KVM's kvm_vcpu_block / kvm_arch_vcpu_runnable, in userspace).
     */
    private void halt() {
        boolean ifFlag = run.get(JAVA_BYTE, RUN_IF_FLAG) != 0;
        long start = System.nanoTime();
        machine.lock.lock();
        try {
            halted = true;
            while (!machine.stopped() && !(ifFlag && apic().hasInterrupt() >= 0) && !apic().nmiPending()) {
                wake.awaitUninterruptibly();
            }
            if (machine.trace() != null) {
                machine.trace().wakeup(index, System.nanoTime() - start, !machine.stopped());
            }
        } finally {
            halted = false;
            machine.lock.unlock();
        }
    }

    /**
     * kvm_vcpu_kick with the machine's lock held: wakes the thread if it sleeps in HLT and, if it may be inside
     * KVM_RUN, signals it out (see the class comment). A vCPU kicking itself needs neither.
     */
    void kickLocked() {
        kickPending = true;
        wake.signalAll();
        if (pthread != 0 && Thread.currentThread() != thread) {
            KvmApi.pthreadKill(pthread, SIG_KICK);
        }
    }

    // =====================================================================================================
    // LapicHost
    // =====================================================================================================

    @Override
    public long guestTsc() {
        return machine.guestTsc();
    }

    @Override
    public long tscKhzPerMhz() {
        return machine.tscKhzPerMhz();
    }

    /** KVM_GET_TSC_KHZ: this vCPU's TSC frequency. */
    long tscKhz() {
        return ioctl(fd, KVM_GET_TSC_KHZ, MemorySegment.NULL);
    }

    /** KVM_GET_MSRS for one MSR (not while the thread is in KVM_RUN). */
    long readMsr(int msr) {
        MemorySegment msrs = arena.allocate(KvmStructs.KVM_MSRS.byteSize() + KvmStructs.KVM_MSR_ENTRY.byteSize(), 8);
        msrs.set(JAVA_INT, 0, 1);
        msrs.set(JAVA_INT, KvmStructs.KVM_MSRS.byteSize(), msr);
        if (ioctl(fd, KVM_GET_MSRS, msrs) != 1) { // the number of MSRs KVM could read
            throw new IllegalStateException("KVM_GET_MSRS cannot read MSR 0x" + Integer.toHexString(msr));
        }
        return msrs.get(JAVA_LONG, KvmStructs.KVM_MSRS.byteSize() + offset(KvmStructs.KVM_MSR_ENTRY, "data"));
    }

    /** Called by the APIC under the machine's lock, like every APIC call. */
    @Override
    public void armTimer(long deadlineTsc) {
        cancelTimer();
        long generation = timerGeneration;
        long delay = machine.tscToNs(Math.max(0, deadlineTsc - guestTsc()));
        timer = machine.timerThread().schedule(() -> timerFired(generation), delay, TimeUnit.NANOSECONDS);
    }

    private void timerFired(long generation) {
        machine.lock.lock();
        try {
            if (generation == timerGeneration) {
                apic().timerExpired();
            }
        } finally {
            machine.lock.unlock();
        }
    }

    @Override
    public void cancelTimer() {
        timerGeneration++;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    @Override
    public boolean deliverPostedInterrupt(int vector) {
        return false; // avic-off: the APIC sets IRR and kicks
    }

    @Override
    public void requestEventAndKick() {
        kickLocked();
    }

    @Override
    public void sendIpi(LocalApic source, ApicIrq irq) {
        machine.deliverIpi(source, irq);
    }

    @Override
    public void tracepointAcceptIrq(int apicId, int deliveryMode, boolean levelTriggered, int vector) {
        if (machine.trace() != null) {
            machine.trace().acceptIrq(apicId, deliveryMode, levelTriggered, vector);
        }
    }

    @Override
    public void tracepointEoi(int apicId, int vector) {
        if (machine.trace() != null) {
            machine.trace().eoi(apicId, vector);
        }
    }

    @Override
    public void apicMapChanged(LocalApic apic) {
        // delivery walks every APIC (IrqDelivery), there is no map to rebuild
    }
}
