package dev.javic.devkvm;

/**
 * What javic's VMM keeps of the two 8259A PICs (master 0x20/0x21, slave 0xA0/0xA1): their interrupt mask
 * registers, so that a guest can mask the legacy PIC before using the APICs (what every SMP OS does) and read
 * the mask back. No interrupt ever comes from them (no PIT, no ISA devices). The initialization sequence is
 * followed only as far as the masks need (8259A datasheet): ICW1 (a command-port write with bit 4 set) clears
 * the mask and makes the next two or three data-port writes ICW2..ICW4 (ICW3 unless ICW1 says single, bit 1;
 * ICW4 if ICW1 bit 0); any other data-port write is OCW1, the mask. Command-port reads (IRR/ISR) return 0.
 */
final class PicMasks {
    static final int MASTER_COMMAND = 0x20;
    static final int MASTER_DATA = 0x21;
    static final int SLAVE_COMMAND = 0xA0;
    static final int SLAVE_DATA = 0xA1;

    private final int[] mask = new int[2];
    /** Initialization words still expected on each data port (ICW2..ICW4), in order. */
    private final int[] icwLeft = new int[2];

    static boolean isPicPort(int port) {
        return port == MASTER_COMMAND || port == MASTER_DATA || port == SLAVE_COMMAND || port == SLAVE_DATA;
    }

    void write(int port, int value) {
        int chip = port >= SLAVE_COMMAND ? 1 : 0;
        if ((port & 1) == 0) {
            if ((value & 0x10) != 0) { // ICW1
                mask[chip] = 0;
                icwLeft[chip] = 1 + ((value & 0x02) == 0 ? 1 : 0) + ((value & 0x01) != 0 ? 1 : 0);
            }
            return; // OCW2 / OCW3: no interrupt is ever in service or requested
        }
        if (icwLeft[chip] > 0) {
            icwLeft[chip]--;
        } else {
            mask[chip] = value & 0xFF;
        }
    }

    int read(int port) {
        int chip = port >= SLAVE_COMMAND ? 1 : 0;
        return (port & 1) == 0 ? 0 : mask[chip];
    }
}
