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

  /**
   * Asks the worker of {@code cluster} to read (or repair) the release's records in Helm's storage.
   *
   * @throws java.util.concurrent.TimeoutException when no worker answered within {@code wait} (the
   *     short run is terminated)
   */
  public static ReleaseRecordsWorkflow.Records records(
      WorkflowClient client,
      String cluster,
      Target release,
      ReleaseRecordsWorkflow.Request request,
      java.time.Duration wait)
      throws java.util.concurrent.TimeoutException {
    io.temporal.client.WorkflowStub stub =
        client.newUntypedWorkflowStub(
            "ReleaseRecordsWorkflow",
            WorkflowOptions.newBuilder()
                .setWorkflowId(
                    Names.planWorkflowId(
                        cluster, release, request.action() + "-" + java.util.UUID.randomUUID()))
                .setTaskQueue(Names.taskQueue(cluster))
                .setWorkflowExecutionTimeout(java.time.Duration.ofMinutes(5))
                .build());
    stub.start(request);
    try {
      return stub.getResult(
          wait.toMillis(),
          java.util.concurrent.TimeUnit.MILLISECONDS,
          ReleaseRecordsWorkflow.Records.class);
    } catch (java.util.concurrent.TimeoutException e) {
      stub.terminate("no worker answered in time");
      throw e;
    }
  }

  private static final java.util.regex.Pattern RUN_MARK =
      java.util.regex.Pattern.compile("lockstep run ([0-9A-Za-z-]+)");

  /**
   * Which Lockstep run wrote each revision of the release, by revision: from the release's runs
   * that Temporal still keeps (the revision each one wrote), and from the run a revision's
   * description names (a revision still pending, or one {@code lockstep repair} marked failed).
   * Revisions Helm wrote, or whose run Temporal no longer keeps, are not in it.
   */
  public static java.util.Map<Integer, String> writers(
      WorkflowClient client,
      String cluster,
      Target release,
      java.util.List<HelmActivities.ReleaseRevision> revisions) {
    java.util.Map<Integer, String> writers = new java.util.HashMap<>();
    for (HelmActivities.ReleaseRevision r : revisions) {
      java.util.regex.Matcher m = RUN_MARK.matcher(String.valueOf(r.description()));
      if (m.find()) {
        writers.put(r.revision(), m.group(1));
      }
    }
    String workflowId = Names.workflowId(cluster, release);
    java.util.List<Listing.Found> runs;
    try {
      runs = Listing.runsOf(client, workflowId, "ReleaseWorkflow");
    } catch (RuntimeException e) {
      return writers;
    }
    for (Listing.Found run : runs) {
      ReleaseStatus status = null;
      try {
        if (run.running()) {
          status =
              client
                  .newWorkflowStub(ReleaseWorkflow.class, workflowId, Optional.of(run.runId()))
                  .status();
        } else {
          ReleaseResult result =
              client
                  .newUntypedWorkflowStub(workflowId, Optional.of(run.runId()), Optional.empty())
                  .getResult(5, java.util.concurrent.TimeUnit.SECONDS, ReleaseResult.class);
          status = result == null ? null : result.status();
        }
      } catch (RuntimeException | java.util.concurrent.TimeoutException e) {
        // A run ended outside Lockstep (terminated) has no result: its revision names it, if any.
      }
      if (status != null && status.toRevision() > 0) {
        writers.putIfAbsent(status.toRevision(), run.runId());
      }
    }
    return writers;
  }
}
