package dev.lockstep.activities.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.activities.helm.HelmPlan.Change;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What {@code lockstep plan NS/helm/RELEASE} shows, from the deployed revision and the chart. */
class HelmPlanTest {
  private final ChartRenderer renderer = new ChartRenderer(Duration.ofSeconds(60));

  @Test
  void ghostwireFromWhatHelmInstalledTo030() throws Exception {
    HelmRelease deployed = HelmStorage.decode(HelmStorageTest.fixture(1));
    ObjectNode values =
        HelmValues.merge(deployed.config(), Map.of(), List.of(), HelmValues.Reuse.DEFAULT);
    ChartRenderer.Rendered next =
        renderer.render(
            ChartRendererTest.CHARTS.resolve("ghostwire/0.3.0"), "ghostwire", "default", values);

    HelmPlan.Report plan = HelmPlan.of(deployed, next);

    assertThat(plan.fromChart()).isEqualTo("ghostwire-0.2.0");
    assertThat(plan.toChart()).isEqualTo("ghostwire-0.3.0");
    assertThat(plan.valuesDiff()).isEmpty();
    assertThat(plan.chartDefaultsDiff())
        .containsExactly("~ image.tag: 1.18.0 -> 1.19.0", "+ logLevel: info");
    assertThat(plan.objects())
        .extracting(HelmPlan.ObjectChange::key, HelmPlan.ObjectChange::change)
        .containsExactly(
            tuple("Service/ghostwire", Change.UPDATE),
            tuple("StatefulSet/ghostwire", Change.UPDATE));
    assertThat(plan.objects().get(1).diff())
        .contains(
            "-           image: \"ghcr.io/example/ghostwire:1.18.0\"",
            "+           image: \"ghcr.io/example/ghostwire:1.19.0\"");
    assertThat(plan.workloads())
        .extracting(HelmPlan.WorkloadMove::key, HelmPlan.WorkloadMove::change)
        .containsExactly(tuple("StatefulSet/ghostwire", Change.UPDATE));
    assertThat(plan.hooks()).containsExactly("test Job/ghostwire-test-connection");
  }

  @Test
  void aeternaMovesTheSubchartFirstAndNeverShowsSecretValues() {
    ObjectNode none = HelmValues.JSON.createObjectNode();
    HelmRelease deployed = installed("aeterna/0.1.0", none);
    ObjectNode newToken =
        HelmValues.merge(none, Map.of(), List.of("apiToken=s3cr3t-n3w"), HelmValues.Reuse.DEFAULT);
    ChartRenderer.Rendered next =
        renderer.render(
            ChartRendererTest.CHARTS.resolve("aeterna/0.2.0"), "aeterna", "demo", newToken);

    HelmPlan.Report plan = HelmPlan.of(deployed, next);

    assertThat(plan.workloads())
        .extracting(HelmPlan.WorkloadMove::key, HelmPlan.WorkloadMove::subchart)
        .containsExactly(
            tuple("StatefulSet/aeterna-postgresql", true), tuple("Deployment/aeterna", false));
    assertThat(plan.valuesDiff()).containsExactly("+ apiToken: s3cr3t-n3w");
    HelmPlan.ObjectChange secret =
        plan.objects().stream()
            .filter(o -> o.key().equals("Secret/aeterna-api"))
            .findFirst()
            .orElseThrow();
    assertThat(secret.change()).isEqualTo(Change.UPDATE);
    assertThat(secret.diff()).containsExactly("~ data key API_TOKEN changed (value not shown)");
    assertThat(plan.objects().toString()).doesNotContain("s3cr3t").doesNotContain("change-me");
    assertThat(plan.otherChanges())
        .extracting(HelmPlan.ObjectChange::key)
        .containsExactly("Secret/aeterna-api", "ConfigMap/aeterna-config");
    assertThat(plan.hooks())
        .containsExactlyInAnyOrder(
            "pre-upgrade Job/aeterna-postgresql-migrate", "test Job/aeterna-test-health");
  }

  @Test
  void aKindChangeIsDeclaredDowntimeFirstAndARemovedWorkloadGoesLast() {
    ObjectNode none = HelmValues.JSON.createObjectNode();
    ChartRenderer.Rendered old =
        renderer.render(ChartRendererTest.CHARTS.resolve("aeterna/0.1.0"), "aeterna", "demo", none);
    // The old revision ran the API as a StatefulSet and had a cache that 0.2.0 no longer has.
    String oldManifest =
        old.manifest().replace("kind: Deployment", "kind: StatefulSet")
            + "---\n# Source: aeterna/templates/cache.yaml\napiVersion: apps/v1\nkind: Deployment\n"
            + "metadata:\n  name: aeterna-cache\nspec:\n  replicas: 1\n";
    HelmRelease deployed =
        HelmRelease.first(
            "aeterna",
            "demo",
            old.chart(),
            none,
            oldManifest,
            old.hooks(),
            HelmRelease.DEPLOYED,
            "Install complete",
            Instant.EPOCH);
    ChartRenderer.Rendered next =
        renderer.render(ChartRendererTest.CHARTS.resolve("aeterna/0.2.0"), "aeterna", "demo", none);

    HelmPlan.Report plan = HelmPlan.of(deployed, next);

    assertThat(plan.workloads())
        .extracting(
            HelmPlan.WorkloadMove::key,
            HelmPlan.WorkloadMove::change,
            HelmPlan.WorkloadMove::declaredDowntime)
        .containsExactly(
            tuple("Deployment/aeterna", Change.REPLACE, true),
            tuple("StatefulSet/aeterna-postgresql", Change.UPDATE, false),
            tuple("Deployment/aeterna-cache", Change.DELETE, false));
  }

  private HelmRelease installed(String chart, ObjectNode values) {
    ChartRenderer.Rendered r =
        renderer.render(ChartRendererTest.CHARTS.resolve(chart), "aeterna", "demo", values);
    return HelmRelease.first(
        "aeterna",
        "demo",
        r.chart(),
        values,
        r.manifest(),
        r.hooks(),
        HelmRelease.DEPLOYED,
        "Install complete",
        Instant.EPOCH);
  }
}
