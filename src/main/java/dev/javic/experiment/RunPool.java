package dev.javic.experiment;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Independent runs (systems x seeds x cells) spread over a number of threads. Each run builds its own
 * simulated host from its spec, so the results, returned in the order of the tasks, do not depend on the
 * number of threads or on which run finishes first.
 */
public final class RunPool {
    private RunPool() {
    }

    /**
     * Runs {@code tasks} on at most {@code jobs} threads, in the order given (put the longest first for balance).
     *
     * @param onDone called after each task, from the thread that ran it (a progress bar); may be null
     * @return the results, in the order of {@code tasks}
     */
    public static <T> List<T> run(List<? extends Callable<T>> tasks, int jobs, Runnable onDone) throws InterruptedException {
        if (jobs < 1) {
            throw new IllegalArgumentException("jobs must be positive: " + jobs);
        }
        List<T> results = new ArrayList<>(tasks.size());
        if (tasks.isEmpty()) {
            return results;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(jobs, tasks.size()), r -> {
            Thread t = new Thread(r, "javic-run");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<T>> futures = new ArrayList<>(tasks.size());
            for (Callable<T> task : tasks) {
                futures.add(pool.submit(() -> {
                    T result = task.call();
                    if (onDone != null) {
                        onDone.run();
                    }
                    return result;
                }));
            }
            for (Future<T> f : futures) {
                try {
                    results.add(f.get());
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof RuntimeException re) {
                        throw re;
                    }
                    if (cause instanceof Error err) {
                        throw err;
                    }
                    throw new IllegalStateException(cause);
                }
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }
}
