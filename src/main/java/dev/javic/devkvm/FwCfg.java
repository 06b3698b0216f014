package dev.javic.devkvm;

import java.util.TreeMap;

/**
 * QEMU's firmware configuration device, traditional I/O interface only (docs/specs/fw_cfg.rst in QEMU): a
 * 16-bit write to the selector port 0x510 picks an item and rewinds it; each byte read from the data port 0x511
 * returns the item's next byte, 0 past its end or for an item that does not exist. Key numbers are QEMU's
 * (include/standard-headers/linux/qemu_fw_cfg.h, hw/nvram/fw_cfg.c): the signature "QEMU", the interface ID
 * (bit 0: the traditional interface; no DMA), the RAM size, the number of CPUs and the maximum number of CPUs,
 * all little-endian. Called by the vCPU threads under the machine's lock.
 */
final class FwCfg {
    static final int PORT_SELECTOR = 0x510;
    static final int PORT_DATA = 0x511;
    static final int KEY_SIGNATURE = 0x00;
    static final int KEY_ID = 0x01;
    static final int KEY_RAM_SIZE = 0x03;
    static final int KEY_NB_CPUS = 0x05;
    static final int KEY_MAX_CPUS = 0x0f;
    /** FW_CFG_ID bit 0: the traditional (port I/O) interface; bit 1 (DMA) is not offered. */
    static final int ID_TRADITIONAL = 0x1;

    private final TreeMap<Integer, byte[]> items = new TreeMap<>();
    private int selected = -1;
    private int offset;

    FwCfg(int cpus, long ramBytes) {
        items.put(KEY_SIGNATURE, new byte[] {'Q', 'E', 'M', 'U'});
        items.put(KEY_ID, le(ID_TRADITIONAL, 4));
        items.put(KEY_RAM_SIZE, le(ramBytes, 8));
        items.put(KEY_NB_CPUS, le(cpus, 2));
        items.put(KEY_MAX_CPUS, le(cpus, 2));
    }

    private static byte[] le(long value, int bytes) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        return b;
    }

    /** A write to the selector port: selects {@code key} and rewinds (fw_cfg_select). */
    void select(int key) {
        selected = key & 0xFFFF;
        offset = 0;
    }

    /** A byte read from the data port. */
    int readByte() {
        byte[] item = items.get(selected);
        if (item == null || offset >= item.length) {
            return 0;
        }
        return Byte.toUnsignedInt(item[offset++]);
    }
}
