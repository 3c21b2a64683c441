package dev.lockstep.starter;

import dev.lockstep.workflows.Audit;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradeStatus;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.common.converter.GlobalDataConverter;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lockstep audit TARGET [--run RUN_ID] [-o table|json]}. */
@Command(
    name = "audit",
    mixinStandardHelpOptions = true,
    description = {
      "The timeline of the latest (or the given) run, read from its Temporal history: who started",
      "it with what plan, each step and unit with times, gates and who steered, forced checks,",
      "failures, the outcome."
    })
final class AuditCommand extends Common {
  @Parameters(index = "0", paramLabel = "TARGET", description = "[NAMESPACE/]KIND/NAME")
  String target;

  @Option(names = "--run", paramLabel = "RUN_ID", description = "An earlier run.")
  String run;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "table",
      description = "table (default) or json.")
  String output;

  @Override
  int run() {
    tableOrJson(output);
    Target t = target(target);
    WorkflowClient client = temporal();
    Audit.Report report = report(client, cluster(), t, run);
    try {
      out()
          .print(
              output.equals("json")
                  ? JSON.writeValueAsString(report) + "\n"
                  : Audit.render(report));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new CliFailure(CliFailure.FAILED, "cannot print the audit: " + e.getMessage());
    }
    out().flush();
    return 0;
  }

  /** The audit of a target's latest run, or of {@code runId}. */
  static Audit.Report report(WorkflowClient client, String cluster, Target t, String runId) {
    String workflowId = Names.workflowId(cluster, t);
    WorkflowExecutionHistory history;
    try {
      history =
          runId == null ? client.fetchHistory(workflowId) : client.fetchHistory(workflowId, runId);
    } catch (io.grpc.StatusRuntimeException | io.temporal.client.WorkflowNotFoundException e) {
      throw new CliFailure(
          CliFailure.FAILED,
          "no Lockstep run of "
              + t
              + (runId == null ? "" : " with run id " + runId)
              + " found in cluster "
              + cluster);
    }
    String actualRun = history.getWorkflowExecution().getRunId();
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
    return Audit.of(actualRun, history.getEvents(), GlobalDataConverter.get(), now);
  }
}
