package dev.javic.guest.kernel;

import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import dev.javic.workload.Hackbench;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Batching must not change what is simulated: a small hackbench run with batching (unobservable runs of
 * system calls as one WORK) and without it (one WORK per system call, split at its effect) gives the same
 * time to the cycle, the same exits by reason, interrupts, IPIs, context switches, wake-ups and
 * migrations; only the number of simulator events differs.
 */
class BatchingExactnessTest {
    private static final CostModel COSTS = CostModel.defaults();

    static HackbenchRunner.Outcome run(SystemKind s, int vcpus, int groups, int fds, int loops, long seed, boolean batching) {
        return HackbenchRunner.run(new HackbenchRunner.Spec(s, vcpus, new Hackbench.Params(groups, fds, loops), seed, COSTS,
                batching));
    }

    @ParameterizedTest
    @CsvSource({"VANILLA,2,3", "AVIC_OFF,2,5", "AVIC_ON,2,11", "AVIC_OFF,4,13", "AVIC_ON,4,17", "VANILLA,3,19"})
    void batchedRunEqualsStepByStepRun(SystemKind system, int vcpus, long seed) {
        assertSame(system, vcpus, 2, 8, 60, seed);
    }

    /**
     * Runs that diverged before instruction boundaries were ordered after everything else of their instant
     * and, across cores, by core ({@code SimEvent.late}): a WORK issued whole or in pieces to the same end
     * cycle has its end boundary scheduled at different times, so FIFO tie-breaking ordered it differently
     * against (1) a host IPI arriving at that very cycle (taken before or after the next instruction, e.g. a
     * CLI: the first two rows; 2 x 20 x 20 vanilla seed 2 is the smallest run found, 2 x 20 x 600 avic-off
     * seed 1 the reported 1.0181 s batched vs 0.684 s step by step) and (2) guest kernel code on another vCPU
     * at the same cycle (schedule() on one, try_to_wake_up reading its run queue on the other: the last two
     * rows, which ordering boundaries after arrivals alone does not fix).
     */
    @ParameterizedTest
    @CsvSource({"VANILLA,2,2,20,20,2", "AVIC_OFF,2,2,20,600,1", "AVIC_ON,3,1,20,200,4", "AVIC_OFF,3,1,20,200,3"})
    void sameInstantEventsDoNotDependOnBatching(SystemKind system, int vcpus, int groups, int fds, int loops, long seed) {
        assertSame(system, vcpus, groups, fds, loops, seed);
    }

    private static void assertSame(SystemKind system, int vcpus, int groups, int fds, int loops, long seed) {
        HackbenchRunner.Outcome step = run(system, vcpus, groups, fds, loops, seed, false);
        HackbenchRunner.Outcome batched = run(system, vcpus, groups, fds, loops, seed, true);
        assertThat(batched.seconds()).isEqualTo(step.seconds());
        assertThat(batched.simulatedSeconds()).isEqualTo(step.simulatedSeconds());
        assertThat(batched.exitsByReason()).isEqualTo(step.exitsByReason());
        assertThat(batched.interruptsDelivered()).isEqualTo(step.interruptsDelivered());
        assertThat(batched.reschedIpis()).isEqualTo(step.reschedIpis());
        assertThat(batched.contextSwitches()).isEqualTo(step.contextSwitches());
        assertThat(batched.wakeups()).isEqualTo(step.wakeups());
        assertThat(batched.migrations()).isEqualTo(step.migrations());
        assertThat(batched.doorbells()).isEqualTo(step.doorbells());
        assertThat(batched.hostIpis()).isEqualTo(step.hostIpis());
        assertThat(batched.messagesRead()).isEqualTo(step.messagesRead());
        assertThat(batched.unattributedPauses()).isZero();
        assertThat(step.unattributedPauses()).isZero();
        // and batching pays: fewer simulator events for the same simulation
        assertThat(batched.events()).isLessThan(step.events());
        System.out.printf("%s %d vCPUs: %.6f s, %d exits, %d IPIs, events %d -> %d, %.1f actions per WORK%n", system, vcpus,
                batched.seconds(), batched.exits(), batched.reschedIpis(), step.events(), batched.events(),
                (double) batched.plannedActions() / batched.plans());
    }
}
