package dev.javic.experiment;

/**
 * One run of a benchmark as {@link BenchReport} summarises it: the measured value (hackbench's seconds,
 * netperf's transactions per second) and what the hypervisor and host counted.
 */
public interface BenchRun {
    /** The benchmark's result ({@link BenchReport.Metric} says what it is). */
    double value();

    long seed();

    double simulatedSeconds();

    long events();

    long exits();

    double exitsPerSecond();

    long interruptsDelivered();

    long reschedIpis();

    long contextSwitches();

    long wakeups();

    long migrations();

    long haltExits();

    long doorbells();

    long hostIpis();
}
