package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.workflows.ClusterActivities;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UnitState;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.Upgrades;
import dev.lockstep.workflows.Verdict;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetUpdateStrategyBuilder;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A run ended outside Lockstep (`temporal workflow terminate`) leaves its mark and a pinned
 * partition; the next upgrade names it, and {@code repair} continues or restores.
 */
class RepairIT {
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

  @AfterEach
  void clearBehaviours() {
    h.cluster.behaviours().clear();
  }

  private static void terminate(String target) {
    Upgrades.untyped(h.client, UpgradeHarness.CLUSTER, Target.parse(target, "default"))
        .terminate("ended outside Lockstep");
  }

  private static UpgradePlan repair(String target, UpgradePlan.Repair how) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(UpgradeHarness.CLUSTER)
        .repair(how)
        .gate(UpgradePlan.Gate.NONE)
        .unitTimeout("1m")
        .build();
  }

  private static StatefulSet sts(String ns, String name) {
    return h.kube.apps().statefulSets().inNamespace(ns).withName(name).get();
  }

  @Test
  void aRunTerminatedAtTheGateIsNamedByTheNextUpgradeAndContinuedByRepair() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "db", 4, "postgres:14.8");
    String target = ns + "/statefulset/db";
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    h.start(UpgradeHarness.plan(target, "db", "postgres:14.9", UpgradePlan.Gate.FIRST));
    UpgradeStatus dead = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    terminate(target);

    // The next upgrade recognises the dead run, says what to do, and writes nothing.
    long mark = h.mark();
    var refused =
        h.start(UpgradeHarness.plan(target, "db", "postgres:14.10", UpgradePlan.Gate.FIRST));
    assertEquals(Verdict.Refusal.TARGET_HELD, refused.verdict().refusal());
    assertThat(refused.verdict().problems().get(0))
        .contains("still marked by Lockstep run " + dead.runId())
        .contains("lockstep repair " + target + " --continue")
        .contains("--restore` to return to " + dead.fromRevision());
    h.result(target);
    assertThat(h.writesSince(mark, ns)).isEmpty();

    h.start(repair(target, UpgradePlan.Repair.CONTINUE));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    String to = dead.toRevision();
    assertEquals(to, result.status().toRevision());
    assertThat(h.revisions(ns, "db").values()).containsOnly(to);
    // The unit the dead run upgraded was not replaced again; the others once, highest first.
    assertThat(pods.arrivals(to)).containsExactly("db-3", "db-2", "db-1", "db-0");
    for (String pod : new String[] {"db-3", "db-2", "db-1", "db-0"}) {
      assertEquals(1, pods.incarnations(pod, to), pod);
    }
    assertThat(result.status().units().get(0).message())
        .isEqualTo("upgraded by run " + dead.runId());
    StatefulSet after = sts(ns, "db");
    assertEquals(0, after.getSpec().getUpdateStrategy().getRollingUpdate().getPartition());
    assertThat(after.getMetadata().getAnnotations())
        .doesNotContainKeys(ClusterActivities.RUN_ANNOTATION, ClusterActivities.ORIGIN_ANNOTATION);
    assertThat(before.getStatus().getCurrentRevision()).isEqualTo(dead.fromRevision());
  }

  @Test
  void aRunTerminatedMidUnitAfterScalingUpIsRestoredByRepair() {
    String ns = h.namespace();
    StatefulSet created = h.statefulSet(ns, "kv", 3, "example/kv:1.0");
    String from = created.getStatus().getCurrentRevision();
    // The user's own strategy is OnDelete: a repair must put it back.
    h.kube
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .withName("kv")
        .edit(
            s -> {
              s.getSpec()
                  .setUpdateStrategy(
                      new StatefulSetUpdateStrategyBuilder().withType("OnDelete").build());
              return s;
            });
    Map<String, String> untouched = Map.of("kv-0", uid(ns, "kv-0"), "kv-1", uid(ns, "kv-1"));
    h.cluster
        .behaviours()
        .image("example/kv:2.0", ImageBehaviour.startingIn(Duration.ofSeconds(2)));
    String target = ns + "/statefulset/kv";
    h.start(
        UpgradePlan.builder()
            .target(target)
            .cluster(UpgradeHarness.CLUSTER)
            .images(Map.of("kv", "example/kv:2.0"))
            .gate(UpgradePlan.Gate.NONE)
            .unitTimeout("1m")
            .scaleUp(true)
            .build());
    h.awaitStatus(
        target,
        s -> s.phase() == Phase.UPGRADING && s.units().get(1).state() == UnitState.UPGRADING);
    terminate(target);

    h.start(repair(target, UpgradePlan.Repair.RESTORE));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(result.message()).contains("units returned to " + from);
    StatefulSet after = sts(ns, "kv");
    assertEquals(3, after.getSpec().getReplicas());
    assertEquals("OnDelete", after.getSpec().getUpdateStrategy().getType());
    assertEquals(
        "example/kv:1.0",
        after.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    assertThat(after.getMetadata().getAnnotations())
        .doesNotContainKeys(ClusterActivities.RUN_ANNOTATION, ClusterActivities.ORIGIN_ANNOTATION);
    assertThat(h.revisions(ns, "kv")).containsOnlyKeys("kv-0", "kv-1", "kv-2");
    assertThat(h.revisions(ns, "kv").values()).containsOnly(from);
    // Units the dead run never reached were never touched.
    assertEquals(untouched.get("kv-0"), uid(ns, "kv-0"));
    assertEquals(untouched.get("kv-1"), uid(ns, "kv-1"));
  }

  @Test
  void repairOfATargetNoRunMarkedChangesNothing() {
    String ns = h.namespace();
    h.statefulSet(ns, "web", 2, "nginx:1.25");
    String target = ns + "/statefulset/web";
    long mark = h.mark();
    var started = h.start(repair(target, UpgradePlan.Repair.CONTINUE));
    assertThat(started.verdict().valid()).isFalse();
    assertThat(started.verdict().problems().get(0)).startsWith("nothing to repair: " + target);
    assertEquals(Phase.FAILED, h.result(target).phase());
    assertThat(h.writesSince(mark, ns)).isEmpty();
  }

  private static String uid(String ns, String pod) {
    return h.kube.pods().inNamespace(ns).withName(pod).get().getMetadata().getUid();
  }
}
