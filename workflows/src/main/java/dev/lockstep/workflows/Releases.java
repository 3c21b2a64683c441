package dev.lockstep.workflows;

import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.WorkflowIdConflictPolicy;
import io.temporal.api.enums.v1.WorkflowIdReusePolicy;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowOptions;
import java.util.Optional;

/** Starting and finding the upgrade runs of Helm releases, for the CLI and tests. */
public final class Releases {
  /** The kind of a release target: {@code NAMESPACE/helm/RELEASE}. */
  public static final String KIND = "helm";

  private Releases() {}

  /** The options of a release's run: its id (one run per release), its cluster's queue. */
  public static WorkflowOptions options(ReleaseUpgradeRequest request) {
    return WorkflowOptions.newBuilder()
        .setWorkflowId(Names.workflowId(request.cluster(), request.target()))
        .setTaskQueue(Names.taskQueue(request.cluster()))
        .setWorkflowIdConflictPolicy(WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
        .setWorkflowIdReusePolicy(WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE)
        .build();
  }

  /**
   * Starts the release's upgrade and waits for its verdict (planned and held, or refused having
   * changed nothing).
   *
   * @throws Upgrades.TargetBusy when a run of the release is going on
   */
  public static Upgrades.Started start(WorkflowClient client, ReleaseUpgradeRequest request) {
    return start(client, request, null);
  }

  /**
   * As {@link #start(WorkflowClient, ReleaseUpgradeRequest)}, waiting at most {@code
   * verdictTimeout} (null: for ever) for a worker to plan it.
   *
   * @throws Upgrades.NoWorker when no worker answered in time (the run stays started)
   */
  public static Upgrades.Started start(
      WorkflowClient client, ReleaseUpgradeRequest request, java.time.Duration verdictTimeout) {
    WorkflowOptions options = options(request);
    ReleaseWorkflow workflow = client.newWorkflowStub(ReleaseWorkflow.class, options);
    WorkflowExecution execution;
    try {
      execution = WorkflowClient.start(workflow::run, request);
    } catch (WorkflowExecutionAlreadyStarted e) {
      throw new Upgrades.TargetBusy(options.getWorkflowId(), e.getExecution().getRunId());
    }
    ReleaseWorkflow started =
        client.newWorkflowStub(
            ReleaseWorkflow.class, execution.getWorkflowId(), Optional.of(execution.getRunId()));
    Verdict verdict;
    try {
      verdict =
          Upgrades.verdict(started::awaitVerdict, execution, request.cluster(), verdictTimeout);
    } catch (io.temporal.client.WorkflowNotFoundException e) {
      ReleaseResult result =
          client
              .newUntypedWorkflowStub(
                  execution.getWorkflowId(), Optional.of(execution.getRunId()), Optional.empty())
              .getResult(ReleaseResult.class);
      verdict = result.verdict();
    }
    return new Upgrades.Started(execution.getWorkflowId(), execution.getRunId(), verdict);
  }

  /** The latest run of a release, to query or steer. */
  public static ReleaseWorkflow of(WorkflowClient client, String cluster, Target release) {
    return client.newWorkflowStub(ReleaseWorkflow.class, Names.workflowId(cluster, release));
  }
}
