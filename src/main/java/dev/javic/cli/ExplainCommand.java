package dev.javic.cli;

import dev.javic.experiment.Scenario;
import dev.javic.experiment.ScenarioRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.kvm.Kvm;
import dev.javic.kvm.Vcpu;
import dev.javic.kvm.Vm;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code javic explain FILE}: for each system, VM and vCPU, whether AVIC is active and every reason it is not. */
@Command(name = "explain", mixinStandardHelpOptions = true,
        description = "Say, for each VM and vCPU of a scenario, whether AVIC is active and, if not, every reason why. "
                + "Without --system, answers for vanilla, avic-off and avic-on.")
final class ExplainCommand implements Callable<Integer> {
    @Mixin
    ScenarioOptions options;

    @Override
    public Integer call() {
        Scenario scenario = options.load();
        List<SystemKind> systems = options.systemsOrAll();
        for (SystemKind system : systems) {
            ScenarioRunner runner = options.runner(scenario, system).build();
            Kvm kvm = runner.kvm();
            Vm vm = runner.vm();
            System.out.printf("%s: kvm_amd avic=%d, CPU %s AVIC%n", system.label(), system.params().avic() ? 1 : 0,
                    kvm.cpuHasAvic() ? "has" : "lacks");
            System.out.printf("  VM %s: AVIC %s%n", scenario.name(), vm.avicActive() ? "active" : "inactive");
            for (String reason : vm.avicInactiveReasons()) {
                System.out.println("    - " + reason);
            }
            for (Vcpu v : vm.vcpus()) {
                System.out.printf("  vcpu %d (APIC ID %d, host cpu %d): AVIC %s%n", v.vcpuId(), v.lapic().apicId(),
                        v.hostCpuId(), vm.avicActive() ? "active: IPIs, EOI and TPR writes accelerated, interrupts via the backing page"
                                : "inactive: APIC accesses exit and are emulated; interrupts injected with event_inj / V_IRQ");
            }
        }
        return 0;
    }
}
