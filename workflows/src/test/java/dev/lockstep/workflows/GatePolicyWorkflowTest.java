package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Gate policies: gateTimeout with onGateTimeout, and approvals by distinct people. */
@Timeout(60)
class GatePolicyWorkflowTest {
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

  private static UpgradePlan.Builder plan() {
    return UpgradeWorkflowTest.plan(UpgradePlan.Gate.FIRST).toBuilder();
  }

  private void begin(UpgradePlan plan) {
    Upgrades.start(client, new UpgradeRequest(plan, "alice", "minor upgrade", 0));
  }

  private UpgradeWorkflow upgrade() {
    return Scenarios.stub(client);
  }

  private UpgradeResult result() {
    return WorkflowStub.fromTyped(upgrade()).getResult(UpgradeResult.class);
  }

  @Test
  void aGateThatTimesOutWithResumeGoesOnByItself() {
    begin(plan().gateTimeout("1h").onGateTimeout(UpgradePlan.GateTimeoutPolicy.RESUME).build());
    env.sleep(Duration.ofMinutes(30));
    UpgradeStatus waiting = upgrade().status();
    assertEquals(Phase.WAITING_FOR_RESUME, waiting.phase());
    assertThat(waiting.gate().timesOutAt()).isNotNull();
    assertThat(waiting.gate().onTimeout()).isEqualTo("resume");

    UpgradeResult result = result();

    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-2");
    assertThat(result.status().steering())
        .anySatisfy(
            s -> {
              assertThat(s.via()).isEqualTo("gateTimeout");
              assertThat(s.reason()).isEqualTo("no resume within gateTimeout 1h");
            });
    assertThat(cluster.events).contains("GateTimedOut");
  }

  @Test
  void aGateThatTimesOutWithRollbackReturnsTheUpgradedUnits() {
    begin(plan().gateTimeout("2h").onGateTimeout(UpgradePlan.GateTimeoutPolicy.ROLLBACK).build());

    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message()).contains("no resume within gateTimeout 2h");
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-1");
    assertThat(cluster.calls).doesNotContain("upgrade web-1", "upgrade web-0");
  }

  @Test
  void aGateThatTimesOutWithHoldIsHeldAtTheGateUntilSomeoneResumes() {
    // hold is the default once gateTimeout is set
    begin(plan().gateTimeout("1h").build());
    env.sleep(Duration.ofHours(3));
    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(held.message())
        .startsWith("no resume within gateTimeout 1h: held at the gate (onGateTimeout: hold)")
        .contains("lockstep resume " + UpgradeWorkflowTest.TARGET);
    assertThat(held.gate().timedOut()).isTrue();
    assertThat(cluster.calls).doesNotContain("upgrade web-1");

    assertThat(upgrade().resume(new SteerRequest("bob", "looked at it")))
        .isEqualTo("resumed at the gate");

    assertEquals(Phase.COMPLETED, result().phase());
    assertThat(cluster.calls).contains("upgrade web-1", "upgrade web-0");
  }

  @Test
  void aResumeBeforeTheTimeoutOpensTheGateAndTheTimeoutNeverApplies() {
    begin(plan().gateTimeout("1h").onGateTimeout(UpgradePlan.GateTimeoutPolicy.ROLLBACK).build());
    env.sleep(Duration.ofMinutes(10));
    upgrade().resume(new SteerRequest("bob", "ok"));

    UpgradeResult result = result();

    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(cluster.events).doesNotContain("GateTimedOut");
  }

  @Test
  void eachGateHasItsOwnTimeout() {
    begin(
        plan()
            .gate(UpgradePlan.Gate.EACH)
            .gateTimeout("1h")
            .onGateTimeout(UpgradePlan.GateTimeoutPolicy.RESUME)
            .build());

    UpgradeResult result = result();

    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(cluster.events.stream().filter("GateTimedOut"::equals).count()).isEqualTo(2);
  }

  @Test
  void aGateWithTwoApprovalsOpensAfterTwoDistinctPeople() {
    begin(plan().approvals(2).build());
    env.sleep(Duration.ofMinutes(5));

    assertThat(upgrade().resume(new SteerRequest("bob", "metrics fine")))
        .isEqualTo("approved by bob (1 of 2): 1 more approval needed");
    env.sleep(Duration.ofMinutes(5));
    UpgradeStatus status = upgrade().status();
    assertEquals(Phase.WAITING_FOR_RESUME, status.phase());
    assertThat(status.gate().approvedBy()).containsExactly("bob");
    assertThat(status.gate().approvalsNeeded()).isEqualTo(1);
    assertThat(StatusTable.render(status))
        .contains("Gate: approved by bob (1 of 2); 1 more approval needed");
    assertThat(cluster.calls).doesNotContain("upgrade web-1");

    WorkflowUpdateException again =
        assertThrows(
            WorkflowUpdateException.class,
            () -> upgrade().resume(new SteerRequest("bob", "really fine")));
    assertThat(again.getCause().getMessage())
        .contains("bob has already approved this gate (1 of 2)");

    assertThat(upgrade().resume(new SteerRequest("carol", "agreed")))
        .isEqualTo("resumed at the gate");
    UpgradeResult result = result();
    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-2");
  }

  @Test
  void theSameIdentityBySignalTwiceCountsOnceAndIsRecordedAsIgnored() {
    begin(plan().approvals(2).build());
    env.sleep(Duration.ofMinutes(5));
    upgrade().resumeSignal(new SteerRequest("bob", ""));
    upgrade().resumeSignal(new SteerRequest("bob", ""));
    env.sleep(Duration.ofMinutes(5));

    UpgradeStatus status = upgrade().status();
    assertEquals(Phase.WAITING_FOR_RESUME, status.phase());
    assertThat(status.gate().approvedBy()).containsExactly("bob");
    assertThat(status.steering()).extracting(Steering::accepted).containsExactly(true, false);
  }

  @Test
  void excludeStarterRefusesTheStartersResume() {
    begin(plan().excludeStarter(true).build());
    env.sleep(Duration.ofMinutes(5));

    WorkflowUpdateException refused =
        assertThrows(
            WorkflowUpdateException.class,
            () -> upgrade().resume(new SteerRequest("alice", "looks good to me")));
    assertThat(refused.getCause().getMessage())
        .contains("alice started this upgrade and the plan excludes the starter");
    assertThat(upgrade().status().gate().excluded()).isEqualTo("alice");

    assertThat(upgrade().resume(new SteerRequest("bob", "reviewed")))
        .isEqualTo("resumed at the gate");
    assertEquals(Phase.COMPLETED, result().phase());
  }

  @Test
  void theAuditShowsTheApprovalsAndTheTimeout() {
    begin(
        plan()
            .approvals(2)
            .excludeStarter(true)
            .gateTimeout("1h")
            .onGateTimeout(UpgradePlan.GateTimeoutPolicy.HOLD)
            .build());
    env.sleep(Duration.ofMinutes(5));
    upgrade().resume(new SteerRequest("bob", "fine by me"));
    env.sleep(Duration.ofHours(2));
    upgrade().resume(new SteerRequest("carol", "agreed"));
    assertEquals(Phase.COMPLETED, result().phase());

    var history =
        client.fetchHistory(
            Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")));
    Audit.Report audit =
        Audit.of(
            null,
            history.getEvents(),
            io.temporal.common.converter.GlobalDataConverter.get(),
            null);
    assertThat(audit.entries().get(0).detail())
        .contains("gate timeout 1h then hold, 2 approvals (not the starter)");
    assertThat(audit.entries())
        .anySatisfy(
            e -> {
              assertThat(e.what()).isEqualTo("resume");
              assertThat(e.who()).isEqualTo("bob");
              assertThat(e.detail()).isEqualTo("approved by bob (1 of 2): 1 more approval needed");
            })
        .anySatisfy(
            e -> {
              assertThat(e.what()).isEqualTo("gate");
              assertThat(e.detail())
                  .isEqualTo("no resume within gateTimeout 1h: onGateTimeout hold");
            });
  }

  @Test
  void approvalsAndATimeoutTogether_partialApprovalsDoNotStopTheTimeout() {
    begin(
        plan()
            .approvals(2)
            .gateTimeout("1h")
            .onGateTimeout(UpgradePlan.GateTimeoutPolicy.ROLLBACK)
            .build());
    env.sleep(Duration.ofMinutes(5));
    upgrade().resume(new SteerRequest("bob", ""));

    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
  }
}
