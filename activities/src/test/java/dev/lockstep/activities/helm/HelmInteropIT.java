package dev.lockstep.activities.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import com.marcnuri.helm.ReleaseHistory;
import dev.lockstep.kubesim.lane.ControlPlaneKit;
import dev.lockstep.workflows.HelmActivities;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * Lockstep and Helm on one release, against a real v1.20 API server: what Helm (helm-java, Helm
 * 3.21) writes Lockstep reads, and what Lockstep writes Helm lists, shows in its history and
 * values, upgrades from, and refuses to upgrade while Lockstep holds it {@code pending-upgrade}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@EnabledIf(
    value = "dev.lockstep.kubesim.lane.ControlPlaneKit#available",
    disabledReason = "no real control plane here (../shared/tools/k8s/control-plane not found)")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HelmInteropIT {
  private static final String NS = "default";
  private static final Duration HELM = Duration.ofSeconds(60);
  private static final Path GHOSTWIRE = ChartRendererTest.CHARTS.resolve("ghostwire");

  private ControlPlaneKit plane;
  private KubernetesClient client;
  private HelmStorage storage;
  private final ChartRenderer renderer = new ChartRenderer(HELM);

  @BeforeAll
  void start() {
    // Helm needs only the API server: no hollow nodes, so the pod-network gateway port stays
    // unused.
    plane = ControlPlaneKit.start(ControlPlaneKit.script().orElseThrow(), freePort());
    client =
        new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(plane.kubeconfig())).build();
    storage = new HelmStorage(client);
  }

  @AfterAll
  void stop() {
    if (client != null) {
      client.close();
    }
    if (plane != null) {
      plane.close();
    }
  }

  @Test
  @Order(1)
  void lockstepReadsWhatHelmInstalled() {
    Release installed =
        HelmCalls.call(
            "install",
            HELM,
            () ->
                new Helm(GHOSTWIRE.resolve("0.2.0"))
                    .install()
                    .withName("ghostwire")
                    .withNamespace(NS)
                    .withKubeConfig(plane.kubeconfigFile())
                    .set("logLevel", "debug")
                    .call());
    assertThat(installed.getStatus()).isEqualTo("deployed");

    HelmRelease v1 = storage.latest(NS, "ghostwire").orElseThrow();

    assertThat(v1.version()).isEqualTo(1);
    assertThat(v1.status()).isEqualTo(HelmRelease.DEPLOYED);
    assertThat(v1.chartVersion()).isEqualTo("0.2.0");
    assertThat(v1.config().toString()).isEqualTo("{\"logLevel\":\"debug\"}");
    ChartRenderer.Rendered ours =
        renderer.render(GHOSTWIRE.resolve("0.2.0"), "ghostwire", NS, v1.config());
    assertThat(ours.manifest()).isEqualTo(v1.manifest());
    assertThat(ours.hooks()).isEqualTo(v1.hooks());
  }

  @Test
  @Order(2)
  void helmReadsWhatLockstepUpgraded() {
    HelmRelease v1 = storage.latest(NS, "ghostwire").orElseThrow();
    ObjectNode values =
        HelmValues.merge(v1.config(), Map.of(), List.of(), HelmValues.Reuse.DEFAULT);
    ChartRenderer.Rendered rendered =
        renderer.render(ChartRenderer.resolveChart(GHOSTWIRE, "0.3.0"), "ghostwire", NS, values);
    Instant now = Instant.now();
    HelmRelease pending =
        v1.next(
            rendered.chart(),
            rendered.config(),
            rendered.manifest(),
            rendered.hooks(),
            HelmRelease.PENDING_UPGRADE,
            "Preparing upgrade",
            now);
    storage.write(pending, now);

    // While Lockstep holds the release, Helm itself refuses another upgrade.
    assertThatThrownBy(
            () ->
                HelmCalls.call(
                    "upgrade",
                    HELM,
                    () ->
                        new Helm(GHOSTWIRE.resolve("0.3.0"))
                            .upgrade()
                            .withName("ghostwire")
                            .withNamespace(NS)
                            .withKubeConfig(plane.kubeconfigFile())
                            .call()))
        .hasMessageContaining("another operation (install/upgrade/rollback) is in progress");

    storage.write(v1.withStatus(HelmRelease.SUPERSEDED, null), now);
    storage.write(pending.withStatus(HelmRelease.DEPLOYED, "Upgrade complete"), now);
    // a retried activity writes the same revision again: nothing changes
    storage.write(pending.withStatus(HelmRelease.DEPLOYED, "Upgrade complete"), now);

    List<Release> listed =
        HelmCalls.call(
            "list",
            HELM,
            () -> Helm.list().withNamespace(NS).withKubeConfig(plane.kubeconfigFile()).call());
    assertThat(listed)
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getName()).isEqualTo("ghostwire");
              assertThat(r.getRevision()).isEqualTo("2");
              assertThat(r.getStatus()).isEqualTo("deployed");
              assertThat(r.getChart()).isEqualTo("ghostwire-0.3.0");
              assertThat(r.getAppVersion()).isEqualTo("1.19.0");
            });
    List<ReleaseHistory> history =
        HelmCalls.call(
            "history",
            HELM,
            () ->
                Helm.history("ghostwire")
                    .withNamespace(NS)
                    .withKubeConfig(plane.kubeconfigFile())
                    .call());
    assertThat(history)
        .extracting(ReleaseHistory::getRevision, ReleaseHistory::getStatus)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(1, "superseded"),
            org.assertj.core.groups.Tuple.tuple(2, "deployed"));
    String values2 =
        HelmCalls.call(
            "get values",
            HELM,
            () ->
                Helm.get("ghostwire")
                    .values()
                    .withNamespace(NS)
                    .withKubeConfig(plane.kubeconfigFile())
                    .call());
    assertThat(values2).contains("logLevel: debug");
  }

  @Test
  @Order(3)
  void helmUpgradesFromWhatLockstepWrote() {
    Release upgraded =
        HelmCalls.call(
            "upgrade",
            HELM,
            () ->
                new Helm(GHOSTWIRE.resolve("0.3.0"))
                    .upgrade()
                    .withName("ghostwire")
                    .withNamespace(NS)
                    .withKubeConfig(plane.kubeconfigFile())
                    .set("logLevel", "warn")
                    .call());
    assertThat(upgraded.getRevision()).isEqualTo("3");
    assertThat(storage.history(NS, "ghostwire"))
        .extracting(HelmRelease::version, HelmRelease::status)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(1, "superseded"),
            org.assertj.core.groups.Tuple.tuple(2, "superseded"),
            org.assertj.core.groups.Tuple.tuple(3, "deployed"));
  }

  @Test
  @Order(4)
  void objectsThatAreNotWorkloadsMoveAndComeBackAsHelmMovesThem() {
    String ns = "aeterna";
    client
        .namespaces()
        .resource(
            new io.fabric8.kubernetes.api.model.NamespaceBuilder()
                .withNewMetadata()
                .withName(ns)
                .endMetadata()
                .build())
        .create();
    ObjectNode none = HelmValues.JSON.createObjectNode();
    Path charts = ChartRendererTest.CHARTS.resolve("aeterna");
    List<ChartRenderer.RenderedObject> v1 =
        renderer.render(charts.resolve("0.1.0"), "aeterna", ns, none).objects();
    List<ChartRenderer.RenderedObject> v2 =
        renderer.render(charts.resolve("0.2.0"), "aeterna", ns, none).objects();
    ReleaseObjects objects = new ReleaseObjects(client);

    assertThat(objects.apply("aeterna", ns, List.of(), v1))
        .extracting(ReleaseObjects.Applied::key, ReleaseObjects.Applied::action)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("Secret/aeterna-api", "created"),
            org.assertj.core.groups.Tuple.tuple("ConfigMap/aeterna-config", "created"),
            org.assertj.core.groups.Tuple.tuple("Service/aeterna-postgresql", "created"),
            org.assertj.core.groups.Tuple.tuple("Service/aeterna", "created"));
    // someone else's label on the ConfigMap survives, as with Helm's three-way merge
    client
        .configMaps()
        .inNamespace(ns)
        .withName("aeterna-config")
        .edit(
            c -> {
              c.getMetadata().getLabels().put("team", "memory");
              return c;
            });

    assertThat(objects.apply("aeterna", ns, v1, v2))
        .extracting(ReleaseObjects.Applied::key, ReleaseObjects.Applied::action)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("ConfigMap/aeterna-config", "updated"));
    assertThat(objects.apply("aeterna", ns, v1, v2)).as("a retry does nothing").isEmpty();
    var config = client.configMaps().inNamespace(ns).withName("aeterna-config").get();
    assertThat(config.getData()).containsEntry("CACHE_TTL_SECONDS", "300");
    assertThat(config.getMetadata().getLabels())
        .containsEntry("team", "memory")
        .containsEntry("app.kubernetes.io/managed-by", "Helm");
    assertThat(config.getMetadata().getAnnotations())
        .containsEntry("meta.helm.sh/release-name", "aeterna");

    assertThat(objects.apply("aeterna", ns, v2, v1))
        .extracting(ReleaseObjects.Applied::key, ReleaseObjects.Applied::action)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("ConfigMap/aeterna-config", "updated"));
    config = client.configMaps().inNamespace(ns).withName("aeterna-config").get();
    assertThat(config.getData()).doesNotContainKey("CACHE_TTL_SECONDS");
    assertThat(config.getMetadata().getLabels()).containsEntry("team", "memory");

    assertThat(objects.apply("aeterna", ns, v1, List.of()))
        .extracting(ReleaseObjects.Applied::action)
        .containsOnly("deleted")
        .hasSize(4);
    assertThat(client.configMaps().inNamespace(ns).withName("aeterna-config").get()).isNull();
  }

  @Test
  @Order(5)
  void theActivityPlansAnUpgradeOfWhatIsDeployed() throws Exception {
    HelmActivitiesImpl activities = new HelmActivitiesImpl(client, HELM);
    HelmActivities.ChartFiles chart = HelmActivitiesImplTest.chartFiles(GHOSTWIRE);

    HelmActivities.ReleasePlan plan =
        activities.planRelease(
            new HelmActivities.ReleaseRequest(
                NS, "ghostwire", chart, "0.2.0", List.of(), List.of(), "default"));

    assertThat(plan.problems()).isEmpty();
    assertThat(plan.fromRevision()).isEqualTo(3);
    assertThat(plan.fromChart()).isEqualTo("ghostwire-0.3.0");
    assertThat(plan.toChart()).isEqualTo("ghostwire-0.2.0");
    assertThat(plan.valuesDiff()).isEmpty();
    assertThat(plan.workloads())
        .extracting(HelmActivities.WorkloadMove::key, HelmActivities.WorkloadMove::change)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("StatefulSet/ghostwire", "update"));

    assertThat(
            activities
                .planRelease(
                    new HelmActivities.ReleaseRequest(
                        NS, "ghostwire", chart, "0.3.0", List.of(), List.of("replicaCount=3"), ""))
                .problems())
        .singleElement()
        .asString()
        .contains("/replicaCount': maximum: got 3, want 1");
    assertThat(
            activities
                .planRelease(
                    new HelmActivities.ReleaseRequest(
                        NS, "ghostwire", chart, "9.9.9", List.of(), List.of(), ""))
                .problems())
        .containsExactly("chart ghostwire has no version 9.9.9 (it has 0.2.0, 0.3.0)");
    assertThat(
            activities
                .planRelease(
                    new HelmActivities.ReleaseRequest(
                        NS, "nothere", chart, null, List.of(), List.of(), ""))
                .problems())
        .containsExactly("release default/nothere not found (no Helm release of that name there)");
  }

  private static int freePort() {
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
