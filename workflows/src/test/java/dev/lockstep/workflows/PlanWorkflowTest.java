package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code lockstep plan} answers as {@code lockstep upgrade} would decide, and reads only. */
@Timeout(60)
class PlanWorkflowTest {
  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeCluster cluster;

  @BeforeEach
  void start() {
    env = Environments.withSearchAttributes(TestWorkflowEnvironment.newInstance());
    Worker worker = env.newWorker(Names.taskQueue("default"));
    worker.registerWorkflowImplementationTypes(PlanWorkflowImpl.class);
    cluster = new FakeCluster(3);
    worker.registerActivitiesImplementations(cluster);
    env.start();
    client = env.getWorkflowClient();
  }

  @AfterEach
  void stop() {
    env.close();
  }

  private PlanReport plan() {
    UpgradePlan plan =
        UpgradePlan.builder()
            .target(UpgradeWorkflowTest.TARGET)
            .images(Map.of("web", "nginx:1.26"))
            .gate(UpgradePlan.Gate.FIRST)
            .build();
    return client
        .newWorkflowStub(
            PlanWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId("plan-test")
                .setTaskQueue(Names.taskQueue("default"))
                .build())
        .plan(plan);
  }

  @Test
  void aPlanOfWhatAlreadyRunsSaysUnchangedAndCanStartAsTheUpgradeWouldEndUnchanged() {
    cluster.unchanged = true;
    PlanReport report = plan();
    assertThat(report.canStart()).isTrue();
    assertEquals("already runs {web=nginx:1.25}", report.unchanged());
    assertThat(report.refusals()).isEmpty();
    assertThat(report.units()).as("no unit would be replaced").isEmpty();
    assertThat(report.gates()).isEmpty();
    assertThat(cluster.calls).containsExactly("inspect");
  }

  @Test
  void aPlanOfWhatAlreadyRunsOnAHalfDoneTargetIsRefusedWithTheFailingCheck() {
    cluster.unchanged = true;
    cluster.allReady = false;
    PlanReport report = plan();
    assertThat(report.canStart()).isFalse();
    assertThat(report.unchanged()).isNull();
    assertThat(report.refusals())
        .containsExactly(
            "the change changes nothing: demo/statefulset/web already runs {web=nginx:1.25}");
  }

  @Test
  void aPlanOfAChangeListsTheUnitsAndGatesAndIsNotUnchanged() {
    PlanReport report = plan();
    assertThat(report.canStart()).isTrue();
    assertThat(report.unchanged()).isNull();
    assertThat(report.units()).containsExactly("web-2", "web-1", "web-0");
    assertThat(report.gates()).hasSize(1);
  }
}
