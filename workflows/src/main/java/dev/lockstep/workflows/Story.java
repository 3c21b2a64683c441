package dev.lockstep.workflows;

import io.temporal.activity.ActivityOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;

/**
 * What a run tells the cluster: Kubernetes Events on the target, named by the run and their place
 * in its story so that a retry creates none twice, and at the end its notes on the revision it
 * produced. Telling must never stop an upgrade: a failure to record is logged and passed.
 */
final class Story {
  private static final Logger LOG = Workflow.getLogger(Story.class);

  private final Run run;
  private int seq;

  /**
   * The run's start Event, until it is told: with prepare's write (one activity fewer), or on its
   * own before a backup or a scale-up, or with whatever is told first.
   */
  private ClusterActivities.ClusterEvent pendingStart;

  Story(Run run) {
    this.run = run;
  }

  void startPending(String text) {
    pendingStart = newEvent("UpgradeStarted", false, text);
  }

  /** The pending start Event, to be told by an activity that writes anyway; empty when told. */
  List<ClusterActivities.ClusterEvent> pending() {
    return pendingStart == null ? List.of() : List.of(pendingStart);
  }

  /** The activity that was given {@link #pending()} told it. */
  void told() {
    pendingStart = null;
  }

  /** Tells the start now if it is still pending. */
  void tellStart() {
    if (pendingStart != null) {
      record(afterStart(List.of()), null, Map.of());
    }
  }

  void event(String reason, boolean warning, String text) {
    record(afterStart(List.of(newEvent(reason, warning, text))), null, Map.of());
  }

  /** The name of an Event an activity tells itself: fixed per run and {@code suffix}. */
  String eventName(String suffix) {
    return run.target.name()
        + ".lockstep-"
        + String.format("%08x", run.runId().hashCode())
        + "-"
        + suffix;
  }

  /** The end, told: an Event (after the start, if that is still untold), and the run's notes. */
  void tellEnd(Phase outcome, String why) {
    ClusterActivities.RecordRequest end = endRecord(outcome, why);
    record(afterStart(end.events()), end.revision(), end.notes());
  }

  /** What {@link #tellEnd} would record, for an activity (finish) to tell itself. */
  ClusterActivities.RecordRequest endRecord(Phase outcome, String why) {
    String reason =
        switch (outcome) {
          case COMPLETED -> "UpgradeCompleted";
          case ROLLED_BACK -> "RolledBack";
          case CANCELLED -> "UpgradeCancelled";
          case ABANDONED -> "UpgradeAbandoned";
          default -> "UpgradeFailed";
        };
    List<ClusterActivities.ClusterEvent> events =
        List.of(
            newEvent(
                reason,
                outcome != Phase.COMPLETED,
                why.length() > 1000 ? why.substring(0, 1000) + "..." : why));
    if (run.toRevision == null) {
      return new ClusterActivities.RecordRequest(run.cluster, run.target, events, null, Map.of());
    }
    Map<String, String> notes = new LinkedHashMap<>();
    notes.put(ClusterActivities.NOTE_RUN, run.runId());
    // A repair that restored the original revision rolled the dead run's revision back.
    notes.put(
        ClusterActivities.NOTE_OUTCOME,
        run.plan.repair() == UpgradePlan.Repair.RESTORE && outcome == Phase.COMPLETED
            ? Phase.ROLLED_BACK.name()
            : outcome.name());
    notes.put(ClusterActivities.NOTE_STARTED_BY, run.request.identity());
    String reasonText = run.request.reason();
    notes.put(
        ClusterActivities.NOTE_REASON,
        reasonText.length() > 200 ? reasonText.substring(0, 200) : reasonText);
    if (run.dataMoved && outcome == Phase.COMPLETED) {
      notes.put(ClusterActivities.NOTE_DATA, ClusterActivities.DATA_MIGRATED_FORWARD);
    }
    notes.put(
        ClusterActivities.NOTE_FINISHED_AT,
        Instant.ofEpochMilli(Workflow.currentTimeMillis()).toString());
    return new ClusterActivities.RecordRequest(
        run.cluster, run.target, events, run.toRevision, notes);
  }

  /** Records what an activity could not tell itself, by the same names. */
  void record(
      List<ClusterActivities.ClusterEvent> events, String revision, Map<String, String> notes) {
    ClusterActivities recorder =
        Workflow.newActivityStub(
            ClusterActivities.class,
            ActivityOptions.newBuilder()
                .setStartToCloseTimeout(Duration.ofSeconds(30))
                .setScheduleToCloseTimeout(Duration.ofMinutes(2))
                .build());
    try {
      recorder.record(
          new ClusterActivities.RecordRequest(run.cluster, run.target, events, revision, notes));
    } catch (ActivityFailure e) {
      LOG.warn("could not record {} on {}: {}", events, run.target, Run.cause(e));
    }
  }

  private List<ClusterActivities.ClusterEvent> afterStart(
      List<ClusterActivities.ClusterEvent> events) {
    if (pendingStart == null) {
      return events;
    }
    List<ClusterActivities.ClusterEvent> all = new ArrayList<>();
    all.add(pendingStart);
    all.addAll(events);
    pendingStart = null;
    return all;
  }

  private ClusterActivities.ClusterEvent newEvent(String reason, boolean warning, String text) {
    seq++;
    return new ClusterActivities.ClusterEvent(
        eventName("e" + seq), reason, warning ? "Warning" : "Normal", text);
  }
}
