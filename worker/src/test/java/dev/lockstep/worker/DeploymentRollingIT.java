package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.kubesim.RequestRecord;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A Deployment's rolling upgrade with the real workflow and activities on kubesim's Deployment
 * controller: stopped at a gate by pausing the Deployment, resumed, cancelled, rolled back when the
 * new version breaks, held when someone else changes the Deployment; the Deployment as found after
 * every return.
 */
@Timeout(180)
class DeploymentRollingIT {
  private static UpgradeHarness h;
  private static final SteerRequest OPS = new SteerRequest("ops", "test");

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(200));
  }

  @AfterAll
  static void stop() {
    h.close();
  }

  @AfterEach
  void clearBehaviours() {
    h.cluster.behaviours().clear();
  }

  private Deployment read(String ns, String name) {
    return h.kube.apps().deployments().inNamespace(ns).withName(name).get();
  }

  private List<String> images(String ns, String app) {
    return h.kube.pods().inNamespace(ns).withLabel("app", app).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .map((Pod p) -> p.getSpec().getContainers().get(0).getImage())
        .toList();
  }

  /** The parts of a Deployment a user wrote: what every return must give back exactly. */
  private static List<Object> asWritten(Deployment d) {
    Map<String, String> annotations = d.getMetadata().getAnnotations();
    return List.of(
        d.getSpec().getTemplate(),
        d.getSpec().getReplicas(),
        d.getSpec().getStrategy(),
        String.valueOf(d.getSpec().getMinReadySeconds()),
        String.valueOf(d.getSpec().getProgressDeadlineSeconds()),
        String.valueOf(d.getSpec().getPaused()),
        d.getSpec().getSelector(),
        String.valueOf(d.getMetadata().getLabels()),
        String.valueOf(
            annotations == null
                ? List.of()
                : annotations.keySet().stream()
                    .filter(k -> k.startsWith("lockstep.dev/"))
                    .toList()));
  }

  @Test
  void stopsPausedAfterTheFirstNewPodAndFinishesOnResume() {
    String ns = h.namespace();
    h.deployment(ns, "web", 4, "example/web:1.0");
    String target = ns + "/deployment/web";
    h.start(UpgradeHarness.plan(target, "web", "example/web:2.0", UpgradePlan.Gate.FIRST));

    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(gate.message()).contains("pods Ready on the new version");
    assertThat(read(ns, "web").getSpec().getPaused()).isTrue();
    // Exactly the gate point, however fast the pods start: one new pod, three old ones.
    assertThat(images(ns, "web"))
        .containsExactlyInAnyOrder(
            "example/web:2.0", "example/web:1.0", "example/web:1.0", "example/web:1.0");

    h.upgrade(target).resume(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    Deployment after = read(ns, "web");
    assertThat(images(ns, "web")).hasSize(4).containsOnly("example/web:2.0");
    assertThat(after.getSpec().getPaused()).isNotEqualTo(Boolean.TRUE);
    assertThat(after.getSpec().getReplicas()).isEqualTo(4);
    assertThat(after.getSpec().getStrategy().getRollingUpdate().getMaxSurge().getIntVal())
        .isEqualTo(1);
    assertThat(after.getMetadata().getAnnotations()).doesNotContainKeys("lockstep.dev/run");
  }

  @Test
  void planPrintsTheStepsAndGatesAndWritesNothing() {
    String ns = h.namespace();
    h.deployment(ns, "doc", 4, "example/doc:1.0");
    String target = ns + "/deployment/doc";
    long mark = h.mark();
    dev.lockstep.workflows.PlanReport report =
        h.client
            .newWorkflowStub(
                dev.lockstep.workflows.PlanWorkflow.class,
                io.temporal.client.WorkflowOptions.newBuilder()
                    .setWorkflowId("plan-" + ns)
                    .setTaskQueue(dev.lockstep.workflows.Names.taskQueue(UpgradeHarness.CLUSTER))
                    .build())
            .plan(
                UpgradeHarness.plan(target, "doc", "example/doc:2.0", UpgradePlan.Gate.FIRST)
                    .toBuilder()
                    .strategy(UpgradePlan.Strategy.rolling(List.of("1", "50%")))
                    .build());

    assertThat(report.canStart()).as("%s", report).isTrue();
    assertThat(report.steps())
        .containsExactly(
            "collect",
            "pre-checks",
            "prepare",
            "roll to 1 of 4 new pods",
            "gate at 1 of 4 new pods",
            "roll to 2 of 4 new pods",
            "gate at 2 of 4 new pods",
            "roll to 4 of 4 new pods",
            "finish");
    assertThat(report.gates()).hasSize(2);
    assertThat(report.templateDiff()).anyMatch(l -> l.contains("example/doc:2.0"));
    assertThat(h.writesSince(mark, ns)).isEmpty();
  }

  @Test
  void cancelAtTheGateReturnsTheDeploymentExactlyAsFound() {
    String ns = h.namespace();
    Deployment before = h.deployment(ns, "api", 4, "example/api:1.0");
    String target = ns + "/deployment/api";
    h.start(
        UpgradeHarness.plan(target, "api", "example/api:2.0", UpgradePlan.Gate.FIRST).toBuilder()
            .strategy(UpgradePlan.Strategy.rolling(List.of("50%")))
            .build());
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(images(ns, "api"))
        .containsExactlyInAnyOrder(
            "example/api:2.0", "example/api:2.0", "example/api:1.0", "example/api:1.0");

    h.upgrade(target).cancel(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.CANCELLED, result.phase(), result.message());
    assertThat(asWritten(read(ns, "api"))).isEqualTo(asWritten(before));
    assertThat(images(ns, "api")).hasSize(4).containsOnly("example/api:1.0");
  }

  /** The pod of {@code app} on {@code image}, if there is one. */
  private Pod podOn(String ns, String app, String image) {
    return h.kube.pods().inNamespace(ns).withLabel("app", app).list().getItems().stream()
        .filter(p -> image.equals(p.getSpec().getContainers().get(0).getImage()))
        .findFirst()
        .orElse(null);
  }

  private static boolean ready(Pod p) {
    return p != null
        && p.getStatus() != null
        && p.getStatus().getConditions() != null
        && p.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  @Test
  void aStepWaitingForASlowPodReadsTheDeploymentOnlyWhenSomethingChanges() {
    String ns = h.namespace();
    h.deployment(ns, "slow", 1, "example/slow:1.0");
    h.cluster
        .behaviours()
        .image("example/slow:2.0", ImageBehaviour.startingIn(Duration.ofSeconds(8)));
    String target = ns + "/deployment/slow";
    h.start(UpgradeHarness.plan(target, "slow", "example/slow:2.0", UpgradePlan.Gate.NONE));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> podOn(ns, "slow", "example/slow:2.0") != null);
    long waiting = h.cluster.requests().mark();

    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> ready(podOn(ns, "slow", "example/slow:2.0")));
    long started = h.cluster.requests().mark();
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    // While the new pod took its 8 s to start, the step read the Deployment only when something
    // of it changed (the pod's and its ReplicaSet's few updates at its creation and at its Ready:
    // 2 to 5 reads in either lane), never on a timer: a read every 500 ms would be 16.
    List<RequestRecord> whileStarting =
        h.cluster.requests().since(waiting).stream()
            .filter(r -> r.seq() <= started && isGet(r, ns, "slow"))
            .toList();
    assertThat(whileStarting).hasSizeLessThanOrEqualTo(8);
  }

  private static boolean isGet(RequestRecord r, String ns, String name) {
    return "get".equals(r.verb())
        && "deployments".equals(r.resource())
        && ns.equals(r.namespace())
        && name.equals(r.name());
  }

  @Test
  void aCrashLoopingNewVersionIsRolledBackAutomatically() {
    String ns = h.namespace();
    Deployment before = h.deployment(ns, "q", 3, "example/q:1.0");
    h.cluster.behaviours().image("example/q:2.0", ImageBehaviour.CRASHLOOP);
    String target = ns + "/deployment/q";
    h.start(UpgradeHarness.plan(target, "q", "example/q:2.0", UpgradePlan.Gate.NONE));

    UpgradeResult result = h.result(target);

    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(result.message()).contains("the new version failed");
    assertThat(asWritten(read(ns, "q"))).isEqualTo(asWritten(before));
    assertThat(images(ns, "q")).hasSize(3).containsOnly("example/q:1.0");
  }

  @Test
  void historyListsTheReplicaSetsAndRollbackToARevisionRestoresItsTemplate() throws Exception {
    // Found by the real lane: on v1.20's controller the reused ReplicaSet does not keep the
    // rollback run's notes (its run id reads null), so history cannot name that run yet.
    UpgradeHarness.onlyInKubesimLane(
        "DeploymentRollingIT history/rollback: kubesim lane only until a reused ReplicaSet keeps"
            + " its run's notes on a real controller");
    String ns = h.namespace();
    h.deployment(ns, "shop", 2, "example/shop:1.0");
    String target = ns + "/deployment/shop";
    h.start(UpgradeHarness.plan(target, "shop", "example/shop:1.1", UpgradePlan.Gate.NONE));
    UpgradeResult upgraded = h.result(target);
    assertEquals(Phase.COMPLETED, upgraded.phase(), upgraded.message());

    h.start(
        UpgradePlan.builder()
            .target(target)
            .cluster(UpgradeHarness.CLUSTER)
            .change(UpgradePlan.Change.restoring("1"))
            .gate(UpgradePlan.Gate.NONE)
            .unitTimeout("1m")
            .build());
    UpgradeResult back = h.result(target);

    assertEquals(Phase.COMPLETED, back.phase(), back.message());
    assertThat(images(ns, "shop")).hasSize(2).containsOnly("example/shop:1.0");
    List<dev.lockstep.workflows.RevisionHistory.Row> rows =
        dev.lockstep.workflows.RevisionHistory.fetch(
            h.client,
            UpgradeHarness.CLUSTER,
            dev.lockstep.workflows.Target.parse(target, "default"),
            Duration.ofSeconds(30));
    // kubectl rollout undo semantics: the first ReplicaSet is reused and raised to revision 3.
    assertThat(rows)
        .extracting(dev.lockstep.workflows.RevisionHistory.Row::revision)
        .containsExactly(2L, 3L);
    assertThat(rows.get(1).images()).containsEntry("shop", "example/shop:1.0");
    assertEquals("deployed", rows.get(1).status());
    assertEquals(back.status().runId(), rows.get(1).runId());
    assertEquals(upgraded.status().runId(), rows.get(0).runId());
  }

  @Test
  void aWorkerKilledMidRolloutIsReplacedAndEveryPodIsReplacedOnce() throws Exception {
    String ns = h.namespace();
    h.deployment(ns, "slow", 4, "example/slow:1.0");
    h.cluster
        .behaviours()
        .image("example/slow:2.0", ImageBehaviour.startingIn(Duration.ofSeconds(1)));
    java.util.Set<String> created = java.util.concurrent.ConcurrentHashMap.newKeySet();
    try (io.fabric8.kubernetes.client.Watch w =
        h.kube
            .pods()
            .inNamespace(ns)
            .watch(
                new io.fabric8.kubernetes.client.Watcher<Pod>() {
                  @Override
                  public void eventReceived(Action action, Pod pod) {
                    if (pod.getSpec()
                        .getContainers()
                        .get(0)
                        .getImage()
                        .equals("example/slow:2.0")) {
                      created.add(pod.getMetadata().getUid());
                    }
                  }

                  @Override
                  public void onClose(io.fabric8.kubernetes.client.WatcherException cause) {}
                })) {
      String target = ns + "/deployment/slow";
      h.start(UpgradeHarness.plan(target, "slow", "example/slow:2.0", UpgradePlan.Gate.NONE));
      org.awaitility.Awaitility.await()
          .atMost(60, java.util.concurrent.TimeUnit.SECONDS)
          .until(() -> !created.isEmpty());

      h.replaceWorkers();
      UpgradeResult result = h.result(target);

      assertEquals(Phase.COMPLETED, result.phase(), result.message());
      assertThat(images(ns, "slow")).hasSize(4).containsOnly("example/slow:2.0");
      assertThat(created).hasSize(4);
      assertThat(read(ns, "slow").getMetadata().getAnnotations())
          .doesNotContainKey("lockstep.dev/run");
    }
  }

  @Test
  void someoneElseScalingTheDeploymentHoldsTheRunWithTheDifference() {
    String ns = h.namespace();
    h.deployment(ns, "kv", 3, "example/kv:1.0");
    String target = ns + "/deployment/kv";
    h.start(UpgradeHarness.plan(target, "kv", "example/kv:2.0", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    h.kube
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName("kv")
        .patch(
            io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
            "{\"spec\":{\"replicas\":5}}");

    h.upgrade(target).resume(OPS);
    UpgradeStatus held = h.awaitPhase(target, Phase.HELD);

    assertThat(held.message()).contains("someone else changed").contains("spec.replicas 3 -> 5");
    assertThat(read(ns, "kv").getSpec().getReplicas()).isEqualTo(5);
    h.upgrade(target).abandon(OPS);
    assertEquals(Phase.ABANDONED, h.result(target).phase());
    assertThat(read(ns, "kv").getMetadata().getAnnotations()).doesNotContainKey("lockstep.dev/run");
  }

  @Test
  void someoneElseSettingAnImageAtTheGateHoldsTheRunAndTheirChangeStays() {
    String ns = h.namespace();
    Deployment before = h.deployment(ns, "im", 4, "example/im:1.0");
    String target = ns + "/deployment/im";
    h.start(UpgradeHarness.plan(target, "im", "example/im:2.0", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    Deployment theirs = read(ns, "im");
    theirs.getSpec().getTemplate().getSpec().getContainers().get(0).setImage("example/im:3.0");
    h.kube.apps().deployments().inNamespace(ns).resource(theirs).update();

    h.upgrade(target).resume(OPS);
    UpgradeStatus held = h.awaitPhase(target, Phase.HELD);

    assertThat(held.message())
        .contains("someone else changed")
        .contains("spec.template is not the one this run wrote")
        .contains("example/im:3.0");
    assertThat(read(ns, "im").getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
        .isEqualTo("example/im:3.0");
    h.upgrade(target).abandon(OPS);
    assertEquals(Phase.ABANDONED, h.result(target).phase());
    Deployment after = read(ns, "im");
    // Released with the user's own rollout settings back, their image kept, nothing of Lockstep's.
    assertThat(after.getSpec().getStrategy()).isEqualTo(before.getSpec().getStrategy());
    assertThat(after.getSpec().getMinReadySeconds())
        .isEqualTo(before.getSpec().getMinReadySeconds());
    assertThat(after.getSpec().getProgressDeadlineSeconds())
        .isEqualTo(before.getSpec().getProgressDeadlineSeconds());
    assertThat(after.getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
        .isEqualTo("example/im:3.0");
    assertThat(after.getMetadata().getAnnotations().keySet())
        .noneMatch(k -> k.startsWith("lockstep.dev/"));
  }

  @Test
  void someoneElseChangingTheStrategyAtTheGateHoldsTheRunAndTheirStrategyStays() {
    String ns = h.namespace();
    h.deployment(ns, "st", 4, "example/st:1.0");
    String target = ns + "/deployment/st";
    h.start(UpgradeHarness.plan(target, "st", "example/st:2.0", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    h.kube
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName("st")
        .patch(
            io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
            "{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":3}}}}");

    h.upgrade(target).resume(OPS);
    UpgradeStatus held = h.awaitPhase(target, Phase.HELD);

    assertThat(held.message()).contains("someone else changed").contains("spec.strategy");
    h.upgrade(target).abandon(OPS);
    assertEquals(Phase.ABANDONED, h.result(target).phase());
    Deployment after = read(ns, "st");
    assertThat(after.getSpec().getStrategy().getRollingUpdate().getMaxSurge().getIntVal())
        .isEqualTo(3);
    assertThat(after.getMetadata().getAnnotations().keySet())
        .noneMatch(k -> k.startsWith("lockstep.dev/"));
  }
}
