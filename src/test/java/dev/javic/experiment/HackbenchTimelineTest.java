package dev.javic.experiment;

import dev.javic.sim.CostModel;
import dev.javic.workload.Hackbench;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Sampling hackbench's counters in windows leaves the run unchanged, and the windows add up to it. */
class HackbenchTimelineTest {
    private static final CostModel COSTS = CostModel.defaults();

    @Test
    void aRunWithATimelineIsTheSameRunAndItsWindowsAddUpToIt() {
        for (SystemKind k : SystemKind.values()) {
            HackbenchRunner.Spec spec = new HackbenchRunner.Spec(k, 2, Hackbench.Params.of(2, 100), 3, COSTS, true);
            HackbenchRunner.Outcome plain = HackbenchRunner.run(spec);
            HackbenchTimeline timeline = new HackbenchTimeline(0.002, COSTS);
            HackbenchRunner.Outcome sampled = HackbenchRunner.run(spec, null, timeline);
            assertThat(sampled).as(k.label()).isEqualTo(plain);

            List<HackbenchTimeline.Window> w = timeline.windows();
            assertThat(w.size()).as(k.label()).isGreaterThan(5);
            assertThat(w.stream().mapToLong(HackbenchTimeline.Window::messages).sum()).isEqualTo(plain.messagesRead());
            assertThat(w.stream().mapToLong(HackbenchTimeline.Window::contextSwitches).sum()).isEqualTo(plain.contextSwitches());
            assertThat(w.stream().mapToLong(HackbenchTimeline.Window::wakeups).sum()).isEqualTo(plain.wakeups());
            assertThat(w.stream().mapToLong(HackbenchTimeline.Window::reschedIpis).sum()).isEqualTo(plain.reschedIpis());
            assertThat(w.stream().mapToLong(HackbenchTimeline.Window::exits).sum()).isEqualTo(plain.exits());
            for (int i = 0; i < w.size(); i++) {
                assertThat(w.get(i).startSeconds()).isEqualTo(i == 0 ? 0 : w.get(i - 1).endSeconds());
                assertThat(w.get(i).endSeconds()).isGreaterThan(w.get(i).startSeconds());
                if (i < w.size() - 1) {
                    assertThat(w.get(i).endSeconds()).isCloseTo((i + 1) * 0.002, org.assertj.core.data.Offset.offset(1e-9));
                }
            }
            assertThat(w.get(w.size() - 1).endSeconds()).isEqualTo(plain.simulatedSeconds());
            assertThat(w.get(w.size() - 1).tasksExited()).isEqualTo(Hackbench.Params.of(2, 100).tasks());
        }
    }

    @Test
    void aWindowMustBePositive() {
        assertThatThrownBy(() -> new HackbenchTimeline(0, COSTS)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HackbenchTimeline(Double.NaN, COSTS)).isInstanceOf(IllegalArgumentException.class);
    }
}
