package dev.javic.guest.kernel;

import dev.javic.experiment.SimulatedHost;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import dev.javic.sim.TieBreak;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** PELT as 4.5's __update_load_avg computes it: y^32 = 1/2 per 1024 us period, averages out of 1024. */
class PeltTest {
    private static final CostModel COSTS = CostModel.defaults();
    /** One PELT period: 1024 units of 1024 ns. */
    private static final long PERIOD_NS = 1024L * 1024;

    @Test
    void decayHalvesEvery32PeriodsAndTheSeriesSumsToLoadAvgMax() {
        assertThat(Pelt.decayLoad(1 << 20, 32)).isEqualTo((1 << 19) - 1); // y^32 = 1/2, rounded down
        assertThat(Pelt.decayLoad(1000, 0)).isEqualTo(999);
        assertThat(Pelt.decayLoad(1L << 40, 1)).isEqualTo(((1L << 40) >>> 32) * 0xfa83b2daL);
        assertThat(Pelt.decayLoad(12345, 63 * 32 + 1)).isZero();
        assertThat(Pelt.computeRunnableContrib(1)).isEqualTo(1002);
        assertThat(Pelt.computeRunnableContrib(32)).isEqualTo(23371);
        assertThat(Pelt.computeRunnableContrib(Pelt.LOAD_AVG_MAX_N)).isEqualTo(Pelt.LOAD_AVG_MAX);
        long prev = 0;
        for (int n = 0; n < Pelt.LOAD_AVG_MAX_N; n++) {
            long c = Pelt.computeRunnableContrib(n);
            assertThat(c).isGreaterThanOrEqualTo(prev).isLessThanOrEqualTo(Pelt.LOAD_AVG_MAX);
            prev = c;
        }
    }

    @Test
    void anAlwaysRunnableLoadConvergesTo1024AndHalvesAfter32PeriodsOfSleep() {
        Pelt.Avg a = new Pelt.Avg();
        for (long t = 1; t <= 1000; t++) { // 1000 updates 1 period apart: ~1 s runnable
            Pelt.update(t * PERIOD_NS, a, Kernel.NICE_0_LOAD, null);
        }
        assertThat(a.loadAvg).isBetween(1000L, 1024L);
        long before = a.loadAvg;
        boolean decayed = Pelt.update(1032 * PERIOD_NS, a, 0, null);
        assertThat(decayed).isTrue();
        assertThat(a.loadAvg).isBetween(before / 2 - 2, before / 2 + 1);
        // updates within one 1024 ns unit change nothing
        long sum = a.loadSum;
        assertThat(Pelt.update(1032 * PERIOD_NS + 1000, a, Kernel.NICE_0_LOAD, null)).isFalse();
        assertThat(a.loadSum).isEqualTo(sum);
    }

    @Test
    void aCpuBoundTaskCarriesFullLoadOnItsRunQueue() {
        SimulatedHost host = new SimulatedHost(SystemKind.AVIC_ON, COSTS, 1, TieBreak.FIFO, null, true, 1, 16L << 20);
        Kernel k = new Kernel(KernelConfig.linux45(1), COSTS, 2);
        int id = k.createRunnableTask("spin", () -> Action.compute(1_000_000), 0, -1);
        host.vm().createVcpu(0, k.cpu(0));
        host.vm().start();
        host.sim().runUntil(COSTS.tscHz() / 2);
        // updated by every tick (entity_tick); after 0.5 s the series has converged
        assertThat(k.tasks[id].avg.loadAvg).isBetween(1000L, 1024L);
        assertThat(k.rqs[0].runnableLoadAvg).isBetween(1000L, 1024L);
    }
}
