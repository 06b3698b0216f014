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
    /**
     * Events of a later phase fire after every event of an earlier phase scheduled for the same instant,
     * whatever the tie-break; 0 for ordinary events (see {@link #late}).
     */
    int phase;
    private final String name;

    protected SimEvent(String name) {
        this.name = name;
    }

    /**
     * Makes this event fire after every ordinary event of the same instant, whatever the order they were
     * scheduled in, and, among late events of that instant, in the order of {@code rank} (lower first). For a
     * core's instruction boundary, which must see everything that arrived in its cycle (an interrupt that
     * arrives at cycle T is pending at the boundary at T); and when guest code runs on several cores at the
     * same instant, lower core first, as the guest kernel orders its own same-instant effects. Neither then
     * depends on when the events were scheduled. Returns this event.
     */
    public final SimEvent late(int rank) {
        if (heapIndex >= 0) {
            throw new IllegalStateException("phase of a scheduled event");
        }
        if (rank < 0 || rank == Integer.MAX_VALUE) {
            throw new IllegalArgumentException("rank " + rank);
        }
        phase = 1 + rank;
        return this;
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
