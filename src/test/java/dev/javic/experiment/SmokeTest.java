package dev.javic.experiment;

import dev.javic.trace.TraceSink;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

class SmokeTest {
    @Test
    void ipiRunning() {
        Scenario s = ScenarioLoader.load(Path.of("examples/ipi-running.yaml"));
        TraceSink p = new TraceSink() {
            public void kvmExit(long t, int cpu, int v, int code, long rip, long i1, long i2, int ii, int ec) {
                System.out.printf("%d cpu%d vcpu%d exit %s rip %x info %x %x%n", t, cpu, v, dev.javic.hw.SvmExit.name(code), rip, i1, i2);
            }
            public void kvmEntry(long t, int cpu, int v, long rip) { System.out.printf("%d vcpu%d entry rip %x%n", t, v, rip); }
            public void kvmApic(long t, int cpu, int v, boolean w, int reg, int val) { System.out.printf("%d vcpu%d apic %s %x = %x%n", t, v, w ? "w" : "r", reg, val); }
            public void kvmApicAcceptIrq(long t, int cpu, int apic, int dm, boolean lv, int vec) { System.out.printf("%d accept apic %d vec %x%n", t, apic, vec); }
            public void kvmInjVirq(long t, int cpu, int v, int vec, boolean s, boolean r) { System.out.printf("%d inj vcpu%d %x%n", t, v, vec); }
            public void guestInterrupt(long t, int cpu, int v, int vec) { System.out.printf("%d guest irq vcpu%d %x%n", t, v, vec); }
            public void avicIpiAccelerated(long t, int cpu, int v, int tgt, int vec, boolean run) { System.out.printf("%d avic ipi %d->%d %x running %s%n", t, v, tgt, vec, run); }
        };
        for (SystemKind k : new SystemKind[] {SystemKind.AVIC_OFF, SystemKind.AVIC_ON}) {
            ScenarioRunner runner = new ScenarioRunner(s).system(k).trace(p);
            ScenarioResult r = runner.run();
            var l = runner.vm().vcpu(1).lapic();
            System.out.println(k + " irr=" + l.highestIrr() + " isr=" + l.highestIsr() + " en=" + l.isEnabled() + " sw=" + l.isSoftwareEnabled() + " hw=" + l.isHardwareEnabled() + " has=" + l.hasInterrupt() + " ppr=" + l.ppr() + " rflags=" + runner.vm().vcpu(1).vmcb().rflags());
        }
    }
}
