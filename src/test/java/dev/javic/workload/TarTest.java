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
        Tar.Params p = Tar.Params.LINUX_4_3_3.scaled(0.02);
        for (SystemKind k : SystemKind.values()) {
            long t0 = System.nanoTime();
            TarRunner.Outcome o = run(k, p, 1, true);
            System.out.println(o + " wall " + (System.nanoTime() - t0) / 1e9);
        }
    }
}
