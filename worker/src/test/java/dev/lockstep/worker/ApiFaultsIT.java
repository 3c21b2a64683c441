package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.kubesim.FaultRule;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Upgrades while the API server answers one request in ten with 500, 429 or 409 and is slow: every
 * upgrade completes and no unit is replaced twice.
 */
class ApiFaultsIT {
  private static UpgradeHarness h;

  @BeforeAll
  static void start() {
    // Errors are injected by kubesim's API server; a real one cannot be made to answer them.
    UpgradeHarness.onlyInKubesimLane(
        "ApiFaultsIT: kubesim lane only (injected API errors need kubesim)");
    h = new UpgradeHarness(Duration.ofMillis(100));
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.cluster.sim().orElseThrow().faults().clear();
      h.close();
    }
  }

  @Test
  void everyUpgradeCompletesAndNoUnitIsReplacedTwice() {
    String ns = h.namespace();
    int upgrades = Integer.getInteger("lockstep.faults.upgrades", 5);
    List<String> targets = new ArrayList<>();
    List<UpgradeHarness.PodHistory> pods = new ArrayList<>();
    for (int i = 0; i < upgrades; i++) {
      String name = "app" + i;
      h.statefulSet(ns, name, 3 + i % 3, "example/" + name + ":1.0");
      targets.add(ns + "/statefulset/" + name);
    }
    UpgradeHarness.PodHistory history = h.watchPods(ns);
    long mark = h.mark();
    h.cluster
        .sim()
        .orElseThrow()
        .faults()
        .seed(42)
        .set(List.of(new FaultRule("*", "*", 0.10, List.of(500, 429, 409), 20)));
    for (int i = 0; i < upgrades; i++) {
      h.start(
          UpgradePlan.builder()
              .target(targets.get(i))
              .cluster(UpgradeHarness.CLUSTER)
              .images(java.util.Map.of("app" + i, "example/app" + i + ":2.0"))
              .gate(UpgradePlan.Gate.NONE)
              .unitTimeout("2m")
              .build(),
          5);
    }
    List<UpgradeResult> results = new ArrayList<>();
    for (String target : targets) {
      results.add(h.result(target));
    }
    h.cluster.sim().orElseThrow().faults().clear();
    long injected = h.cluster.requests().since(mark).stream().filter(r -> r.injected()).count();
    assertThat(injected).as("faults were injected").isPositive();
    for (int i = 0; i < upgrades; i++) {
      UpgradeResult result = results.get(i);
      assertEquals(Phase.COMPLETED, result.phase(), targets.get(i) + ": " + result.message());
      String to = result.status().toRevision();
      for (int ordinal = 0; ordinal < 3 + i % 3; ordinal++) {
        String pod = "app" + i + "-" + ordinal;
        assertEquals(1, history.incarnations(pod, to), pod + " replaced more than once");
      }
      assertThat(h.revisions(ns, "app" + i).values()).containsOnly(to);
    }
    pods.add(history);
  }
}
