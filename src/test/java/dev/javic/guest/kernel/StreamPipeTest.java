package dev.javic.guest.kernel;

import dev.javic.sim.CostModel;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Long pipe transfers (xz's 8 KiB writes, tar's 10 KiB reads) in 2 KiB units: an 8 KiB write takes two
 * fresh pages, a 10 KiB read releases two and a half, a write into a pipe with one free page puts in one page
 * and blocks (fs/pipe.c copies page by page and sleeps when full).
 */
class StreamPipeTest {
    private static final int UNIT = Kernel.STREAM_UNIT;

    private static void write8k(Pipe p) {
        for (int i = 0; i < 8192 / UNIT; i++) {
            p.write();
        }
    }

    @Test
    void anEightKibWriteTakesTwoPages() {
        Pipe p = new Pipe(0, UNIT);
        write8k(p);
        assertThat(p.pages()).isEqualTo(2);
        assertThat(p.messages()).isEqualTo(4);
        write8k(p);
        assertThat(p.pages()).isEqualTo(4);
    }

    @Test
    void aTenKibReadReleasesTwoPagesAndLeavesHalfOfTheThird() {
        Pipe p = new Pipe(0, UNIT);
        write8k(p);
        write8k(p);
        int released = 0;
        for (int i = 0; i < 10240 / UNIT; i++) {
            released += p.read() ? 1 : 0;
        }
        assertThat(released).isEqualTo(2);
        assertThat(p.pages()).isEqualTo(2);
        assertThat(p.messages()).isEqualTo(3);
        assertThat(p.firstPageUnread()).isEqualTo(1);
        // the next record's read starts in the half-read page and releases it after one unit
        assertThat(p.read()).isTrue();
    }

    @Test
    void sixtyFourKibFillThePipeAndAHalfWriteBlocks() {
        Pipe p = new Pipe(0, UNIT);
        for (int i = 0; i < 8; i++) {
            write8k(p);
        }
        assertThat(p.isFull()).isTrue();
        assertThat(p.pages()).isEqualTo(Pipe.BUFFERS);
        p.read(); // half a page read: no slot is free yet
        assertThat(p.isFull()).isTrue();
        p.read(); // the first page is released
        assertThat(p.isFull()).isFalse();
        p.write();
        p.write(); // the first page of the next 8 KiB write fits, the second would block
        assertThat(p.isFull()).isTrue();
    }

    @Test
    void aStreamPipeLowersTheBatchingBoundsToOneUnitsCopy() {
        Kernel k = new Kernel(KernelConfig.linux45(2), CostModel.defaults(), 4);
        long write = k.minWriteCycles;
        int id = k.createStreamPipe();
        assertThat(k.pipe(id).perPage).isEqualTo(2);
        assertThat(k.minWriteCycles).isLessThanOrEqualTo(write).isLessThanOrEqualTo(k.fsCosts.pipeCopyUnit());
        assertThat(k.minReadCycles).isLessThanOrEqualTo(k.fsCosts.pipeCopyUnit());
    }

    @Test
    void fsActionsPackTheirOperationAndBytes() {
        long a = Action.fs(Action.FS_WRITE, 10_240);
        assertThat(Action.kind(a)).isEqualTo(Action.FS);
        assertThat(Action.fsOp(a)).isEqualTo(Action.FS_WRITE);
        assertThat(Action.fsBytes(a)).isEqualTo(10_240);
        assertThat(Action.isSyscall(Action.kind(a))).isTrue();
        assertThat(Action.isKernelThreadWork(Action.kind(Action.waitDirty(1)))).isTrue();
    }
}
