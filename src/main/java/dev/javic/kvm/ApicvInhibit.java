package dev.javic.kvm;

/**
 * Reasons KVM turns AVIC off for a whole VM while it runs (enum kvm_apicv_inhibit in Linux's
 * arch/x86/include/asm/kvm_host.h; the bit number is the reason). The 2016 series had no such
 * mechanism; javic models the inhibits later KVM added where the 2016 code would have left the guest
 * with a wrong view of its APIC.
 */
public enum ApicvInhibit {
    /**
     * APICV_INHIBIT_REASON_APIC_BASE_MODIFIED (sticky): the guest moved its xAPIC away from
     * 0xFEE00000. AVIC serves the APIC page only at the AVIC BAR, so KVM falls back to emulation.
     */
    APIC_BASE_MODIFIED(6, "the guest moved its xAPIC base away from 0xFEE00000 (APIC_BASE_MODIFIED): AVIC serves "
            + "the APIC page only at its BAR, so KVM inhibits it and emulates the APIC");

    private final int reason;
    private final String explanation;

    ApicvInhibit(int reason, String explanation) {
        this.reason = reason;
        this.explanation = explanation;
    }

    /** The reason number KVM's kvm_apicv_inhibit_changed tracepoint prints. */
    public int reason() {
        return reason;
    }

    public long mask() {
        return 1L << reason;
    }

    public String explanation() {
        return explanation;
    }
}
