package dev.lockstep.activities.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lockstep.workflows.HelmActivities;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A chart carried in a request, as the CLI reads it from disk. */
class HelmActivitiesImplTest {

  /** Every file of a chart directory, as the CLI sends it. */
  static HelmActivities.ChartFiles chartFiles(Path dir) throws IOException {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path file : walk.filter(Files::isRegularFile).toList()) {
        files.put(
            dir.relativize(file).toString(),
            Base64.getEncoder().encodeToString(Files.readAllBytes(file)));
      }
    }
    return new HelmActivities.ChartFiles(dir.getFileName().toString(), files);
  }

  @Test
  void aChartIsWrittenBackAsItWasRead(@TempDir Path dir) throws IOException {
    Path ghostwire = ChartRendererTest.CHARTS.resolve("ghostwire");
    Path copy = HelmActivitiesImpl.materialize(chartFiles(ghostwire), dir.resolve("c"));
    assertThat(ChartRenderer.resolveChart(copy, null)).endsWith(Path.of("0.3.0"));
    assertThat(Files.readString(copy.resolve("0.2.0/Chart.yaml")))
        .isEqualTo(Files.readString(ghostwire.resolve("0.2.0/Chart.yaml")));
  }

  @Test
  void aFileOutsideTheChartIsRefused(@TempDir Path dir) {
    HelmActivities.ChartFiles evil =
        new HelmActivities.ChartFiles("evil", Map.of("../../etc/x", "eA=="));
    assertThatThrownBy(() -> HelmActivitiesImpl.materialize(evil, dir.resolve("c")))
        .hasMessage("chart evil: file ../../etc/x is outside the chart");
    assertThatThrownBy(
            () ->
                HelmActivitiesImpl.materialize(
                    new HelmActivities.ChartFiles("none", Map.of()), dir.resolve("d")))
        .hasMessage("no chart given (--chart DIR)");
  }
}
