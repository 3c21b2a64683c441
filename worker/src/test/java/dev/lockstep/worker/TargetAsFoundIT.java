package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The target is left as it was found: the user's whole update strategy comes back exactly, the
 * partition counts from {@code spec.ordinals.start}, and a unit counts as done only once it has
 * stayed Ready for the plan's soak.
 */
class TargetAsFoundIT {
  private static UpgradeHarness h;

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(150));
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  private static UpgradePlan plan(String target, String image) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(UpgradeHarness.CLUSTER)
        .images(Map.of("kv", image))
        .gate(UpgradePlan.Gate.NONE)
        .unitTimeout("1m")
        .build();
  }

  @Test
  void theUsersWholeUpdateStrategyComesBackAndThePartitionCountsFromTheFirstOrdinal() {
    String ns = h.namespace();
    StatefulSet sts =
        new StatefulSetBuilder(UpgradeHarness.statefulSetSpec("kv", 3, "example/kv:1.0"))
            .editSpec()
            .withNewOrdinals(5)
            .withNewUpdateStrategy()
            .withType("RollingUpdate")
            .withNewRollingUpdate()
            .withPartition(1)
            .withMaxUnavailable(new IntOrString(2))
            .endRollingUpdate()
            .endUpdateStrategy()
            .endSpec()
            .build();
    StatefulSet before = h.createReady(ns, sts);
    if (before.getSpec().getOrdinals() == null) {
      // A server older than 1.26 drops spec.ordinals (and maxUnavailable) as unknown fields.
      UpgradeHarness.onlyInKubesimLane(
          "TargetAsFoundIT.theUsersWholeUpdateStrategy...: the real lane's server ("
              + h.kube.getKubernetesVersion().getGitVersion()
              + ") has no StatefulSet spec.ordinals");
    }
    String strategyBefore = Serialization.asJson(before.getSpec().getUpdateStrategy());
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    String target = ns + "/statefulset/kv";

    h.start(plan(target, "example/kv:1.1"));
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    String to = result.status().toRevision();
    assertThat(pods.arrivals(to)).containsExactly("kv-7", "kv-6", "kv-5");
    assertThat(h.revisions(ns, "kv")).containsOnlyKeys("kv-5", "kv-6", "kv-7");
    assertThat(h.revisions(ns, "kv").values()).containsOnly(to);
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("kv").get();
    assertEquals(strategyBefore, Serialization.asJson(after.getSpec().getUpdateStrategy()));
    assertThat(after.getMetadata().getAnnotations())
        .doesNotContainKeys("lockstep.dev/run", "lockstep.dev/origin");
  }

  @Test
  void aUnitIsDoneOnlyOnceItHasStayedReadyForTheSoak() {
    String ns = h.namespace();
    h.statefulSet(ns, "kv", 2, "example/kv:1.0");
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    String target = ns + "/statefulset/kv";

    h.start(plan(target, "example/kv:1.1").toBuilder().soak("2s").build());
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    String to = result.status().toRevision();
    long ready = pods.readyAt("kv-1", to);
    long next = pods.replacedAt("kv-0", to);
    assertThat(ready).isPositive();
    assertThat(next).isPositive();
    // kv-0 was not touched before kv-1 had been Ready for the whole soak.
    assertThat(Duration.ofNanos(next - ready)).isGreaterThanOrEqualTo(Duration.ofMillis(1900));
  }
}
