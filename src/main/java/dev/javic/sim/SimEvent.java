package dev.javic.sim;

/**
 * Something that happens at one instant of simulated time. Owners allocate their events once and
 * re-arm them through {@link Simulator#schedule}; an event is in the queue at most once, so
 * re-scheduling it moves it and {@link Simulator#cancel} removes it, both without allocation.
 */
public abstract class SimEvent {
    /** Position in the simulator's heap, or -1 when not scheduled. */
    int heapIndex = -1;
    long when;
    long order;
    private final String name;

    protected SimEvent(String name) {
        this.name = name;
    }

    /** Runs the event; {@code now} is the simulated time in cycles. */
    protected abstract void fire(long now);

    public final boolean isScheduled() {
        return heapIndex >= 0;
    }

    /** Simulated time at which the event will fire; meaningful only while scheduled. */
    public final long when() {
        return when;
    }

    public final String name() {
        return name;
    }

    /** An event that runs a {@link Runnable}-like callback; for owners that need many small events. */
    public static SimEvent of(String name, Action action) {
        return new SimEvent(name) {
            @Override
            protected void fire(long now) {
                action.run(now);
            }
        };
    }

    @FunctionalInterface
    public interface Action {
        void run(long now);
    }

    @Override
    public String toString() {
        return name + (isScheduled() ? "@" + when : "");
    }
}
