package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The workflow's decisions, with a scripted cluster and skipped time. */
@Timeout(60)
class UpgradeWorkflowTest {
  static final String TARGET = "demo/statefulset/web";
  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeCluster cluster;

  @BeforeEach
  void start() {
    env = TestWorkflowEnvironment.newInstance();
    Worker worker = env.newWorker(Names.taskQueue("default"));
    worker.registerWorkflowImplementationTypes(UpgradeWorkflowImpl.class);
    cluster = new FakeCluster(3);
    worker.registerActivitiesImplementations(cluster);
    env.start();
    client = env.getWorkflowClient();
  }

  @AfterEach
  void stop() {
    env.close();
  }

  static UpgradePlan plan(UpgradePlan.Gate gate) {
    return new UpgradePlan(
        TARGET,
        null,
        new UpgradePlan.Change(Map.of("web", "nginx:1.26"), null, null),
        gate,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null);
  }

  private Upgrades.Started begin(UpgradePlan plan) {
    return Upgrades.start(client, new UpgradeRequest(plan, "alice", "minor upgrade", 0));
  }

  private UpgradeWorkflow upgrade() {
    return client.newWorkflowStub(
        UpgradeWorkflow.class, Names.workflowId("default", Target.parse(TARGET, "default")));
  }

  private UpgradeResult result() {
    return WorkflowStub.fromTyped(upgrade()).getResult(UpgradeResult.class);
  }

  @Test
  void aGateWaitsForHoursAtNoCostUntilResumed() {
    begin(plan(UpgradePlan.Gate.FIRST));
    env.sleep(Duration.ofHours(10));
    UpgradeStatus status = upgrade().status();
    assertEquals(Phase.WAITING_FOR_RESUME, status.phase());
    assertThat(cluster.calls)
        .containsExactly("inspect", "prepare {web=nginx:1.26}", "upgrade web-2");

    upgrade().resume(new SteerRequest("bob", "ok"));
    UpgradeResult result = result();

    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "prepare {web=nginx:1.26}",
            "upgrade web-2",
            "upgrade web-1",
            "upgrade web-0",
            "finish Strategy[type=RollingUpdate, partition=0]");
    assertThat(result.status().finishedAt()).isNotNull();
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-2");
  }

  @Test
  void anInvalidPlanIsRefusedBeforeAnythingChanges() {
    cluster.problems = List.of("no container 'db' in demo/statefulset/web: containers are [web]");
    Upgrades.Started started = begin(plan(UpgradePlan.Gate.FIRST));
    assertThat(started.verdict().valid()).isFalse();
    assertThat(started.verdict().problems()).containsExactly(cluster.problems.get(0));
    UpgradeResult result = result();
    assertEquals(Phase.FAILED, result.phase());
    assertThat(result.message()).startsWith("invalid plan: no container 'db'");
    assertThat(cluster.calls).containsExactly("inspect");
  }

  @Test
  void failingPreChecksAreAllReportedAndNothingChanges() {
    cluster.allReady = false;
    begin(plan(UpgradePlan.Gate.FIRST));
    UpgradeResult result = result();
    assertEquals(Phase.FAILED, result.phase());
    assertThat(result.message()).contains("units-ready: units not Ready: web-2, web-1, web-0");
    assertThat(cluster.calls).containsExactly("inspect");
  }

  @Test
  void aForcedCheckIsSkipped() {
    cluster.allReady = false;
    UpgradePlan plan = plan(UpgradePlan.Gate.NONE);
    plan =
        new UpgradePlan(
            plan.target(),
            null,
            plan.change(),
            plan.gate(),
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            List.of(PreChecks.UNITS_READY),
            null,
            null,
            null);
    begin(plan);
    assertEquals(Phase.COMPLETED, result().phase());
  }

  @Test
  void aFailedUnitReturnsTheUpgradedUnitsToTheOriginalRevision() {
    cluster.failUnit = "web-1";
    begin(plan(UpgradePlan.Gate.NONE));
    UpgradeResult result = result();
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message())
        .isEqualTo("web-1 failed: web-1 is crash-looping on web-2 (3 restarts)");
    assertThat(cluster.calls).endsWith("upgrade web-2", "upgrade web-1", "revert to web-1");
    assertThat(result.status().units())
        .extracting(UnitStatus::state)
        .containsExactly(UnitState.ROLLED_BACK, UnitState.ROLLED_BACK, UnitState.WAITING);
  }

  @Test
  void steeringAnUpgradeThatHasEndedFindsNoRunningUpgrade() {
    begin(plan(UpgradePlan.Gate.NONE));
    assertEquals(Phase.COMPLETED, result().phase());
    assertThrows(
        io.temporal.client.WorkflowNotFoundException.class,
        () -> upgrade().cancel(new SteerRequest("x", "")));
    // Its status stays readable after the end.
    assertEquals(Phase.COMPLETED, upgrade().status().phase());
  }

  @Test
  void cancelWhilePausedRevertsAndEndsCancelled() {
    begin(plan(UpgradePlan.Gate.FIRST));
    env.sleep(Duration.ofMinutes(1));
    assertThat(upgrade().pause(new SteerRequest("ops", "incident elsewhere")))
        .isEqualTo("pausing before the next unit");
    upgrade().cancel(new SteerRequest("ops", "abort"));
    UpgradeResult result = result();
    assertEquals(Phase.CANCELLED, result.phase());
    assertThat(cluster.calls).endsWith("upgrade web-2", "revert to web-1");
    assertThat(result.status().steering())
        .extracting(Steering::action, Steering::identity, Steering::accepted)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("pause", "ops", true),
            org.assertj.core.groups.Tuple.tuple("cancel", "ops", true));
  }

  @Test
  void aResumeAtTheGateAlsoLiftsAPendingPause() {
    begin(plan(UpgradePlan.Gate.FIRST));
    env.sleep(Duration.ofMinutes(1));
    upgrade().pause(new SteerRequest("ops", "hold on"));
    assertThat(upgrade().resume(new SteerRequest("ops", "go"))).isEqualTo("resumed at the gate");
    assertEquals(Phase.COMPLETED, result().phase());
  }

  private static UpgradePlan withRetries(int retries, UpgradePlan.FailurePolicy onFailure) {
    UpgradePlan p = plan(UpgradePlan.Gate.NONE);
    return new UpgradePlan(
        p.target(),
        null,
        p.change(),
        p.gate(),
        null,
        null,
        null,
        null,
        null,
        onFailure,
        retries,
        null,
        null,
        null,
        null);
  }

  @Test
  void retriesRollBackAndRunAgainFromPrepareThenTheRollbackPolicyApplies() {
    cluster.failUnit = "web-1";
    begin(withRetries(2, null));
    UpgradeResult result = result();
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(cluster.calls.stream().filter(c -> c.startsWith("prepare"))).hasSize(3);
    assertThat(cluster.calls.stream().filter(c -> c.startsWith("revert"))).hasSize(3);
    assertThat(cluster.calls).endsWith("upgrade web-2", "upgrade web-1", "revert to web-1");
  }

  @Test
  void exhaustedRetriesEndInTheHoldPolicyWhichStillHasAWayOut() {
    cluster.failUnit = "web-1";
    begin(withRetries(1, UpgradePlan.FailurePolicy.HOLD));
    env.sleep(Duration.ofMinutes(5));
    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(cluster.calls.stream().filter(c -> c.startsWith("prepare"))).hasSize(2);
    cluster.failUnit = null;
    upgrade().retry(new SteerRequest("ops", "fixed"));
    assertEquals(Phase.COMPLETED, result().phase());
  }
}
