package dev.javic.sim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CostModelTest {
    @TempDir
    Path dir;

    @Test
    void presetHasEveryCostWithASource() {
        CostModel m = CostModel.defaults();
        for (Cost c : Cost.values()) {
            assertThat(m.source(c)).as(c.key()).isNotBlank();
        }
        assertThat(m.tscHz()).isEqualTo(1_800_000_000L);
        assertThat(m.nsToCycles(1000)).isEqualTo(1800);
        assertThat(m.cyclesToNs(1800)).isEqualTo(1000);
        assertThat(m.nsToCycles(3_600_000_000_000_000L)).isEqualTo(6_480_000_000_000_000_000L / 1000);
    }

    private Path presetCopyWith(String from, String to) throws IOException {
        String yaml = new String(CostModel.class.getResourceAsStream("/presets/carrizo-2016.yaml").readAllBytes());
        assertThat(yaml).contains(from);
        Path f = dir.resolve("c.yaml");
        Files.writeString(f, yaml.replace(from, to));
        return f;
    }

    @Test
    void rejectsNegativeValue() throws IOException {
        Path f = presetCopyWith("value: 680", "value: -680");
        assertThatThrownBy(() -> CostModel.load(f)).isInstanceOf(CostModel.CostFileException.class)
                .hasMessageContaining("negative");
    }

    @Test
    void rejectsNonNumericValue() throws IOException {
        Path f = presetCopyWith("value: 568", "value: fast");
        assertThatThrownBy(() -> CostModel.load(f)).hasMessageContaining("kvm.enter_guest")
                .hasMessageContaining("non-negative integer");
    }

    @Test
    void rejectsUnknownAndMissingEntries() throws IOException {
        Path unknown = presetCopyWith("  svm.vmexit:", "  svm.vmexit_typo:");
        assertThatThrownBy(() -> CostModel.load(unknown)).hasMessageContaining("unknown cost 'svm.vmexit_typo'");
        String yaml = Files.readString(presetCopyWith("x", "x"));
        Files.writeString(dir.resolve("m.yaml"), yaml.replaceAll("(?s)  host.timeslice:.*", ""));
        assertThatThrownBy(() -> CostModel.load(dir.resolve("m.yaml"))).hasMessageContaining("missing cost 'host.timeslice'");
    }

    @Test
    void rejectsUnknownPresetAndBadYaml() throws IOException {
        assertThatThrownBy(() -> CostModel.preset("pentium-1993")).hasMessageContaining("unknown cost preset");
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "costs: [unclosed\n");
        assertThatThrownBy(() -> CostModel.load(f)).hasMessageContaining("not valid YAML");
    }
}
