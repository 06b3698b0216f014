package dev.javic.guest.kernel;

/**
 * One CPU's run queue (struct rq with its cfs_rq): the tasks waiting to run ordered by vruntime (an
 * indexed binary min-heap standing in for the red-black tree; equal vruntimes keep their insertion order,
 * as __enqueue_entity puts an equal key to the right), the running task, min_vruntime, the next and last
 * buddies, the wake list other CPUs queue remote wake-ups on, need_resched, and the load balancer's
 * per-domain state.
 */
final class RunQueue {
    final int cpu;
    private final Task[] tasks;
    private int[] heap = new int[64];
    private int size;
    private long seq;

    /** The running task (rq->curr), or -1 when the CPU runs its idle task. */
    int curr = -1;
    long minVruntime;
    int nextBuddy = -1;
    int lastBuddy = -1;
    boolean needResched;

    /** rq->wake_list: tasks queued by remote wakers, taken all at once by the reschedule IPI (LIFO, an llist). */
    int[] wakeList;
    int wakeListCount;

    /**
     * PELT of the cfs_rq (4.5 struct cfs_rq): avg (blocked load included), runnable_load_sum / runnable_load_avg
     * (queued and running tasks only: what weighted_cpuload() reads), removed_load_avg (load of tasks migrated
     * away, taken out of avg at its next update).
     */
    final Pelt.Avg avg = new Pelt.Avg();
    long runnableLoadSum;
    long runnableLoadAvg;
    long removedLoadAvg;

    // Load balancing (one top-level domain spanning every CPU).
    long balanceIntervalMs;
    long lastBalance;
    int nrBalanceFailed;
    /** Times a task was put on this queue (cfs_tasks order for detach_tasks: most recent first). */
    long enqueueCounter;

    RunQueue(int cpu, Task[] tasks, int taskCapacity) {
        this.cpu = cpu;
        this.tasks = tasks;
        this.wakeList = new int[taskCapacity];
    }

    /** Runnable tasks on this CPU including the running one (rq->nr_running). */
    int nrRunning() {
        return size + (curr >= 0 ? 1 : 0);
    }

    /** Tasks queued and not running. */
    int queued() {
        return size;
    }

    int queuedAt(int i) {
        return heap[i];
    }

    boolean isIdle() {
        return curr < 0;
    }

    /** __pick_first_entity: the leftmost queued task, or -1. */
    int leftmost() {
        return size == 0 ? -1 : heap[0];
    }

    // ---- the tree -------------------------------------------------------------------------------------

    void insert(Task t) {
        if (t.heapIndex >= 0) {
            throw new IllegalStateException(t + " queued twice on cpu " + cpu);
        }
        if (size == heap.length) {
            heap = java.util.Arrays.copyOf(heap, size * 2);
        }
        t.treeSeq = seq++;
        heap[size] = t.id;
        t.heapIndex = size;
        size++;
        siftUp(size - 1);
    }

    void remove(Task t) {
        int i = t.heapIndex;
        if (i < 0) {
            throw new IllegalStateException(t + " not queued on cpu " + cpu);
        }
        size--;
        int last = heap[size];
        t.heapIndex = -1;
        if (i != size) {
            heap[i] = last;
            tasks[last].heapIndex = i;
            siftUp(i);
            siftDown(tasks[last].heapIndex);
        }
    }

    private boolean before(int a, int b) {
        Task x = tasks[a];
        Task y = tasks[b];
        return x.vruntime < y.vruntime || (x.vruntime == y.vruntime && x.treeSeq < y.treeSeq);
    }

    private void siftUp(int i) {
        int id = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!before(id, heap[parent])) {
                break;
            }
            heap[i] = heap[parent];
            tasks[heap[i]].heapIndex = i;
            i = parent;
        }
        heap[i] = id;
        tasks[id].heapIndex = i;
    }

    private void siftDown(int i) {
        int id = heap[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < size && before(heap[right], heap[child])) {
                child = right;
            }
            if (!before(heap[child], id)) {
                break;
            }
            heap[i] = heap[child];
            tasks[heap[i]].heapIndex = i;
            i = child;
        }
        heap[i] = id;
        tasks[id].heapIndex = i;
    }
}
