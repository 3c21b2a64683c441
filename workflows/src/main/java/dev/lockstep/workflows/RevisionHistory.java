package dev.lockstep.workflows;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A target's revisions as {@code helm history} shows them, from its ControllerRevisions joined with
 * the notes Lockstep's runs left on them.
 */
public final class RevisionHistory {
  private RevisionHistory() {}

  /**
   * One revision.
   *
   * @param revision the ControllerRevision's number
   * @param name its name
   * @param updated when the run that produced it ended, else when it was created
   * @param status deployed, deploying, superseded, rolled back, failed, cancelled or abandoned
   * @param images container to image
   * @param description the Lockstep run and who started it, or that it was not Lockstep's
   * @param runId the run that produced it, or null
   * @param running whether the target runs it now (deployed, or deploying)
   * @param earlierRuns the earlier runs that produced it too (a rollback reuses a revision), each
   *     described as {@code description} is, oldest first
   */
  public record Row(
      long revision,
      String name,
      String updated,
      String status,
      Map<String, String> images,
      String description,
      String runId,
      boolean running,
      List<String> earlierRuns) {}

  /** Reads the revisions on the worker; null when the target does not exist. */
  public static List<Row> fetch(WorkflowClient client, String cluster, Target target, Duration wait)
      throws TimeoutException {
    WorkflowStub stub =
        client.newUntypedWorkflowStub(
            "HistoryWorkflow",
            WorkflowOptions.newBuilder()
                .setWorkflowId(
                    Names.planWorkflowId(cluster, target, "history-" + UUID.randomUUID()))
                .setTaskQueue(Names.taskQueue(cluster))
                .setWorkflowExecutionTimeout(Duration.ofMinutes(5))
                .build());
    stub.start(new ClusterActivities.RevisionsRequest(cluster, target));
    ClusterActivities.RevisionList list;
    try {
      list =
          stub.getResult(
              wait.toMillis(), TimeUnit.MILLISECONDS, ClusterActivities.RevisionList.class);
    } catch (TimeoutException e) {
      stub.terminate("no worker answered in time");
      throw e;
    }
    return list.found() ? rows(list) : null;
  }

  /** The rows, oldest revision first. */
  public static List<Row> rows(ClusterActivities.RevisionList list) {
    List<Row> rows = new ArrayList<>();
    for (ClusterActivities.RevisionInfo r : list.revisions()) {
      Map<String, String> notes = r.notes();
      String run = notes.get(ClusterActivities.NOTE_RUN);
      String outcome = notes.get(ClusterActivities.NOTE_OUTCOME);
      String status;
      if (r.name().equals(list.updateRevision())) {
        status = r.name().equals(list.currentRevision()) ? "deployed" : "deploying";
      } else if (outcome == null || outcome.equals("COMPLETED")) {
        status = "superseded";
      } else {
        status =
            switch (outcome) {
              case "ROLLED_BACK" -> "rolled back";
              case "FAILED" -> "failed";
              case "CANCELLED" -> "cancelled";
              case "ABANDONED" -> "abandoned";
              default -> outcome.toLowerCase(java.util.Locale.ROOT);
            };
      }
      String description = run == null ? "not changed by Lockstep" : describe(notes);
      List<String> earlier = new ArrayList<>();
      if (r.earlierRuns() != null) {
        for (Map<String, String> e : r.earlierRuns()) {
          if (e.get(ClusterActivities.NOTE_RUN) != null) {
            earlier.add(describe(e));
          }
        }
      }
      rows.add(
          new Row(
              r.revision(),
              r.name(),
              iso(notes.getOrDefault(ClusterActivities.NOTE_FINISHED_AT, r.created())),
              status,
              r.images(),
              description,
              run,
              r.name().equals(list.updateRevision()),
              List.copyOf(earlier)));
    }
    return rows;
  }

  /** A run as its notes describe it: who started it, why, and how it ended. */
  private static String describe(Map<String, String> notes) {
    String reason = notes.getOrDefault(ClusterActivities.NOTE_REASON, "");
    String outcome = notes.get(ClusterActivities.NOTE_OUTCOME);
    return "Lockstep run "
        + notes.get(ClusterActivities.NOTE_RUN)
        + " by "
        + notes.getOrDefault(ClusterActivities.NOTE_STARTED_BY, "unknown")
        + (reason.isEmpty() ? "" : ": " + reason)
        + (outcome == null ? "" : " (" + outcome + ")");
  }

  /**
   * A time in one format whatever wrote it (a run's note has milliseconds, Kubernetes' timestamps
   * have none): ISO-8601 in UTC, to the second. Anything else is shown as it is.
   */
  static String iso(String time) {
    if (time == null || time.isBlank()) {
      return null;
    }
    try {
      return java.time.Instant.parse(time)
          .truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
          .toString();
    } catch (java.time.format.DateTimeParseException e) {
      return time;
    }
  }

  /**
   * The rows as a person reads them: the revision running now on top, then the others newest first
   * (as {@code kubectl rollout history} is read from the bottom).
   */
  public static List<Row> runningFirst(List<Row> rows) {
    List<Row> sorted = new ArrayList<>(rows);
    sorted.sort(
        java.util.Comparator.comparing(Row::running).thenComparingLong(Row::revision).reversed());
    return sorted;
  }

  /** The rows as a table; the revision running now is marked with {@code *}. */
  public static String render(List<Row> rows) {
    List<List<String>> table = new ArrayList<>();
    table.add(List.of("Revision", "Updated", "Status", "Images", "Description"));
    for (Row r : rows) {
      table.add(
          List.of(
              (r.running() ? "* " : "  ") + r.revision(),
              r.updated() == null ? "" : r.updated(),
              r.status(),
              String.join(",", new java.util.TreeMap<>(r.images()).values()),
              r.description()
                  + (r.earlierRuns() == null || r.earlierRuns().isEmpty()
                      ? ""
                      : "; before: " + String.join("; ", r.earlierRuns()))));
    }
    return StatusTable.columns(table);
  }
}
