package dev.javic.hw;

/**
 * Guest code as the CPU sees it: a source of operations and a set of interrupt vectors. This is the
 * architectural boundary of design.md: the guest reaches the machine only through the operations it
 * returns here, and hears from it only through {@link #interrupt(int, long)} at operation boundaries.
 */
public interface GuestProgram {
    /**
     * Fills {@code op} with the next operation. {@code op} still holds the outcome of the previous
     * operation (result, fault) when this is called.
     */
    void next(Operation op, long now);

    /**
     * The CPU vectored to {@code vector} (an interrupt, NMI = 2, or an exception such as 13 for #GP):
     * RFLAGS.IF is now 0 and a frame was pushed; subsequent operations are the handler's, until an
     * IRET returns to the interrupted code.
     */
    void interrupt(int vector, long now);

    /** True when the program has finished (it will not be asked for more operations). */
    boolean finished();

    /**
     * The vCPU was reset by INIT and started by a SIPI: execution begins afresh at {@code rip}
     * (vector &lt;&lt; 12), with no interrupt frames and IF = 0. Programs without AP start-up code
     * simply continue from where they are.
     */
    default void startup(long rip, long now) {
    }
}
