package dev.lockstep.workflows;

import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.WorkflowIdConflictPolicy;
import io.temporal.api.enums.v1.WorkflowIdReusePolicy;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;

/** Starting upgrades, for the CLI and tests: one running upgrade per target, by workflow id. */
public final class Upgrades {
  private Upgrades() {}

  /** Another upgrade holds the target. */
  public static final class TargetBusy extends RuntimeException {
    private final String workflowId;
    private final String runId;

    TargetBusy(String workflowId, String runId) {
      super("another upgrade of this target is running: workflow " + workflowId + ", run " + runId);
      this.workflowId = workflowId;
      this.runId = runId;
    }

    public String workflowId() {
      return workflowId;
    }

    public String runId() {
      return runId;
    }
  }

  /** The upgrade started, but no worker of its cluster answered in time. */
  public static final class NoWorker extends RuntimeException {
    private final String runId;

    NoWorker(String workflowId, String runId, String cluster) {
      super(
          "the upgrade is started ("
              + workflowId
              + ", run "
              + runId
              + ") but no worker of cluster "
              + cluster
              + " answered: start one with `lockstep worker --cluster "
              + cluster
              + "`; the upgrade goes on when it does");
      this.runId = runId;
    }

    public String runId() {
      return runId;
    }
  }

  /** A started upgrade and the worker's verdict on its plan. */
  public record Started(String workflowId, String runId, Verdict verdict) {}

  /** The options of the upgrade of a plan's target: its id, its cluster's queue, the lock. */
  public static WorkflowOptions options(UpgradePlan plan) {
    Target target = Target.parse(plan.target(), "default");
    String cluster = plan.effectiveCluster();
    return WorkflowOptions.newBuilder()
        .setWorkflowId(Names.workflowId(cluster, target))
        .setTaskQueue(Names.taskQueue(cluster))
        // A second upgrade while one runs is refused; a finished one never blocks the next.
        .setWorkflowIdConflictPolicy(WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
        .setWorkflowIdReusePolicy(WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE)
        .build();
  }

  /**
   * Starts the upgrade and waits for the worker's verdict (the plan checked against the cluster,
   * nothing changed yet).
   *
   * @throws TargetBusy when another upgrade of the target is running
   */
  public static Started start(WorkflowClient client, UpgradeRequest request) {
    return start(client, request, null);
  }

  /**
   * As {@link #start(WorkflowClient, UpgradeRequest)}, waiting at most {@code verdictTimeout} (null
   * for ever) for the worker's verdict.
   *
   * @throws NoWorker when no worker answered in time (the upgrade stays started)
   */
  public static Started start(
      WorkflowClient client, UpgradeRequest request, java.time.Duration verdictTimeout) {
    WorkflowOptions options = options(request.plan());
    UpgradeWorkflow workflow = client.newWorkflowStub(UpgradeWorkflow.class, options);
    WorkflowExecution execution;
    try {
      execution = WorkflowClient.start(workflow::run, request);
    } catch (WorkflowExecutionAlreadyStarted e) {
      throw new TargetBusy(options.getWorkflowId(), e.getExecution().getRunId());
    }
    UpgradeWorkflow started =
        client.newWorkflowStub(
            UpgradeWorkflow.class,
            execution.getWorkflowId(),
            java.util.Optional.of(execution.getRunId()));
    Verdict verdict;
    try {
      verdict = verdict(started, request, execution, verdictTimeout);
    } catch (io.temporal.client.WorkflowNotFoundException e) {
      // The run ended before it could be asked (a plan refused in its first step): its result
      // says why.
      UpgradeResult result =
          client
              .newUntypedWorkflowStub(
                  execution.getWorkflowId(),
                  java.util.Optional.of(execution.getRunId()),
                  java.util.Optional.empty())
              .getResult(UpgradeResult.class);
      verdict =
          result.verdict() != null ? result.verdict() : Verdict.notInspected(result.message());
    }
    return new Started(execution.getWorkflowId(), execution.getRunId(), verdict);
  }

  private static Verdict verdict(
      UpgradeWorkflow started,
      UpgradeRequest request,
      WorkflowExecution execution,
      java.time.Duration verdictTimeout) {
    return verdict(
        started::awaitVerdict, execution, request.plan().effectiveCluster(), verdictTimeout);
  }

  /**
   * A run's verdict, waiting at most {@code verdictTimeout} (null: as long as it takes) for a
   * worker of {@code cluster} to give it.
   *
   * @throws NoWorker when none answered in time
   */
  static Verdict verdict(
      java.util.function.Supplier<Verdict> awaitVerdict,
      WorkflowExecution execution,
      String cluster,
      java.time.Duration verdictTimeout) {
    Verdict verdict;
    if (verdictTimeout == null) {
      verdict = awaitVerdict.get();
    } else {
      java.util.concurrent.CompletableFuture<Verdict> answer =
          java.util.concurrent.CompletableFuture.supplyAsync(awaitVerdict);
      try {
        verdict = answer.get(verdictTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        answer.cancel(true);
        throw new NoWorker(execution.getWorkflowId(), execution.getRunId(), cluster);
      } catch (java.util.concurrent.ExecutionException e) {
        throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    return verdict;
  }

  /** The running (or latest) upgrade of a target, to query or steer. */
  public static UpgradeWorkflow of(WorkflowClient client, String cluster, Target target) {
    return client.newWorkflowStub(UpgradeWorkflow.class, Names.workflowId(cluster, target));
  }

  /** The untyped stub of the latest run of a target, e.g. to wait for its result. */
  public static WorkflowStub untyped(WorkflowClient client, String cluster, Target target) {
    return client.newUntypedWorkflowStub(Names.workflowId(cluster, target));
  }
}
