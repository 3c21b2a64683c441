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
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.temporal.client.WorkflowUpdateException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** When it goes wrong: rollback on failure, HELD with retry and abandon, manual rollback. */
class FailureIT {
  private static UpgradeHarness h;
  private static final SteerRequest OPS = new SteerRequest("ops@desk", "incident 42");

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

  private static UpgradePlan plan(
      String target,
      String container,
      String image,
      UpgradePlan.Gate gate,
      UpgradePlan.FailurePolicy onFailure) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(UpgradeHarness.CLUSTER)
        .images(Map.of(container, image))
        .gate(gate)
        .unitTimeout("1m")
        .crashLoopRestarts(2)
        .onFailure(onFailure)
        .build();
  }

  private static Map<String, String> uids(String ns) {
    Map<String, String> uids = new HashMap<>();
    h.kube
        .pods()
        .inNamespace(ns)
        .list()
        .getItems()
        .forEach(p -> uids.put(p.getMetadata().getName(), p.getMetadata().getUid()));
    return uids;
  }

  @Test
  void aBrokenFirstUnitIsRolledBackAndOnlyThatUnitWasEverReplaced() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "db", 3, "postgres:14.8");
    String from = before.getStatus().getCurrentRevision();
    Map<String, String> uids = uids(ns);
    String target = ns + "/statefulset/db";
    h.start(plan(target, "db", "postgres:14.9-broken", UpgradePlan.Gate.FIRST, null));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message()).startsWith("db-2 failed: db-2 is crash-looping");
    assertThat(h.revisions(ns, "db").values()).containsOnly(from);
    await()
        .atMost(10, SECONDS)
        .until(
            () ->
                h.kube.pods().inNamespace(ns).list().getItems().stream()
                    .allMatch(UpgradeHarness.PodHistory::ready));
    Map<String, String> after = uids(ns);
    assertEquals(uids.get("db-0"), after.get("db-0"));
    assertEquals(uids.get("db-1"), after.get("db-1"));
    StatefulSet sts = h.kube.apps().statefulSets().inNamespace(ns).withName("db").get();
    assertEquals(
        "postgres:14.8", sts.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    assertThat(sts.getMetadata().getAnnotations()).doesNotContainKey("lockstep.dev/run");
    assertEquals(0, sts.getSpec().getUpdateStrategy().getRollingUpdate().getPartition());
  }

  @Test
  void whileAUnitWaitsItsPodAsKubectlShowsItTravelsWithTheHeartbeatThatStatusReads() {
    String ns = h.namespace();
    h.statefulSet(ns, "seen", 1, "example/seen:1.0");
    h.cluster.behaviours().image("example/seen:2.0", ImageBehaviour.CRASHLOOP);
    String target = ns + "/statefulset/seen";
    UpgradePlan patient =
        plan(
                target,
                "seen",
                "example/seen:2.0",
                UpgradePlan.Gate.NONE,
                UpgradePlan.FailurePolicy.ROLLBACK)
            .toBuilder()
            .crashLoopRestarts(1000)
            .build();
    var started = h.start(patient);
    await()
        .atMost(60, SECONDS)
        .until(
            () -> {
              var pending =
                  h.client
                      .getWorkflowServiceStubs()
                      .blockingStub()
                      .describeWorkflowExecution(
                          io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest
                              .newBuilder()
                              .setNamespace(h.client.getOptions().getNamespace())
                              .setExecution(
                                  io.temporal.api.common.v1.WorkflowExecution.newBuilder()
                                      .setWorkflowId(started.workflowId())
                                      .setRunId(started.runId()))
                              .build())
                      .getPendingActivitiesList();
              for (var activity : pending) {
                if (activity.getActivityType().getName().equals("UpgradeUnit")
                    && activity.hasHeartbeatDetails()) {
                  com.fasterxml.jackson.databind.JsonNode pod =
                      h.client
                          .getOptions()
                          .getDataConverter()
                          .fromPayloads(
                              0,
                              java.util.Optional.of(activity.getHeartbeatDetails()),
                              com.fasterxml.jackson.databind.JsonNode.class,
                              com.fasterxml.jackson.databind.JsonNode.class)
                          .path("pod");
                  return pod.path("name").asText().equals("seen-0")
                      && pod.path("status").asText().equals("CrashLoopBackOff")
                      && pod.path("restarts").asInt() >= 1
                      && !pod.path("ready").asBoolean(true)
                      && !pod.path("since").asText().isEmpty();
                }
              }
              return false;
            });
    // Done with it: this test needs no ending of its own (its namespace is its own).
    io.temporal.client.WorkflowStub.fromTyped(h.upgrade(target)).terminate("seen");
  }

  @Test
  void heldThenRetriedOnceTheImageIsFixedCompletes() {
    String ns = h.namespace();
    h.statefulSet(ns, "api", 2, "example/api:1.0");
    h.cluster.behaviours().image("example/api:2.0", ImageBehaviour.CRASHLOOP);
    String target = ns + "/statefulset/api";
    h.start(
        plan(
            target,
            "api",
            "example/api:2.0",
            UpgradePlan.Gate.NONE,
            UpgradePlan.FailurePolicy.HOLD));
    UpgradeStatus held = h.awaitPhase(target, Phase.HELD);
    assertThat(held.message()).contains("api-1 failed").contains("lockstep retry " + target);
    assertEquals(UnitState.FAILED, held.units().get(0).state());
    WorkflowUpdateException refused =
        assertThrows(WorkflowUpdateException.class, () -> h.upgrade(target).resume(OPS));
    assertThat(refused.getCause().getMessage()).contains("HELD");

    // The registry now has a good 2.0: the crash-looping pod comes up at its next restart.
    h.cluster.behaviours().clear();
    assertEquals("retrying the failed unit", h.upgrade(target).retry(OPS));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(h.revisions(ns, "api").values()).containsOnly(result.status().toRevision());
  }

  @Test
  void heldThenAbandonedLeavesTheTargetAsItIsAndReleasesIt() {
    String ns = h.namespace();
    h.statefulSet(ns, "q", 3, "example/q:1.0");
    h.cluster.behaviours().image("example/q:2.0", ImageBehaviour.CRASHLOOP);
    String target = ns + "/statefulset/q";
    h.start(
        plan(target, "q", "example/q:2.0", UpgradePlan.Gate.NONE, UpgradePlan.FailurePolicy.HOLD));
    h.awaitPhase(target, Phase.HELD);
    h.upgrade(target).abandon(OPS);
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ABANDONED, result.phase());
    StatefulSet sts = h.kube.apps().statefulSets().inNamespace(ns).withName("q").get();
    assertEquals(
        "example/q:2.0", sts.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    assertEquals(2, sts.getSpec().getUpdateStrategy().getRollingUpdate().getPartition());
    assertThat(sts.getMetadata().getAnnotations()).doesNotContainKey("lockstep.dev/run");
    assertThat(result.status().steering()).extracting(s -> s.action()).containsExactly("abandon");
  }

  @Test
  void aManualRollbackAtTheGateReturnsTheFirstUnit() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "web", 3, "nginx:1.25");
    String target = ns + "/statefulset/web";
    h.start(plan(target, "web", "nginx:1.26", UpgradePlan.Gate.FIRST, null));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(h.upgrade(target).rollback(OPS)).startsWith("rolling back to ");
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message()).contains("as ops@desk asked");
    assertThat(h.revisions(ns, "web").values())
        .containsOnly(before.getStatus().getCurrentRevision());
  }

  @Test
  void aManualRollbackMidWayLetsTheUnitSettleThenReturnsEveryUpgradedUnit() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "kv", 4, "example/kv:1.0");
    h.cluster
        .behaviours()
        .image("example/kv:2.0", ImageBehaviour.startingIn(Duration.ofSeconds(1)));
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    String target = ns + "/statefulset/kv";
    h.start(plan(target, "kv", "example/kv:2.0", UpgradePlan.Gate.NONE, null));
    h.awaitStatus(
        target,
        s -> s.phase() == Phase.UPGRADING && s.units().get(1).state() == UnitState.UPGRADING);
    assertThat(h.upgrade(target).rollback(OPS)).contains("once the step running now has settled");
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase());
    String from = before.getStatus().getCurrentRevision();
    assertThat(h.revisions(ns, "kv").values()).containsOnly(from);
    // The unit being replaced was let finish (it reached the new revision Ready) before going back.
    assertThat(pods.events)
        .anyMatch(
            e ->
                e.pod().equals("kv-2")
                    && e.ready()
                    && result.status().toRevision().equals(e.revision()));
    for (String untouched : List.of("kv-0", "kv-1")) {
      assertEquals(0, pods.incarnations(untouched, result.status().toRevision()));
    }
  }

  private static UpgradePlan restoring(String target, String revision, UpgradePlan.Gate gate) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(UpgradeHarness.CLUSTER)
        .change(UpgradePlan.Change.restoring(revision))
        .gate(gate)
        .unitTimeout("1m")
        .build();
  }

  @Test
  void aFinishedUpgradeIsRolledBackAsANewGatedRunAndToAnyRevisionByNumber() {
    String ns = h.namespace();
    StatefulSet v1 = h.statefulSet(ns, "app", 3, "example/app:1.0");
    String target = ns + "/statefulset/app";
    for (String version : List.of("2.0", "3.0")) {
      h.start(plan(target, "app", "example/app:" + version, UpgradePlan.Gate.NONE, null));
      assertEquals(Phase.COMPLETED, h.result(target).phase());
    }
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    // The revision the last run started from: 2.0's.
    String last = h.upgrade(target).status().fromRevision();
    h.start(restoring(target, last, UpgradePlan.Gate.FIRST));
    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertEquals(Map.of("app", "example/app:2.0"), gate.toImages());
    assertEquals(last, gate.toRevision());
    h.upgrade(target).resume(OPS);
    assertEquals(Phase.COMPLETED, h.result(target).phase());
    assertThat(h.revisions(ns, "app").values()).containsOnly(last);
    assertThat(pods.arrivals(last)).containsExactly("app-2", "app-1", "app-0");

    // --to-revision 1: the first template, by its ControllerRevision number.
    h.start(restoring(target, "1", UpgradePlan.Gate.NONE));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(h.revisions(ns, "app").values()).containsOnly(v1.getStatus().getCurrentRevision());

    long mark = h.mark();
    var started = h.start(restoring(target, "42", UpgradePlan.Gate.NONE));
    assertThat(started.verdict().valid()).isFalse();
    assertThat(started.verdict().problems().get(0))
        .startsWith("revision 42 of " + target + " not found: its revisions are [");
    assertThat(h.writesSince(mark, ns)).isEmpty();
  }

  @Test
  void aWorkerKilledDuringARollbackIsReplacedAndTheRollbackCompletesOnce() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "ledger", 3, "example/ledger:1.0");
    String from = before.getStatus().getCurrentRevision();
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    String target = ns + "/statefulset/ledger";
    h.start(plan(target, "ledger", "example/ledger:2.0", UpgradePlan.Gate.FIRST, null), 2);
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    // Going back takes a while: time to kill the worker in the middle of it.
    h.cluster
        .behaviours()
        .image("example/ledger:1.0", ImageBehaviour.startingIn(Duration.ofSeconds(2)));
    h.upgrade(target).rollback(OPS);
    h.awaitPhase(target, Phase.ROLLING_BACK);
    await()
        .atMost(10, SECONDS)
        .until(
            () -> {
              var pod = h.kube.pods().inNamespace(ns).withName("ledger-2").get();
              return pod != null
                  && "example/ledger:1.0".equals(pod.getSpec().getContainers().get(0).getImage());
            });
    h.replaceWorkers();
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(h.revisions(ns, "ledger").values()).containsOnly(from);
    // ledger-2 came back to the original revision exactly once (a pod created since the watch
    // began is first seen not Ready); the others never moved.
    long backAgain =
        pods.events.stream()
            .filter(e -> e.pod().equals("ledger-2") && from.equals(e.revision()) && !e.ready())
            .map(UpgradeHarness.PodHistory.Event::uid)
            .distinct()
            .count();
    assertEquals(
        1,
        backAgain,
        () ->
            pods.events.stream()
                .filter(e -> e.pod().equals("ledger-2"))
                .map(Object::toString)
                .toList()
                .toString());
    assertEquals(0, pods.incarnations("ledger-1", result.status().toRevision()));
  }

  private static UpgradePlan scaleUp(String target, String container, String image) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(UpgradeHarness.CLUSTER)
        .images(Map.of(container, image))
        .gate(UpgradePlan.Gate.NONE)
        .unitTimeout("1m")
        .crashLoopRestarts(2)
        .scaleUp(true)
        .build();
  }

  @Test
  void scaleUpFirstUpgradesTheExtraUnitFirstAndScalesBack() {
    String ns = h.namespace();
    h.statefulSet(ns, "pg", 3, "postgres:14.8");
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    String target = ns + "/statefulset/pg";
    h.start(scaleUp(target, "pg", "postgres:14.9"));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    String to = result.status().toRevision();
    assertThat(pods.arrivals(to)).containsExactly("pg-3", "pg-2", "pg-1", "pg-0");
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("pg").get();
    assertEquals(3, after.getSpec().getReplicas());
    assertThat(h.revisions(ns, "pg")).containsOnlyKeys("pg-0", "pg-1", "pg-2");
    assertThat(h.revisions(ns, "pg").values()).containsOnly(to);
    assertThat(result.status().units()).hasSize(3);
  }

  @Test
  void aFailedExtraUnitIsJustRemovedAndNothingElseWasTouched() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "pg", 3, "postgres:14.8");
    Map<String, String> uids = uids(ns);
    String target = ns + "/statefulset/pg";
    h.start(scaleUp(target, "pg", "postgres:14.9-broken"));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message()).startsWith("pg-3 failed");
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("pg").get();
    assertEquals(3, after.getSpec().getReplicas());
    assertEquals(
        "postgres:14.8", after.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    await().atMost(10, SECONDS).until(() -> h.revisions(ns, "pg").size() == 3);
    assertEquals(uids, uids(ns));
    assertThat(h.revisions(ns, "pg").values())
        .containsOnly(before.getStatus().getCurrentRevision());
  }

  @Test
  void aScaledUpRunWhoseSecondUnitBreaksEndsRolledBackWithItsOriginalReplicas() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "pg", 3, "postgres:14.8");
    String target = ns + "/statefulset/pg";
    h.start(
        scaleUp(target, "pg", "postgres:14.9").toBuilder().gate(UpgradePlan.Gate.FIRST).build());
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    // The extra unit came up fine; from now on the new version crash-loops (pg-2 will).
    h.cluster.behaviours().image("postgres:14.9", ImageBehaviour.CRASHLOOP);
    h.upgrade(target).resume(OPS);

    UpgradeResult result = h.result(target);

    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(result.message()).startsWith("pg-2 failed: pg-2 is crash-looping");
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("pg").get();
    assertEquals(3, after.getSpec().getReplicas());
    assertEquals(
        "postgres:14.8", after.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    assertThat(after.getMetadata().getAnnotations()).doesNotContainKey("lockstep.dev/run");
    await().atMost(20, SECONDS).until(() -> h.revisions(ns, "pg").size() == 3);
    assertThat(h.revisions(ns, "pg").values())
        .containsOnly(before.getStatus().getCurrentRevision());
    assertThat(result.status().units())
        .extracting(u -> u.name())
        .containsExactly("pg-2", "pg-1", "pg-0");
  }

  @Test
  void aUnitThatBreaksAfterItWasVerifiedIsNamedAsTheCauseAndTheNextUnitNeverMoves() {
    String ns = h.namespace();
    h.statefulSet(ns, "pg", 3, "postgres:14.8");
    Map<String, String> uids = uids(ns);
    String target = ns + "/statefulset/pg";
    h.start(plan(target, "pg", "postgres:14.9", UpgradePlan.Gate.FIRST, null));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    // pg-2 was verified on the new version; now that version crashes, and pg-2 restarts on it.
    h.cluster.behaviours().image("postgres:14.9", ImageBehaviour.CRASHLOOP);
    h.kube.pods().inNamespace(ns).withName("pg-2").delete();
    h.upgrade(target).resume(OPS);

    UpgradeResult result = h.result(target);

    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(result.message()).startsWith("pg-2 (upgraded before pg-1) is not Ready");
    Map<String, String> after = uids(ns);
    assertEquals(uids.get("pg-1"), after.get("pg-1"));
    assertEquals(uids.get("pg-0"), after.get("pg-0"));
  }

  @Test
  void aUnitWhosePodAQuotaRefusesFailsAtOnceWithTheRefusal() {
    // kubesim admits every pod (it has no ResourceQuota admission): this needs a real API server.
    h.onlyInRealLane(
        "FailureIT.aUnitWhosePodAQuotaRefuses...: real lane only (kubesim has no quotas)");
    String ns = h.namespace();
    h.kube
        .resourceQuotas()
        .inNamespace(ns)
        .resource(
            new io.fabric8.kubernetes.api.model.ResourceQuotaBuilder()
                .withNewMetadata()
                .withName("cpu")
                .endMetadata()
                .withNewSpec()
                .addToHard("requests.cpu", new io.fabric8.kubernetes.api.model.Quantity("1"))
                .endSpec()
                .build())
        .create();
    StatefulSet spec = UpgradeHarness.statefulSetSpec("quota", 2, "example/quota:1.0");
    spec.getSpec()
        .getTemplate()
        .getSpec()
        .getContainers()
        .get(0)
        .setResources(
            new io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder()
                .addToRequests("cpu", new io.fabric8.kubernetes.api.model.Quantity("200m"))
                .build());
    StatefulSet before = h.createReady(ns, spec);
    String target = ns + "/statefulset/quota";
    // The unit timeout is far beyond the result's 90 s: only the refusal ends the unit in time.
    h.start(
        UpgradePlan.builder()
            .target(target)
            .cluster(UpgradeHarness.CLUSTER)
            .change(
                new UpgradePlan.Change(
                    Map.of("quota", "example/quota:2.0"),
                    Map.of(),
                    Map.of("quota", Map.of("requests", Map.of("cpu", "2")))))
            .gate(UpgradePlan.Gate.NONE)
            .unitTimeout("10m")
            .build());
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(result.message()).contains("quota-1 cannot be created").contains("exceeded quota");
    await()
        .atMost(60, SECONDS)
        .until(
            () ->
                h.revisions(ns, "quota").size() == 2
                    && h.revisions(ns, "quota").values().stream()
                        .allMatch(r -> r.equals(before.getStatus().getCurrentRevision())));
  }
}
