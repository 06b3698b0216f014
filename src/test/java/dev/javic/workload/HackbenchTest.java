package dev.javic.workload;

import dev.javic.experiment.HackbenchRunner;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;

/** A tiny hackbench on each system: every message delivered, the time sensible, runs reproducible. */
class HackbenchTest {
    private static final CostModel COSTS = CostModel.defaults();

    static HackbenchRunner.Outcome run(SystemKind system, int vcpus, int groups, int fds, int loops, long seed, boolean batching) {
        return HackbenchRunner.run(new HackbenchRunner.Spec(system, vcpus, new Hackbench.Params(groups, fds, loops), seed,
                COSTS, batching));
    }

    @ParameterizedTest
    @EnumSource(SystemKind.class)
    void tinyHackbenchDeliversEveryMessage(SystemKind system) {
        HackbenchRunner.Outcome o = run(system, 2, 2, 5, 20, 1, true);
        assertThat(o.messagesRead()).isEqualTo(o.messagesExpected()).isEqualTo(2L * 5 * 5 * 20);
        assertThat(o.seconds()).isPositive();
        assertThat(o.reschedIpis()).isPositive();
        assertThat(o.unattributedPauses()).isZero();
    }

    @Test
    void sameSeedSameResult() {
        HackbenchRunner.Outcome a = run(SystemKind.AVIC_OFF, 2, 2, 6, 30, 7, true);
        HackbenchRunner.Outcome b = run(SystemKind.AVIC_OFF, 2, 2, 6, 30, 7, true);
        assertThat(b).isEqualTo(a);
    }
}
