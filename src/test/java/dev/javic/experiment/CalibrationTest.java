package dev.javic.experiment;

import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The calibration step: which costs each parameter scales, the fit's determinism, the written cost file. */
class CalibrationTest {
    @TempDir
    Path dir;

    @Test
    void eachParameterScalesOnlyItsOwnCostsAndSaysSoInTheSource() {
        CostModel base = CostModel.defaults();
        CostModel m = Calibration.apply(base, 0.5, 2.0, "a test");
        for (Cost c : Cost.values()) {
            long expected;
            if (Calibration.Parameter.SYSCALL_PATH.costs().contains(c)) {
                expected = Math.round(base.get(c) * 0.5);
            } else if (Calibration.Parameter.EXIT_PATH.costs().contains(c)) {
                expected = base.get(c) * 2;
            } else {
                expected = base.get(c);
                assertThat(m.source(c)).isEqualTo(base.source(c));
            }
            assertThat(m.get(c)).as(c.key()).isEqualTo(expected);
        }
        assertThat(m.source(Cost.SVM_VMEXIT)).contains("calibrated").contains("x 2.0000").contains("a test")
                .contains(base.source(Cost.SVM_VMEXIT));
        assertThat(Calibration.Parameter.SYSCALL_PATH.costs()).doesNotContainAnyElementsOf(Calibration.Parameter.EXIT_PATH.costs());
    }

    @Test
    void theFitIsDeterministicAndItsCostFileReadsBack() throws Exception {
        Calibration.Config config = new Calibration.Config(CostModel.defaults(), 3, 1, 1, 2);
        List<String> log1 = new ArrayList<>();
        Calibration.Result a = new Calibration(config, log1::add).fit();
        List<String> log2 = new ArrayList<>();
        Calibration.Result b = new Calibration(new Calibration.Config(CostModel.defaults(), 3, 1, 1, 1), log2::add).fit();
        assertThat(log2).isEqualTo(log1);
        assertThat(b.best()).isEqualTo(a.best());
        assertThat(a.evaluated()).hasSize(log1.size());
        // The first candidate is the base model itself; the best is never worse than it.
        assertThat(a.evaluated().get(0).syscallScale()).isEqualTo(1.0);
        assertThat(a.evaluated().get(0).exitScale()).isEqualTo(1.0);
        assertThat(a.best().maxRelativeError()).isLessThanOrEqualTo(a.evaluated().get(0).maxRelativeError());
        for (Calibration.Point p : a.evaluated()) {
            assertThat(p.syscallScale()).isBetween(Calibration.MIN_SCALE, Calibration.MAX_SCALE);
            assertThat(p.exitScale()).isBetween(Calibration.MIN_SCALE, Calibration.MAX_SCALE);
        }

        Path file = dir.resolve("calibrated.yaml");
        Files.writeString(file, a.calibrated().withName("carrizo-2016-calibrated").toYaml("header line 1\nline 2"));
        CostModel back = CostModel.load(file);
        assertThat(back.name()).isEqualTo("carrizo-2016-calibrated");
        for (Cost c : Cost.values()) {
            assertThat(back.get(c)).as(c.key()).isEqualTo(a.calibrated().get(c));
            assertThat(back.source(c)).as(c.key()).isEqualTo(a.calibrated().source(c));
        }
        assertThat(Files.readString(file)).startsWith("# header line 1\n# line 2\n");
    }
}
