package dev.javic.kvm;

import dev.javic.host.HostCpu;
import dev.javic.hw.GuestState;
import dev.javic.hw.KvmPara;
import dev.javic.hw.SvmExit;
import dev.javic.hw.Vmcb;
import dev.javic.hw.ApicRegs;
import dev.javic.kvm.lapic.LocalApic;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.trace.Tracer;

import static dev.javic.hw.VmcbLayout.*;

/**
 * kvm_amd's vendor code (arch/x86/kvm/svm.c of 2016): VMCB set-up, the exit handler table, legacy
 * interrupt injection through event_inj and the V_IRQ interrupt window, TPR/CR8 synchronisation, and
 * the hooks that the AVIC series added (VM init, vCPU load/put, blocking/unblocking), which call into
 * {@link Avic} when AVIC is active.
 */
final class Svm {
    @FunctionalInterface
    interface ExitHandler {
        /** Handles one exit; returns its cost in cycles. */
        long handle(Vcpu vcpu);
    }

    private final Kvm kvm;
    private final Avic avic;
    private final Tracer tracer;
    private final CostModel costs;
    private final ExitHandler[] exitHandlers = new ExitHandler[SvmExit.MAX + 1];
    private final X86Emulator emulator = new X86Emulator();
    private final int[] cpuidOut = new int[4];

    Svm(Kvm kvm) {
        this.kvm = kvm;
        this.avic = new Avic(kvm);
        this.tracer = kvm.machine().tracer();
        this.costs = kvm.costs();
        exitHandlers[SvmExit.INTR] = this::intrInterception;
        exitHandlers[SvmExit.NMI] = this::nmiInterception;
        exitHandlers[SvmExit.VINTR] = this::interruptWindowInterception;
        exitHandlers[SvmExit.IRET] = this::iretInterception;
        exitHandlers[SvmExit.WRITE_CR8] = this::cr8WriteInterception;
        exitHandlers[SvmExit.CPUID] = this::cpuidInterception;
        exitHandlers[SvmExit.PAUSE] = this::pauseInterception;
        exitHandlers[SvmExit.HLT] = this::haltInterception;
        exitHandlers[SvmExit.MSR] = this::msrInterception;
        exitHandlers[SvmExit.SHUTDOWN] = this::shutdownInterception;
        exitHandlers[SvmExit.VMMCALL] = this::vmmcallInterception;
        exitHandlers[SvmExit.NPF] = this::npfInterception;
        exitHandlers[SvmExit.IOIO] = this::ioInterception;
        exitHandlers[SvmExit.AVIC_INCOMPLETE_IPI] = avic::avicIncompleteIpiInterception;
        exitHandlers[SvmExit.AVIC_UNACCELERATED_ACCESS] = avic::avicUnacceleratedAccessInterception;
    }

    Avic avic() {
        return avic;
    }

    // ---- set-up ----------------------------------------------------------------------------------------

    /** init_vmcb: intercepts, int_ctl, nested paging, MSR permission map; then AVIC's part. */
    void initVmcb(Vcpu vcpu, long msrpmPa) {
        Vmcb v = vcpu.vmcb;
        v.clearPage();
        v.setIntercept(INTERCEPT_CR, INTERCEPT_CR8_WRITE);
        for (int bit : new int[] {INTERCEPT_INTR, INTERCEPT_NMI, INTERCEPT_SMI, INTERCEPT_INIT, INTERCEPT_CPUID,
                INTERCEPT_HLT, INTERCEPT_IOIO_PROT, INTERCEPT_MSR_PROT}) {
            v.setIntercept(INTERCEPT_MISC1, bit);
        }
        if (kvm.params().pauseFilterCount() > 0) {
            v.setIntercept(INTERCEPT_MISC1, INTERCEPT_PAUSE);
            v.write32(PAUSE_FILTER_THRESHOLD & ~3, kvm.params().pauseFilterCount() << 16);
        }
        v.setIntercept(INTERCEPT_MISC2, INTERCEPT_VMRUN);
        v.setIntercept(INTERCEPT_MISC2, INTERCEPT_VMMCALL);
        v.write64(IOPM_BASE_PA, kvm.iopm());
        v.write64(MSRPM_BASE_PA, msrpmPa);
        v.setIntCtl(V_INTR_MASKING_MASK);
        v.write64(NESTED_CTL, 1);
        v.write64(NESTED_CR3, vcpu.vm().nptRoot());
        v.write32(ASID, vcpu.vm().asid());
        v.setRflags(0);
        v.setRip(0xFFFFFFFF81000000L);
        if (avic.isActive(vcpu)) {
            avic.initVmcb(vcpu);
        }
    }

    /** INIT: the architectural reset of the vCPU's registers (kvm_vcpu_reset). */
    void resetGuestOnInit(Vcpu vcpu) {
        vcpu.guest.resetForInit();
        vcpu.vmcb.setRflags(0);
        vcpu.vmcb.write32(EVENT_INJ, 0);
        vcpu.vmcb.updateIntCtl(V_IRQ_MASK | V_TPR_MASK, 0);
        // kvm_vcpu_reset clears nmi_pending / nmi_injected, and init_vmcb (svm_vcpu_reset) clears
        // hflags (HF_NMI_MASK) and rebuilds the intercepts without IRET: NMIs are unblocked after INIT.
        vcpu.nmiPending = 0;
        vcpu.nmiMasked = false;
        vcpu.vmcb.clearIntercept(INTERCEPT_MISC1, INTERCEPT_IRET);
    }

    /** SIPI: real mode at CS = vector << 8, IP = 0, i.e. linear address vector << 12. */
    void startupGuest(Vcpu vcpu, int vector) {
        vcpu.vmcb.setRip((long) vector << 12);
    }

    // ---- exits -----------------------------------------------------------------------------------------

    long handleExit(Vcpu vcpu, int exitCode) {
        ExitHandler h = exitCode >= 0 && exitCode <= SvmExit.MAX ? exitHandlers[exitCode] : null;
        if (h == null) {
            // KVM: "unexpected exit reason", KVM_EXIT_INTERNAL_ERROR to userspace; the VM stops here.
            vcpu.shutdown();
            return 0;
        }
        kvm.enterContext(vcpu);
        try {
            return h.handle(vcpu);
        } finally {
            kvm.leaveContext();
        }
    }

    /**
     * skip_emulated_instruction with NRIPS: RIP = next_rip, and the instruction ends any STI / MOV SS
     * interrupt shadow (svm_set_interrupt_shadow(vcpu, 0)).
     */
    static void skipEmulatedInstruction(Vcpu vcpu) {
        vcpu.vmcb.setRip(vcpu.vmcb.read64(NEXT_RIP));
        vcpu.vmcb.write32(INT_STATE, vcpu.vmcb.read32(INT_STATE) & ~INT_STATE_SHADOW_MASK);
    }

    private long intrInterception(Vcpu vcpu) {
        return costs.get(Cost.KVM_HANDLE_INTR);
    }

    private long nmiInterception(Vcpu vcpu) {
        return costs.get(Cost.KVM_HANDLE_NMI);
    }

    private long interruptWindowInterception(Vcpu vcpu) {
        // svm_clear_vintr + clear V_IRQ; the interrupt is injected with event_inj on the next entry.
        vcpu.vmcb.clearIntercept(INTERCEPT_MISC1, INTERCEPT_VINTR);
        vcpu.vmcb.updateIntCtl(V_IRQ_MASK, 0);
        vcpu.requests |= Vcpu.REQ_EVENT;
        vcpu.stats.irqWindowExits++;
        return costs.get(Cost.KVM_HANDLE_VINTR);
    }

    private long iretInterception(Vcpu vcpu) {
        // NMI window: the guest is returning from its NMI handler; NMIs are unmasked after this IRET.
        vcpu.vmcb.clearIntercept(INTERCEPT_MISC1, INTERCEPT_IRET);
        vcpu.nmiMasked = false;
        vcpu.requests |= Vcpu.REQ_EVENT;
        return costs.get(Cost.KVM_HANDLE_VINTR);
    }

    private long cr8WriteInterception(Vcpu vcpu) {
        long value = vcpu.vmcb.rax();
        tracer.kvmCr(vcpu.hostCpuId(), vcpu.vcpuId(), true, 8, value);
        if ((value & ~0xFL) != 0) {
            injectGp(vcpu); // kvm_set_cr8: reserved bits
            return costs.get(Cost.KVM_HANDLE_CR8);
        }
        vcpu.lapic.setCr8(value);
        skipEmulatedInstruction(vcpu);
        vcpu.requests |= Vcpu.REQ_EVENT;
        return costs.get(Cost.KVM_HANDLE_CR8);
    }

    private long cpuidInterception(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        int leaf = (int) v.rax();
        int subleaf = (int) vcpu.guest.gpr(GuestState.RCX);
        // CPUID.1:EBX[31:24] is the *initial* APIC ID (SDM vol. 2 CPUID; vol. 3 §10.4.6): the VMM's table
        // gives the vCPU index, and a guest write to the APIC ID register does not change it.
        boolean found = GuestCpuid.lookup(kvm.machine().cpuModel(), leaf, subleaf, vcpu.vcpuId(),
                avic.isActive(vcpu), cpuidOut);
        v.setRax(cpuidOut[0] & 0xFFFFFFFFL);
        vcpu.guest.setGpr(GuestState.RBX, cpuidOut[1] & 0xFFFFFFFFL);
        vcpu.guest.setGpr(GuestState.RCX, cpuidOut[2] & 0xFFFFFFFFL);
        vcpu.guest.setGpr(GuestState.RDX, cpuidOut[3] & 0xFFFFFFFFL);
        tracer.kvmCpuid(vcpu.hostCpuId(), vcpu.vcpuId(), leaf, subleaf, cpuidOut[0] & 0xFFFFFFFFL,
                cpuidOut[1] & 0xFFFFFFFFL, cpuidOut[2] & 0xFFFFFFFFL, cpuidOut[3] & 0xFFFFFFFFL, found);
        skipEmulatedInstruction(vcpu);
        return costs.get(Cost.KVM_HANDLE_CPUID);
    }

    private long pauseInterception(Vcpu vcpu) {
        // kvm_vcpu_on_spin: with each vCPU pinned to its own CPU there is nobody to yield to.
        return costs.get(Cost.KVM_HANDLE_PAUSE);
    }

    private long haltInterception(Vcpu vcpu) {
        skipEmulatedInstruction(vcpu);
        vcpu.stats.haltExits++;
        vcpu.mpState = Vcpu.MpState.HALTED; // kvm_emulate_halt
        return costs.get(Cost.KVM_HANDLE_HLT);
    }

    /**
     * io_interception (svm.c, 4.5): a string or IN access goes to the emulator (not modelled: javic's guests
     * do single OUTs only); an OUT takes kvm_fast_pio_out -> kvm_io_bus_write(KVM_PIO_BUS): an ioeventfd
     * registered on the port is signalled in the kernel (no userspace round trip) and the instruction is
     * skipped (next_rip = EXITINFO2). An OUT with no ioeventfd would exit to the VMM (KVM_EXIT_IO); javic
     * has no userspace device model, so it is dropped and counted.
     */
    private long ioInterception(Vcpu vcpu) {
        long info1 = vcpu.vmcb.read64(EXIT_INFO_1);
        int port = (int) (info1 >>> SvmExit.IOIO_PORT_SHIFT) & 0xFFFF;
        int size = (info1 & SvmExit.IOIO_SZ32) != 0 ? 4 : (info1 & SvmExit.IOIO_SZ16) != 0 ? 2 : 1;
        long cost = costs.get(Cost.KVM_HANDLE_IO);
        if ((info1 & (SvmExit.IOIO_TYPE_IN | SvmExit.IOIO_STR)) == 0) {
            Vm.IoEventFd fd = vcpu.vm().ioEventFd(port, size);
            if (fd != null) {
                vcpu.stats.ioeventfdSignals++;
                cost += fd.signal(vcpu.hostCpuId());
            } else {
                vcpu.stats.ioDropped++;
            }
        } else {
            vcpu.stats.ioDropped++;
        }
        vcpu.vmcb.setRip(vcpu.vmcb.read64(EXIT_INFO_2));
        vcpu.vmcb.write32(INT_STATE, vcpu.vmcb.read32(INT_STATE) & ~INT_STATE_SHADOW_MASK);
        return cost;
    }

    private long shutdownInterception(Vcpu vcpu) {
        vcpu.shutdown();
        return 0;
    }

    private long vmmcallInterception(Vcpu vcpu) {
        // kvm_emulate_hypercall: no hypercall is implemented; RAX = -KVM_ENOSYS (1000).
        vcpu.vmcb.setRax(-1000L);
        skipEmulatedInstruction(vcpu);
        return costs.get(Cost.KVM_HANDLE_MSR);
    }

    // ---- MSRs ------------------------------------------------------------------------------------------
    static final int MSR_IA32_TSC = 0x10;
    static final int MSR_IA32_APICBASE = 0x1B;
    static final int MSR_IA32_TSC_DEADLINE = 0x6E0;

    /** RDMSR result slot for {@link #getMsr}: exit handling allocates nothing. */
    private final long[] msrData = new long[1];

    private long msrInterception(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        boolean write = v.read64(EXIT_INFO_1) == SvmExit.MSR_INFO_WRITE;
        int msr = (int) vcpu.guest.gpr(GuestState.RCX);
        long cost = costs.get(Cost.KVM_HANDLE_MSR);
        if (write) {
            long data = (vcpu.guest.gpr(GuestState.RDX) << 32) | (v.rax() & 0xFFFFFFFFL);
            boolean ok = setMsr(vcpu, msr, data);
            tracer.kvmMsr(vcpu.hostCpuId(), vcpu.vcpuId(), true, msr, data, !ok);
            if (!ok) {
                injectGp(vcpu);
                return cost;
            }
        } else {
            boolean ok = getMsr(vcpu, msr, msrData);
            long data = ok ? msrData[0] : 0;
            tracer.kvmMsr(vcpu.hostCpuId(), vcpu.vcpuId(), false, msr, data, !ok);
            if (!ok) {
                injectGp(vcpu);
                return cost;
            }
            v.setRax(data & 0xFFFFFFFFL);
            vcpu.guest.setGpr(GuestState.RDX, data >>> 32);
        }
        skipEmulatedInstruction(vcpu);
        return cost;
    }

    /** kvm_get_msr_common for the MSRs javic's guests have: the value in {@code out[0]}, or false for #GP. */
    private boolean getMsr(Vcpu vcpu, int msr, long[] out) {
        LocalApic apic = vcpu.lapic;
        if (msr == MSR_IA32_TSC) {
            out[0] = vcpu.guestTsc();
            return true;
        }
        if (msr == MSR_IA32_APICBASE) {
            out[0] = apic.apicBase();
            return true;
        }
        if (msr == MSR_IA32_TSC_DEADLINE) {
            out[0] = apic.getTscDeadline();
            return true;
        }
        if (msr == KvmPara.MSR_KVM_PV_EOI_EN) {
            out[0] = apic.pvEoiMsr(); // kvm_get_msr_common: vcpu->arch.pv_eoi.msr_val
            return true;
        }
        if (ApicRegs.isX2apicMsr(msr)) {
            // kvm_x2apic_msr_read: #GP unless in x2APIC mode and a readable register.
            if (!apic.x2apicMsrRead(msr, out)) {
                return false;
            }
            tracer.kvmApic(vcpu.hostCpuId(), vcpu.vcpuId(), false, ApicRegs.x2apicOffset(msr), (int) out[0]);
            return true;
        }
        return false; // ignore_msrs=0: unknown MSRs #GP
    }

    /** kvm_set_msr_common for the MSRs javic's guests have; false for #GP. */
    private boolean setMsr(Vcpu vcpu, int msr, long data) {
        LocalApic apic = vcpu.lapic;
        if (msr == MSR_IA32_APICBASE) {
            // x2APIC is in the guest CPUID unless AVIC is active (series item 9, GuestCpuid): kvm_apic_set_base
            // then treats bit 10 as reserved.
            boolean x2apicInCpuid = !avic.isActive(vcpu);
            if ((data & LocalApic.APIC_BASE_X2APIC_ENABLE) != 0 && !x2apicInCpuid) {
                return false;
            }
            if (!apic.setApicBase(data, x2apicInCpuid)) {
                return false;
            }
            if (avic.isActive(vcpu) && (data & ~0xFFFL) != Avic.APIC_DEFAULT_PHYS_BASE) {
                // kvm_lapic_set_base (Linux 5.x+): a relocated xAPIC cannot be served by AVIC.
                vcpu.vm().setApicvInhibit(ApicvInhibit.APIC_BASE_MODIFIED, vcpu.hostCpuId());
            }
            return true;
        }
        if (msr == MSR_IA32_TSC_DEADLINE) {
            apic.setTscDeadline(data);
            return true;
        }
        if (msr == KvmPara.MSR_KVM_PV_EOI_EN) {
            // kvm_set_msr_common -> kvm_lapic_enable_pv_eoi; the address is looked up in the VM's memslots
            // (kvm_gfn_to_hva_cache_init). 4.5 does not check the guest's CPUID for the feature.
            long gpa = data & ~KvmPara.KVM_MSR_ENABLED;
            return apic.enablePvEoi(data, vcpu.vm().gpaToHpa(gpa));
        }
        if (ApicRegs.isX2apicMsr(msr)) {
            // kvm_x2apic_msr_write: #GP unless in x2APIC mode and a write the register takes.
            if (!apic.x2apicMsrWrite(msr, data)) {
                return false;
            }
            int offset = ApicRegs.x2apicOffset(msr);
            tracer.kvmApic(vcpu.hostCpuId(), vcpu.vcpuId(), true, offset, (int) data);
            if (offset == ApicRegs.EOI) {
                vcpu.requests |= Vcpu.REQ_EVENT; // apic_set_eoi: kvm_make_request(KVM_REQ_EVENT)
            }
            return true;
        }
        return false;
    }

    /** kvm_inject_gp: #GP(0) through event_inj on the next entry; the instruction is not skipped. */
    void injectGp(Vcpu vcpu) {
        vcpu.vmcb.write32(EVENT_INJ, 13 | EVTINJ_TYPE_EXEPT | EVTINJ_VALID | EVTINJ_VALID_ERR);
        vcpu.vmcb.write32(EVENT_INJ + 4, 0);
    }

    // ---- nested page faults: xAPIC MMIO -----------------------------------------------------------------

    private long npfInterception(Vcpu vcpu) {
        long gpa = vcpu.vmcb.read64(EXIT_INFO_2);
        long apicBase = vcpu.lapic.apicBase() & ~0xFFFL;
        long cost = costs.get(Cost.KVM_APIC_MMIO_EMULATE);
        if (!emulator.decode(vcpu.vmcb)) {
            // Emulation failure: KVM reports KVM_EXIT_INTERNAL_ERROR; the VM stops.
            vcpu.shutdown();
            return cost;
        }
        if (vcpu.lapic.isHardwareEnabled() && !vcpu.lapic.isX2apicMode() && (gpa & ~0xFFFL) == apicBase) {
            emulateApicAccess(vcpu, (int) (gpa & 0xFFF));
        } else if (!emulator.write) {
            // No device at this address: the VMM's MMIO read of unassigned space returns all ones. The APIC
            // page of a hardware-disabled APIC, or of one in x2APIC mode (which does not decode MMIO), is the
            // same hole: apic_mmio_read fills the data with 0xff and apic_mmio_write drops the store
            // (KVM_X86_QUIRK_LAPIC_MMIO_HOLE, on by default).
            vcpu.vmcb.setRax(emulator.size == 8 ? -1L : 0xFFFFFFFFL);
        }
        skipEmulatedInstruction(vcpu);
        return cost;
    }

    /** apic_mmio_read / apic_mmio_write for an emulated access at {@code offset} of the APIC page. */
    void emulateApicAccess(Vcpu vcpu, int offset) {
        LocalApic apic = vcpu.lapic;
        boolean aligned = emulator.size == 4 && (offset & 0xF) == 0;
        if (emulator.write) {
            int value = (int) vcpu.vmcb.rax();
            if (aligned) {
                tracer.kvmApic(vcpu.hostCpuId(), vcpu.vcpuId(), true, offset, value);
                apic.regWrite(offset, value);
                if (offset == ApicRegs.EOI) {
                    vcpu.requests |= Vcpu.REQ_EVENT;
                }
            }
            // lapic.c apic_mmio_write: accesses that are not 4 bytes at a 16-byte boundary are dropped.
        } else {
            int value = aligned ? apic.regRead(offset) : 0;
            tracer.kvmApic(vcpu.hostCpuId(), vcpu.vcpuId(), false, offset, value);
            vcpu.vmcb.setRax(value & 0xFFFFFFFFL);
        }
    }

    boolean decodeFaultingInstruction(Vcpu vcpu) {
        return emulator.decode(vcpu.vmcb);
    }

    /** The memory operand of the instruction {@link #decodeFaultingInstruction} decoded. */
    long decodedAddress() {
        return emulator.address;
    }

    // ---- legacy injection -------------------------------------------------------------------------------

    /** svm_interrupt_allowed: RFLAGS.IF and no interrupt shadow (GIF is always set for a guest here). */
    boolean interruptAllowed(Vcpu vcpu) {
        return vcpu.vmcb.interruptsEnabled() && !vcpu.vmcb.inInterruptShadow();
    }

    /**
     * inject_pending_event (x86.c) with svm_inject_nmi / svm_set_irq / svm_enable_irq_window: NMI
     * first, then the highest deliverable APIC interrupt through event_inj when the guest can take
     * it now, else a V_IRQ interrupt window with the VINTR intercept. With AVIC active, interrupts
     * are in the backing page and only NMIs are injected here.
     */
    void injectPendingEvent(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        if ((v.read32(EVENT_INJ) & EVTINJ_VALID) != 0) {
            return; // an exception is already queued for this entry
        }
        // process_nmi (x86.c): every queued NMI moves to nmi_pending, which then keeps at most one NMI
        // behind the one in progress: limit 2 when none is in progress, 1 while the guest is in its NMI
        // handler (HF_NMI_MASK), since x86 has one NMI running and one latched (SDM vol. 3 §6.7.1).
        while (vcpu.lapic.takeNmi()) {
            vcpu.nmiPending++;
        }
        vcpu.nmiPending = Math.min(vcpu.nmiPending, vcpu.nmiMasked ? 1 : 2);
        if (vcpu.nmiPending > 0) {
            if (!vcpu.nmiMasked) {
                vcpu.nmiPending--;
                vcpu.nmiMasked = true;
                v.write32(EVENT_INJ, 2 | EVTINJ_TYPE_NMI | EVTINJ_VALID);
                v.setIntercept(INTERCEPT_MISC1, INTERCEPT_IRET);
                vcpu.stats.nmiInjections++;
                vcpu.charge(costs.get(Cost.KVM_INJECT_IRQ));
                return;
            }
        }
        if (avic.isActive(vcpu)) {
            return;
        }
        int vector = vcpu.lapic.hasInterrupt();
        if (vector >= 0) {
            if (interruptAllowed(vcpu)) {
                vector = vcpu.lapic.getInterrupt();
                v.write32(EVENT_INJ, vector | EVTINJ_TYPE_INTR | EVTINJ_VALID);
                tracer.kvmInjVirq(vcpu.hostCpuId(), vcpu.vcpuId(), vector, false, false);
                vcpu.stats.irqInjections++;
                vcpu.charge(costs.get(Cost.KVM_INJECT_IRQ));
                vector = vcpu.lapic.hasInterrupt();
            }
            if (vector >= 0) {
                enableIrqWindow(vcpu);
            }
        }
        updateCr8Intercept(vcpu);
    }

    /** svm_enable_irq_window: a dummy V_IRQ (vector 0, priority 0xF, ignore TPR) with the VINTR intercept. */
    private void enableIrqWindow(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        v.write32(INT_VECTOR, 0);
        v.updateIntCtl(V_IRQ_MASK | V_INTR_PRIO_MASK | V_IGN_TPR_MASK,
                V_IRQ_MASK | (0xF << V_INTR_PRIO_SHIFT) | V_IGN_TPR_MASK);
        v.setIntercept(INTERCEPT_MISC1, INTERCEPT_VINTR);
    }

    /**
     * svm_update_cr8_intercept: intercept CR8 writes only while an interrupt waits behind the TPR, so
     * that lowering the TPR exits and lets KVM inject it. Not done with AVIC (series item 10).
     */
    void updateCr8Intercept(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        if (avic.isActive(vcpu)) {
            return;
        }
        v.clearIntercept(INTERCEPT_CR, INTERCEPT_CR8_WRITE);
        int irr = vcpu.lapic.highestIrr();
        if (irr < 0) {
            return;
        }
        if ((vcpu.lapic.tpr() >>> 4) >= (irr >>> 4)) {
            v.setIntercept(INTERCEPT_CR, INTERCEPT_CR8_WRITE);
        }
    }

    /** sync_lapic_to_cr8: V_TPR = TPR[7:4] before entry (legacy only; AVIC keeps TPR in the page). */
    void syncLapicToCr8(Vcpu vcpu) {
        if (avic.isActive(vcpu)) {
            return;
        }
        vcpu.vmcb.updateIntCtl(V_TPR_MASK, vcpu.lapic.tpr() >>> 4);
    }

    /** sync_cr8_to_lapic: the guest's CR8 writes that did not exit are in V_TPR. */
    void syncCr8ToLapic(Vcpu vcpu) {
        if (!vcpu.vmcb.isInterceptSet(INTERCEPT_CR, INTERCEPT_CR8_WRITE)) {
            int vtpr = vcpu.vmcb.vTpr();
            if ((vcpu.lapic.tpr() >>> 4) != vtpr) {
                vcpu.lapic.setCr8(vtpr);
            }
        }
    }

    // ---- the series' hooks -----------------------------------------------------------------------------

    /** svm_vcpu_load (and, with AVIC, avic_vcpu_load). */
    void vcpuLoad(Vcpu vcpu, HostCpu cpu) {
        if (avic.isActive(vcpu)) {
            avic.vcpuLoad(vcpu, cpu, vcpu.avicIsRunning);
        }
    }

    /** svm_vcpu_put (and avic_vcpu_put). */
    void vcpuPut(Vcpu vcpu) {
        if (avic.isActive(vcpu)) {
            avic.vcpuPut(vcpu);
        }
    }

    /** kvm_arch_vcpu_blocking -> svm_vcpu_blocking (series only); returns its cost. */
    long vcpuBlocking(Vcpu vcpu) {
        if (kvm.variant() == KvmVariant.VANILLA) {
            return 0;
        }
        if (avic.isActive(vcpu)) {
            avic.setRunning(vcpu, false);
        }
        return costs.get(Cost.KVM_HOOK_CALL);
    }

    /** kvm_arch_vcpu_unblocking -> svm_vcpu_unblocking (series only); returns its cost. */
    long vcpuUnblocking(Vcpu vcpu) {
        if (kvm.variant() == KvmVariant.VANILLA) {
            return 0;
        }
        if (avic.isActive(vcpu)) {
            avic.setRunning(vcpu, true);
        }
        return costs.get(Cost.KVM_HOOK_CALL);
    }

    /**
     * svm_refresh_apicv_exec_ctrl after KVM_REQ_APICV_UPDATE: a VMCB with AVIC enabled on a VM where it
     * is now inhibited leaves AVIC; pending vectors are already in the APIC's IRR (the backing page is
     * the register page), so legacy injection picks them up.
     */
    void refreshApicvExecCtrl(Vcpu vcpu) {
        if (!avic.isActive(vcpu) && vcpu.vmcb.isAvicEnabled()) {
            avic.deactivateVmcb(vcpu);
            vcpu.requests |= Vcpu.REQ_EVENT;
        }
    }

    /** The deliver_posted_interrupt hook: svm_deliver_avic_intr when AVIC is active. */
    boolean deliverAvicIntr(Vcpu vcpu, int vector) {
        if (!avic.isActive(vcpu)) {
            return false;
        }
        avic.deliverAvicIntr(vcpu, vector);
        return true;
    }
}
