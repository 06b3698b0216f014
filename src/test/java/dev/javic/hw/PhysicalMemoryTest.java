package dev.javic.hw;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PhysicalMemoryTest {
    @Test
    void littleEndianHalvesOfAWord() {
        PhysicalMemory m = new PhysicalMemory(1 << 16);
        m.write64(0x1000, 0x1122334455667788L);
        assertThat(m.read32(0x1000)).isEqualTo(0x55667788);
        assertThat(m.read32(0x1004)).isEqualTo(0x11223344);
        m.write32(0x1004, 0xAABBCCDD);
        assertThat(m.read64(0x1000)).isEqualTo(0xAABBCCDD55667788L);
    }

    @Property
    void lockedOrAndAndTouchOnlyTheirHalf(@ForAll int low, @ForAll int high, @ForAll int bits,
                                           @ForAll @IntRange(min = 0, max = 1) int half) {
        PhysicalMemory m = new PhysicalMemory(1 << 13);
        m.write32(0x1000, low);
        m.write32(0x1004, high);
        long pa = 0x1000 + 4L * half;
        int before = half == 0 ? low : high;
        assertThat(m.getAndOr32(pa, bits)).isEqualTo(before);
        assertThat(m.read32(pa)).isEqualTo(before | bits);
        assertThat(m.getAndAnd32(pa, ~bits)).isEqualTo(before | bits);
        assertThat(m.read32(pa)).isEqualTo(before & ~bits);
        assertThat(m.read32(0x1000 + 4L * (1 - half))).isEqualTo(half == 0 ? high : low);
    }

    @Test
    void compareAndSet() {
        PhysicalMemory m = new PhysicalMemory(1 << 13);
        assertThat(m.compareAndSet64(0x1008, 0, 5)).isTrue();
        assertThat(m.compareAndSet64(0x1008, 0, 6)).isFalse();
        assertThat(m.compareAndSet32(0x100C, 0, 7)).isTrue();
        assertThat(m.read64(0x1008)).isEqualTo((7L << 32) | 5);
        assertThat(m.compareAndSet32(0x100C, 1, 8)).isFalse();
    }

    @Test
    void rejectsUnalignedAndOutOfRange() {
        PhysicalMemory m = new PhysicalMemory(1 << 13);
        assertThatThrownBy(() -> m.read32(0x1002)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> m.read64(0x1004)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> m.read32(1 << 13)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void clearPageZeroesOnlyThatPage() {
        PhysicalMemory m = new PhysicalMemory(1 << 14);
        m.write64(0x1FF8, -1);
        m.write64(0x2000, -1);
        m.clearPage(0x1000);
        assertThat(m.read64(0x1FF8)).isZero();
        assertThat(m.read64(0x2000)).isEqualTo(-1);
    }
}
