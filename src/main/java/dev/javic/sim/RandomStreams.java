package dev.javic.sim;

import java.util.SplittableRandom;

/**
 * Seeded random streams, one per named component, so that adding a random draw in one component
 * does not shift the numbers another component sees. The stream for a name depends only on the
 * root seed and the name.
 */
public final class RandomStreams {
    private final long seed;

    public RandomStreams(long seed) {
        this.seed = seed;
    }

    public long seed() {
        return seed;
    }

    public SplittableRandom stream(String name) {
        long h = seed;
        for (int i = 0; i < name.length(); i++) {
            h = mix(h ^ name.charAt(i));
        }
        return new SplittableRandom(mix(h));
    }

    private static long mix(long z) {
        // SplitMix64 finaliser: a fixed, well-distributed mixing of the name into the seed.
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
