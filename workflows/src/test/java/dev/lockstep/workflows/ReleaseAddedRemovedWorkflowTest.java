package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.WorkflowReplayer;
import io.temporal.worker.WorkerFactoryOptions;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A chart upgrade that adds a workload (the Deployment {@code search}) and removes one (the
 * StatefulSet {@code legacy}): the new one created and waited Ready at its place in the order, the
 * removed one deleted after every other workload moved, and both undone, in reverse order, when the
 * release goes back.
 */
@Timeout(90)
class ReleaseAddedRemovedWorkflowTest {
  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeRelease release;

  @BeforeEach
  void start() {
    env =
        Environments.withSearchAttributes(
            TestWorkflowEnvironment.newInstance(
                TestEnvironmentOptions.newBuilder()
                    .setWorkerFactoryOptions(
                        WorkerFactoryOptions.newBuilder().setWorkflowCacheSize(0).build())
                    .build()));
    release = new FakeRelease();
    release.addsAndRemoves = true;
    ReleaseWorkflowTest.register(env.newWorker(Names.taskQueue("default")), release);
    env.start();
    client = env.getWorkflowClient();
  }

  @AfterEach
  void stop() {
    env.close();
  }

  /** Short heartbeats, so a cancelled wait hears of it within a couple of seconds. */
  static ReleaseUpgradeRequest request() {
    return new ReleaseUpgradeRequest(
        FakeRelease.request(),
        null,
        UpgradePlan.builder().gate(UpgradePlan.Gate.NONE).build(),
        Map.of(),
        "alice",
        "shop 0.2.0: search in, legacy out",
        2);
  }

  private ReleaseWorkflow parent() {
    return Releases.of(client, "default", FakeRelease.target());
  }

  private ReleaseResult result() {
    return WorkflowStub.fromTyped(parent()).getResult(ReleaseResult.class);
  }

  private void replays() throws Exception {
    WorkflowReplayer.replayWorkflowExecution(
        client.fetchHistory("lockstep/default/demo/helm/shop"),
        ReleaseWorkflowImpl.class,
        UpgradeWorkflowImpl.class);
  }

  @Test
  void theNewWorkloadIsCreatedInItsPlaceAndTheRemovedOneDeletedAfterTheRest() throws Exception {
    Releases.start(client, request());

    ReleaseResult result = result();

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(release.journal)
        .containsExactly(
            "begin",
            "hooks pre-upgrade",
            "objects 1 -> 2",
            "upgrade db",
            "upgrade cache",
            "create Deployment/search of revision 2",
            "upgrade app",
            "delete StatefulSet/legacy of revision 1",
            "hooks post-upgrade",
            "hooks test",
            "revision 2 deployed");
    assertThat(result.status().workloads())
        .extracting(ReleaseStatus.Workload::key, ReleaseStatus.Workload::state)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("StatefulSet/db", "completed"),
            org.assertj.core.groups.Tuple.tuple("StatefulSet/cache", "completed"),
            org.assertj.core.groups.Tuple.tuple("Deployment/search", "completed"),
            org.assertj.core.groups.Tuple.tuple("StatefulSet/app", "completed"),
            org.assertj.core.groups.Tuple.tuple("StatefulSet/legacy", "completed"));
    assertThat(result.status().story())
        .contains("Deployment/search created, 1/1 Ready", "StatefulSet/legacy deleted");
    // lockstep audit names both steps, in the order they ran.
    ReleaseAudit.Report audit =
        ReleaseAudit.of(
            result.status().runId(),
            client.fetchHistory("lockstep/default/demo/helm/shop").getEvents(),
            client.getOptions().getDataConverter(),
            null,
            (id, run) -> client.fetchHistory(id, run).getEvents());
    assertThat(audit.entries())
        .filteredOn(e -> e.what().equals("workload") && !e.subject().startsWith("lockstep/"))
        .extracting(Audit.Entry::subject, Audit.Entry::detail)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "Deployment/search", "Deployment/search created, 1/1 Ready"),
            org.assertj.core.groups.Tuple.tuple(
                "StatefulSet/legacy", "StatefulSet/legacy deleted"));
    replays();
  }

  @Test
  void aFailedTestHookRestoresTheRemovedOneAndDeletesTheNewOneInReverseOrder() throws Exception {
    release.failHooks = "test";
    Releases.start(client, request());

    ReleaseResult result = result();

    assertEquals(Phase.FAILED, result.phase(), result.message());
    assertThat(release.journal)
        .containsSubsequence(
            "delete StatefulSet/legacy of revision 1",
            "hooks test",
            // legacy comes back from revision 1's manifest, then the rest goes back in reverse.
            "create StatefulSet/legacy of revision 1",
            "rollback app",
            "delete Deployment/search of revision 2",
            "rollback cache",
            "rollback db",
            "objects 2 -> 1");
    assertThat(release.journal.get(release.journal.size() - 1))
        .startsWith("revision 2 failed: Upgrade \"shop\" failed: test hook failed");
    assertThat(result.status().workloads())
        .extracting(ReleaseStatus.Workload::state)
        .containsOnly("rolled-back");
    assertThat(result.message()).endsWith("every workload is back at revision 1");
    replays();
  }

  @Test
  void aNewWorkloadThatIsNotReadyIsDeletedAndTheEarlierOnesGoBack() throws Exception {
    release.notReady = "Deployment/search";
    Releases.start(client, request());

    ReleaseResult result = result();

    assertEquals(Phase.FAILED, result.phase(), result.message());
    assertThat(release.journal)
        .containsSubsequence(
            "upgrade cache",
            "create Deployment/search of revision 2",
            "delete Deployment/search of revision 2",
            "rollback cache",
            "rollback db",
            "objects 2 -> 1");
    assertThat(release.journal)
        .doesNotContain("upgrade app", "delete StatefulSet/legacy of revision 1");
    assertThat(result.message())
        .startsWith("Deployment/search could not be created: Deployment/search created but not")
        .endsWith("every workload is back at revision 1");
    replays();
  }

  @Test
  void aRollbackAskedWhileTheNewWorkloadIsWaitedForStopsTheWaitAndDeletesIt() throws Exception {
    release.holdCreate = new CountDownLatch(1);
    Releases.start(client, request());
    await()
        .atMost(30, TimeUnit.SECONDS)
        .until(() -> parent().status().message().equals("creating Deployment/search"));

    String answer = parent().rollback(new SteerRequest("carol", "search is not wanted"));
    ReleaseResult result = result();

    assertThat(answer).isEqualTo("the release goes back before its next step");
    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(release.journal)
        .containsSubsequence(
            "create Deployment/search of revision 2",
            "delete Deployment/search of revision 2",
            "rollback cache",
            "rollback db",
            "revision 2 failed: Upgrade \"shop\" failed: rolled back by carol (search is not"
                + " wanted)");
    assertThat(release.journal).doesNotContain("upgrade app");
    replays();
  }
}
