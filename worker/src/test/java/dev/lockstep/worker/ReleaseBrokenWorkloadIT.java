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
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.ReleaseResult;
import dev.lockstep.workflows.ReleaseStatus;
import dev.lockstep.workflows.ReleaseUpgradeRequest;
import dev.lockstep.workflows.Releases;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.Upgrades;
import io.temporal.client.WorkflowStub;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Aeterna-like umbrella chart from 0.1.0 to 0.2.0 with a broken image for its second workload
 * (the Deployment, after the subchart's StatefulSet): the Deployment's own run rolls it back, the
 * StatefulSet goes back after it (reverse order), the ConfigMap is restored, and revision 2 is
 * recorded {@code failed} with revision 1 still {@code deployed}, as Helm records a failed upgrade.
 * Both lanes: a crash-looping image is the {@code -broken} tag, which kubesim's nodes and the
 * hollow nodes of the real lane run alike.
 */
class ReleaseBrokenWorkloadIT {
  private static UpgradeHarness h;
  private static String ns;

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(100));
    ns = h.namespace();
    HelmInstall.install(
        h.kube,
        new ChartRenderer(HelmCalls.DEFAULT_TIMEOUT),
        ReleasePlanIT.CHARTS.resolve("aeterna/0.1.0"),
        "aeterna",
        ns,
        Map.of(),
        Instant.now());
    await()
        .atMost(60, SECONDS)
        .ignoreExceptions()
        .until(
            () ->
                Integer.valueOf(2)
                        .equals(
                            h.kube
                                .apps()
                                .deployments()
                                .inNamespace(ns)
                                .withName("aeterna")
                                .get()
                                .getStatus()
                                .getReadyReplicas())
                    && Integer.valueOf(1)
                        .equals(
                            h.kube
                                .apps()
                                .statefulSets()
                                .inNamespace(ns)
                                .withName("aeterna-postgresql")
                                .get()
                                .getStatus()
                                .getReadyReplicas()));
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  private static ObjectNode revision(int version) {
    return ReleaseCodec.decodeSecretData(
        h.kube
            .secrets()
            .inNamespace(ns)
            .withName("sh.helm.release.v1.aeterna.v" + version)
            .get()
            .getData()
            .get("release"));
  }

  private static String image(Object workload) {
    var template =
        workload instanceof io.fabric8.kubernetes.api.model.apps.StatefulSet s
            ? s.getSpec().getTemplate()
            : ((io.fabric8.kubernetes.api.model.apps.Deployment) workload).getSpec().getTemplate();
    return template.getSpec().getContainers().get(0).getImage();
  }

  @Test
  void aBrokenSecondWorkloadIsRolledBackThenTheFirstInReverseAndTheRevisionRecordedFailed()
      throws Exception {
    ReleaseUpgradeRequest request =
        new ReleaseUpgradeRequest(
            new HelmActivities.ReleaseRequest(
                ns,
                "aeterna",
                ReleasePlanIT.chartFiles(ReleasePlanIT.CHARTS.resolve("aeterna")),
                "0.2.0",
                List.of(),
                List.of("image.tag=0.2.0-broken"),
                "default"),
            null,
            UpgradePlan.builder().gate(UpgradePlan.Gate.NONE).unitTimeout("60s").build(),
            Map.of(),
            "alice",
            "aeterna 0.2.0, broken",
            0);

    Upgrades.Started started = Releases.start(h.client, request);
    assertThat(started.verdict().valid()).as("%s", started.verdict()).isTrue();
    ReleaseResult result =
        WorkflowStub.fromTyped(
                Releases.of(h.client, UpgradeHarness.CLUSTER, new Target(ns, "helm", "aeterna")))
            .getResult(ReleaseResult.class);

    assertEquals(Phase.FAILED, result.phase(), result.message());
    assertThat(result.status().workloads())
        .extracting(ReleaseStatus.Workload::key, ReleaseStatus.Workload::state)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("StatefulSet/aeterna-postgresql", "rolled-back"),
            org.assertj.core.groups.Tuple.tuple("Deployment/aeterna", "failed"));
    // In reverse: the Deployment's own run first, then the StatefulSet's rollback, then objects.
    assertThat(String.join("\n", result.status().story()))
        .containsSubsequence(
            "Deployment/aeterna: ROLLED_BACK",
            "StatefulSet/aeterna-postgresql rolled back",
            "restored ConfigMap/aeterna-config",
            "revision 2 failed, revision 1 stays deployed");
    assertThat(result.message()).endsWith("every workload is back at revision 1");
    // As Helm records a failed upgrade.
    assertThat(revision(1).path("info").path("status").asText()).isEqualTo("deployed");
    assertThat(revision(2).path("info").path("status").asText()).isEqualTo("failed");
    assertThat(revision(2).path("info").path("description").asText())
        .startsWith("Upgrade \"aeterna\" failed: Deployment/aeterna ended ROLLED_BACK");
    // The cluster is back at revision 1.
    assertThat(
            image(
                h.kube.apps().statefulSets().inNamespace(ns).withName("aeterna-postgresql").get()))
        .isEqualTo("postgres:16.3");
    assertThat(image(h.kube.apps().deployments().inNamespace(ns).withName("aeterna").get()))
        .isEqualTo("ghcr.io/example/aeterna:0.1.0");
    assertThat(h.kube.configMaps().inNamespace(ns).withName("aeterna-config").get().getData())
        .doesNotContainKey("CACHE_TTL_SECONDS");
    // lockstep audit: the release's run, then each workload's runs in the order they ran.
    String releaseId = "lockstep/" + UpgradeHarness.CLUSTER + "/" + ns + "/helm/aeterna";
    dev.lockstep.workflows.ReleaseAudit.Report audit =
        dev.lockstep.workflows.ReleaseAudit.of(
            started.runId(),
            h.client.fetchHistory(releaseId, started.runId()).getEvents(),
            h.client.getOptions().getDataConverter(),
            null,
            (id, run) -> h.client.fetchHistory(id, run).getEvents());
    assertThat(audit.outcome()).isEqualTo("FAILED");
    assertThat(audit.children())
        .extracting(c -> c.workflowId().substring(c.workflowId().lastIndexOf('/') + 1))
        .containsExactly("aeterna-postgresql", "aeterna", "aeterna-postgresql");
    assertThat(audit.children())
        .extracting(c -> c.audit().outcome())
        .containsExactly("COMPLETED", "ROLLED_BACK", "COMPLETED");
    assertThat(audit.entries())
        .filteredOn(e -> e.what().equals("finish"))
        .singleElement()
        .extracting(dev.lockstep.workflows.Audit.Entry::detail)
        .asString()
        .startsWith("revision 2 failed");
  }
}
