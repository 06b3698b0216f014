package dev.javic.hw;

/**
 * Bit layouts of AVIC's in-memory structures (AMD APM vol. 2 §15.29; Linux svm.h of 2016,
 * {@code AVIC_PHYSICAL_ID_ENTRY_*} / {@code AVIC_LOGICAL_ID_ENTRY_*}). The tables are 4 KiB pages of
 * host memory owned by the hypervisor, one pair per VM, read by every core's AVIC unit.
 *
 * <pre>
 * Physical APIC ID table entry (64 bits), indexed by guest physical APIC ID:
 *  63    62         61..52   51 ...................... 12  11..8   7 ........ 0
 * +-----+-----------+--------+-----------------------------+-------+------------+
 * |Valid| IsRunning | rsvd   | backing page address 51:12  | rsvd  | host APIC  |
 * +-----+-----------+--------+-----------------------------+-------+------------+
 *
 * Logical APIC ID table entry (32 bits):
 *  31    30 ........ 8   7 ............. 0
 * +-----+-------------+------------------+
 * |Valid|    rsvd     | guest phys APIC  |
 * +-----+-------------+------------------+
 * </pre>
 */
public final class AvicTables {
    private AvicTables() {
    }

    public static final long PHYSICAL_HOST_APIC_ID_MASK = 0xFFL;
    public static final long PHYSICAL_BACKING_PAGE_MASK = 0xFFFFFFFFFF000L; // bits 51:12
    public static final long PHYSICAL_IS_RUNNING = 1L << 62;
    public static final long PHYSICAL_VALID = 1L << 63;
    public static final int PHYSICAL_ENTRY_BYTES = 8;

    public static final int LOGICAL_GUEST_PHYSICAL_ID_MASK = 0xFF;
    public static final int LOGICAL_VALID = 1 << 31;
    public static final int LOGICAL_ENTRY_BYTES = 4;

    /** Physical destination 0xFF is broadcast, so the largest usable index is 0xFE (svm.c 2016). */
    public static final int PHYSICAL_MAX_INDEX = 0xFE;

    /** Doorbell MSR (APM vol. 2: MSR C001_011B); a write names the target's host physical APIC ID. */
    public static final int MSR_AVIC_DOORBELL = 0xC001011B;

    // AVIC_INCOMPLETE_IPI EXITINFO2[63:32] causes (svm.h AVIC_IPI_FAILURE_*).
    public static final int IPI_FAILURE_INVALID_INT_TYPE = 0;
    public static final int IPI_FAILURE_TARGET_NOT_RUNNING = 1;
    public static final int IPI_FAILURE_INVALID_TARGET = 2;
    public static final int IPI_FAILURE_INVALID_BACKING_PAGE = 3;

    /** AVIC_UNACCELERATED_ACCESS EXITINFO1: register offset in bits 11:4, write in bit 32. */
    public static final long UNACCEL_ACCESS_OFFSET_MASK = 0xFF0;
    public static final long UNACCEL_ACCESS_WRITE = 1L << 32;

    public static String causeName(int cause) {
        return switch (cause) {
            case IPI_FAILURE_INVALID_INT_TYPE -> "INVALID_INT_TYPE";
            case IPI_FAILURE_TARGET_NOT_RUNNING -> "TARGET_NOT_RUNNING";
            case IPI_FAILURE_INVALID_TARGET -> "INVALID_TARGET";
            case IPI_FAILURE_INVALID_BACKING_PAGE -> "INVALID_BACKING_PAGE";
            default -> "cause " + cause;
        };
    }

    /**
     * Logical table index for an LDR value's MDA bits (APM: flat mode = bit number of the single bit
     * in LDR[31:24]; cluster = cluster * 4 + bit, cluster below 0xF), or -1 when the value has no entry.
     */
    public static int logicalIndex(int ldrId, boolean flat) {
        if (flat) {
            return Integer.bitCount(ldrId & 0xFF) == 1 ? Integer.numberOfTrailingZeros(ldrId) : -1;
        }
        int cluster = (ldrId >>> 4) & 0xF;
        int bits = ldrId & 0xF;
        if (cluster == 0xF || Integer.bitCount(bits) != 1) {
            return -1;
        }
        return cluster * 4 + Integer.numberOfTrailingZeros(bits);
    }
}
