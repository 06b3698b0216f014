package dev.javic.kvm;

import dev.javic.host.HostCpu;
import dev.javic.hw.AvicTables;
import dev.javic.hw.PhysicalMemory;
import dev.javic.hw.Vmcb;
import dev.javic.kvm.lapic.ApicIrq;
import dev.javic.hw.ApicRegs;
import dev.javic.kvm.lapic.LocalApic;
import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.trace.Tracer;

import static dev.javic.hw.AvicTables.*;
import static dev.javic.hw.VmcbLayout.*;

/**
 * KVM's AVIC support (the 2016 series; arch/x86/kvm/svm.c, later svm/avic.c): per-VM tables,
 * per-vCPU VMCB fields and physical-table entries, IsRunning maintenance on load / put / blocking,
 * interrupt injection through the backing page, and the two AVIC exits.
 *
 * <p>All of it works on memory: table entries are built in a local and published with one atomic
 * write, IRR bits are set with a locked OR followed by a full barrier before IsRunning is read.
 */
final class Avic {
    /** The default xAPIC base, where the AVIC BAR is programmed (APIC_DEFAULT_PHYS_BASE). */
    static final long APIC_DEFAULT_PHYS_BASE = 0xFEE00000L;
    /** svm.c 2016: AVIC_MAX_PHYSICAL_ID_COUNT = 255 programmed as the table's max index. */
    static final int AVIC_MAX_PHYSICAL_ID_COUNT = 255;

    private final Kvm kvm;
    private final PhysicalMemory mem;
    private final Tracer tracer;
    private final CostModel costs;
    private final ApicIrq irq = new ApicIrq();

    Avic(Kvm kvm) {
        this.kvm = kvm;
        this.mem = kvm.machine().memory();
        this.tracer = kvm.machine().tracer();
        this.costs = kvm.costs();
    }

    /** kvm_vcpu_apicv_active: AVIC usable on this host and not inhibited for this vCPU's VM. */
    boolean isActive(Vcpu vcpu) {
        return vcpu.vm().avicActive();
    }

    // ---- VM and vCPU set-up ---------------------------------------------------------------------------

    /** avic_vm_init: the physical and logical APIC ID tables and a VM id. */
    void vmInit(Vm vm) {
        vm.avicPhysicalTable = kvm.pages().allocatePage();
        vm.avicLogicalTable = kvm.pages().allocatePage();
        vm.avicVmId = kvm.allocateAvicVmId();
        // avic_init_access_page: map a page at the APIC BAR so the CPU's AVIC check finds it mapped.
        vm.apicAccessPage = kvm.pages().allocatePage();
        vm.npt().map(APIC_DEFAULT_PHYS_BASE, PhysicalMemory.PAGE_SIZE, vm.apicAccessPage);
    }

    /** avic_vm_destroy. */
    void vmDestroy(Vm vm) {
        vm.npt().unmap(APIC_DEFAULT_PHYS_BASE); // no-op when an inhibit already removed it
        kvm.pages().freePage(vm.apicAccessPage);
        kvm.pages().freePage(vm.avicLogicalTable);
        kvm.pages().freePage(vm.avicPhysicalTable);
        kvm.freeAvicVmId(vm.avicVmId);
    }

    /**
     * avic_init_backing_page: the backing page is the local APIC's register page (series item 5);
     * its physical-table entry is published at index = APIC ID.
     */
    void initVcpu(Vcpu vcpu) {
        int id = vcpu.lapic.apicId();
        if (id > AvicTables.PHYSICAL_MAX_INDEX) {
            throw new IllegalArgumentException("APIC ID " + id + " beyond the AVIC physical table (max 0xFE)");
        }
        long entry = (vcpu.lapic.regsPagePa() & PHYSICAL_BACKING_PAGE_MASK) | PHYSICAL_VALID;
        writePhysicalEntry(vcpu, id, entry);
        vcpu.avicApicId = id;
        vcpu.avicLdr = 0;
        vcpu.avicDfr = vcpu.lapic.dfr();
    }

    /** avic_init_vmcb: backing page, tables, max index, AVIC BAR, enable bit; CR8 writes no longer exit. */
    void initVmcb(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        Vm vm = vcpu.vm();
        v.write64(AVIC_BACKING_PAGE, vcpu.lapic.regsPagePa() & AVIC_HPA_MASK);
        v.write64(AVIC_LOGICAL_ID, vm.avicLogicalTable & AVIC_HPA_MASK);
        v.write64(AVIC_PHYSICAL_ID, (vm.avicPhysicalTable & AVIC_HPA_MASK) | AVIC_MAX_PHYSICAL_ID_COUNT);
        v.write64(AVIC_VAPIC_BAR, APIC_DEFAULT_PHYS_BASE & AVIC_VAPIC_BAR_MASK);
        v.updateIntCtl(AVIC_ENABLE_MASK, AVIC_ENABLE_MASK);
        v.clearIntercept(INTERCEPT_CR, INTERCEPT_CR8_WRITE);
    }

    /**
     * avic_deactivate_vmcb: clear the enable bit and the vCPU's IsRunning, so that senders still running
     * with AVIC exit (TARGET_NOT_RUNNING) and KVM delivers to this vCPU in software; CR8 writes are
     * intercepted again as the legacy path needs (svm_update_cr8_intercept).
     */
    void deactivateVmcb(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        v.updateIntCtl(AVIC_ENABLE_MASK, 0);
        long pa = physicalEntryPa(vcpu.vm(), vcpu.avicApicId);
        long entry = mem.read64Volatile(pa);
        if ((entry & PHYSICAL_IS_RUNNING) != 0) {
            mem.write64Volatile(pa, entry & ~PHYSICAL_IS_RUNNING);
            tracer.kvmAvicIsRunning(vcpu.hostCpuId(), vcpu.vcpuId(), false, (int) (entry & PHYSICAL_HOST_APIC_ID_MASK));
        }
        v.setIntercept(INTERCEPT_CR, INTERCEPT_CR8_WRITE);
    }

    private long physicalEntryPa(Vm vm, int index) {
        return vm.avicPhysicalTable + (long) index * PHYSICAL_ENTRY_BYTES;
    }

    private void writePhysicalEntry(Vcpu vcpu, int index, long entry) {
        mem.write64Volatile(physicalEntryPa(vcpu.vm(), index), entry);
        tracer.kvmAvicTableUpdate(vcpu.hostCpuId(), vcpu.vcpuId(), false, index, entry);
    }

    // ---- IsRunning ------------------------------------------------------------------------------------

    /** avic_vcpu_load: host physical APIC ID of the CPU now running the vCPU, and IsRunning. */
    void vcpuLoad(Vcpu vcpu, HostCpu cpu, boolean isRunning) {
        long pa = physicalEntryPa(vcpu.vm(), vcpu.avicApicId);
        long entry = mem.read64Volatile(pa);
        entry &= ~PHYSICAL_HOST_APIC_ID_MASK;
        entry |= cpu.core().apicId() & PHYSICAL_HOST_APIC_ID_MASK;
        entry &= ~PHYSICAL_IS_RUNNING;
        if (isRunning) {
            entry |= PHYSICAL_IS_RUNNING;
        }
        mem.write64Volatile(pa, entry);
        tracer.kvmAvicIsRunning(cpu.id(), vcpu.vcpuId(), isRunning, cpu.core().apicId());
    }

    /** avic_vcpu_put: clear IsRunning. */
    void vcpuPut(Vcpu vcpu) {
        long pa = physicalEntryPa(vcpu.vm(), vcpu.avicApicId);
        long entry = mem.read64Volatile(pa);
        if ((entry & PHYSICAL_IS_RUNNING) != 0) {
            mem.write64Volatile(pa, entry & ~PHYSICAL_IS_RUNNING);
            tracer.kvmAvicIsRunning(vcpu.hostCpuId(), vcpu.vcpuId(), false, (int) (entry & PHYSICAL_HOST_APIC_ID_MASK));
        }
    }

    /** avic_set_running: from the blocking / unblocking hooks (series item 12). */
    void setRunning(Vcpu vcpu, boolean running) {
        vcpu.avicIsRunning = running;
        if (running) {
            vcpuLoad(vcpu, vcpu.cpu(), true);
        } else {
            vcpuPut(vcpu);
        }
    }

    boolean isRunningInTable(Vcpu vcpu) {
        return (mem.read64Volatile(physicalEntryPa(vcpu.vm(), vcpu.avicApicId)) & PHYSICAL_IS_RUNNING) != 0;
    }

    // ---- injection ------------------------------------------------------------------------------------

    /**
     * svm_deliver_avic_intr (series item 6): set IRR in the backing page, full barrier, then a doorbell
     * to the CPU running the vCPU if IsRunning, else kvm_vcpu_wake_up (no host IPI).
     */
    void deliverAvicIntr(Vcpu vcpu, int vector) {
        vcpu.lapic.setIrr(vector);
        PhysicalMemory.fullFence(); // smp_mb__after_atomic
        long entry = mem.read64Volatile(physicalEntryPa(vcpu.vm(), vcpu.avicApicId));
        if ((entry & PHYSICAL_IS_RUNNING) != 0) {
            int hostApicId = (int) (entry & PHYSICAL_HOST_APIC_ID_MASK);
            int from = kvm.currentCpu();
            tracer.kvmAvicDoorbell(from < 0 ? vcpu.hostCpuId() : from, vcpu.vcpuId(), hostApicId);
            kvm.chargeCurrent(costs.get(Cost.KVM_DOORBELL_WRITE));
            vcpu.stats.doorbellsSent++;
            kvm.machine().sendDoorbell(kvm.machine().core(from < 0 ? vcpu.hostCpuId() : from), hostApicId);
        } else {
            vcpu.wakeUp(kvm.currentCpu());
        }
    }

    // ---- AVIC_INCOMPLETE_IPI ------------------------------------------------------------------------------

    /**
     * avic_incomplete_ipi_interception (series item 7). EXITINFO1 = ICR high:low, EXITINFO2 = cause in
     * 63:32 and the table index in 7:0. The ICR write already retired (trap-like).
     * <ul>
     * <li>TARGET_NOT_RUNNING: the hardware set the IRR bits already; wake every vCPU the ICR names that is
     *     not running (kvm_vcpu_wake_up: no host IPI).
     * <li>INVALID_INT_TYPE (not fixed/edge: NMI, INIT, SIPI, lowest priority, level): emulate the ICR write
     *     through the software APIC, as KVM does by writing ICR2 and ICR with kvm_lapic_reg_write.
     * <li>INVALID_TARGET: the 2016 series only logged it; later KVM emulates the IPI in software so that
     *     targets without a table entry (e.g. an LDR with several bits) are still reached. javic does the
     *     latter, so that avic-on delivers exactly what avic-off does.
     * <li>INVALID_BACKING_PAGE: a hypervisor bug (the tables point at a bad page); logged, nothing sent.
     * </ul>
     */
    long avicIncompleteIpiInterception(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        long info1 = v.read64(EXIT_INFO_1);
        long info2 = v.read64(EXIT_INFO_2);
        int icrHigh = (int) (info1 >>> 32);
        int icrLow = (int) info1;
        int cause = (int) (info2 >>> 32);
        int index = (int) (info2 & 0xFF);
        tracer.kvmAvicIncompleteIpi(vcpu.hostCpuId(), vcpu.vcpuId(), icrHigh, icrLow, cause, index);
        vcpu.stats.ipisSent++;
        switch (cause) {
            case IPI_FAILURE_TARGET_NOT_RUNNING -> {
                // svm.c (2016): "if (m && !avic_vcpu_is_running(vcpu)) kvm_vcpu_wake_up(vcpu);". A wake-up,
                // not a kick (series item 13): targets that were running got the doorbell from the hardware,
                // and one that entered the guest since then finds its IRR at VMRUN; a kick would send a
                // needless host IPI to a running target and pull it out of the guest.
                // xAPIC format: AVIC is never active with an APIC in x2APIC mode (Svm.setMsr refuses EXTD).
                irq.fromIcr(icrLow, icrHigh);
                Vm vm = vcpu.vm();
                for (int i = 0; i < vm.vcpuCount(); i++) {
                    Vcpu target = vm.vcpu(i);
                    if (target.lapic.matchDest(vcpu.lapic, irq.shorthand, irq.destId, irq.logicalDestination)
                            && !isRunningInTable(target)) {
                        target.wakeUp(vcpu.hostCpuId());
                        target.stats.avicWakeups++;
                    }
                }
            }
            case IPI_FAILURE_INVALID_INT_TYPE, IPI_FAILURE_INVALID_TARGET -> {
                vcpu.lapic.regWrite(ApicRegs.ICR2, icrHigh);
                vcpu.lapic.regWrite(ApicRegs.ICR, icrLow);
            }
            default -> { } // INVALID_BACKING_PAGE: "SVM: Invalid backing page" in the kernel log
        }
        return costs.get(Cost.KVM_AVIC_INCOMPLETE_IPI);
    }

    // ---- AVIC_UNACCELERATED_ACCESS -------------------------------------------------------------------------

    /**
     * avic_unaccelerated_access_interception: EXITINFO1 bits 11:4 = offset, bit 32 = write; trap
     * registers (the write already landed) get kvm_lapic_reg_write's side effects, with the table
     * updates for ID, LDR and DFR first; faults are emulated like MMIO.
     */
    long avicUnacceleratedAccessInterception(Vcpu vcpu) {
        Vmcb v = vcpu.vmcb;
        long info1 = v.read64(EXIT_INFO_1);
        int offset = (int) (info1 & UNACCEL_ACCESS_OFFSET_MASK);
        boolean write = (info1 & UNACCEL_ACCESS_WRITE) != 0;
        int vector = (int) v.read64(EXIT_INFO_2);
        boolean trap = isAvicUnacceleratedAccessTrap(offset);
        tracer.kvmAvicUnacceleratedAccess(vcpu.hostCpuId(), vcpu.vcpuId(), offset, trap, write, vector);
        if (trap && write) {
            avicUnaccelTrapWrite(vcpu, offset);
            return costs.get(Cost.KVM_AVIC_UNACCEL_TRAP);
        }
        // Fault: emulate the instruction (kvm_emulate_instruction) from the decode-assist bytes.
        Svm svm = kvm.svm();
        if (!svm.decodeFaultingInstruction(vcpu)) {
            vcpu.shutdown();
            return costs.get(Cost.KVM_AVIC_UNACCEL_FAULT);
        }
        // kvm_emulate_instruction performs the access at the address the instruction names. EXITINFO1
        // carries only bits 11:4 of the offset, so an unaligned access at 0x84 would read as TPR (0x80);
        // apic_mmio_read/write must see 0x84 to drop it as lapic.c does.
        svm.emulateApicAccess(vcpu, (int) (svm.decodedAddress() & 0xFFF));
        Svm.skipEmulatedInstruction(vcpu);
        return costs.get(Cost.KVM_AVIC_UNACCEL_FAULT);
    }

    /** is_avic_unaccelerated_access_trap (svm.c). */
    static boolean isAvicUnacceleratedAccessTrap(int offset) {
        return switch (offset) {
            case ApicRegs.ID, ApicRegs.EOI, ApicRegs.RRR, ApicRegs.LDR, ApicRegs.DFR, ApicRegs.SPIV, ApicRegs.ESR,
                 ApicRegs.ICR, ApicRegs.LVTT, ApicRegs.LVTTHMR, ApicRegs.LVTPC, ApicRegs.LVT0, ApicRegs.LVT1,
                 ApicRegs.LVTERR, ApicRegs.TMICT, ApicRegs.TDCR -> true;
            default -> false;
        };
    }

    /** avic_unaccel_trap_write: re-run the landed value through kvm_lapic_reg_write. */
    private void avicUnaccelTrapWrite(Vcpu vcpu, int offset) {
        LocalApic apic = vcpu.lapic;
        int value = apic.read(offset);
        tracer.kvmApic(vcpu.hostCpuId(), vcpu.vcpuId(), true, offset, value);
        switch (offset) {
            case ApicRegs.ID -> {
                if (!avicHandleApicIdUpdate(vcpu)) {
                    return;
                }
            }
            case ApicRegs.LDR -> avicHandleLdrUpdate(vcpu, value);
            case ApicRegs.DFR -> avicHandleDfrUpdate(vcpu, value);
            default -> { }
        }
        apic.regWrite(offset, value);
        if (offset == ApicRegs.LDR || offset == ApicRegs.DFR || offset == ApicRegs.ID || offset == ApicRegs.SPIV) {
            vcpu.vm().recalculateApicMap();
        }
    }

    /**
     * avic_handle_apic_id_update: the guest changed its APIC ID; move its physical-table entry to
     * the new index and re-derive the logical entry. Returns false if the new ID cannot be used.
     */
    private boolean avicHandleApicIdUpdate(Vcpu vcpu) {
        int newId = (vcpu.lapic.read(ApicRegs.ID) >>> 24) & 0xFF;
        int oldId = vcpu.avicApicId;
        if (newId == oldId) {
            return true;
        }
        if (newId > PHYSICAL_MAX_INDEX) {
            return false;
        }
        Vm vm = vcpu.vm();
        long oldEntry = mem.read64Volatile(physicalEntryPa(vm, oldId));
        writePhysicalEntry(vcpu, newId, oldEntry);
        writePhysicalEntry(vcpu, oldId, 0);
        vcpu.avicApicId = newId;
        if (vcpu.avicLdr != 0) {
            avicHandleLdrUpdate(vcpu, vcpu.avicLdr);
        }
        return true;
    }

    /** avic_handle_ldr_update: invalidate the old logical entry, publish the new one. */
    private void avicHandleLdrUpdate(Vcpu vcpu, int ldr) {
        boolean flat = vcpu.avicDfr == 0xFFFFFFFF;
        if (vcpu.avicLdr != 0) {
            invalidateLogicalEntry(vcpu, vcpu.avicLdr, flat);
        }
        vcpu.avicLdr = ldr;
        int index = AvicTables.logicalIndex(ldr >>> 24, flat);
        if (index < 0) {
            return;
        }
        int entry = (vcpu.avicApicId & LOGICAL_GUEST_PHYSICAL_ID_MASK) | LOGICAL_VALID;
        Vm vm = vcpu.vm();
        mem.write32(vm.avicLogicalTable + (long) index * LOGICAL_ENTRY_BYTES, entry);
        tracer.kvmAvicTableUpdate(vcpu.hostCpuId(), vcpu.vcpuId(), true, index, entry & 0xFFFFFFFFL);
    }

    private void invalidateLogicalEntry(Vcpu vcpu, int ldr, boolean flat) {
        int index = AvicTables.logicalIndex(ldr >>> 24, flat);
        if (index < 0) {
            return;
        }
        long pa = vcpu.vm().avicLogicalTable + (long) index * LOGICAL_ENTRY_BYTES;
        int entry = mem.read32(pa);
        if ((entry & LOGICAL_GUEST_PHYSICAL_ID_MASK) == vcpu.avicApicId) {
            mem.write32(pa, entry & ~LOGICAL_VALID);
            tracer.kvmAvicTableUpdate(vcpu.hostCpuId(), vcpu.vcpuId(), true, index, (entry & ~LOGICAL_VALID) & 0xFFFFFFFFL);
        }
    }

    /**
     * avic_handle_dfr_update: a change between flat and cluster model re-indexes the logical table,
     * so the whole table is cleared and this vCPU's entry is rebuilt from its LDR.
     */
    private void avicHandleDfrUpdate(Vcpu vcpu, int dfr) {
        int normalized = dfr | 0x0FFFFFFF;
        if (normalized == vcpu.avicDfr) {
            return;
        }
        Vm vm = vcpu.vm();
        for (int i = 0; i < PhysicalMemory.PAGE_SIZE; i += 4) {
            mem.write32(vm.avicLogicalTable + i, 0);
        }
        for (Vcpu other : vm.vcpus()) {
            other.avicDfr = normalized;
        }
        int ldr = vcpu.avicLdr;
        vcpu.avicLdr = 0;
        if (ldr != 0) {
            avicHandleLdrUpdate(vcpu, ldr);
        }
    }
}
