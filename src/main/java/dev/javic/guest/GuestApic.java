package dev.javic.guest;

import dev.javic.hw.OpKind;
import dev.javic.hw.Operation;

import static dev.javic.hw.CpuModel.CPUID1_ECX_X2APIC;
import static dev.javic.hw.KvmPara.*;

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
 *
 * <p><b>PV EOI</b> (arch/x86/kernel/kvm.c of 4.5): when KVM's CPUID leaf 0x40000001 offers
 * KVM_FEATURE_PV_EOI, {@code kvm_guest_cpu_init} zeroes the CPU's {@code kvm_apic_eoi} word and writes its
 * guest-physical address | KVM_MSR_ENABLED to MSR_KVM_PV_EOI_EN, and {@code kvm_guest_init} installs
 * {@code kvm_guest_apic_eoi_write} as the EOI: {@code __test_and_clear_bit(KVM_PV_EOI_BIT)} of the word (one
 * instruction, see {@link OpKind#BTR32}); if the bit was set, KVM takes the EOI at the next exit and the
 * APIC is not touched, else the EOI goes to the APIC as without PV EOI. Linux first checks
 * CPUID.1:ECX.HYPERVISOR (QEMU sets it); javic's CPUID table does not have that bit, so the model asks the
 * signature leaf directly.
 */
public final class GuestApic {
    /** ICR destination mode bit clear: physical. */
    private static final int DEST_PHYSICAL = 0;


    private boolean x2apic;
    /** The guest-physical address of this CPU's PV EOI word once enabled, else -1. */
    private long pvEoiWord = -1;
    /** What a handler does after an EOI that waits for the PV EOI test (see {@link #eoiThen}). */
    private long afterEoiWork;
    private int afterEoiCont;

    // Boot, one step per call (the guest needs each CPUID / RDMSR result before its next decision).
    private static final int BOOT_PROBE = 0;
    private static final int BOOT_PROBED = 1;
    private static final int BOOT_X2APIC = 2;
    private static final int BOOT_KVM = 3;
    private static final int BOOT_KVM_FEATURES = 4;
    private static final int BOOT_DONE = 5;
    private int bootStep = BOOT_PROBE;

    /**
     * The APIC part of a CPU's boot, one step at a time: queues the next operations into {@code q} and returns
     * true once the sequence is complete (then {@code q} holds its last operations). {@code last} is the
     * operation the CPU executed last, whose result the step reads. The sequence: CPUID 1 and, if it offers
     * x2APIC, __x2apic_enable; setup_local_APIC and the periodic timer ({@link #setUp}); then kvm_guest_cpu_init:
     * KVM's signature leaf, its features leaf, and PV EOI when offered, with the word at {@code pvEoiWord}.
     */
    public boolean boot(OpQueue q, Operation last, int cpu, int timerVector, int timerDivide, long timerCount,
                        long pvEoiWord) {
        switch (bootStep) {
            case BOOT_PROBE -> {
                probe(q);
                bootStep = BOOT_PROBED;
                return false;
            }
            case BOOT_PROBED -> {
                if (offersX2apic(last.resultEcx)) {
                    readApicBase(q);
                    bootStep = BOOT_X2APIC;
                    return false;
                }
                setUpThenProbeKvm(q, cpu, timerVector, timerDivide, timerCount);
                return false;
            }
            case BOOT_X2APIC -> {
                enableX2apic(q, last.result);
                setUpThenProbeKvm(q, cpu, timerVector, timerDivide, timerCount);
                return false;
            }
            case BOOT_KVM -> {
                if (isKvm(last)) {
                    probeKvmFeatures(q);
                    bootStep = BOOT_KVM_FEATURES;
                    return false;
                }
                bootStep = BOOT_DONE;
                return true;
            }
            case BOOT_KVM_FEATURES -> {
                if (offersPvEoi(last.result)) {
                    enablePvEoi(q, pvEoiWord);
                }
                bootStep = BOOT_DONE;
                return true;
            }
            default -> throw new IllegalStateException("the APIC has booted already");
        }
    }

    private void setUpThenProbeKvm(OpQueue q, int cpu, int timerVector, int timerDivide, long timerCount) {
        setUp(q, cpu, timerVector, timerDivide, timerCount);
        probeKvm(q);
        bootStep = BOOT_KVM;
    }

    /** Whether the driver is x2APIC (after {@link #enableX2apic}). */
    public boolean x2apic() {
        return x2apic;
    }

    /** Whether a CPUID leaf 1 ECX offers x2APIC. */
    private static boolean offersX2apic(int cpuid1Ecx) {
        return (cpuid1Ecx & CPUID1_ECX_X2APIC) != 0;
    }

    /** Queues {@code cpuid(1)}, whose ECX {@link #offersX2apic} reads. */
    private static void probe(OpQueue q) {
        q.add(OpKind.CPUID, 1, 0);
    }

    /** Queues {@code rdmsr(IA32_APIC_BASE)}: the first half of __x2apic_enable. */
    private static void readApicBase(OpQueue q) {
        q.add(OpKind.RDMSR, GuestKernel.MSR_IA32_APICBASE, 0);
    }

    /** __x2apic_enable's write: the APIC base read by {@link #readApicBase} with EXTD set; the driver is x2APIC from now. */
    private void enableX2apic(OpQueue q, long apicBase) {
        q.add(OpKind.WRMSR, GuestKernel.MSR_IA32_APICBASE, apicBase | GuestKernel.APICBASE_X2APIC_ENABLE);
        x2apic = true;
    }

    /** Queues {@code cpuid(KVM_CPUID_SIGNATURE)}, which {@link #isKvm} reads (kvm_cpuid_base). */
    private static void probeKvm(OpQueue q) {
        q.add(OpKind.CPUID, KVM_CPUID_SIGNATURE, 0);
    }

    /** Whether a CPUID of the signature leaf found "KVMKVMKVM\0\0\0" with the features leaf in range. */
    private static boolean isKvm(Operation cpuid) {
        return cpuid.resultEbx == KVM_SIGNATURE_EBX && cpuid.resultEcx == KVM_SIGNATURE_ECX
                && cpuid.resultEdx == KVM_SIGNATURE_EDX && cpuid.result >= KVM_CPUID_FEATURES;
    }

    /** Queues {@code cpuid(KVM_CPUID_FEATURES)}, whose EAX {@link #offersPvEoi} reads (kvm_para_has_feature). */
    private static void probeKvmFeatures(OpQueue q) {
        q.add(OpKind.CPUID, KVM_CPUID_FEATURES, 0);
    }

    /** Whether KVM_CPUID_FEATURES.EAX offers KVM_FEATURE_PV_EOI. */
    private static boolean offersPvEoi(long kvmFeaturesEax) {
        return (kvmFeaturesEax & KVM_FEATURE_PV_EOI) != 0;
    }

    /**
     * kvm_guest_cpu_init's PV EOI part: {@code __this_cpu_write(kvm_apic_eoi, 0)}, then
     * {@code wrmsrl(MSR_KVM_PV_EOI_EN, pa | KVM_MSR_ENABLED)}; EOIs test the word from now.
     */
    private void enablePvEoi(OpQueue q, long wordGpa) {
        q.add(OpKind.WRITE32, wordGpa, 0);
        q.add(OpKind.WRMSR, MSR_KVM_PV_EOI_EN, wordGpa | KVM_MSR_ENABLED);
        pvEoiWord = wordGpa;
    }

    /** Whether EOIs go through the PV EOI word first (after {@link #enablePvEoi}). */
    public boolean pvEoi() {
        return pvEoiWord >= 0;
    }

    /**
     * kvm_guest_apic_eoi_write, first half: {@code __test_and_clear_bit(KVM_PV_EOI_BIT, kvm_apic_eoi)}, whose
     * result {@link #finishEoi} reads.
     */
    private void pvEoiTestAndClear(OpQueue q) {
        q.add(OpKind.BTR32, pvEoiWord, KVM_PV_EOI_BIT);
    }

    /**
     * A handler's EOI (apic->eoi_write), then {@code work} and the handler's continuation {@code next}; returns
     * the continuation to take now: {@code next}, or, with PV EOI, {@code pvEoiCont}, where the handler waits for
     * the word's test and calls {@link #finishEoi} (kvm_guest_apic_eoi_write needs the old bit before deciding).
     */
    public int eoiThen(OpQueue q, long work, int next, int pvEoiCont) {
        if (!pvEoi()) {
            eoi(q);
            q.addWork(work);
            return next;
        }
        pvEoiTestAndClear(q);
        afterEoiWork = work;
        afterEoiCont = next;
        return pvEoiCont;
    }

    /**
     * kvm_guest_apic_eoi_write, second half: the APIC EOI unless the word {@code before} the test had the bit,
     * then the work {@link #eoiThen} was given. Returns true when PV EOI took it (no APIC access); the handler
     * goes on at {@link #afterEoi()}.
     */
    public boolean finishEoi(OpQueue q, long before) {
        boolean taken = (before & (1L << KVM_PV_EOI_BIT)) != 0;
        if (!taken) {
            eoi(q);
        }
        q.addWork(afterEoiWork);
        return taken;
    }

    /** The continuation {@link #eoiThen} was given, for the handler to take after {@link #finishEoi}. */
    public int afterEoi() {
        return afterEoiCont;
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
    private void setUp(OpQueue q, int cpu, int timerVector, int timerDivide, long timerCount) {
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
