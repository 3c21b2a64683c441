package dev.lockstep.workflows;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.filter.v1.StartTimeFilter;
import io.temporal.api.filter.v1.WorkflowTypeFilter;
import io.temporal.api.workflow.v1.WorkflowExecutionInfo;
import io.temporal.api.workflowservice.v1.ListClosedWorkflowExecutionsRequest;
import io.temporal.api.workflowservice.v1.ListOpenWorkflowExecutionsRequest;
import io.temporal.client.WorkflowClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * {@code lockstep list}: the upgrades of a cluster. Finds them through Temporal visibility (the
 * {@link SearchAttributes} every upgrade upserts) where the server has it; the Java test server
 * behind the dev stack has no visibility queries, so there it lists open and closed executions of
 * the upgrade workflow type instead. {@link #find} alone decides which.
 */
public final class Listing {
  private Listing() {}

  /** How the upgrades were found. */
  public enum Source {
    /** A visibility query on Lockstep's search attributes. */
    VISIBILITY,
    /** Open and closed executions of the workflow type (the test server). */
    OPEN_AND_CLOSED
  }

  /** One execution found: its ids, whether it runs, when it started. */
  public record Found(String workflowId, String runId, boolean running, Instant startedAt) {}

  /**
   * One upgrade.
   *
   * @param target the target
   * @param runId its run
   * @param phase its phase (RUNNING when its worker did not answer; TERMINATED and the like when it
   *     ended outside Lockstep)
   * @param upgraded units upgraded so far
   * @param units units in all
   * @param waitingFor what it waits for, when it waits for someone
   * @param startedAt when it started
   * @param age how long ago it started
   * @param message its message
   */
  public record Row(
      String target,
      String runId,
      String phase,
      int upgraded,
      int units,
      String waitingFor,
      String startedAt,
      String age,
      String message) {}

  /** The upgrades found, and how. */
  public record Result(Source source, List<Row> rows) {}

  /** The executions found, and how. */
  public record Executions(Source source, List<Found> found) {}

  /** The visibility query for a cluster's upgrades (running only unless {@code all}). */
  public static String query(String cluster, boolean all) {
    return "WorkflowType = 'UpgradeWorkflow' AND "
        + SearchAttributes.CLUSTER.getName()
        + " = '"
        + cluster.replace("'", "")
        + "'"
        + (all ? "" : " AND ExecutionStatus = 'Running'");
  }

  /**
   * Finds executions with the visibility query, or, where the server has no visibility queries
   * (UNIMPLEMENTED), with the fallback. The one place that decides.
   */
  public static Executions find(
      Supplier<List<Found>> visibility, Supplier<List<Found>> openAndClosed) {
    try {
      return new Executions(Source.VISIBILITY, visibility.get());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
        throw e;
      }
      return new Executions(Source.OPEN_AND_CLOSED, openAndClosed.get());
    }
  }

  /** The upgrades of {@code cluster} (in {@code namespace}, when given). */
  public static Result list(
      WorkflowClient client, String cluster, String namespace, boolean all, Instant now) {
    Executions how =
        find(
            () ->
                client
                    .listExecutions(query(cluster, all))
                    .map(
                        m ->
                            new Found(
                                m.getExecution().getWorkflowId(),
                                m.getExecution().getRunId(),
                                m.getStatus()
                                    == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
                                m.getStartTime()))
                    .toList(),
            () -> openAndClosed(client, all));
    String prefix =
        Names.WORKFLOW_ID_PREFIX + cluster + "/" + (namespace == null ? "" : namespace + "/");
    List<CompletableFuture<Row>> rows = new ArrayList<>();
    for (Found f : how.found()) {
      if (f.workflowId().startsWith(prefix)) {
        rows.add(CompletableFuture.supplyAsync(() -> row(client, f, now)));
      }
    }
    List<Row> result = new ArrayList<>();
    for (CompletableFuture<Row> row : rows) {
      result.add(row.join());
    }
    result.sort(
        Comparator.comparing((Row r) -> r.startedAt() == null ? "" : r.startedAt()).reversed());
    return new Result(how.source(), result);
  }

  /**
   * The run a command means when it names none: the running one, else the latest that got past its
   * checks. A run turned down before any change (an invalid plan, failed pre-checks, a held target,
   * a target that already runs the change) does not displace the run before it in {@code status},
   * {@code resume}, {@code rollback} or {@code audit} (issue 20). Empty when that is the latest
   * run, or when the target has no run at all (the caller's own call then says so).
   */
  public static Optional<String> counted(WorkflowClient client, String workflowId) {
    try {
      // The common case in one call: a running run is the one.
      if (client.newUntypedWorkflowStub(workflowId).describe().getStatus()
          == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
        return Optional.empty();
      }
    } catch (io.temporal.client.WorkflowNotFoundException e) {
      return Optional.empty();
    }
    List<Found> runs = new ArrayList<>(runsOf(client, workflowId));
    runs.sort(
        Comparator.comparing((Found f) -> f.startedAt() == null ? Instant.MIN : f.startedAt())
            .reversed());
    for (Found f : runs) {
      if (f.running() || changedSomething(client, f)) {
        return f == runs.get(0) ? Optional.empty() : Optional.of(f.runId());
      }
    }
    return Optional.empty();
  }

  /**
   * The targets Lockstep has run on in a cluster ({@code NAMESPACE/KIND/NAME}), from the runs' ids
   * alone (no status is asked): what a "did you mean" chooses from.
   */
  public static List<String> targets(WorkflowClient client, String cluster) {
    String prefix = Names.WORKFLOW_ID_PREFIX + cluster + "/";
    return find(
            () ->
                client
                    .listExecutions(query(cluster, true))
                    .map(
                        m ->
                            new Found(
                                m.getExecution().getWorkflowId(),
                                m.getExecution().getRunId(),
                                false,
                                m.getStartTime()))
                    .toList(),
            () -> openAndClosed(client, true))
        .found()
        .stream()
        .map(Found::workflowId)
        .filter(id -> id.startsWith(prefix))
        .map(id -> id.substring(prefix.length()))
        .distinct()
        .toList();
  }

  /** Every run of one workflow id, running or ended, in no particular order. */
  static List<Found> runsOf(WorkflowClient client, String workflowId) {
    return runsOf(client, workflowId, "UpgradeWorkflow");
  }

  /**
   * Whether an ended run got past its checks: its verdict accepted the plan. A run without a
   * readable result (terminated, timed out) is counted: it may have changed something.
   */
  private static boolean changedSomething(WorkflowClient client, Found f) {
    try {
      UpgradeResult result =
          client
              .newUntypedWorkflowStub(f.workflowId(), Optional.of(f.runId()), Optional.empty())
              .getResult(5, TimeUnit.SECONDS, UpgradeResult.class);
      return result.verdict() == null || result.verdict().valid();
    } catch (java.util.concurrent.TimeoutException | RuntimeException e) {
      return true;
    }
  }

  private static final StartTimeFilter ALL_TIME =
      StartTimeFilter.newBuilder()
          .setEarliestTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(0))
          .setLatestTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(253402300799L))
          .build();

  private static List<Found> openAndClosed(WorkflowClient client, boolean all) {
    return openAndClosed(client, all, "UpgradeWorkflow");
  }

  /** The runs of one workflow id of a given type (a release's: {@code ReleaseWorkflow}). */
  static List<Found> runsOf(WorkflowClient client, String workflowId, String workflowType) {
    return find(
            () ->
                client
                    .listExecutions("WorkflowId = '" + workflowId.replace("'", "") + "'")
                    .map(
                        m ->
                            new Found(
                                m.getExecution().getWorkflowId(),
                                m.getExecution().getRunId(),
                                m.getStatus()
                                    == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
                                m.getStartTime()))
                    .toList(),
            () ->
                openAndClosed(client, true, workflowType).stream()
                    .filter(f -> f.workflowId().equals(workflowId))
                    .toList())
        .found();
  }

  private static List<Found> openAndClosed(
      WorkflowClient client, boolean all, String workflowType) {
    var stub = client.getWorkflowServiceStubs().blockingStub();
    String namespace = client.getOptions().getNamespace();
    WorkflowTypeFilter type = WorkflowTypeFilter.newBuilder().setName(workflowType).build();
    List<Found> found = new ArrayList<>();
    for (WorkflowExecutionInfo info :
        stub.listOpenWorkflowExecutions(
                ListOpenWorkflowExecutionsRequest.newBuilder()
                    .setNamespace(namespace)
                    .setMaximumPageSize(1000)
                    .setTypeFilter(type)
                    .setStartTimeFilter(ALL_TIME)
                    .build())
            .getExecutionsList()) {
      found.add(found(info, true));
    }
    if (all) {
      for (WorkflowExecutionInfo info :
          stub.listClosedWorkflowExecutions(
                  ListClosedWorkflowExecutionsRequest.newBuilder()
                      .setNamespace(namespace)
                      .setMaximumPageSize(1000)
                      .setTypeFilter(type)
                      .setStartTimeFilter(ALL_TIME)
                      .build())
              .getExecutionsList()) {
        found.add(found(info, false));
      }
    }
    return found;
  }

  private static Found found(WorkflowExecutionInfo info, boolean running) {
    WorkflowExecution e = info.getExecution();
    return new Found(
        e.getWorkflowId(),
        e.getRunId(),
        running,
        Instant.ofEpochSecond(info.getStartTime().getSeconds(), info.getStartTime().getNanos()));
  }

  /** The row of one execution: its status from the worker (running) or its result (ended). */
  private static Row row(WorkflowClient client, Found f, Instant now) {
    UpgradeStatus status = null;
    String phase;
    try {
      if (f.running()) {
        CompletableFuture<UpgradeStatus> query =
            CompletableFuture.supplyAsync(
                () ->
                    client
                        .newWorkflowStub(
                            UpgradeWorkflow.class, f.workflowId(), Optional.of(f.runId()))
                        .status());
        status = query.get(10, TimeUnit.SECONDS);
      } else {
        UpgradeResult result =
            client
                .newUntypedWorkflowStub(f.workflowId(), Optional.of(f.runId()), Optional.empty())
                .getResult(5, TimeUnit.SECONDS, UpgradeResult.class);
        status = result.status();
      }
    } catch (Exception e) {
      status = null;
    }
    if (status == null) {
      phase = f.running() ? "RUNNING" : ended(client, f);
      String target =
          f.workflowId()
              .substring(f.workflowId().indexOf('/', Names.WORKFLOW_ID_PREFIX.length()) + 1);
      return new Row(
          target,
          f.runId(),
          phase,
          0,
          0,
          f.running() ? "no answer from a worker" : "",
          f.startedAt() == null ? null : f.startedAt().toString(),
          age(f.startedAt(), now),
          "");
    }
    long upgraded = status.units().stream().filter(u -> u.state() == UnitState.UPGRADED).count();
    String waiting =
        switch (status.phase()) {
          case WAITING_FOR_RESUME, PAUSED -> "lockstep resume";
          case HELD -> "lockstep retry | rollback | abandon";
          default -> "";
        };
    return new Row(
        status.target(),
        f.runId(),
        status.phase().name(),
        (int) upgraded,
        status.units().size(),
        waiting,
        status.startedAt(),
        age(f.startedAt(), now),
        status.message());
  }

  private static String ended(WorkflowClient client, Found f) {
    try {
      return client
          .newUntypedWorkflowStub(f.workflowId(), Optional.of(f.runId()), Optional.empty())
          .describe()
          .getStatus()
          .name()
          .replace("WORKFLOW_EXECUTION_STATUS_", "");
    } catch (RuntimeException e) {
      return "ENDED";
    }
  }

  private static String age(Instant startedAt, Instant now) {
    if (startedAt == null) {
      return "";
    }
    return Durations.format(
        Duration.between(startedAt, now).truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
  }

  /** The rows as a table. */
  public static String render(List<Row> rows) {
    List<List<String>> table = new ArrayList<>();
    table.add(List.of("Target", "Phase", "Units", "Waiting for", "Age", "Run"));
    for (Row r : rows) {
      table.add(
          List.of(
              r.target(),
              r.phase(),
              r.units() == 0 ? "" : r.upgraded() + "/" + r.units(),
              r.waitingFor(),
              r.age(),
              r.runId()));
    }
    return StatusTable.columns(table);
  }
}
