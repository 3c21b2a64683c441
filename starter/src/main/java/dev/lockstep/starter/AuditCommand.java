package dev.lockstep.starter;

import dev.lockstep.workflows.Audit;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.ReleaseAudit;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradeStatus;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.common.WorkflowExecutionHistory;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lockstep audit TARGET [--run RUN_ID] [-o table|json|yaml]}. */
@Command(
    name = "audit",
    footerHeading = "%nExamples:%n",
    footer = {
      "  lockstep audit demo/statefulset/postgresql",
      "  lockstep audit demo/sts/postgresql --run 2ee885bf-d915-440a-b478-d67355ee4cf2 -o json",
      "  lockstep audit demo-helm/helm/ghostwire"
    },
    mixinStandardHelpOptions = true,
    description =
        "The timeline of the latest (or the given) run, read from its Temporal history: who started it with what plan, each step and unit with times, gates and who steered, forced checks, failures, the outcome. For a Helm release (NAMESPACE/helm/RELEASE): the release's run (the revision held, hooks, objects, each workload's run and how it ended, who steered, the revision written), then each workload's run's own audit, in the order they ran.")
final class AuditCommand extends Common {
  @Parameters(index = "0", paramLabel = "TARGET", description = "[NAMESPACE/]KIND/NAME")
  String target;

  @Option(names = "--run", paramLabel = "RUN_ID", description = "An earlier run.")
  String run;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "table",
      description = "table (default), json or yaml.")
  String output;

  @Override
  int run() {
    checkOutput(output);
    Target release = ReleaseCommands.releaseOf(target, defaultNamespace());
    if (release != null) {
      WorkflowClient client = temporal();
      ReleaseAudit.Report report = releaseReport(client, cluster(), release, run);
      print(output, report, () -> ReleaseAudit.render(report));
      return 0;
    }
    Target t = target(target);
    WorkflowClient client = temporal();
    Audit.Report report = report(client, cluster(), t, run);
    print(output, report, () -> Audit.render(report));
    return 0;
  }

  /** The audit of a target's latest run, or of {@code runId}. */
  static Audit.Report report(WorkflowClient client, String cluster, Target t, String runId) {
    String workflowId = Names.workflowId(cluster, t);
    WorkflowExecutionHistory history;
    String actualRun;
    try {
      // The latest run's id from Temporal itself: a history fetched without one carries a
      // placeholder ("run_id_in_replay"), not the run's id.
      String counted =
          runId != null
              ? runId
              : dev.lockstep.workflows.Listing.counted(client, workflowId).orElse(null);
      actualRun =
          counted != null
              ? counted
              : client.newUntypedWorkflowStub(workflowId).describe().getExecution().getRunId();
      history = client.fetchHistory(workflowId, actualRun);
    } catch (io.grpc.StatusRuntimeException | io.temporal.client.WorkflowNotFoundException e) {
      if (Common.transportCause(e) != null && !notFound(Common.transportCause(e))) {
        throw e;
      }
      if (runId == null) {
        // No run at all: said as every command says it (Common), the missing target included.
        throw new io.temporal.client.WorkflowNotFoundException(
            io.temporal.api.common.v1.WorkflowExecution.newBuilder()
                .setWorkflowId(workflowId)
                .build(),
            "UpgradeWorkflow",
            e);
      }
      throw new CliFailure(
          CliFailure.FAILED,
          "no Lockstep run of "
              + t
              + (runId == null ? "" : " with run id " + runId)
              + " found in cluster "
              + cluster);
    }
    UpgradeStatus now = null;
    var description = client.newUntypedWorkflowStub(workflowId).describe();
    if (description.getStatus() == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        && description.getExecution().getRunId().equals(actualRun)) {
      // Its phase now, from the worker; the history alone says what happened so far.
      CompletableFuture<UpgradeStatus> status =
          CompletableFuture.supplyAsync(
              () -> StatusCommand.stub(client, cluster, t, actualRun).status());
      try {
        now = status.get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        status.cancel(true);
      }
    }
    return Audit.of(actualRun, history.getEvents(), client.getOptions().getDataConverter(), now);
  }

  /** The audit of a release's latest run (or of {@code runId}) and of its children's. */
  static ReleaseAudit.Report releaseReport(
      WorkflowClient client, String cluster, Target release, String runId) {
    String workflowId = Names.workflowId(cluster, release);
    String actualRun;
    WorkflowExecutionHistory history;
    try {
      actualRun =
          runId != null
              ? runId
              : client.newUntypedWorkflowStub(workflowId).describe().getExecution().getRunId();
      history = client.fetchHistory(workflowId, actualRun);
    } catch (io.grpc.StatusRuntimeException | io.temporal.client.WorkflowNotFoundException e) {
      if (Common.transportCause(e) != null && !notFound(Common.transportCause(e))) {
        throw e;
      }
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "no Lockstep run of "
              + release
              + (runId == null ? "" : " with run id " + runId)
              + " found in cluster "
              + cluster);
    }
    dev.lockstep.workflows.ReleaseStatus now = null;
    var description = client.newUntypedWorkflowStub(workflowId).describe();
    if (description.getStatus() == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        && description.getExecution().getRunId().equals(actualRun)) {
      CompletableFuture<dev.lockstep.workflows.ReleaseStatus> status =
          CompletableFuture.supplyAsync(() -> ReleaseCommands.status(client, cluster, release));
      try {
        now = status.get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        status.cancel(true);
      }
    }
    return ReleaseAudit.of(
        actualRun,
        history.getEvents(),
        client.getOptions().getDataConverter(),
        now,
        (id, child) -> client.fetchHistory(id, child).getEvents());
  }

  private static boolean notFound(io.grpc.StatusRuntimeException e) {
    return e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND
        || e.getStatus().getCode() == io.grpc.Status.Code.INVALID_ARGUMENT;
  }
}
