package dev.lockstep.workflows;

import static org.awaitility.Awaitility.await;

import io.temporal.api.history.v1.History;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The runs whose histories are saved for the replay gate: each one plays a whole upgrade against a
 * scripted cluster and returns its history.
 */
final class Scenarios {
  private Scenarios() {}

  interface Scenario {
    void play(WorkflowClient client, FakeCluster cluster, TestWorkflowEnvironment env);
  }

  /** A full upgrade: first unit, the gate, resume, the rest. */
  static final Scenario FULL_UPGRADE =
      (client, cluster, env) -> {
        Upgrades.start(
            client,
            new UpgradeRequest(
                UpgradeWorkflowTest.plan(UpgradePlan.Gate.FIRST), "alice", "minor", 0));
        env.sleep(Duration.ofHours(2));
        stub(client).resume(new SteerRequest("bob", "first unit healthy"));
        result(client);
      };

  /** Paused while preparing, held, resumed, then run through without a gate. */
  static final Scenario PAUSED_AND_RESUMED =
      (client, cluster, env) -> {
        cluster.prepareGate = new CountDownLatch(1);
        WorkflowClient.start(
            client.newWorkflowStub(
                    UpgradeWorkflow.class,
                    Upgrades.options(UpgradeWorkflowTest.plan(UpgradePlan.Gate.NONE)))
                ::run,
            new UpgradeRequest(
                UpgradeWorkflowTest.plan(UpgradePlan.Gate.NONE), "alice", "minor", 0));
        await().atMost(10, TimeUnit.SECONDS).until(() -> cluster.calls.size() >= 2);
        stub(client).pause(new SteerRequest("carol", "change freeze"));
        cluster.prepareGate.countDown();
        await()
            .atMost(10, TimeUnit.SECONDS)
            .until(() -> stub(client).status().phase() == Phase.PAUSED);
        env.sleep(Duration.ofHours(1));
        stub(client).resume(new SteerRequest("carol", "freeze over"));
        result(client);
      };

  static UpgradeWorkflow stub(WorkflowClient client) {
    return client.newWorkflowStub(
        UpgradeWorkflow.class,
        Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")));
  }

  static UpgradeResult result(WorkflowClient client) {
    return WorkflowStub.fromTyped(stub(client)).getResult(UpgradeResult.class);
  }

  /** Plays a scenario in a fresh test environment and returns the run's history. */
  static History record(Scenario scenario) {
    try (TestWorkflowEnvironment env =
        Environments.withSearchAttributes(TestWorkflowEnvironment.newInstance())) {
      Worker worker = env.newWorker(Names.taskQueue("default"));
      worker.registerWorkflowImplementationTypes(UpgradeWorkflowImpl.class);
      FakeCluster cluster = new FakeCluster(3);
      worker.registerActivitiesImplementations(cluster);
      env.start();
      scenario.play(env.getWorkflowClient(), cluster, env);
      return env.getWorkflowClient()
          .fetchHistory(
              Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")))
          .getHistory();
    }
  }
}
