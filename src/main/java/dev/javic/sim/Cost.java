package dev.javic.sim;

/**
 * Every named cost of the model. The values and their sources live in a preset file
 * ({@code presets/carrizo-2016.yaml}); this enum only names them, so that a cost file with a missing
 * or unknown entry is rejected and code refers to costs by a name a reader can look up.
 * All values are in host TSC cycles except {@link #TSC_HZ}.
 */
public enum Cost {
    TSC_HZ("machine.tsc_hz"),

    SVM_VMRUN("svm.vmrun"),
    SVM_VMEXIT("svm.vmexit"),
    GUEST_INSTRUCTION("guest.instruction"),
    GUEST_MEMORY_ACCESS("guest.memory_access"),
    GUEST_INTERRUPT_DELIVERY("guest.interrupt_delivery"),
    GUEST_IRET("guest.iret"),

    AVIC_BACKING_PAGE_ACCESS("avic.backing_page_access"),
    AVIC_IPI("avic.ipi"),
    AVIC_DOORBELL_LATENCY("avic.doorbell_latency"),

    KVM_ENTER_GUEST("kvm.enter_guest"),
    KVM_EXIT_PATH("kvm.exit_path"),
    KVM_HOOK_CALL("kvm.hook_call"),
    KVM_VCPU_LOAD("kvm.vcpu_load"),
    KVM_VCPU_PUT("kvm.vcpu_put"),
    KVM_INJECT_IRQ("kvm.inject_irq"),
    KVM_HANDLE_INTR("kvm.handle_intr"),
    KVM_HANDLE_VINTR("kvm.handle_vintr"),
    KVM_HANDLE_HLT("kvm.handle_hlt"),
    KVM_HANDLE_PAUSE("kvm.handle_pause"),
    KVM_HANDLE_CPUID("kvm.handle_cpuid"),
    KVM_HANDLE_CR8("kvm.handle_cr8"),
    KVM_HANDLE_MSR("kvm.handle_msr"),
    KVM_HANDLE_NMI("kvm.handle_nmi"),
    KVM_APIC_MMIO_EMULATE("kvm.apic_mmio_emulate"),
    KVM_IPI_PER_TARGET("kvm.ipi_per_target"),
    KVM_AVIC_INCOMPLETE_IPI("kvm.avic_incomplete_ipi"),
    KVM_AVIC_UNACCEL_TRAP("kvm.avic_unaccelerated_trap"),
    KVM_AVIC_UNACCEL_FAULT("kvm.avic_unaccelerated_fault"),
    KVM_DOORBELL_WRITE("kvm.doorbell_write"),
    KVM_HANDLE_IO("kvm.handle_io"),
    KVM_READ_GUEST_CACHED("kvm.read_guest_cached"),
    KVM_WRITE_GUEST_CACHED("kvm.write_guest_cached"),
    KVM_APIC_SET_EOI("kvm.apic_set_eoi"),

    HOST_IPI_SEND("host.ipi_send"),
    HOST_IPI_LATENCY("host.ipi_latency"),
    HOST_WAKEUP("host.wakeup"),
    HOST_WAKEUP_LATENCY("host.wakeup_latency"),
    HOST_CONTEXT_SWITCH("host.context_switch"),
    HOST_TIMESLICE("host.timeslice"),

    // Host networking for netperf TCP_RR (dev.javic.workload.netperf): vhost-net, tap, bridge, host TCP, netserver.
    HOST_VHOST_TX("host.vhost.handle_tx"),
    HOST_VHOST_RX("host.vhost.handle_rx"),
    HOST_VHOST_SIGNAL("host.vhost.signal"),
    HOST_NET_RX_PATH("host.net.rx_path"),
    HOST_NET_TX_PATH("host.net.tx_path"),
    HOST_NETSERVER_RECV("host.netserver.recv"),
    HOST_NETSERVER_SEND("host.netserver.send"),

    // The guest kernel model (dev.javic.guest.kernel): Linux 4.5 paths, in guest cycles.
    GUEST_SYSCALL("guest.syscall"),
    GUEST_PIPE_WRITE("guest.pipe_write"),
    GUEST_PIPE_READ("guest.pipe_read"),
    GUEST_POLL("guest.poll"),
    GUEST_SCHEDULE("guest.schedule"),
    GUEST_TTWU("guest.ttwu"),
    GUEST_IPI_SEND("guest.ipi_send"),
    GUEST_IRQ_ENTRY_EXIT("guest.irq_entry_exit"),
    GUEST_SCHED_IPI_PER_TASK("guest.sched_ipi_per_task"),
    GUEST_TIMER_TICK("guest.timer_tick"),
    GUEST_IDLE_ENTER("guest.idle_enter"),
    GUEST_IDLE_EXIT("guest.idle_exit"),
    GUEST_LOAD_BALANCE("guest.load_balance"),
    GUEST_MIGRATE_TASK("guest.migrate_task"),
    GUEST_PROCESS_EXIT("guest.process_exit"),
    GUEST_WAIT_REAP("guest.wait_reap"),
    HACKBENCH_USER_PER_MESSAGE("workload.hackbench.user_per_message"),

    // tar xf: pipes of 8 KiB writes, ext4 file creation and page-cache writes, writeback, jbd2, virtio-blk.
    GUEST_PIPE_COPY_UNIT("guest.pipe_copy_2k"),
    GUEST_FS_CREATE("guest.fs.open_create"),
    GUEST_FS_MKDIR("guest.fs.mkdir"),
    GUEST_FS_WRITE("guest.fs.write"),
    GUEST_FS_WRITE_PER_PAGE("guest.fs.write_page_cache"),
    GUEST_FS_CLOSE_UTIME("guest.fs.close_utime"),
    GUEST_WRITEBACK_PER_PAGE("guest.writeback.per_page"),
    GUEST_BLK_SUBMIT_REQUEST("guest.blk.submit_request"),
    GUEST_JBD2_COMMIT("guest.jbd2.commit"),
    GUEST_BLK_IRQ("guest.blk.virtblk_irq"),
    GUEST_BLK_COMPLETE_REQUEST("guest.blk.complete_request"),
    GUEST_BLK_END_PAGE("guest.blk.end_page_writeback"),
    XZ_DECOMPRESS_PER_KIB("workload.xz.decompress_per_kib"),
    TAR_USER_PER_MEMBER("workload.tar.user_per_member"),
    HOST_BLK_HANDLE_REQUEST("host.blk.handle_request"),
    HOST_BLK_COMPLETE("host.blk.complete"),
    DEVICE_BLK_LATENCY("device.blk.latency"),
    DEVICE_BLK_PER_KIB("device.blk.per_kib"),

    // The guest's network paths for netperf TCP_RR (virtio-net driver, NAPI, TCP), in guest cycles.
    GUEST_NET_TCP_SENDMSG("guest.net.tcp_sendmsg"),
    GUEST_NET_VIRTIO_XMIT("guest.net.virtio_net_xmit"),
    GUEST_NET_VIRTIO_IRQ("guest.net.virtio_net_irq"),
    GUEST_NET_NAPI_POLL("guest.net.napi_poll"),
    GUEST_NET_TCP_RCV("guest.net.tcp_rcv"),
    GUEST_NET_TCP_RECVMSG("guest.net.tcp_recvmsg"),
    NETPERF_USER_PER_TRANSACTION("workload.netperf.user_per_transaction"),
    NETSERVER_USER_PER_TRANSACTION("workload.netserver.user_per_transaction");

    private final String key;

    Cost(String key) {
        this.key = key;
    }

    public String key() {
        return key;
    }

    public static Cost byKey(String key) {
        for (Cost c : values()) {
            if (c.key.equals(key)) {
                return c;
            }
        }
        return null;
    }
}
