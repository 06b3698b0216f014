package dev.javic.devkvm;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class FwCfgTest {
    private static long read(FwCfg f, int key, int bytes) {
        f.select(key);
        long v = 0;
        for (int i = 0; i < bytes; i++) {
            v |= (long) f.readByte() << (8 * i);
        }
        return v;
    }

    @Test
    void signatureIdCpuCountAndRamSizeAreLittleEndianItems() {
        FwCfg f = new FwCfg(3, 64L << 20);
        assertThat(read(f, FwCfg.KEY_SIGNATURE, 4)).isEqualTo(0x554D4551L); // "QEMU"
        assertThat(read(f, FwCfg.KEY_ID, 4)).isEqualTo(1); // traditional interface, no DMA
        assertThat(read(f, FwCfg.KEY_NB_CPUS, 2)).isEqualTo(3);
        assertThat(read(f, FwCfg.KEY_MAX_CPUS, 2)).isEqualTo(3);
        assertThat(read(f, FwCfg.KEY_RAM_SIZE, 8)).isEqualTo(64L << 20);
    }

    @Test
    void selectingRewindsAndReadsPastTheEndOrOfUnknownKeysAreZero() {
        FwCfg f = new FwCfg(2, 8L << 20);
        f.select(FwCfg.KEY_SIGNATURE);
        assertThat(f.readByte()).isEqualTo('Q');
        f.select(FwCfg.KEY_SIGNATURE);
        assertThat(f.readByte()).isEqualTo('Q');
        assertThat(read(f, FwCfg.KEY_NB_CPUS, 4)).isEqualTo(2); // two bytes, then zeros
        assertThat(read(f, 0x19, 4)).isZero(); // FW_CFG_FILE_DIR: not offered
    }
}
