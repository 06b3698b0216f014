package dev.javic.sim;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SimulatorTest {
    private static List<String> runOrder(TieBreak tie, long seed) {
        Simulator sim = new Simulator(tie, seed);
        List<String> fired = new ArrayList<>();
        for (String n : List.of("a", "b", "c", "d")) {
            sim.schedule(SimEvent.of(n, now -> fired.add(n + "@" + now)), 10);
        }
        sim.schedule(SimEvent.of("early", now -> fired.add("early@" + now)), 5);
        sim.run();
        return fired;
    }

    @Test
    void firesInTimeOrderWithFifoTies() {
        assertThat(runOrder(TieBreak.FIFO, 0)).containsExactly("early@5", "a@10", "b@10", "c@10", "d@10");
    }

    @Test
    void lifoReversesTiesOnly() {
        assertThat(runOrder(TieBreak.LIFO, 0)).containsExactly("early@5", "d@10", "c@10", "b@10", "a@10");
    }

    @Test
    void shuffleIsReproducibleFromTheSeedAndStillOrdersTime() {
        List<String> one = runOrder(TieBreak.SHUFFLE, 42);
        assertThat(runOrder(TieBreak.SHUFFLE, 42)).isEqualTo(one);
        assertThat(one.get(0)).isEqualTo("early@5");
        boolean someSeedDiffers = false;
        for (long seed = 0; seed < 20 && !someSeedDiffers; seed++) {
            someSeedDiffers = !runOrder(TieBreak.SHUFFLE, seed).equals(one);
        }
        assertThat(someSeedDiffers).isTrue();
    }

    @Test
    void lateEventsFireAfterOrdinaryOnesOfTheirInstantInRankOrderWhateverTheTieBreak() {
        for (TieBreak tie : TieBreak.values()) {
            for (long seed = 0; seed < 8; seed++) {
                Simulator sim = new Simulator(tie, seed);
                List<String> fired = new ArrayList<>();
                // scheduled late-first, so that insertion order alone would put them first
                sim.schedule(SimEvent.of("late1", now -> fired.add("late1")).late(1), 10);
                sim.schedule(SimEvent.of("late0", now -> fired.add("late0")).late(0), 10);
                sim.schedule(SimEvent.of("x", now -> fired.add("x")), 10);
                sim.schedule(SimEvent.of("y", now -> fired.add("y")), 10);
                sim.schedule(SimEvent.of("early", now -> fired.add("early")).late(0), 5);
                sim.run();
                assertThat(fired).as("%s seed %d", tie, seed).hasSize(5);
                assertThat(fired.get(0)).isEqualTo("early");
                assertThat(fired.subList(1, 3)).containsExactlyInAnyOrder("x", "y");
                assertThat(fired.subList(3, 5)).containsExactly("late0", "late1");
            }
        }
    }

    @Test
    void rescheduleMovesAndCancelRemoves() {
        Simulator sim = new Simulator();
        List<String> fired = new ArrayList<>();
        SimEvent a = SimEvent.of("a", now -> fired.add("a@" + now));
        SimEvent b = SimEvent.of("b", now -> fired.add("b@" + now));
        sim.schedule(a, 10);
        sim.schedule(b, 20);
        sim.schedule(a, 30); // moved, not duplicated
        sim.cancel(b);
        assertThat(b.isScheduled()).isFalse();
        sim.run();
        assertThat(fired).containsExactly("a@30");
        assertThat(sim.now()).isEqualTo(30);
    }

    @Test
    void runUntilStopsAtTheLimit() {
        Simulator sim = new Simulator();
        List<Long> fired = new ArrayList<>();
        SimEvent tick = new SimEvent("tick") {
            @Override
            protected void fire(long now) {
                fired.add(now);
                sim.scheduleAfter(this, 100);
            }
        };
        sim.schedule(tick, 0);
        sim.runUntil(350);
        assertThat(fired).containsExactly(0L, 100L, 200L, 300L);
        assertThat(sim.now()).isEqualTo(350);
    }

    @Test
    void refusesThePast() {
        Simulator sim = new Simulator();
        sim.schedule(SimEvent.of("x", now -> { }), 10);
        sim.run();
        assertThatThrownBy(() -> sim.schedule(SimEvent.of("y", now -> { }), 5))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void heapStaysOrderedUnderRandomChurn() {
        Simulator sim = new Simulator();
        SplittableRandom rnd = new SplittableRandom(7);
        List<Long> fired = new ArrayList<>();
        SimEvent[] events = new SimEvent[500];
        for (int i = 0; i < events.length; i++) {
            events[i] = SimEvent.of("e" + i, fired::add);
            sim.schedule(events[i], rnd.nextLong(1, 10_000));
        }
        for (int i = 0; i < 2000; i++) {
            SimEvent e = events[rnd.nextInt(events.length)];
            if (rnd.nextBoolean()) {
                sim.cancel(e);
            } else {
                sim.schedule(e, rnd.nextLong(1, 10_000));
            }
        }
        int pending = sim.pending();
        sim.run();
        assertThat(fired).hasSize(pending).isSorted();
    }

    /**
     * Events that, while firing, re-arm themselves, schedule, move and cancel others and look at the queue fire
     * exactly as a plain sorted list of (time, schedule order) says they should.
     */
    @Test
    void eventsChurningTheQueueWhileFiringKeepTheOrderOfASortedList() {
        Simulator sim = new Simulator();
        SplittableRandom rnd = new SplittableRandom(11);
        int n = 64;
        SimEvent[] events = new SimEvent[n];
        long[][] model = new long[n][]; // {when, order} while scheduled in the model, else null
        long[] sequence = {0};
        List<Integer> fired = new ArrayList<>();
        Runnable[] checkAndChurn = new Runnable[1];
        for (int i = 0; i < n; i++) {
            int id = i;
            events[i] = SimEvent.of("e" + i, now -> {
                fired.add(id);
                assertThat(events[id].isScheduled()).isFalse();
                checkAndChurn[0].run();
                sim.stop(); // one event per runUntil, to compare with the model step by step
            });
        }
        checkAndChurn[0] = () -> {
            int expectedPending = 0;
            for (long[] m : model) {
                expectedPending += m == null ? 0 : 1;
            }
            assertThat(sim.pending()).isEqualTo(expectedPending);
            int ops = rnd.nextInt(5);
            for (int k = 0; k < ops; k++) {
                int target = rnd.nextInt(n);
                if (rnd.nextInt(4) == 0) {
                    sim.cancel(events[target]);
                    model[target] = null;
                } else {
                    long when = sim.now() + rnd.nextLong(0, 50);
                    sim.schedule(events[target], when);
                    model[target] = new long[] {when, sequence[0]++};
                }
            }
        };
        for (int i = 0; i < n; i++) {
            long when = rnd.nextLong(0, 100);
            sim.schedule(events[i], when);
            model[i] = new long[] {when, sequence[0]++};
        }
        // Replay the model alongside: the next event is always the model's minimum.
        while (sim.pending() > 0 && fired.size() < 20_000) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                if (model[i] != null && (best < 0 || model[i][0] < model[best][0]
                        || model[i][0] == model[best][0] && model[i][1] < model[best][1])) {
                    best = i;
                }
            }
            model[best] = null;
            sim.run();
            assertThat(fired.getLast()).as("event %d at %d", fired.size(), sim.now()).isEqualTo(best);
        }
        assertThat(fired).hasSizeGreaterThan(1000);
    }

    @Test
    void randomStreamsDependOnlyOnSeedAndName() {
        RandomStreams a = new RandomStreams(5);
        RandomStreams b = new RandomStreams(5);
        assertThat(a.stream("x").nextLong()).isEqualTo(b.stream("x").nextLong());
        assertThat(a.stream("x").nextLong()).isNotEqualTo(a.stream("y").nextLong());
        assertThat(new RandomStreams(6).stream("x").nextLong()).isNotEqualTo(a.stream("x").nextLong());
    }
}
