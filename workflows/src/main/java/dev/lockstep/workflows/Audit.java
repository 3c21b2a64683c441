package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.enums.v1.EventType;
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

/**
 * The story of one upgrade run, read from its Temporal workflow history: who started it with what
 * plan, each step with its start and duration, each unit's replacement, gates and who steered,
 * forced checks, failures and the outcome. Pure: it reads events, never the cluster.
 */
public final class Audit {
  private Audit() {}

  /**
   * One fact.
   *
   * @param time when it happened (ISO-8601, UTC)
   * @param millis how long the step took, for steps
   * @param what the kind: started, collect, forced-check, backup, scale, prepare, unit, health,
   *     migrate, test, gate, resume, pause, cancel, rollback, retry, abandon, return, finish,
   *     release, adopt, failed, outcome
   * @param subject what it was about (a unit, a hook's Job), or empty
   * @param who who asked, for what people did
   * @param reason why they said they did it
   * @param detail the rest, in one line
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Entry(
      String time,
      Long millis,
      String what,
      String subject,
      String who,
      String reason,
      String detail) {}

  /**
   * The audit of a run.
   *
   * @param target the target
   * @param cluster its cluster
   * @param runId the run
   * @param startedBy who started it ({@code --as}, else {@code $USER@hostname})
   * @param reason why, as they said
   * @param plan the plan as asked
   * @param outcome the final phase, or the phase now while it runs
   * @param message the final (or current) message
   * @param entries every fact, in order
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Report(
      String target,
      String cluster,
      String runId,
      String startedBy,
      String reason,
      UpgradePlan plan,
      String outcome,
      String message,
      List<Entry> entries) {}

  /** What an activity was asked, and when. */
  private record Scheduled(String type, Payloads input, Instant at) {}

  /** The run id a history fetched without one carries: a placeholder, not the run's. */
  static final String REPLAY_RUN_ID = "run_id_in_replay";

  /**
   * Reads a run's history. {@code runId} is the run's id, or null (or the placeholder) to read it
   * from the history's start event; {@code now} is the run's status when it is still running (its
   * phase and checks), or null.
   */
  public static Report of(
      String runId, List<HistoryEvent> events, DataConverter converter, UpgradeStatus now) {
    List<Entry> entries = new ArrayList<>();
    Map<Long, Scheduled> scheduled = new HashMap<>();
    Map<Long, Integer> attempts = new HashMap<>();
    Map<String, String> unitRevisions = new HashMap<>();
    UpgradeRequest request = null;
    String outcome = now == null ? null : String.valueOf(now.phase());
    String message = now == null ? null : now.message();
    Instant lastStep = null;
    List<PreChecks.Result> checks = now == null ? List.of() : now.checks();
    int inspectEntry = -1;
    String startedRun = null;
    // A fired timer is a gate's timeout or a reminder while it waits: what the run did next
    // tells, so its entry stays undecided until then (-1: none is).
    int firedTimer = -1;
    Instant gateSince = null;
    for (HistoryEvent e : events) {
      Instant at =
          Instant.ofEpochSecond(e.getEventTime().getSeconds(), e.getEventTime().getNanos());
      if (firedTimer >= 0
          && (e.getEventType() == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
              || e.getEventType() == EventType.EVENT_TYPE_TIMER_STARTED
              || e.getEventType() == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)) {
        if (isReminder(e, converter)) {
          // The reminder's delivery is its own `notify` entry.
          entries.remove(firedTimer);
        }
        firedTimer = -1;
      }
      switch (e.getEventType()) {
        case EVENT_TYPE_WORKFLOW_EXECUTION_STARTED -> {
          var a = e.getWorkflowExecutionStartedEventAttributes();
          if (!a.getOriginalExecutionRunId().isEmpty()) {
            startedRun = a.getOriginalExecutionRunId();
          }
          request = first(converter, a.getInput(), UpgradeRequest.class);
          UpgradePlan plan = request.plan();
          entries.add(
              new Entry(
                  text(at),
                  null,
                  "started",
                  "",
                  request.identity(),
                  request.reason(),
                  describe(plan)));
        }
        case EVENT_TYPE_ACTIVITY_TASK_SCHEDULED -> {
          var a = e.getActivityTaskScheduledEventAttributes();
          scheduled.put(
              e.getEventId(), new Scheduled(a.getActivityType().getName(), a.getInput(), at));
          if (a.getActivityType().getName().equals("Deliver")) {
            Notifications.Notice notice =
                first(converter, a.getInput(), Notifications.Notice.class);
            if ("gate-waiting".equals(notice.event()) && notice.waitingSince() != null) {
              gateSince = Instant.parse(notice.waitingSince());
            }
          }
        }
        case EVENT_TYPE_ACTIVITY_TASK_STARTED -> {
          var a = e.getActivityTaskStartedEventAttributes();
          attempts.put(a.getScheduledEventId(), a.getAttempt());
        }
        case EVENT_TYPE_ACTIVITY_TASK_COMPLETED -> {
          var a = e.getActivityTaskCompletedEventAttributes();
          Scheduled s = scheduled.get(a.getScheduledEventId());
          if (s == null) {
            continue;
          }
          Entry entry =
              completed(
                  s,
                  a.getResult(),
                  converter,
                  at,
                  attempts.getOrDefault(a.getScheduledEventId(), 1),
                  unitRevisions);
          if (entry != null) {
            if (entry.what().equals("collect")) {
              inspectEntry = entries.size();
            }
            entries.add(entry);
          }
          lastStep = at;
        }
        case EVENT_TYPE_ACTIVITY_TASK_FAILED -> {
          var a = e.getActivityTaskFailedEventAttributes();
          Scheduled s = scheduled.get(a.getScheduledEventId());
          if (s != null && s.type().equals("Deliver")) {
            // A notification that could not be delivered: recorded, never the run's failure.
            entries.add(
                new Entry(
                    text(s.at()),
                    Duration.between(s.at(), at).toMillis(),
                    "notify",
                    first(converter, s.input(), Notifications.Notice.class).event(),
                    null,
                    null,
                    "not delivered: " + a.getFailure().getMessage()));
            continue;
          }
          entries.add(
              new Entry(
                  text(s == null ? at : s.at()),
                  s == null ? null : Duration.between(s.at(), at).toMillis(),
                  "failed",
                  s == null ? "" : step(s.type()),
                  null,
                  null,
                  a.getFailure().getMessage()));
          lastStep = at;
        }
        case EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT -> {
          var a = e.getActivityTaskTimedOutEventAttributes();
          Scheduled s = scheduled.get(a.getScheduledEventId());
          entries.add(
              new Entry(
                  text(at),
                  null,
                  "failed",
                  s == null ? "" : step(s.type()),
                  null,
                  null,
                  "timed out: " + a.getFailure().getMessage()));
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED -> {
          var a = e.getWorkflowExecutionUpdateAcceptedEventAttributes();
          String name = a.getAcceptedRequest().getInput().getName();
          if (name.equals("awaitVerdict")) {
            continue;
          }
          SteerRequest who =
              first(converter, a.getAcceptedRequest().getInput().getArgs(), SteerRequest.class);
          entries.add(
              new Entry(
                  text(at),
                  null,
                  name,
                  "",
                  who.identity(),
                  who.reason(),
                  who.acceptDataRisk() ? "accepting the data risk" : null));
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED -> {
          var a = e.getWorkflowExecutionUpdateCompletedEventAttributes();
          if (!a.getOutcome().hasSuccess() || a.getOutcome().getSuccess().getPayloadsCount() == 0) {
            continue;
          }
          Object result;
          try {
            result = first(converter, a.getOutcome().getSuccess(), String.class);
          } catch (RuntimeException notAString) {
            continue; // the verdict, not a steering answer
          }
          // The answer belongs to the last steering entry still without one.
          for (int i = entries.size() - 1; i >= 0; i--) {
            Entry s = entries.get(i);
            if (isSteering(s.what())
                && (s.detail() == null || s.detail().startsWith("accepting"))) {
              String answer = String.valueOf(result);
              if (answer.equals("resumed at the gate") && lastStep != null) {
                entries.add(
                    i,
                    new Entry(
                        text(lastStep),
                        Duration.between(lastStep, Instant.parse(s.time())).toMillis(),
                        "gate",
                        "",
                        null,
                        null,
                        "waited for `lockstep resume`"));
                i++;
              }
              entries.set(
                  i,
                  new Entry(
                      s.time(),
                      null,
                      s.what(),
                      s.subject(),
                      s.who(),
                      s.reason(),
                      (s.detail() == null ? "" : s.detail() + "; ") + answer));
              break;
            }
          }
        }
        case EVENT_TYPE_TIMER_FIRED -> {
          // The run's timers are a gate's gateTimeout and its reminders (remindEvery): a reminder
          // fires before the gate's deadline and is followed by its delivery.
          UpgradePlan plan = request == null ? null : request.plan();
          Instant since = gateSince != null ? gateSince : lastStep;
          if (plan != null
              && plan.gateTimeout() != null
              && (since == null
                  || Duration.between(since, at).compareTo(plan.effectiveGateTimeout()) >= 0)) {
            firedTimer = entries.size();
            entries.add(
                new Entry(
                    text(at),
                    lastStep == null ? null : Duration.between(lastStep, at).toMillis(),
                    "gate",
                    "",
                    "lockstep",
                    null,
                    "no resume within gateTimeout "
                        + plan.gateTimeout()
                        + ": onGateTimeout "
                        + plan.effectiveOnGateTimeout().name().toLowerCase(java.util.Locale.ROOT)));
          }
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED -> {
          var a = e.getWorkflowExecutionSignaledEventAttributes();
          SteerRequest who = first(converter, a.getInput(), SteerRequest.class);
          entries.add(
              new Entry(
                  text(at),
                  null,
                  a.getSignalName().replace("Signal", ""),
                  "",
                  who.identity(),
                  who.reason(),
                  "by signal"));
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED -> {
          var a = e.getWorkflowExecutionCompletedEventAttributes();
          UpgradeResult result = first(converter, a.getResult(), UpgradeResult.class);
          outcome = String.valueOf(result.phase());
          message = result.message();
          if (result.status() != null && result.status().checks() != null) {
            checks = result.status().checks();
          }
          entries.add(
              new Entry(text(at), null, "outcome", "", null, null, outcome + ": " + message));
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED -> {
          var a = e.getWorkflowExecutionTerminatedEventAttributes();
          outcome = "TERMINATED";
          message = "ended outside Lockstep: " + a.getReason();
          entries.add(
              new Entry(
                  text(at),
                  null,
                  "outcome",
                  "",
                  a.getIdentity(),
                  a.getReason(),
                  outcome + ": " + message));
        }
        case EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
            EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
            EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED -> {
          outcome = e.getEventType().name().replace("EVENT_TYPE_WORKFLOW_EXECUTION_", "");
          message = "the workflow itself ended " + outcome.toLowerCase(java.util.Locale.ROOT);
          entries.add(new Entry(text(at), null, "outcome", "", null, null, outcome));
        }
        default -> {}
      }
    }
    if (firedTimer >= 0 && request != null && remindsAtGates(request.plan())) {
      // The run has not acted on it yet: reminders are the likelier.
      entries.remove(firedTimer);
    }
    // Forced checks belong right after the collect step.
    List<Entry> forced = new ArrayList<>();
    for (PreChecks.Result check : checks) {
      if (check.forced()) {
        forced.add(
            new Entry(
                inspectEntry >= 0 ? entries.get(inspectEntry).time() : null,
                null,
                "forced-check",
                check.name(),
                request == null ? null : request.identity(),
                null,
                "failed and was forced: " + check.message()));
      }
    }
    entries.addAll(inspectEntry >= 0 ? inspectEntry + 1 : Math.min(1, entries.size()), forced);
    // A step is dated by its start, a decision by its arrival: the timeline is in time order.
    entries.sort(
        java.util.Comparator.comparing(
            (Entry x) -> x.time() == null ? Instant.MAX : Instant.parse(x.time())));
    UpgradePlan plan = request == null ? null : request.plan();
    String target = plan == null ? null : Target.parse(plan.target(), "default").toString();
    return new Report(
        target,
        plan == null ? null : plan.effectiveCluster(),
        runId == null || runId.equals(REPLAY_RUN_ID) ? startedRun : runId,
        request == null ? null : request.identity(),
        request == null ? null : request.reason(),
        plan,
        outcome,
        message,
        entries);
  }

  private static boolean isSteering(String what) {
    return List.of("resume", "pause", "cancel", "rollback", "retry", "abandon").contains(what);
  }

  private static Entry completed(
      Scheduled s,
      Payloads result,
      DataConverter converter,
      Instant at,
      int attempt,
      Map<String, String> unitRevisions) {
    long millis = Duration.between(s.at(), at).toMillis();
    String again = attempt > 1 ? " (attempt " + attempt + ": a worker was replaced)" : "";
    return switch (s.type()) {
      case "Deliver" -> {
        Notifications.Notice notice = first(converter, s.input(), Notifications.Notice.class);
        yield new Entry(
            text(s.at()),
            millis,
            "notify",
            notice.event(),
            null,
            null,
            first(converter, result, String.class));
      }
      case "Inspect" -> {
        ClusterActivities.TargetSnapshot t =
            first(converter, result, ClusterActivities.TargetSnapshot.class);
        t.units().forEach(u -> unitRevisions.put(u.name(), u.revision()));
        yield new Entry(
            text(s.at()),
            millis,
            "collect",
            "",
            null,
            null,
            !t.found() || !t.problems().isEmpty()
                ? "invalid plan: " + String.join("; ", t.problems())
                : t.units().size() + " units on " + t.updateRevision() + " " + t.images());
      }
      case "Prepare" -> {
        ClusterActivities.PrepareRequest r =
            first(converter, s.input(), ClusterActivities.PrepareRequest.class);
        ClusterActivities.PrepareResult p =
            first(converter, result, ClusterActivities.PrepareResult.class);
        yield new Entry(
            text(s.at()),
            millis,
            "prepare",
            "",
            null,
            null,
            "partition pinned at "
                + p.replicas()
                + ", template changed: "
                + r.fromRevision()
                + " -> "
                + p.toRevision()
                + again);
      }
      case "UpgradeUnit" -> {
        ClusterActivities.UnitResult u =
            first(converter, result, ClusterActivities.UnitResult.class);
        String from = unitRevisions.getOrDefault(u.name(), "?");
        unitRevisions.put(u.name(), u.revision());
        yield new Entry(
            text(s.at()),
            millis,
            "unit",
            u.name(),
            null,
            null,
            from
                + " -> "
                + u.revision()
                + ", Ready after "
                + Durations.format(Duration.ofMillis(millis).truncatedTo(ChronoUnit.SECONDS))
                + (u.restarts() > 0 ? ", " + u.restarts() + " restarts" : "")
                + again);
      }
      case "CheckHealth" -> {
        ClusterActivities.HealthRequest h =
            first(converter, s.input(), ClusterActivities.HealthRequest.class);
        yield new Entry(
            text(s.at()),
            millis,
            "health",
            h.pod(),
            null,
            null,
            "GET :" + h.health().port() + h.health().effectivePath() + " healthy");
      }
      case "RunHook" -> {
        ClusterActivities.HookRequest h =
            first(converter, s.input(), ClusterActivities.HookRequest.class);
        yield new Entry(
            text(s.at()),
            millis,
            h.hook(),
            h.jobName(),
            null,
            null,
            "Job completed: " + h.spec().describe() + again);
      }
      case "Scale" -> {
        ClusterActivities.ScaleRequest r =
            first(converter, s.input(), ClusterActivities.ScaleRequest.class);
        yield new Entry(
            text(s.at()), millis, "scale", "", null, null, "replicas -> " + r.replicas() + again);
      }
      case "Revert" -> {
        ClusterActivities.RevertRequest r =
            first(converter, s.input(), ClusterActivities.RevertRequest.class);
        yield new Entry(
            text(s.at()),
            millis,
            "return",
            "",
            null,
            null,
            "every unit back on " + r.fromRevision() + "; update strategy put back" + again);
      }
      case "Finish" -> {
        ClusterActivities.FinishRequest r =
            first(converter, s.input(), ClusterActivities.FinishRequest.class);
        yield new Entry(
            text(s.at()),
            millis,
            "finish",
            "",
            null,
            null,
            "every unit Ready on " + r.toRevision() + "; update strategy put back" + again);
      }
      case "Release" ->
          new Entry(text(s.at()), millis, "release", "", null, null, "the run's mark removed");
      case "Adopt" -> {
        ClusterActivities.AdoptRequest r =
            first(converter, s.input(), ClusterActivities.AdoptRequest.class);
        yield new Entry(
            text(s.at()), millis, "adopt", "", null, null, "took over from run " + r.deadRunId());
      }
      default -> null;
    };
  }

  /** The activity type as a step name. */
  private static String step(String type) {
    return switch (type) {
      case "UpgradeUnit" -> "unit";
      case "CheckHealth" -> "health";
      case "RunHook" -> "hook";
      case "Revert" -> "return";
      default -> type.toLowerCase(java.util.Locale.ROOT);
    };
  }

  /** The plan in one line: the change, the gate, the failure policy, the extras. */
  static String describe(UpgradePlan plan) {
    List<String> parts = new ArrayList<>();
    UpgradePlan.Change change = plan.effectiveChange();
    if (plan.repair() != null) {
      parts.add("repair (" + plan.repair().name().toLowerCase(java.util.Locale.ROOT) + ")");
    } else if (change.restore() != null) {
      parts.add("restore revision " + change.restore());
    } else {
      if (!change.images().isEmpty()) {
        parts.add("images " + change.images());
      }
      if (!change.resources().isEmpty()) {
        parts.add("resources " + change.resources());
      }
      if (!change.template().isEmpty()) {
        parts.add("a template patch");
      }
    }
    parts.add("gate " + plan.effectiveGate().name().toLowerCase(java.util.Locale.ROOT));
    if (plan.gateTimeout() != null) {
      parts.add(
          "gate timeout "
              + plan.gateTimeout()
              + " then "
              + plan.effectiveOnGateTimeout().name().toLowerCase(java.util.Locale.ROOT));
    }
    if (plan.countsApprovals()) {
      parts.add(
          plan.effectiveApprovals()
              + " approval"
              + (plan.effectiveApprovals() == 1 ? "" : "s")
              + (Boolean.TRUE.equals(plan.excludeStarter()) ? " (not the starter)" : ""));
    }
    parts.add(
        "on failure "
            + Optional.ofNullable(plan.onFailure())
                .orElse(UpgradePlan.FailurePolicy.ROLLBACK)
                .name()
                .toLowerCase(java.util.Locale.ROOT));
    if (plan.effectiveRetries() > 0) {
      parts.add("retries " + plan.effectiveRetries());
    }
    if (Boolean.TRUE.equals(plan.scaleUp())) {
      parts.add("scale up first");
    }
    if (!plan.effectiveForce().isEmpty()) {
      parts.add("force " + plan.effectiveForce());
    }
    if (!plan.effectiveHooks().isEmpty()) {
      List<String> hooks = new ArrayList<>();
      UpgradePlan.Hooks h = plan.effectiveHooks();
      if (h.backup() != null) {
        hooks.add("backup");
      }
      if (h.migrate() != null) {
        hooks.add("migrate");
      }
      if (h.test() != null) {
        hooks.add("test");
      }
      if (h.restore() != null) {
        hooks.add("restore");
      }
      parts.add("hooks " + String.join(", ", hooks));
    }
    return String.join(", ", parts);
  }

  private static <T> T first(DataConverter converter, Payloads payloads, Class<T> type) {
    return converter.fromPayloads(0, Optional.of(payloads), type, type);
  }

  private static String text(Instant at) {
    return at.truncatedTo(ChronoUnit.MILLIS).toString();
  }

  /** The audit as a table: a header, then one line per fact. */
  public static String render(Report r) {
    StringBuilder out = new StringBuilder();
    out.append("Audit of ")
        .append(r.target())
        .append(", run ")
        .append(r.runId())
        .append(" (cluster ")
        .append(r.cluster())
        .append(")\n")
        .append("Outcome: ")
        .append(r.outcome() == null ? "RUNNING" : r.outcome())
        .append(r.message() == null ? "" : ": " + r.message())
        .append("\n\n");
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("Time", "Took", "What", "Subject", "Who", "Detail"));
    for (Entry e : r.entries()) {
      String detail =
          (e.reason() == null || e.reason().isEmpty() ? "" : "\"" + e.reason() + "\" ")
              + (e.detail() == null ? "" : e.detail());
      rows.add(
          List.of(
              e.time() == null ? "" : e.time(),
              e.millis() == null ? "" : took(e.millis()),
              e.what(),
              e.subject() == null ? "" : e.subject(),
              e.who() == null ? "" : e.who(),
              detail.strip()));
    }
    out.append(StatusTable.columns(rows));
    return out.toString();
  }

  private static String took(long millis) {
    return millis < 1000
        ? millis + "ms"
        : millis < 60_000
            ? String.format(java.util.Locale.ROOT, "%.1fs", millis / 1000.0)
            : Durations.format(Duration.ofMillis(millis).truncatedTo(ChronoUnit.SECONDS));
  }

  /** Whether {@code e} schedules the delivery of a gate reminder. */
  private static boolean isReminder(HistoryEvent e, DataConverter converter) {
    if (e.getEventType() != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      return false;
    }
    var a = e.getActivityTaskScheduledEventAttributes();
    return a.getActivityType().getName().equals("Deliver")
        && "gate-reminder"
            .equals(first(converter, a.getInput(), Notifications.Notice.class).event());
  }

  /** Whether a run of {@code plan} may set reminder timers (its own or its worker's notify). */
  private static boolean remindsAtGates(UpgradePlan plan) {
    return plan == null
        || plan.notifications() == null
        || plan.notifications().remindEvery() != null;
  }
}
