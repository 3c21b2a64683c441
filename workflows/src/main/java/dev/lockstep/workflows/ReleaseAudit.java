package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.common.converter.DataConverter;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;

/**
 * {@code lockstep audit NAMESPACE/helm/RELEASE}: the release run's timeline (who started it, the
 * release held, hooks, objects, each workload's child run and how it ended, who steered, the
 * revision written), then each child run's own audit, in the order the children ran. Read from the
 * Temporal histories alone.
 */
public final class ReleaseAudit {
  private ReleaseAudit() {}

  /**
   * The audit of a release's run.
   *
   * @param what {@code upgrade to CHART} or {@code rollback to revision N}
   * @param entries the release run's own facts, in order
   * @param children each workload's run, in the order they started
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Report(
      String target,
      String cluster,
      String runId,
      String startedBy,
      String reason,
      String what,
      String outcome,
      String message,
      List<Audit.Entry> entries,
      List<Child> children) {}

  /** One workload's run under the release's. */
  public record Child(String workflowId, String runId, Audit.Report audit) {}

  /**
   * Reads a release run's history and, through {@code childHistory} (workflow id, run id), those of
   * its children.
   */
  public static Report of(
      String runId,
      List<HistoryEvent> events,
      DataConverter converter,
      ReleaseStatus now,
      BiFunction<String, String, List<HistoryEvent>> childHistory) {
    List<Audit.Entry> entries = new ArrayList<>();
    Map<Long, String[]> scheduled = new HashMap<>();
    Map<Long, Payloads> inputs = new HashMap<>();
    Map<Long, String> childIds = new HashMap<>();
    List<String[]> children = new ArrayList<>();
    ReleaseUpgradeRequest request = null;
    String outcome = now == null ? null : String.valueOf(now.phase());
    String message = now == null ? null : now.message();
    String what = null;
    for (HistoryEvent e : events) {
      Instant at =
          Instant.ofEpochSecond(e.getEventTime().getSeconds(), e.getEventTime().getNanos());
      switch (e.getEventType()) {
        case EVENT_TYPE_WORKFLOW_EXECUTION_STARTED -> {
          var a = e.getWorkflowExecutionStartedEventAttributes();
          request = first(converter, a.getInput(), ReleaseUpgradeRequest.class);
          what =
              request.isRollback()
                  ? "rollback to revision " + request.rollbackTo()
                  : "upgrade to "
                      + (request.release().chart() == null ? "?" : request.release().chart().name())
                      + (request.release().version() == null
                          ? ""
                          : " " + request.release().version());
          entries.add(
              new Audit.Entry(
                  text(at),
                  null,
                  "started",
                  "",
                  request.identity(),
                  request.reason(),
                  what
                      + ", gate "
                      + request
                          .workloads()
                          .effectiveGate()
                          .name()
                          .toLowerCase(java.util.Locale.ROOT)
                      + (request.gates().isEmpty() ? "" : " " + request.gates())));
        }
        case EVENT_TYPE_ACTIVITY_TASK_SCHEDULED -> {
          var a = e.getActivityTaskScheduledEventAttributes();
          scheduled.put(
              e.getEventId(), new String[] {a.getActivityType().getName(), at.toString()});
          inputs.put(e.getEventId(), a.getInput());
        }
        case EVENT_TYPE_ACTIVITY_TASK_COMPLETED -> {
          var a = e.getActivityTaskCompletedEventAttributes();
          String[] s = scheduled.get(a.getScheduledEventId());
          if (s != null) {
            Audit.Entry entry =
                completed(
                    s[0],
                    Instant.parse(s[1]),
                    at,
                    inputs.get(a.getScheduledEventId()),
                    a.hasResult() ? a.getResult() : null,
                    converter);
            if (entry != null) {
              entries.add(entry);
            }
          }
        }
        case EVENT_TYPE_ACTIVITY_TASK_FAILED -> {
          var a = e.getActivityTaskFailedEventAttributes();
          String[] s = scheduled.get(a.getScheduledEventId());
          entries.add(
              new Audit.Entry(
                  text(at),
                  null,
                  "failed",
                  s == null ? "" : step(s[0]),
                  null,
                  null,
                  a.getFailure().getMessage()));
        }
        case EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED ->
            childIds.put(
                e.getEventId(),
                e.getStartChildWorkflowExecutionInitiatedEventAttributes().getWorkflowId());
        case EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED -> {
          var a = e.getChildWorkflowExecutionStartedEventAttributes();
          String id = a.getWorkflowExecution().getWorkflowId();
          String child = a.getWorkflowExecution().getRunId();
          children.add(new String[] {id, child});
          entries.add(new Audit.Entry(text(at), null, "workload", id, null, null, "run " + child));
        }
        case EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED -> {
          var a = e.getChildWorkflowExecutionCompletedEventAttributes();
          UpgradeResult r = first(converter, a.getResult(), UpgradeResult.class);
          entries.add(
              new Audit.Entry(
                  text(at),
                  null,
                  "workload",
                  a.getWorkflowExecution().getWorkflowId(),
                  null,
                  null,
                  r == null ? "ended" : r.phase() + ": " + r.message()));
        }
        case EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
            EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
            EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
            EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT ->
            entries.add(
                new Audit.Entry(
                    text(at),
                    null,
                    "workload",
                    childIds.values().stream().reduce((x, y) -> y).orElse(""),
                    null,
                    null,
                    e.getEventType()
                        .name()
                        .replace("EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_", "")
                        .toLowerCase(java.util.Locale.ROOT)));
        case EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED -> {
          var a = e.getWorkflowExecutionUpdateAcceptedEventAttributes();
          String name = a.getAcceptedRequest().getInput().getName();
          if (!name.equals("awaitVerdict")) {
            SteerRequest who =
                first(converter, a.getAcceptedRequest().getInput().getArgs(), SteerRequest.class);
            entries.add(
                new Audit.Entry(text(at), null, name, "", who.identity(), who.reason(), null));
          }
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED -> {
          var a = e.getWorkflowExecutionSignaledEventAttributes();
          SteerRequest who = first(converter, a.getInput(), SteerRequest.class);
          entries.add(
              new Audit.Entry(
                  text(at),
                  null,
                  a.getSignalName(),
                  "",
                  who == null ? null : who.identity(),
                  who == null ? null : who.reason(),
                  "by signal"));
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED -> {
          var a = e.getWorkflowExecutionCompletedEventAttributes();
          ReleaseResult r = first(converter, a.getResult(), ReleaseResult.class);
          if (r != null) {
            outcome = String.valueOf(r.phase());
            message = r.message();
            entries.add(
                new Audit.Entry(
                    text(at), null, "outcome", "", null, null, outcome + ": " + message));
          }
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED -> {
          outcome = "TERMINATED";
          message = e.getWorkflowExecutionTerminatedEventAttributes().getReason();
          entries.add(
              new Audit.Entry(text(at), null, "outcome", "", null, null, "terminated: " + message));
        }
        default -> {}
      }
    }
    List<Child> audits = new ArrayList<>();
    for (String[] c : children) {
      audits.add(
          new Child(c[0], c[1], Audit.of(c[1], childHistory.apply(c[0], c[1]), converter, null)));
    }
    return new Report(
        request == null ? null : request.target().toString(),
        request == null ? null : request.cluster(),
        runId,
        request == null ? null : request.identity(),
        request == null ? null : request.reason(),
        what,
        outcome,
        message,
        entries,
        audits);
  }

  private static Audit.Entry completed(
      String type,
      Instant scheduledAt,
      Instant at,
      Payloads input,
      Payloads result,
      DataConverter converter) {
    long millis = Duration.between(scheduledAt, at).toMillis();
    String time = text(scheduledAt);
    return switch (type) {
      case "HelmBeginUpgrade", "HelmBeginRollback" -> {
        HelmActivities.PendingUpgrade held =
            first(converter, result, HelmActivities.PendingUpgrade.class);
        boolean refused = held == null || !held.plan().problems().isEmpty();
        yield new Audit.Entry(
            time,
            millis,
            "hold",
            "",
            null,
            null,
            refused
                ? "refused, nothing written: "
                    + (held == null ? "" : String.join("; ", held.plan().problems()))
                : "revision "
                    + held.toRevision()
                    + (type.endsWith("Rollback") ? " pending-rollback" : " pending-upgrade")
                    + " from revision "
                    + held.fromRevision()
                    + " ("
                    + held.plan().fromChart()
                    + " -> "
                    + held.plan().toChart()
                    + "), "
                    + held.workloads().size()
                    + " workload(s) to move");
      }
      case "HelmMoveObjects" -> {
        HelmActivities.ObjectsRequest r =
            first(converter, input, HelmActivities.ObjectsRequest.class);
        List<?> moved = first(converter, result, List.class);
        yield new Audit.Entry(
            time,
            millis,
            "objects",
            "",
            null,
            null,
            "revision "
                + r.fromRevision()
                + " -> "
                + r.toRevision()
                + ": "
                + (moved == null || moved.isEmpty() ? "nothing to change" : moved));
      }
      case "HelmRunHooks" -> {
        HelmActivities.HooksRequest r = first(converter, input, HelmActivities.HooksRequest.class);
        List<?> ran = first(converter, result, List.class);
        yield new Audit.Entry(
            time,
            millis,
            "hooks",
            r.event(),
            null,
            null,
            ran == null || ran.isEmpty() ? "none" : String.valueOf(ran));
      }
      case "HelmPlaceWorkload" -> {
        HelmActivities.WorkloadPresence r =
            first(converter, input, HelmActivities.WorkloadPresence.class);
        String done = first(converter, result, String.class);
        yield new Audit.Entry(
            time,
            millis,
            "workload",
            r.key(),
            null,
            null,
            done != null ? done : r.key() + (r.present() ? " created" : " deleted"));
      }
      case "RunHook" ->
          new Audit.Entry(time, millis, "backup", "", null, null, "backup hook completed");
      case "HelmFinishUpgrade" -> {
        HelmActivities.FinishRequest r =
            first(converter, input, HelmActivities.FinishRequest.class);
        yield new Audit.Entry(
            time,
            millis,
            "finish",
            "",
            null,
            null,
            r.deployed()
                ? "revision "
                    + r.toRevision()
                    + " deployed"
                    + (r.description() == null ? "" : " (\"" + r.description() + "\")")
                : "revision " + r.toRevision() + " failed (\"" + r.description() + "\")");
      }
      default -> null;
    };
  }

  private static String step(String type) {
    return type.startsWith("Helm") ? type.substring(4) : type;
  }

  private static <T> T first(DataConverter converter, Payloads payloads, Class<T> type) {
    if (payloads == null || payloads.getPayloadsCount() == 0) {
      return null;
    }
    return converter.fromPayloads(0, Optional.of(payloads), type, type);
  }

  private static String text(Instant at) {
    return at.truncatedTo(ChronoUnit.MILLIS).toString();
  }

  /** The release run's table, then each workload's run's. */
  public static String render(Report r) {
    StringBuilder out = new StringBuilder();
    out.append("Audit of ")
        .append(r.target())
        .append(", run ")
        .append(r.runId())
        .append(" (cluster ")
        .append(r.cluster())
        .append("): ")
        .append(r.what())
        .append('\n')
        .append("Outcome: ")
        .append(r.outcome() == null ? "RUNNING" : r.outcome())
        .append(r.message() == null ? "" : ": " + r.message())
        .append("\n\n");
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("Time", "Took", "What", "Subject", "Who", "Detail"));
    for (Audit.Entry e : r.entries()) {
      String detail =
          (e.reason() == null || e.reason().isEmpty() ? "" : "\"" + e.reason() + "\" ")
              + (e.detail() == null ? "" : e.detail());
      rows.add(
          List.of(
              e.time() == null ? "" : e.time(),
              e.millis() == null ? "" : e.millis() + "ms",
              e.what(),
              e.subject() == null ? "" : e.subject(),
              e.who() == null ? "" : e.who(),
              detail.strip()));
    }
    out.append(StatusTable.columns(rows));
    for (Child c : r.children()) {
      out.append("\n--- ").append(c.workflowId()).append(" ---\n");
      out.append(Audit.render(c.audit()));
    }
    return out.toString();
  }
}
