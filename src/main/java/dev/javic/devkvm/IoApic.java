package dev.javic.devkvm;

/**
 * The I/O APIC's register file at {@link #BASE} (82093AA datasheet; KVM's ioapic.c): IOREGSEL at +0x00 selects
 * a register, IOWIN at +0x10 reads or writes it. ID (0x00, bits 27:24), version (0x01: version 0x11, 24
 * redirection entries), arbitration (0x02, reads the ID) and the 24 64-bit redirection entries (0x10 + 2n low,
 * +1 high), reset masked (bit 16). javic's VMM has no device behind any pin, so programming an entry never
 * delivers anything; the register file is there so that a guest that finds the I/O APIC in the MADT sees a
 * real one. Called by the vCPU threads under the machine's lock.
 */
final class IoApic {
    static final long BASE = 0xFEC00000L;
    static final int IOREGSEL = 0x00;
    static final int IOWIN = 0x10;
    static final int REG_ID = 0x00;
    static final int REG_VERSION = 0x01;
    static final int REG_ARBITRATION = 0x02;
    static final int REG_REDIRECTION = 0x10;
    static final int PINS = 24;
    /** Version 0x11, maximum redirection entry PINS - 1 in bits 23:16. */
    static final int VERSION = 0x11 | ((PINS - 1) << 16);
    static final long REDIRECTION_MASKED = 1L << 16;
    /** Redirection entry bits software may write (ioapic.c: delivery status and remote IRR are read-only). */
    private static final long WRITABLE = ~((1L << 12) | (1L << 14));

    private int select;
    private int id;
    private final long[] redirection = new long[PINS];

    IoApic(int id) {
        this.id = id & 0xF;
        java.util.Arrays.fill(redirection, REDIRECTION_MASKED);
    }

    /** Whether {@code gpa} is in the I/O APIC's page. */
    static boolean contains(long gpa) {
        return gpa >= BASE && gpa < BASE + 0x1000;
    }

    /** A 32-bit read at {@code offset} in the page; other offsets read 0. */
    int read(int offset) {
        return switch (offset) {
            case IOREGSEL -> select;
            case IOWIN -> readRegister(select);
            default -> 0;
        };
    }

    /** A 32-bit write at {@code offset} in the page; other offsets are ignored. */
    void write(int offset, int value) {
        if (offset == IOREGSEL) {
            select = value & 0xFF;
        } else if (offset == IOWIN) {
            writeRegister(select, value);
        }
    }

    private int readRegister(int reg) {
        if (reg == REG_ID || reg == REG_ARBITRATION) {
            return id << 24;
        }
        if (reg == REG_VERSION) {
            return VERSION;
        }
        int pin = (reg - REG_REDIRECTION) >> 1;
        if (reg >= REG_REDIRECTION && pin < PINS) {
            return (reg & 1) == 0 ? (int) redirection[pin] : (int) (redirection[pin] >>> 32);
        }
        return -1; // ioapic.c ioapic_read_indirect: an unknown register reads all ones
    }

    private void writeRegister(int reg, int value) {
        if (reg == REG_ID) {
            id = (value >>> 24) & 0xF;
            return;
        }
        int pin = (reg - REG_REDIRECTION) >> 1;
        if (reg < REG_REDIRECTION || pin >= PINS) {
            return;
        }
        long old = redirection[pin];
        long v = (reg & 1) == 0 ? (old & 0xFFFF_FFFF_0000_0000L) | Integer.toUnsignedLong(value)
                : (old & 0xFFFF_FFFFL) | ((long) value << 32);
        redirection[pin] = (v & WRITABLE) | (old & ~WRITABLE);
    }
}
