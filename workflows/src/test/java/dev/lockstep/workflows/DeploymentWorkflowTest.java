package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

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

/** A Deployment's rolling upgrade, with a scripted cluster and skipped time. */
@Timeout(60)
class DeploymentWorkflowTest {
  private static final SteerRequest OPS = new SteerRequest("ops", "incident 42");

  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeDeployment cluster;

  @BeforeEach
  void start() {
    env = Environments.withSearchAttributes(TestWorkflowEnvironment.newInstance());
    Worker worker = env.newWorker(Names.taskQueue("default"));
    worker.registerWorkflowImplementationTypes(UpgradeWorkflowImpl.class);
    cluster = new FakeDeployment(4);
    worker.registerActivitiesImplementations(cluster);
    env.start();
    client = env.getWorkflowClient();
  }

  @AfterEach
  void stop() {
    env.close();
  }

  static UpgradePlan.Builder plan(UpgradePlan.Gate gate) {
    return UpgradePlan.builder()
        .target(FakeDeployment.TARGET)
        .images(Map.of("web", "nginx:1.26"))
        .gate(gate);
  }

  private Upgrades.Started begin(UpgradePlan plan) {
    return Upgrades.start(client, new UpgradeRequest(plan, "alice", "minor upgrade", 0));
  }

  private UpgradeWorkflow upgrade() {
    return client.newWorkflowStub(
        UpgradeWorkflow.class,
        Names.workflowId("default", Target.parse(FakeDeployment.TARGET, "default")));
  }

  private UpgradeResult result() {
    return WorkflowStub.fromTyped(upgrade()).getResult(UpgradeResult.class);
  }

  @Test
  void theRolloutStopsPausedAfterTheFirstNewPodUntilResumedThenFinishes() {
    begin(plan(UpgradePlan.Gate.FIRST).build());
    env.sleep(Duration.ofHours(10));

    UpgradeStatus status = upgrade().status();
    assertEquals(Phase.WAITING_FOR_RESUME, status.phase());
    assertThat(status.message()).startsWith("1 of 4 pods Ready on the new version web-new");
    assertThat(cluster.paused).isTrue();
    assertThat(status.steps())
        .extracting(Step::describe)
        .containsExactly(
            "collect",
            "pre-checks",
            "prepare",
            "roll to 1 of 4 new pods",
            "gate at 1 of 4 new pods",
            "roll to 4 of 4 new pods",
            "finish");
    assertThat(status.units())
        .extracting(UnitStatus::revision)
        .containsExactly("web-new", "web-old", "web-old", "web-old");

    upgrade().resume(new SteerRequest("bob", "first pod healthy"));
    UpgradeResult result = result();

    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "prepare {web=nginx:1.26}",
            "roll to 1 and pause",
            "roll to 4",
            "finish on web-new");
    assertThat(cluster.paused).isFalse();
    assertThat(cluster.marked).isNull();
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-new");
    assertThat(result.message()).isEqualTo("all 4 pods of demo/deployment/web on web-new");
  }

  @Test
  void gatesAtAShareOfTheReplicasAndCancelReturnsTheDeploymentAsFound() {
    begin(
        plan(UpgradePlan.Gate.FIRST)
            .strategy(UpgradePlan.Strategy.rolling(List.of("50%")))
            .build());
    env.sleep(Duration.ofMinutes(30));
    assertEquals(Phase.WAITING_FOR_RESUME, upgrade().status().phase());
    assertThat(cluster.onNew).isEqualTo(2);

    upgrade().cancel(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.CANCELLED, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "prepare {web=nginx:1.26}",
            "roll to 2 and pause",
            "revert to web-old with 4 replicas");
    assertThat(cluster.onNew).isZero();
    assertThat(cluster.paused).isFalse();
    assertThat(cluster.marked).isNull();
    assertThat(result.status().units())
        .extracting(UnitStatus::state)
        .containsOnly(UnitState.ROLLED_BACK);
  }

  @Test
  void rollbackAtTheGateReturnsTheDeployment() {
    begin(plan(UpgradePlan.Gate.EACH).build());
    env.sleep(Duration.ofMinutes(30));
    upgrade().resume(OPS);
    env.sleep(Duration.ofMinutes(30));
    assertThat(cluster.onNew).isEqualTo(2);
    upgrade().rollback(OPS);

    UpgradeResult result = result();
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "prepare {web=nginx:1.26}",
            "roll to 1 and pause",
            "roll to 2 and pause",
            "revert to web-old with 4 replicas");
  }

  @Test
  void aBrokenNewVersionIsRolledBackByThePolicy() {
    cluster.failAt = 4;
    begin(plan(UpgradePlan.Gate.NONE).build());

    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message())
        .contains("the new version failed: pod web-new-0 is crash-looping (3 restarts)");
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "prepare {web=nginx:1.26}",
            "roll to 4",
            "revert to web-old with 4 replicas");
    assertThat(cluster.onNew).isZero();
  }

  @Test
  void someoneElsesChangeHoldsWithTheDifferenceAndAbandonLeavesItAsItIs() {
    cluster.driftAt = 4;
    begin(plan(UpgradePlan.Gate.FIRST).build());
    env.sleep(Duration.ofMinutes(30));
    upgrade().resume(OPS);
    env.sleep(Duration.ofMinutes(30));

    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(held.message())
        .startsWith("someone else changed demo/deployment/web: spec.replicas 4 -> 6; held");
    assertThat(cluster.calls).doesNotContain("revert to web-old with 4 replicas");

    upgrade().abandon(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.ABANDONED, result.phase());
    assertThat(result.message()).contains("the Deployment paused");
    assertThat(cluster.calls).endsWith("release");
    assertThat(cluster.onNew).isEqualTo(1);
  }

  @Test
  void aPauseHoldsBeforeTheNextStretch() {
    begin(plan(UpgradePlan.Gate.FIRST).build());
    env.sleep(Duration.ofMinutes(5));
    upgrade().pause(OPS);
    upgrade().resume(OPS);
    // the resume opened the gate and lifted the pause: the rollout goes on.
    assertEquals(Phase.COMPLETED, result().phase());
  }

  @Test
  void planValidationTakesDeploymentsAndSaysWhatIsNotThereYet() {
    assertThat(PlanValidation.problems(plan(UpgradePlan.Gate.FIRST).build())).isEmpty();
    assertThat(
            PlanValidation.problems(
                plan(UpgradePlan.Gate.FIRST)
                    .strategy(UpgradePlan.Strategy.rolling(List.of("1", "150%", "zero")))
                    .build()))
        .hasSize(2)
        .allMatch(p -> p.startsWith("strategy.rolling.gates: '"));
    assertThat(
            PlanValidation.problems(
                plan(UpgradePlan.Gate.FIRST)
                    .strategy(new UpgradePlan.Strategy(null, null, new UpgradePlan.BlueGreen("1m")))
                    .build()))
        .isEmpty();
    assertThat(
            PlanValidation.problems(
                plan(UpgradePlan.Gate.FIRST)
                    .target("demo/statefulset/web")
                    .strategy(UpgradePlan.Strategy.rolling(null))
                    .build()))
        .singleElement()
        .asString()
        .startsWith("strategy is for Deployments");
    assertThat(DeploymentRollingStrategy.counts(plan(UpgradePlan.Gate.EACH).build(), 3))
        .containsExactly(1, 2, 3);
    assertThat(DeploymentRollingStrategy.counts(plan(UpgradePlan.Gate.NONE).build(), 3))
        .containsExactly(3);
  }
}
