package dev.javic.hw;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import static dev.javic.hw.AvicTables.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link AvicTables} against Linux's 2016 definitions (arch/x86/kvm/svm.c, later
 * arch/x86/include/asm/svm.h):
 * <pre>
 * AVIC_LOGICAL_ID_ENTRY_GUEST_PHYSICAL_ID_MASK (0xFF)      AVIC_LOGICAL_ID_ENTRY_VALID_MASK (1 << 31)
 * AVIC_PHYSICAL_ID_ENTRY_HOST_PHYSICAL_ID_MASK (0xFFULL)   AVIC_PHYSICAL_ID_ENTRY_BACKING_PAGE_MASK (0xFFFFFFFFFFULL << 12)
 * AVIC_PHYSICAL_ID_ENTRY_IS_RUNNING_MASK (1ULL << 62)      AVIC_PHYSICAL_ID_ENTRY_VALID_MASK (1ULL << 63)
 * AVIC_UNACCEL_ACCESS_OFFSET_MASK 0xFF0                    enum avic_ipi_failure_cause { INVALID_INT_TYPE, TARGET_NOT_RUNNING, INVALID_TARGET, INVALID_BACKING_PAGE }
 * </pre>
 * and the logical-table indexing of APM vol. 2 §15.29 (flat: bit number; cluster: cluster * 4 + bit).
 */
class AvicTablesTest {

    @Test
    void entryMasksMatchLinux() {
        assertThat(PHYSICAL_HOST_APIC_ID_MASK).isEqualTo(0xFFL);
        assertThat(PHYSICAL_BACKING_PAGE_MASK).isEqualTo(0xFFFFFFFFFFL << 12);
        assertThat(PHYSICAL_IS_RUNNING).isEqualTo(1L << 62);
        assertThat(PHYSICAL_VALID).isEqualTo(1L << 63);
        assertThat(PHYSICAL_ENTRY_BYTES).isEqualTo(8);
        assertThat(LOGICAL_GUEST_PHYSICAL_ID_MASK).isEqualTo(0xFF);
        assertThat(LOGICAL_VALID).isEqualTo(1 << 31);
        assertThat(LOGICAL_ENTRY_BYTES).isEqualTo(4);
        // The four physical-entry fields are disjoint.
        assertThat(PHYSICAL_HOST_APIC_ID_MASK & PHYSICAL_BACKING_PAGE_MASK).isZero();
        assertThat((PHYSICAL_HOST_APIC_ID_MASK | PHYSICAL_BACKING_PAGE_MASK) & (PHYSICAL_IS_RUNNING | PHYSICAL_VALID)).isZero();
    }

    @Test
    void exitInfoConstantsMatchLinux() {
        assertThat(IPI_FAILURE_INVALID_INT_TYPE).isEqualTo(0);
        assertThat(IPI_FAILURE_TARGET_NOT_RUNNING).isEqualTo(1);
        assertThat(IPI_FAILURE_INVALID_TARGET).isEqualTo(2);
        assertThat(IPI_FAILURE_INVALID_BACKING_PAGE).isEqualTo(3);
        assertThat(UNACCEL_ACCESS_OFFSET_MASK).isEqualTo(0xFF0L);
        assertThat(UNACCEL_ACCESS_WRITE).isEqualTo(1L << 32);
        assertThat(MSR_AVIC_DOORBELL).isEqualTo(0xC001011B);
        assertThat(PHYSICAL_MAX_INDEX).isEqualTo(0xFE); // 0xFF is the physical broadcast
        assertThat(causeName(IPI_FAILURE_TARGET_NOT_RUNNING)).isEqualTo("TARGET_NOT_RUNNING");
        assertThat(SvmExit.NPF).isEqualTo(0x400);
        assertThat(SvmExit.AVIC_INCOMPLETE_IPI).isEqualTo(0x401);
        assertThat(SvmExit.AVIC_UNACCELERATED_ACCESS).isEqualTo(0x402);
    }

    // ---- encode / decode round trips -----------------------------------------------------------------

    /** Builds a physical-table entry the way KVM does: a local value, masked field by field. */
    private static long physicalEntry(int hostApicId, long backingPagePa, boolean running, boolean valid) {
        long e = (hostApicId & PHYSICAL_HOST_APIC_ID_MASK) | (backingPagePa & PHYSICAL_BACKING_PAGE_MASK);
        if (running) {
            e |= PHYSICAL_IS_RUNNING;
        }
        if (valid) {
            e |= PHYSICAL_VALID;
        }
        return e;
    }

    @Provide
    Arbitrary<Long> backingPages() {
        return Arbitraries.longs().between(0, (1L << 40) - 1).map(pfn -> pfn << 12); // bits 51:12
    }

    @Property
    void physicalEntryRoundTripsThroughMemory(@ForAll @IntRange(min = 0, max = 255) int hostApicId,
                                              @ForAll("backingPages") long page, @ForAll boolean running,
                                              @ForAll boolean valid, @ForAll @IntRange(min = 0, max = 0xFE) int index) {
        PhysicalMemory mem = new PhysicalMemory(2 * PhysicalMemory.PAGE_SIZE);
        long table = PhysicalMemory.PAGE_SIZE;
        long pa = table + (long) index * PHYSICAL_ENTRY_BYTES;
        mem.write64Volatile(pa, physicalEntry(hostApicId, page, running, valid));

        long e = mem.read64Volatile(pa);
        assertThat((int) (e & PHYSICAL_HOST_APIC_ID_MASK)).isEqualTo(hostApicId);
        assertThat(e & PHYSICAL_BACKING_PAGE_MASK).isEqualTo(page);
        assertThat((e & PHYSICAL_IS_RUNNING) != 0).isEqualTo(running);
        assertThat((e & PHYSICAL_VALID) != 0).isEqualTo(valid);
        assertThat(e & ~(PHYSICAL_HOST_APIC_ID_MASK | PHYSICAL_BACKING_PAGE_MASK | PHYSICAL_IS_RUNNING | PHYSICAL_VALID))
                .as("reserved bits 11:8 and 61:52 stay zero").isZero();
        // Valid and IsRunning are the top bits of the high dword, where a 32-bit reader finds them.
        assertThat(mem.read32(pa + 4) >>> 30).isEqualTo((valid ? 2 : 0) | (running ? 1 : 0));
    }

    @Property
    void isRunningFlipsWithoutTouchingTheRest(@ForAll @IntRange(min = 0, max = 255) int hostApicId,
                                              @ForAll("backingPages") long page, @ForAll boolean running) {
        long e = physicalEntry(hostApicId, page, running, true);
        long flipped = running ? e & ~PHYSICAL_IS_RUNNING : e | PHYSICAL_IS_RUNNING;
        assertThat(flipped ^ e).isEqualTo(PHYSICAL_IS_RUNNING);
    }

    @Property
    void logicalEntryRoundTrips(@ForAll @IntRange(min = 0, max = 0xFE) int guestPhysicalId, @ForAll boolean valid,
                                @ForAll @IntRange(min = 0, max = 1023) int index) {
        PhysicalMemory mem = new PhysicalMemory(2 * PhysicalMemory.PAGE_SIZE);
        long pa = PhysicalMemory.PAGE_SIZE + (long) index * LOGICAL_ENTRY_BYTES;
        int entry = (guestPhysicalId & LOGICAL_GUEST_PHYSICAL_ID_MASK) | (valid ? LOGICAL_VALID : 0);
        mem.write32(pa, entry);
        int e = mem.read32Volatile(pa);
        assertThat(e & LOGICAL_GUEST_PHYSICAL_ID_MASK).isEqualTo(guestPhysicalId);
        assertThat((e & LOGICAL_VALID) != 0).isEqualTo(valid);
        assertThat(e & ~(LOGICAL_GUEST_PHYSICAL_ID_MASK | LOGICAL_VALID)).isZero();
    }

    // ---- logical table index -----------------------------------------------------------------------------

    @Property
    void flatIndexIsTheBitNumber(@ForAll @IntRange(min = 0, max = 7) int bit) {
        assertThat(logicalIndex(1 << bit, true)).isEqualTo(bit);
    }

    @Property
    void flatWithoutExactlyOneBitHasNoEntry(@ForAll @IntRange(min = 0, max = 0xFF) int ldrId) {
        if (Integer.bitCount(ldrId) != 1) {
            assertThat(logicalIndex(ldrId, true)).isEqualTo(-1);
        }
    }

    @Property
    void clusterIndexIsClusterTimesFourPlusBit(@ForAll @IntRange(min = 0, max = 0xE) int cluster,
                                               @ForAll @IntRange(min = 0, max = 3) int bit) {
        assertThat(logicalIndex(cluster << 4 | 1 << bit, false)).isEqualTo(cluster * 4 + bit);
    }

    @Property
    void clusterWithoutExactlyOneBitOrInTheBroadcastClusterHasNoEntry(@ForAll @IntRange(min = 0, max = 0xFF) int ldrId) {
        int cluster = ldrId >>> 4;
        int bits = ldrId & 0xF;
        if (cluster == 0xF || Integer.bitCount(bits) != 1) {
            assertThat(logicalIndex(ldrId, false)).isEqualTo(-1);
        } else {
            assertThat(logicalIndex(ldrId, false)).isBetween(0, 14 * 4 + 3);
        }
    }

    @Test
    void logicalIndexExamples() {
        assertThat(logicalIndex(0x01, true)).isEqualTo(0);
        assertThat(logicalIndex(0x80, true)).isEqualTo(7);
        assertThat(logicalIndex(0x00, true)).isEqualTo(-1);
        assertThat(logicalIndex(0x03, true)).isEqualTo(-1);
        assertThat(logicalIndex(0x11, false)).isEqualTo(4);
        assertThat(logicalIndex(0x12, false)).isEqualTo(5);
        assertThat(logicalIndex(0x28, false)).isEqualTo(11);
        assertThat(logicalIndex(0xE8, false)).isEqualTo(59);
        assertThat(logicalIndex(0xF1, false)).isEqualTo(-1);
        assertThat(logicalIndex(0x13, false)).isEqualTo(-1);
        assertThat(logicalIndex(0x10, false)).isEqualTo(-1);
    }
}
