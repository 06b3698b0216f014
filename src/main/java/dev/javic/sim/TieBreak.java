package dev.javic.sim;

/**
 * How the engine orders events scheduled for the same simulated instant. FIFO is the default; the
 * others exist so that tests can try every ordering of simultaneous events the engine allows and
 * show that no interrupt or wake-up depends on one particular order.
 */
public enum TieBreak {
    /** Earlier-scheduled first. */
    FIFO,
    /** Later-scheduled first. */
    LIFO,
    /** A seeded pseudo-random order, reproducible from the simulator's seed. */
    SHUFFLE
}
