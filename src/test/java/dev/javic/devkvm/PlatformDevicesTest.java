package dev.javic.devkvm;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The small platform pieces of javic's VMM: ACPI tables, the I/O APIC register file, the PIC masks. */
class PlatformDevicesTest {
    private static int sum(byte[] b, int length) {
        int s = 0;
        for (int i = 0; i < length; i++) {
            s += b[i];
        }
        return s & 0xFF;
    }

    @Test
    void rsdpAndMadtChecksumToZeroAndTheMadtListsEveryCpuAndTheIoApic() {
        byte[] rsdp = AcpiTables.rsdp();
        assertThat(new String(rsdp, 0, 8, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("RSD PTR ");
        assertThat(sum(rsdp, 20)).isZero();
        byte[] madt = AcpiTables.madt(3);
        assertThat(sum(madt, madt.length)).isZero();
        assertThat(madt.length).isEqualTo(44 + 3 * 8 + 12);
        assertThat(java.nio.ByteBuffer.wrap(madt).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(4)).isEqualTo(madt.length);
        for (int i = 0; i < 3; i++) {
            int at = 44 + 8 * i;
            assertThat(madt[at]).as("type: processor local APIC").isEqualTo((byte) 0);
            assertThat(madt[at + 3]).as("APIC ID").isEqualTo((byte) i);
            assertThat(madt[at + 4] & 1).as("enabled").isEqualTo(1);
        }
        assertThat(madt[44 + 24]).as("type: I/O APIC").isEqualTo((byte) 1);
    }

    @Test
    void pmTimerRunsAt3579545HzAndWrapsAt24Bits() {
        assertThat(AcpiTables.pmTimer(1_000_000_000L)).isEqualTo(3_579_545);
        assertThat(AcpiTables.pmTimer(1_000_000L)).isEqualTo(3579);
        assertThat(AcpiTables.pmTimer(5_000_000_000L)).isEqualTo((int) ((5L * 3_579_545) & 0xFFFFFF));
    }

    @Test
    void ioApicVersionRedirectionEntriesResetMaskedAndReadOnlyBitsKept() {
        IoApic io = new IoApic(4);
        io.write(IoApic.IOREGSEL, IoApic.REG_ID);
        assertThat(io.read(IoApic.IOWIN)).isEqualTo(4 << 24);
        io.write(IoApic.IOREGSEL, IoApic.REG_VERSION);
        assertThat(io.read(IoApic.IOWIN)).isEqualTo(0x00170011);
        io.write(IoApic.IOREGSEL, IoApic.REG_REDIRECTION + 2 * 23 + 1);
        io.write(IoApic.IOWIN, 0x0F000000);
        assertThat(io.read(IoApic.IOWIN)).isEqualTo(0x0F000000);
        io.write(IoApic.IOREGSEL, IoApic.REG_REDIRECTION);
        assertThat(io.read(IoApic.IOWIN)).isEqualTo(0x10000);
        io.write(IoApic.IOWIN, 0x5030); // remote IRR (bit 14) and delivery status (bit 12) are read-only
        assertThat(io.read(IoApic.IOWIN)).isEqualTo(0x0030);
        io.write(IoApic.IOREGSEL, IoApic.REG_REDIRECTION + 2 * 24);
        assertThat(io.read(IoApic.IOWIN)).isEqualTo(-1);
    }

    @Test
    void picMasksReadBackAndIcwsAreNotMasks() {
        PicMasks pic = new PicMasks();
        pic.write(0x20, 0x11); // ICW1: cascade, ICW4 needed
        pic.write(0x21, 0x20); // ICW2
        pic.write(0x21, 0x04); // ICW3
        pic.write(0x21, 0x01); // ICW4
        assertThat(pic.read(0x21)).isZero();
        pic.write(0x21, 0xFF);
        pic.write(0xA1, 0xFE);
        assertThat(pic.read(0x21)).isEqualTo(0xFF);
        assertThat(pic.read(0xA1)).isEqualTo(0xFE);
        assertThat(pic.read(0x20)).isZero();
    }
}
