package dev.javic.devkvm;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds the guest test images once per JVM with src/test/guest/build.sh into target/guest. */
final class GuestImages {
    private static final Path OUT = Path.of("target", "guest");
    private static boolean built;

    private GuestImages() {
    }

    static synchronized Path image(String name) throws IOException, InterruptedException {
        if (!built) {
            Process p = new ProcessBuilder("bash", "src/test/guest/build.sh", OUT.toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            int rc = p.waitFor();
            Assumptions.assumeTrue(rc != 2, "guest images need GNU as/ld: " + log.strip());
            if (rc != 0) {
                throw new IllegalStateException("src/test/guest/build.sh failed:\n" + log);
            }
            built = true;
        }
        Path image = OUT.resolve(name + ".elf");
        if (!Files.isRegularFile(image)) {
            throw new IllegalStateException("no guest image " + image);
        }
        return image;
    }

    /** Skips the calling test, with the reason, when /dev/kvm cannot be used here. */
    static void assumeKvm() {
        String reason = KvmApi.unavailableReason(KvmApi.DEV_KVM);
        Assumptions.assumeTrue(reason == null, reason);
    }
}
