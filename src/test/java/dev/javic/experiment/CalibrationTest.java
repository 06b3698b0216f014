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
            if (Calibration.Parameter.GUEST_CPU.costs().contains(c)) {
                expected = Math.round(base.get(c) * 0.5);
            } else if (Calibration.Parameter.EXIT_PATH.costs().contains(c)) {
                expected = base.get(c) * 2;
            } else {
                expected = base.get(c);
                assertThat(m.source(c)).isEqualTo(base.source(c));
            }
            assertThat(m.get(c)).as(c.key()).isEqualTo(expected);
        }
        assertThat(Calibration.Parameter.GUEST_CPU.costs()).contains(Cost.GUEST_SYSCALL, Cost.GUEST_SCHEDULE, Cost.GUEST_TTWU,
                Cost.GUEST_PIPE_READ, Cost.HACKBENCH_USER_PER_MESSAGE).doesNotContain(Cost.KVM_HANDLE_MSR, Cost.SVM_VMRUN);
        assertThat(m.source(Cost.SVM_VMEXIT)).contains("calibrated").contains("x 2.000").contains("a test")
                .contains(base.source(Cost.SVM_VMEXIT));
        assertThat(Calibration.Parameter.GUEST_CPU.costs()).doesNotContainAnyElementsOf(Calibration.Parameter.EXIT_PATH.costs());
    }

    @Test
    void theLinearModelRecoversPlanesAndLandsWhereTheyMeetTheSeries() {
        // Times exactly linear in both factors: t_k = c_k + g_k a + x_k b, constructed to meet the series at (0.7, 1.2).
        SystemKind[] kinds = SystemKind.values();
        double[] x = {40, 38, 1};
        double[] c = {5, 7, 3};
        double[] g = new double[kinds.length];
        for (int i = 0; i < kinds.length; i++) {
            g[i] = (Calibration.TARGETS.get(kinds[i]) - c[i] - x[i] * 1.2) / 0.7;
        }
        List<Calibration.Point> points = new ArrayList<>();
        for (double[] ab : new double[][] {{1, 1}, {0.8, 1}, {0.8, 1.25}, {0.6, 0.9}}) {
            java.util.Map<SystemKind, Double> t = new java.util.EnumMap<>(SystemKind.class);
            for (int i = 0; i < kinds.length; i++) {
                t.put(kinds[i], c[i] + g[i] * ab[0] + x[i] * ab[1]);
            }
            points.add(new Calibration.Point(ab[0], ab[1], t, t));
        }
        Calibration.LinearModel m = Calibration.LinearModel.fit(points);
        for (int i = 0; i < kinds.length; i++) {
            assertThat(m.guestSlope()[i]).isCloseTo(g[i], org.assertj.core.data.Offset.offset(1e-6));
            assertThat(m.exitSlope()[i]).isCloseTo(x[i], org.assertj.core.data.Offset.offset(1e-6));
            assertThat(m.intercept()[i]).isCloseTo(c[i], org.assertj.core.data.Offset.offset(1e-6));
        }
        double[] fit = Calibration.solveLinear(m);
        assertThat(fit[0]).isCloseTo(0.7, org.assertj.core.data.Offset.offset(0.0011));
        assertThat(fit[1]).isCloseTo(1.2, org.assertj.core.data.Offset.offset(0.0011));
    }

    @Test
    void theShippedCalibratedPresetIsTheEstimatesWithTheTwoFittedFactorsAndNothingElse() throws Exception {
        String text;
        try (var in = CostModel.class.getResourceAsStream("/presets/" + CostModel.CALIBRATED_PRESET + ".yaml")) {
            assertThat(in).as("the calibrated preset is shipped").isNotNull();
            text = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("guest-cpu x([0-9.]+), exit-path x([0-9.]+)").matcher(text);
        assertThat(m.find()).as("the header names both factors").isTrue();
        double guest = Double.parseDouble(m.group(1));
        double exit = Double.parseDouble(m.group(2));
        CostModel base = CostModel.preset(CostModel.DEFAULT_PRESET);
        CostModel shipped = CostModel.preset(CostModel.CALIBRATED_PRESET);
        CostModel expected = Calibration.apply(base, guest, exit, "x");
        assertThat(shipped.name()).isEqualTo(CostModel.CALIBRATED_PRESET);
        assertThat(shipped.tscHz()).isEqualTo(base.tscHz());
        for (Cost c : Cost.values()) {
            assertThat(shipped.get(c)).as(c.key()).isEqualTo(expected.get(c));
            if (expected.get(c) == base.get(c) && !expected.source(c).startsWith("calibrated")) {
                assertThat(shipped.source(c)).as(c.key()).isEqualTo(base.source(c));
            } else {
                assertThat(shipped.source(c)).as(c.key()).startsWith("calibrated").contains(base.source(c));
            }
        }
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
        assertThat(a.evaluated().get(0).guestScale()).isEqualTo(1.0);
        assertThat(a.evaluated().get(0).exitScale()).isEqualTo(1.0);
        assertThat(a.best().maxRelativeError()).isLessThanOrEqualTo(a.evaluated().get(0).maxRelativeError());
        for (Calibration.Point p : a.evaluated()) {
            assertThat(p.guestScale()).isBetween(Calibration.MIN_SCALE, Calibration.MAX_SCALE);
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
