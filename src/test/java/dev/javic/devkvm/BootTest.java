package dev.javic.devkvm;

import dev.javic.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

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

    /**
     * Every shipped image that reports PASS on 1..4 vCPUs, on both systems: the same verdict (exit status 1)
     * and its own success line.
     */
    @ParameterizedTest(name = "{0} on {1} vCPUs, {2}")
    @MethodSource("smpRuns")
    void smpImagesPassOnOneToFourVcpusOnBothSystems(String name, int vcpus, String system, String expect) throws Exception {
        Path image = GuestImages.image(name);
        GuestImages.assumeKvm();
        Run r = boot(image.toString(), "--vcpus", Integer.toString(vcpus), "--system", system, "--timeout", "30");
        assertThat(r.out()).contains(vcpus + " vCPUs").contains(expect).contains("PASS").doesNotContain("FAIL");
        assertThat(r.status()).as("stdout: %s%nstderr: %s", r.out(), r.err()).isEqualTo(1);
        if (system.equals("avic-on")) {
            assertThat(r.out()).contains("vCPU " + (vcpus - 1));
        }
    }

    static Stream<Arguments> smpRuns() {
        // image, what its success line says, the fewest vCPUs it tests something on
        Object[][] images = {
            {"self-ipi", "self IPI taken, ISR/EOI and TPR masking as expected", 1},
            {"smp-ipi", "IPIs to spinning and halted vCPUs taken", 1},
            {"acpi", "vCPUs in the MADT as fw_cfg says, I/O APIC registers, PM timer counting", 1},
            {"nmi", "vCPUs each took one NMI with IF clear (self, spinning and halted targets)", 1},
            {"timer", "TSC-deadline: interrupt at the deadline, MSR reads back then 0", 1},
            {"apic-base", "x2APIC bit without x2APIC in CPUID: #GP, base unchanged", 1},
            {"ipi-dest", "broadcast: all including self, all excluding self, physical 0xFF", 1},
            {"eoi-order", "C: pending 0x61, 0x6F, 0x45 taken as 0x6F, 0x61, 0x45", 1},
            {"nmi-nested", "a second NMI held while the first was in service, taken after IRETQ; a third one taken", 1},
            {"tpr", "each AP with TPR 0x80 held 0x70 in IRR, took 0x90, then 0x70 once TPR was 0", 2},
        };
        Stream.Builder<Arguments> b = Stream.builder();
        for (Object[] image : images) {
            for (int vcpus = (int) image[2]; vcpus <= 4; vcpus++) {
                for (String system : new String[] {"avic-off", "avic-on"}) {
                    b.add(Arguments.of(image[0], vcpus, system, image[1]));
                }
            }
        }
        return b.build();
    }

    @Test
    void anIpiToAHaltedVcpuIsReportedAsTargetNotRunningUnderAvic() throws Exception {
        Path image = GuestImages.image("smp-ipi");
        GuestImages.assumeKvm();
        Run r = boot(image.toString(), "--vcpus", "2", "--system", "avic-on", "--timeout", "30");
        assertThat(r.status()).as("stderr: %s", r.err()).isEqualTo(1);
        // smp-ipi.S: the BSP's second IPI to vCPU 1 waits until it is about to HLT; INIT and SIPI are not fixed.
        assertThat(row(r.out(), "write ICR (0x300) 2 AVIC_INCOMPLETE_IPI INVALID_INT_TYPE")).contains("2 exits (MMIO)");
        assertThat(r.out()).contains("accelerated: IPI to 1 running target");
    }

    @Test
    void traceIsFtraceTextOfTheRealThreadsWithTheApicsEvents() throws Exception {
        Path image = GuestImages.image("smp-ipi");
        GuestImages.assumeKvm();
        Path out = Files.createTempFile("javic-boot", ".trace");
        try {
            Run r = boot(image.toString(), "--vcpus", "2", "--trace", out.toString(), "--timeout", "30");
            assertThat(r.status()).as("stderr: %s", r.err()).isEqualTo(1);
            java.util.List<String> lines = Files.readAllLines(out);
            assertThat(lines.get(0)).isEqualTo("# tracer: nop");
            java.util.regex.Pattern linux = java.util.regex.Pattern.compile(
                    "^(.{16})-([\\d ]{7}) \\[(\\d{3})] \\.\\.\\.\\. ([ \\d]{4}\\d)\\.(\\d{6}): ([a-z_]+): (\\S.*)$");
            java.util.List<String> events = lines.stream().filter(l -> !l.startsWith("#")).toList();
            assertThat(events).allMatch(l -> linux.matcher(l).matches());
            String text = String.join("\n", events);
            // smp-ipi.S: vector 0x41 (65) by physical ID to vCPU 1, twice; vCPU 1 EOIs it and halts in between.
            assertThat(text).contains("javic-vcpu0-").contains("javic-vcpu1-")
                    .contains("kvm_userspace_exit: reason KVM_EXIT_MMIO (6)")
                    .contains("kvm_userspace_exit: reason KVM_EXIT_HLT (5)")
                    .contains("kvm_apic: apic_write APIC_ICR = 0xc4608")
                    .contains("kvm_apic_ipi: dst 0 vec 8 (SIPI|physical|assert|edge|all-but-self)")
                    .contains("kvm_apic_ipi: dst 1 vec 65 (Fixed|physical|de-assert|edge|dst)")
                    .contains("kvm_apic_accept_irq: apicid 1 vec 65 (Fixed|edge)")
                    .contains("kvm_inj_virq: IRQ 0x41")
                    .contains("kvm_eoi: apicid 1 vector 65")
                    .contains("kvm_vcpu_wakeup: wait time ");
            assertThat(events.stream().filter(l -> l.contains("kvm_apic_accept_irq: apicid 1 vec 65"))).hasSize(2);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    @Test
    void aJsonTraceOrAnUnwritableOneIsRefused() throws Exception {
        GuestImages.assumeKvm();
        Run r = boot(GuestImages.image("self-ipi").toString(), "--trace", "out.json");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("javic: boot --trace writes ftrace text only").doesNotContain("\n");
        Run noDir = boot(GuestImages.image("self-ipi").toString(), "--trace", "/no/such/dir/boot.trace");
        assertThat(noDir.status()).isEqualTo(2);
        assertThat(noDir.err().strip()).isEqualTo("javic: cannot write --trace /no/such/dir/boot.trace: its directory does not exist");
    }

    @Test
    void avicOnReportsFaultsMsrExitsNmisAndAbsentTargetsFromTheImagesThatCauseThem() throws Exception {
        GuestImages.assumeKvm();
        // timer.S reads TMCCT (an AVIC fault: the backing page has no current count) and writes IA32_TSC_DEADLINE.
        Run timer = boot(GuestImages.image("timer").toString(), "--system", "avic-on", "--timeout", "30");
        assertThat(timer.status()).as("stderr: %s", timer.err()).isEqualTo(1);
        assertThat(row(timer.out(), "read TMCCT (0x390)")).contains("AVIC_UNACCELERATED_ACCESS fault");
        assertThat(row(timer.out(), "write TMICT (0x380)")).contains("AVIC_UNACCELERATED_ACCESS trap");
        assertThat(row(timer.out(), "MSR (APIC_BASE, TSC_DEADLINE)")).matches(".*\\s([1-9]\\d*)\\s+\\1$");
        // nmi.S: one NMI per CPU, through KVM_NMI; an NMI IPI is not a fixed interrupt.
        Run nmi = boot(GuestImages.image("nmi").toString(), "--vcpus", "2", "--system", "avic-on", "--timeout", "30");
        assertThat(nmi.status()).as("stderr: %s", nmi.err()).isEqualTo(1);
        assertThat(row(nmi.out(), "NMIs delivered")).contains("injected (KVM_NMI)");
        assertThat(nmi.out()).contains("AVIC_INCOMPLETE_IPI INVALID_INT_TYPE");
        // ipi-dest.S: an IPI to physical ID N, which no vCPU has.
        Run dest = boot(GuestImages.image("ipi-dest").toString(), "--vcpus", "2", "--system", "avic-on", "--timeout", "30");
        assertThat(dest.status()).as("stderr: %s", dest.err()).isEqualTo(1);
        assertThat(dest.out()).contains("AVIC_INCOMPLETE_IPI INVALID_TARGET (index 2)");
    }

    @Test
    void relocatingTheApicInhibitsAvicForTheRestOfTheRunAsKvmDoes() throws Exception {
        Path image = GuestImages.image("apic-base");
        GuestImages.assumeKvm();
        Run r = boot(image.toString(), "--system", "avic-on", "--timeout", "30");
        assertThat(r.status()).as("stderr: %s", r.err()).isEqualTo(1);
        // apic-base.S: SPIV is written before the relocation (a trap), the self IPI after it (an MMIO exit).
        assertThat(r.out()).contains("AVIC was inhibited for the VM during the run (APIC_BASE_MODIFIED, sticky)");
        assertThat(row(r.out(), "write SPIV (0x0f0) 1 AVIC_UNACCELERATED_ACCESS trap")).contains("1 exit (MMIO)");
        assertThat(row(r.out(), "write ICR (0x300)")).contains("AVIC inhibited (APIC_BASE_MODIFIED): MMIO exit");
        assertThat(row(r.out(), "APIC accesses accelerated (no exit)")).endsWith(" 0");
        Run json = boot(image.toString(), "--system", "avic-on", "--json", "--timeout", "30");
        String last = json.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(last).get("inhibit").asText())
                .isEqualTo("APIC_BASE_MODIFIED");
    }

    @Test
    void vcpuCountOutsideTheRangeIsRefused() throws Exception {
        Run r = boot(GuestImages.image("smp-ipi").toString(), "--vcpus", "0");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("javic: --vcpus must be between 1 and").doesNotContain("\n");
    }

    @ParameterizedTest(name = "{0} vCPUs")
    @ValueSource(ints = {1, 4})
    void aHungGuestEndsAtTheTimeoutWithItsLastSerialOutput(int vcpus) throws Exception {
        Path image = GuestImages.image("hang");
        GuestImages.assumeKvm();
        Run r = boot(image.toString(), "--timeout", "1", "--vcpus", Integer.toString(vcpus));
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

    /** The report line for {@code access} (e.g. "write ICR (0x300)") in the avic-on text report. */
    private static String row(String out, String access) {
        return out.lines().filter(l -> l.strip().replaceAll("\\s+", " ").startsWith(access)).findFirst()
                .orElseThrow(() -> new AssertionError("no report row '" + access + "' in:\n" + out));
    }

    @Test
    void avicOnRunsWithTheSameVerdictAndReportsWhatAvicWouldHaveDone() throws Exception {
        Path image = GuestImages.image("self-ipi");
        GuestImages.assumeKvm();
        Run off = boot(image.toString(), "--system", "avic-off", "--timeout", "20");
        Run on = boot(image.toString(), "--system", "avic-on", "--timeout", "20");
        assertThat(on.status()).as("stderr: %s", on.err()).isEqualTo(off.status()).isEqualTo(1);
        assertThat(on.out()).contains("hello from self-ipi").contains("PASS").contains("vCPU 0");
        assertThat(off.out()).doesNotContain("AVIC accounting");
        // self-ipi.S: two self IPIs, two EOIs (edge), one SPIV write; each is an MMIO exit on avic-off.
        assertThat(row(on.out(), "write ICR (0x300)")).contains("accelerated: self IPI").contains("2 exits (MMIO)");
        assertThat(row(on.out(), "write EOI (0x0b0)")).contains("accelerated: EOI (edge)").contains("2 exits (MMIO)");
        assertThat(row(on.out(), "write SPIV (0x0f0)")).contains("AVIC_UNACCELERATED_ACCESS trap")
                .contains("1 exit (MMIO)");
        assertThat(row(on.out(), "write TPR (0x080)")).contains("accelerated: TPR write");
        assertThat(row(on.out(), "read IRR+0x20 (0x220)")).contains("accelerated: backing-page read");
        assertThat(row(on.out(), "interrupts delivered")).contains("2 injected");
        assertThat(row(on.out(), "AVIC_UNACCELERATED_ACCESS trap")).endsWith(" 1");
        assertThat(row(on.out(), "APIC access (MMIO)")).contains(" 15 ");
    }

    @Test
    void avicOnJsonReport() throws Exception {
        Path image = GuestImages.image("self-ipi");
        GuestImages.assumeKvm();
        Run r = boot(image.toString(), "--system", "avic-on", "--json", "--timeout", "20");
        assertThat(r.status()).as("stderr: %s", r.err()).isEqualTo(1);
        String last = r.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        com.fasterxml.jackson.databind.JsonNode vcpu = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(last).get("vcpus").get(0);
        java.util.Map<String, com.fasterxml.jackson.databind.JsonNode> byRegister = new java.util.HashMap<>();
        vcpu.get("accesses").forEach(a -> byRegister.put(a.get("access").asText() + " " + a.get("register").asText(), a));
        assertThat(byRegister.get("write ICR (0x300)").get("accelerated").asBoolean()).isTrue();
        assertThat(byRegister.get("write ICR (0x300)").get("avicOffExits").asInt()).isEqualTo(2);
        assertThat(byRegister.get("write EOI (0x0b0)").get("accelerated").asBoolean()).isTrue();
        assertThat(byRegister.get("write SPIV (0x0f0)").get("avicOnExit").asText()).isEqualTo("AVIC_UNACCELERATED_ACCESS trap");
        assertThat(byRegister.get("write SPIV (0x0f0)").get("avicOffExits").asInt()).isEqualTo(1);
        assertThat(vcpu.get("avicOn").get("unacceleratedTrap").asInt()).isEqualTo(1);
        assertThat(vcpu.get("avicOff").get("total").asInt()).isGreaterThan(vcpu.get("avicOn").get("total").asInt());
    }

    @Test
    void jsonWithoutAvicOnIsRefused() throws Exception {
        Run r = boot(GuestImages.image("self-ipi").toString(), "--json");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("--json");
    }
}
