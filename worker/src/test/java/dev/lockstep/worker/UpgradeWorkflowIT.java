package dev.lockstep.worker;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.UnitState;
import dev.lockstep.workflows.UnitStatus;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.Upgrades;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.temporal.client.WorkflowUpdateException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The upgrade workflow with its real activities, against kubesim. */
class UpgradeWorkflowIT {
  private static UpgradeHarness h;
  private static final SteerRequest BOB = new SteerRequest("bob@desk", "looks good");

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(200));
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  @Test
  void upgradesTheHighestUnitWaitsAtTheGateThenTheRestHighestToLowest() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "postgresql", 3, "postgres:14.8");
    String from = before.getStatus().getCurrentRevision();
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    String target = ns + "/statefulset/postgresql";

    Upgrades.Started started =
        h.start(UpgradeHarness.plan(target, "postgresql", "postgres:14.9", UpgradePlan.Gate.FIRST));
    assertThat(started.verdict().valid()).isTrue();
    assertEquals(from, started.verdict().fromRevision());

    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    String to = gate.toRevision();
    assertThat(to).isNotEqualTo(from);
    assertThat(gate.message()).contains("lockstep resume " + target);
    assertThat(gate.units())
        .extracting(UnitStatus::name, UnitStatus::state)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("postgresql-2", UnitState.UPGRADED),
            org.assertj.core.groups.Tuple.tuple("postgresql-1", UnitState.WAITING),
            org.assertj.core.groups.Tuple.tuple("postgresql-0", UnitState.WAITING));
    // Nothing upgrades at a gate: a unit not reached says what it waits for.
    assertThat(gate.units().get(1).message()).isEqualTo("waits for `lockstep resume` at the gate");
    assertEquals(Map.of("postgresql", "postgres:14.8"), gate.fromImages());
    assertEquals(Map.of("postgresql", "postgres:14.9"), gate.toImages());
    assertEquals("lockstep rollback " + target, gate.rollbackCommand());
    // Exactly one unit is on the new revision while the gate waits, and nothing else moves.
    await()
        .during(Duration.ofMillis(800))
        .atMost(3, SECONDS)
        .until(
            () ->
                h.revisions(ns, "postgresql")
                    .equals(
                        Map.of("postgresql-0", from, "postgresql-1", from, "postgresql-2", to)));

    assertThat(h.upgrade(target).resume(BOB)).isEqualTo("resumed at the gate");
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(h.revisions(ns, "postgresql"))
        .containsOnlyKeys("postgresql-0", "postgresql-1", "postgresql-2")
        .allSatisfy((pod, revision) -> assertEquals(to, revision));
    assertThat(pods.arrivals(to)).containsExactly("postgresql-2", "postgresql-1", "postgresql-0");
    assertThat(result.status().units())
        .allSatisfy(
            u -> {
              assertEquals(UnitState.UPGRADED, u.state());
              assertEquals("upgrade completed", u.message());
            });
    assertThat(result.status().steering())
        .singleElement()
        .satisfies(
            s -> {
              assertEquals("resume", s.action());
              assertEquals("bob@desk", s.identity());
              assertEquals("looks good", s.reason());
              assertThat(s.accepted()).isTrue();
            });
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("postgresql").get();
    assertEquals(0, after.getSpec().getUpdateStrategy().getRollingUpdate().getPartition());
    assertThat(after.getMetadata().getAnnotations()).doesNotContainKey("lockstep.dev/run");
    assertEquals(to, after.getStatus().getCurrentRevision());
  }

  @Test
  void fiveUnitsWithoutGateGoHighestToLowestAndTheUsersPartitionIsPutBack() {
    String ns = h.namespace();
    StatefulSet sts = h.statefulSet(ns, "db", 5, "postgres:14.8");
    h.kube
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .withName("db")
        .edit(
            s -> {
              s.getSpec().getUpdateStrategy().getRollingUpdate().setPartition(3);
              return s;
            });
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    String target = ns + "/sts/db";

    h.start(UpgradeHarness.plan(target, "db", "postgres:14.9", UpgradePlan.Gate.NONE));
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    String to = result.status().toRevision();
    assertThat(pods.arrivals(to)).containsExactly("db-4", "db-3", "db-2", "db-1", "db-0");
    for (String pod : List.of("db-0", "db-1", "db-2", "db-3", "db-4")) {
      assertEquals(1, pods.incarnations(pod, to), pod + " replaced more than once");
    }
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("db").get();
    assertEquals(3, after.getSpec().getUpdateStrategy().getRollingUpdate().getPartition());
    assertEquals(to, after.getStatus().getCurrentRevision());
    assertThat(sts.getStatus().getCurrentRevision()).isNotEqualTo(to);
  }

  @Test
  void anOnDeleteStrategyDoesNotLimitTheUpgradeAndIsPutBack() {
    String ns = h.namespace();
    StatefulSet sts =
        new io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder(
                h.statefulSet(ns, "cache", 2, "redis:7.0"))
            .build();
    h.kube
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .withName("cache")
        .edit(
            s -> {
              s.getSpec()
                  .setUpdateStrategy(
                      new io.fabric8.kubernetes.api.model.apps.StatefulSetUpdateStrategyBuilder()
                          .withType("OnDelete")
                          .build());
              return s;
            });
    String target = ns + "/statefulset/cache";
    h.start(UpgradeHarness.plan(target, "cache", "redis:7.2", UpgradePlan.Gate.NONE));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(h.revisions(ns, "cache").values()).containsOnly(result.status().toRevision());
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("cache").get();
    assertEquals("OnDelete", after.getSpec().getUpdateStrategy().getType());
    assertThat(after.getSpec().getUpdateStrategy().getRollingUpdate()).isNull();
    assertThat(sts.getMetadata().getName()).isEqualTo("cache");
  }

  @Test
  void eachGateWaitsAfterEveryUnit() {
    String ns = h.namespace();
    h.statefulSet(ns, "web", 3, "nginx:1.25");
    String target = ns + "/statefulset/web";
    h.start(UpgradeHarness.plan(target, "web", "nginx:1.26", UpgradePlan.Gate.EACH));
    for (int upgraded = 1; upgraded <= 2; upgraded++) {
      int expected = upgraded;
      UpgradeStatus gate =
          h.awaitStatus(
              target,
              s ->
                  s.phase() == Phase.WAITING_FOR_RESUME
                      && s.units().stream().filter(u -> u.state() == UnitState.UPGRADED).count()
                          == expected);
      assertThat(gate.units().stream().filter(u -> u.state() == UnitState.UPGRADED))
          .hasSize(expected);
      h.upgrade(target).resume(BOB);
    }
    assertEquals(Phase.COMPLETED, h.result(target).phase());
  }

  @Test
  void pauseHoldsBeforeTheNextUnitAndResumeGoesOn() {
    String ns = h.namespace();
    h.statefulSet(ns, "api", 4, "example/api:1.0");
    // New pods take a second: time to pause while the first unit upgrades.
    h.cluster
        .behaviours()
        .image("example/api:1.1", ImageBehaviour.startingIn(Duration.ofSeconds(1)));
    String target = ns + "/statefulset/api";
    h.start(UpgradeHarness.plan(target, "api", "example/api:1.1", UpgradePlan.Gate.NONE));
    h.awaitPhase(target, Phase.UPGRADING);
    assertThat(h.upgrade(target).pause(BOB)).contains("pause");

    UpgradeStatus paused = h.awaitPhase(target, Phase.PAUSED);
    long upgraded = paused.units().stream().filter(u -> u.state() == UnitState.UPGRADED).count();
    assertThat(upgraded).isBetween(1L, 3L);
    await()
        .during(Duration.ofMillis(1500))
        .atMost(3, SECONDS)
        .until(
            () ->
                h.revisions(ns, "api").values().stream()
                        .filter(r -> r.equals(paused.toRevision()))
                        .count()
                    == upgraded);
    WorkflowUpdateException refused =
        assertThrows(WorkflowUpdateException.class, () -> h.upgrade(target).pause(BOB));
    assertThat(refused.getCause().getMessage()).contains("already paused");

    h.upgrade(target).resume(BOB);
    assertEquals(Phase.COMPLETED, h.result(target).phase());
    h.cluster.behaviours().clear();
  }

  @Test
  void cancelAtTheGateReturnsTheUpgradedUnitToTheOriginalRevision() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "forum", 3, "discourse:3.2");
    String from = before.getStatus().getCurrentRevision();
    var uids = new java.util.HashMap<String, String>();
    h.kube
        .pods()
        .inNamespace(ns)
        .list()
        .getItems()
        .forEach(p -> uids.put(p.getMetadata().getName(), p.getMetadata().getUid()));
    String target = ns + "/statefulset/forum";
    h.start(UpgradeHarness.plan(target, "forum", "discourse:3.3", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);

    assertThat(h.upgrade(target).cancel(new SteerRequest("carol", "wrong version")))
        .startsWith("cancelling");
    UpgradeResult result = h.result(target);

    assertEquals(Phase.CANCELLED, result.phase());
    assertThat(h.revisions(ns, "forum").values()).containsOnly(from);
    // Units that never moved were never touched.
    for (String pod : List.of("forum-0", "forum-1")) {
      assertEquals(
          uids.get(pod), h.kube.pods().inNamespace(ns).withName(pod).get().getMetadata().getUid());
    }
    assertThat(result.status().units().get(0).state()).isEqualTo(UnitState.ROLLED_BACK);
    assertThat(result.status().units().get(1).state()).isEqualTo(UnitState.WAITING);
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("forum").get();
    assertEquals(
        "discourse:3.2", after.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    assertEquals(0, after.getSpec().getUpdateStrategy().getRollingUpdate().getPartition());
    assertThat(after.getMetadata().getAnnotations()).doesNotContainKey("lockstep.dev/run");
  }

  @Test
  void aSecondUpgradeOfTheSameTargetIsRefusedNamingTheRunningOne() {
    String ns = h.namespace();
    h.statefulSet(ns, "pg", 2, "postgres:14.8");
    String target = ns + "/statefulset/pg";
    Upgrades.Started first =
        h.start(UpgradeHarness.plan(target, "pg", "postgres:14.9", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    long mark = h.mark();

    Upgrades.TargetBusy busy =
        assertThrows(
            Upgrades.TargetBusy.class,
            () ->
                h.start(UpgradeHarness.plan(target, "pg", "postgres:15.0", UpgradePlan.Gate.NONE)));
    assertEquals(first.runId(), busy.runId());
    assertThat(busy.getMessage()).contains(first.workflowId()).contains(first.runId());
    assertThat(h.writesSince(mark, ns)).isEmpty();

    h.upgrade(target).resume(BOB);
    assertEquals(Phase.COMPLETED, h.result(target).phase());
  }

  @Test
  void aResumeWithNoGateWaitingIsRefusedAsAnUpdateAndIgnoredAsASignal() {
    String ns = h.namespace();
    h.statefulSet(ns, "svc", 2, "nginx:1.25");
    h.cluster.behaviours().image("nginx:1.27", ImageBehaviour.startingIn(Duration.ofSeconds(1)));
    String target = ns + "/statefulset/svc";
    h.start(UpgradeHarness.plan(target, "svc", "nginx:1.27", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.UPGRADING);
    WorkflowUpdateException refused =
        assertThrows(WorkflowUpdateException.class, () -> h.upgrade(target).resume(BOB));
    assertThat(refused.getCause().getMessage()).contains("no gate is waiting");
    h.upgrade(target).resumeSignal(new SteerRequest("ui", "clicked"));
    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(gate.steering())
        .singleElement()
        .satisfies(
            s -> {
              assertEquals("signal", s.via());
              assertThat(s.accepted()).isFalse();
              assertThat(s.outcome()).startsWith("ignored: no gate is waiting");
            });
    h.upgrade(target).resumeSignal(new SteerRequest("ui", "clicked again"));
    assertEquals(Phase.COMPLETED, h.result(target).phase());
    h.cluster.behaviours().clear();
  }

  @Test
  void aReplacedWorkerFinishesTheUpgradeAndNoPodIsReplacedTwice() {
    String ns = h.namespace();
    h.statefulSet(ns, "ledger", 3, "example/ledger:1.0");
    h.cluster
        .behaviours()
        .image("example/ledger:2.0", ImageBehaviour.startingIn(Duration.ofSeconds(2)));
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    String target = ns + "/statefulset/ledger";
    h.start(UpgradeHarness.plan(target, "ledger", "example/ledger:2.0", UpgradePlan.Gate.NONE), 2);
    // Kill the worker while the second unit is being replaced, and start another.
    h.awaitStatus(
        target,
        s -> s.phase() == Phase.UPGRADING && s.units().get(1).state() == UnitState.UPGRADING);
    await()
        .atMost(10, SECONDS)
        .until(
            () -> {
              var pod = h.kube.pods().inNamespace(ns).withName("ledger-1").get();
              return pod == null
                  || "example/ledger:2.0".equals(pod.getSpec().getContainers().get(0).getImage());
            });
    h.replaceWorkers();
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    String to = result.status().toRevision();
    for (String pod : List.of("ledger-0", "ledger-1", "ledger-2")) {
      assertEquals(1, pods.incarnations(pod, to), pod + " replaced more than once");
    }
    // The story on the target, each step told once although a step was retried (a unit's Event
    // is told just after its step returns, so it may land a moment later).
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(
                        h.kube.v1().events().inNamespace(ns).list().getItems().stream()
                            .filter(e -> "lockstep".equals(e.getSource().getComponent()))
                            .filter(e -> e.getInvolvedObject().getName().equals("ledger"))
                            .map(e -> e.getReason())
                            .toList())
                    .containsExactlyInAnyOrder(
                        "UpgradeStarted",
                        "UnitUpgraded",
                        "UnitUpgraded",
                        "UnitUpgraded",
                        "UpgradeCompleted"));
    var revision = h.kube.apps().controllerRevisions().inNamespace(ns).withName(to).get();
    assertThat(revision.getMetadata().getAnnotations())
        .containsEntry("lockstep.dev/run-id", result.status().runId())
        .containsEntry("lockstep.dev/outcome", "COMPLETED")
        .containsEntry("lockstep.dev/started-by", "alice@laptop");
    h.cluster.behaviours().clear();
  }

  @Test
  void aChangeMadeBySomeoneElseAtTheGateHoldsWithTheDifferenceAndIsNeverOverwritten() {
    String ns = h.namespace();
    h.statefulSet(ns, "kv", 3, "example/kv:1.0");
    String target = ns + "/statefulset/kv";
    h.start(UpgradeHarness.plan(target, "kv", "example/kv:1.1", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    // Someone runs kubectl set image while Lockstep waits at the gate.
    setImage(ns, "kv", "example/kv:9.9");
    h.upgrade(target).resume(BOB);
    UpgradeStatus held = h.awaitPhase(target, Phase.HELD);
    assertThat(held.message())
        .contains("someone else changed " + target)
        .contains("template: kv example/kv:1.1 -> example/kv:9.9");
    assertEquals("example/kv:9.9", image(ns, "kv"));
    // They put it back; Lockstep carries on where it stopped.
    setImage(ns, "kv", "example/kv:1.1");
    h.upgrade(target).retry(BOB);
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(h.revisions(ns, "kv").values()).containsOnly(result.status().toRevision());
  }

  @Test
  void aScaleBySomeoneElseDuringTheRestHoldsAndAbandonLeavesItAsItIs() {
    String ns = h.namespace();
    h.statefulSet(ns, "mq", 3, "example/mq:1.0");
    h.cluster
        .behaviours()
        .image("example/mq:1.1", ImageBehaviour.startingIn(Duration.ofSeconds(1)));
    String target = ns + "/statefulset/mq";
    h.start(UpgradeHarness.plan(target, "mq", "example/mq:1.1", UpgradePlan.Gate.NONE));
    h.awaitStatus(
        target,
        s -> s.phase() == Phase.UPGRADING && s.units().get(1).state() == UnitState.UPGRADING);
    h.kube.apps().statefulSets().inNamespace(ns).withName("mq").scale(4);
    UpgradeStatus held = h.awaitPhase(target, Phase.HELD);
    assertThat(held.message()).contains("replicas: 3 -> 4");
    h.upgrade(target).abandon(BOB);
    assertEquals(Phase.ABANDONED, h.result(target).phase());
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("mq").get();
    assertEquals(4, after.getSpec().getReplicas());
    assertEquals("example/mq:1.1", image(ns, "mq"));
    assertThat(after.getMetadata().getAnnotations()).doesNotContainKey("lockstep.dev/run");
    h.cluster.behaviours().clear();
  }

  private static void setImage(String ns, String name, String image) {
    h.kube
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .withName(name)
        .edit(
            s -> {
              s.getSpec().getTemplate().getSpec().getContainers().get(0).setImage(image);
              return s;
            });
  }

  private static String image(String ns, String name) {
    return h.kube
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .withName(name)
        .get()
        .getSpec()
        .getTemplate()
        .getSpec()
        .getContainers()
        .get(0)
        .getImage();
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> invalidPlans() {
    return java.util.stream.Stream.of(
        org.junit.jupiter.params.provider.Arguments.of(
            "missing",
            "statefulset/nothere",
            "app",
            "nginx:1.26",
            "2m",
            "statefulset NS/nothere not found in cluster default"),
        org.junit.jupiter.params.provider.Arguments.of(
            "unknown container",
            "statefulset/app",
            "sidecar",
            "nginx:1.26",
            "2m",
            "no container 'sidecar' in NS/statefulset/app: containers are [app]"),
        org.junit.jupiter.params.provider.Arguments.of(
            "no change",
            "statefulset/app",
            "app",
            "nginx:1.25",
            "2m",
            "already runs app=nginx:1.25; nothing was changed"),
        org.junit.jupiter.params.provider.Arguments.of(
            "bad image",
            "statefulset/app",
            "app",
            "nginx::1.26",
            "2m",
            "'nginx::1.26' is not a valid image reference"),
        org.junit.jupiter.params.provider.Arguments.of(
            "zero timeout",
            "statefulset/app",
            "app",
            "nginx:1.26",
            "0s",
            "unitTimeout must be positive"),
        org.junit.jupiter.params.provider.Arguments.of(
            "missing deployment",
            "deployment/app",
            "app",
            "nginx:1.26",
            "2m",
            "deployment NS/app not found"));
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.MethodSource("invalidPlans")
  void anInvalidPlanIsRefusedAndNothingIsWritten(
      String why, String target, String container, String image, String timeout, String expected) {
    String ns = h.namespace();
    h.statefulSet(ns, "app", 2, "nginx:1.25");
    long mark = h.mark();
    UpgradePlan plan =
        UpgradeHarness.plan(ns + "/" + target, container, image, UpgradePlan.Gate.FIRST);
    plan = plan.toBuilder().unitTimeout(timeout).build();
    Upgrades.Started started = h.start(plan);
    String problems = String.join("; ", started.verdict().problems());
    assertThat(started.verdict().valid()).isFalse();
    assertThat(problems).contains(expected.replace("NS", ns));
    assertEquals(
        why.equals("no change")
            ? dev.lockstep.workflows.Verdict.Refusal.CHECKS_FAILED
            : dev.lockstep.workflows.Verdict.Refusal.INVALID_PLAN,
        started.verdict().refusal());
    // Asking for what already runs is not an error (as kubectl apply's "unchanged").
    assertEquals(why.equals("no change"), started.verdict().unchanged());
    UpgradeResult result = h.result(ns + "/" + target);
    assertEquals(why.equals("no change") ? Phase.COMPLETED : Phase.FAILED, result.phase());
    assertThat(h.writesSince(mark, ns)).isEmpty();
  }
}
