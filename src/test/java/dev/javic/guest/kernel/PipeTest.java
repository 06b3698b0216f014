package dev.javic.guest.kernel;

import dev.javic.sim.CostModel;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** fs/pipe.c of 4.5: merging into pages, when writers block, who a write or a read wakes. */
class PipeTest {
    @Test
    void smallWritesMergeFortyToAPageAndSixHundredFortyFill() {
        Pipe p = new Pipe(0, 100);
        for (int i = 0; i < 40; i++) {
            p.write();
        }
        assertThat(p.pages()).isEqualTo(1);
        p.write(); // 4000 + 100 > 4096: the 41st message takes a new page, it never straddles two
        assertThat(p.pages()).isEqualTo(2);
        while (!p.isFull()) {
            p.write();
        }
        assertThat(p.messages()).isEqualTo(640);
        assertThat(p.pages()).isEqualTo(16);
        assertThat(p.freeSlots()).isZero();
        assertThatThrownBy(p::write).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aPageIsReleasedOnceAllWrittenIntoItIsRead() {
        Pipe p = new Pipe(0, 100);
        for (int i = 0; i < 10; i++) {
            p.write();
        }
        for (int i = 0; i < 9; i++) {
            assertThat(p.read()).isFalse();
        }
        p.write(); // merges behind the unread message: the page now holds 11 written, 1 + 1 unread
        assertThat(p.read()).isFalse();
        assertThat(p.read()).isTrue(); // everything written into it is read: released
        assertThat(p.pages()).isZero();
        p.write(); // an empty pipe takes a fresh page (nothing to merge into)
        assertThat(p.pages()).isEqualTo(1);
        assertThat(p.freeSlots()).isEqualTo(15 * 40 + 39);
    }

    @Test
    void aReleasedPageBeforeAMergeLeavesLessRoomThanTheOtherOrder() {
        // Why effects are applied in time order: the interleaving of reads and writes shapes the pages.
        Pipe readFirst = new Pipe(0, 100);
        Pipe writeFirst = new Pipe(1, 100);
        for (Pipe p : new Pipe[] {readFirst, writeFirst}) {
            for (int i = 0; i < 5; i++) {
                p.write();
            }
            for (int i = 0; i < 4; i++) {
                p.read();
            }
        }
        readFirst.read();
        readFirst.write();
        writeFirst.write();
        writeFirst.read();
        assertThat(readFirst.freeSlots()).isEqualTo(15 * 40 + 39);
        assertThat(writeFirst.freeSlots()).isEqualTo(15 * 40 + 34);
    }

    @Test
    void everyWriteWakesAllSleepersMostRecentFirstAndAReadWakesOnlyWhenItReleasesAPage() {
        Kernel k = new Kernel(KernelConfig.linux45(1), CostModel.defaults(), 8);
        int pipe = k.createPipe(100);
        Pipe p = k.pipe(pipe);
        int writer = k.createRunnableTask("w", () -> Action.write(pipe), 0, -1);
        int a = k.createTaskPolling("a", pollThen(pipe), 0, -1);
        int b = k.createTaskPolling("b", pollThen(pipe), 0, -1);
        KernelCpu cpu = k.cpu(0);
        int outcome = k.applyEffect(cpu, k.tasks[writer], Action.write(pipe), 100, false);
        assertThat(outcome).isEqualTo(Task.OUTCOME_WOKE);
        assertThat(cpu.wakeeCount).isEqualTo(2);
        assertThat(cpu.wakees[0]).isEqualTo(b); // the most recent sleeper first
        assertThat(cpu.wakees[1]).isEqualTo(a);
        assertThat(k.tasks[a].state).isEqualTo(Task.State.WAKING);
        assertThat(p.waiters()).isZero();
        cpu.wakeeCount = 0;
        // a second write with nobody waiting wakes nobody
        assertThat(k.applyEffect(cpu, k.tasks[writer], Action.write(pipe), 200, true)).isEqualTo(Task.OUTCOME_DONE);
        // a writer blocked on a full pipe is woken by the read that releases a page, not by the others
        while (!p.isFull()) {
            p.write();
        }
        assertThat(k.applyEffect(cpu, k.tasks[writer], Action.write(pipe), 300, false)).isEqualTo(Task.OUTCOME_BLOCKED);
        assertThat(p.waiters()).isEqualTo(1);
        for (int i = 0; i < 39; i++) {
            assertThat(k.applyEffect(cpu, k.tasks[a], Action.read(pipe), 400 + i, true)).isEqualTo(Task.OUTCOME_DONE);
        }
        assertThat(k.applyEffect(cpu, k.tasks[a], Action.read(pipe), 500, false)).isEqualTo(Task.OUTCOME_WOKE);
        assertThat(cpu.wakees[0]).isEqualTo(writer);
    }

    @Test
    void aCertainEffectThatWouldBlockIsABugNotAnOutcome() {
        Kernel k = new Kernel(KernelConfig.linux45(1), CostModel.defaults(), 4);
        int pipe = k.createPipe(100);
        int reader = k.createRunnableTask("r", () -> Action.read(pipe), 0, -1);
        assertThatThrownBy(() -> k.applyEffect(k.cpu(0), k.tasks[reader], Action.read(pipe), 1, true))
                .hasMessageContaining("batching bound");
    }

    private static TaskProgram pollThen(int pipe) {
        return new TaskProgram() {
            boolean first = true;

            @Override
            public long nextAction() {
                if (first) {
                    first = false;
                    return Action.poll(pipe);
                }
                return Action.read(pipe);
            }
        };
    }
}
