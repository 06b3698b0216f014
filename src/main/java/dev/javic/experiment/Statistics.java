package dev.javic.experiment;

import org.apache.commons.math3.distribution.TDistribution;
import org.apache.commons.math3.stat.inference.TTest;

/** The statistics a benchmark reports: mean, sample standard deviation, 95 % confidence interval, Welch's t-test. */
public final class Statistics {
    private Statistics() {
    }

    public static double mean(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v;
        }
        return x.length == 0 ? Double.NaN : s / x.length;
    }

    /** Sample standard deviation (n - 1); 0 for a single value. */
    public static double sd(double[] x) {
        if (x.length < 2) {
            return 0;
        }
        double m = mean(x);
        double s = 0;
        for (double v : x) {
            s += (v - m) * (v - m);
        }
        return Math.sqrt(s / (x.length - 1));
    }

    /** Half-width of the two-sided 95 % confidence interval of the mean (Student's t); NaN for n < 2. */
    public static double ci95HalfWidth(double[] x) {
        if (x.length < 2) {
            return Double.NaN;
        }
        double t = new TDistribution(x.length - 1).inverseCumulativeProbability(0.975);
        return t * sd(x) / Math.sqrt(x.length);
    }

    /**
     * Two-sided p-value of Welch's t-test (unequal variances) that {@code a} and {@code b} have the same
     * mean; NaN when either has fewer than two values, 0 or 1 when both are constant.
     */
    public static double welchP(double[] a, double[] b) {
        if (a.length < 2 || b.length < 2) {
            return Double.NaN;
        }
        if (sd(a) == 0 && sd(b) == 0) {
            return mean(a) == mean(b) ? 1 : 0;
        }
        return new TTest().tTest(a, b);
    }
}
