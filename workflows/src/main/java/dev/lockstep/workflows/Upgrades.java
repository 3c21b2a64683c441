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
    Verdict verdict = started.awaitVerdict();
    return new Started(execution.getWorkflowId(), execution.getRunId(), verdict);
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
