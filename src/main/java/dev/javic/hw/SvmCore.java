package dev.javic.hw;

import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.sim.SimEvent;
import dev.javic.sim.Simulator;
import dev.javic.trace.Tracer;

import static dev.javic.hw.VmcbLayout.*;

/**
 * One physical core with SVM: VMRUN, guest-mode execution of a guest program's operations, and
 * #VMEXIT. Everything that decides whether an operation completes in the guest or exits is here,
 * and it is decided from the VMCB alone (intercept vectors, int_ctl, MSR permission map, nested page
 * table, AVIC fields) as the APM vol. 2 chapter 15 describes.
 *
 * <p>Execution model: the core is in host mode, entering (VMRUN under way), in guest mode, or exiting
 * (#VMEXIT under way). In guest mode it executes one operation at each instruction boundary; an
 * operation takes its cost in simulated cycles and ends at the next boundary, where pending events
 * (physical interrupts, virtual interrupts) are recognised. WORK is one event however long, and is
 * split only when something interrupts it.
 */
public final class SvmCore {
    public enum Mode { HOST, ENTERING, GUEST, EXITING }

    private final int id;
    private final Machine machine;
    private final PhysicalMemory mem;
    private final Simulator sim;
    private final Tracer tracer;
    private final AvicUnit avic;

    private final long vmrunCycles;
    private final long vmexitCycles;
    private final long instructionCycles;
    private final long memoryCycles;
    private final long deliveryCycles;
    private final long iretCycles;

    private HostHandler host;
    private Mode mode = Mode.HOST;
    private Vmcb vmcb;
    private GuestState guest;
    /** vCPU id for tracing only (the VMCB does not carry one); set by VMRUN's caller. */
    private int traceVcpuId = -1;

    /** Physical interrupts latched while they cannot be taken (host IF=0 or entering/exiting). */
    private int pendingIntrVector = -1;
    private boolean pendingIntr;
    private boolean pendingNmi;
    private boolean hostInterruptsEnabled = true;
    private int pauseFilterCount;

    private final SimEvent entered = SimEvent.of("vmrun", now -> enterGuest());
    /**
     * Instruction boundaries fire after everything else that happens in their cycle (an interrupt arriving at
     * cycle T is pending at a boundary at T: APM vol. 2 §8.5, pending interrupts are taken at instruction
     * boundaries), and boundaries of several cores at one instant in core order, so neither depends on when
     * the boundary was scheduled (one WORK or several to the same end).
     */
    private final SimEvent boundary;
    private final SimEvent exited = SimEvent.of("vmexit", now -> completeExit());
    /** True while the in-flight WORK op is running towards {@link #workEnd}. */
    private boolean working;
    private long workEnd;

    private final int[] cpuidOut = new int[4];

    SvmCore(int id, Machine machine) {
        this.id = id;
        this.machine = machine;
        this.mem = machine.memory();
        this.sim = machine.simulator();
        this.tracer = machine.tracer();
        CostModel costs = machine.costs();
        this.vmrunCycles = costs.get(Cost.SVM_VMRUN);
        this.vmexitCycles = costs.get(Cost.SVM_VMEXIT);
        this.instructionCycles = costs.get(Cost.GUEST_INSTRUCTION);
        this.memoryCycles = costs.get(Cost.GUEST_MEMORY_ACCESS);
        this.deliveryCycles = costs.get(Cost.GUEST_INTERRUPT_DELIVERY);
        this.iretCycles = costs.get(Cost.GUEST_IRET);
        this.avic = new AvicUnit(this, machine);
        this.boundary = SimEvent.of("insn", now -> instructionBoundary()).late(id);
    }

    public int id() {
        return id;
    }

    /** The core's physical APIC ID (what the doorbell and AVIC table entries name). */
    public int apicId() {
        return id;
    }

    public Mode mode() {
        return mode;
    }

    public boolean inGuestMode() {
        return mode == Mode.GUEST;
    }

    /** The VMCB being run (valid from VMRUN until the host runs another). */
    public Vmcb vmcb() {
        return vmcb;
    }

    public GuestState guest() {
        return guest;
    }

    int traceVcpuId() {
        return traceVcpuId;
    }

    Machine machine() {
        return machine;
    }

    public void setHostHandler(HostHandler host) {
        this.host = host;
    }

    /** CPUID executed by host software on this core. */
    public void hostCpuid(int leaf, int subleaf, int[] out) {
        machine.cpuModel().cpuid(leaf, subleaf, apicId(), out);
    }

    // ---- host side ----------------------------------------------------------------------------------

    /** Host {@code local_irq_disable()} / {@code local_irq_enable()}; enabling takes latched interrupts. */
    public void setHostInterruptsEnabled(boolean enabled) {
        hostInterruptsEnabled = enabled;
        if (enabled && mode == Mode.HOST) {
            takeLatchedHostInterrupts();
        }
    }

    /**
     * VMRUN: enters the guest described by the VMCB at {@code vmcbPa}, with the GPRs and instruction
     * stream of {@code guestState}. Guest execution starts after the VMRUN latency.
     */
    public void vmrun(Vmcb vmcb, GuestState guestState, int vcpuIdForTrace) {
        if (mode != Mode.HOST) {
            throw new IllegalStateException("VMRUN on core " + id + " in mode " + mode);
        }
        this.vmcb = vmcb;
        this.guest = guestState;
        this.traceVcpuId = vcpuIdForTrace;
        mode = Mode.ENTERING;
        sim.scheduleAfter(entered, vmrunCycles);
    }

    /** A physical interrupt arrives at this core (a host IPI, a device or timer interrupt). */
    public void raiseInterrupt(int vector) {
        pendingIntr = true;
        pendingIntrVector = vector;
        switch (mode) {
            case GUEST -> {
                if (vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_INTR)) {
                    interruptGuestExecution();
                    vmexit(SvmExit.INTR, 0, 0);
                }
                // Not intercepted: the host interrupt stays pending until the next #VMEXIT (KVM always intercepts).
            }
            case HOST -> {
                if (hostInterruptsEnabled) {
                    takeLatchedHostInterrupts();
                }
            }
            case ENTERING, EXITING -> { } // recognised at the first guest boundary or after the exit
        }
    }

    /** A physical NMI arrives at this core. */
    public void raiseNmi() {
        pendingNmi = true;
        if (mode == Mode.GUEST && vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_NMI)) {
            interruptGuestExecution();
            vmexit(SvmExit.NMI, 0, 0);
        }
    }

    /**
     * An AVIC doorbell arrives (a write of this core's APIC ID to the doorbell MSR, anywhere): in guest
     * mode with AVIC enabled the core evaluates the running vCPU's vAPIC IRR without an exit;
     * otherwise it is ignored and the IRR is seen at the next VMRUN (APM vol. 2, AVIC doorbell).
     */
    public void doorbell() {
        if (mode == Mode.GUEST && vmcb.isAvicEnabled()) {
            tracer.avicDoorbellReceived(id, traceVcpuId);
            avic.evaluatePending();
            if (avic.hasPending() && guestInterruptible()) {
                interruptGuestExecution();
                instructionBoundary();
            }
        }
    }

    private void takeLatchedHostInterrupts() {
        if (pendingNmi) {
            pendingNmi = false;
            host.interrupt(this, 2);
        }
        while (pendingIntr) {
            pendingIntr = false;
            host.interrupt(this, pendingIntrVector);
        }
    }

    // ---- entry and exit ---------------------------------------------------------------------------

    private void enterGuest() {
        mode = Mode.GUEST;
        retireOrReplayInFlightOp();
        pauseFilterCount = vmcb.read32(PAUSE_FILTER_THRESHOLD) >>> 16; // u16 pause_filter_count at 0x03E
        if (vmcb.isAvicEnabled()) {
            avic.evaluatePending();
        }
        int evtinj = vmcb.read32(EVENT_INJ);
        if ((evtinj & EVTINJ_VALID) != 0) {
            vmcb.write32(EVENT_INJ, 0);
            injectEvent(evtinj);
            return;
        }
        instructionBoundary();
    }

    /**
     * After VMRUN: decide from the VMCB's RIP whether the hypervisor completed (skipped) the
     * instruction that exited, and hand its results (RAX, RDX, ...) to the guest program.
     */
    private void retireOrReplayInFlightOp() {
        if (guest.rip == -1) {
            // After INIT the hypervisor set the SIPI start address: begin executing there.
            guest.rip = vmcb.rip();
            guest.program.startup(guest.rip, sim.now());
            return;
        }
        if (!guest.opInFlight || guest.op.kind == OpKind.WORK) {
            return;
        }
        long vmcbRip = vmcb.rip();
        Operation op = guest.op;
        if (vmcbRip == guest.rip) {
            return; // not completed: replay it (or an exception is being injected for it)
        }
        long rax = vmcb.rax();
        switch (op.kind) {
            case READ32 -> op.result = rax & 0xFFFFFFFFL;
            case READ64 -> op.result = rax;
            case RDMSR -> op.result = (guest.gpr(GuestState.RDX) << 32) | (rax & 0xFFFFFFFFL);
            case CPUID -> {
                op.result = rax & 0xFFFFFFFFL;
                op.resultEbx = (int) guest.gpr(GuestState.RBX);
                op.resultEcx = (int) guest.gpr(GuestState.RCX);
                op.resultEdx = (int) guest.gpr(GuestState.RDX);
            }
            default -> { }
        }
        guest.rip = vmcbRip;
        guest.opInFlight = false;
    }

    private void injectEvent(int evtinj) {
        int vector = evtinj & EVTINJ_VEC_MASK;
        int type = evtinj & EVTINJ_TYPE_MASK;
        if (type == EVTINJ_TYPE_EXEPT && guest.opInFlight && guest.op.kind != OpKind.WORK) {
            // A fault on the instruction in flight. The guest kernel's exception-table fixup (as
            // rdmsr_safe's) resumes after it, so the operation retires with the fault recorded.
            guest.op.fault = vector;
            guest.rip += guest.op.kind.length();
            guest.opInFlight = false;
        }
        deliver(vector, type == EVTINJ_TYPE_NMI);
    }

    /**
     * #VMEXIT: record the exit in the VMCB and return to the host after the exit latency. RIP and
     * next_rip describe the instruction in flight (nRIP save); RAX is written back to the save area.
     */
    void vmexit(int exitCode, long info1, long info2) {
        vmcb.write64(EXIT_CODE, exitCode);
        vmcb.write64(EXIT_INFO_1, info1);
        vmcb.write64(EXIT_INFO_2, info2);
        vmcb.write64(EXIT_INT_INFO, 0);
        vmcb.setRip(guest.rip);
        boolean insnExit = guest.opInFlight && guest.op.kind != OpKind.WORK;
        vmcb.write64(NEXT_RIP, insnExit ? guest.rip + guest.op.kind.length() : 0);
        interruptGuestExecution();
        mode = Mode.EXITING;
        sim.scheduleAfter(exited, vmexitCycles);
    }

    private void completeExit() {
        mode = Mode.HOST;
        // A physical interrupt that caused the exit is taken by the host once it enables interrupts.
        host.vmexit(this);
    }

    // ---- guest execution ----------------------------------------------------------------------------

    /** Stops WORK in progress at the current cycle, keeping what is left of it in the guest state. */
    private void interruptGuestExecution() {
        if (working) {
            guest.workRemaining = Math.max(0, workEnd - sim.now());
            working = false;
            guest.op.workStopped(sim.now());
        }
        sim.cancel(boundary);
    }

    private boolean guestInterruptible() {
        return vmcb.interruptsEnabled() && !vmcb.inInterruptShadow();
    }

    private void instructionBoundary() {
        if (mode != Mode.GUEST) {
            return;
        }
        if (working) {
            if (sim.now() < workEnd) {
                // Stopped after the first instruction of the stretch (an STI shadow just ended with a
                // virtual interrupt pending): the rest stays in flight and resumes after the interrupt.
                interruptGuestExecution();
            } else {
                // The WORK op ran to its end: it retires here.
                working = false;
                guest.op.workStopped(sim.now());
                guest.workRemaining = 0;
                guest.opInFlight = false;
                guest.rip += OpKind.WORK.length();
                endInterruptShadow();
            }
        }
        if (pendingNmi && vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_NMI)) {
            vmexit(SvmExit.NMI, 0, 0);
            return;
        }
        if (pendingIntr && vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_INTR)) {
            vmexit(SvmExit.INTR, 0, 0);
            return;
        }
        if (takeVirtualInterrupt()) {
            return;
        }
        if (guest.opInFlight) {
            if (guest.op.kind == OpKind.WORK) {
                startWork();
            } else {
                execute(guest.op);
            }
            return;
        }
        Operation op = guest.op;
        if (guest.program.finished()) {
            // A finished program sits in a halt loop with interrupts off, like a kernel after halt.
            op.set(vmcb.interruptsEnabled() ? OpKind.CLI : OpKind.HLT, 0, 0);
        } else {
            guest.program.next(op, sim.now());
        }
        op.clearResult();
        guest.opInFlight = true;
        if (op.kind == OpKind.WORK) {
            guest.workRemaining = op.value;
            startWork();
        } else {
            execute(op);
        }
    }

    /**
     * Virtual interrupts at a boundary, in the APM's order: V_IRQ (legacy injection by the
     * hypervisor) and AVIC's pending vAPIC interrupt. Returns true when the boundary was consumed.
     */
    private boolean takeVirtualInterrupt() {
        int intCtl = vmcb.intCtl();
        if ((intCtl & V_IRQ_MASK) != 0 && vIrqPriorityAllows(intCtl)) {
            if (vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_VINTR)) {
                // The hypervisor asked for an exit when the guest can take an interrupt (interrupt window).
                if (guestInterruptible()) {
                    vmexit(SvmExit.VINTR, 0, 0);
                    return true;
                }
            } else if (guestInterruptible()) {
                vmcb.setIntCtl(intCtl & ~V_IRQ_MASK);
                deliver(vmcb.read32(INT_VECTOR) & V_INTR_VECTOR_MASK, false);
                return true;
            }
        }
        if (avic.hasPending() && guestInterruptible()) {
            int vector = avic.acknowledge();
            if (vector >= 0) {
                deliver(vector, false);
                return true;
            }
        }
        return false;
    }

    private static boolean vIrqPriorityAllows(int intCtl) {
        if ((intCtl & V_IGN_TPR_MASK) != 0) {
            return true;
        }
        int prio = (intCtl & V_INTR_PRIO_MASK) >>> V_INTR_PRIO_SHIFT;
        return prio > (intCtl & V_TPR_MASK);
    }

    /** Vectors the guest: push a frame, clear IF, enter the handler. */
    private void deliver(int vector, boolean nmi) {
        long rflags = vmcb.rflags();
        if (!guest.pushFrame(rflags, nmi)) {
            shutdown();
            return;
        }
        guest.opInFlight = false;
        guest.workRemaining = 0;
        working = false;
        if (nmi) {
            guest.nmiBlocked = true;
        }
        vmcb.setRflags(rflags & ~RFLAGS_IF);
        guest.rip = GuestState.IDT_ENTRIES + 16L * vector;
        tracer.guestInterrupt(id, traceVcpuId, vector);
        guest.program.interrupt(vector, sim.now());
        sim.scheduleAfter(boundary, deliveryCycles);
    }

    private void shutdown() {
        guest.opInFlight = false;
        vmexit(SvmExit.SHUTDOWN, 0, 0);
    }

    private void startWork() {
        // WORK is a stretch of instructions: an STI shadow ends with the first of them, and a virtual
        // interrupt the shadow held back is recognised right after that instruction, not at the end.
        boolean shadowEnds = vmcb.inInterruptShadow();
        endInterruptShadow();
        working = true;
        guest.op.workStarted(sim.now());
        workEnd = sim.now() + guest.workRemaining;
        if (shadowEnds && virtualInterruptPending() && vmcb.interruptsEnabled()) {
            sim.schedule(boundary, Math.min(workEnd, sim.now() + instructionCycles));
        } else {
            sim.schedule(boundary, workEnd);
        }
    }

    /** A V_IRQ the priority rules let through, or a pending vAPIC interrupt under AVIC. */
    private boolean virtualInterruptPending() {
        int intCtl = vmcb.intCtl();
        return (intCtl & V_IRQ_MASK) != 0 && vIrqPriorityAllows(intCtl) || avic.hasPending();
    }

    /** Retires the in-flight operation at the current RIP and schedules the next boundary. */
    private void retire(long cycles) {
        guest.rip += guest.op.kind.length();
        guest.opInFlight = false;
        if (guest.op.kind != OpKind.STI) {
            endInterruptShadow();
        }
        sim.scheduleAfter(boundary, cycles);
    }

    /** The STI shadow covers exactly one instruction after STI. */
    private void endInterruptShadow() {
        if (vmcb.inInterruptShadow()) {
            vmcb.write32(INT_STATE, vmcb.read32(INT_STATE) & ~INT_STATE_SHADOW_MASK);
        }
    }

    private void execute(Operation op) {
        switch (op.kind) {
            case READ32, READ64, WRITE32, WRITE64, BTR32 -> memoryAccess(op);
            case RDMSR, WRMSR -> msrAccess(op);
            case CPUID -> cpuid(op);
            case READ_CR8 -> {
                op.result = vmcb.isAvicEnabled() ? avic.tpr() >>> 4 : vmcb.vTpr();
                retire(instructionCycles);
            }
            case WRITE_CR8 -> writeCr8(op);
            case STI -> {
                long rflags = vmcb.rflags();
                if ((rflags & RFLAGS_IF) == 0) {
                    vmcb.write32(INT_STATE, vmcb.read32(INT_STATE) | INT_STATE_SHADOW_MASK);
                }
                vmcb.setRflags(rflags | RFLAGS_IF);
                retire(instructionCycles);
            }
            case CLI -> {
                vmcb.setRflags(vmcb.rflags() & ~RFLAGS_IF);
                retire(instructionCycles);
            }
            case HLT -> {
                if (vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_HLT)) {
                    vmexit(SvmExit.HLT, 0, 0);
                } else {
                    throw new IllegalStateException("HLT without the HLT intercept is not modelled: the hypervisor must intercept it");
                }
            }
            case PAUSE -> {
                if (vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_PAUSE) && --pauseFilterCount <= 0) {
                    vmexit(SvmExit.PAUSE, 0, 0);
                } else {
                    retire(instructionCycles);
                }
            }
            case IRET -> iret();
            case VMMCALL -> {
                if (vmcb.isInterceptSet(INTERCEPT_MISC2, INTERCEPT_VMMCALL)) {
                    vmexit(SvmExit.VMMCALL, 0, 0);
                } else {
                    raiseException(6); // #UD: VMMCALL not intercepted
                }
            }
            case OUTW -> ioOut(op, 2);
            case WORK -> throw new IllegalStateException("WORK is not executed here");
        }
    }

    /**
     * OUT to an I/O port (APM vol. 2 §15.10): with the IOIO intercept on, the I/O permission map at
     * IOPM_BASE_PA (one bit per port; an access of {@code size} bytes checks the bits of every port it
     * touches) decides whether it exits; EXITINFO1 describes the access and EXITINFO2 is the next rIP.
     * A port write that does not exit reaches no device in this machine and completes.
     */
    private void ioOut(Operation op, int size) {
        int port = (int) op.address & 0xFFFF;
        vmcb.setRax(op.value & (size == 4 ? 0xFFFFFFFFL : size == 2 ? 0xFFFFL : 0xFFL));
        if (vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_IOIO_PROT) && ioIntercepted(port, size)) {
            long sz = size == 4 ? SvmExit.IOIO_SZ32 : size == 2 ? SvmExit.IOIO_SZ16 : SvmExit.IOIO_SZ8;
            long info1 = ((long) port << SvmExit.IOIO_PORT_SHIFT) | sz | SvmExit.IOIO_A64;
            vmexit(SvmExit.IOIO, info1, guest.rip + op.kind.length());
            return;
        }
        retire(instructionCycles);
    }

    private boolean ioIntercepted(int port, int size) {
        long base = vmcb.read64(IOPM_BASE_PA);
        for (int p = port; p < port + size; p++) {
            long byteAddr = base + (p >>> 3); // the IOPM spans 12 KiB: ports up to 0xFFFF plus 3 bytes
            if ((mem.read32(byteAddr & ~3L) & (1 << (((byteAddr & 3) << 3) + (p & 7)))) != 0) {
                return true;
            }
        }
        return false;
    }

    private void iret() {
        if (vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_IRET)) {
            // KVM intercepts IRET after injecting an NMI to learn when NMIs are unmasked again.
            vmexit(SvmExit.IRET, 0, 0);
            return;
        }
        boolean switchContext = guest.op.value == Operation.IRET_TO_NEW_CONTEXT;
        long rflags = guest.popFrame();
        if (rflags < 0) {
            raiseException(13); // IRET with no frame: the stack holds garbage; #GP
            return;
        }
        vmcb.setRflags(rflags);
        if (switchContext) {
            // The guest kernel switched tasks on the interrupt-return path: the interrupted computation
            // (its saved user context) is handed back to the kernel instead of resumed.
            long remaining = guest.opInFlight && guest.op.kind == OpKind.WORK ? guest.workRemaining : 0;
            guest.opInFlight = false;
            guest.workRemaining = 0;
            guest.op.clearResult();
            guest.op.result = remaining;
        } else if (!guest.opInFlight) {
            // popFrame restored RIP and any WORK in progress; that work continues at the next boundary.
            guest.workRemaining = 0;
        }
        sim.scheduleAfter(boundary, iretCycles);
    }

    /** An exception raised by the instruction in flight, delivered through the guest IDT (not intercepted). */
    private void raiseException(int vector) {
        guest.op.fault = vector;
        guest.rip += guest.op.kind.length();
        guest.opInFlight = false;
        deliver(vector, false);
    }

    private void memoryAccess(Operation op) {
        long gpa = op.address;
        boolean testAndClear = op.kind == OpKind.BTR32;
        boolean write = op.kind == OpKind.WRITE32 || op.kind == OpKind.WRITE64 || testAndClear;
        boolean wide = op.kind == OpKind.READ64 || op.kind == OpKind.WRITE64;
        if ((gpa & (wide ? 7 : 3)) != 0) {
            raiseException(17); // #AC stands in for the split access the model does not do
            return;
        }
        if (write && !testAndClear) {
            vmcb.setRax(wide ? op.value : op.value & 0xFFFFFFFFL);
        }
        if (!testAndClear && vmcb.isAvicEnabled()
                && (gpa & PhysicalMemory.PAGE_MASK) == (vmcb.read64(AVIC_VAPIC_BAR) & AVIC_VAPIC_BAR_MASK)) {
            avic.apicAccess(op, (int) (gpa & 0xFFF), write, wide);
            return;
        }
        NestedPageTable npt = machine.nestedPageTable(vmcb.read64(NESTED_CR3));
        long hpa = npt == null ? -1 : npt.translate(gpa);
        if (hpa < 0) {
            writeDecodeAssist(op);
            long errorCode = (write ? SvmExit.NPF_WRITE : 0) | SvmExit.NPF_USER | SvmExit.NPF_GUEST_FINAL;
            vmexit(SvmExit.NPF, errorCode, gpa);
            return;
        }
        if (testAndClear) {
            int old = mem.read32(hpa);
            mem.write32(hpa, old & ~(1 << (op.value & 31)));
            op.result = old & 0xFFFFFFFFL;
        } else if (write) {
            if (wide) {
                mem.write64(hpa, op.value);
            } else {
                mem.write32(hpa, (int) op.value);
            }
        } else {
            op.result = wide ? mem.read64(hpa) : mem.read32(hpa) & 0xFFFFFFFFL;
            vmcb.setRax(op.result);
        }
        retire(memoryCycles);
    }

    /**
     * Decode assists (APM vol. 2 §15.33): the bytes of the instruction that took the NPF, so the
     * hypervisor's emulator decodes {@code mov eax/rax, [moffs64]} / {@code mov [moffs64], eax/rax}.
     */
    void writeDecodeAssist(Operation op) {
        int len = op.kind.length();
        int i = 0;
        if (op.kind == OpKind.BTR32) {
            // 0F BA 35 disp32 ib: the RIP-relative displacement is not known to the model; the bytes say what it is.
            vmcb.write8(INSN_BYTES + i++, 0x0F);
            vmcb.write8(INSN_BYTES + i++, 0xBA);
            vmcb.write8(INSN_BYTES + i++, 0x35);
            for (int b = 0; b < 4; b++) {
                vmcb.write8(INSN_BYTES + i++, (int) (op.address >>> (8 * b)));
            }
            vmcb.write8(INSN_BYTES + i, (int) op.value);
            vmcb.write8(INSN_LEN, len);
            return;
        }
        if (op.kind == OpKind.READ64 || op.kind == OpKind.WRITE64) {
            vmcb.write8(INSN_BYTES + i++, 0x48);
        }
        boolean write = op.kind == OpKind.WRITE32 || op.kind == OpKind.WRITE64;
        vmcb.write8(INSN_BYTES + i++, write ? 0xA3 : 0xA1);
        for (int b = 0; b < 8; b++) {
            vmcb.write8(INSN_BYTES + i++, (int) (op.address >>> (8 * b)));
        }
        vmcb.write8(INSN_LEN, len);
    }

    private void msrAccess(Operation op) {
        int msr = (int) op.address;
        boolean write = op.kind == OpKind.WRMSR;
        guest.setGpr(GuestState.RCX, msr & 0xFFFFFFFFL);
        if (write) {
            vmcb.setRax(op.value & 0xFFFFFFFFL);
            guest.setGpr(GuestState.RDX, op.value >>> 32);
        }
        if (vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_MSR_PROT) && msrIntercepted(msr, write)) {
            vmexit(SvmExit.MSR, write ? SvmExit.MSR_INFO_WRITE : 0, 0);
            return;
        }
        // Not intercepted: the MSR is the hardware's. The model has no guest MSR file beyond the TSC.
        if (!write && msr == 0x10) {
            long tsc = sim.now() + vmcb.read64(TSC_OFFSET);
            op.result = tsc;
            vmcb.setRax(tsc & 0xFFFFFFFFL);
            guest.setGpr(GuestState.RDX, tsc >>> 32);
            retire(instructionCycles);
            return;
        }
        raiseException(13);
    }

    /**
     * MSR permission map lookup (APM vol. 2 §15.11): two bits per MSR (read, write) in three 2 KiB
     * ranges; MSRs outside them are always intercepted.
     */
    private boolean msrIntercepted(int msr, boolean write) {
        long base = vmcb.read64(MSRPM_BASE_PA);
        long bitIndex;
        long unsigned = msr & 0xFFFFFFFFL;
        if (unsigned <= 0x1FFF) {
            bitIndex = unsigned * 2;
        } else if (unsigned >= 0xC0000000L && unsigned <= 0xC0001FFFL) {
            bitIndex = 0x800 * 8 + (unsigned - 0xC0000000L) * 2;
        } else if (unsigned >= 0xC0010000L && unsigned <= 0xC0011FFFL) {
            bitIndex = 0x1000 * 8 + (unsigned - 0xC0010000L) * 2;
        } else {
            return true;
        }
        if (write) {
            bitIndex++;
        }
        long wordPa = base + (bitIndex >>> 5) * 4;
        return (mem.read32(wordPa) & (1 << (bitIndex & 31))) != 0;
    }

    private void cpuid(Operation op) {
        vmcb.setRax(op.address & 0xFFFFFFFFL);
        guest.setGpr(GuestState.RCX, op.value & 0xFFFFFFFFL);
        if (vmcb.isInterceptSet(INTERCEPT_MISC1, INTERCEPT_CPUID)) {
            vmexit(SvmExit.CPUID, 0, 0);
            return;
        }
        hostCpuid((int) op.address, (int) op.value, cpuidOut);
        op.result = cpuidOut[0] & 0xFFFFFFFFL;
        op.resultEbx = cpuidOut[1];
        op.resultEcx = cpuidOut[2];
        op.resultEdx = cpuidOut[3];
        retire(instructionCycles);
    }

    private void writeCr8(Operation op) {
        vmcb.setRax(op.value);
        if (vmcb.isInterceptSet(INTERCEPT_CR, INTERCEPT_CR8_WRITE)) {
            // EXITINFO1 with decode assists: bit 63 valid, bits 3:0 the GPR (RAX = 0). APM vol. 2 §15.33.2.
            vmexit(SvmExit.WRITE_CR8, 1L << 63, 0);
            return;
        }
        if ((op.value & ~0xFL) != 0) {
            raiseException(13); // reserved CR8 bits set
            return;
        }
        int tpr = (int) op.value & 0xF;
        vmcb.updateIntCtl(V_TPR_MASK, tpr);
        if (vmcb.isAvicEnabled()) {
            avic.writeTprFromCr8(tpr << 4);
        }
        retire(instructionCycles);
    }

    /** Trap-like exits (AVIC traps, incomplete IPI): the instruction retired before the exit. */
    void retireForTrap() {
        guest.rip += guest.op.kind.length();
        guest.opInFlight = false;
        endInterruptShadow();
    }

    /** An accelerated TPR write keeps V_TPR equal to TPR[7:4], as a CR8 write does. */
    void updateVTprFromAvic(int tprClass) {
        vmcb.updateIntCtl(V_TPR_MASK, tprClass);
    }

    /** Called by the AVIC unit: the access completed in hardware after {@code cycles}. */
    void completeAccelerated(long cycles) {
        retire(cycles);
    }

}
