package dev.javic.devkvm;

import dev.javic.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code javic boot} on /dev/kvm with the shipped guest images (skipped, with the reason, without /dev/kvm). */
class BootTest {
    private record Run(int status, String out, String err) {
    }

    private static synchronized Run boot(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            String[] full = new String[args.length + 1];
            full[0] = "boot";
            System.arraycopy(args, 0, full, 1, args.length);
            int status = Main.execute(full);
            return new Run(status, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void selfIpiPassesOnAvicOff() throws Exception {
        Path image = GuestImages.image("self-ipi");
        GuestImages.assumeKvm();
        Run r = boot(image.toString(), "--system", "avic-off", "--timeout", "20");
        assertThat(r.out()).contains("hello from self-ipi").contains("PASS").doesNotContain("FAIL");
        assertThat(r.status()).as("debug-exit 0 -> (0 << 1) | 1; stderr: %s", r.err()).isEqualTo(1);
    }

    @Test
    void aHungGuestEndsAtTheTimeoutWithItsLastSerialOutput() throws Exception {
        Path image = GuestImages.image("hang");
        GuestImages.assumeKvm();
        Run r = boot(image.toString(), "--timeout", "1");
        assertThat(r.status()).isEqualTo(KvmMachine.STATUS_TIMEOUT);
        assertThat(r.err()).contains("timeout").contains("hanging on purpose");
    }

    @Test
    void badImagesAreOneLineAndStatus2() throws Exception {
        Path notElf = Files.createTempFile("javic-boot", ".bin");
        Files.write(notElf, new byte[100]);
        Run r = boot(notElf.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("javic: ").contains("is not an ELF file").doesNotContain("\n");
        Run tooSmall = boot(GuestImages.image("self-ipi").toString(), "--memory", "1");
        assertThat(tooSmall.status()).isEqualTo(2);
        Files.delete(notElf);
    }

    @Test
    void avicOnSaysItIsNotThereYet() throws Exception {
        Run r = boot(GuestImages.image("self-ipi").toString(), "--system", "avic-on");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("not implemented yet");
    }
}
