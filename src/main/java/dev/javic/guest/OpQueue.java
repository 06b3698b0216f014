package dev.javic.guest;

import dev.javic.hw.OpKind;
import dev.javic.hw.Operation;

/**
 * A short queue of CPU operations a guest kernel has decided to execute next (e.g. EOI, then work, then
 * IRET for an interrupt handler), handed to the CPU one per {@code next()}. Fixed capacity, primitive
 * storage: queuing and taking allocate nothing.
 */
public final class OpQueue {
    private static final int CAPACITY = 16;
    private final OpKind[] kind = new OpKind[CAPACITY];
    private final long[] address = new long[CAPACITY];
    private final long[] value = new long[CAPACITY];
    private int head;
    private int tail;

    public void add(OpKind k, long a, long v) {
        if (tail - head == CAPACITY) {
            throw new IllegalStateException("operation queue overflow");
        }
        int i = tail++ & (CAPACITY - 1);
        kind[i] = k;
        address[i] = a;
        value[i] = v;
    }

    /** Queues {@code cycles} of WORK; nothing for zero cycles. */
    public void addWork(long cycles) {
        if (cycles > 0) {
            add(OpKind.WORK, 0, cycles);
        }
    }

    public boolean isEmpty() {
        return head == tail;
    }

    /** Moves the oldest operation into {@code op} and returns its kind. */
    public OpKind takeInto(Operation op) {
        int i = head++ & (CAPACITY - 1);
        op.set(kind[i], address[i], value[i]);
        return kind[i];
    }

    public void clear() {
        head = 0;
        tail = 0;
    }
}
