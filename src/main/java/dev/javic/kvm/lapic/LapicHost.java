package dev.javic.kvm.lapic;

/**
 * What the software local APIC needs from the hypervisor around it. It keeps {@link LocalApic}
 * free of the simulator: the same class can be driven by a simulated SVM core or, later, by a real
 * vCPU thread on /dev/kvm (design.md, "Two ways to drive the same model").
 */
public interface LapicHost {
    /** Guest TSC now (the TSC-deadline timer compares against it). */
    long guestTsc();

    /** Guest TSC ticks per nanosecond times 1000 (e.g. 1800 for a 1.8 GHz TSC). */
    long tscKhzPerMhz();

    /** Arms the vCPU's APIC hrtimer to fire at guest TSC {@code deadlineTsc}; replaces any armed expiry. */
    void armTimer(long deadlineTsc);

    /** Cancels the APIC hrtimer if armed. */
    void cancelTimer();

    /**
     * Posted delivery of a fixed interrupt (KVM's {@code deliver_posted_interrupt} hook; with AVIC this is
     * {@code svm_deliver_avic_intr}: set IRR in the backing page, full barrier, doorbell if running else
     * wake_up). Returns false when the VM does not post interrupts; the APIC then sets IRR itself and
     * calls {@link #requestEventAndKick()}.
     */
    boolean deliverPostedInterrupt(int vector);

    /** {@code kvm_make_request(KVM_REQ_EVENT); kvm_vcpu_kick()} after the APIC accepted something. */
    void requestEventAndKick();

    /** Sends the IPI described by {@code irq} from this APIC ({@code kvm_irq_delivery_to_apic}). */
    void sendIpi(LocalApic source, ApicIrq irq);

    /** The APIC ID, LDR, DFR or software-enable state changed: the VM's APIC map must be recalculated. */
    void apicMapChanged(LocalApic apic);

    /** Tracepoint kvm_apic_accept_irq: a fixed or lowest-priority interrupt was accepted into IRR. */
    default void tracepointAcceptIrq(int apicId, int deliveryMode, boolean levelTriggered, int vector) {
    }

    /** Tracepoint kvm_eoi: an EOI retired {@code vector} from ISR. */
    default void tracepointEoi(int apicId, int vector) {
    }
}
