package dev.lockstep.worker;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.activities.helm.ChartRenderer;
import dev.lockstep.activities.helm.HelmCalls;
import dev.lockstep.activities.helm.HelmInstall;
import dev.lockstep.activities.helm.ReleaseCodec;
import dev.lockstep.workflows.HelmActivities;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.ReleasePlanWorkflow;
import dev.lockstep.workflows.ReleaseResult;
import dev.lockstep.workflows.ReleaseUpgradeRequest;
import dev.lockstep.workflows.Releases;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.Upgrades;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A chart upgrade that adds and removes workloads (the test chart {@code shop}: 0.1.0 runs the
 * Deployment {@code shop-web} and the StatefulSet {@code shop-legacy}; 0.2.0 adds the Deployment
 * {@code shop-search} and drops {@code shop-legacy}; 0.3.0 turns {@code shop-web} into a
 * StatefulSet), in the test's cluster lane: the kind change refused at plan time with nothing
 * written; the upgrade to 0.2.0 creates {@code shop-search} and waits it Ready, deletes {@code
 * shop-legacy} after every other workload moved, and records revision 2 as Helm would (its manifest
 * with the new workload, without the removed one); {@code lockstep rollback --to-revision 1} brings
 * {@code shop-legacy} back from revision 1's manifest and deletes {@code shop-search}. In the
 * kubesim lane also: the same upgrade of another release ({@code cart}) whose new workload never
 * gets Ready is deleted again and the release recorded failed.
 */
class ReleaseWorkloadsIT {
  private static final Path CHART = Path.of("src/test/resources/charts/shop");

  private static UpgradeHarness h;
  private static String ns;

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(100));
    ns = h.namespace();
    HelmInstall.install(
        h.kube,
        new ChartRenderer(HelmCalls.DEFAULT_TIMEOUT),
        CHART.resolve("0.1.0"),
        "shop",
        ns,
        Map.of(),
        Instant.now());
    await()
        .atMost(60, SECONDS)
        .ignoreExceptions()
        .until(() -> ready(deployment("shop-web"), 2) && ready(statefulSet("shop-legacy"), 1));
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  private static Deployment deployment(String name) {
    return h.kube.apps().deployments().inNamespace(ns).withName(name).get();
  }

  private static StatefulSet statefulSet(String name) {
    return h.kube.apps().statefulSets().inNamespace(ns).withName(name).get();
  }

  private static boolean ready(Object workload, int replicas) {
    Integer ready =
        workload instanceof Deployment d
            ? d.getStatus() == null ? null : d.getStatus().getReadyReplicas()
            : ((StatefulSet) workload).getStatus() == null
                ? null
                : ((StatefulSet) workload).getStatus().getReadyReplicas();
    return Integer.valueOf(replicas).equals(ready);
  }

  private static ObjectNode revision(int version) {
    return ReleaseCodec.decodeSecretData(
        h.kube
            .secrets()
            .inNamespace(ns)
            .withName("sh.helm.release.v1.shop.v" + version)
            .get()
            .getData()
            .get("release"));
  }

  private static int revisions() {
    return h.kube
        .secrets()
        .inNamespace(ns)
        .withLabel("owner", "helm")
        .withLabel("name", "shop")
        .list()
        .getItems()
        .size();
  }

  private static HelmActivities.ReleaseRequest upgradeTo(String version) {
    return new HelmActivities.ReleaseRequest(
        ns, "shop", ReleasePlanIT.chartFiles(CHART), version, List.of(), List.of(), "default");
  }

  private static ReleaseUpgradeRequest request(HelmActivities.ReleaseRequest to, int rollbackTo) {
    return new ReleaseUpgradeRequest(
        to,
        null,
        UpgradePlan.builder().gate(UpgradePlan.Gate.NONE).unitTimeout("60s").build(),
        Map.of(),
        "alice",
        "shop: search in, legacy out",
        0,
        rollbackTo);
  }

  private static ReleaseResult result() {
    return WorkflowStub.fromTyped(
            Releases.of(h.client, UpgradeHarness.CLUSTER, new Target(ns, Target.HELM, "shop")))
        .getResult(ReleaseResult.class);
  }

  private static HelmActivities.ReleasePlan plan(HelmActivities.ReleaseRequest request) {
    return h.client
        .newWorkflowStub(
            ReleasePlanWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId("lockstep-plan/" + UpgradeHarness.CLUSTER + "/" + UUID.randomUUID())
                .setTaskQueue(Names.taskQueue(UpgradeHarness.CLUSTER))
                .setWorkflowExecutionTimeout(Duration.ofMinutes(5))
                .build())
        .plan(request);
  }

  @Test
  void addedAndRemovedWorkloadsMoveInOrderAreRecordedAsHelmWouldAndComeBackOnRollback() {
    // A kind change: one line at plan time, and an upgrade refused with nothing written.
    assertThat(plan(upgradeTo("0.3.0")).problems())
        .singleElement()
        .asString()
        .startsWith("Deployment/shop-web would become StatefulSet/shop-web (its kind changes)");
    Upgrades.Started refused = Releases.start(h.client, request(upgradeTo("0.3.0"), 0));
    assertThat(refused.verdict().valid()).isFalse();
    assertThat(result().phase()).isEqualTo(Phase.FAILED);
    assertThat(revisions()).isEqualTo(1);
    assertThat(deployment("shop-web")).isNotNull();

    // The plan of 0.2.0 names the workload it creates and the one it deletes, that one last.
    HelmActivities.ReleasePlan plan = plan(upgradeTo("0.2.0"));
    assertThat(plan.problems()).isEmpty();
    assertThat(plan.workloads())
        .extracting(HelmActivities.WorkloadMove::key, HelmActivities.WorkloadMove::change)
        .contains(
            org.assertj.core.groups.Tuple.tuple("Deployment/shop-web", "update"),
            org.assertj.core.groups.Tuple.tuple("Deployment/shop-search", "create"))
        .last()
        .isEqualTo(org.assertj.core.groups.Tuple.tuple("StatefulSet/shop-legacy", "delete"));

    Upgrades.Started started = Releases.start(h.client, request(upgradeTo("0.2.0"), 0));
    assertThat(started.verdict().valid()).as("%s", started.verdict()).isTrue();
    ReleaseResult upgraded = result();

    assertEquals(Phase.COMPLETED, upgraded.phase(), upgraded.message());
    String story = String.join("\n", upgraded.status().story());
    // shop-legacy went only after shop-web had moved and shop-search was Ready.
    assertThat(story)
        .contains("Deployment/shop-web: ")
        .containsSubsequence(
            "Deployment/shop-search created, 2/2 Ready",
            "StatefulSet/shop-legacy deleted",
            "revision 2 deployed");
    assertThat(story.indexOf("Deployment/shop-web: "))
        .isLessThan(story.indexOf("StatefulSet/shop-legacy deleted"));
    assertThat(ready(deployment("shop-search"), 2)).isTrue();
    assertThat(deployment("shop-search").getMetadata().getAnnotations())
        .containsEntry("meta.helm.sh/release-name", "shop")
        .containsEntry("meta.helm.sh/release-namespace", ns);
    assertThat(deployment("shop-search").getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/managed-by", "Helm");
    assertThat(statefulSet("shop-legacy")).isNull();
    assertThat(
            deployment("shop-web")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0)
                .getImage())
        .isEqualTo("ghcr.io/example/shop-web:0.2.0");
    // As helm history reads it: 2 deployed with the new workload, not the removed one.
    assertThat(revision(1).path("info").path("status").asText()).isEqualTo("superseded");
    assertThat(revision(2).path("info").path("status").asText()).isEqualTo("deployed");
    assertThat(revision(2).path("manifest").asText())
        .contains("name: shop-search")
        .doesNotContain("shop-legacy");

    // lockstep rollback NS/helm/shop --to-revision 1: shop-legacy back, shop-search gone.
    Upgrades.Started back =
        Releases.start(
            h.client,
            request(
                new HelmActivities.ReleaseRequest(
                    ns, "shop", null, null, List.of(), List.of(), null),
                1));
    assertThat(back.verdict().valid()).as("%s", back.verdict()).isTrue();
    ReleaseResult rolledBack = result();

    assertEquals(Phase.COMPLETED, rolledBack.phase(), rolledBack.message());
    assertThat(String.join("\n", rolledBack.status().story()))
        .containsSubsequence(
            "StatefulSet/shop-legacy created, 1/1 Ready",
            "Deployment/shop-search deleted",
            "revision 3 deployed");
    assertThat(ready(statefulSet("shop-legacy"), 1)).isTrue();
    assertThat(deployment("shop-search")).isNull();
    assertThat(
            deployment("shop-web")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0)
                .getImage())
        .isEqualTo("ghcr.io/example/shop-web:0.1.0");
    assertThat(revision(3).path("info").path("status").asText()).isEqualTo("deployed");
    assertThat(revision(3).path("info").path("description").asText()).isEqualTo("Rollback to 1");
    assertThat(revision(3).path("manifest").asText())
        .contains("name: shop-legacy")
        .doesNotContain("shop-search");
    assertThat(revision(2).path("info").path("status").asText()).isEqualTo("superseded");
  }

  @Test
  void aNewWorkloadThatNeverGetsReadyIsDeletedAndTheReleaseRecordedFailed() {
    HelmInstall.install(
        h.kube,
        new ChartRenderer(HelmCalls.DEFAULT_TIMEOUT),
        CHART.resolve("0.1.0"),
        "cart",
        ns,
        Map.of(),
        Instant.now());
    await()
        .atMost(60, SECONDS)
        .ignoreExceptions()
        .until(() -> ready(deployment("cart-web"), 2) && ready(statefulSet("cart-legacy"), 1));

    Upgrades.Started started =
        Releases.start(
            h.client,
            new ReleaseUpgradeRequest(
                new HelmActivities.ReleaseRequest(
                    ns,
                    "cart",
                    ReleasePlanIT.chartFiles(CHART),
                    "0.2.0",
                    List.of(),
                    List.of("searchTag=0.2.0-broken"),
                    "default"),
                null,
                UpgradePlan.builder().gate(UpgradePlan.Gate.NONE).unitTimeout("5s").build(),
                Map.of(),
                "alice",
                "cart 0.2.0, search broken",
                0));
    assertThat(started.verdict().valid()).as("%s", started.verdict()).isTrue();
    ReleaseResult result =
        WorkflowStub.fromTyped(
                Releases.of(h.client, UpgradeHarness.CLUSTER, new Target(ns, Target.HELM, "cart")))
            .getResult(ReleaseResult.class);

    assertEquals(Phase.FAILED, result.phase(), result.message());
    assertThat(result.message())
        .startsWith("Deployment/cart-search could not be created: ")
        .contains("not Ready within 10s")
        .endsWith("every workload is back at revision 1");
    assertThat(String.join("\n", result.status().story()))
        .containsSubsequence(
            "Deployment/cart-search rolled back: Deployment/cart-search deleted",
            "revision 2 failed, revision 1 stays deployed");
    // The new workload is gone, the one the chart removes was never touched, the rest is back.
    assertThat(deployment("cart-search")).isNull();
    assertThat(ready(statefulSet("cart-legacy"), 1)).isTrue();
    assertThat(
            deployment("cart-web")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0)
                .getImage())
        .isEqualTo("ghcr.io/example/shop-web:0.1.0");
    // As Helm records a failed upgrade: 2 failed with the manifest it tried, 1 still deployed.
    ObjectNode v2 =
        ReleaseCodec.decodeSecretData(
            h.kube
                .secrets()
                .inNamespace(ns)
                .withName("sh.helm.release.v1.cart.v2")
                .get()
                .getData()
                .get("release"));
    assertThat(v2.path("info").path("status").asText()).isEqualTo("failed");
    assertThat(v2.path("manifest").asText()).contains("name: cart-search");
    assertThat(
            ReleaseCodec.decodeSecretData(
                    h.kube
                        .secrets()
                        .inNamespace(ns)
                        .withName("sh.helm.release.v1.cart.v1")
                        .get()
                        .getData()
                        .get("release"))
                .path("info")
                .path("status")
                .asText())
        .isEqualTo("deployed");
  }
}
