package dev.javic.scenario;

import dev.javic.experiment.Expectations;
import dev.javic.experiment.ScenarioResult;
import dev.javic.experiment.SystemKind;
import dev.javic.scenario.CoreScenarios.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The core's scenario suite, after kvm-unit-tests' x86/apic.c: every scenario file under
 * {@code scenarios/core/} runs on vanilla and on avic-off and must meet its own {@code expect:} block.
 * The other tests check through the result what the YAML expectations cannot say: timing (timer
 * periods, deadlines), ordering across vCPUs, "exactly one of" (lowest priority), counts of reads.
 * Those are properties of the local APIC, so they run on all three systems.
 */
class CoreScenariosTest {
    /** The systems whose exit behaviour the core's scenarios are written for (expectations hold on both). */
    static final List<SystemKind> CORE_SYSTEMS = List.of(SystemKind.VANILLA, SystemKind.AVIC_OFF);

    static Stream<Arguments> scenariosOnCoreSystems() {
        return CoreScenarios.files().stream()
                .flatMap(f -> CORE_SYSTEMS.stream().map(s -> Arguments.of(f, s)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("scenariosOnCoreSystems")
    void expectationsHold(String file, SystemKind system) {
        Run run = CoreScenarios.run(file, system);
        assertThat(run.scenario().expectations()).as("%s has an expect: block", file).isNotEmpty();
        List<String> diffs = Expectations.check(run.scenario(), run.result());
        assertThat(diffs).as("%s on %s:%n%s", file, system, CoreScenarios.describe(run)).isEmpty();
    }

    @Test
    void theSuiteHasAtLeast25Scenarios() {
        assertThat(CoreScenarios.files()).hasSizeGreaterThanOrEqualTo(25);
    }

    /** The AVIC series with avic=0 must behave exactly like KVM before it: same interrupts, reads and exits. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.javic.scenario.CoreScenarios#files")
    void vanillaAndAvicOffTakeTheSameInterruptsReadsAndExits(String file) {
        Run vanilla = CoreScenarios.run(file, SystemKind.VANILLA);
        Run off = CoreScenarios.run(file, SystemKind.AVIC_OFF);
        for (int v = 0; v < vanilla.result().vcpus().size(); v++) {
            String why = String.format("vCPU %d%n%s%n%s", v, CoreScenarios.describe(vanilla), CoreScenarios.describe(off));
            assertThat(off.vectors(v)).as(why).isEqualTo(vanilla.vectors(v));
            assertThat(values(off.vcpu(v).reads())).as(why).isEqualTo(values(vanilla.vcpu(v).reads()));
            assertThat(off.vcpu(v).exits()).as(why).isEqualTo(vanilla.vcpu(v).exits());
        }
    }

    /** Same seed, same system: the same result to the nanosecond. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.javic.scenario.CoreScenarios#files")
    void runsAreDeterministic(String file) {
        ScenarioResult a = CoreScenarios.run(file, SystemKind.AVIC_OFF).result();
        ScenarioResult b = CoreScenarios.run(file, SystemKind.AVIC_OFF).result();
        assertThat(b).isEqualTo(a);
    }

    /**
     * Reads as label=value, except values that measure time (TSC reads, timer current counts): vanilla runs
     * a few cycles faster (no blocking/unblocking hooks), so those differ by design.
     */
    private static List<String> values(List<ScenarioResult.Read> reads) {
        return reads.stream().map(r -> r.label().startsWith("tsc") || r.label().startsWith("tmcct") ? r.label()
                : r.label() + "=" + Long.toHexString(r.value())).toList();
    }

    // ---- what the YAML cannot express ---------------------------------------------------------------------

    /** test_apic_timer_one_shot: lvtt_counter == 1 and tsc2 - tsc1 >= interval (in APIC bus ns here). */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void oneShotTimerFiresAfterItsCountAndOnlyOnce(SystemKind system) {
        Run run = CoreScenarios.run("timer-oneshot.yaml", system);
        String why = CoreScenarios.describe(run);
        long countNs = 0x10000; // KVM's APIC bus: 1 count = 1 ns at divide 1
        ScenarioResult.Read start = run.read(0, "tsc_start");
        ScenarioResult.Read atIrq = run.read(0, "tsc_irq");
        assertThat(run.tscToNs(atIrq.value() - start.value())).as(why).isGreaterThanOrEqualTo(countNs);
        List<Long> fired = run.times(0, 0xee);
        assertThat(fired).as(why).hasSize(1);
        assertThat(fired.get(0) - start.timeNs()).as(why).isBetween(countNs, countNs + 20_000);
    }

    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void periodicTimerFiresOncePerPeriod(SystemKind system) {
        Run run = CoreScenarios.run("timer-periodic.yaml", system);
        List<Long> t = run.times(0, 0xec);
        assertThat(t).as(CoreScenarios.describe(run)).hasSize(3);
        for (int i = 1; i < t.size(); i++) {
            assertThat(t.get(i) - t.get(i - 1)).as("period %d%n%s", i, CoreScenarios.describe(run))
                    .isBetween(250_000L - 5_000, 250_000L + 5_000);
        }
    }

    /** test_tsc_deadline_timer: a deadline already reached fires before the next instruction completes. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void tscDeadlineFiresAtOnceForAPastDeadlineAndLaterForAFutureOne(SystemKind system) {
        Run run = CoreScenarios.run("timer-tsc-deadline.yaml", system);
        String why = CoreScenarios.describe(run);
        List<Long> fired = run.times(0, 0xef);
        assertThat(fired).as(why).hasSize(2);
        assertThat(fired.get(0)).as(why).isLessThanOrEqualTo(run.read(0, "deadline_after_fire").timeNs());
        ScenarioResult.Read armed = run.read(0, "deadline_armed");
        assertThat(armed.value()).as("the MSR holds the armed deadline%n%s", why).isNotZero();
        assertThat(fired.get(1) - armed.timeNs()).as(why).isGreaterThan(40_000L); // 90000 cycles = 50 us
        assertThat(run.read(0, "cpuid1.ecx").value() & (1L << 24)).as("CPUID.1:ECX.TSC_DEADLINE%n%s", why).isNotZero();
    }

    /** test_apic_change_mode: the TMCCT ranges (the exact zeros and TMICT values are in the YAML). */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void timerCountSurvivesModeChanges(SystemKind system) {
        Run run = CoreScenarios.run("timer-change-mode.yaml", system);
        String why = CoreScenarios.describe(run);
        long half = 400_000 / 2;
        assertThat(run.read(0, "tmcct_oneshot_start").value()).as(why).isBetween(1L, 400_000L);
        assertThat(run.read(0, "tmcct_switched_periodic").value()).as("not reset to TMICT%n%s", why).isBetween(1L, half - 1);
        assertThat(run.read(0, "tmcct_reloaded").value()).as("reloaded from TMICT%n%s", why).isBetween(half + 1, 400_000L);
        assertThat(run.read(0, "tmcct_switched_oneshot").value()).as("not reset to TMICT%n%s", why).isBetween(1L, half - 1);
    }

    /** Interrupts held while IF = 0 are taken only after STI. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void interruptHeldByCliIsTakenAfterSti(SystemKind system) {
        Run run = CoreScenarios.run("cli-holds-interrupts.yaml", system);
        assertThat(run.times(0, 0x41)).as(CoreScenarios.describe(run)).singleElement()
                .satisfies(t -> assertThat(t).isGreaterThan(run.read(0, "isr_while_cli").timeNs()));
    }

    /** Lowest priority: every interrupt goes to exactly one of the APICs its destination names. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void lowestPriorityInterruptsReachExactlyOneTargetEach(SystemKind system) {
        Run run = CoreScenarios.run("lowest-priority.yaml", system);
        String why = CoreScenarios.describe(run);
        List<Integer> taken = new ArrayList<>(run.vectors(1));
        taken.addAll(run.vectors(2));
        assertThat(taken).as(why).containsExactlyInAnyOrder(0x81, 0x82, 0x83, 0x84);
        assertThat(run.vectors(0)).as("the sender is not in the destination%n%s", why).isEmpty();
    }

    /** Cross-vCPU order: the target takes the IPI after the sender sent it, and promptly. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void ipiToRunningTargetArrivesAfterTheSendAndPromptly(SystemKind system) {
        Run run = CoreScenarios.run("ipi-running-target.yaml", system);
        long sent = run.read(0, "tsc_send").timeNs();
        assertThat(run.times(1, 0x40)).as(CoreScenarios.describe(run)).singleElement()
                .satisfies(t -> assertThat(t - sent).isBetween(1L, 20_000L));
    }

    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void haltedTargetIsWokenByEachIpiInTurn(SystemKind system) {
        Run run = CoreScenarios.run("halted-target-woken.yaml", system);
        String why = CoreScenarios.describe(run);
        long sent40 = run.read(0, "tsc_send_40").timeNs();
        long sent41 = run.read(0, "tsc_send_41").timeNs();
        long took40 = run.times(1, 0x40).get(0);
        long took41 = run.times(1, 0x41).get(0);
        assertThat(took40).as(why).isBetween(sent40, sent40 + 30_000);
        assertThat(took40).as("0x40 was taken before 0x41 was even sent%n%s", why).isLessThan(sent41);
        assertThat(took41).as(why).isBetween(sent41, sent41 + 30_000);
    }

    /** INIT stops the target at once; it runs again only after the SIPI. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void initStopsTheTargetAndSipiRestartsIt(SystemKind system) {
        Run run = CoreScenarios.run("init-sipi.yaml", system);
        String why = CoreScenarios.describe(run);
        List<Long> t = run.times(1, 0x50);
        assertThat(t).as(why).hasSize(2);
        assertThat(t.get(0)).as("first run, before the INIT%n%s", why).isLessThan(run.read(0, "tsc_init").timeNs());
        assertThat(t.get(1)).as("second run, after the SIPI%n%s", why).isGreaterThan(run.read(0, "tsc_sipi").timeNs());
        assertThat(run.reads(1, "spiv_at_start")).as("the program ran twice%n%s", why).hasSize(2);
    }

    /** Broadcasts reach every vCPU within a short time of each other. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void broadcastsReachAllVcpusTogether(SystemKind system) {
        for (String file : List.of("physical-broadcast.yaml", "broadcast-all-shorthand.yaml")) {
            Run run = CoreScenarios.run(file, system);
            List<Long> t = new ArrayList<>();
            for (int v = 0; v < 3; v++) {
                t.addAll(run.times(v, 0xcf));
            }
            assertThat(t).as(CoreScenarios.describe(run)).hasSize(3);
            assertThat(t.stream().mapToLong(Long::longValue).max().getAsLong()
                    - t.stream().mapToLong(Long::longValue).min().getAsLong())
                    .as(CoreScenarios.describe(run)).isLessThan(20_000L);
        }
    }

    /** test_pending_nmi / test_multiple_nmi: the second NMI is held until the first handler's IRET. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void secondNmiWaitsForTheFirstHandlersIret(SystemKind system) {
        record Case(String file, long handlerCycles) {
        }
        for (Case c : List.of(new Case("pending-nmi.yaml", 100_000), new Case("multiple-nmi.yaml", 20_000))) {
            Run run = CoreScenarios.run(c.file(), system);
            List<Long> nmi = run.times(0, 2);
            assertThat(nmi).as(CoreScenarios.describe(run)).hasSize(2);
            assertThat((double) (nmi.get(1) - nmi.get(0))).as(CoreScenarios.describe(run))
                    .isGreaterThanOrEqualTo(run.tscToNs(c.handlerCycles()));
        }
    }

    /** No value the guest read is lost when an interrupt is delivered right after the read. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void everyReadIsRecordedUnderInterrupts(SystemKind system) {
        Run run = CoreScenarios.run("reads-under-interrupts.yaml", system);
        assertThat(run.reads(1, "tpr")).as(CoreScenarios.describe(run)).hasSize(40);
        assertThat(run.vectors(1)).as(CoreScenarios.describe(run)).hasSize(8);
    }

    /** Each vector of a logical destination reaches a set of vCPUs; these are the sets. */
    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void logicalDestinationsReachExactlyTheirTargets(SystemKind system) {
        Run run = CoreScenarios.run("logical-cluster.yaml", system);
        assertThat(receivers(run, 0x71)).containsExactlyInAnyOrder(1, 2);
        assertThat(receivers(run, 0x72)).containsExactlyInAnyOrder(1);
        assertThat(receivers(run, 0x73)).containsExactlyInAnyOrder(3);
        assertThat(receivers(run, 0x74)).isEmpty();
        assertThat(receivers(run, 0x75)).containsExactlyInAnyOrder(0, 1, 2, 3);
    }

    private static Set<Integer> receivers(Run run, int vector) {
        Set<Integer> who = new HashSet<>();
        for (int v = 0; v < run.result().vcpus().size(); v++) {
            if (run.vectors(v).contains(vector)) {
                who.add(v);
            }
        }
        return who;
    }
}
