package dev.javic.hw;

import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import dev.javic.trace.Tracer;

import static dev.javic.hw.AvicTables.*;
import static dev.javic.hw.VmcbLayout.*;

/**
 * The AVIC unit of one SVM core (AMD APM vol. 2 §15.29, "Advanced Virtual Interrupt Controller").
 * With AVIC enabled in the running VMCB it serves guest accesses to the APIC page at the AVIC APIC
 * BAR from the vCPU's backing page, accelerates TPR writes, edge-triggered EOIs and fixed IPIs, and
 * delivers virtual interrupts from the backing page's IRR; anything else leaves as
 * AVIC_INCOMPLETE_IPI or AVIC_UNACCELERATED_ACCESS (trap or fault).
 *
 * <p>Everything it knows comes from the VMCB (backing page, table pointers, max index) and memory
 * (tables, backing pages); IRR updates in other vCPUs' pages are locked ORs, as the hardware's.
 */
final class AvicUnit {
    // xAPIC register offsets (APM vol. 2 §16.3), named as this unit has always used them.
    static final int APIC_ID = ApicRegs.ID;
    static final int APIC_TPR = ApicRegs.TPR;
    static final int APIC_PPR = ApicRegs.PPR;
    static final int APIC_EOI = ApicRegs.EOI;
    static final int APIC_LDR = ApicRegs.LDR;
    static final int APIC_DFR = ApicRegs.DFR;
    static final int APIC_ISR = ApicRegs.ISR;
    static final int APIC_TMR = ApicRegs.TMR;
    static final int APIC_IRR = ApicRegs.IRR;
    static final int APIC_ICR = ApicRegs.ICR;
    static final int APIC_ICR2 = ApicRegs.ICR2;
    static final int APIC_TMCCT = ApicRegs.TMCCT;

    private final SvmCore core;
    private final Machine machine;
    private final PhysicalMemory mem;
    private final Tracer tracer;
    private final long accessCycles;
    private final long ipiCycles;

    /** Highest vAPIC vector found deliverable at the last evaluation, or -1. */
    private int pendingVector = -1;

    AvicUnit(SvmCore core, Machine machine) {
        this.core = core;
        this.machine = machine;
        this.mem = machine.memory();
        this.tracer = machine.tracer();
        CostModel costs = machine.costs();
        this.accessCycles = costs.get(Cost.AVIC_BACKING_PAGE_ACCESS);
        this.ipiCycles = costs.get(Cost.AVIC_IPI);
    }

    private long backingPage() {
        return core.vmcb().read64(AVIC_BACKING_PAGE) & AVIC_HPA_MASK;
    }

    // ---- virtual interrupt delivery ---------------------------------------------------------------

    /** Re-reads IRR, ISR and TPR from the backing page (at VMRUN, doorbell, accelerated EOI / TPR write). */
    void evaluatePending() {
        long page = backingPage();
        int irr = highestVector(page + APIC_IRR);
        pendingVector = irr >= 0 && (irr & 0xF0) > (ppr(page) & 0xF0) ? irr : -1;
    }

    boolean hasPending() {
        return pendingVector >= 0 && core.vmcb().isAvicEnabled();
    }

    /** Takes the pending vector: IRR to ISR in the backing page, PPR updated. Returns it, or -1. */
    int acknowledge() {
        int vector = pendingVector;
        long page = backingPage();
        int bit = 1 << (vector & 31);
        int word = (vector >>> 5) * 0x10;
        if ((mem.getAndAnd32(page + APIC_IRR + word, ~bit) & bit) == 0) {
            evaluatePending(); // the bit went away (the hypervisor cleared it while we were out)
            return -1;
        }
        mem.getAndOr32(page + APIC_ISR + word, bit);
        mem.write32(page + APIC_PPR, ppr(page));
        evaluatePending();
        return vector;
    }

    int tpr() {
        return mem.read32(backingPage() + APIC_TPR) & 0xFF;
    }

    void writeTprFromCr8(int tpr) {
        long page = backingPage();
        mem.write32(page + APIC_TPR, tpr);
        mem.write32(page + APIC_PPR, ppr(page));
        evaluatePending();
    }

    /** PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4 (Intel SDM 10.8.3.1; APM §16.6). */
    private int ppr(long page) {
        int tpr = mem.read32(page + APIC_TPR) & 0xFF;
        int isrv = Math.max(highestVector(page + APIC_ISR), 0);
        return (tpr & 0xF0) >= (isrv & 0xF0) ? tpr : isrv & 0xF0;
    }

    private int highestVector(long regBase) {
        for (int w = 7; w >= 0; w--) {
            int bits = mem.read32(regBase + w * 0x10L);
            if (bits != 0) {
                return w * 32 + 31 - Integer.numberOfLeadingZeros(bits);
            }
        }
        return -1;
    }

    // ---- APIC page accesses -------------------------------------------------------------------------

    /**
     * A guest access to the APIC BAR page, as {@link AvicRegisterPolicy} classifies it: reads are served
     * from the backing page except TMCCT (fault); TPR writes, edge EOIs and ICR low writes are accelerated;
     * ICR high writes land in the page; writes to ID, EOI (level), RRR, LDR, DFR, SPIV, ESR, LVT*, TMICT and
     * TDCR land and then trap; everything else faults.
     */
    void apicAccess(Operation op, int offset, boolean write, boolean wide) {
        int width = wide ? 8 : 4;
        if (!write) {
            if (AvicRegisterPolicy.classifyRead(offset, width) == AvicRegisterPolicy.Outcome.FAULT) {
                fault(op, offset, false);
                return;
            }
            op.result = mem.read32(backingPage() + offset) & 0xFFFFFFFFL;
            core.vmcb().setRax(op.result);
            core.completeAccelerated(accessCycles);
            return;
        }
        long page = backingPage();
        int value = (int) op.value;
        int eoiVector = offset == APIC_EOI && !wide ? highestVector(page + APIC_ISR) : -1;
        boolean levelEoi = eoiVector >= 0
                && (mem.read32(page + APIC_TMR + (eoiVector >>> 5) * 0x10L) & (1 << (eoiVector & 31))) != 0;
        switch (AvicRegisterPolicy.classifyWrite(offset, width, levelEoi)) {
            case TPR_WRITE -> {
                mem.write32(page + APIC_TPR, value & 0xFF);
                mem.write32(page + APIC_PPR, ppr(page));
                core.updateVTprFromAvic((value >>> 4) & 0xF);
                evaluatePending();
                core.completeAccelerated(accessCycles);
            }
            case EOI_EDGE -> {
                if (eoiVector >= 0) {
                    mem.getAndAnd32(page + APIC_ISR + (eoiVector >>> 5) * 0x10L, ~(1 << (eoiVector & 31)));
                    mem.write32(page + APIC_PPR, ppr(page));
                }
                evaluatePending();
                core.completeAccelerated(accessCycles);
            }
            case IPI -> {
                mem.write32(page + APIC_ICR, value & ~(1 << 12)); // delivery status reads back idle
                sendIpi(op, page, value, mem.read32(page + APIC_ICR2));
            }
            case ICR2_WRITE -> {
                mem.write32(page + APIC_ICR2, value);
                core.completeAccelerated(accessCycles);
            }
            case TRAP -> {
                // Level-triggered EOI: the hypervisor must forward the EOI (to the IOAPIC); the write lands, then traps.
                mem.write32(page + offset, value);
                trap(offset, offset == APIC_EOI ? eoiVector : 0);
            }
            case FAULT, BACKING_PAGE_READ -> fault(op, offset, true);
        }
    }

    /** Registers whose writes trap (KVM avic.c is_avic_unaccelerated_access_trap). */
    static boolean isTrapRegister(int offset) {
        return AvicRegisterPolicy.isTrapRegister(offset);
    }

    /** xAPIC registers that exist and can be read (ISR/TMR/IRR are 8 registers each). */
    static boolean isReadable(int offset) {
        return AvicRegisterPolicy.isReadable(offset);
    }

    /** The write already landed in the backing page; the instruction retired; exit for its side effects. */
    private void trap(int offset, int vector) {
        core.retireForTrap();
        core.vmexit(SvmExit.AVIC_UNACCELERATED_ACCESS, UNACCEL_ACCESS_WRITE | (offset & UNACCEL_ACCESS_OFFSET_MASK),
                vector);
    }

    /** Nothing was written; the instruction did not retire; the hypervisor emulates it. */
    private void fault(Operation op, int offset, boolean write) {
        core.writeDecodeAssist(op);
        core.vmexit(SvmExit.AVIC_UNACCELERATED_ACCESS,
                (write ? UNACCEL_ACCESS_WRITE : 0) | (offset & UNACCEL_ACCESS_OFFSET_MASK), 0);
    }

    // ---- IPIs -----------------------------------------------------------------------------------------

    private static final int ICR_LOGICAL = ApicRegs.ICR_DEST_LOGICAL;

    /**
     * An ICR low write (APM vol. 2 §15.29.4.3): only fixed, edge-triggered IPIs are accelerated. Each
     * target found in the tables gets its IRR bit set; a running target gets a doorbell at the host
     * APIC ID of its entry. If a target is not running the IRR is set anyway and the sender exits with
     * TARGET_NOT_RUNNING naming it; an invalid target or backing page stops the IPI with that cause.
     */
    private void sendIpi(Operation op, long page, int icrLow, int icrHigh) {
        int vector = icrLow & 0xFF;
        if (!AvicRegisterPolicy.isAcceleratedIpiType(icrLow)) {
            incomplete(icrLow, icrHigh, IPI_FAILURE_INVALID_INT_TYPE, 0);
            return;
        }
        int shorthand = (icrLow >>> 18) & 3;
        int dest = icrHigh >>> 24;
        Vmcb v = core.vmcb();
        long physTable = v.read64(AVIC_PHYSICAL_ID) & AVIC_HPA_MASK;
        int maxIndex = (int) (v.read64(AVIC_PHYSICAL_ID) & AVIC_PHYSICAL_MAX_INDEX_MASK);
        int selfId = (mem.read32(page + APIC_ID) >>> 24) & 0xFF;
        int notRunning = -1;
        switch (shorthand) {
            case 1 -> { // self
                setIrrAndRing(page, vector, -1);
            }
            case 2, 3 -> { // all including / excluding self
                for (int i = 0; i <= maxIndex; i++) {
                    if (shorthand == 3 && i == selfId) {
                        continue;
                    }
                    int r = deliverPhysical(physTable, maxIndex, i, vector, true);
                    if (r == TARGET_NOT_RUNNING && notRunning < 0) {
                        notRunning = i;
                    }
                }
            }
            default -> {
                if ((icrLow & ICR_LOGICAL) == 0) {
                    if (dest == 0xFF) {
                        for (int i = 0; i <= maxIndex; i++) {
                            int r = deliverPhysical(physTable, maxIndex, i, vector, true);
                            if (r == TARGET_NOT_RUNNING && notRunning < 0) {
                                notRunning = i;
                            }
                        }
                    } else {
                        int r = deliverPhysical(physTable, maxIndex, dest, vector, false);
                        if (r == INVALID_TARGET || r == INVALID_BACKING_PAGE) {
                            incomplete(icrLow, icrHigh, r == INVALID_TARGET ? IPI_FAILURE_INVALID_TARGET
                                    : IPI_FAILURE_INVALID_BACKING_PAGE, dest);
                            return;
                        }
                        notRunning = r == TARGET_NOT_RUNNING ? dest : -1;
                    }
                } else {
                    int failure = deliverLogical(page, physTable, maxIndex, dest, vector);
                    if (failure != 0) {
                        incomplete(icrLow, icrHigh, failure >>> 16, failure & 0xFF);
                        return;
                    }
                    notRunning = lastLogicalNotRunning;
                }
            }
        }
        if (notRunning >= 0) {
            incomplete(icrLow, icrHigh, IPI_FAILURE_TARGET_NOT_RUNNING, notRunning);
            return;
        }
        core.completeAccelerated(ipiCycles);
    }

    private static final int DELIVERED = 0;
    private static final int TARGET_NOT_RUNNING = 1;
    private static final int INVALID_TARGET = 2;
    private static final int INVALID_BACKING_PAGE = 3;
    private int lastLogicalNotRunning;

    /** Delivers to the physical table entry {@code index}; broadcast iterations skip invalid entries. */
    private int deliverPhysical(long physTable, int maxIndex, int index, int vector, boolean broadcast) {
        if (index > maxIndex) {
            return broadcast ? DELIVERED : INVALID_TARGET;
        }
        long entry = mem.read64Volatile(physTable + (long) index * PHYSICAL_ENTRY_BYTES);
        if ((entry & PHYSICAL_VALID) == 0) {
            return broadcast ? DELIVERED : INVALID_TARGET;
        }
        long targetPage = entry & PHYSICAL_BACKING_PAGE_MASK;
        if (targetPage == 0 || !mem.contains(targetPage)) {
            return INVALID_BACKING_PAGE;
        }
        boolean running = (entry & PHYSICAL_IS_RUNNING) != 0;
        tracer.avicIpiAccelerated(core.id(), core.traceVcpuId(), index, vector, running);
        int hostApicId = (int) (entry & PHYSICAL_HOST_APIC_ID_MASK);
        setIrrAndRing(targetPage, vector, running ? hostApicId : -2);
        return running ? DELIVERED : TARGET_NOT_RUNNING;
    }

    /**
     * Logical destination: each set bit of the MDA names a logical table entry (flat: bit n = entry n;
     * cluster: cluster * 4 + bit). Returns 0, or (cause << 16 | index) for an invalid entry.
     */
    private int deliverLogical(long page, long physTable, int maxIndex, int mda, int vector) {
        boolean flat = (mem.read32(page + APIC_DFR) >>> 28) == 0xF;
        long logTable = core.vmcb().read64(AVIC_LOGICAL_ID) & AVIC_HPA_MASK;
        lastLogicalNotRunning = -1;
        int clusterBase = flat ? 0 : ((mda >>> 4) & 0xF) * 4;
        int bits = flat ? mda & 0xFF : mda & 0xF;
        if (!flat && ((mda >>> 4) & 0xF) == 0xF) {
            // Cluster 0xF is the broadcast cluster: every valid logical entry whose bit is set.
            for (int cluster = 0; cluster < 0xF; cluster++) {
                int r = deliverLogicalBits(logTable, physTable, maxIndex, cluster * 4, bits, vector, true);
                if (r != 0) {
                    return r;
                }
            }
            return 0;
        }
        return deliverLogicalBits(logTable, physTable, maxIndex, clusterBase, bits, vector, mda == 0xFF && flat);
    }

    /** Delivers to each logical entry named by {@code bits}; records the first not-running entry's logical index. */
    private int deliverLogicalBits(long logTable, long physTable, int maxIndex, int base, int bits, int vector,
                                   boolean broadcast) {
        if (!broadcast) {
            // AVIC "falls over if _any_ targets are invalid ... and VM-Exits before sending IPIs to targets
            // that _are_ valid" (Linux commit "KVM: SVM: Process ICR on AVIC IPI delivery failure due to
            // invalid target", 2023, which therefore emulates the whole IPI): check every entry first.
            int failure = checkLogicalBits(logTable, physTable, maxIndex, base, bits);
            if (failure != 0) {
                return failure;
            }
        }
        while (bits != 0) {
            int bit = Integer.numberOfTrailingZeros(bits);
            bits &= bits - 1;
            int index = base + bit;
            int entry = mem.read32Volatile(logTable + (long) index * LOGICAL_ENTRY_BYTES);
            if ((entry & LOGICAL_VALID) == 0) {
                if (broadcast) {
                    continue;
                }
                return (IPI_FAILURE_INVALID_TARGET << 16) | index;
            }
            int guestId = entry & LOGICAL_GUEST_PHYSICAL_ID_MASK;
            int r = deliverPhysical(physTable, maxIndex, guestId, vector, false);
            if (r == INVALID_TARGET) {
                return (IPI_FAILURE_INVALID_TARGET << 16) | index;
            }
            if (r == INVALID_BACKING_PAGE) {
                return (IPI_FAILURE_INVALID_BACKING_PAGE << 16) | index;
            }
            if (r == TARGET_NOT_RUNNING && lastLogicalNotRunning < 0) {
                // For a logical destination EXITINFO2's index is the logical table index, not the guest
                // physical APIC ID: KVM's avic_kick_target_vcpus_fast reads avic_logical_id_table[index]
                // ("For xAPIC logical mode, the index is for logical APIC table", AMD, Linux 5.x avic.c).
                lastLogicalNotRunning = index;
            }
        }
        return 0;
    }

    /** The first entry named by {@code bits} that cannot be delivered to, as (cause << 16 | index), or 0. */
    private int checkLogicalBits(long logTable, long physTable, int maxIndex, int base, int bits) {
        while (bits != 0) {
            int index = base + Integer.numberOfTrailingZeros(bits);
            bits &= bits - 1;
            int entry = mem.read32Volatile(logTable + (long) index * LOGICAL_ENTRY_BYTES);
            int guestId = entry & LOGICAL_GUEST_PHYSICAL_ID_MASK;
            long physical = guestId > maxIndex ? 0 : mem.read64Volatile(physTable + (long) guestId * PHYSICAL_ENTRY_BYTES);
            if ((entry & LOGICAL_VALID) == 0 || (physical & PHYSICAL_VALID) == 0) {
                return (IPI_FAILURE_INVALID_TARGET << 16) | index;
            }
            long targetPage = physical & PHYSICAL_BACKING_PAGE_MASK;
            if (targetPage == 0 || !mem.contains(targetPage)) {
                return (IPI_FAILURE_INVALID_BACKING_PAGE << 16) | index;
            }
        }
        return 0;
    }

    /**
     * Sets {@code vector} in the IRR of the backing page at {@code targetPage} with a locked OR; then
     * rings the doorbell of {@code hostApicId} (or evaluates locally for the sender's own page,
     * {@code -1}); {@code -2} = not running, no doorbell.
     */
    private void setIrrAndRing(long targetPage, int vector, int hostApicId) {
        mem.getAndOr32(targetPage + APIC_IRR + (vector >>> 5) * 0x10L, 1 << (vector & 31));
        PhysicalMemory.fullFence();
        if (targetPage == backingPage() || hostApicId == -1) {
            evaluatePending();
        } else if (hostApicId >= 0) {
            machine.sendDoorbell(core, hostApicId);
        }
    }

    private void incomplete(int icrLow, int icrHigh, int cause, int index) {
        core.retireForTrap();
        core.vmexit(SvmExit.AVIC_INCOMPLETE_IPI, ((long) icrHigh << 32) | (icrLow & 0xFFFFFFFFL),
                ((long) cause << 32) | (index & 0xFF));
    }
}
