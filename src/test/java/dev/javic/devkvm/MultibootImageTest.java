package dev.javic.devkvm;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MultibootImageTest {
    private static final long MIB = 1 << 20;

    private static byte[] selfIpi() throws Exception {
        return Files.readAllBytes(GuestImages.image("self-ipi"));
    }

    @Test
    void parsesTheShippedImage() throws Exception {
        MultibootImage image = MultibootImage.parse("self-ipi.elf", selfIpi(), 64 * MIB);
        assertThat(image.headerFlags()).isZero();
        assertThat(image.segments()).isNotEmpty();
        assertThat(image.segments().getFirst().paddr()).isEqualTo(0x100000);
        assertThat(image.entry()).isBetween(0x100000L, image.end());
    }

    @Test
    void notAnElf() {
        assertThatThrownBy(() -> MultibootImage.parse("x.bin", new byte[4096], 64 * MIB))
                .isInstanceOf(MultibootImage.BadImageException.class).hasMessageContaining("x.bin is not an ELF file");
    }

    @Test
    void noMultibootHeader() throws Exception {
        byte[] b = selfIpi();
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at + 4 <= Math.min(b.length, 8192); at += 4) {
            if (bb.getInt(at) == MultibootImage.HEADER_MAGIC) {
                bb.putInt(at, 0);
            }
        }
        assertThatThrownBy(() -> MultibootImage.parse("k.elf", b, 64 * MIB))
                .isInstanceOf(MultibootImage.BadImageException.class).hasMessageContaining("has no Multiboot header");
    }

    @Test
    void segmentOutsideRam() throws Exception {
        byte[] b = selfIpi();
        // 1 MiB of RAM: the image (8 KiB) fits, its segment at 1 MiB does not.
        assertThatThrownBy(() -> MultibootImage.parse("k.elf", b, MIB))
                .isInstanceOf(MultibootImage.BadImageException.class)
                .hasMessageContaining("lies outside guest RAM (0-0xfffff)");
    }

    @Test
    void imageLargerThanMemory() throws Exception {
        byte[] b = selfIpi();
        assertThatThrownBy(() -> MultibootImage.parse("k.elf", b, 4096))
                .isInstanceOf(MultibootImage.BadImageException.class).hasMessageContaining("larger than guest memory");
    }

    @Test
    void multibootInformationHasMemUpperAndACmdlineString() throws Exception {
        MultibootImage image = MultibootImage.parse("self-ipi.elf", selfIpi(), 64 * MIB);
        Map<Long, Byte> ram = new HashMap<>();
        MultibootImage.GuestRam fake = new MultibootImage.GuestRam() {
            public long size() {
                return 64 * MIB;
            }

            public void write(long gpa, byte[] src, int off, int len) {
                for (int i = 0; i < len; i++) {
                    ram.put(gpa + i, src[off + i]);
                }
            }

            public void fill(long gpa, long len, byte v) {
                for (long i = 0; i < len; i++) {
                    ram.put(gpa + i, v);
                }
            }

            public void write32(long gpa, int v) {
                for (int i = 0; i < 4; i++) {
                    ram.put(gpa + i, (byte) (v >>> (8 * i)));
                }
            }
        };
        long mbi = image.load(fake, "quiet x=1");
        assertThat(mbi).isGreaterThanOrEqualTo(image.end());
        assertThat(mbi & 0xFFF).isZero();
        int flags = u32(ram, mbi);
        assertThat(flags & 1).as("mem_lower/mem_upper valid").isEqualTo(1);
        assertThat(flags & 4).as("cmdline valid").isEqualTo(4);
        assertThat(u32(ram, mbi + 4)).isEqualTo(640);
        assertThat(u32(ram, mbi + 8)).isEqualTo(63 * 1024); // KiB above 1 MiB
        long cmd = Integer.toUnsignedLong(u32(ram, mbi + 16));
        StringBuilder sb = new StringBuilder();
        for (long a = cmd; ram.get(a) != 0; a++) {
            sb.append((char) (byte) ram.get(a));
        }
        assertThat(sb.toString()).isEqualTo("self-ipi.elf quiet x=1");
    }

    private static int u32(Map<Long, Byte> ram, long at) {
        int v = 0;
        for (int i = 0; i < 4; i++) {
            v |= (ram.getOrDefault(at + i, (byte) 0) & 0xFF) << (8 * i);
        }
        return v;
    }
}
