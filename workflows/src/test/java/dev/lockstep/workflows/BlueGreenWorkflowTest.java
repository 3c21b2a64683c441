package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A Deployment's blue-green, with a scripted cluster and skipped time. */
@Timeout(60)
class BlueGreenWorkflowTest {
  private static final SteerRequest OPS = new SteerRequest("ops", "incident 42");

  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeDeployment cluster;

  @BeforeEach
  void start() {
    env = Environments.withSearchAttributes(TestWorkflowEnvironment.newInstance());
    Worker worker = env.newWorker(Names.taskQueue("default"));
    worker.registerWorkflowImplementationTypes(UpgradeWorkflowImpl.class, PlanWorkflowImpl.class);
    cluster = new FakeDeployment(4);
    worker.registerActivitiesImplementations(cluster);
    env.start();
    client = env.getWorkflowClient();
  }

  @AfterEach
  void stop() {
    env.close();
  }

  static UpgradePlan.Builder plan(String scaleDownDelay) {
    return UpgradePlan.builder()
        .target(FakeDeployment.TARGET)
        .images(Map.of("web", "nginx:1.26"))
        .strategy(new UpgradePlan.Strategy(null, null, new UpgradePlan.BlueGreen(scaleDownDelay)));
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
  void previewGateSwitchPromoteSwitchBackDelayThenNothingOfTheRunIsLeft() {
    begin(plan("10m").build());
    env.sleep(Duration.ofHours(2));

    UpgradeStatus status = upgrade().status();
    assertEquals(Phase.WAITING_FOR_RESUME, status.phase());
    assertThat(status.steps())
        .extracting(Step::describe)
        .containsExactly(
            "collect",
            "pre-checks",
            "prepare",
            "preview web-preview (4 pods on the new version, behind the preview Service)",
            "gate before the switch",
            "switch the Service to the preview's pods",
            "promote web to the new version (all 4 pods, no traffic)",
            "switch the Service back to web",
            "pause-for 10m before the preview goes",
            "scale-down the preview Deployment and Service",
            "finish");
    assertThat(status.message()).startsWith("preview of 4 pods Ready on the new version");
    // Before the switch the active Service keeps to the user's pods only.
    assertThat(cluster.service).isEqualTo("fenced");
    assertThat(status.traffic().service()).isEqualTo("web");
    assertThat(status.traffic().shares())
        .extracting(UpgradeStatus.Share::version, UpgradeStatus.Share::ready)
        .containsExactly(tuple("active", 4), tuple("preview", 0));
    assertThat(status.units())
        .extracting(UnitStatus::revision)
        .containsExactly(
            FakeDeployment.PREVIEW,
            FakeDeployment.PREVIEW,
            FakeDeployment.PREVIEW,
            FakeDeployment.PREVIEW,
            "web-old",
            "web-old",
            "web-old",
            "web-old");

    upgrade().resume(new SteerRequest("bob", "preview healthy"));
    // The delay is a durable timer: five minutes into it the preview is still there.
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> upgrade().status().message().contains("the preview goes at"));
    env.sleep(Duration.ofMinutes(5));
    status = upgrade().status();
    assertThat(status.message()).contains("scaleDownDelay 10m");
    assertThat(cluster.preview).isEqualTo(4);
    assertThat(cluster.service).isEqualTo("back");
    assertThat(cluster.onNew).isEqualTo(4);

    UpgradeResult result = result();
    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "mark for the blue-green",
            "preview 4 pods",
            "switch to the preview",
            "promote 4 pods, no traffic",
            "switch back",
            "scale down the preview",
            "finish on web-new");
    assertThat(cluster.preview).isEqualTo(-1);
    assertThat(cluster.service).isEqualTo("found");
    assertThat(cluster.marked).isNull();
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-new");
    assertThat(result.message())
        .isEqualTo(
            "all 4 pods of demo/deployment/web on web-new, its Service as found, no preview");
  }

  @Test
  void rollbackAtTheGateBeforeTheSwitchRemovesThePreview() {
    begin(plan(null).build());
    env.sleep(Duration.ofMinutes(30));
    assertEquals(Phase.WAITING_FOR_RESUME, upgrade().status().phase());

    upgrade().rollback(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "mark for the blue-green",
            "preview 4 pods",
            "revert to web-old with 4 replicas, Service as found, no preview");
    assertThat(result.message()).doesNotContain("switching Service");
    assertThat(cluster.preview).isEqualTo(-1);
    assertThat(cluster.service).isEqualTo("found");
    assertThat(cluster.onNew).isZero();
    assertThat(cluster.marked).isNull();
  }

  @Test
  void rollbackAfterTheSwitchSwitchesBackAndReturnsEverythingAsFound() {
    cluster.serviceDrift = false;
    begin(plan("1h").gate(UpgradePlan.Gate.NONE).build());
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> upgrade().status().message().contains("the preview goes at"));
    assertThat(cluster.service).isEqualTo("back");

    upgrade().rollback(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "mark for the blue-green",
            "preview 4 pods",
            "switch to the preview",
            "promote 4 pods, no traffic",
            "switch back",
            "revert to web-old with 4 replicas, Service as found, no preview");
    assertThat(cluster.preview).isEqualTo(-1);
    assertThat(cluster.service).isEqualTo("found");
    assertThat(cluster.onNew).isZero();
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-old");
  }

  @Test
  void cancelDuringTheScaleDownDelayEndsTheTimerAtOnceAndReturnsEverything() {
    begin(plan("2h").gate(UpgradePlan.Gate.NONE).build());
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> upgrade().status().message().contains("the preview goes at"));

    upgrade().cancel(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.CANCELLED, result.phase());
    assertThat(cluster.calls)
        .endsWith("switch back", "revert to web-old with 4 replicas, Service as found, no preview");
    assertThat(cluster.calls).doesNotContain("scale down the preview");
    assertThat(cluster.preview).isEqualTo(-1);
    assertThat(cluster.service).isEqualTo("found");
    // Ended by the cancel, not by the timer: well before its two hours.
    assertThat(
            Duration.between(
                java.time.Instant.parse(result.status().startedAt()),
                java.time.Instant.parse(result.status().finishedAt())))
        .isLessThan(Duration.ofHours(2));
  }

  @Test
  void aCrashLoopingPreviewIsRolledBackByThePolicyWithTheUsersDeploymentUntouched() {
    cluster.previewFails = true;
    begin(plan(null).build());
    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message()).contains("the new version failed").contains("crash-looping");
    assertThat(cluster.calls)
        .containsExactly(
            "inspect",
            "mark for the blue-green",
            "preview 4 pods",
            "revert to web-old with 4 replicas, Service as found, no preview");
    assertThat(cluster.preview).isEqualTo(-1);
    assertThat(cluster.onNew).isZero();
  }

  @Test
  void someoneElsesChangeToTheServiceHoldsWithTheDifferenceAndAbandonLetsGo() {
    cluster.serviceDrift = true;
    begin(plan(null).gate(UpgradePlan.Gate.NONE).build());
    await().atMost(10, TimeUnit.SECONDS).until(() -> upgrade().status().phase() == Phase.HELD);
    assertThat(upgrade().status().message())
        .contains("someone else changed demo/deployment/web")
        .contains("spec.selector");

    upgrade().abandon(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.ABANDONED, result.phase());
    assertThat(cluster.calls).endsWith("release the blue-green");
    assertThat(cluster.marked).isNull();
  }

  @Test
  void lockstepPlanPrintsTheBlueGreenStepsAndItsGateAndChangesNothing() {
    PlanReport report =
        client
            .newWorkflowStub(
                PlanWorkflow.class,
                io.temporal.client.WorkflowOptions.newBuilder()
                    .setWorkflowId("plan-test")
                    .setTaskQueue(Names.taskQueue("default"))
                    .build())
            .plan(plan("5m").build());

    assertThat(report.canStart()).isTrue();
    assertThat(report.steps())
        .containsExactly(
            "collect",
            "pre-checks",
            "prepare",
            "preview web-preview (4 pods on the new version, behind the preview Service)",
            "gate before the switch",
            "switch the Service to the preview's pods",
            "promote web to the new version (all 4 pods, no traffic)",
            "switch the Service back to web",
            "pause-for 5m before the preview goes",
            "scale-down the preview Deployment and Service",
            "finish");
    assertThat(report.gates())
        .containsExactly("blue-green before the switch: lockstep resume demo/deployment/web");
    assertThat(cluster.calls).containsExactly("inspect");
  }

  @Test
  void someoneElsesChangeToTheDeploymentAfterTheSwitchHoldsAndRollbackReturnsEverything() {
    cluster.deploymentDrift = true;
    begin(plan(null).gate(UpgradePlan.Gate.NONE).build());
    await().atMost(10, TimeUnit.SECONDS).until(() -> upgrade().status().phase() == Phase.HELD);
    assertThat(upgrade().status().message())
        .contains("someone else changed demo/deployment/web")
        .contains("spec.replicas 4 -> 6");
    // HELD with the traffic on the preview's Ready pods: nothing is overwritten meanwhile.
    assertThat(cluster.service).isEqualTo("preview");

    upgrade().rollback(OPS);
    UpgradeResult result = result();

    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(cluster.calls)
        .endsWith(
            "promote 4 pods, no traffic",
            "revert to web-old with 4 replicas, Service as found, no preview");
    assertThat(cluster.service).isEqualTo("found");
    assertThat(cluster.preview).isEqualTo(-1);
  }

  @Test
  void planValidationTakesABlueGreenAndRefusesABadDelayOrName() {
    assertThat(PlanValidation.problems(plan("30s").build())).isEmpty();
    assertThat(
            PlanValidation.problems(
                plan(null)
                    .strategy(
                        new UpgradePlan.Strategy(
                            null, null, new UpgradePlan.BlueGreen("soon", "Web_Preview")))
                    .build()))
        .hasSize(2)
        .anyMatch(p -> p.startsWith("strategy.blueGreen.scaleDownDelay"))
        .anyMatch(p -> p.startsWith("strategy.blueGreen.previewService: 'Web_Preview'"));
    assertThat(
            DeploymentBlueGreenStrategy.compile(
                    plan(null).gate(UpgradePlan.Gate.NONE).build(), 3, TargetStrategy.Start.FRESH)
                .stream()
                .map(Step::describe))
        .contains("pause-for 30s before the preview goes")
        .doesNotContain("gate before the switch");
  }
}
