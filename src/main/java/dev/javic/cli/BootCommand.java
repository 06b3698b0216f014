package dev.javic.cli;

import dev.javic.devkvm.AvicAccounting;
import dev.javic.devkvm.KvmApi;
import dev.javic.devkvm.KvmMachine;
import dev.javic.devkvm.MultibootImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code javic boot IMAGE}: runs real guest code on /dev/kvm against javic's local APIC (docs/devkvm.md). */
@Command(name = "boot", mixinStandardHelpOptions = true,
        description = "Boot a Multiboot v1 ELF image on /dev/kvm (no in-kernel irqchip: javic's local APIC "
                + "serves every APIC access; vCPU 0 boots, the others wait for INIT/SIPI). Serial port 0x3F8 goes to stdout. Exit status: (v<<1)|1 when the guest "
                + "writes v to the debug-exit port 0xF4; " + KvmMachine.STATUS_TIMEOUT + " on --timeout; "
                + KvmMachine.STATUS_GUEST_ERROR + " if the guest crashed or KVM could not run it; 2 bad input or no /dev/kvm.")
final class BootCommand implements Callable<Integer> {
    @Parameters(paramLabel = "IMAGE", description = "Multiboot v1 kernel (32-bit ELF).")
    Path image;

    @Option(names = "--memory", paramLabel = "MiB", defaultValue = "64", description = "Guest RAM from physical 0 (2..3072 MiB; default ${DEFAULT-VALUE}).")
    int memoryMib;

    @Option(names = "--vcpus", paramLabel = "N", defaultValue = "1", description = "vCPUs (1.." + KvmMachine.MAX_VCPUS
            + "; default ${DEFAULT-VALUE}); APIC ID = vCPU index.")
    int vcpus;

    @Option(names = "--timeout", paramLabel = "S", defaultValue = "10", description = "End a guest that has not finished after S seconds (default ${DEFAULT-VALUE}).")
    double timeoutSeconds;

    @Option(names = "--append", paramLabel = "ARGS", defaultValue = "", description = "Kernel command line (after the image name).")
    String append;

    @Option(names = "--system", paramLabel = "SYSTEM", defaultValue = "avic-off", description = "avic-off, or avic-on: the "
            + "same run, then a per-vCPU report of what AVIC would have done with each APIC access (accelerated, "
            + "AVIC_UNACCELERATED_ACCESS trap/fault, AVIC_INCOMPLETE_IPI with its cause) next to avic-off's exits.")
    String system;

    @Option(names = "--trace", paramLabel = "OUT", description = "Write the run as Linux ftrace text (kvm_userspace_exit, "
            + "kvm_apic, kvm_apic_ipi, kvm_apic_accept_irq, kvm_eoi, kvm_inj_virq, kvm_msr, kvm_vcpu_wakeup; host threads, "
            + "CPUs and times) to OUT.")
    Path trace;

    @Option(names = "--json", description = "With --system avic-on: print the AVIC report as JSON (one line) after the guest's serial output.")
    boolean json;

    @Override
    public Integer call() throws InterruptedException {
        PrintStream err = System.err;
        if (!system.equals("avic-off") && !system.equals("avic-on")) {
            err.println("javic: unknown --system '" + system + "' for boot (avic-off or avic-on)");
            return 2;
        }
        if (json && !system.equals("avic-on")) {
            err.println("javic: --json is the AVIC report of --system avic-on");
            return 2;
        }
        if (memoryMib * (1L << 20) < KvmMachine.MIN_MEMORY || memoryMib * (1L << 20) > KvmMachine.MAX_MEMORY) {
            err.println("javic: --memory must be between 2 and 3072 MiB (RAM stays below the APIC page at 0xFEE00000)");
            return 2;
        }
        if (vcpus < 1 || vcpus > KvmMachine.MAX_VCPUS) {
            err.println("javic: --vcpus must be between 1 and " + KvmMachine.MAX_VCPUS);
            return 2;
        }
        if (!(timeoutSeconds > 0)) {
            err.println("javic: --timeout must be positive");
            return 2;
        }
        long memory = memoryMib * (1L << 20);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(image);
        } catch (NoSuchFileException e) {
            err.println("javic: no such image: " + image);
            return 2;
        } catch (IOException e) {
            err.println("javic: cannot read " + image + ": " + e.getMessage());
            return 2;
        }
        MultibootImage kernel;
        try {
            kernel = MultibootImage.parse(image.toString(), bytes, memory);
        } catch (MultibootImage.BadImageException e) {
            err.println("javic: " + e.getMessage());
            return 2;
        }
        String unavailable = KvmApi.unavailableReason(KvmApi.DEV_KVM);
        if (unavailable != null) {
            err.println("javic: " + unavailable);
            return 2;
        }
        java.io.Writer traceOut = null;
        if (trace != null) {
            if (trace.getFileName() != null && trace.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".json")) {
                err.println("javic: boot --trace writes ftrace text only (Perfetto opens it too): name the file e.g. boot.trace");
                return 2;
            }
            try {
                traceOut = Files.newBufferedWriter(trace);
            } catch (NoSuchFileException e) {
                err.println("javic: cannot write --trace " + trace + ": its directory does not exist");
                return 2;
            } catch (IOException e) {
                err.println("javic: cannot write --trace " + trace + ": " + e.getMessage());
                return 2;
            }
        }
        Duration timeout = Duration.ofMillis((long) (timeoutSeconds * 1000));
        KvmMachine.Result result;
        String report = null;
        try (KvmMachine vm = new KvmMachine(new KvmMachine.Config(memory, append, timeout, System.out), vcpus)) {
            if (traceOut != null) {
                vm.enableTrace(traceOut); // closed with the VM
            }
            try {
                vm.load(kernel);
            } catch (MultibootImage.BadImageException e) {
                err.println("javic: " + e.getMessage());
                return 2;
            }
            AvicAccounting avic = system.equals("avic-on") ? vm.enableAvicAccounting() : null;
            result = vm.run();
            if (avic != null) {
                report = json ? avic.json() : avic.text();
            }
        }
        System.out.flush();
        if (report != null) {
            System.out.println(json ? report : "\n" + report.stripTrailing());
            System.out.flush();
        }
        switch (result.outcome()) {
            case DEBUG_EXIT -> {
                // the guest's verdict is its exit status
            }
            case TIMEOUT -> {
                err.println("javic: timeout: " + result.detail() + "; last serial output:");
                err.println(tail(result.lastSerial(), 20));
            }
            case GUEST_ERROR -> {
                err.println("javic: " + result.detail() + "; last serial output:");
                err.println(tail(result.lastSerial(), 20));
            }
        }
        return result.exitStatus();
    }

    /** The last {@code lines} lines of {@code text}, indented, or "(none)". */
    static String tail(String text, int lines) {
        if (text == null || text.isEmpty()) {
            return "  (none)";
        }
        String[] all = text.split("\n", -1);
        int from = Math.max(0, all.length - lines - (text.endsWith("\n") ? 1 : 0));
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < all.length; i++) {
            if (i == all.length - 1 && all[i].isEmpty()) {
                break;
            }
            sb.append(sb.isEmpty() ? "" : "\n").append("  | ").append(all[i]);
        }
        return sb.toString();
    }
}
