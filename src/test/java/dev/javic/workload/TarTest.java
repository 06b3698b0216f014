package dev.javic.workload;

import dev.javic.experiment.SystemKind;
import dev.javic.experiment.TarRunner;
import dev.javic.sim.CostModel;
import dev.javic.workload.tar.Tar;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** A small tar xf on 4 vCPUs: every byte and file arrives, block I/O completes, runs reproducible. */
class TarTest {
    private static final CostModel COSTS = CostModel.defaults();

    static TarRunner.Outcome run(SystemKind system, Tar.Params p, long seed, boolean batching) {
        return TarRunner.run(new TarRunner.Spec(system, 4, p, seed, COSTS, batching));
    }

    @Test
    void smoke() {
        Tar.Params p = new Tar.Params(600, 40, 24_000_000, 64L << 20, 1);
        TarRunner.Outcome a = run(SystemKind.AVIC_OFF, p, 3, true);
        TarRunner.Outcome b = run(SystemKind.AVIC_OFF, p, 3, false);
        System.out.println(a);
        System.out.println(b);
    }
}
