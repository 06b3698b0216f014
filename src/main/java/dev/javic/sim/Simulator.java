package dev.javic.sim;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The discrete-event engine. Simulated time is an integer count of host TSC cycles (see
 * {@link #now()}); nothing here reads the wall clock or starts a thread.
 *
 * <p>The queue is an indexed binary min-heap ordered by (time, phase, order): at one instant, events
 * marked {@link SimEvent#late} fire after all others. {@code order} comes from a
 * counter (FIFO), a falling counter (LIFO) or a seeded generator (SHUFFLE), so ties are always
 * broken the same way for the same seed. Scheduling, re-scheduling and cancelling are O(log n) and
 * allocate nothing once the heap has grown to its working size.
 *
 * <p>While an event fires, the root of the heap it left is kept vacant: the first event scheduled by then
 * (most often the firing event re-arming itself) takes the root and sinks to its place, one sift instead of
 * a removal and an insertion. Events still fire in (time, phase, order) order; only the heap's shape differs.
 */
public final class Simulator {
    private SimEvent[] heap = new SimEvent[256];
    private int size;
    /** heap[0] is free: the event there has been taken out to fire and nothing has filled its place yet. */
    private boolean rootVacant;
    private long now;
    private long sequence;
    private long eventsFired;
    private final TieBreak tieBreak;
    private final SplittableRandom tieRandom;
    private boolean stopped;

    public Simulator() {
        this(TieBreak.FIFO, 0);
    }

    public Simulator(TieBreak tieBreak, long seed) {
        this.tieBreak = tieBreak;
        this.tieRandom = new SplittableRandom(seed ^ 0x5DEECE66DL);
    }

    /** Current simulated time in host TSC cycles. */
    public long now() {
        return now;
    }

    public long eventsFired() {
        return eventsFired;
    }

    public int pending() {
        return rootVacant ? size - 1 : size;
    }

    public TieBreak tieBreak() {
        return tieBreak;
    }

    /** Schedules (or moves) {@code event} to fire at absolute time {@code when}. */
    public void schedule(SimEvent event, long when) {
        if (when < now) {
            throw new IllegalArgumentException("event " + event.name() + " scheduled in the past: " + when + " < " + now);
        }
        if (event.heapIndex >= 0) {
            fillVacantRoot(); // before the event's key changes: the heap must be whole to close it
        }
        event.when = when;
        event.order = nextOrder();
        if (event.heapIndex >= 0) {
            int i = event.heapIndex;
            siftUp(i);
            siftDown(event.heapIndex);
        } else if (rootVacant) {
            rootVacant = false;
            heap[0] = event;
            event.heapIndex = 0;
            siftDown(0);
        } else {
            if (size == heap.length) {
                heap = Arrays.copyOf(heap, size * 2);
            }
            heap[size] = event;
            event.heapIndex = size;
            size++;
            siftUp(size - 1);
        }
    }

    /** Schedules {@code event} {@code delay} cycles from now. */
    public void scheduleAfter(SimEvent event, long delay) {
        schedule(event, now + delay);
    }

    /** Removes {@code event} from the queue if it is scheduled. */
    public void cancel(SimEvent event) {
        int i = event.heapIndex;
        if (i < 0) {
            return;
        }
        fillVacantRoot();
        i = event.heapIndex;
        size--;
        SimEvent last = heap[size];
        heap[size] = null;
        event.heapIndex = -1;
        if (i != size) {
            heap[i] = last;
            last.heapIndex = i;
            siftUp(i);
            siftDown(last.heapIndex);
        }
    }

    /** Runs events until the queue is empty, {@link #stop()} is called, or time would pass {@code limit}. */
    public void runUntil(long limit) {
        stopped = false;
        while (size > 0 && !stopped) {
            SimEvent e = heap[0];
            if (e.when > limit) {
                now = limit;
                return;
            }
            e.heapIndex = -1;
            rootVacant = true;
            now = e.when;
            eventsFired++;
            e.fire(now);
            fillVacantRoot();
        }
    }

    /** Closes the heap over a vacant root, as removing the root would have. */
    private void fillVacantRoot() {
        if (rootVacant) {
            rootVacant = false;
            size--;
            SimEvent last = heap[size];
            heap[size] = null;
            if (size > 0) {
                heap[0] = last;
                last.heapIndex = 0;
                siftDown(0);
            }
        }
    }

    /** Runs until the queue is empty or {@link #stop()}. */
    public void run() {
        runUntil(Long.MAX_VALUE);
    }

    /** Makes the running loop return after the current event. */
    public void stop() {
        stopped = true;
    }

    private long nextOrder() {
        return switch (tieBreak) {
            case FIFO -> sequence++;
            case LIFO -> -(sequence++);
            case SHUFFLE -> tieRandom.nextLong();
        };
    }

    private static boolean before(SimEvent a, SimEvent b) {
        return a.when < b.when || (a.when == b.when && (a.phase < b.phase || (a.phase == b.phase && a.order < b.order)));
    }

    private void siftUp(int i) {
        SimEvent e = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            SimEvent p = heap[parent];
            if (!before(e, p)) {
                break;
            }
            heap[i] = p;
            p.heapIndex = i;
            i = parent;
        }
        heap[i] = e;
        e.heapIndex = i;
    }

    private void siftDown(int i) {
        SimEvent e = heap[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < size && before(heap[right], heap[child])) {
                child = right;
            }
            if (!before(heap[child], e)) {
                break;
            }
            heap[i] = heap[child];
            heap[i].heapIndex = i;
            i = child;
        }
        heap[i] = e;
        e.heapIndex = i;
    }
}
