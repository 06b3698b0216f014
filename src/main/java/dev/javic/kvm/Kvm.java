package dev.javic.kvm;

import dev.javic.host.HostScheduler;
import dev.javic.host.PageAllocator;
import dev.javic.hw.CpuModel;
import dev.javic.hw.Machine;
import dev.javic.sim.CostModel;

import java.util.ArrayList;
import java.util.List;

/**
 * The kvm and kvm_amd modules loaded on the host: module parameters, hardware set-up (CPUID
 * detection of AVIC, series item 1), VM creation, and the context that exit handlers and host
 * callbacks run in (which CPU is doing the work, and whom to charge for it).
 */
public final class Kvm {
    private final Machine machine;
    private final HostScheduler scheduler;
    private final PageAllocator pages;
    private final KvmParams params;
    private final KvmVariant variant;
    private final boolean cpuHasAvic;
    /** kvm_amd's effective {@code avic} after svm_hardware_setup. */
    private final boolean avic;
    private final Svm svm;
    private final List<Vm> vms = new ArrayList<>();
    private int nextAsid = 1;
    private final java.util.BitSet avicVmIds = new java.util.BitSet();

    /** The vCPU whose exit handler runs now, or null in host context. */
    private Vcpu current;

    public Kvm(Machine machine, HostScheduler scheduler, PageAllocator pages, KvmParams params, KvmVariant variant) {
        this.machine = machine;
        this.scheduler = scheduler;
        this.pages = pages;
        this.params = params;
        this.variant = variant;
        int[] regs = new int[4];
        machine.core(0).hostCpuid(0x8000000A, 0, regs); // svm_hardware_setup: boot_cpu_has(X86_FEATURE_AVIC)
        this.cpuHasAvic = (regs[3] & CpuModel.SVM_FEATURE_AVIC) != 0;
        this.avic = variant == KvmVariant.AVIC_SERIES && params.avic() && params.npt() && cpuHasAvic;
        this.svm = new Svm(this);
    }

    public Machine machine() {
        return machine;
    }

    public HostScheduler scheduler() {
        return scheduler;
    }

    PageAllocator pages() {
        return pages;
    }

    public KvmParams params() {
        return params;
    }

    public KvmVariant variant() {
        return variant;
    }

    public CostModel costs() {
        return machine.costs();
    }

    Svm svm() {
        return svm;
    }

    public boolean cpuHasAvic() {
        return cpuHasAvic;
    }

    /** kvm_amd's {@code avic} after hardware set-up. */
    public boolean avicEnabled() {
        return avic;
    }

    public List<Vm> vms() {
        return List.copyOf(vms);
    }

    /** Why AVIC will not be used by VMs of this host, in words; empty when it will. */
    public List<String> avicDisabledReasons() {
        List<String> reasons = new ArrayList<>();
        if (variant == KvmVariant.VANILLA) {
            reasons.add("the hypervisor predates the AVIC series (vanilla): it has no AVIC support");
            return reasons;
        }
        if (!cpuHasAvic) {
            reasons.add("the CPU does not report AVIC (CPUID Fn8000_000A EDX bit 13 is clear)");
        }
        if (!params.avic()) {
            reasons.add("kvm_amd.avic=0: the module parameter is off (the series' default)");
        }
        if (!params.npt()) {
            reasons.add("kvm_amd.npt=0: AVIC requires nested paging");
        }
        return reasons;
    }

    /** KVM_CREATE_VM with {@code ramBytes} of guest memory from guest physical 0. */
    public Vm createVm(long ramBytes) {
        Vm vm = new Vm(this, nextAsid++, ramBytes, avicDisabledReasons());
        if (variant == KvmVariant.AVIC_SERIES) {
            vm.vmInitHook(); // svm_vm_init (series item 4): AVIC data when AVIC is on, else nothing
        }
        vms.add(vm);
        return vm;
    }

    int allocateAvicVmId() {
        int id = avicVmIds.nextClearBit(1);
        avicVmIds.set(id);
        return id;
    }

    void freeAvicVmId(int id) {
        avicVmIds.clear(id);
    }

    // ---- execution context -----------------------------------------------------------------------------

    void enterContext(Vcpu vcpu) {
        current = vcpu;
    }

    void leaveContext() {
        current = null;
    }

    /** Host CPU doing the current work, or -1 in a context that is no CPU's (a device). */
    int currentCpu() {
        return current == null ? hostContextCpu : current.hostCpuId();
    }

    /** Adds {@code cycles} to the cost of the exit handler that runs now (none in host context). */
    void chargeCurrent(long cycles) {
        if (current != null) {
            current.charge(cycles);
        } else {
            hostContextCharged += cycles;
        }
    }

    /** The host CPU of the host-context work running now (a vhost thread's irqfd), or -1 (a device, a timer). */
    private int hostContextCpu = -1;
    /** Cycles charged in host context since {@link #runOnHostCpu} started. */
    private long hostContextCharged;

    /**
     * Runs {@code r} in host context on behalf of a host thread running on {@code cpu} (e.g. vhost's
     * {@code vhost_signal} -> irqfd -> {@code kvm_set_msi}): kicks and doorbells go out from that CPU, and the
     * cycles the path charges (host IPI send, wake-up, doorbell write) are returned for that thread to spend.
     */
    long runOnHostCpu(int cpu, Runnable r) {
        Vcpu saved = current;
        int savedCpu = hostContextCpu;
        long savedCharged = hostContextCharged;
        current = null;
        hostContextCpu = cpu;
        hostContextCharged = 0;
        try {
            r.run();
            return hostContextCharged;
        } finally {
            current = saved;
            hostContextCpu = savedCpu;
            hostContextCharged = savedCharged;
        }
    }

    /** kvm_amd's I/O permission map (svm_hardware_setup: iopm_pages, all ones = intercept every port), shared. */
    private long iopm = -1;

    long iopm() {
        if (iopm < 0) {
            iopm = pages.allocateContiguous(3);
            for (long a = iopm; a < iopm + 3 * 4096L; a += 4) {
                machine.memory().write32(a, -1);
            }
        }
        return iopm;
    }

    /** Switches to host context (no vCPU is charged); returns the context to restore. */
    Vcpu enterHostContext() {
        Vcpu saved = current;
        current = null;
        return saved;
    }

    void restoreContext(Vcpu saved) {
        current = saved;
    }

}
