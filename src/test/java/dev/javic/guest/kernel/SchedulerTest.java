package dev.javic.guest.kernel;

import dev.javic.experiment.SimulatedHost;
import dev.javic.experiment.SystemKind;
import dev.javic.sim.CostModel;
import dev.javic.sim.TieBreak;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** CFS as 4.5 has it: fair shares from the tick, wake-up preemption beyond the granularity, buddies. */
class SchedulerTest {
    private static final CostModel COSTS = CostModel.defaults();

    @Test
    void cpuBoundTasksShareOneCpuFairly() {
        SimulatedHost host = new SimulatedHost(SystemKind.AVIC_ON, COSTS, 1, TieBreak.FIFO, null, true, 1, 16L << 20);
        Kernel k = new Kernel(KernelConfig.linux45(1), COSTS, 4);
        int[] ids = new int[3];
        for (int i = 0; i < 3; i++) {
            ids[i] = k.createRunnableTask("spin" + i, () -> Action.compute(1_000_000), 0, -1);
        }
        host.vm().createVcpu(0, k.cpu(0));
        host.vm().start();
        long oneSecond = COSTS.tscHz();
        host.sim().runUntil(oneSecond);
        long total = 0;
        for (int id : ids) {
            total += k.taskCpuCycles(id);
        }
        assertThat(total).isGreaterThan(oneSecond * 9 / 10);
        for (int id : ids) {
            assertThat((double) k.taskCpuCycles(id) / total).isCloseTo(1.0 / 3, within(0.02));
        }
        // sched_latency 6 ms shared by 3 is a 2 ms slice, shorter than the 4 ms tick (HZ=250): every tick preempts
        assertThat(k.stats().contextSwitches).isBetween(245L, 255L);
        assertThat(k.stats().tickPreemptions).isPositive();
    }

    @Test
    void aWakeeFurtherBehindThanTheGranularityPreemptsAndBecomesTheNextBuddy() {
        Kernel k = new Kernel(KernelConfig.linux45(2), COSTS, 4);
        int curr = k.createRunnableTask("curr", () -> Action.compute(1000), 0, -1);
        int near = k.createTaskPolling("near", poll(k), 0, -1);
        int far = k.createTaskPolling("far", poll(k), 0, -1);
        RunQueue rq = k.rqs[0];
        long now = 1_000_000;
        assertThat(k.schedule(rq, now, new long[1])).isEqualTo(curr);
        Task c = k.tasks[curr];
        c.vruntime = 50_000_000;
        rq.minVruntime = 50_000_000;
        // wakeup granularity is 1 ms x (1 + log2 2) = 2 ms = 3.6 M cycles at 1.8 GHz
        assertThat(k.wakeupGranularity).isEqualTo(3_600_000);
        Task n = k.tasks[near];
        n.vruntime = c.vruntime - 3_000_000;
        n.state = Task.State.WAKING;
        k.activate(rq, n, now);
        assertThat(rq.needResched).isFalse();
        Task f = k.tasks[far];
        f.vruntime = c.vruntime - 3_700_000; // also floored at min_vruntime - latency/2 = 5.4 M behind
        f.state = Task.State.WAKING;
        k.activate(rq, f, now);
        assertThat(rq.needResched).isTrue();
        assertThat(rq.nextBuddy).isEqualTo(far);
        assertThat(k.schedule(rq, now, new long[1])).isEqualTo(far);
    }

    @Test
    void aLongSleeperIsPlacedHalfALatencyBehindMinVruntime() {
        Kernel k = new Kernel(KernelConfig.linux45(1), COSTS, 4);
        k.createRunnableTask("curr", () -> Action.compute(1000), 0, -1);
        int sleeper = k.createTaskPolling("s", poll(k), 0, -1);
        RunQueue rq = k.rqs[0];
        k.schedule(rq, 0, new long[1]);
        rq.minVruntime = 100_000_000;
        Task s = k.tasks[sleeper];
        s.vruntime = 0;
        s.state = Task.State.WAKING;
        k.activate(rq, s, 0);
        assertThat(s.vruntime).isEqualTo(100_000_000 - k.latency / 2); // GENTLE_FAIR_SLEEPERS, latency 6 ms x 1
    }

    @Test
    void granularitiesScaleWithTheLogOfTheCpuCount() {
        for (int cpus = 1; cpus <= 4; cpus++) {
            Kernel k = new Kernel(KernelConfig.linux45(cpus), COSTS, 1);
            long factor = 1 + (31 - Integer.numberOfLeadingZeros(cpus));
            assertThat(k.latency).isEqualTo(factor * 6_000_000L * 18 / 10);
            assertThat(k.minGranularity).isEqualTo(factor * 750_000L * 18 / 10);
            assertThat(k.wakeupGranularity).isEqualTo(factor * 1_000_000L * 18 / 10);
        }
    }

    @Test
    void aWakeUpOwedForAnEarlierSleepIsStaleOnceTheTaskSleptAgainAndWasWokenByAnotherCpu() {
        // The race behind "queued twice" (4 vCPUs, vanilla, -l 10000, seed 1): cpu 2 wakes r off a pipe but does its
        // try_to_wake_up only after its write; meanwhile r's own cpu finds it still running, r blocks again and cpu 3
        // wakes it. Only cpu 3's wake-up may enqueue r.
        Kernel k = new Kernel(KernelConfig.linux45(4), COSTS, 4);
        int r = k.createTaskPolling("r", poll(k), 0, -1);
        Task t = k.tasks[r];
        KernelCpu cpu2 = k.cpu(2);
        KernelCpu cpu3 = k.cpu(3);
        cpu2.addWakee(t);
        assertThat(cpu2.owesWakeUp(0)).isTrue();
        t.state = Task.State.RUNNING;  // its cpu saw it woken before it could sleep: it retries at once
        assertThat(cpu2.owesWakeUp(0)).isFalse();
        t.state = Task.State.SLEEPING; // and blocks again
        cpu3.addWakee(t);
        assertThat(t.state).isEqualTo(Task.State.WAKING);
        assertThat(cpu2.owesWakeUp(0)).as("cpu 2's entry is from the earlier sleep").isFalse();
        assertThat(cpu3.owesWakeUp(0)).isTrue();
    }

    private static TaskProgram poll(Kernel k) {
        int pipe = k.pipeCount > 0 ? 0 : k.createPipe(1);
        return () -> Action.poll(pipe);
    }
}
