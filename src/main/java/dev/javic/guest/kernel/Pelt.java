package dev.javic.guest.kernel;

/**
 * Per-entity load tracking as Linux 4.5 does it (kernel/sched/fair.c, the rewrite of 4.3 by Yuyang Du:
 * {@code struct sched_avg}, {@code decay_load}, {@code __compute_runnable_contrib}, {@code __update_load_avg}).
 * Time is cut into periods of 1024 units of 1024 ns; a load contributes {@code weight x time} to a sum that is
 * multiplied by y at every period boundary, with y^32 = 1/2; the average is the sum / LOAD_AVG_MAX, so a task
 * that is always runnable averages 1024 and one runnable 10 % of the time about 100.
 *
 * <p>Integer arithmetic only, from simulated time only (the caller converts cycles to nanoseconds), no
 * allocation. Only the load signals are kept: {@code util_avg} is not read by anything the model has
 * (in 4.5 it feeds the load balancer's group capacity checks and cpufreq), and frequency and CPU capacity
 * scaling are the identity (SCHED_CAPACITY_SCALE on every vCPU).
 */
final class Pelt {
    /** LOAD_AVG_PERIOD: y^32 = 1/2. */
    static final int LOAD_AVG_PERIOD = 32;
    /** LOAD_AVG_MAX: the maximum possible load sum, 1024 x sum of y^n. */
    static final long LOAD_AVG_MAX = 47742;
    /** LOAD_AVG_MAX_N: number of full periods that produce LOAD_AVG_MAX. */
    static final int LOAD_AVG_MAX_N = 345;

    /** runnable_avg_yN_inv[n] = y^n x 2^32 (4.5 kernel/sched/fair.c, verbatim). */
    private static final long[] YN_INV = {
        0xffffffffL, 0xfa83b2daL, 0xf5257d14L, 0xefe4b99aL, 0xeac0c6e6L, 0xe5b906e6L,
        0xe0ccdeebL, 0xdbfbb796L, 0xd744fcc9L, 0xd2a81d91L, 0xce248c14L, 0xc9b9bd85L,
        0xc5672a10L, 0xc12c4cc9L, 0xbd08a39eL, 0xb8fbaf46L, 0xb504f333L, 0xb123f581L,
        0xad583ee9L, 0xa9a15ab4L, 0xa5fed6a9L, 0xa2704302L, 0x9ef5325fL, 0x9b8d39b9L,
        0x9837f050L, 0x94f4efa8L, 0x91c3d373L, 0x8ea4398aL, 0x8b95c1e3L, 0x88980e80L,
        0x85aac367L, 0x82cd8698L,
    };

    /** runnable_avg_yN_sum[n] = floor(1024 x sum of y^k, 1 <= k <= n) (4.5 kernel/sched/fair.c, verbatim). */
    private static final long[] YN_SUM = {
            0, 1002, 1982, 2941, 3880, 4798, 5697, 6576, 7437, 8279, 9103,
         9909, 10698, 11470, 12226, 12966, 13690, 14398, 15091, 15769, 16433, 17082,
        17718, 18340, 18949, 19545, 20128, 20698, 21256, 21802, 22336, 22859, 23371,
    };

    private Pelt() {
    }

    /** struct sched_avg (the load part): of a task's sched_entity, or of a cfs_rq. */
    static final class Avg {
        /** last_update_time, in ns of the task clock. */
        long lastUpdateTime;
        long loadSum;
        long loadAvg;
        /** period_contrib: the part of the current period already accounted, in 1024 ns units. */
        int periodContrib;
    }

    /** decay_load: val x y^n, rounding down (the 64 x 32 bit multiply of mul_u64_u32_shr, exactly). */
    static long decayLoad(long val, long n) {
        if (n > LOAD_AVG_PERIOD * 63L) {
            return 0;
        }
        int localN = (int) n;
        if (localN >= LOAD_AVG_PERIOD) {
            val >>>= localN / LOAD_AVG_PERIOD;
            localN %= LOAD_AVG_PERIOD;
        }
        long inv = YN_INV[localN];
        // mul_u64_u32_shr(val, runnable_avg_yN_inv[local_n], 32), exact for any 64-bit val.
        long hi = val >>> 32;
        long lo = val & 0xffffffffL;
        return hi * inv + ((lo * inv) >>> 32);
    }

    /** __compute_runnable_contrib: 1024 x sum of y^k for 1 <= k <= n. */
    static long computeRunnableContrib(long n) {
        if (n <= LOAD_AVG_PERIOD) {
            return YN_SUM[(int) n];
        } else if (n >= LOAD_AVG_MAX_N) {
            return LOAD_AVG_MAX;
        }
        long contrib = 0;
        do {
            contrib /= 2; // y^LOAD_AVG_PERIOD = 1/2
            contrib += YN_SUM[LOAD_AVG_PERIOD];
            n -= LOAD_AVG_PERIOD;
        } while (n > LOAD_AVG_PERIOD);
        contrib = decayLoad(contrib, n);
        return contrib + YN_SUM[(int) n];
    }

    /**
     * __update_load_avg(now, cpu, sa, weight, running, cfs_rq) of 4.5 without the util part. With
     * {@code cfs} non-null the cfs_rq's runnable_load_sum / runnable_load_avg are accumulated and decayed along
     * (4.5 passes the cfs_rq only for the cfs_rq's own average). Returns whether a period boundary was
     * crossed ("decayed"), the only time the averages are recomputed from the sums.
     */
    static boolean update(long now, Avg sa, long weight, RunQueue cfs) {
        long delta = now - sa.lastUpdateTime;
        if (delta < 0) { // "This should only happen when time goes backwards"
            sa.lastUpdateTime = now;
            return false;
        }
        delta >>>= 10; // 1024 ns as the unit, "a reasonable approximation of 1us"
        if (delta == 0) {
            return false;
        }
        sa.lastUpdateTime += delta << 10;
        boolean decayed = false;
        long deltaW = sa.periodContrib;
        if (delta + deltaW >= 1024) {
            decayed = true;
            deltaW = 1024 - deltaW; // complete the current period
            if (weight != 0) {
                sa.loadSum += weight * deltaW;
                if (cfs != null) {
                    cfs.runnableLoadSum += weight * deltaW;
                }
            }
            delta -= deltaW;
            long periods = delta / 1024;
            delta %= 1024;
            sa.loadSum = decayLoad(sa.loadSum, periods + 1);
            if (cfs != null) {
                cfs.runnableLoadSum = decayLoad(cfs.runnableLoadSum, periods + 1);
            }
            long contrib = computeRunnableContrib(periods);
            if (weight != 0) {
                sa.loadSum += weight * contrib;
                if (cfs != null) {
                    cfs.runnableLoadSum += weight * contrib;
                }
            }
            sa.periodContrib = 0;
        }
        if (weight != 0) {
            sa.loadSum += weight * delta;
            if (cfs != null) {
                cfs.runnableLoadSum += weight * delta;
            }
        }
        sa.periodContrib += (int) delta;
        if (decayed) {
            sa.loadAvg = sa.loadSum / LOAD_AVG_MAX;
            if (cfs != null) {
                cfs.runnableLoadAvg = cfs.runnableLoadSum / LOAD_AVG_MAX;
            }
        }
        return decayed;
    }
}
