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
}
