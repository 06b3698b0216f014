package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import static dev.javic.hw.ApicRegs.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.javic.hw.PhysicalMemory;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** kvm_apic_match_dest: physical, logical flat and cluster, broadcast, shorthands. */
class ApicMatchTest {

    private static LocalApic apic(int vcpuId) {
        return new LocalApic(new PhysicalMemory(PhysicalMemory.PAGE_SIZE), 0, vcpuId, new FakeLapicHost());
    }

    @Test
    void physicalMatchesTheApicIdOrBroadcast() {
        LocalApic a = apic(3);
        assertThat(a.matchDest(null, SHORTHAND_NONE, 3, false)).isTrue();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 4, false)).isFalse();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0xFF, false)).isTrue();
        a.regWrite(ID, 0x2A00_0000);
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x2A, false)).as("the written ID counts").isTrue();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 3, false)).isFalse();
    }

    @Test
    void logicalFlatMatchesAnyCommonBit() {
        LocalApic a = apic(1);
        a.regWrite(LDR, 0x0400_0000);
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x04, true)).isTrue();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x0C, true)).isTrue();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x03, true)).isFalse();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0xFF, true)).isTrue();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x04, false)).as("physical 4 is another APIC").isFalse();
    }

    @Test
    void logicalClusterMatchesSameClusterAndACommonBit() {
        LocalApic a = apic(1);
        a.regWrite(DFR, DFR_CLUSTER);
        a.regWrite(LDR, 0x3200_0000); // cluster 3, member bit 1
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x32, true)).isTrue();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x3F, true)).isTrue();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x31, true)).isFalse();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x22, true)).isFalse();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0xFF, true)).isTrue();
    }

    @Test
    void anUnknownDestinationModelMatchesOnlyBroadcast() {
        LocalApic a = apic(1);
        a.regWrite(LDR, 0xFF00_0000);
        a.write(DFR, 0x5FFF_FFFF); // not reachable by a register write; the map code treats it as bad
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0x01, true)).isFalse();
        assertThat(a.matchDest(null, SHORTHAND_NONE, 0xFF, true)).isTrue();
    }

    @Test
    void shorthandsIgnoreTheDestination() {
        LocalApic a = apic(1);
        LocalApic b = apic(2);
        assertThat(a.matchDest(a, SHORTHAND_SELF, 7, false)).isTrue();
        assertThat(a.matchDest(b, SHORTHAND_SELF, 1, false)).isFalse();
        assertThat(a.matchDest(null, SHORTHAND_SELF, 1, false)).isFalse();
        assertThat(a.matchDest(a, SHORTHAND_ALL_INCLUDING_SELF, 7, true)).isTrue();
        assertThat(a.matchDest(b, SHORTHAND_ALL_INCLUDING_SELF, 7, true)).isTrue();
        assertThat(a.matchDest(a, SHORTHAND_ALL_EXCLUDING_SELF, 1, false)).isFalse();
        assertThat(a.matchDest(b, SHORTHAND_ALL_EXCLUDING_SELF, 7, false)).isTrue();
    }

    @Property(tries = 500)
    void flatLogicalMatchingIsTheFormula(@ForAll @IntRange(min = 0, max = 255) int logicalId,
                                         @ForAll @IntRange(min = 0, max = 255) int mda) {
        LocalApic a = apic(1);
        a.regWrite(LDR, logicalId << 24);
        boolean expected = mda == 0xFF || (logicalId & mda) != 0;
        assertThat(a.matchDest(null, SHORTHAND_NONE, mda, true)).isEqualTo(expected);
    }

    @Property(tries = 500)
    void clusterLogicalMatchingIsTheFormula(@ForAll @IntRange(min = 0, max = 255) int logicalId,
                                            @ForAll @IntRange(min = 0, max = 255) int mda) {
        LocalApic a = apic(1);
        a.regWrite(DFR, 0);
        a.regWrite(LDR, logicalId << 24);
        boolean expected = mda == 0xFF || ((logicalId >> 4) == (mda >> 4) && (logicalId & mda & 0xF) != 0);
        assertThat(a.matchDest(null, SHORTHAND_NONE, mda, true)).isEqualTo(expected);
    }
}
