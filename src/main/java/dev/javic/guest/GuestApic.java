package dev.javic.guest;

import dev.javic.hw.OpKind;

/**
 * The local APIC driver a Linux 4.5 guest kernel ends up with, as the CPU operations it executes.
 *
 * <ul>
 *   <li><b>x2APIC, physical destination mode</b>, when CPUID.1:ECX.x2APIC is set: a KVM guest has no interrupt
 *   remapping, so 4.5's {@code try_to_enable_x2apic()} keeps x2APIC because {@code hypervisor_x2apic_available()}
 *   (KVM's {@code x2apic_available}) is true and APIC IDs are below 256, and forces {@code x2apic_phys}
 *   (arch/x86/kernel/apic/apic.c). KVM offers x2APIC to every guest, emulated in software (cpuid.c); the 2016
 *   AVIC series hides it when AVIC is on. Registers are MSRs {@code 0x800 + offset / 16}; an IPI is one
 *   {@code wrmsr} of the 64-bit ICR with the target's APIC ID in bits 63:32 ({@code __x2apic_send_IPI_dest}),
 *   no wait for the delivery status; EOI is a {@code wrmsr} of 0 to {@code 0x80B}.</li>
 *   <li><b>xAPIC, flat logical mode</b> otherwise (up to 8 CPUs): MMIO at 0xFEE00000, DFR flat, LDR = 1 << cpu;
 *   an IPI waits for ICR idle (a read of ICR), writes ICR2 with the logical mask, then ICR.</li>
 * </ul>
 *
 * <p>The choice is the guest's, from what CPUID says, so each system gets what its KVM offers.
 */
public final class GuestApic {
    /** CPUID.1:ECX bit 21. */
    public static final int CPUID1_ECX_X2APIC = 1 << 21;
    /** ICR destination mode bit clear: physical. */
    private static final int DEST_PHYSICAL = 0;

    private boolean x2apic;

    /** Whether the driver is x2APIC (after {@link #enableX2apic}). */
    public boolean x2apic() {
        return x2apic;
    }

    /** Whether a CPUID leaf 1 ECX offers x2APIC. */
    public static boolean offersX2apic(int cpuid1Ecx) {
        return (cpuid1Ecx & CPUID1_ECX_X2APIC) != 0;
    }

    /** Queues {@code cpuid(1)}, whose ECX {@link #offersX2apic} reads. */
    public static void probe(OpQueue q) {
        q.add(OpKind.CPUID, 1, 0);
    }

    /** Queues {@code rdmsr(IA32_APIC_BASE)}: the first half of __x2apic_enable. */
    public static void readApicBase(OpQueue q) {
        q.add(OpKind.RDMSR, GuestKernel.MSR_IA32_APICBASE, 0);
    }

    /** __x2apic_enable's write: the APIC base read by {@link #readApicBase} with EXTD set; the driver is x2APIC from now. */
    public void enableX2apic(OpQueue q, long apicBase) {
        q.add(OpKind.WRMSR, GuestKernel.MSR_IA32_APICBASE, apicBase | GuestKernel.APICBASE_X2APIC_ENABLE);
        x2apic = true;
    }

    /** A 32-bit register write: MMIO in xAPIC mode, {@code wrmsr} in x2APIC mode. */
    public void write(OpQueue q, int offset, long value) {
        if (x2apic) {
            q.add(OpKind.WRMSR, GuestKernel.x2apicMsr(offset), value & 0xFFFFFFFFL);
        } else {
            q.add(OpKind.WRITE32, GuestKernel.APIC_BASE + offset, value & 0xFFFFFFFFL);
        }
    }

    /** ack_APIC_irq: EOI. */
    public void eoi(OpQueue q) {
        write(q, GuestKernel.EOI, 0);
    }

    /**
     * setup_local_APIC and the LAPIC timer's set-up for CPU {@code cpu}: SPIV enabled with the spurious vector,
     * the logical ID in flat mode (nothing in x2APIC physical mode), then TDCR, LVTT (periodic) and TMICT.
     */
    public void setUp(OpQueue q, int cpu, int timerVector, int timerDivide, long timerCount) {
        write(q, GuestKernel.SPIV, 0x100 | GuestKernel.SPURIOUS_VECTOR);
        if (!x2apic) {
            write(q, GuestKernel.DFR, 0xFFFFFFFFL); // APIC_DFR_FLAT
            write(q, GuestKernel.LDR, (1L << cpu) << 24); // SET_APIC_LOGICAL_ID(1UL << cpu)
        }
        write(q, GuestKernel.TDCR, GuestKernel.tdcrFor(timerDivide));
        write(q, GuestKernel.LVTT, timerVector | GuestKernel.TIMER_PERIODIC);
        write(q, GuestKernel.TMICT, timerCount);
    }

    /** A fixed, edge IPI with {@code vector} to CPU {@code target} (APIC ID = CPU number). */
    public void sendIpi(OpQueue q, int target, int vector) {
        if (x2apic) {
            q.add(OpKind.WRMSR, GuestKernel.MSR_X2APIC_ICR,
                    ((long) target << 32) | vector | DEST_PHYSICAL | GuestKernel.DM_FIXED);
        } else {
            q.add(OpKind.READ32, GuestKernel.APIC_BASE + GuestKernel.ICR, 0); // __xapic_wait_icr_idle
            write(q, GuestKernel.ICR2, (1L << target) << 24);
            write(q, GuestKernel.ICR, vector | GuestKernel.DEST_LOGICAL | GuestKernel.DM_FIXED);
        }
    }
}
