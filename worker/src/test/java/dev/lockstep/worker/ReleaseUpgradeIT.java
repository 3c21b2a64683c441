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
import dev.lockstep.workflows.ReleaseResult;
import dev.lockstep.workflows.ReleaseUpgradeRequest;
import dev.lockstep.workflows.ReleaseWorkflow;
import dev.lockstep.workflows.Releases;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeWorkflow;
import dev.lockstep.workflows.Upgrades;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.temporal.client.WorkflowStub;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code lockstep upgrade NAMESPACE/helm/ghostwire} from 0.2.0 to 0.3.0 on the worker, in the
 * test's cluster lane: the release held {@code pending-upgrade} while its StatefulSet waits at its
 * gate, resumed, then revision 2 {@code deployed} and 1 {@code superseded} in Helm's own storage,
 * and the pod on the new image; then rolled back to revision 1 as {@code helm rollback ghostwire 1}
 * does (revision 3 {@code deployed}, "Rollback to 1"), its history read as {@code helm history}.
 */
class ReleaseUpgradeIT {
  private static UpgradeHarness h;
  private static String ns;

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(100));
    ns = h.namespace();
    HelmInstall.install(
        h.kube,
        new ChartRenderer(HelmCalls.DEFAULT_TIMEOUT),
        ReleasePlanIT.CHARTS.resolve("ghostwire/0.2.0"),
        "ghostwire",
        ns,
        Map.of(),
        Instant.now());
    await()
        .atMost(60, SECONDS)
        .until(
            () -> {
              var sts = h.kube.apps().statefulSets().inNamespace(ns).withName("ghostwire").get();
              return sts.getStatus() != null
                  && Integer.valueOf(1).equals(sts.getStatus().getReadyReplicas());
            });
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  private static ObjectNode revision(int version) {
    Secret secret =
        h.kube.secrets().inNamespace(ns).withName("sh.helm.release.v1.ghostwire.v" + version).get();
    return ReleaseCodec.decodeSecretData(secret.getData().get("release"));
  }

  @Test
  void ghostwireTo030WaitsAtItsGateThenIsDeployedAsHelmRecordsItThenRolledBackToRevision1()
      throws Exception {
    Path chart = ReleasePlanIT.CHARTS.resolve("ghostwire");
    ReleaseUpgradeRequest request =
        new ReleaseUpgradeRequest(
            new HelmActivities.ReleaseRequest(
                ns,
                "ghostwire",
                ReleasePlanIT.chartFiles(chart),
                "0.3.0",
                List.of(),
                List.of(),
                "default"),
            null,
            // One unit: the extra one goes first and the gate waits before the user's own.
            UpgradePlan.builder().gate(UpgradePlan.Gate.FIRST).scaleUp(true).build(),
            Map.of(),
            "alice",
            "ghostwire 0.3.0",
            0);

    Upgrades.Started started = Releases.start(h.client, request);
    assertThat(started.verdict().valid()).as("%s", started.verdict()).isTrue();

    Target sts = new Target(ns, Target.STATEFULSET, "ghostwire");
    UpgradeWorkflow child = Upgrades.of(h.client, UpgradeHarness.CLUSTER, sts);
    ReleaseWorkflow parent =
        Releases.of(h.client, UpgradeHarness.CLUSTER, new Target(ns, Target.HELM, "ghostwire"));
    try {
      await()
          .atMost(120, SECONDS)
          .ignoreExceptions()
          .until(() -> child.status().phase() == Phase.WAITING_FOR_RESUME);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(
          "the workload never waited at its gate: release "
              + parent.status().phase()
              + " "
              + parent.status().story()
              + "; workload "
              + child.status().phase()
              + " "
              + child.status().message(),
          e);
    }
    assertThat(parent.status().currentWorkload().workflowId())
        .isEqualTo(Names.workflowId(UpgradeHarness.CLUSTER, sts));
    // While it works, Helm itself would refuse another upgrade.
    assertThat(revision(2).path("info").path("status").asText()).isEqualTo("pending-upgrade");

    child.resume(new SteerRequest("bob", "1.19.0 looks fine"));
    ReleaseResult result = WorkflowStub.fromTyped(parent).getResult(ReleaseResult.class);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    ObjectNode v1 = revision(1);
    ObjectNode v2 = revision(2);
    assertThat(v1.path("info").path("status").asText()).isEqualTo("superseded");
    assertThat(v2.path("info").path("status").asText()).isEqualTo("deployed");
    assertThat(v2.path("chart").path("metadata").path("version").asText()).isEqualTo("0.3.0");
    assertThat(v2.path("manifest").asText()).contains("ghcr.io/example/ghostwire:1.19.0");
    assertThat(
            h.kube
                .secrets()
                .inNamespace(ns)
                .withName("sh.helm.release.v1.ghostwire.v2")
                .get()
                .getMetadata()
                .getLabels())
        .containsEntry("status", "deployed")
        .containsEntry("owner", "helm");
    Pod pod = h.kube.pods().inNamespace(ns).withName("ghostwire-0").get();
    assertThat(pod.getSpec().getContainers().get(0).getImage())
        .isEqualTo("ghcr.io/example/ghostwire:1.19.0");
    assertThat(
            h.kube
                .apps()
                .statefulSets()
                .inNamespace(ns)
                .withName("ghostwire")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(1);

    // lockstep rollback demo/helm/ghostwire --to-revision 1: helm rollback through the same run.
    Upgrades.Started back =
        Releases.start(
            h.client,
            new ReleaseUpgradeRequest(
                new HelmActivities.ReleaseRequest(
                    ns, "ghostwire", null, null, List.of(), List.of(), null),
                null,
                UpgradePlan.builder().gate(UpgradePlan.Gate.NONE).build(),
                Map.of(),
                "carol",
                "back to 0.2.0",
                0,
                1));
    assertThat(back.verdict().valid()).as("%s", back.verdict()).isTrue();
    ReleaseResult rolledBack = WorkflowStub.fromTyped(parent).getResult(ReleaseResult.class);

    assertEquals(Phase.COMPLETED, rolledBack.phase(), rolledBack.message());
    ObjectNode v3 = revision(3);
    assertThat(v3.path("info").path("status").asText()).isEqualTo("deployed");
    assertThat(v3.path("info").path("description").asText()).isEqualTo("Rollback to 1");
    assertThat(v3.path("chart").path("metadata").path("version").asText()).isEqualTo("0.2.0");
    assertThat(v3.path("manifest").asText()).isEqualTo(revision(1).path("manifest").asText());
    assertThat(revision(2).path("info").path("status").asText()).isEqualTo("superseded");
    assertThat(
            h.kube
                .secrets()
                .inNamespace(ns)
                .withName("sh.helm.release.v1.ghostwire.v3")
                .get()
                .getMetadata()
                .getLabels())
        .containsEntry("status", "deployed")
        .containsEntry("version", "3");
    await()
        .atMost(60, SECONDS)
        .ignoreExceptions()
        .until(
            () ->
                h.kube
                    .pods()
                    .inNamespace(ns)
                    .withName("ghostwire-0")
                    .get()
                    .getSpec()
                    .getContainers()
                    .get(0)
                    .getImage()
                    .equals("ghcr.io/example/ghostwire:1.18.0"));

    // lockstep history: Helm's three revisions, each with the Lockstep run that wrote it.
    Target release = new Target(ns, Target.HELM, "ghostwire");
    var records =
        Releases.records(
            h.client,
            UpgradeHarness.CLUSTER,
            release,
            new dev.lockstep.workflows.ReleaseRecordsWorkflow.Request(
                ns, "ghostwire", dev.lockstep.workflows.ReleaseRecordsWorkflow.HISTORY, null),
            Duration.ofSeconds(60));
    assertThat(records.history())
        .extracting(HelmActivities.ReleaseRevision::status)
        .containsExactly("superseded", "superseded", "deployed");
    assertThat(Releases.writers(h.client, UpgradeHarness.CLUSTER, release, records.history()))
        .containsEntry(2, started.runId())
        .containsEntry(3, back.runId())
        .doesNotContainKey(1);
  }
}
