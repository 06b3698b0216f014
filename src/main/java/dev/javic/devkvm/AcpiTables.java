package dev.javic.devkvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The ACPI tables javic's VMM puts in guest RAM for a guest to find its CPUs, its interrupt controllers and its
 * PM timer, as firmware would (ACPI 1.0 layouts, which every later OS still reads; ACPI 6.5 §5.2):
 * <ul>
 * <li>RSDP at {@link #RSDP_ADDRESS} (in the BIOS read-only area 0xE0000-0xFFFFF the OS searches on 16-byte
 *     boundaries, §5.2.5.1), revision 0, pointing to the RSDT;</li>
 * <li>RSDT listing the FADT and the MADT;</li>
 * <li>FADT ("FACP", revision 1, 116 bytes) with the PM1a event / control blocks and the 24-bit PM timer at
 *     QEMU's PIIX4 port numbers ({@link #PM_BASE}: event 0x600, control 0x604, timer 0x608), SCI_EN already
 *     set (no SMI command port: the system is in ACPI mode), and an empty DSDT;</li>
 * <li>MADT ("APIC") with the local APIC address, one enabled Processor Local APIC entry per vCPU (processor
 *     UID = APIC ID = vCPU index) and one I/O APIC entry (ID = the vCPU count, {@link IoApic#BASE}, GSI
 *     base 0). No PCAT_COMPAT flag: there is no pair of 8259s behind the masks javic accepts.</li>
 * </ul>
 * Every table's bytes sum to 0 (the checksum byte makes them), the RSDP's first 20 bytes too.
 */
final class AcpiTables {
    static final long RSDP_ADDRESS = 0xE0000;
    private static final long RSDT_ADDRESS = 0xE0040;
    private static final long FADT_ADDRESS = 0xE0100;
    private static final long DSDT_ADDRESS = 0xE0200;
    private static final long MADT_ADDRESS = 0xE0300;
    /** The highest address the tables may reach (the MADT grows with the vCPU count). */
    static final long END = 0xE1000;
    static final int PM_BASE = 0x600;
    static final int PM1A_EVT_BLK = PM_BASE;
    static final int PM1A_CNT_BLK = PM_BASE + 4;
    static final int PM_TMR_BLK = PM_BASE + 8;
    /** The PM timer's frequency (ACPI 6.5 §4.8.3.3): 3.579545 MHz. */
    static final long PM_TIMER_HZ = 3_579_545;
    /** PM1_CNT.SCI_EN (bit 0): the hardware is in ACPI mode. */
    static final int SCI_EN = 1;
    private static final byte[] OEM_ID = "JAVIC ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] OEM_TABLE_ID = "JAVICKVM".getBytes(StandardCharsets.US_ASCII);

    private AcpiTables() {
    }

    /** Writes the tables for {@code cpus} vCPUs into guest RAM. */
    static void install(MultibootImage.GuestRam ram, int cpus) {
        byte[] madt = madt(cpus);
        if (MADT_ADDRESS + madt.length > END) {
            throw new IllegalArgumentException("too many vCPUs for the MADT area");
        }
        put(ram, RSDP_ADDRESS, rsdp());
        put(ram, RSDT_ADDRESS, rsdt());
        put(ram, FADT_ADDRESS, fadt());
        put(ram, DSDT_ADDRESS, table("DSDT", 1, 0));
        put(ram, MADT_ADDRESS, madt);
    }

    private static void put(MultibootImage.GuestRam ram, long gpa, byte[] bytes) {
        ram.write(gpa, bytes, 0, bytes.length);
    }

    /** RSDP, ACPI 1.0 (20 bytes): "RSD PTR ", checksum, OEM ID, revision 0, RSDT address. */
    static byte[] rsdp() {
        ByteBuffer b = le(20);
        b.put("RSD PTR ".getBytes(StandardCharsets.US_ASCII)).put((byte) 0).put(OEM_ID).put((byte) 0)
                .putInt((int) RSDT_ADDRESS);
        return checksummed(b.array(), 8, 20);
    }

    private static byte[] rsdt() {
        ByteBuffer b = header("RSDT", 1, 8);
        b.putInt((int) FADT_ADDRESS).putInt((int) MADT_ADDRESS);
        return checksummed(b.array(), 9, b.capacity());
    }

    /** FADT revision 1 (ACPI 1.0, 116 bytes); fields by their offsets in ACPI 6.5 Table 5.9. */
    private static byte[] fadt() {
        ByteBuffer b = header("FACP", 1, 116 - 36);
        b.putInt(36, 0); // FIRMWARE_CTRL: no FACS
        b.putInt(40, (int) DSDT_ADDRESS);
        b.putShort(46, (short) 9); // SCI_INT: the usual ISA IRQ 9 (no SCI is ever raised)
        b.putInt(48, 0); // SMI_CMD: none, ACPI mode is fixed
        b.putInt(56, PM1A_EVT_BLK);
        b.putInt(64, PM1A_CNT_BLK);
        b.putInt(76, PM_TMR_BLK);
        b.put(88, (byte) 4); // PM1_EVT_LEN
        b.put(89, (byte) 2); // PM1_CNT_LEN
        b.put(91, (byte) 4); // PM_TMR_LEN
        b.putInt(112, 0); // Flags: TMR_VAL_EXT clear, the timer is 24 bits
        return checksummed(b.array(), 9, b.capacity());
    }

    /** MADT revision 1: local APIC address, flags, then the interrupt controller structures. */
    static byte[] madt(int cpus) {
        ByteBuffer b = header("APIC", 1, 8 + 8 * cpus + 12);
        b.putInt(0xFEE00000).putInt(0);
        for (int i = 0; i < cpus; i++) {
            b.put((byte) 0).put((byte) 8).put((byte) i).put((byte) i).putInt(1); // Processor Local APIC, enabled
        }
        b.put((byte) 1).put((byte) 12).put((byte) cpus).put((byte) 0).putInt((int) IoApic.BASE).putInt(0); // I/O APIC
        return checksummed(b.array(), 9, b.capacity());
    }

    /** A table that is only its header (the empty DSDT). */
    private static byte[] table(String signature, int revision, int bodyLength) {
        ByteBuffer b = header(signature, revision, bodyLength);
        return checksummed(b.array(), 9, b.capacity());
    }

    /** The 36-byte system description header (§5.2.6), checksum 0 for now; positioned after it. */
    private static ByteBuffer header(String signature, int revision, int bodyLength) {
        ByteBuffer b = le(36 + bodyLength);
        b.put(signature.getBytes(StandardCharsets.US_ASCII)).putInt(36 + bodyLength).put((byte) revision)
                .put((byte) 0).put(OEM_ID).put(OEM_TABLE_ID).putInt(1).put("JVIC".getBytes(StandardCharsets.US_ASCII))
                .putInt(1);
        return b;
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Sets {@code bytes[at]} so that the first {@code length} bytes sum to 0 mod 256. */
    private static byte[] checksummed(byte[] bytes, int at, int length) {
        int sum = 0;
        for (int i = 0; i < length; i++) {
            sum += bytes[i];
        }
        bytes[at] = (byte) -sum;
        return bytes;
    }

    /** PM timer value (24 bits) after {@code ns} nanoseconds at {@link #PM_TIMER_HZ}. */
    static int pmTimer(long ns) {
        long ticks = (ns / 1_000_000_000L) * PM_TIMER_HZ + (ns % 1_000_000_000L) * PM_TIMER_HZ / 1_000_000_000L;
        return (int) (ticks & 0xFFFFFF);
    }
}
