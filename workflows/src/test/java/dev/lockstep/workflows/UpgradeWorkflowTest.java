package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowStub;
import io.temporal.failure.CanceledFailure;
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
    env = Environments.withSearchAttributes(TestWorkflowEnvironment.newInstance());
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
    return UpgradePlan.builder()
        .target(TARGET)
        .images(Map.of("web", "nginx:1.26"))
        .gate(gate)
        .build();
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
            "finish Strategy[type=RollingUpdate, partition=0, spec=null]");
    assertThat(result.status().finishedAt()).isNotNull();
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-2");
  }

  @Test
  void eachStepIsToldAsAnEventAndTheRevisionCarriesTheRunsOutcome() {
    begin(plan(UpgradePlan.Gate.FIRST));
    env.sleep(Duration.ofMinutes(1));
    upgrade().resume(new SteerRequest("bob", "ok"));
    assertEquals(Phase.COMPLETED, result().phase());
    assertThat(cluster.events)
        .containsExactly(
            "UpgradeStarted",
            "WaitingForResume",
            "Resumed",
            "UpgradeCompleted",
            "notes on web-2: COMPLETED");
  }

  @Test
  void theStartIsToldByPrepareAndTheEndByFinishWithoutActivitiesOfTheirOwn() {
    Upgrades.Started started = begin(plan(UpgradePlan.Gate.NONE));
    assertEquals(Phase.COMPLETED, result().phase());
    assertThat(cluster.events)
        .containsExactly("UpgradeStarted", "UpgradeCompleted", "notes on web-2: COMPLETED");
    assertThat(scheduledActivities(started)).doesNotContain("Record");
  }

  @Test
  void whatPrepareAndFinishCouldNotTellTheWorkflowTellsItselfOnce() {
    cluster.tellingFails = true;
    Upgrades.Started started = begin(plan(UpgradePlan.Gate.NONE));
    assertEquals(Phase.COMPLETED, result().phase());
    assertThat(cluster.events)
        .containsExactly("UpgradeStarted", "UpgradeCompleted", "notes on web-2: COMPLETED");
    assertThat(scheduledActivities(started)).filteredOn("Record"::equals).hasSize(2);
  }

  private List<String> scheduledActivities(Upgrades.Started started) {
    return client.fetchHistory(started.workflowId(), started.runId()).getEvents().stream()
        .filter(e -> e.hasActivityTaskScheduledEventAttributes())
        .map(e -> e.getActivityTaskScheduledEventAttributes().getActivityType().getName())
        .toList();
  }

  @Test
  void aRefusedUpgradeTellsTheClusterNothing() {
    cluster.allReady = false;
    begin(plan(UpgradePlan.Gate.FIRST));
    assertEquals(Phase.FAILED, result().phase());
    assertThat(cluster.events).isEmpty();
  }

  @Test
  void anUpgradeToWhatAlreadyRunsIsUnchangedAndCompletesHavingChangedNothing() {
    cluster.unchanged = true;
    Upgrades.Started started = begin(plan(UpgradePlan.Gate.FIRST));
    assertThat(started.verdict().unchanged()).isTrue();
    assertThat(started.verdict().problems())
        .containsExactly("already runs web=nginx:1.25; nothing was changed");
    UpgradeResult result = result();
    assertEquals(Phase.COMPLETED, result.phase());
    assertEquals("unchanged: already runs web=nginx:1.25; nothing was changed", result.message());
    assertThat(cluster.calls).containsExactly("inspect");
    assertThat(cluster.events).isEmpty();
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
  void failingPreChecksAreTheVerdict() {
    cluster.allReady = false;
    Upgrades.Started started = begin(plan(UpgradePlan.Gate.FIRST));
    assertThat(started.verdict().valid()).isFalse();
    assertEquals(Verdict.Refusal.CHECKS_FAILED, started.verdict().refusal());
    assertThat(started.verdict().problems())
        .containsExactly("units-ready: units not Ready: web-2, web-1, web-0");
  }

  private void deadRun(int upgraded) {
    cluster.mark = "dead-run";
    cluster.origin =
        new ClusterActivities.Origin(
            Names.workflowId("default", Target.parse(TARGET, "default")),
            "web-1",
            "RollingUpdate",
            2,
            3,
            null,
            false);
    cluster.upgradedByDead = upgraded;
  }

  @Test
  void aDeadRunsMarkRefusesTheNextUpgradeAndNamesTheRepair() {
    deadRun(1);
    Upgrades.Started started = begin(plan(UpgradePlan.Gate.FIRST));
    assertEquals(Verdict.Refusal.TARGET_HELD, started.verdict().refusal());
    assertThat(started.verdict().problems().get(0))
        .contains("still marked by Lockstep run dead-run, which ended without finishing")
        .contains("lockstep repair " + TARGET + " --continue")
        .contains("lockstep repair " + TARGET + " --restore` to return to web-1");
    assertThat(cluster.calls).containsExactly("inspect");
  }

  private static UpgradePlan repairPlan(UpgradePlan.Repair how, UpgradePlan.Gate gate) {
    return UpgradePlan.builder().target(TARGET).repair(how).gate(gate).build();
  }

  @Test
  void repairContinuesTheDeadRunsChangeFromTheUnitsItLeft() {
    deadRun(1);
    Upgrades.Started started = begin(repairPlan(UpgradePlan.Repair.CONTINUE, null));
    assertThat(started.verdict().valid()).isTrue();
    assertEquals("web-1", started.verdict().fromRevision());
    // The gate counts from the first unit this run upgrades.
    env.sleep(Duration.ofMinutes(5));
    assertEquals(Phase.WAITING_FOR_RESUME, upgrade().status().phase());
    upgrade().resume(new SteerRequest("bob", "looks good"));
    UpgradeResult result = result();
    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "adopt from dead-run",
            "upgrade web-1",
            "upgrade web-0",
            "finish Strategy[type=RollingUpdate, partition=2, spec=null]");
    assertThat(result.status().units().get(0).message()).isEqualTo("upgraded by run dead-run");
  }

  @Test
  void repairRestoresTheRevisionTheDeadRunStartedFrom() {
    deadRun(2);
    begin(repairPlan(UpgradePlan.Repair.RESTORE, null));
    UpgradeResult result = result();
    // The repair did what it was asked: COMPLETED, its units ROLLED_BACK.
    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(result.message())
        .isEqualTo("restored after run dead-run ended outside Lockstep; units returned to web-1");
    assertThat(cluster.calls).containsExactly("inspect", "adopt from dead-run", "revert to web-1");
    assertThat(result.status().units())
        .extracting(UnitStatus::state)
        .containsExactly(UnitState.ROLLED_BACK, UnitState.ROLLED_BACK, UnitState.WAITING);
  }

  @Test
  void repairOfATargetWithoutAMarkChangesNothing() {
    Upgrades.Started started = begin(repairPlan(UpgradePlan.Repair.RESTORE, null));
    assertThat(started.verdict().valid()).isFalse();
    assertThat(started.verdict().problems().get(0)).startsWith("nothing to repair: " + TARGET);
    assertThat(cluster.calls).containsExactly("inspect");
  }

  @Test
  void repairRefusesAMarkLeftByAnotherClustersRun() {
    deadRun(1);
    cluster.origin =
        new ClusterActivities.Origin(
            "lockstep/other/demo/statefulset/web", "web-1", null, null, 3, null, false);
    Upgrades.Started started = begin(repairPlan(UpgradePlan.Repair.CONTINUE, null));
    assertEquals(Verdict.Refusal.TARGET_HELD, started.verdict().refusal());
    assertThat(started.verdict().problems().get(0))
        .contains("of lockstep/other/demo/statefulset/web")
        .contains("--cluster");
    assertThat(cluster.calls).containsExactly("inspect");
  }

  @Test
  void eachUnitIsHealthCheckedAfterItIsReadyAndAnUnhealthyUnitTakesTheFailurePath() {
    cluster.unhealthyUnit = "web-1";
    begin(
        plan(UpgradePlan.Gate.NONE).toBuilder()
            .health(new UpgradePlan.Health(8080, "/health", 2))
            .build());
    UpgradeResult result = result();
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message())
        .isEqualTo(
            "web-1 failed: web-1 failed its health check: GET :8080/health last answered 503");
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "prepare {web=nginx:1.26}",
            "upgrade web-2",
            "health web-2",
            "upgrade web-1",
            "health web-1",
            "revert to web-1");
  }

  @Test
  void aForcedCheckIsSkippedAndRecordedInStatus() {
    cluster.allReady = false;
    cluster.checks =
        List.of(
            new ClusterActivities.CheckResult(PreChecks.CAPACITY, false, "no node has room"),
            new ClusterActivities.CheckResult(PreChecks.DRY_RUN, true, "accepted"));
    UpgradePlan plan = plan(UpgradePlan.Gate.NONE);
    plan = plan.toBuilder().force(List.of(PreChecks.UNITS_READY, PreChecks.CAPACITY)).build();
    begin(plan);
    UpgradeResult result = result();
    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(result.status().checks())
        .extracting(c -> c.name() + " passed=" + c.passed() + " forced=" + c.forced())
        .containsExactly(
            "units-ready passed=false forced=true",
            "no-rollout passed=true forced=false",
            "capacity passed=false forced=true",
            "dry-run passed=true forced=false");
  }

  @Test
  void aFailingClusterCheckStopsTheUpgradeBeforeAnyChange() {
    cluster.checks =
        List.of(new ClusterActivities.CheckResult(PreChecks.DISRUPTION, false, "pdb allows 0"));
    Upgrades.Started started = begin(plan(UpgradePlan.Gate.NONE));
    assertThat(started.verdict().problems()).containsExactly("disruption: pdb allows 0");
    assertThat(cluster.calls).containsExactly("inspect");
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
  void unitsNotReachedSayWhyTheyWaitAPendingPauseWhoAskedAndTheEndThatTheyWereNeverTouched() {
    begin(plan(UpgradePlan.Gate.FIRST));
    env.sleep(Duration.ofMinutes(1));
    UpgradeStatus atGate = upgrade().status();
    assertThat(atGate.units())
        .extracting(UnitStatus::message)
        .containsExactly(
            "upgrade completed",
            "waits for `lockstep resume` at the gate",
            "waits for `lockstep resume` at the gate");
    assertThat(atGate.pause()).isNull();

    upgrade().pause(new SteerRequest("ops", "incident elsewhere"));
    assertEquals(
        "pause requested by ops (incident elsewhere): holds before the next unit",
        upgrade().status().pause());

    upgrade().cancel(new SteerRequest("ops", "abort"));
    UpgradeResult result = result();
    assertEquals(Phase.CANCELLED, result.phase());
    assertThat(result.status().units())
        .filteredOn(u -> u.state() == UnitState.WAITING)
        .extracting(UnitStatus::message)
        .containsExactly(
            "not touched: the run ended CANCELLED before this unit",
            "not touched: the run ended CANCELLED before this unit");
    assertThat(result.status().pause()).isNull();
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
    return p.toBuilder().onFailure(onFailure).retries(retries).build();
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

  @Test
  void statusShowsTheStepsAndTheIndexOfTheOneRunning() {
    begin(plan(UpgradePlan.Gate.FIRST));
    env.sleep(Duration.ofMinutes(1));
    UpgradeStatus status = upgrade().status();
    assertThat(status.steps())
        .extracting(Step::describe)
        .containsExactly(
            "collect",
            "pre-checks",
            "prepare",
            "unit web-2",
            "gate after web-2",
            "unit web-1",
            "unit web-0",
            "finish");
    assertThat(status.steps())
        .extracting(Step::state)
        .containsExactly(
            Step.State.DONE,
            Step.State.DONE,
            Step.State.DONE,
            Step.State.DONE,
            Step.State.RUNNING,
            Step.State.PENDING,
            Step.State.PENDING,
            Step.State.PENDING);
    assertEquals(4, status.step());

    upgrade().resume(new SteerRequest("bob", "ok"));
    UpgradeResult result = result();
    assertThat(result.status().steps()).extracting(Step::state).containsOnly(Step.State.DONE);
    assertThat(result.status().step()).isNull();
  }

  @Test
  void temporalsOwnCancelReturnsTheUpgradedUnitsAndEndsCancelled() {
    begin(plan(UpgradePlan.Gate.FIRST));
    env.sleep(Duration.ofMinutes(1));
    assertEquals(Phase.WAITING_FOR_RESUME, upgrade().status().phase());

    WorkflowStub.fromTyped(upgrade()).cancel();
    // Temporal records the execution as cancelled; what the run did is in its status.
    WorkflowFailedException closed = assertThrows(WorkflowFailedException.class, this::result);
    assertThat(closed.getCause()).isInstanceOf(CanceledFailure.class);
    UpgradeStatus status = upgrade().status();

    assertEquals(Phase.CANCELLED, status.phase());
    assertThat(cluster.calls).endsWith("upgrade web-2", "revert to web-1");
    assertThat(status.units()).extracting(UnitStatus::revision).containsOnly("web-1");
    assertThat(status.steering())
        .anySatisfy(
            s -> {
              assertThat(s.action()).isEqualTo("cancel");
              assertThat(s.identity()).isEqualTo("temporal");
              assertThat(s.accepted()).isTrue();
            });
    assertThat(cluster.events).contains("RollingBack", "UpgradeCancelled");
  }

  @Test
  void aScaledUpRunWhoseSecondUnitFailsReturnsTheUnitsBeforeRemovingTheExtraOne() {
    cluster.failUnit = "web-2";
    begin(plan(UpgradePlan.Gate.NONE).toBuilder().scaleUp(true).build());
    UpgradeResult result = result();
    assertEquals(Phase.ROLLED_BACK, result.phase());
    // The controller removes no pod while another is not Ready: units go back first.
    assertThat(cluster.calls)
        .endsWith(
            "scale to 4",
            "prepare {web=nginx:1.26}",
            "upgrade web-3",
            "upgrade web-2",
            "revert to web-1",
            "scale to 3",
            "release");
    assertThat(result.status().units())
        .extracting(UnitStatus::name)
        .containsExactly("web-2", "web-1", "web-0");
  }

  @Test
  void aReturnStepThatCannotFinishHoldsWithItsWaysOutInsteadOfFailing() {
    cluster.failUnit = "web-1";
    cluster.revertFailures = 1;
    begin(plan(UpgradePlan.Gate.NONE));
    env.sleep(Duration.ofMinutes(5));
    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(held.message())
        .startsWith("web-1 failed: web-1 is crash-looping")
        .contains("returning the units to web-1 failed: statefulsets.apps \"web\" is forbidden")
        .contains("`lockstep retry " + TARGET + "` to try again")
        .contains("`lockstep abandon " + TARGET + "`");
    // A refusal that no retry can change is not retried.
    assertThat(cluster.calls.stream().filter(c -> c.startsWith("revert"))).hasSize(1);
    assertThat(held.steps()).extracting(Step::describe).endsWith("revert web-1");

    assertEquals(
        "retrying the failed step", upgrade().retry(new SteerRequest("ops", "RBAC fixed")));
    assertEquals(Phase.ROLLED_BACK, result().phase());
    assertThat(cluster.calls.stream().filter(c -> c.startsWith("revert"))).hasSize(2);
  }

  @Test
  void aReturnStepThatKeepsFailingStopsRetryingAtItsBoundAndHolds() {
    cluster.failUnit = "web-1";
    cluster.revertFailures = Integer.MAX_VALUE;
    cluster.revertFailure = "KubernetesApi";
    begin(plan(UpgradePlan.Gate.NONE));
    env.sleep(Duration.ofHours(3));
    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(held.message()).contains("returning the units to web-1 failed");

    upgrade().abandon(new SteerRequest("ops", "will fix by hand"));
    assertEquals(Phase.ABANDONED, result().phase());
    assertThat(cluster.calls).endsWith("release");
  }

  private void deadRunThatMigratedForwardOnly(String migrateJob) {
    deadRun(1);
    ClusterActivities.Origin o = cluster.origin;
    cluster.origin =
        new ClusterActivities.Origin(
            o.workflowId(),
            o.fromRevision(),
            o.strategyType(),
            o.partition(),
            o.replicas(),
            null,
            true);
    cluster.markedRunHooks = Map.of("migrate", migrateJob);
  }

  @Test
  void aRepairWhileTheDeadRunsMigrationRunsIsRefusedAndChangesNothing() {
    deadRunThatMigratedForwardOnly("Running");
    Upgrades.Started started = begin(repairPlan(UpgradePlan.Repair.RESTORE, null));
    assertThat(started.verdict().valid()).isFalse();
    assertThat(started.verdict().problems().get(0))
        .startsWith("the migrate hook of run dead-run is still running");
    assertThat(cluster.calls).containsExactly("inspect");
  }

  @Test
  void aRepairThatRestoresOverDataTheDeadRunMigratedForwardHoldsUntilTheRiskIsAccepted() {
    deadRunThatMigratedForwardOnly("Complete");
    begin(repairPlan(UpgradePlan.Repair.RESTORE, null));
    env.sleep(Duration.ofMinutes(5));
    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(held.message()).contains("--accept-data-risk");
    assertThat(cluster.calls).containsExactly("inspect", "adopt from dead-run");

    upgrade().rollback(new SteerRequest("dba", "data restored by hand", true));
    assertEquals(Phase.COMPLETED, result().phase());
    assertThat(cluster.calls).endsWith("revert to web-1");
  }

  @Test
  void aRollbackFromARevisionReachedWithAForwardOnlyMigrationIsRefusedUnlessTheRiskIsAccepted() {
    cluster.revisionData = ClusterActivities.DATA_MIGRATED_FORWARD;
    UpgradePlan rollback =
        UpgradePlan.builder()
            .target(TARGET)
            .change(UpgradePlan.Change.restoring("1"))
            .gate(UpgradePlan.Gate.NONE)
            .build();
    Upgrades.Started refused = begin(rollback);
    assertEquals(Verdict.Refusal.CHECKS_FAILED, refused.verdict().refusal());
    assertThat(refused.verdict().problems())
        .anySatisfy(
            p ->
                assertThat(p)
                    .startsWith("data: web-1 was reached with a forward-only migration")
                    .contains("--accept-data-risk"));
    assertThat(cluster.calls).containsExactly("inspect");
    result();

    cluster.calls.clear();
    begin(rollback.toBuilder().migration(new UpgradePlan.Migration(null, true)).build());
    assertEquals(Phase.COMPLETED, result().phase());
  }
}
