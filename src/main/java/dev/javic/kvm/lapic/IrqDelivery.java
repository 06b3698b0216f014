package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

/**
 * Delivery of one interrupt to the VM's local APICs: Linux {@code kvm_irq_delivery_to_apic}
 * (arch/x86/kvm/irq_comm.c, 2016, without vector hashing), the reference loop over all vCPUs. KVM first
 * tries a map-based fast path ({@code kvm_irq_delivery_to_apic_fast}); it reaches the same targets except
 * when several APICs share an xAPIC ID (the map keeps the first) or a VM mixes xAPIC and x2APIC modes (the
 * fast path decides "broadcast" from the sender's mode alone), so only the loop is modelled. Destinations
 * are matched per target by {@link LocalApic#matchDest}, which handles both modes (kvm_apic_mda).
 */
public final class IrqDelivery {
    private IrqDelivery() {
    }

    /** How a lowest-priority interrupt picks its target among the matching, enabled APICs. */
    public enum LowestPriority {
        /**
         * Lowest {@link LocalApic#arbitrationPriority()} (APR, SDM vol. 3 "Lowest Priority Delivery Mode");
         * ties go to the lowest vCPU index.
         */
        ARBITRATION_PRIORITY,
        /**
         * What lapic.c's kvm_apic_compare_prio really compares: the per-vCPU count of lowest-priority
         * interrupts offered so far ({@link LocalApic#arbPrioCounter()}), which spreads them round-robin.
         */
        KVM_ARB_PRIO_COUNTER
    }

    /** {@link #irqDeliveryToApic(LocalApic, ApicIrq, LocalApic[], LowestPriority)} by arbitration priority. */
    public static int irqDeliveryToApic(LocalApic source, ApicIrq irq, LocalApic[] apics) {
        return irqDeliveryToApic(source, irq, apics, LowestPriority.ARBITRATION_PRIORITY);
    }

    /**
     * Delivers {@code irq} from {@code source} (null for a device or timer interrupt) to every matching APIC
     * in {@code apics} (vCPU order; null entries are skipped), or, for lowest priority, to the one chosen by
     * {@code policy}. Returns how many APICs accepted it, or -1 if no APIC matched (KVM's convention).
     * May rewrite {@code irq.deliveryMode}, as KVM does for a physical broadcast in lowest-priority mode.
     */
    public static int irqDeliveryToApic(LocalApic source, ApicIrq irq, LocalApic[] apics, LowestPriority policy) {
        // irq_comm.c: a physical broadcast cannot be arbitrated; KVM turns it into a fixed broadcast. KVM tests
        // dest_id == 0xff whatever the sender's mode, so an x2APIC lowest-priority IPI to 0xFFFFFFFF is not
        // converted and goes to one APIC, and one to x2APIC ID 0xFF becomes fixed (lapic.c, to this day).
        if (!irq.logicalDestination && irq.destId == ApicRegs.BROADCAST && irq.deliveryMode == ApicRegs.DM_LOWEST) {
            irq.deliveryMode = ApicRegs.DM_FIXED;
        }
        boolean lowestPriority = irq.deliveryMode == ApicRegs.DM_LOWEST;
        int delivered = -1;
        LocalApic lowest = null;
        for (LocalApic apic : apics) {
            if (apic == null || !apic.isHardwareEnabled()) {
                continue; // kvm_apic_present
            }
            if (!apic.matchDest(source, irq.shorthand, irq.destId, irq.logicalDestination)) {
                continue;
            }
            if (!lowestPriority) {
                if (delivered < 0) {
                    delivered = 0;
                }
                delivered += apic.acceptIrq(irq) ? 1 : 0;
            } else if (apic.isSoftwareEnabled()) { // kvm_lapic_enabled
                if (lowest == null || comparePriority(apic, lowest, policy) < 0) {
                    lowest = apic;
                }
            }
        }
        if (lowest != null) {
            delivered = lowest.acceptIrq(irq) ? 1 : 0;
        }
        return delivered;
    }

    /** kvm_apic_compare_prio: negative when {@code a} should win the lowest-priority arbitration over {@code b}. */
    public static int comparePriority(LocalApic a, LocalApic b, LowestPriority policy) {
        return switch (policy) {
            case ARBITRATION_PRIORITY -> Integer.compare(a.arbitrationPriority(), b.arbitrationPriority());
            case KVM_ARB_PRIO_COUNTER -> Integer.compare(a.arbPrioCounter(), b.arbPrioCounter());
        };
    }
}
