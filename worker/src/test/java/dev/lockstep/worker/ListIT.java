package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.workflows.Listing;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.UpgradePlan;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code lockstep list} against the test server (no visibility queries): the fallback path. */
class ListIT {
  private static UpgradeHarness h;

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(100));
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  @Test
  void aRunningAHeldAndAFinishedUpgrade() {
    String ns = h.namespace();
    h.statefulSet(ns, "gated", 3, "example/gated:1.0");
    h.statefulSet(ns, "held", 2, "example/held:1.0");
    h.statefulSet(ns, "done", 2, "example/done:1.0");
    h.cluster.behaviours().image("example/held:2.0", ImageBehaviour.CRASHLOOP);
    String gated = ns + "/statefulset/gated";
    String held = ns + "/statefulset/held";
    String done = ns + "/statefulset/done";
    h.start(UpgradeHarness.plan(gated, "gated", "example/gated:2.0", UpgradePlan.Gate.FIRST));
    h.start(
        UpgradeHarness.plan(held, "held", "example/held:2.0", UpgradePlan.Gate.NONE).toBuilder()
            .onFailure(UpgradePlan.FailurePolicy.HOLD)
            .crashLoopRestarts(2)
            .build());
    h.start(UpgradeHarness.plan(done, "done", "example/done:2.0", UpgradePlan.Gate.NONE));
    h.awaitPhase(gated, Phase.WAITING_FOR_RESUME);
    h.awaitPhase(held, Phase.HELD);
    assertEquals(Phase.COMPLETED, h.result(done).phase());

    Listing.Result running =
        Listing.list(h.client, UpgradeHarness.CLUSTER, ns, false, Instant.now());
    assertEquals(Listing.Source.OPEN_AND_CLOSED, running.source());
    Map<String, Listing.Row> rows =
        running.rows().stream().collect(Collectors.toMap(Listing.Row::target, r -> r));
    assertThat(rows.keySet()).containsExactlyInAnyOrder(gated, held);
    assertEquals("WAITING_FOR_RESUME", rows.get(gated).phase());
    assertEquals(1, rows.get(gated).upgraded());
    assertEquals(3, rows.get(gated).units());
    assertEquals("lockstep resume", rows.get(gated).waitingFor());
    assertEquals("HELD", rows.get(held).phase());
    assertEquals("lockstep retry | rollback | abandon", rows.get(held).waitingFor());

    Listing.Result all = Listing.list(h.client, UpgradeHarness.CLUSTER, ns, true, Instant.now());
    Map<String, Listing.Row> every =
        all.rows().stream().collect(Collectors.toMap(Listing.Row::target, r -> r, (a, b) -> a));
    assertThat(every.keySet()).containsExactlyInAnyOrder(gated, held, done);
    assertEquals("COMPLETED", every.get(done).phase());
    assertEquals(2, every.get(done).upgraded());
    assertThat(Listing.render(all.rows()))
        .containsPattern(gated + " +WAITING_FOR_RESUME +1/3 +lockstep resume");

    // Another namespace's upgrades are not listed with -n.
    assertThat(
            Listing.list(h.client, UpgradeHarness.CLUSTER, "elsewhere", true, Instant.now()).rows())
        .isEmpty();
    h.upgrade(gated).cancel(new dev.lockstep.workflows.SteerRequest("test", "done"));
    h.upgrade(held).abandon(new dev.lockstep.workflows.SteerRequest("test", "done"));
    h.cluster.behaviours().clear();
  }
}
