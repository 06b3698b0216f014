package dev.javic.arch;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

/**
 * The layer rules of design.md, checked on the compiled classes: the guest reaches the machine only
 * through CPU operations (it never sees the hypervisor or the host); the hypervisor reaches the guest
 * only through the hardware; the hardware knows nothing of the software above it.
 */
class LayerRulesTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.javic");
    }

    @Test
    void guestNeverImportsKvmOrHost() {
        noClasses().that().resideInAPackage("dev.javic.guest..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.javic.kvm..", "dev.javic.host..",
                        "dev.javic.experiment..", "dev.javic.cli..")
                .check(classes);
    }

    @Test
    void guestProgramsAnywhereStayGuests() {
        // Workloads keep guest programs and host threads side by side (netperf's guest, vhost, netserver):
        // whatever runs as guest code must still see only CPU operations.
        noClasses().that().implement(dev.javic.hw.GuestProgram.class)
                .or().implement(dev.javic.guest.kernel.TaskProgram.class)
                .should().dependOnClassesThat().resideInAnyPackage("dev.javic.kvm..", "dev.javic.host..",
                        "dev.javic.experiment..", "dev.javic.cli..", "dev.javic.devkvm..")
                .check(classes);
    }

    @Test
    void kvmReachesTheGuestOnlyThroughHardware() {
        noClasses().that().resideInAPackage("dev.javic.kvm..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.javic.guest..", "dev.javic.workload..",
                        "dev.javic.experiment..", "dev.javic.cli..")
                .check(classes);
    }

    @Test
    void hardwareKnowsNoSoftwareAboveIt() {
        noClasses().that().resideInAPackage("dev.javic.hw..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.javic.kvm..", "dev.javic.host..",
                        "dev.javic.guest..", "dev.javic.workload..", "dev.javic.experiment..", "dev.javic.cli..")
                .check(classes);
    }

    @Test
    void hostKnowsNeitherHypervisorNorGuest() {
        noClasses().that().resideInAPackage("dev.javic.host..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.javic.kvm..", "dev.javic.guest..",
                        "dev.javic.workload..", "dev.javic.experiment..", "dev.javic.cli..")
                .check(classes);
    }

    @Test
    void simulationEngineAndTraceDependOnNothingAbove() {
        noClasses().that().resideInAnyPackage("dev.javic.sim..", "dev.javic.trace..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.javic.kvm..", "dev.javic.host..",
                        "dev.javic.guest..", "dev.javic.workload..", "dev.javic.experiment..", "dev.javic.cli..")
                .check(classes);
    }

    @Test
    void localApicDoesNotDependOnTheSimulator() {
        // design.md "Two ways to drive the same model": the APIC must be drivable by a real vCPU thread.
        noClasses().that().resideInAPackage("dev.javic.kvm.lapic..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.javic.sim..", "dev.javic.host..")
                .check(classes);
    }
}
