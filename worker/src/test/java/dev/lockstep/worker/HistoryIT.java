package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.RevisionHistory;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code lockstep history}: revisions joined with the runs that produced them. */
class HistoryIT {
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

  private static UpgradeResult run(UpgradePlan plan) {
    h.start(plan);
    return h.result(plan.target());
  }

  private static UpgradePlan upgrade(String target, String image) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(UpgradeHarness.CLUSTER)
        .images(Map.of("shop", image))
        .gate(UpgradePlan.Gate.NONE)
        .unitTimeout("1m")
        .crashLoopRestarts(2)
        .build();
  }

  @Test
  void threeUpgradesAndOneRollbackAsHelmHistoryShowsThem() throws Exception {
    String ns = h.namespace();
    h.statefulSet(ns, "shop", 2, "example/shop:1.0");
    String target = ns + "/statefulset/shop";
    UpgradeResult first = run(upgrade(target, "example/shop:1.1"));
    assertEquals(Phase.COMPLETED, first.phase(), first.message());
    UpgradeResult second = run(upgrade(target, "example/shop:1.2"));
    assertEquals(Phase.COMPLETED, second.phase());
    UpgradeResult broken = run(upgrade(target, "example/shop:1.3-broken"));
    assertEquals(Phase.ROLLED_BACK, broken.phase());
    UpgradeResult rollback =
        run(
            UpgradePlan.builder()
                .target(target)
                .cluster(UpgradeHarness.CLUSTER)
                .change(UpgradePlan.Change.restoring(first.status().toRevision()))
                .gate(UpgradePlan.Gate.NONE)
                .unitTimeout("1m")
                .build());
    assertEquals(Phase.COMPLETED, rollback.phase(), rollback.message());

    List<RevisionHistory.Row> rows =
        RevisionHistory.fetch(
            h.client,
            UpgradeHarness.CLUSTER,
            Target.parse(target, "default"),
            Duration.ofSeconds(30));
    Map<String, RevisionHistory.Row> byImage =
        rows.stream().collect(Collectors.toMap(r -> r.images().get("shop"), r -> r));
    assertThat(byImage.keySet())
        .containsExactlyInAnyOrder(
            "example/shop:1.0", "example/shop:1.1", "example/shop:1.2", "example/shop:1.3-broken");
    assertEquals("superseded", byImage.get("example/shop:1.0").status());
    assertEquals("not changed by Lockstep", byImage.get("example/shop:1.0").description());
    assertEquals("superseded", byImage.get("example/shop:1.2").status());
    assertEquals(second.status().runId(), byImage.get("example/shop:1.2").runId());
    assertEquals("rolled back", byImage.get("example/shop:1.3-broken").status());
    assertEquals(broken.status().runId(), byImage.get("example/shop:1.3-broken").runId());
    RevisionHistory.Row deployed = byImage.get("example/shop:1.1");
    assertEquals("deployed", deployed.status());
    assertEquals(rollback.status().runId(), deployed.runId());
    assertThat(deployed.description())
        .isEqualTo(
            "Lockstep run " + rollback.status().runId() + " by alice@laptop: test (COMPLETED)");
    // Oldest first; the reused revision was raised above the one it replaced.
    assertThat(rows).extracting(RevisionHistory.Row::revision).isSorted();
    assertThat(rows.get(rows.size() - 1)).isEqualTo(deployed);
    assertThat(RevisionHistory.render(rows))
        .containsPattern("deployed +example/shop:1.1 +Lockstep run " + rollback.status().runId());
  }
}
