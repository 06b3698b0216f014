package dev.javic.kvm.lapic;

/**
 * One interrupt request on its way to local APICs (Linux {@code struct kvm_lapic_irq}): the decoded
 * fields of an ICR write or of a device/timer interrupt. Mutable and reused, so that delivering an
 * IPI allocates nothing.
 */
public final class ApicIrq {
    public int vector;
    /** ICR delivery mode, bits 10:8 ({@link ApicRegs#DM_FIXED} ...). */
    public int deliveryMode;
    /** true = logical destination mode (ICR bit 11). */
    public boolean logicalDestination;
    /** ICR bit 14 (level assert). */
    public boolean levelAssert;
    /** true = level-triggered (ICR bit 15). */
    public boolean levelTriggered;
    /** ICR shorthand, bits 19:18 (0 none, 1 self, 2 all including self, 3 all excluding self). */
    public int shorthand;
    /**
     * Destination (kvm_lapic_irq.dest_id): ICR high bits 31:24 in xAPIC mode (0..0xFF), all 32 bits of ICR
     * high in x2APIC mode (0xFFFFFFFF, i.e. -1 here, is the x2APIC broadcast). Compare it as unsigned.
     */
    public int destId;

    public ApicIrq set(int vector, int deliveryMode, boolean logical, boolean levelAssert,
                       boolean levelTriggered, int shorthand, int destId) {
        this.vector = vector;
        this.deliveryMode = deliveryMode;
        this.logicalDestination = logical;
        this.levelAssert = levelAssert;
        this.levelTriggered = levelTriggered;
        this.shorthand = shorthand;
        this.destId = destId;
        return this;
    }

    /** Decodes an xAPIC ICR (low and high words). */
    public ApicIrq fromIcr(int icrLow, int icrHigh) {
        return fromIcr(icrLow, icrHigh, false);
    }

    /**
     * kvm_icr_to_lapic_irq: decodes an ICR written by an APIC in x2APIC mode ({@code x2apic}: the destination
     * is all of ICR[63:32]) or in xAPIC mode (the destination is ICR2[31:24]).
     */
    public ApicIrq fromIcr(int icrLow, int icrHigh, boolean x2apic) {
        return set(icrLow & 0xFF, (icrLow >>> 8) & 7, (icrLow & (1 << 11)) != 0, (icrLow & (1 << 14)) != 0,
                (icrLow & (1 << 15)) != 0, (icrLow >>> 18) & 3, x2apic ? icrHigh : icrHigh >>> 24);
    }
}
