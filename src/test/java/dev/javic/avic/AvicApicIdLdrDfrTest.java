package dev.javic.avic;

import dev.javic.avic.RecordingSink.AccelIpi;
import dev.javic.avic.RecordingSink.Exit;
import dev.javic.experiment.SystemKind;
import dev.javic.hw.SvmExit;
import dev.javic.sim.TieBreak;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.javic.hw.AvicTables.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

/**
 * Series item 7: KVM keeps the physical and logical APIC ID tables right when the guest changes its
 * APIC ID, LDR and DFR (avic_handle_apic_id_update, avic_handle_ldr_update, avic_handle_dfr_update, on
 * the trapped writes), so that the hardware's IPIs keep reaching the right vCPU. Checked through the
 * vectors each guest took, the AVIC unit's deliveries, and the tables read from host memory, both
 * while the guests use the flat model and after they all switched to the cluster model.
 */
class AvicApicIdLdrDfrTest {

    private static final int LOGICAL_ENTRIES = 64;

    private record Tables(long[] physical, int[] logical) {
    }

    private static Tables snapshot(AvicRun.Access mem) {
        long[] p = new long[8];
        for (int i = 0; i < p.length; i++) {
            p[i] = mem.physical(i);
        }
        int[] l = new int[LOGICAL_ENTRIES];
        for (int i = 0; i < l.length; i++) {
            l[i] = mem.logical(i);
        }
        return new Tables(p, l);
    }

    @Test
    void ipisFollowIdLdrAndDfrChangesAndTheTablesSayWhy() {
        RecordingSink sink = new RecordingSink();
        Tables[] flat = new Tables[1];
        AvicRun run = AvicRun.run(AvicRun.load("apic-id-ldr-dfr.yaml"), SystemKind.AVIC_ON, TieBreak.FIFO, 1, sink,
                runner -> sink.onExit(e -> {
                    // vCPU 0's IPI to physical 1 exits (nobody has APIC ID 1 any more): the flat-model moment.
                    if (e.vcpu() == 0 && e.code() == SvmExit.AVIC_INCOMPLETE_IPI && flat[0] == null) {
                        flat[0] = snapshot(AvicRun.access(runner));
                    }
                }));
        run.assertExpectationsHold();
        RecordingSink t = run.trace();
        long page0 = run.backingPage(0);
        long page1 = run.backingPage(1);
        long page2 = run.backingPage(2);

        // ---- the flat-model moment ----
        assertThat(flat[0]).as("snapshot taken\n%s", t.dump()).isNotNull();
        long[] p = flat[0].physical();
        long validRunning = PHYSICAL_VALID | PHYSICAL_IS_RUNNING;
        assertThat(p[0]).isEqualTo(validRunning | page0 | 0);  // vCPU 0 on host APIC 0
        assertThat(p[1]).as("vCPU 1's old entry is gone").isZero();
        assertThat(p[2]).isEqualTo(validRunning | page2 | 2);
        assertThat(p[5]).as("vCPU 1's entry moved to its new ID").isEqualTo(validRunning | page1 | 1);
        int[] l = flat[0].logical();
        assertThat(l[0]).isEqualTo(LOGICAL_VALID | 0);  // vCPU 0, flat 0x01
        assertThat(l[2]).isEqualTo(LOGICAL_VALID | 5);  // vCPU 1, flat 0x04 -> its guest physical APIC ID 5
        assertThat(l[3]).isEqualTo(LOGICAL_VALID | 2);  // vCPU 2, flat 0x08
        assertValidOnly(l, 0, 2, 3);

        // ---- after the switch to the cluster model ----
        Tables end = snapshot(AvicRun.access(run.runner()));
        int[] c = end.logical();
        assertThat(c[4]).isEqualTo(LOGICAL_VALID | 5);  // 0x11: cluster 1, bit 0 -> vCPU 1 (ID 5)
        assertThat(c[5]).isEqualTo(LOGICAL_VALID | 2);  // 0x12: cluster 1, bit 1 -> vCPU 2
        assertThat(c[8]).isEqualTo(LOGICAL_VALID | 0);  // 0x21: cluster 2, bit 0 -> vCPU 0
        assertValidOnly(c, 4, 5, 8);
        long[] q = end.physical();
        long valid = PHYSICAL_VALID;
        // Every vCPU halted at the end: IsRunning is clear; the host APIC IDs stay as last loaded.
        assertThat(q[0]).isEqualTo(valid | page0 | 0);
        assertThat(q[1]).isZero();
        assertThat(q[2]).isEqualTo(valid | page2 | 2);
        assertThat(q[5]).isEqualTo(valid | page1 | 1);

        // ---- the hardware delivered every IPI itself, through those entries ----
        List<AccelIpi> hw = t.all(AccelIpi.class, a -> a.vcpu() == 0);
        assertThat(hw).extracting(AccelIpi::vector, AccelIpi::targetIndex, AccelIpi::running).containsExactly(
                tuple(0x50, 5, true),
                tuple(0x52, 5, true),
                tuple(0x53, 5, true), tuple(0x53, 2, true),
                tuple(0x54, 2, true),
                tuple(0x55, 5, true), tuple(0x55, 2, true),
                tuple(0x56, 5, true));
        // Only the IPI to the vacated ID 1 left the guest: INVALID_TARGET, physical index 1.
        List<Exit> incomplete = t.exits(0, SvmExit.AVIC_INCOMPLETE_IPI);
        assertThat(incomplete).singleElement().satisfies(e -> {
            assertThat(e.info1()).isEqualTo(0x01000000_00004051L);
            assertThat(e.info2()).isEqualTo((long) IPI_FAILURE_INVALID_TARGET << 32 | 1);
        });
        assertThat(run.interrupts(0)).isEmpty();
    }

    private static void assertValidOnly(int[] logical, int... validIndices) {
        for (int i = 0; i < logical.length; i++) {
            boolean expected = false;
            for (int v : validIndices) {
                expected |= v == i;
            }
            assertThat((logical[i] & LOGICAL_VALID) != 0).as("logical entry %d valid", i).isEqualTo(expected);
        }
    }

    @Test
    void avicOffDeliversTheSame() {
        AvicRun off = AvicRun.run(AvicRun.load("apic-id-ldr-dfr.yaml"), SystemKind.AVIC_OFF);
        off.assertExpectationsHold();
        assertThat(off.trace().all(AccelIpi.class)).isEmpty();
    }
}
