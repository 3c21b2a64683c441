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

  private static void start(WorkflowClient client, UpgradePlan plan) {
    Upgrades.start(client, new UpgradeRequest(plan, "alice", "minor", 0));
  }

  private static UpgradePlan.Builder plan(UpgradePlan.Gate gate) {
    return UpgradeWorkflowTest.plan(gate).toBuilder();
  }

  private static final SteerRequest OPS = new SteerRequest("ops", "incident 42");

  /** Cancelled at the gate: the first unit returned. */
  static final Scenario CANCELLED_AT_GATE =
      (client, cluster, env) -> {
        start(client, plan(UpgradePlan.Gate.FIRST).build());
        env.sleep(Duration.ofMinutes(30));
        stub(client).cancel(OPS);
        result(client);
      };

  /** Rolled back by hand at the gate. */
  static final Scenario ROLLED_BACK_AT_GATE =
      (client, cluster, env) -> {
        start(client, plan(UpgradePlan.Gate.FIRST).build());
        env.sleep(Duration.ofMinutes(30));
        stub(client).rollback(OPS);
        result(client);
      };

  /** The second unit fails: the policy rolls back, after one retry from prepare. */
  static final Scenario FAILED_RETRIED_AND_ROLLED_BACK =
      (client, cluster, env) -> {
        cluster.failUnit = "web-1";
        start(client, plan(UpgradePlan.Gate.NONE).retries(1).build());
        result(client);
      };

  /** HELD after a failed unit, then retried once the image is fixed. */
  static final Scenario HELD_THEN_RETRIED =
      (client, cluster, env) -> {
        cluster.failUnit = "web-1";
        start(
            client, plan(UpgradePlan.Gate.NONE).onFailure(UpgradePlan.FailurePolicy.HOLD).build());
        env.sleep(Duration.ofMinutes(30));
        cluster.failUnit = null;
        stub(client).retry(OPS);
        result(client);
      };

  /** HELD after a failed unit, then abandoned. */
  static final Scenario HELD_THEN_ABANDONED =
      (client, cluster, env) -> {
        cluster.failUnit = "web-1";
        start(
            client, plan(UpgradePlan.Gate.NONE).onFailure(UpgradePlan.FailurePolicy.HOLD).build());
        env.sleep(Duration.ofMinutes(30));
        stub(client).abandon(OPS);
        result(client);
      };

  /**
   * Backup, migrate after the first unit (forward only), the gate, the rest, a failing test: the
   * restore hook runs before the units go back.
   */
  static final Scenario HOOKS_MIGRATE_AND_RESTORE =
      (client, cluster, env) -> {
        cluster.failingHooks.add("test");
        UpgradePlan.Hook job = new UpgradePlan.Hook("busybox:1.36", java.util.List.of("true"));
        start(
            client,
            plan(UpgradePlan.Gate.FIRST)
                .hooks(new UpgradePlan.Hooks(job, job, job, job))
                .migration(new UpgradePlan.Migration(false, null))
                .build());
        env.sleep(Duration.ofMinutes(30));
        stub(client).resume(OPS);
        result(client);
      };

  /** One unit added first, upgraded first, removed at the end. */
  static final Scenario SCALE_UP =
      (client, cluster, env) -> {
        start(client, plan(UpgradePlan.Gate.NONE).scaleUp(true).build());
        result(client);
      };

  /** A repair that continues the change of a run terminated after one unit. */
  static final Scenario REPAIR_CONTINUE =
      (client, cluster, env) -> {
        cluster.mark = "dead-run";
        cluster.origin =
            new ClusterActivities.Origin(
                Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")),
                "web-1",
                "RollingUpdate",
                2,
                3,
                null,
                false);
        cluster.upgradedByDead = 1;
        start(
            client,
            UpgradePlan.builder()
                .target(UpgradeWorkflowTest.TARGET)
                .repair(UpgradePlan.Repair.CONTINUE)
                .gate(UpgradePlan.Gate.NONE)
                .build());
        result(client);
      };

  /** Temporal's own cancel at the gate. */
  static final Scenario TEMPORAL_CANCEL =
      (client, cluster, env) -> {
        start(client, plan(UpgradePlan.Gate.FIRST).build());
        env.sleep(Duration.ofMinutes(30));
        WorkflowStub.fromTyped(stub(client)).cancel();
        await()
            .atMost(10, TimeUnit.SECONDS)
            .until(() -> stub(client).status().phase() == Phase.CANCELLED);
      };

  /** A revert the API server refuses holds; retried once RBAC is fixed. */
  static final Scenario RETURN_HELD_THEN_RETRIED =
      (client, cluster, env) -> {
        cluster.failUnit = "web-1";
        cluster.revertFailures = 1;
        start(client, plan(UpgradePlan.Gate.NONE).build());
        env.sleep(Duration.ofMinutes(30));
        stub(client).retry(OPS);
        result(client);
      };

  private static UpgradeWorkflow deployment(WorkflowClient client) {
    return client.newWorkflowStub(
        UpgradeWorkflow.class,
        Names.workflowId("default", Target.parse(FakeDeployment.TARGET, "default")));
  }

  private static void startDeployment(WorkflowClient client, UpgradePlan plan) {
    Upgrades.start(client, new UpgradeRequest(plan, "alice", "minor", 0));
  }

  private static UpgradeResult deploymentResult(WorkflowClient client) {
    return WorkflowStub.fromTyped(deployment(client)).getResult(UpgradeResult.class);
  }

  /** A Deployment rolled to its first new pod, paused at the gate, resumed, rolled to the end. */
  static final Scenario DEPLOYMENT_ROLLING =
      (client, cluster, env) -> {
        startDeployment(client, DeploymentWorkflowTest.plan(UpgradePlan.Gate.FIRST).build());
        env.sleep(Duration.ofHours(2));
        deployment(client).resume(new SteerRequest("bob", "first pod healthy"));
        deploymentResult(client);
      };

  /** A Deployment cancelled at a gate at half its pods: the template goes back. */
  static final Scenario DEPLOYMENT_CANCELLED_AT_GATE =
      (client, cluster, env) -> {
        startDeployment(
            client,
            DeploymentWorkflowTest.plan(UpgradePlan.Gate.FIRST)
                .strategy(UpgradePlan.Strategy.rolling(java.util.List.of("50%")))
                .build());
        env.sleep(Duration.ofMinutes(30));
        deployment(client).cancel(OPS);
        deploymentResult(client);
      };

  /** A broken new version: the policy rolls the Deployment back. */
  static final Scenario DEPLOYMENT_BROKEN_ROLLED_BACK =
      (client, cluster, env) -> {
        ((FakeDeployment) cluster).failAt = 4;
        startDeployment(client, DeploymentWorkflowTest.plan(UpgradePlan.Gate.NONE).build());
        deploymentResult(client);
      };

  /** Someone else scales the Deployment mid-run: HELD, then abandoned. */
  static final Scenario DEPLOYMENT_DRIFT_HELD_ABANDONED =
      (client, cluster, env) -> {
        ((FakeDeployment) cluster).driftAt = 4;
        startDeployment(client, DeploymentWorkflowTest.plan(UpgradePlan.Gate.NONE).build());
        await()
            .atMost(10, TimeUnit.SECONDS)
            .until(() -> deployment(client).status().phase() == Phase.HELD);
        env.sleep(Duration.ofMinutes(30));
        deployment(client).abandon(OPS);
        deploymentResult(client);
      };

  /** The gate times out and the plan resumes it. */
  static final Scenario GATE_TIMEOUT_RESUME =
      (client, cluster, env) -> {
        start(
            client,
            plan(UpgradePlan.Gate.FIRST)
                .gateTimeout("1h")
                .onGateTimeout(UpgradePlan.GateTimeoutPolicy.RESUME)
                .build());
        result(client);
      };

  /** The gate times out and the plan rolls back. */
  static final Scenario GATE_TIMEOUT_ROLLBACK =
      (client, cluster, env) -> {
        start(
            client,
            plan(UpgradePlan.Gate.FIRST)
                .gateTimeout("1h")
                .onGateTimeout(UpgradePlan.GateTimeoutPolicy.ROLLBACK)
                .build());
        result(client);
      };

  /** The gate times out and holds; resumed by hand later. */
  static final Scenario GATE_TIMEOUT_HELD_THEN_RESUMED =
      (client, cluster, env) -> {
        start(client, plan(UpgradePlan.Gate.FIRST).gateTimeout("1h").build());
        env.sleep(Duration.ofHours(2));
        stub(client).resume(OPS);
        result(client);
      };

  /** Two approvals, the starter excluded: refused, counted, opened. */
  static final Scenario TWO_APPROVALS =
      (client, cluster, env) -> {
        start(client, plan(UpgradePlan.Gate.FIRST).approvals(2).excludeStarter(true).build());
        env.sleep(Duration.ofMinutes(30));
        stub(client).resumeSignal(new SteerRequest("alice", "mine"));
        stub(client).resume(new SteerRequest("bob", "looks fine"));
        env.sleep(Duration.ofMinutes(30));
        stub(client).resume(new SteerRequest("carol", "agreed"));
        result(client);
      };

  /** An upgrade to what already runs: unchanged, COMPLETED having changed nothing (issue 20). */
  static final Scenario UNCHANGED =
      (client, cluster, env) -> {
        cluster.unchanged = true;
        start(client, plan(UpgradePlan.Gate.FIRST).build());
        result(client);
      };

  /**
   * Recorded by release 0.2.0, which refused a Deployment target before it did anything: such a run
   * replays refused (getVersion plans-after-0.2.0).
   */
  static final Scenario DEPLOYMENT_REFUSED_BY_020 =
      (client, cluster, env) -> {
        throw new IllegalStateException("recorded by release 0.2.0 only");
      };

  /** Recorded by release 0.2.0, which refused a plan with gateTimeout before it did anything. */
  static final Scenario GATE_TIMEOUT_REFUSED_BY_020 =
      (client, cluster, env) -> {
        throw new IllegalStateException("recorded by release 0.2.0 only");
      };

  /**
   * Recorded by main before the canary strategy, which refused a canary plan before it did
   * anything: such a run replays refused (getVersion canary-strategies).
   */
  static final Scenario DEPLOYMENT_CANARY_REFUSED_BEFORE =
      (client, cluster, env) -> {
        // Played once by main before the canary strategy: a canary plan with setWeight 25 and a
        // pause, refused with "strategy canary is not supported by this version of Lockstep yet".
        throw new IllegalStateException("recorded by main before the canary strategy only");
      };

  /**
   * Recorded by main before the blue-green strategy, which refused a blueGreen plan before it did
   * anything: such a run replays refused (getVersion bg-strategy-accepted).
   */
  static final Scenario DEPLOYMENT_BLUEGREEN_REFUSED_BEFORE =
      (client, cluster, env) -> {
        // Played once by main before the blue-green strategy: a blueGreen plan (scaleDownDelay
        // 30s), refused with "strategy blueGreen is not supported by this version of Lockstep yet".
        throw new IllegalStateException("recorded by main before the blue-green strategy only");
      };

  /** A blue-green: preview, the gate, switch, promote, switch back, a 10m delay, scale-down. */
  static final Scenario DEPLOYMENT_BLUEGREEN =
      (client, cluster, env) -> {
        startDeployment(client, BlueGreenWorkflowTest.plan("10m").build());
        env.sleep(Duration.ofHours(2));
        deployment(client).resume(new SteerRequest("bob", "preview healthy"));
        deploymentResult(client);
      };

  /** A blue-green rolled back during its scale-down delay: everything as found. */
  static final Scenario DEPLOYMENT_BLUEGREEN_ROLLED_BACK_AFTER_SWITCH =
      (client, cluster, env) -> {
        startDeployment(
            client, BlueGreenWorkflowTest.plan("1h").gate(UpgradePlan.Gate.NONE).build());
        await()
            .atMost(10, TimeUnit.SECONDS)
            .until(() -> deployment(client).status().message().contains("the preview goes at"));
        deployment(client).rollback(OPS);
        deploymentResult(client);
      };

  /** A crash-looping preview, rolled back by the policy before the switch. */
  static final Scenario DEPLOYMENT_BLUEGREEN_BROKEN_ROLLED_BACK =
      (client, cluster, env) -> {
        ((FakeDeployment) cluster).previewFails = true;
        startDeployment(client, BlueGreenWorkflowTest.plan(null).build());
        deploymentResult(client);
      };

  /** A canary: 25%, a gate, 50%, a 10m timer, analysis, promotion. */
  static final Scenario DEPLOYMENT_CANARY =
      (client, cluster, env) -> {
        startDeployment(client, CanaryWorkflowTest.plan(CanaryWorkflowTest.steps()).build());
        env.sleep(Duration.ofHours(2));
        deployment(client).resume(new SteerRequest("bob", "canary healthy"));
        deploymentResult(client);
      };

  /** A canary cancelled at its gate: the canary goes, the stable Deployment is as found. */
  static final Scenario DEPLOYMENT_CANARY_CANCELLED_AT_GATE =
      (client, cluster, env) -> {
        startDeployment(client, CanaryWorkflowTest.plan(CanaryWorkflowTest.steps()).build());
        env.sleep(Duration.ofMinutes(30));
        deployment(client).cancel(OPS);
        deploymentResult(client);
      };

  /** A crash-looping canary at 50%, rolled back by the policy. */
  static final Scenario DEPLOYMENT_CANARY_BROKEN_ROLLED_BACK =
      (client, cluster, env) -> {
        ((FakeDeployment) cluster).canaryFailAt = 2;
        startDeployment(
            client,
            CanaryWorkflowTest.plan(
                    java.util.List.of(
                        new UpgradePlan.CanaryStep(25, null, null),
                        new UpgradePlan.CanaryStep(50, null, null)))
                .build());
        deploymentResult(client);
      };

  /** Notified at the gate, reminded once, resumed, the end told. */
  static final Scenario NOTIFIED_AND_REMINDED =
      (client, cluster, env) -> {
        start(
            client,
            plan(UpgradePlan.Gate.FIRST)
                .gateTimeout("3h")
                .notifications(
                    new UpgradePlan.Notify(
                        java.util.List.of(
                            new UpgradePlan.Webhook("https://hooks.example.com/x", "json")),
                        "1h"))
                .build());
        env.sleep(Duration.ofMinutes(90));
        stub(client).resume(OPS);
        result(client);
      };

  private static ReleaseWorkflow release(WorkflowClient client) {
    return Releases.of(client, "default", FakeRelease.target());
  }

  /** A Helm release of three workloads, the second gated: resumed, the release deployed. */
  static final Scenario HUP_RELEASE_UPGRADED =
      (client, cluster, env) -> {
        Releases.start(
            client,
            ReleaseWorkflowTest.request(
                java.util.Map.of("StatefulSet/cache", UpgradePlan.Gate.FIRST)));
        UpgradeWorkflow cache =
            Upgrades.of(client, "default", new Target(FakeRelease.NS, Target.STATEFULSET, "cache"));
        await()
            .atMost(30, TimeUnit.SECONDS)
            .until(
                () ->
                    release(client).status().current() != null
                        && cache.status().phase() == Phase.WAITING_FOR_RESUME);
        env.sleep(Duration.ofHours(1));
        cache.resume(new SteerRequest("bob", "cache looks fine"));
        WorkflowStub.fromTyped(release(client)).getResult(ReleaseResult.class);
      };

  /** The release's third workload fails: the first two go back in reverse, the release failed. */
  static final Scenario HUP_RELEASE_FAILED_BACK_IN_REVERSE =
      (client, cluster, env) -> {
        ((FakeRelease) cluster).failWorkload = "app";
        Releases.start(client, ReleaseWorkflowTest.request(java.util.Map.of()));
        WorkflowStub.fromTyped(release(client)).getResult(ReleaseResult.class);
      };

  /** A release rolled back to revision 1 (lockstep rollback --to-revision 1): deployed. */
  static final Scenario HUP_RELEASE_HRB_ROLLED_BACK_TO_REVISION =
      (client, cluster, env) -> {
        Releases.start(client, ReleaseWorkflowTest.rollbackTo(1));
        WorkflowStub.fromTyped(release(client)).getResult(ReleaseResult.class);
      };

  /** A rollback to revision 1 whose second workload fails: back in reverse, recorded failed. */
  static final Scenario HUP_RELEASE_HRB_ROLLBACK_FAILED =
      (client, cluster, env) -> {
        ((FakeRelease) cluster).failWorkload = "cache";
        Releases.start(client, ReleaseWorkflowTest.rollbackTo(1));
        WorkflowStub.fromTyped(release(client)).getResult(ReleaseResult.class);
      };

  /** A chart upgrade adding Deployment/search and removing StatefulSet/legacy: deployed. */
  static final Scenario HUP_RELEASE_RWL_ADDED_AND_REMOVED =
      (client, cluster, env) -> {
        ((FakeRelease) cluster).addsAndRemoves = true;
        Releases.start(client, ReleaseAddedRemovedWorkflowTest.request());
        WorkflowStub.fromTyped(release(client)).getResult(ReleaseResult.class);
      };

  /** The same upgrade whose test hook fails: legacy restored, search deleted, in reverse. */
  static final Scenario HUP_RELEASE_RWL_TEST_FAILED_RESTORED =
      (client, cluster, env) -> {
        ((FakeRelease) cluster).addsAndRemoves = true;
        ((FakeRelease) cluster).failHooks = "test";
        Releases.start(client, ReleaseAddedRemovedWorkflowTest.request());
        WorkflowStub.fromTyped(release(client)).getResult(ReleaseResult.class);
      };

  /** A plan without notify: told the worker's default webhooks, reminded while it waits. */
  static final Scenario NOTIFY_DEFAULTS_REMINDED =
      (client, cluster, env) -> {
        cluster.workerNotify =
            new UpgradePlan.Notify(
                java.util.List.of(new UpgradePlan.Webhook("worker:0", "json")), "1h");
        start(client, plan(UpgradePlan.Gate.FIRST).build());
        env.sleep(Duration.ofMinutes(90));
        stub(client).resume(OPS);
        result(client);
      };

  /** A plan with {@code notify: []}: nobody told, not even the worker's defaults. */
  static final Scenario CHART_NOTIFY_OPTED_OUT =
      (client, cluster, env) -> {
        cluster.workerNotify =
            new UpgradePlan.Notify(
                java.util.List.of(new UpgradePlan.Webhook("worker:0", "json")), "1h");
        start(
            client,
            plan(UpgradePlan.Gate.FIRST)
                .notifications(new UpgradePlan.Notify(java.util.List.of(), null))
                .build());
        env.sleep(Duration.ofMinutes(90));
        stub(client).resume(OPS);
        result(client);
      };

  /** Every saved history, by file name: one per path a run can take. */
  static final java.util.Map<String, Scenario> ALL =
      java.util.Map.ofEntries(
          java.util.Map.entry("full-upgrade.json", FULL_UPGRADE),
          java.util.Map.entry("paused-and-resumed.json", PAUSED_AND_RESUMED),
          java.util.Map.entry("cancelled-at-gate.json", CANCELLED_AT_GATE),
          java.util.Map.entry("rolled-back-at-gate.json", ROLLED_BACK_AT_GATE),
          java.util.Map.entry(
              "failed-retried-and-rolled-back.json", FAILED_RETRIED_AND_ROLLED_BACK),
          java.util.Map.entry("held-then-retried.json", HELD_THEN_RETRIED),
          java.util.Map.entry("held-then-abandoned.json", HELD_THEN_ABANDONED),
          java.util.Map.entry("hooks-migrate-and-restore.json", HOOKS_MIGRATE_AND_RESTORE),
          java.util.Map.entry("scale-up.json", SCALE_UP),
          java.util.Map.entry("repair-continue.json", REPAIR_CONTINUE),
          java.util.Map.entry("temporal-cancel.json", TEMPORAL_CANCEL),
          java.util.Map.entry("return-held-then-retried.json", RETURN_HELD_THEN_RETRIED),
          java.util.Map.entry("deployment-rolling.json", DEPLOYMENT_ROLLING),
          java.util.Map.entry("deployment-cancelled-at-gate.json", DEPLOYMENT_CANCELLED_AT_GATE),
          java.util.Map.entry("deployment-broken-rolled-back.json", DEPLOYMENT_BROKEN_ROLLED_BACK),
          java.util.Map.entry(
              "deployment-drift-held-abandoned.json", DEPLOYMENT_DRIFT_HELD_ABANDONED),
          java.util.Map.entry("gate-timeout-resume.json", GATE_TIMEOUT_RESUME),
          java.util.Map.entry("gate-timeout-rollback.json", GATE_TIMEOUT_ROLLBACK),
          java.util.Map.entry(
              "gate-timeout-held-then-resumed.json", GATE_TIMEOUT_HELD_THEN_RESUMED),
          java.util.Map.entry("two-approvals.json", TWO_APPROVALS),
          java.util.Map.entry("unchanged.json", UNCHANGED),
          java.util.Map.entry("deployment-refused-by-0.2.0.json", DEPLOYMENT_REFUSED_BY_020),
          java.util.Map.entry("gate-timeout-refused-by-0.2.0.json", GATE_TIMEOUT_REFUSED_BY_020),
          java.util.Map.entry("notified-and-reminded.json", NOTIFIED_AND_REMINDED),
          java.util.Map.entry("hup-release-upgraded.json", HUP_RELEASE_UPGRADED),
          java.util.Map.entry(
              "hup-release-failed-back-in-reverse.json", HUP_RELEASE_FAILED_BACK_IN_REVERSE),
          java.util.Map.entry(
              "deployment-canary-refused-before-canary.json", DEPLOYMENT_CANARY_REFUSED_BEFORE),
          java.util.Map.entry("deployment-canary.json", DEPLOYMENT_CANARY),
          java.util.Map.entry(
              "deployment-bluegreen-refused-before-bluegreen.json",
              DEPLOYMENT_BLUEGREEN_REFUSED_BEFORE),
          java.util.Map.entry("deployment-bluegreen.json", DEPLOYMENT_BLUEGREEN),
          java.util.Map.entry(
              "deployment-bluegreen-rolled-back-after-switch.json",
              DEPLOYMENT_BLUEGREEN_ROLLED_BACK_AFTER_SWITCH),
          java.util.Map.entry(
              "deployment-bluegreen-broken-rolled-back.json",
              DEPLOYMENT_BLUEGREEN_BROKEN_ROLLED_BACK),
          java.util.Map.entry(
              "deployment-canary-cancelled-at-gate.json", DEPLOYMENT_CANARY_CANCELLED_AT_GATE),
          java.util.Map.entry(
              "deployment-canary-broken-rolled-back.json", DEPLOYMENT_CANARY_BROKEN_ROLLED_BACK),
          java.util.Map.entry("notify-defaults-reminded.json", NOTIFY_DEFAULTS_REMINDED),
          java.util.Map.entry(
              "hup-release-hrb-rolled-back-to-revision.json",
              HUP_RELEASE_HRB_ROLLED_BACK_TO_REVISION),
          java.util.Map.entry(
              "hup-release-hrb-rollback-failed.json", HUP_RELEASE_HRB_ROLLBACK_FAILED),
          java.util.Map.entry("chart-notify-opted-out.json", CHART_NOTIFY_OPTED_OUT),
          java.util.Map.entry(
              "hup-release-rwl-added-and-removed.json", HUP_RELEASE_RWL_ADDED_AND_REMOVED),
          java.util.Map.entry(
              "hup-release-rwl-test-failed-restored.json", HUP_RELEASE_RWL_TEST_FAILED_RESTORED));

  /** The workflow id a saved history ran under: its target's, told by the file's name. */
  static String workflowId(String fileName) {
    if (fileName.startsWith("hup-release-")) {
      return Names.workflowId("default", FakeRelease.target());
    }
    return Names.workflowId(
        "default",
        Target.parse(
            fileName.startsWith("deployment-") ? FakeDeployment.TARGET : UpgradeWorkflowTest.TARGET,
            "default"));
  }

  static UpgradeWorkflow stub(WorkflowClient client) {
    return client.newWorkflowStub(
        UpgradeWorkflow.class,
        Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")));
  }

  static UpgradeResult result(WorkflowClient client) {
    return WorkflowStub.fromTyped(stub(client)).getResult(UpgradeResult.class);
  }

  /** Plays a scenario in a fresh test environment and returns the run's history. */
  static History record(String fileName, Scenario scenario) {
    try (TestWorkflowEnvironment env =
        Environments.withSearchAttributes(TestWorkflowEnvironment.newInstance())) {
      Worker worker = env.newWorker(Names.taskQueue("default"));
      worker.registerWorkflowImplementationTypes(
          UpgradeWorkflowImpl.class, ReleaseWorkflowImpl.class);
      // A Deployment's fake plays a StatefulSet as FakeCluster does; a release's, its workloads.
      FakeCluster cluster =
          fileName.startsWith("hup-release-") ? new FakeRelease() : new FakeDeployment(4);
      worker.registerActivitiesImplementations(cluster);
      env.start();
      scenario.play(env.getWorkflowClient(), cluster, env);
      return env.getWorkflowClient().fetchHistory(workflowId(fileName)).getHistory();
    }
  }
}
