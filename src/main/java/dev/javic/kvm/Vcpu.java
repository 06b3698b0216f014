package dev.javic.kvm;

import dev.javic.host.GuestModeThread;
import dev.javic.host.HostCpu;
import dev.javic.host.HostScheduler;
import dev.javic.hw.GuestProgram;
import dev.javic.hw.GuestState;
import dev.javic.hw.SvmCore;
import dev.javic.hw.Vmcb;
import dev.javic.kvm.lapic.ApicIrq;
import dev.javic.kvm.lapic.LapicHost;
import dev.javic.kvm.lapic.LocalApic;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.sim.SimEvent;
import dev.javic.sim.Simulator;
import dev.javic.trace.Tracer;

import static dev.javic.hw.VmcbLayout.*;

/**
 * A vCPU and the thread that runs it: KVM's {@code struct kvm_vcpu} / {@code vcpu_svm}, and the
 * {@code vcpu_run} loop of arch/x86/kvm/x86.c as a state machine in simulated time.
 *
 * <pre>
 *   switched in --vcpu_load--> enter --requests, inject, kvm.enter_guest--> VMRUN ... #VMEXIT
 *        ^                        ^                                                    |
 *        |                        +---- handler done (kvm.exit_path + handler) <-------+
 *        |                                            | HLT
 *        +---- wake_up <---- sleep <---- kvm_vcpu_block (blocking hook, check runnable)
 * </pre>
 */
public final class Vcpu extends GuestModeThread implements LapicHost {
    /** vcpu->mode (include/linux/kvm_host.h). */
    public enum Mode { OUTSIDE_GUEST_MODE, IN_GUEST_MODE, EXITING_GUEST_MODE }

    /** vcpu->arch.mp_state. */
    public enum MpState { RUNNABLE, HALTED, INIT_RECEIVED, SHUTDOWN }

    static final int REQ_EVENT = 1;
    /** KVM_REQ_APICV_UPDATE: AVIC was inhibited (or allowed) for the VM; refresh this vCPU's VMCB. */
    static final int REQ_APICV_UPDATE = 2;

    private final Vm vm;
    private final int id;
    final Kvm kvm;
    final Vmcb vmcb;
    final LocalApic lapic;
    final GuestState guest;
    final VcpuStats stats = new VcpuStats();
    private final Simulator sim;
    private final Tracer tracer;
    private final Svm svm;

    Mode mode = Mode.OUTSIDE_GUEST_MODE;
    MpState mpState = MpState.RUNNABLE;
    int requests;
    boolean timerPending;
    boolean needResched;
    /** Cycles charged to the handler running now (IPIs sent, wake-ups done). */
    long chargedCycles;
    /** svm->avic_is_running: false between the blocking and unblocking hooks. */
    boolean avicIsRunning = true;
    /** NMIs waiting for injection, and whether the guest is inside an NMI handler (HF_NMI_MASK). */
    int nmiPending;
    boolean nmiMasked;
    /** AVIC's view of this vCPU (svm->ldr_reg, svm->dfr_reg and the table index = current APIC ID). */
    int avicApicId;
    int avicLdr;
    int avicDfr;
    private boolean blocked;
    private long blockStart;
    private final long tscPerMicro;

    private final SimEvent enterEvent = SimEvent.of("vcpu-enter", now -> enterGuest());
    private final SimEvent vmrunEvent = SimEvent.of("vcpu-vmrun", now -> vmrun());
    private final SimEvent afterExitEvent = SimEvent.of("vcpu-after-exit", now -> afterExit());
    private final SimEvent checkBlockEvent = SimEvent.of("vcpu-check-block", now -> checkBlock());
    private final SimEvent hrtimer = SimEvent.of("apic-hrtimer", now -> apicTimerFn());
    private final ApicIrq ipi = new ApicIrq();

    Vcpu(Vm vm, int id, int affinity, long vmcbPa, long apicPagePa, GuestProgram program) {
        super("CPU " + id + "/KVM", vm.pidBase() + id, affinity);
        this.vm = vm;
        this.id = id;
        this.kvm = vm.kvm();
        this.sim = kvm.machine().simulator();
        this.tracer = kvm.machine().tracer();
        this.vmcb = new Vmcb(kvm.machine().memory(), vmcbPa);
        this.guest = new GuestState(program);
        this.lapic = new LocalApic(kvm.machine().memory(), apicPagePa, id, this);
        this.svm = kvm.svm();
        this.tscPerMicro = kvm.costs().tscHz() / 1_000_000L;
    }

    public int vcpuId() {
        return id;
    }

    public Vm vm() {
        return vm;
    }

    public VcpuStats stats() {
        return stats;
    }

    public LocalApic lapic() {
        return lapic;
    }

    public Vmcb vmcb() {
        return vmcb;
    }

    public Mode mode() {
        return mode;
    }

    public MpState mpState() {
        return mpState;
    }

    /** The host CPU this vCPU runs on (or last ran on). */
    public int hostCpuId() {
        return cpu() == null ? Math.max(affinity(), 0) : cpu().id();
    }

    SvmCore core() {
        return cpu().core();
    }

    CostModel costs() {
        return kvm.costs();
    }

    void charge(long cycles) {
        chargedCycles += cycles;
    }

    // ---- the run loop --------------------------------------------------------------------------------

    @Override
    protected void run(HostCpu cpu) {
        // Preempt notifier sched_in: kvm_arch_vcpu_load.
        svm.vcpuLoad(this, cpu);
        long cost = costs().get(Cost.KVM_VCPU_LOAD);
        if (blocked) {
            blocked = false;
            cost += svm.vcpuUnblocking(this);
            long waitedNs = kvm.costs().cyclesToNs(sim.now() - blockStart);
            tracer.kvmVcpuWakeup(cpu.id(), id, waitedNs, true, vcpuRunnable());
            if (mpState == MpState.HALTED && vcpuRunnable()) {
                mpState = MpState.RUNNABLE;
            }
        }
        sim.scheduleAfter(enterEvent, cost);
    }

    /** vcpu_enter_guest up to VMRUN: requests, event injection, TPR sync, then the entry path cost. */
    private void enterGuest() {
        if (mpState == MpState.SHUTDOWN) {
            return;
        }
        // x86.c vcpu_block: after a wake-up, kvm_apic_accept_events runs before the mp_state check, so
        // that a SIPI that woke a vCPU in INIT_RECEIVED makes it runnable (else it would block forever).
        if (acceptApicEvents()) {
            return;
        }
        if (mpState != MpState.RUNNABLE) {
            vcpuBlock();
            return;
        }
        if (needResched) {
            needResched = false;
            svm.vcpuPut(this);
            scheduler().yieldCpu(this);
            return;
        }
        chargedCycles = 0;
        if ((requests & REQ_APICV_UPDATE) != 0) {
            requests &= ~REQ_APICV_UPDATE;
            svm.refreshApicvExecCtrl(this);
        }
        if (timerPending) {
            timerPending = false;
            lapic.timerExpired(); // kvm_inject_apic_timer_irqs
        }
        boolean event = (requests & REQ_EVENT) != 0;
        requests &= ~REQ_EVENT;
        svm.injectPendingEvent(this);
        svm.syncLapicToCr8(this);
        if (event) {
            // 4.5's vcpu_enter_guest calls kvm_lapic_sync_to_vapic only under KVM_REQ_EVENT, after injecting.
            syncPvEoiToGuest();
        }
        mode = Mode.IN_GUEST_MODE;
        core().setHostInterruptsEnabled(false);
        sim.scheduleAfter(vmrunEvent, costs().get(Cost.KVM_ENTER_GUEST) + chargedCycles);
    }

    /**
     * kvm_lapic_sync_to_vapic's PV EOI part (apic_sync_pv_eoi_to_guest) when the APIC is enabled
     * (kvm_lapic_enabled); its cost, a kvm_write_guest_cached when it sets the guest's bit, is charged to this
     * entry. Legacy path only: with AVIC active 4.5 keeps apic->irr_pending always true and never fills
     * highest_isr_cache (apic_set_isr hands the vector to hwapic_isr_update instead; kvm_lapic_reset /
     * kvm_apic_update_apicv), so apic_sync_pv_eoi_to_guest returns at its first tests and the guest's bit is
     * never set: with AVIC a PV EOI guest always EOIs through the APIC page, which AVIC accelerates.
     */
    private void syncPvEoiToGuest() {
        if (svm.avic().isActive(this) || !lapic.isEnabled()) {
            return;
        }
        if (lapic.syncPvEoiToGuest()) {
            chargedCycles += costs().get(Cost.KVM_WRITE_GUEST_CACHED);
        }
    }

    /**
     * kvm_lapic_sync_from_vapic's PV EOI part, when KVM_APIC_PV_EOI_PENDING is set: read and clear the guest's
     * byte, and if the guest EOI'd through it, the EOI now (apic_set_eoi, which requests an event) with the
     * kvm_pv_eoi tracepoint. Returns its cost in cycles.
     */
    private long syncPvEoiFromGuest() {
        if (!lapic.pvEoiPending()) {
            return 0;
        }
        long cycles = costs().get(Cost.KVM_READ_GUEST_CACHED) + costs().get(Cost.KVM_WRITE_GUEST_CACHED);
        int vector = lapic.syncPvEoiFromGuest();
        if (vector != LocalApic.PV_EOI_NOT_TAKEN) {
            stats.pvEois++;
            tracer.kvmPvEoi(hostCpuId(), id, vector); // trace.h: apicid is vcpu->vcpu_id
            requests |= REQ_EVENT;
            cycles += costs().get(Cost.KVM_APIC_SET_EOI);
        }
        return cycles;
    }

    /** INIT and SIPI (kvm_apic_accept_events); returns true when the vCPU must wait for SIPI. */
    private boolean acceptApicEvents() {
        if (lapic.takeInit()) {
            mpState = MpState.INIT_RECEIVED;
            lapic.reset(true);
            vm.recalculateApicMap();
            svm.resetGuestOnInit(this);
        }
        if (mpState == MpState.INIT_RECEIVED) {
            int sipi = lapic.takeSipi();
            if (sipi < 0) {
                vcpuBlock();
                return true;
            }
            mpState = MpState.RUNNABLE;
            svm.startupGuest(this, sipi);
        }
        return false;
    }

    private void vmrun() {
        if (mode == Mode.EXITING_GUEST_MODE || requests != 0) {
            // A kick or request raced with entry: KVM cancels the entry and loops (vcpu_enter_guest).
            mode = Mode.OUTSIDE_GUEST_MODE;
            core().setHostInterruptsEnabled(true);
            // cancel_injection: kvm_lapic_sync_from_vapic when apic_attention is set, as after an exit.
            sim.scheduleAfter(enterEvent, syncPvEoiFromGuest());
            return;
        }
        tracer.kvmEntry(hostCpuId(), id, vmcb.rip());
        core().vmrun(vmcb, guest, id);
    }

    @Override
    protected void vmexit() {
        mode = Mode.OUTSIDE_GUEST_MODE;
        chargedCycles = 0;
        int exitCode = (int) vmcb.read64(EXIT_CODE);
        tracer.kvmExit(hostCpuId(), id, exitCode, vmcb.rip(), vmcb.read64(EXIT_INFO_1), vmcb.read64(EXIT_INFO_2),
                (int) vmcb.read64(EXIT_INT_INFO), 0);
        stats.countExit(exitCode);
        svm.syncCr8ToLapic(this);
        long pvEoiCycles = syncPvEoiFromGuest(); // vcpu_enter_guest: kvm_lapic_sync_from_vapic before handle_exit
        long handlerCycles = pvEoiCycles + svm.handleExit(this, exitCode);
        // local_irq_enable(): a host interrupt that caused or raced with the exit is taken now.
        core().setHostInterruptsEnabled(true);
        sim.scheduleAfter(afterExitEvent, costs().get(Cost.KVM_EXIT_PATH) + handlerCycles + chargedCycles);
    }

    private void afterExit() {
        if (mpState == MpState.SHUTDOWN) {
            svm.vcpuPut(this);
            scheduler().block(this);
            return;
        }
        if (mpState == MpState.HALTED) {
            vcpuBlock();
        } else {
            enterGuest();
        }
    }

    /** kvm_vcpu_block: the blocking hook, then a last check for events before sleeping. */
    private void vcpuBlock() {
        long cost = svm.vcpuBlocking(this);
        sim.scheduleAfter(checkBlockEvent, cost);
    }

    private void checkBlock() {
        if (vcpuRunnable()) {
            long cost = svm.vcpuUnblocking(this);
            if (mpState == MpState.HALTED) {
                mpState = MpState.RUNNABLE;
            }
            tracer.kvmVcpuWakeup(hostCpuId(), id, 0, false, true);
            sim.scheduleAfter(enterEvent, cost);
            return;
        }
        blocked = true;
        blockStart = sim.now();
        svm.vcpuPut(this); // preempt notifier sched_out
        scheduler().block(this);
    }

    /** kvm_arch_vcpu_runnable / kvm_vcpu_has_events. */
    boolean vcpuRunnable() {
        if (mpState == MpState.SHUTDOWN) {
            return false;
        }
        if (timerPending || lapic.pendingEvents()) {
            return true;
        }
        if (mpState == MpState.INIT_RECEIVED) {
            return false; // wait-for-SIPI: only INIT and SIPI are recognised
        }
        // kvm_vcpu_has_events: a queued NMI (nmi_queued) wakes a halted vCPU whatever RFLAGS.IF says, as
        // does an NMI waiting for injection that the guest can take (SDM vol. 3, HLT: an NMI resumes it).
        if (lapic.nmiPending() || nmiPending > 0 && !nmiMasked) {
            return true;
        }
        if (mpState == MpState.RUNNABLE) {
            return true;
        }
        return svm.interruptAllowed(this) && lapic.hasInterrupt() >= 0;
    }

    @Override
    protected void preemptRequested() {
        needResched = true;
        if (mode == Mode.IN_GUEST_MODE) {
            // The scheduler tick interrupts the CPU; in guest mode that is an INTR exit.
            core().raiseInterrupt(HostCpu.LOCAL_TIMER_VECTOR);
        }
    }

    @Override
    protected void hostInterrupt(int vector) {
        tracer.ipiEntry(hostCpuId(), vector == HostCpu.RESCHEDULE_VECTOR ? "Rescheduling interrupts" : "Local timer interrupts");
    }

    HostScheduler scheduler() {
        return kvm.scheduler();
    }

    // ---- kick and wake-up ------------------------------------------------------------------------------

    /**
     * kvm_vcpu_wake_up (series) / the wake-up half of kvm_vcpu_kick (vanilla): wakes the vCPU thread if
     * it sleeps in kvm_vcpu_block. No host IPI. Returns true when it woke it.
     */
    boolean wakeUp(int wakerCpu) {
        if (!blocked || state() != State.BLOCKED) {
            return false;
        }
        kvm.chargeCurrent(costs().get(Cost.HOST_WAKEUP));
        stats.haltWakeups++;
        return scheduler().wakeUp(this, wakerCpu);
    }

    /** kvm_vcpu_kick: wake it if it sleeps; if it is in guest mode on another CPU, a host IPI makes it exit. */
    void kick(int kickerCpu) {
        if (wakeUp(kickerCpu)) {
            return;
        }
        if (mode == Mode.IN_GUEST_MODE) {
            mode = Mode.EXITING_GUEST_MODE; // kvm_vcpu_exiting_guest_mode: cmpxchg IN_GUEST -> EXITING
            int target = hostCpuId();
            if (target != kickerCpu) {
                kvm.chargeCurrent(costs().get(Cost.HOST_IPI_SEND));
                stats.hostIpisSent++;
                SvmCore from = kickerCpu >= 0 ? kvm.machine().core(kickerCpu) : core();
                kvm.machine().sendIpi(from, kvm.machine().core(target).apicId(), HostCpu.RESCHEDULE_VECTOR,
                        "Rescheduling interrupts");
            }
        }
    }

    // ---- LapicHost ---------------------------------------------------------------------------------------

    @Override
    public long guestTsc() {
        return sim.now() + vmcb.read64(TSC_OFFSET);
    }

    @Override
    public long tscKhzPerMhz() {
        return tscPerMicro;
    }

    @Override
    public void armTimer(long deadlineTsc) {
        sim.schedule(hrtimer, Math.max(sim.now(), deadlineTsc - vmcb.read64(TSC_OFFSET)));
    }

    @Override
    public void cancelTimer() {
        sim.cancel(hrtimer);
    }

    /** apic_timer_fn: the hrtimer fires on the vCPU's CPU; the LVTT interrupt is injected from the run loop. */
    private void apicTimerFn() {
        timerPending = true;
        requests |= REQ_EVENT;
        if (mode == Mode.IN_GUEST_MODE) {
            // The host timer interrupt hits the CPU the vCPU runs on; in guest mode that exits (INTR).
            core().raiseInterrupt(HostCpu.LOCAL_TIMER_VECTOR);
        } else {
            Vcpu saved = kvm.enterHostContext();
            wakeUp(-1);
            kvm.restoreContext(saved);
        }
    }

    @Override
    public boolean deliverPostedInterrupt(int vector) {
        return svm.deliverAvicIntr(this, vector);
    }

    @Override
    public void requestEventAndKick() {
        requests |= REQ_EVENT;
        kick(kvm.currentCpu());
    }

    @Override
    public void sendIpi(LocalApic source, ApicIrq irq) {
        stats.ipisSent++;
        vm.deliverIrq(this, source, irq);
    }

    @Override
    public void tracepointAcceptIrq(int apicId, int deliveryMode, boolean levelTriggered, int vector) {
        int cpu = kvm.currentCpu();
        tracer.kvmApicAcceptIrq(cpu < 0 ? hostCpuId() : cpu, apicId, deliveryMode, levelTriggered, vector);
    }

    @Override
    public void tracepointEoi(int apicId, int vector) {
        tracer.kvmEoi(hostCpuId(), apicId, vector);
    }

    @Override
    public void apicMapChanged(LocalApic apic) {
        vm.recalculateApicMap();
    }

    void shutdown() {
        mpState = MpState.SHUTDOWN;
        sim.cancel(hrtimer);
    }

    @Override
    public String toString() {
        return "vcpu" + id;
    }
}
