package dev.javic.hw;

import static dev.javic.hw.AvicTables.IPI_FAILURE_INVALID_BACKING_PAGE;
import static dev.javic.hw.AvicTables.IPI_FAILURE_INVALID_INT_TYPE;
import static dev.javic.hw.AvicTables.IPI_FAILURE_INVALID_TARGET;
import static dev.javic.hw.AvicTables.IPI_FAILURE_TARGET_NOT_RUNNING;

/**
 * What AVIC hardware does with one guest access to the APIC page (APM vol. 2 §15.29, the AVIC register table;
 * KVM avic.c is_avic_unaccelerated_access_trap), as a pure function of the access. The one place this is
 * decided: the simulated {@link AvicUnit} acts on it, and the /dev/kvm backend ({@code javic boot --system
 * avic-on}) reports it for every APIC access a real guest made.
 *
 * <p>Reads are served from the backing page, except TMCCT and offsets that name no register (fault). Writes:
 * TPR, an edge-triggered EOI and ICR high are accelerated; ICR low starts an IPI ({@link #classifyIpi}); ID,
 * a level-triggered EOI, RRR, LDR, DFR, SPIV, ESR, the LVTs, TMICT and TDCR land in the backing page and then
 * trap; everything else faults. A wider-than-32-bit or misaligned access faults.
 */
public final class AvicRegisterPolicy {
    private AvicRegisterPolicy() {
    }

    /** The outcome of one APIC page access. */
    public enum Outcome {
        /** Accelerated: a read served from the backing page. */
        BACKING_PAGE_READ(true),
        /** Accelerated: TPR write (PPR updated, pending interrupts re-evaluated). */
        TPR_WRITE(true),
        /** Accelerated: EOI with an edge-triggered vector (or none) in service. */
        EOI_EDGE(true),
        /** Accelerated: ICR high (the destination) lands in the backing page. */
        ICR2_WRITE(true),
        /** ICR low: an IPI; whether it is accelerated depends on its type and targets ({@link #classifyIpi}). */
        IPI(false),
        /** AVIC_UNACCELERATED_ACCESS, trap: the write landed and the instruction retired. */
        TRAP(false),
        /** AVIC_UNACCELERATED_ACCESS, fault: nothing happened; the hypervisor emulates the instruction. */
        FAULT(false);

        private final boolean accelerated;

        Outcome(boolean accelerated) {
            this.accelerated = accelerated;
        }

        /** True when the access completes without an exit. */
        public boolean accelerated() {
            return accelerated;
        }
    }

    /** A read of {@code width} bytes at {@code offset} in the APIC page. */
    public static Outcome classifyRead(int offset, int width) {
        if (width > 4 || (offset & 0xF) != 0) {
            return Outcome.FAULT;
        }
        return offset == ApicRegs.TMCCT || !isReadable(offset) ? Outcome.FAULT : Outcome.BACKING_PAGE_READ;
    }

    /**
     * A write of {@code width} bytes at {@code offset}; {@code levelEoi}: for an EOI, whether the highest
     * in-service vector is level-triggered (its TMR bit is set).
     */
    public static Outcome classifyWrite(int offset, int width, boolean levelEoi) {
        if (width > 4 || (offset & 0xF) != 0) {
            return Outcome.FAULT;
        }
        return switch (offset) {
            case ApicRegs.TPR -> Outcome.TPR_WRITE;
            case ApicRegs.EOI -> levelEoi ? Outcome.TRAP : Outcome.EOI_EDGE;
            case ApicRegs.ICR -> Outcome.IPI;
            case ApicRegs.ICR2 -> Outcome.ICR2_WRITE;
            default -> isTrapRegister(offset) ? Outcome.TRAP : Outcome.FAULT;
        };
    }

    /** Registers whose writes trap (KVM avic.c is_avic_unaccelerated_access_trap). */
    public static boolean isTrapRegister(int offset) {
        return switch (offset) {
            case ApicRegs.ID, ApicRegs.EOI, ApicRegs.RRR, ApicRegs.LDR, ApicRegs.DFR, ApicRegs.SPIV, ApicRegs.ESR,
                 ApicRegs.ICR, ApicRegs.LVTT, ApicRegs.LVTTHMR, ApicRegs.LVTPC, ApicRegs.LVT0, ApicRegs.LVT1,
                 ApicRegs.LVTERR, ApicRegs.TMICT, ApicRegs.TDCR -> true;
            default -> false;
        };
    }

    /** xAPIC registers that exist and can be read (ISR/TMR/IRR are 8 registers each). */
    public static boolean isReadable(int offset) {
        if (offset >= ApicRegs.ISR && offset < ApicRegs.IRR + 0x80) {
            return true;
        }
        return switch (offset) {
            case ApicRegs.ID, ApicRegs.LVR, ApicRegs.TPR, ApicRegs.APR, ApicRegs.PPR, ApicRegs.RRR, ApicRegs.LDR,
                 ApicRegs.DFR, ApicRegs.SPIV, ApicRegs.ESR, ApicRegs.ICR, ApicRegs.ICR2, ApicRegs.LVTT,
                 ApicRegs.LVTTHMR, ApicRegs.LVTPC, ApicRegs.LVT0, ApicRegs.LVT1, ApicRegs.LVTERR, ApicRegs.TMICT,
                 ApicRegs.TDCR -> true;
            default -> false;
        };
    }

    /** Only fixed, edge-triggered IPIs are accelerated (APM vol. 2 §15.29.4.3); anything else is INVALID_INT_TYPE. */
    public static boolean isAcceleratedIpiType(int icrLow) {
        return ((icrLow >>> 8) & 7) == ApicRegs.DM_FIXED && (icrLow & ApicRegs.ICR_LEVEL_TRIGGER) == 0;
    }

    // ---- IPIs over a view of the AVIC tables ---------------------------------------------------------------

    /** Physical APIC ID table entry states, as {@link IpiTables#physical} returns them. */
    public static final int ENTRY_INVALID = -1;
    public static final int ENTRY_NOT_RUNNING = 0;
    public static final int ENTRY_RUNNING = 1;
    /** A valid entry whose backing page is not in memory (or 0). */
    public static final int ENTRY_BAD_BACKING_PAGE = 2;

    /** A read-only view of one VM's AVIC tables, as the IPI logic sees them. */
    public interface IpiTables {
        /** AVIC_PHYSICAL_MAX_INDEX. */
        int maxIndex();

        /** The physical table entry {@code index} (0..maxIndex): one of the {@code ENTRY_*} states. */
        int physical(int index);

        /** The logical table entry {@code index}: its guest physical APIC ID, or -1 when not valid. */
        int logical(int index);
    }

    /**
     * The outcome of an ICR low write: accelerated (every target valid and running), or AVIC_INCOMPLETE_IPI
     * with {@code cause} (an {@code AvicTables.IPI_FAILURE_*}) and the index EXITINFO2 names; {@code targets}
     * is the number of targets whose IRR AVIC sets.
     */
    public record IpiOutcome(boolean accelerated, int cause, int index, int targets) {
        static IpiOutcome incomplete(int cause, int index, int targets) {
            return new IpiOutcome(false, cause, index, targets);
        }
    }

    /**
     * Classifies an ICR write the way {@link AvicUnit} delivers it, over {@code tables}: self shorthand is
     * delivered to the sender (running); broadcast (shorthand all, or physical 0xFF) skips invalid entries;
     * a physical destination beyond the max index or invalid is INVALID_TARGET; a logical destination is
     * checked entry by entry before any delivery; a target that is not running is TARGET_NOT_RUNNING (the IRR is
     * set anyway), with the first such index (the logical table index for a logical destination).
     */
    public static IpiOutcome classifyIpi(int icrLow, int icrHigh, int selfId, boolean flatDfr, IpiTables tables) {
        if (!isAcceleratedIpiType(icrLow)) {
            return IpiOutcome.incomplete(IPI_FAILURE_INVALID_INT_TYPE, 0, 0);
        }
        int shorthand = (icrLow >>> 18) & 3;
        int dest = icrHigh >>> 24;
        int maxIndex = tables.maxIndex();
        if (shorthand == 1) {
            return new IpiOutcome(true, 0, 0, 1);
        }
        boolean physical = (icrLow & ApicRegs.ICR_DEST_LOGICAL) == 0;
        if (shorthand != 0 || (physical && dest == 0xFF)) {
            int notRunning = -1;
            int targets = 0;
            for (int i = 0; i <= maxIndex; i++) {
                if (shorthand == 3 && i == selfId) {
                    continue;
                }
                int e = tables.physical(i);
                if (e == ENTRY_INVALID) {
                    continue;
                }
                if (e == ENTRY_RUNNING || e == ENTRY_NOT_RUNNING) {
                    targets++;
                }
                if (e == ENTRY_NOT_RUNNING && notRunning < 0) {
                    notRunning = i;
                }
            }
            return notRunning >= 0 ? IpiOutcome.incomplete(IPI_FAILURE_TARGET_NOT_RUNNING, notRunning, targets)
                    : new IpiOutcome(true, 0, 0, targets);
        }
        if (physical) {
            int e = dest > maxIndex ? ENTRY_INVALID : tables.physical(dest);
            return switch (e) {
                case ENTRY_INVALID -> IpiOutcome.incomplete(IPI_FAILURE_INVALID_TARGET, dest, 0);
                case ENTRY_BAD_BACKING_PAGE -> IpiOutcome.incomplete(IPI_FAILURE_INVALID_BACKING_PAGE, dest, 0);
                case ENTRY_NOT_RUNNING -> IpiOutcome.incomplete(IPI_FAILURE_TARGET_NOT_RUNNING, dest, 1);
                default -> new IpiOutcome(true, 0, 0, 1);
            };
        }
        boolean clusterBroadcast = !flatDfr && ((dest >>> 4) & 0xF) == 0xF;
        boolean broadcast = clusterBroadcast || (flatDfr && dest == 0xFF);
        int bits = flatDfr ? dest & 0xFF : dest & 0xF;
        int firstCluster = clusterBroadcast ? 0 : flatDfr ? 0 : (dest >>> 4) & 0xF;
        int lastCluster = clusterBroadcast ? 0xE : firstCluster;
        int notRunning = -1;
        int targets = 0;
        for (int pass = broadcast ? 1 : 0; pass < 2; pass++) { // pass 0: check every entry first (not broadcast)
            for (int cluster = firstCluster; cluster <= lastCluster; cluster++) {
                int base = flatDfr ? 0 : cluster * 4;
                for (int b = bits; b != 0; b &= b - 1) {
                    int index = base + Integer.numberOfTrailingZeros(b);
                    int guestId = tables.logical(index);
                    int e = guestId < 0 || guestId > maxIndex ? ENTRY_INVALID : tables.physical(guestId);
                    if (e == ENTRY_INVALID) {
                        if (broadcast && guestId < 0) {
                            continue;
                        }
                        return IpiOutcome.incomplete(IPI_FAILURE_INVALID_TARGET, index, targets);
                    }
                    if (e == ENTRY_BAD_BACKING_PAGE) {
                        return IpiOutcome.incomplete(IPI_FAILURE_INVALID_BACKING_PAGE, index, targets);
                    }
                    if (pass == 1) {
                        targets++;
                        if (e == ENTRY_NOT_RUNNING && notRunning < 0) {
                            notRunning = index;
                        }
                    }
                }
            }
        }
        return notRunning >= 0 ? IpiOutcome.incomplete(IPI_FAILURE_TARGET_NOT_RUNNING, notRunning, targets)
                : new IpiOutcome(true, 0, 0, targets);
    }
}
