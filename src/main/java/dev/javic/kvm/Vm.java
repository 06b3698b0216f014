package dev.javic.kvm;

import dev.javic.hw.GuestProgram;
import dev.javic.hw.NestedPageTable;
import dev.javic.kvm.lapic.ApicIrq;
import dev.javic.kvm.lapic.IrqDelivery;
import dev.javic.kvm.lapic.LocalApic;
import dev.javic.sim.Cost;

import java.util.List;

/**
 * A VM (struct kvm): its vCPUs, guest memory (one RAM slot from guest physical 0, mapped through
 * nested paging), the interrupt routing between its local APICs, and — when AVIC is active — the
 * per-VM AVIC data (series item 4) created by the VM init hook and freed by the uninit hook.
 */
public final class Vm {
    private final Kvm kvm;
    private final int asid;
    private final int pidBase;
    private final NestedPageTable npt = new NestedPageTable();
    private final long nptRoot;
    private final long ramBytes;
    private final long ramHpa;
    /** AVIC usable for this VM at all (host, module parameter, hypervisor); its data exists iff true. */
    private final boolean avicSupported;
    private final List<String> avicDisabledReasons;
    /** kvm->arch.apicv_inhibit_reasons: bits of {@link ApicvInhibit}, set while the VM runs. */
    private long apicvInhibits;
    private Vcpu[] vcpus = new Vcpu[0];
    private LocalApic[] apics = new LocalApic[0];

    long avicPhysicalTable;
    long avicLogicalTable;
    long apicAccessPage;
    int avicVmId;

    Vm(Kvm kvm, int asid, long ramBytes, List<String> avicInactiveReasons) {
        this.kvm = kvm;
        this.asid = asid;
        this.pidBase = 1000 * asid;
        this.ramBytes = ramBytes;
        this.nptRoot = kvm.pages().allocatePage();
        this.ramHpa = kvm.pages().allocateContiguous((int) (ramBytes >>> 12));
        npt.map(0, ramBytes, ramHpa);
        kvm.machine().registerNestedPageTable(nptRoot, npt);
        this.avicDisabledReasons = List.copyOf(avicInactiveReasons);
        this.avicSupported = avicInactiveReasons.isEmpty();
    }

    public Kvm kvm() {
        return kvm;
    }

    int asid() {
        return asid;
    }

    int pidBase() {
        return pidBase;
    }

    NestedPageTable npt() {
        return npt;
    }

    long nptRoot() {
        return nptRoot;
    }

    /**
     * The host-physical address of guest-physical {@code gpa}, as KVM finds it through its memslots (one RAM
     * slot from 0 here), or -1 when no memslot holds it.
     */
    public long gpaToHpa(long gpa) {
        return gpa >= 0 && gpa < ramBytes ? ramHpa + gpa : -1;
    }

    public long ramBytes() {
        return ramBytes;
    }

    /** Host physical address of guest physical address 0. */
    public long ramHostPhysical() {
        return ramHpa;
    }

    /** Whether AVIC is active for this VM now (kvm_apicv_activated): supported and not inhibited. */
    public boolean avicActive() {
        return avicSupported && apicvInhibits == 0;
    }

    /** Why AVIC is not active, in words: why it is unavailable, then every inhibit set so far; empty when active. */
    public List<String> avicInactiveReasons() {
        if (apicvInhibits == 0) {
            return avicDisabledReasons;
        }
        List<String> reasons = new java.util.ArrayList<>(avicDisabledReasons);
        for (ApicvInhibit i : ApicvInhibit.values()) {
            if ((apicvInhibits & i.mask()) != 0) {
                reasons.add(i.explanation());
            }
        }
        return reasons;
    }

    /** The inhibit bits set so far (kvm->arch.apicv_inhibit_reasons). */
    public long apicvInhibits() {
        return apicvInhibits;
    }

    /**
     * kvm_set_apicv_inhibit: the first time a reason is set on a VM using AVIC, every vCPU is asked to
     * leave AVIC (KVM_REQ_APICV_UPDATE) and kicked so that it does so at its next entry.
     */
    void setApicvInhibit(ApicvInhibit reason, int cpu) {
        if (!avicSupported || (apicvInhibits & reason.mask()) != 0) {
            return;
        }
        apicvInhibits |= reason.mask();
        // __kvm_set_or_clear_apicv_inhibit zaps the APIC access page: accesses there now reach KVM as MMIO.
        npt.unmap(Avic.APIC_DEFAULT_PHYS_BASE);
        kvm.machine().tracer().kvmApicvInhibitChanged(cpu, true, reason.reason(), apicvInhibits);
        for (Vcpu v : vcpus) {
            v.requests |= Vcpu.REQ_APICV_UPDATE;
            v.kick(cpu);
        }
    }

    public long avicPhysicalTable() {
        return avicPhysicalTable;
    }

    public long avicLogicalTable() {
        return avicLogicalTable;
    }

    public int avicVmId() {
        return avicVmId;
    }

    public List<Vcpu> vcpus() {
        return List.of(vcpus);
    }

    public Vcpu vcpu(int id) {
        return vcpus[id];
    }

    public int vcpuCount() {
        return vcpus.length;
    }

    /**
     * KVM_CREATE_VCPU: a vCPU with its VMCB, MSR permission map and APIC register page (which is also
     * its AVIC backing page), pinned to host CPU {@code affinity} (or -1 for any).
     */
    public Vcpu createVcpu(int affinity, GuestProgram program) {
        int id = vcpus.length;
        long vmcbPa = kvm.pages().allocatePage();
        long apicPage = kvm.pages().allocatePage();
        long msrpm = kvm.pages().allocateContiguous(2);
        for (long a = msrpm; a < msrpm + 0x2000; a += 4) {
            kvm.machine().memory().write32(a, -1); // intercept every MSR (KVM then opens a few it passes through)
        }
        Vcpu vcpu = new Vcpu(this, id, affinity, vmcbPa, apicPage, program);
        vcpus = java.util.Arrays.copyOf(vcpus, id + 1);
        vcpus[id] = vcpu;
        apics = java.util.Arrays.copyOf(apics, id + 1);
        apics[id] = vcpu.lapic;
        vcpu.lapic.reset();
        if (avicSupported) {
            kvm.svm().avic().initVcpu(vcpu);
        }
        kvm.svm().initVmcb(vcpu, msrpm);
        recalculateApicMap();
        return vcpu;
    }

    /** Starts every vCPU thread (the VMM's KVM_RUN on each). */
    public void start() {
        for (Vcpu v : vcpus) {
            kvm.scheduler().start(v);
        }
    }

    /**
     * kvm_recalculate_apic_map. Delivery walks the APICs and asks each {@link LocalApic#matchDest}, so
     * there is no map to rebuild; the method stays as the one place ID / LDR / DFR changes land.
     */
    void recalculateApicMap() {
    }

    /** kvm_irq_delivery_to_apic for an IPI from {@code source}'s APIC (from an ICR write). */
    void deliverIrq(Vcpu sender, LocalApic source, ApicIrq irq) {
        kvm.machine().tracer().kvmApicIpi(sender.hostCpuId(), sender.vcpuId(), irqIcrLow(irq), irq.destId);
        int delivered = IrqDelivery.irqDeliveryToApic(source, irq, apics, IrqDelivery.LowestPriority.KVM_ARB_PRIO_COUNTER);
        kvm.chargeCurrent(Math.max(delivered, 1) * kvm.costs().get(Cost.KVM_IPI_PER_TARGET));
    }

    /**
     * An MSI from an irqfd signalled by a host thread running on {@code hostCpu} (vhost's
     * {@code vhost_signal} -> {@code eventfd_signal} -> {@code irqfd_wakeup} -> {@code kvm_set_msi_inatomic}, 4.5):
     * the APIC accept path from that CPU's context, so the kick's host IPI or the AVIC doorbell goes out from
     * it. Returns the cycles the injection cost that thread (kvm.ipi_per_target, plus the host IPI, wake-up or
     * doorbell write it did).
     */
    public long injectDeviceIrqFrom(int hostCpu, int vcpuId, int vector) {
        deviceIrq.set(vector, 0, false, false, false, 0, vcpus[vcpuId].lapic.apicId());
        return kvm.runOnHostCpu(hostCpu, deliverDeviceIrq);
    }

    /** The MSI being delivered by {@link #injectDeviceIrqFrom}; reused so that delivery allocates nothing. */
    private final ApicIrq deviceIrq = new ApicIrq();
    private final Runnable deliverDeviceIrq = this::deliverDeviceIrqNow;

    private void deliverDeviceIrqNow() {
        int n = IrqDelivery.irqDeliveryToApic(null, deviceIrq, apics, IrqDelivery.LowestPriority.KVM_ARB_PRIO_COUNTER);
        kvm.chargeCurrent(Math.max(n, 1) * kvm.costs().get(Cost.KVM_IPI_PER_TARGET));
    }

    /** Something an ioeventfd signals: an eventfd's wait queue (vhost's poll on its kick fd). */
    @FunctionalInterface
    public interface IoEventFd {
        /** The eventfd is signalled from host CPU {@code hostCpu}; returns the cycles the signal cost there. */
        long signal(int hostCpu);
    }

    private int[] ioeventfdPorts = new int[0];
    private int[] ioeventfdSizes = new int[0];
    private IoEventFd[] ioeventfds = new IoEventFd[0];

    /** KVM_IOEVENTFD on the PIO bus: a write of {@code size} bytes to {@code port} signals {@code fd}, no datamatch. */
    public void registerIoEventFd(int port, int size, IoEventFd fd) {
        int n = ioeventfds.length;
        ioeventfdPorts = java.util.Arrays.copyOf(ioeventfdPorts, n + 1);
        ioeventfdSizes = java.util.Arrays.copyOf(ioeventfdSizes, n + 1);
        ioeventfds = java.util.Arrays.copyOf(ioeventfds, n + 1);
        ioeventfdPorts[n] = port;
        ioeventfdSizes[n] = size;
        ioeventfds[n] = fd;
    }

    /** kvm_io_bus_write(KVM_PIO_BUS): the ioeventfd at {@code port}, or null (the access goes to userspace). */
    IoEventFd ioEventFd(int port, int size) {
        for (int i = 0; i < ioeventfds.length; i++) {
            if (ioeventfdPorts[i] == port && ioeventfdSizes[i] == size) {
                return ioeventfds[i];
            }
        }
        return null;
    }

    private static int irqIcrLow(ApicIrq irq) {
        return irq.vector | (irq.deliveryMode << 8) | (irq.logicalDestination ? 1 << 11 : 0)
                | (irq.levelAssert ? 1 << 14 : 0) | (irq.levelTriggered ? 1 << 15 : 0) | (irq.shorthand << 18);
    }

    /** KVM_DESTROY_VM: the uninit hook frees the AVIC data. */
    public void destroy() {
        if (avicSupported && kvm.variant() == KvmVariant.AVIC_SERIES) {
            kvm.svm().avic().vmDestroy(this);
        }
        kvm.machine().unregisterNestedPageTable(nptRoot);
    }

    void vmInitHook() {
        if (avicSupported) {
            kvm.svm().avic().vmInit(this);
        }
    }
}
