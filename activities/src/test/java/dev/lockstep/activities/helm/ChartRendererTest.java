package dev.lockstep.activities.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The example charts rendered as {@code helm upgrade} renders them (helm-java, in process). */
class ChartRendererTest {
  static final Path CHARTS = Path.of("..", "examples", "charts").toAbsolutePath().normalize();
  private final ChartRenderer renderer = new ChartRenderer(Duration.ofSeconds(60));

  @Test
  void aChartDirectoryOfVersionsIsALocalRepository() {
    Path ghostwire = CHARTS.resolve("ghostwire");
    assertThat(ChartRenderer.resolveChart(ghostwire, null)).endsWith(Path.of("0.3.0"));
    assertThat(ChartRenderer.resolveChart(ghostwire, "0.2.0")).endsWith(Path.of("0.2.0"));
    assertThat(ChartRenderer.resolveChart(ghostwire.resolve("0.2.0"), "0.2.0"))
        .endsWith(Path.of("0.2.0"));
    assertThatThrownBy(() -> ChartRenderer.resolveChart(ghostwire, "9.9.9"))
        .hasMessageEndingWith("has no version 9.9.9 (it has 0.2.0, 0.3.0)");
    assertThatThrownBy(() -> ChartRenderer.resolveChart(ghostwire.resolve("0.2.0"), "0.3.0"))
        .hasMessageEndingWith("is version 0.2.0, not 0.3.0");
    assertThatThrownBy(() -> ChartRenderer.resolveChart(CHARTS.resolve("nope"), null))
        .hasMessageEndingWith("not found (no such directory)");
  }

  @Test
  void rendersWhatHelmRecordedForTheSameInstall() throws Exception {
    // The fixture: helm install ghostwire (0.2.0) --set logLevel=debug, namespace default.
    HelmRelease helms = HelmStorage.decode(HelmStorageTest.fixture(1));
    ObjectNode config =
        HelmValues.merge(
            HelmValues.JSON.createObjectNode(),
            Map.of(),
            List.of("logLevel=debug"),
            HelmValues.Reuse.DEFAULT);

    ChartRenderer.Rendered ours =
        renderer.render(CHARTS.resolve("ghostwire/0.2.0"), "ghostwire", "default", config);

    assertThat(ours.manifest()).isEqualTo(helms.manifest());
    assertThat(ours.hooks()).isEqualTo(helms.hooks());
    assertThat(ours.chart()).isEqualTo(helms.chart());
    assertThat(ours.config()).isEqualTo(helms.config());
    assertThat(ours.objects())
        .extracting(ChartRenderer.RenderedObject::key)
        .containsExactly("Service/ghostwire", "StatefulSet/ghostwire");
  }

  @Test
  void anUmbrellaRendersItsSubchartsAndTheirHooks() {
    ChartRenderer.Rendered aeterna =
        renderer.render(
            CHARTS.resolve("aeterna/0.2.0"), "aeterna", "demo", HelmValues.JSON.createObjectNode());

    assertThat(aeterna.objects())
        .extracting(ChartRenderer.RenderedObject::key)
        .contains(
            "ConfigMap/aeterna-config",
            "Secret/aeterna-api",
            "Deployment/aeterna",
            "StatefulSet/aeterna-postgresql");
    assertThat(aeterna.objects())
        .filteredOn(ChartRenderer.RenderedObject::fromSubchart)
        .extracting(ChartRenderer.RenderedObject::key)
        .containsExactlyInAnyOrder("Service/aeterna-postgresql", "StatefulSet/aeterna-postgresql");
    assertThat(aeterna.hooks())
        .extracting(HelmRelease.Hook::name, HelmRelease.Hook::events)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple(
                "aeterna-postgresql-migrate", List.of("pre-upgrade")),
            org.assertj.core.groups.Tuple.tuple("aeterna-test-health", List.of("test")));
    assertThat(aeterna.manifest()).doesNotContain("helm.sh/hook").doesNotContain("lockstep.dev");
    assertThat(aeterna.chart().path("metadata").path("dependencies").get(0).path("name").asText())
        .isEqualTo("postgresql");
  }

  @Test
  void theConfigMapChecksumMovesThePods() {
    ObjectNode none = HelmValues.JSON.createObjectNode();
    ObjectNode debug =
        HelmValues.merge(
            none, Map.of(), List.of("config.logLevel=debug"), HelmValues.Reuse.DEFAULT);
    String before = podAnnotation(renderer.render(CHARTS.resolve("aeterna/0.1.0"), "a", "d", none));
    String after = podAnnotation(renderer.render(CHARTS.resolve("aeterna/0.1.0"), "a", "d", debug));
    assertThat(before).hasSize(64).isNotEqualTo(after);
  }

  private static String podAnnotation(ChartRenderer.Rendered rendered) {
    return rendered.objects().stream()
        .filter(o -> o.kind().equals("Deployment"))
        .findFirst()
        .orElseThrow()
        .object()
        .path("spec")
        .path("template")
        .path("metadata")
        .path("annotations")
        .path("checksum/config")
        .asText();
  }

  @Test
  void aSchemaViolationIsOneLine() {
    ObjectNode three =
        HelmValues.merge(
            HelmValues.JSON.createObjectNode(),
            Map.of(),
            List.of("replicaCount=3"),
            HelmValues.Reuse.DEFAULT);
    assertThatThrownBy(
            () -> renderer.render(CHARTS.resolve("ghostwire/0.3.0"), "ghostwire", "demo", three))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("chart 0.3.0: values don't meet the specifications of the schema")
        .hasMessageContaining("/replicaCount': maximum: got 3, want 1")
        .hasMessageNotContaining("\n");
  }
}
