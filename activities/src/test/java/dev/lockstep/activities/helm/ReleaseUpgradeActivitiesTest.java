package dev.lockstep.activities.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.lockstep.kubesim.Kubesim;
import dev.lockstep.workflows.HelmActivities;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The activities of a release's upgrade against kubesim: the release held {@code pending-upgrade}
 * as Helm holds it, its objects moved and moved back, and the revision closed {@code deployed} (the
 * previous {@code superseded}) or {@code failed}, each safe to repeat.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReleaseUpgradeActivitiesTest {
  private static final String NS = "default";
  private Kubesim sim;
  private KubernetesClient client;
  private HelmStorage storage;
  private HelmActivitiesImpl helm;
  private final ChartRenderer renderer = new ChartRenderer(Duration.ofSeconds(60));

  @BeforeAll
  void start() {
    sim = Kubesim.builder().start();
    client = sim.client();
    storage = new HelmStorage(client);
    helm = new HelmActivitiesImpl(client, Duration.ofSeconds(60));
  }

  @AfterAll
  void stop() {
    if (sim != null) {
      sim.close();
    }
  }

  /** The release as {@code helm install} leaves it at ghostwire 0.2.0 (its workload left out). */
  private void install(String release) {
    ChartRenderer.Rendered r =
        renderer.render(
            ChartRendererTest.CHARTS.resolve("ghostwire/0.2.0"),
            release,
            NS,
            JsonNodeFactory.instance.objectNode());
    Instant now = Instant.now();
    storage.write(
        HelmRelease.first(
            release,
            NS,
            r.chart(),
            r.config(),
            r.manifest(),
            r.hooks(),
            HelmRelease.DEPLOYED,
            "Install complete",
            now),
        now);
    new ReleaseObjects(client).apply(release, NS, List.of(), r.objects());
  }

  private HelmActivities.BeginRequest to030(String release, String runId) throws Exception {
    return new HelmActivities.BeginRequest(
        new HelmActivities.ReleaseRequest(
            NS,
            release,
            HelmActivitiesImplTest.chartFiles(ChartRendererTest.CHARTS.resolve("ghostwire")),
            "0.3.0",
            List.of(),
            List.of(),
            "default"),
        runId);
  }

  private String chartLabel(String service) {
    Service live = client.services().inNamespace(NS).withName(service).get();
    return live.getMetadata().getLabels().get("helm.sh/chart");
  }

  @Test
  void theReleaseIsHeldPendingUpgradeAsHelmHoldsItAndARetryWritesNothingTwice() throws Exception {
    install("gw-held");

    HelmActivities.PendingUpgrade held = helm.beginUpgrade(to030("gw-held", "run-1"));

    assertThat(held.plan().problems()).isEmpty();
    assertThat(held.fromRevision()).isEqualTo(1);
    assertThat(held.toRevision()).isEqualTo(2);
    assertThat(held.workloads())
        .singleElement()
        .satisfies(
            w -> {
              assertThat(w.key()).isEqualTo("StatefulSet/gw-held");
              assertThat(w.kind()).isEqualTo("statefulset");
              assertThat(w.template().toString()).contains("ghcr.io/example/ghostwire:1.19.0");
            });
    HelmRelease pending = storage.latest(NS, "gw-held").orElseThrow();
    assertThat(pending.version()).isEqualTo(2);
    assertThat(pending.status()).isEqualTo(HelmRelease.PENDING_UPGRADE);
    assertThat(pending.chartVersion()).isEqualTo("0.3.0");
    String written =
        client
            .secrets()
            .inNamespace(NS)
            .withName(HelmStorage.secretName("gw-held", 2))
            .get()
            .getMetadata()
            .getResourceVersion();

    // The same run again (a retried activity): the same answer, nothing written.
    HelmActivities.PendingUpgrade again = helm.beginUpgrade(to030("gw-held", "run-1"));
    assertThat(again.toRevision()).isEqualTo(2);
    assertThat(again.workloads()).isEqualTo(held.workloads());
    assertThat(storage.history(NS, "gw-held")).hasSize(2);
    assertThat(
            client
                .secrets()
                .inNamespace(NS)
                .withName(HelmStorage.secretName("gw-held", 2))
                .get()
                .getMetadata()
                .getResourceVersion())
        .isEqualTo(written);

    // Anyone else is refused while the run holds it, as Helm refuses.
    HelmActivities.PendingUpgrade other = helm.beginUpgrade(to030("gw-held", "run-2"));
    assertThat(other.plan().problems())
        .singleElement()
        .asString()
        .contains("is pending-upgrade at revision 2: another operation holds it");
    assertThat(other.workloads()).isEmpty();
    assertThat(storage.history(NS, "gw-held")).hasSize(2);
  }

  @Test
  void theNewRevisionIsDeployedThePreviousSupersededWithWhatWasApplied() throws Exception {
    install("gw-done");
    HelmActivities.PendingUpgrade held = helm.beginUpgrade(to030("gw-done", "run-1"));
    var objects = new HelmActivities.ObjectsRequest(NS, "gw-done", 1, 2);

    assertThat(helm.moveObjects(objects)).containsExactly("Service/gw-done updated");
    assertThat(helm.moveObjects(objects)).isEmpty();
    assertThat(chartLabel("gw-done")).isEqualTo("ghostwire-0.3.0");
    var finish = new HelmActivities.FinishRequest(NS, "gw-done", 1, 2, true, null);
    helm.finishUpgrade(finish);
    helm.finishUpgrade(finish);

    List<HelmRelease> history = storage.history(NS, "gw-done");
    assertThat(history).extracting(HelmRelease::status).containsExactly("superseded", "deployed");
    HelmRelease v2 = history.get(1);
    assertThat(v2.description()).isEqualTo("Upgrade complete");
    assertThat(v2.manifest()).contains("ghcr.io/example/ghostwire:1.19.0");
    assertThat(held.plan().toChart()).isEqualTo("ghostwire-0.3.0");
    // What Helm's own decoder reads (the Secret's data, gzip and base64 as Helm writes it).
    String data =
        client
            .secrets()
            .inNamespace(NS)
            .withName(HelmStorage.secretName("gw-done", 2))
            .get()
            .getData()
            .get("release");
    assertThat(ReleaseCodec.decodeSecretData(data).path("info").path("status").asText())
        .isEqualTo("deployed");
  }

  @Test
  void aFailedUpgradePutsTheObjectsBackIsRecordedFailedAndTheNextStartsFromTheDeployedOne()
      throws Exception {
    install("gw-fail");
    helm.beginUpgrade(to030("gw-fail", "run-1"));
    helm.moveObjects(new HelmActivities.ObjectsRequest(NS, "gw-fail", 1, 2));

    assertThat(helm.moveObjects(new HelmActivities.ObjectsRequest(NS, "gw-fail", 2, 1)))
        .containsExactly("Service/gw-fail updated");
    helm.finishUpgrade(
        new HelmActivities.FinishRequest(
            NS, "gw-fail", 1, 2, false, "Upgrade \"gw-fail\" failed: StatefulSet/gw-fail"));

    assertThat(chartLabel("gw-fail")).isEqualTo("ghostwire-0.2.0");
    assertThat(storage.history(NS, "gw-fail"))
        .extracting(HelmRelease::status)
        .containsExactly("deployed", "failed");
    // As with Helm, the next upgrade starts from the deployed revision and numbers after the
    // failed one.
    HelmActivities.PendingUpgrade next = helm.beginUpgrade(to030("gw-fail", "run-2"));
    assertThat(next.plan().problems()).isEmpty();
    assertThat(next.fromRevision()).isEqualTo(1);
    assertThat(next.toRevision()).isEqualTo(3);
  }

  @Test
  void aMissingReleaseIsRefusedHavingWrittenNothing() throws Exception {
    HelmActivities.PendingUpgrade refused = helm.beginUpgrade(to030("gw-none", "run-1"));
    assertThat(refused.plan().problems())
        .containsExactly("release default/gw-none not found (no Helm release of that name there)");
    assertThat(storage.history(NS, "gw-none")).isEmpty();
  }

  /** The release upgraded to 0.3.0 as a Lockstep run leaves it: revision 2 deployed. */
  private void upgradedTo030(String release) throws Exception {
    install(release);
    helm.beginUpgrade(to030(release, "run-up"));
    helm.moveObjects(new HelmActivities.ObjectsRequest(NS, release, 1, 2));
    helm.finishUpgrade(new HelmActivities.FinishRequest(NS, release, 1, 2, true, null));
  }

  @Test
  void aRollbackToRevisionOneIsHeldPendingRollbackWithItsManifestAndRecordedAsHelmRollbackDoes()
      throws Exception {
    upgradedTo030("gw-back");

    HelmActivities.PendingUpgrade held =
        helm.beginRollback(new HelmActivities.RollbackRequest(NS, "gw-back", 1, "run-b"));

    assertThat(held.plan().problems()).isEmpty();
    assertThat(held.fromRevision()).isEqualTo(2);
    assertThat(held.toRevision()).isEqualTo(3);
    assertThat(held.plan().toChart()).isEqualTo("ghostwire-0.2.0");
    assertThat(held.workloads())
        .singleElement()
        .satisfies(w -> assertThat(w.template().toString()).contains("ghostwire:1.18.0"));
    HelmRelease pending = storage.latest(NS, "gw-back").orElseThrow();
    assertThat(pending.status()).isEqualTo(HelmRelease.PENDING_ROLLBACK);
    assertThat(pending.description()).startsWith("Rollback to 1");
    assertThat(pending.chartVersion()).isEqualTo("0.2.0");
    assertThat(pending.config()).isEqualTo(storage.get(NS, "gw-back", 1).orElseThrow().config());
    // A retry by the same run writes nothing more; anyone else is refused meanwhile.
    assertThat(
            helm.beginRollback(new HelmActivities.RollbackRequest(NS, "gw-back", 1, "run-b"))
                .toRevision())
        .isEqualTo(3);
    assertThat(storage.history(NS, "gw-back")).hasSize(3);
    assertThat(
            helm.beginRollback(new HelmActivities.RollbackRequest(NS, "gw-back", 1, "run-c"))
                .plan()
                .problems())
        .singleElement()
        .asString()
        .contains("is pending-rollback at revision 3: another operation holds it");

    assertThat(helm.moveObjects(new HelmActivities.ObjectsRequest(NS, "gw-back", 2, 3)))
        .containsExactly("Service/gw-back updated");
    assertThat(chartLabel("gw-back")).isEqualTo("ghostwire-0.2.0");
    helm.finishUpgrade(
        new HelmActivities.FinishRequest(NS, "gw-back", 2, 3, true, "Rollback to 1"));

    // helm history reads it: 1 superseded (by the upgrade), 2 superseded, 3 deployed.
    assertThat(helm.releaseHistory(new HelmActivities.ReleaseRef(NS, "gw-back")))
        .extracting(
            HelmActivities.ReleaseRevision::revision,
            HelmActivities.ReleaseRevision::status,
            HelmActivities.ReleaseRevision::chart,
            HelmActivities.ReleaseRevision::description)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                1, "superseded", "ghostwire-0.2.0", "Install complete"),
            org.assertj.core.groups.Tuple.tuple(
                2, "superseded", "ghostwire-0.3.0", "Upgrade complete"),
            org.assertj.core.groups.Tuple.tuple(3, "deployed", "ghostwire-0.2.0", "Rollback to 1"));
    var secret =
        client.secrets().inNamespace(NS).withName(HelmStorage.secretName("gw-back", 3)).get();
    assertThat(secret.getMetadata().getLabels())
        .containsEntry("status", "deployed")
        .containsEntry("version", "3")
        .containsEntry("owner", "helm");
    assertThat(
            ReleaseCodec.decodeSecretData(secret.getData().get("release"))
                .path("info")
                .path("description")
                .asText())
        .isEqualTo("Rollback to 1");
  }

  @Test
  void aRollbackIsRefusedHavingWrittenNothingForAMissingOrTheDeployedRevision() throws Exception {
    upgradedTo030("gw-noop");

    assertThat(
            helm.beginRollback(new HelmActivities.RollbackRequest(NS, "gw-noop", 9, "run-1"))
                .plan()
                .problems())
        .containsExactly(
            "release default/gw-noop has no revision 9 (revisions 1 to 2: lockstep history"
                + " default/helm/gw-noop)");
    assertThat(
            helm.beginRollback(new HelmActivities.RollbackRequest(NS, "gw-noop", 2, "run-1"))
                .plan()
                .problems())
        .containsExactly(
            "revision 2 of default/gw-noop is its latest (deployed): nothing to roll back");
    assertThat(
            helm.beginRollback(new HelmActivities.RollbackRequest(NS, "gw-nothere", 1, "run-1"))
                .plan()
                .problems())
        .singleElement()
        .asString()
        .contains("not found");
    assertThat(storage.history(NS, "gw-noop")).hasSize(2);
  }

  @Test
  void aReleaseLeftPendingByADeadClientIsShownThenMarkedFailedAndCanBeUpgradedAgain()
      throws Exception {
    install("gw-stuck");
    // The StatefulSet as helm install created it, on 1.18.0.
    ChartRenderer.RenderedObject sts =
        ChartRenderer.objects(storage.get(NS, "gw-stuck", 1).orElseThrow().manifest()).stream()
            .filter(ChartRenderer.RenderedObject::workload)
            .findFirst()
            .orElseThrow();
    client
        .apps()
        .statefulSets()
        .inNamespace(NS)
        .resource(
            io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
                sts.yaml(), io.fabric8.kubernetes.api.model.apps.StatefulSet.class))
        .create();
    // A helm upgrade whose client died: revision 2 left pending-upgrade.
    helm.beginUpgrade(to030("gw-stuck", "run-dead"));
    var show = new HelmActivities.RepairRequest(NS, "gw-stuck", false, "alice");

    HelmActivities.ReleaseRepair shown = helm.repairRelease(show);

    assertThat(shown.problems()).isEmpty();
    assertThat(shown.revision()).isEqualTo(2);
    assertThat(shown.status()).isEqualTo("pending-upgrade");
    assertThat(shown.deployedRevision()).isEqualTo(1);
    assertThat(shown.workloads())
        .containsExactly(
            "StatefulSet/gw-stuck: its template has ghostwire=ghcr.io/example/ghostwire:1.18.0"
                + " (revision 1's images)");
    assertThat(shown.done()).isFalse();
    assertThat(storage.latest(NS, "gw-stuck").orElseThrow().status()).isEqualTo("pending-upgrade");

    var apply = new HelmActivities.RepairRequest(NS, "gw-stuck", true, "alice");
    HelmActivities.ReleaseRepair done = helm.repairRelease(apply);
    HelmActivities.ReleaseRepair again = helm.repairRelease(apply);

    assertThat(done.done()).isTrue();
    assertThat(again.done()).isTrue();
    assertThat(again.revision()).isEqualTo(2);
    HelmRelease v2 = storage.latest(NS, "gw-stuck").orElseThrow();
    assertThat(v2.status()).isEqualTo("failed");
    assertThat(v2.description())
        .startsWith("Upgrade \"gw-stuck\" failed: interrupted while pending-upgrade")
        .endsWith("marked failed by lockstep repair by alice");
    assertThat(storage.get(NS, "gw-stuck", 1).orElseThrow().status()).isEqualTo("deployed");
    // Free again: rolled back to revision 1 from what the failed revision 2 left, as helm
    // rollback does (revision 1 superseded, 2 stays failed, 3 deployed).
    HelmActivities.PendingUpgrade back =
        helm.beginRollback(new HelmActivities.RollbackRequest(NS, "gw-stuck", 1, "run-back"));
    assertThat(back.plan().problems()).isEmpty();
    assertThat(back.fromRevision()).isEqualTo(2);
    assertThat(back.toRevision()).isEqualTo(3);
    assertThat(back.workloads())
        .extracting(HelmActivities.WorkloadUpgrade::key)
        .containsExactly("StatefulSet/gw-stuck");
    helm.finishUpgrade(
        new HelmActivities.FinishRequest(NS, "gw-stuck", 2, 3, true, "Rollback to 1"));
    assertThat(storage.history(NS, "gw-stuck"))
        .extracting(HelmRelease::status)
        .containsExactly("superseded", "failed", "deployed");
    // A deployed release has nothing to repair.
    assertThat(helm.repairRelease(show).problems())
        .containsExactly(
            "release default/gw-stuck is deployed at revision 3: nothing to repair (only a"
                + " release left pending-upgrade or pending-rollback is)");
  }
}
