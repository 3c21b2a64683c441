package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.WorkflowReplayer;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactoryOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A Helm release's run: its children in order, their gates, and going back in reverse. */
@Timeout(90)
class ReleaseWorkflowTest {
  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeRelease release;

  @BeforeEach
  void start() {
    // No workflow cache: every workflow task replays the history, as a new worker does.
    env =
        Environments.withSearchAttributes(
            TestWorkflowEnvironment.newInstance(
                TestEnvironmentOptions.newBuilder()
                    .setWorkerFactoryOptions(
                        WorkerFactoryOptions.newBuilder().setWorkflowCacheSize(0).build())
                    .build()));
    release = new FakeRelease();
    register(env.newWorker(Names.taskQueue("default")), release);
    env.start();
    client = env.getWorkflowClient();
  }

  static void register(Worker worker, FakeRelease release) {
    worker.registerWorkflowImplementationTypes(
        ReleaseWorkflowImpl.class, UpgradeWorkflowImpl.class);
    worker.registerActivitiesImplementations(release);
  }

  @AfterEach
  void stop() {
    env.close();
  }

  static ReleaseUpgradeRequest request(Map<String, UpgradePlan.Gate> gates) {
    return new ReleaseUpgradeRequest(
        FakeRelease.request(),
        null,
        UpgradePlan.builder().gate(UpgradePlan.Gate.NONE).build(),
        gates,
        "alice",
        "shop 0.2.0",
        0);
  }

  private ReleaseWorkflow parent() {
    return Releases.of(client, "default", FakeRelease.target());
  }

  private UpgradeWorkflow child(String name) {
    return Upgrades.of(client, "default", new Target(FakeRelease.NS, Target.STATEFULSET, name));
  }

  private ReleaseResult result() {
    return WorkflowStub.fromTyped(parent()).getResult(ReleaseResult.class);
  }

  private void untilCacheWaitsAtItsGate() {
    await()
        .atMost(30, TimeUnit.SECONDS)
        .until(
            () ->
                parent().status().current() != null
                    && parent().status().current() == 1
                    && child("cache").status().phase() == Phase.WAITING_FOR_RESUME);
  }

  @Test
  void theWorkloadsMoveOneAtATimeInThePlansOrderEachAtItsOwnGate() {
    Upgrades.Started started =
        Releases.start(client, request(Map.of("StatefulSet/cache", UpgradePlan.Gate.FIRST)));
    assertThat(started.verdict().valid()).isTrue();
    assertThat(started.workflowId()).isEqualTo("lockstep/default/demo/helm/shop");

    untilCacheWaitsAtItsGate();
    ReleaseStatus waiting = parent().status();
    assertThat(waiting.currentWorkload().workflowId())
        .isEqualTo("lockstep/default/demo/statefulset/cache");
    assertThat(waiting.workloads())
        .extracting(ReleaseStatus.Workload::state)
        .containsExactly("completed", "upgrading", "waiting");
    assertThat(waiting.workloads())
        .extracting(ReleaseStatus.Workload::gate)
        .containsExactly("none", "first", "none");
    // Nothing of app has moved while cache waits at its gate.
    assertThat(release.journal)
        .containsExactly(
            "begin", "hooks pre-upgrade", "objects 1 -> 2", "upgrade db", "upgrade cache");

    child("cache").resume(new SteerRequest("bob", "cache looks fine"));
    ReleaseResult result = result();

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(release.journal)
        .containsExactly(
            "begin",
            "hooks pre-upgrade",
            "objects 1 -> 2",
            "upgrade db",
            "upgrade cache",
            "upgrade app",
            "hooks post-upgrade",
            "hooks test",
            "revision 2 deployed");
    assertThat(result.status().workloads())
        .extracting(ReleaseStatus.Workload::state)
        .containsOnly("completed");
    // Each workload's own run is there to read, under its usual id.
    UpgradeResult app = WorkflowStub.fromTyped(child("app")).getResult(UpgradeResult.class);
    assertThat(app.phase()).isEqualTo(Phase.COMPLETED);
  }

  @Test
  void aFailingWorkloadRollsItselfBackThenTheEarlierOnesGoBackInReverseOrder() {
    release.failWorkload = "app";
    Releases.start(client, request(Map.of()));

    ReleaseResult result = result();

    assertEquals(Phase.FAILED, result.phase());
    assertThat(release.journal.subList(0, release.journal.size() - 1))
        .containsExactly(
            "begin",
            "hooks pre-upgrade",
            "objects 1 -> 2",
            "upgrade db",
            "upgrade cache",
            "upgrade app",
            "revert app",
            "rollback cache",
            "rollback db",
            "objects 2 -> 1");
    // Recorded as Helm records a failed upgrade, saying why.
    assertThat(release.journal.get(release.journal.size() - 1))
        .startsWith(
            "revision 2 failed: Upgrade \"shop\" failed: StatefulSet/app ended ROLLED_BACK:")
        .contains("app-1 is crash-looping");
    assertThat(result.status().workloads())
        .extracting(ReleaseStatus.Workload::state)
        .containsExactly("rolled-back", "rolled-back", "failed");
    assertThat(result.message()).endsWith("every workload is back at revision 1");
  }

  @Test
  void withNoWorkerOfItsClusterTheStartSaysSoInsteadOfWaitingForEver() {
    ReleaseUpgradeRequest nowhere =
        new ReleaseUpgradeRequest(
            FakeRelease.request(),
            "nowhere",
            UpgradePlan.builder().build(),
            Map.of(),
            "alice",
            "",
            0);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> Releases.start(client, nowhere, Duration.ofSeconds(1)))
        .isInstanceOf(Upgrades.NoWorker.class)
        .hasMessageContaining("no worker of cluster nowhere answered");
  }

  @Test
  void aRefusedPlanChangesNothing() {
    release.refuse = java.util.List.of("values: replicaCount must be 1");
    Upgrades.Started started = Releases.start(client, request(Map.of()));

    assertThat(started.verdict().valid()).isFalse();
    assertThat(started.verdict().problems()).containsExactly("values: replicaCount must be 1");
    assertThat(result().phase()).isEqualTo(Phase.FAILED);
    assertThat(release.journal).containsExactly("begin");
  }

  @Test
  void aCancelAtTheSecondWorkloadsGateReturnsItAndRollsTheFirstBack() {
    Releases.start(client, request(Map.of("cache", UpgradePlan.Gate.FIRST)));
    untilCacheWaitsAtItsGate();

    parent().cancel(new SteerRequest("carol", "incident 7"));
    ReleaseResult result = result();

    assertEquals(Phase.CANCELLED, result.phase(), result.message());
    assertThat(release.journal)
        .containsSubsequence(
            "upgrade cache",
            "rollback db",
            "objects 2 -> 1",
            "revision 2 failed: Upgrade \"shop\" failed: cancelled by carol (incident 7)");
    assertThat(release.journal).doesNotContain("upgrade app");
    assertThat(WorkflowStub.fromTyped(child("cache")).getResult(UpgradeResult.class).phase())
        .isEqualTo(Phase.CANCELLED);
  }

  @Test
  void aWorkerRestartedInTheMiddleOfTheSecondWorkloadReplaysWhereItWas() throws Exception {
    Releases.start(client, request(Map.of("cache", UpgradePlan.Gate.FIRST)));
    untilCacheWaitsAtItsGate();

    // A new worker (after a restart) first replays the history so far: it must replay.
    WorkflowExecutionHistory history = client.fetchHistory("lockstep/default/demo/helm/shop");
    WorkflowReplayer.replayWorkflowExecution(
        history, ReleaseWorkflowImpl.class, UpgradeWorkflowImpl.class);

    child("cache").resume(new SteerRequest("bob", "after the restart"));
    ReleaseResult result = result();

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    // The whole run replays too, and nothing was done twice.
    WorkflowReplayer.replayWorkflowExecution(
        client.fetchHistory("lockstep/default/demo/helm/shop"),
        ReleaseWorkflowImpl.class,
        UpgradeWorkflowImpl.class);
    assertThat(release.journal)
        .containsExactly(
            "begin",
            "hooks pre-upgrade",
            "objects 1 -> 2",
            "upgrade db",
            "upgrade cache",
            "upgrade app",
            "hooks post-upgrade",
            "hooks test",
            "revision 2 deployed");
  }

  static ReleaseUpgradeRequest rollbackTo(int revision) {
    return new ReleaseUpgradeRequest(
        new HelmActivities.ReleaseRequest(
            FakeRelease.NS, FakeRelease.RELEASE, null, null, List.of(), List.of(), null),
        null,
        UpgradePlan.builder().gate(UpgradePlan.Gate.NONE).build(),
        Map.of(),
        "alice",
        "back to 0.1.0",
        0,
        revision);
  }

  @Test
  void aRollbackToARevisionMovesEachWorkloadThroughItsOwnRunAndRecordsRollbackToN()
      throws Exception {
    Upgrades.Started started = Releases.start(client, rollbackTo(1));
    assertThat(started.verdict().valid()).isTrue();

    ReleaseResult result = result();

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(release.journal)
        .containsExactly(
            "begin rollback to 1",
            "hooks pre-rollback",
            "objects 2 -> 3",
            "upgrade db",
            "upgrade cache",
            "upgrade app",
            "hooks post-rollback",
            "revision 3 deployed: Rollback to 1");
    assertThat(result.message()).isEqualTo("demo/shop rolled back to revision 1 (shop-0.1.0)");
    assertThat(result.status().story())
        .first()
        .asString()
        .startsWith("revision 3 pending-rollback (rollback to 1, shop-0.2.0 -> shop-0.1.0)");
    // lockstep audit: the release's run, then each workload's, in the order they ran.
    ReleaseAudit.Report audit =
        ReleaseAudit.of(
            started.runId(),
            client.fetchHistory("lockstep/default/demo/helm/shop").getEvents(),
            client.getOptions().getDataConverter(),
            null,
            (id, run) -> client.fetchHistory(id, run).getEvents());
    assertThat(audit.what()).isEqualTo("rollback to revision 1");
    assertThat(audit.startedBy()).isEqualTo("alice");
    assertThat(audit.outcome()).isEqualTo("COMPLETED");
    assertThat(audit.entries())
        .extracting(Audit.Entry::what)
        .containsSubsequence(
            "started", "hold", "hooks", "objects", "workload", "hooks", "finish", "outcome");
    assertThat(audit.entries())
        .filteredOn(e -> e.what().equals("finish"))
        .singleElement()
        .extracting(Audit.Entry::detail)
        .isEqualTo("revision 3 deployed (\"Rollback to 1\")");
    assertThat(audit.children())
        .extracting(ReleaseAudit.Child::workflowId)
        .containsExactly(
            "lockstep/default/demo/statefulset/db",
            "lockstep/default/demo/statefulset/cache",
            "lockstep/default/demo/statefulset/app");
    assertThat(audit.children().get(0).audit().outcome()).isEqualTo("COMPLETED");
    assertThat(ReleaseAudit.render(audit))
        .contains("rollback to revision 1", "--- lockstep/default/demo/statefulset/app ---");
    // The same replay a restarted worker does.
    WorkflowReplayer.replayWorkflowExecution(
        client.fetchHistory("lockstep/default/demo/helm/shop"),
        ReleaseWorkflowImpl.class,
        UpgradeWorkflowImpl.class);
  }

  @Test
  void aRollbackWhoseSecondWorkloadFailsGoesBackInReverseAndRecordsTheRollbackFailed() {
    release.failWorkload = "cache";
    Releases.start(client, rollbackTo(1));

    ReleaseResult result = result();

    assertEquals(Phase.FAILED, result.phase());
    assertThat(release.journal)
        .containsSubsequence(
            "upgrade db", "upgrade cache", "revert cache", "rollback db", "objects 3 -> 2");
    assertThat(release.journal).doesNotContain("upgrade app");
    assertThat(release.journal.get(release.journal.size() - 1))
        .startsWith("revision 3 failed: Rollback \"shop\" failed: StatefulSet/cache ended");
    assertThat(result.message()).endsWith("every workload is back at revision 2");
  }

  @Test
  void aRefusedRollbackChangesNothing() {
    release.refuse = List.of("release demo/shop has no revision 7 (revisions 1 to 2)");
    Upgrades.Started started = Releases.start(client, rollbackTo(7));

    assertThat(started.verdict().valid()).isFalse();
    assertThat(started.verdict().problems())
        .containsExactly("release demo/shop has no revision 7 (revisions 1 to 2)");
    assertThat(release.journal).containsExactly("begin rollback to 7");
  }
}
