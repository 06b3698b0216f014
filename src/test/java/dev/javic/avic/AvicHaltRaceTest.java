package dev.javic.avic;

import dev.javic.avic.RecordingSink.AccelIpi;
import dev.javic.avic.RecordingSink.Exit;
import dev.javic.avic.RecordingSink.IsRunning;
import dev.javic.avic.RecordingSink.SchedSwitch;
import dev.javic.experiment.Scenario;
import dev.javic.experiment.SystemKind;
import dev.javic.hw.SvmExit;
import dev.javic.sim.Cost;
import dev.javic.sim.TieBreak;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * No interrupt is lost when the target halts at the instant the IPI is sent (series item 12,
 * mission "an explorer of interleavings that proves no wake-up is lost").
 *
 * <p>vCPU 1 runs {@code work; cli; check; sti; hlt} (halt-race.yaml.in); its HLT exits, KVM's
 * kvm_vcpu_block runs the blocking hook (AVIC: IsRunning cleared), makes a last check for events and
 * sleeps. vCPU 0 writes the ICR after a delay that the test sweeps cycle by cycle, so that the IPI lands
 * in every phase of that path and exactly on each of its instants; every delay runs under FIFO, LIFO
 * and {@value #SHUFFLE_SEEDS} SHUFFLE orderings of simultaneous events ({@value #COINCIDENCE_SHUFFLE_SEEDS}
 * where the IPI falls within a cycle of one of the halt path's instants). vCPU 1 must take vector 0x41
 * exactly once in every run. The test also checks that every phase and every coincidence was hit, so
 * that a change of costs cannot quietly move the sweep off the race.
 */
class AvicHaltRaceTest {
    private static final int SHUFFLE_SEEDS = 8;
    private static final int COINCIDENCE_SHUFFLE_SEEDS = 64;
    private static final int VECTOR = 0x41;

    /** Where vCPU 1 is when vCPU 0's IPI is delivered (the ICR write with AVIC; KVM's handler without). */
    enum Phase {
        /** In the guest, before its HLT executed (interrupts off, or in the STI shadow of sti; hlt). */
        BEFORE_HLT,
        /** HLT executed, #VMEXIT under way (IsRunning still set; a doorbell finds the core exiting). */
        HLT_EXIT_IN_FLIGHT,
        /** KVM handles the HLT exit, up to the blocking hook (IsRunning still set). */
        KVM_HALT_HANDLING,
        /** Between the blocking hook clearing IsRunning and the last runnable check (AVIC only). */
        BETWEEN_ISRUNNING_CLEAR_AND_CHECK,
        /** Asleep in kvm_vcpu_block (or just now being put to sleep at the last check). */
        ASLEEP
    }

    /** The instants of vCPU 1's halt path that the IPI may coincide with. */
    enum Instant { HLT_EXECUTED, HLT_EXIT_DONE, ISRUNNING_CLEARED, LAST_CHECK_AND_SLEEP }

    /** vCPU 1's halt path when no IPI disturbs it, and the sender's ICR time for delay 0. */
    private record Timeline(long hltExecuted, long hltExitDone, long isRunningCleared, long asleep, long icrAtZero) {
    }

    private static String template() {
        try (InputStream in = AvicHaltRaceTest.class.getResourceAsStream("/scenarios/avic/halt-race.yaml.in")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Scenario scenario(String template, long senderDelay, long targetWork) {
        String yaml = template.replace("SENDER_DELAY", Long.toString(senderDelay))
                .replace("TARGET_WORK", Long.toString(targetWork));
        return AvicRun.inline("halt-race(delay=" + senderDelay + ")", yaml);
    }

    /** When the IPI reached vCPU 1: the AVIC unit's delivery, or (avic-off) KVM's handling of the ICR write. */
    private static long icrTime(RecordingSink t, SystemKind system) {
        if (system == SystemKind.AVIC_ON) {
            return t.all(AccelIpi.class, a -> a.vcpu() == 0 && a.vector() == VECTOR).get(0).time();
        }
        return t.all(Exit.class, e -> e.vcpu() == 0 && e.code() == SvmExit.NPF
                && e.info2() == AvicRun.APIC_BASE + 0x300).get(0).time();
    }

    private static Timeline timeline(String template, SystemKind system, long targetWork) {
        AvicRun quiet = AvicRun.run(scenario(template, 1_000_000, targetWork), system);
        RecordingSink t = quiet.trace();
        Exit hlt = t.exits(1, SvmExit.HLT).get(0);
        long hltExecuted = hlt.time() - AvicRun.COSTS.get(Cost.SVM_VMEXIT);
        long cleared = system == SystemKind.AVIC_ON
                ? t.all(IsRunning.class, r -> r.vcpu() == 1 && !r.running() && r.time() >= hlt.time()).get(0).time()
                : -1;
        long asleep = t.all(SchedSwitch.class, s -> s.prev().equals("CPU 1/KVM") && s.prevState().equals("S"))
                .get(0).time();
        AvicRun early = AvicRun.run(scenario(template, 0, targetWork), system);
        return new Timeline(hltExecuted, hlt.time(), cleared, asleep, icrTime(early.trace(), system));
    }

    private static Phase phase(Timeline tl, long t) {
        if (t < tl.hltExecuted()) {
            return Phase.BEFORE_HLT;
        }
        if (t < tl.hltExitDone()) {
            return Phase.HLT_EXIT_IN_FLIGHT;
        }
        if (tl.isRunningCleared() >= 0 && t < tl.isRunningCleared()) {
            return Phase.KVM_HALT_HANDLING;
        }
        if (t < tl.asleep()) {
            return tl.isRunningCleared() >= 0 ? Phase.BETWEEN_ISRUNNING_CLEAR_AND_CHECK : Phase.KVM_HALT_HANDLING;
        }
        return Phase.ASLEEP;
    }

    private static void sweep(SystemKind system, long targetWork, List<Phase> expectedPhases) {
        String template = template();
        Timeline tl = timeline(template, system, targetWork);
        assertThat(tl.icrAtZero()).as("the sender must be able to beat the HLT: %s", tl)
                .isLessThan(tl.hltExecuted() - 200);

        // Every cycle from just before the HLT to just after the sleep, with FIFO, LIFO and SHUFFLE seeds
        // (many more where the IPI coincides with an instant of the halt path, where the order of
        // simultaneous events decides); a coarser sweep before (vCPU 1 still working) and after (asleep,
        // then woken).
        long fineFrom = Math.max(0, tl.hltExecuted() - 100 - tl.icrAtZero());
        long fineTo = tl.asleep() + 100 - tl.icrAtZero();
        List<long[]> plan = new ArrayList<>(); // {delay, shuffle seeds}
        for (long d = 0; d < fineFrom; d += 23) {
            plan.add(new long[] {d, 2});
        }
        for (long d = fineFrom; d <= fineTo; d++) {
            plan.add(new long[] {d, nearAnInstant(tl, tl.icrAtZero() + d) ? COINCIDENCE_SHUFFLE_SEEDS : SHUFFLE_SEEDS});
        }
        for (long d = fineTo + 1; d <= fineTo + 8000; d += 23) {
            plan.add(new long[] {d, 2});
        }

        Map<Phase, Integer> phases = new EnumMap<>(Phase.class);
        Map<Instant, Integer> coincidences = new EnumMap<>(Instant.class);
        List<String> lost = new ArrayList<>();
        int runs = 0;
        for (long[] step : plan) {
            long delay = step[0];
            Scenario s = scenario(template, delay, targetWork);
            for (int k = 0; k < 2 + step[1]; k++) {
                TieBreak tb = k == 0 ? TieBreak.FIFO : k == 1 ? TieBreak.LIFO : TieBreak.SHUFFLE;
                long seed = k < 2 ? 1 : k - 1;
                AvicRun run = AvicRun.run(s, system, tb, seed, new RecordingSink());
                runs++;
                long t = icrTime(run.trace(), system);
                Phase p = phase(tl, t);
                phases.merge(p, 1, Integer::sum);
                countCoincidences(tl, t, coincidences);
                if (!run.interrupts(1).equals(List.of(VECTOR))) {
                    lost.add(String.format("%s delay=%d %s seed=%d phase=%s: vCPU 1 took %s (reproduce: "
                                    + "halt-race.yaml.in with SENDER_DELAY=%d, TARGET_WORK=%d, --tie-break %s --seed %d)",
                            system, delay, tb, seed, p, run.interrupts(1), delay, targetWork, tb, seed));
                }
            }
        }
        System.out.printf("halt race %s: %d runs, timeline %s, phases %s, coincidences %s%n", system, runs, tl,
                phases, coincidences);
        assertThat(lost).as("lost or duplicated interrupts in %d runs (timeline %s)", runs, tl).isEmpty();
        assertThat(phases.keySet()).as("phases hit: %s", phases).containsExactlyInAnyOrderElementsOf(expectedPhases);
        List<Instant> instants = system == SystemKind.AVIC_ON ? List.of(Instant.values())
                : List.of(Instant.HLT_EXECUTED, Instant.HLT_EXIT_DONE, Instant.LAST_CHECK_AND_SLEEP);
        for (Instant i : instants) {
            assertThat(coincidences.getOrDefault(i, 0)).as("runs whose IPI coincided with %s", i)
                    .isGreaterThanOrEqualTo(2 + COINCIDENCE_SHUFFLE_SEEDS);
        }
    }

    private static boolean nearAnInstant(Timeline tl, long t) {
        for (long i : new long[] {tl.hltExecuted(), tl.hltExitDone(), tl.isRunningCleared(), tl.asleep()}) {
            if (Math.abs(t - i) <= 1) {
                return true;
            }
        }
        return false;
    }

    private static void countCoincidences(Timeline tl, long t, Map<Instant, Integer> out) {
        if (t == tl.hltExecuted()) {
            out.merge(Instant.HLT_EXECUTED, 1, Integer::sum);
        }
        if (t == tl.hltExitDone()) {
            out.merge(Instant.HLT_EXIT_DONE, 1, Integer::sum);
        }
        if (t == tl.isRunningCleared()) {
            out.merge(Instant.ISRUNNING_CLEARED, 1, Integer::sum);
        }
        if (t == tl.asleep()) {
            out.merge(Instant.LAST_CHECK_AND_SLEEP, 1, Integer::sum);
        }
    }

    @Test
    void avicOnNeverLosesTheIpiWhateverThePhaseOfTheHalt() {
        sweep(SystemKind.AVIC_ON, 2000, List.of(Phase.values()));
    }

    @Test
    void avicOffNeverLosesTheIpiWhateverThePhaseOfTheHalt() {
        sweep(SystemKind.AVIC_OFF, 8000, List.of(Phase.BEFORE_HLT, Phase.HLT_EXIT_IN_FLIGHT,
                Phase.KVM_HALT_HANDLING, Phase.ASLEEP));
    }
}
