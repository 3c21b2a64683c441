package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A Deployment's canary, with a scripted cluster and skipped time. */
@Timeout(60)
class CanaryWorkflowTest {
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

  /** setWeight 25, a gate, setWeight 50, a 10m timer, analysis: the example. */
  static List<UpgradePlan.CanaryStep> steps() {
    return List.of(
        new UpgradePlan.CanaryStep(25, null, null),
        new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause(null), null),
        new UpgradePlan.CanaryStep(50, null, null),
        new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause("10m"), null),
        new UpgradePlan.CanaryStep(null, null, Map.of()));
  }

  static UpgradePlan.Builder plan(List<UpgradePlan.CanaryStep> steps) {
    return UpgradePlan.builder()
        .target(FakeDeployment.TARGET)
        .images(Map.of("web", "nginx:1.26"))
        .strategy(new UpgradePlan.Strategy(null, new UpgradePlan.Canary(steps), null));
  }

  private void begin(UpgradePlan plan) {
    Upgrades.start(client, new UpgradeRequest(plan, "alice", "minor upgrade", 0));
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
  void weightsGateTimerAnalysisThenPromotionLeavesOnlyTheUsersDeploymentOnTheNewVersion() {
    begin(plan(steps()).build());
    env.sleep(Duration.ofHours(2));

    UpgradeStatus status = upgrade().status();
    assertEquals(Phase.WAITING_FOR_RESUME, status.phase());
    assertThat(status.steps())
        .extracting(Step::describe)
        .containsExactly(
            "collect",
            "pre-checks",
            "prepare",
            "weight 25% (1 of 4 pods canary)",
            "gate at 25%",
            "weight 50% (2 of 4 pods canary)",
            "pause-for 10m at 50%",
            "analysis at 50%",
            "promote all 4 pods",
            "finish");
    assertThat(status.message()).startsWith("canary at 25% (1 of 4 pods on the new version");
    assertThat(cluster.canary).isEqualTo(1);
    assertThat(cluster.stable).isEqualTo(3);
    assertThat(status.traffic().service()).isEqualTo("web");
    assertThat(status.traffic().shares())
        .extracting(UpgradeStatus.Share::version, UpgradeStatus.Share::ready)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("stable", 3),
            org.assertj.core.groups.Tuple.tuple("canary", 1));
    assertThat(status.units())
        .extracting(UnitStatus::revision)
        .containsExactly(FakeDeployment.CANARY, "web-old", "web-old", "web-old");

    upgrade().resume(new SteerRequest("bob", "canary healthy"));
    // The timer is durable: five minutes into it the canary is still at half.
    env.sleep(Duration.ofMinutes(5));
    assertThat(upgrade().status().message()).contains("pausing 10m");
    assertThat(cluster.canary).isEqualTo(2);
    assertThat(cluster.stable).isEqualTo(2);

    UpgradeResult result = result();
    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "mark for the canary",
            "weight 1 canary, 3 stable",
            "weight 2 canary, 2 stable",
            "weight 2 canary, 2 stable",
            "promote to 4",
            "finish on web-new");
    assertThat(cluster.canary).isEqualTo(-1);
    assertThat(cluster.stable).isEqualTo(4);
    assertThat(cluster.marked).isNull();
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-new");
    assertThat(result.message())
        .isEqualTo("all 4 pods of demo/deployment/web on web-new, no canary");
  }

  @Test
  void cancelAtTheGateRemovesTheCanaryAndReturnsTheStableDeploymentAsFound() {
    begin(plan(steps()).build());
    env.sleep(Duration.ofMinutes(30));
    assertEquals(Phase.WAITING_FOR_RESUME, upgrade().status().phase());

    upgrade().cancel(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.CANCELLED, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "mark for the canary",
            "weight 1 canary, 3 stable",
            "revert to web-old with 4 replicas, no canary");
    assertThat(cluster.canary).isEqualTo(-1);
    assertThat(cluster.stable).isEqualTo(4);
    assertThat(cluster.marked).isNull();
  }

  @Test
  void rollbackDuringATimedPauseEndsItAtOnce() {
    begin(
        plan(List.of(
                new UpgradePlan.CanaryStep(50, null, null),
                new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause("2h"), null)))
            .build());
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> upgrade().status().message().contains("pausing 2h"));

    upgrade().rollback(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "mark for the canary",
            "weight 2 canary, 2 stable",
            "revert to web-old with 4 replicas, no canary");
    assertThat(cluster.canary).isEqualTo(-1);
  }

  @Test
  void aCrashLoopingCanaryIsRolledBackByThePolicy() {
    cluster.canaryFailAt = 2;
    begin(plan(steps()).gate(UpgradePlan.Gate.NONE).build());
    env.sleep(Duration.ofHours(1));
    upgrade().resume(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message()).contains("the new version failed").contains("crash-looping");
    assertThat(cluster.calls)
        .endsWith("weight 2 canary, 2 stable", "revert to web-old with 4 replicas, no canary");
    assertThat(cluster.canary).isEqualTo(-1);
    assertThat(cluster.stable).isEqualTo(4);
  }

  @Test
  void someoneElsesChangeHoldsWithTheDifferenceAndAbandonRemovesTheCanary() {
    cluster.canaryDriftAt = 2;
    begin(
        plan(List.of(
                new UpgradePlan.CanaryStep(25, null, null),
                new UpgradePlan.CanaryStep(50, null, null)))
            .build());
    await().atMost(10, TimeUnit.SECONDS).until(() -> upgrade().status().phase() == Phase.HELD);
    assertThat(upgrade().status().message())
        .contains("someone else changed demo/deployment/web")
        .contains("spec.template");

    upgrade().abandon(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.ABANDONED, result.phase());
    assertThat(cluster.calls).endsWith("release the canary");
    assertThat(cluster.canary).isEqualTo(-1);
    assertThat(cluster.stable).isEqualTo(4);
    assertThat(cluster.marked).isNull();
  }

  @Test
  void withoutStepsTheDefaultCanaryRuns() {
    assertThat(
            DeploymentCanaryStrategy.compile(plan(List.of()).build(), 4, TargetStrategy.Start.FRESH)
                .stream()
                .map(Step::describe))
        .containsExactly(
            "prepare",
            "weight 25% (1 of 4 pods canary)",
            "gate at 25%",
            "weight 50% (2 of 4 pods canary)",
            "pause-for 1m at 50%",
            "analysis at 50%",
            "promote all 4 pods",
            "finish");
  }

  @Test
  void planValidationRefusesABadCanaryStepWithTheReason() {
    assertThat(PlanValidation.problems(plan(steps()).build())).isEmpty();
    assertThat(
            PlanValidation.problems(
                plan(List.of(
                        new UpgradePlan.CanaryStep(150, null, null),
                        new UpgradePlan.CanaryStep(25, new UpgradePlan.Pause(null), null),
                        new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause("soon"), null)))
                    .build()))
        .hasSize(3)
        .anyMatch(p -> p.startsWith("strategy.canary.steps[1]: setWeight is a percent"))
        .anyMatch(p -> p.startsWith("strategy.canary.steps[2]: give exactly one of"))
        .anyMatch(p -> p.startsWith("strategy.canary.steps[3].pause.duration"));
    assertThat(
            PlanValidation.problems(
                plan(List.of(new UpgradePlan.CanaryStep(50, null, null)))
                    .gateTimeout("1h")
                    .build()))
        .singleElement()
        .asString()
        .startsWith("gateTimeout, approvals and excludeStarter apply to gates");
  }
}
