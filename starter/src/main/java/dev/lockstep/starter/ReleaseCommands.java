package dev.lockstep.starter;

import dev.lockstep.workflows.HelmActivities;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.ReleaseRecordsWorkflow;
import dev.lockstep.workflows.ReleaseStatus;
import dev.lockstep.workflows.ReleaseUpgradeRequest;
import dev.lockstep.workflows.ReleaseWorkflow;
import dev.lockstep.workflows.Releases;
import dev.lockstep.workflows.StatusTable;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.Upgrades;
import dev.lockstep.workflows.Verdict;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowUpdateException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The commands on a Helm release ({@code NAMESPACE/helm/RELEASE}): its upgrade started as a parent
 * run, its status, and steering: {@code cancel} and {@code rollback} are the release's, the others
 * (resume, pause, retry, abandon) go to the workload moving now, whose child run holds the gate.
 */
final class ReleaseCommands {
  private ReleaseCommands() {}

  /** The release target, when {@code text} names one; else null. */
  static Target releaseOf(String text, String defaultNamespace) {
    if (text == null) {
      return null;
    }
    try {
      Target t = Target.parseWithReleases(text, defaultNamespace);
      return Target.HELM.equals(t.kind()) ? t : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * {@code --gate} for a release: {@code first|each|none} for every workload, and {@code
   * WORKLOAD=GATE} (by {@code Kind/name} or name) for one, comma-separated.
   */
  static Map<String, UpgradePlan.Gate> gates(String text, UpgradePlan.Builder defaults) {
    Map<String, UpgradePlan.Gate> gates = new LinkedHashMap<>();
    if (text == null) {
      return gates;
    }
    for (String item : text.split(",")) {
      String part = item.trim();
      int eq = part.indexOf('=');
      String value = eq < 0 ? part : part.substring(eq + 1).trim();
      UpgradePlan.Gate gate;
      try {
        gate = UpgradePlan.Gate.valueOf(value.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new CliFailure(
            CliFailure.BAD_INPUT,
            "--gate '"
                + part
                + "': give first, each or none, or WORKLOAD=GATE (e.g. statefulset/db=first)");
      }
      if (eq < 0) {
        defaults.gate(gate);
      } else {
        String key = part.substring(0, eq).trim();
        // StatefulSet/db as the plan prints it, or statefulset/db, or db.
        int slash = key.indexOf('/');
        if (slash > 0) {
          String kind = Target.normaliseKind(key.substring(0, slash));
          key =
              (kind.equals(Target.STATEFULSET) ? "StatefulSet" : "Deployment")
                  + key.substring(slash);
        }
        gates.put(key, gate);
      }
    }
    return gates;
  }

  /** Starts the release's upgrade and prints what the worker said. */
  static int start(
      Common command,
      WorkflowClient client,
      String cluster,
      ReleaseUpgradeRequest request,
      java.time.Duration verdictTimeout) {
    Target t = request.target();
    Upgrades.Started started;
    try {
      started = Releases.start(client, request, verdictTimeout);
    } catch (Upgrades.NoWorker e) {
      throw new CliFailure(CliFailure.UNREACHABLE, e.getMessage());
    } catch (Upgrades.TargetBusy e) {
      throw new CliFailure(
          CliFailure.REFUSED,
          "refused: another upgrade of "
              + t
              + " is running (run "
              + e.runId()
              + "): see `lockstep status "
              + t
              + Names.clusterFlag(cluster)
              + "`");
    }
    Verdict verdict = started.verdict();
    if (verdict == null || !verdict.valid()) {
      String problems =
          (verdict == null ? "no verdict" : String.join("; ", verdict.problems()))
              + "; nothing was changed";
      throw new CliFailure(
          verdict != null && verdict.inspected() ? CliFailure.BAD_INPUT : CliFailure.FAILED,
          problems);
    }
    var out = command.out();
    out.println(
        (request.isRollback()
                ? "rollback of " + t + " to revision " + request.rollbackTo()
                : "upgrade of " + t)
            + " started (run "
            + started.runId()
            + "), from "
            + verdict.fromRevision()
            + "; each workload moves as its own run, in order");
    out.println("follow:   lockstep status " + t + Names.clusterFlag(cluster));
    out.println("rollback: lockstep rollback " + t + Names.clusterFlag(cluster));
    out.flush();
    return 0;
  }

  /** The release run's status. */
  static ReleaseStatus status(WorkflowClient client, String cluster, Target release) {
    return Releases.of(client, cluster, release).status();
  }

  static String render(ReleaseStatus s) {
    StringBuilder b = new StringBuilder();
    b.append(s.target())
        .append(" (cluster ")
        .append(s.cluster())
        .append("): ")
        .append(s.phase())
        .append(" - ")
        .append(s.message())
        .append('\n');
    if (s.fromRevision() > 0) {
      b.append("revision ")
          .append(s.fromRevision())
          .append(" -> ")
          .append(s.toRevision())
          .append(" (")
          .append(s.fromChart())
          .append(" -> ")
          .append(s.toChart())
          .append(")\n");
    }
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("", "WORKLOAD", "STATE", "GATE", "RUN"));
    for (int i = 0; i < s.workloads().size(); i++) {
      ReleaseStatus.Workload w = s.workloads().get(i);
      rows.add(
          List.of(
              s.current() != null && s.current() == i ? ">" : " ",
              w.key(),
              w.state(),
              w.gate(),
              w.workflowId()));
    }
    if (!s.workloads().isEmpty()) {
      b.append('\n').append(StatusTable.columns(rows));
    }
    ReleaseStatus.Workload now = s.currentWorkload();
    if (now != null) {
      b.append("\nmoving now: ").append(now.key());
      String placing = placing(s, now);
      if (placing != null) {
        b.append(": being ").append(placing).append(" by the release's own run\n");
      } else {
        b.append(": lockstep status ").append(childTarget(now)).append('\n');
      }
    }
    if (!s.story().isEmpty()) {
      b.append("\nstory:\n");
      s.story().forEach(l -> b.append("  ").append(l).append('\n'));
    }
    return b.toString();
  }

  /**
   * What the release's own run is doing to a workload the chart adds or removes ("created",
   * "deleted", "restored"), which has no child run; null when the workload moving now is a child
   * run's.
   */
  static String placing(ReleaseStatus s, ReleaseStatus.Workload now) {
    String message = s.message() == null ? "" : s.message();
    for (String[] verb :
        new String[][] {
          {"creating ", "created"}, {"deleting ", "deleted"}, {"restoring ", "restored"}
        }) {
      if (message.equals(verb[0] + now.key())) {
        return verb[1];
      }
    }
    return null;
  }

  /** The workload target of a child run, from its workflow id. */
  static Target childTarget(ReleaseStatus.Workload w) {
    String[] parts = w.workflowId().split("/");
    int n = parts.length;
    return new Target(parts[n - 3], parts[n - 2], parts[n - 1]);
  }

  /**
   * Steers a release: cancel and rollback are the release's own; the others go to the child run of
   * the workload moving now.
   *
   * @return the child's target to steer instead, or null when the release's run did it
   */
  static Target steer(
      Common command,
      WorkflowClient client,
      String cluster,
      Target release,
      String action,
      SteerRequest who) {
    ReleaseWorkflow run = Releases.of(client, cluster, release);
    ReleaseStatus status;
    try {
      status = run.status();
    } catch (WorkflowNotFoundException e) {
      throw new CliFailure(
          CliFailure.REFUSED,
          action + " refused: no upgrade of " + release + " has run" + Names.clusterFlag(cluster));
    }
    if (status.phase().isTerminal()) {
      throw new CliFailure(
          CliFailure.REFUSED,
          action + " refused: the upgrade of " + release + " has ended (" + status.phase() + ")");
    }
    if (action.equals("cancel") || action.equals("rollback")) {
      try {
        String outcome = action.equals("cancel") ? run.cancel(who) : run.rollback(who);
        command.out().println(release + ": " + outcome);
        command.out().flush();
        return null;
      } catch (WorkflowUpdateException e) {
        Throwable cause = e.getCause();
        throw new CliFailure(
            CliFailure.REFUSED,
            action
                + " refused: "
                + (cause instanceof io.temporal.failure.ApplicationFailure app
                    ? app.getOriginalMessage()
                    : String.valueOf(cause == null ? e.getMessage() : cause.getMessage())));
      }
    }
    ReleaseStatus.Workload now = status.currentWorkload();
    if (now == null) {
      throw new CliFailure(
          CliFailure.REFUSED,
          action
              + " refused: no workload of "
              + release
              + " is moving now ("
              + status.phase()
              + ")");
    }
    String placing = placing(status, now);
    if (placing != null) {
      // A workload the chart adds or removes: the release's own run creates or deletes it, with
      // no child run and no gate.
      throw new CliFailure(
          CliFailure.REFUSED,
          action
              + " refused: "
              + now.key()
              + " is being "
              + placing
              + " by the release's own run, which has no gate there; `lockstep cancel "
              + release
              + "` or `lockstep rollback "
              + release
              + "` stops it");
    }
    Target child = childTarget(now);
    command.out().println(release + ": " + action + " goes to " + now.key() + " (" + child + ")");
    return child;
  }

  /** The options of a workload's plan that mean nothing for a release. */
  static void refuse(List<String> given, Target release) {
    if (!given.isEmpty()) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          String.join(", ", given)
              + " not taken for a Helm release ("
              + release
              + "): the chart and its values say what changes (--chart, --version, -f, --set)");
    }
  }

  /** What a {@code --dry-run} prints: the plan, as {@code lockstep plan} shows it. */
  static String dryRun(Target release, String cluster, HelmActivities.ReleasePlan plan) {
    return PlanCommand.renderRelease(release, cluster, plan);
  }

  /** The id of the release's run that is open now, or null when none is. */
  static String openRun(WorkflowClient client, String cluster, Target release) {
    try {
      var description =
          client.newUntypedWorkflowStub(Names.workflowId(cluster, release)).describe();
      return description.getStatus()
              == io.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
          ? description.getExecution().getRunId()
          : null;
    } catch (WorkflowNotFoundException e) {
      return null;
    }
  }

  /** Reads (or repairs) the release's records on the worker; exit 4 when no worker answers. */
  static ReleaseRecordsWorkflow.Records records(
      WorkflowClient client, String cluster, Target release, String action, String identity) {
    try {
      return Releases.records(
          client,
          cluster,
          release,
          new ReleaseRecordsWorkflow.Request(release.namespace(), release.name(), action, identity),
          java.time.Duration.ofSeconds(30));
    } catch (java.util.concurrent.TimeoutException e) {
      throw new CliFailure(
          CliFailure.UNREACHABLE,
          "no worker of cluster "
              + cluster
              + " answered within 30s: is `lockstep worker --cluster "
              + cluster
              + "` running?");
    } catch (io.temporal.client.WorkflowFailedException e) {
      Throwable root = e;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      throw new CliFailure(
          CliFailure.FAILED,
          "the worker could not read " + release + ": " + Common.oneLine(root),
          e);
    }
  }

  /**
   * One revision of {@code lockstep history NAMESPACE/helm/RELEASE}: {@code helm history}'s columns
   * (and its JSON names), plus the Lockstep run that wrote it, when one did.
   */
  record HistoryRow(
      int revision,
      String updated,
      String status,
      String chart,
      @com.fasterxml.jackson.annotation.JsonProperty("app_version") String appVersion,
      String description,
      @com.fasterxml.jackson.annotation.JsonProperty("lockstep_run") String lockstepRun) {}

  /** The release's revisions, oldest first, as {@code helm history} lists them. */
  static List<HistoryRow> history(WorkflowClient client, String cluster, Target release) {
    List<HelmActivities.ReleaseRevision> revisions =
        records(client, cluster, release, ReleaseRecordsWorkflow.HISTORY, null).history();
    if (revisions.isEmpty()) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "release "
              + release.namespace()
              + "/"
              + release.name()
              + " not found in cluster "
              + cluster
              + " (no Helm release of that name there)");
    }
    Map<Integer, String> writers = Releases.writers(client, cluster, release, revisions);
    List<HistoryRow> rows = new ArrayList<>();
    for (HelmActivities.ReleaseRevision r : revisions) {
      rows.add(
          new HistoryRow(
              r.revision(),
              r.updated(),
              r.status(),
              r.chart(),
              r.appVersion(),
              r.description(),
              writers.get(r.revision())));
    }
    return rows;
  }

  private static final java.time.format.DateTimeFormatter HELM_TIME =
      java.time.format.DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.ROOT)
          .withZone(java.time.ZoneOffset.UTC);

  /** {@code helm history}'s table, with a LOCKSTEP RUN column ({@code -} where Helm wrote it). */
  static String renderHistory(List<HistoryRow> rows) {
    List<List<String>> table = new ArrayList<>();
    table.add(
        List.of(
            "REVISION",
            "UPDATED",
            "STATUS",
            "CHART",
            "APP VERSION",
            "DESCRIPTION",
            "LOCKSTEP RUN"));
    for (HistoryRow r : rows) {
      String updated = r.updated();
      try {
        updated = HELM_TIME.format(java.time.Instant.parse(r.updated())) + " UTC";
      } catch (RuntimeException e) {
        // as stored
      }
      table.add(
          List.of(
              String.valueOf(r.revision()),
              updated,
              r.status(),
              r.chart(),
              r.appVersion(),
              r.description(),
              r.lockstepRun() == null ? "-" : r.lockstepRun()));
    }
    return StatusTable.columns(table);
  }

  /**
   * {@code lockstep repair NAMESPACE/helm/RELEASE [--mark-failed]}: refused while a Lockstep run of
   * the release is open; otherwise says what the release's pending revision is and what the
   * workloads run, and with {@code --mark-failed} writes that revision {@code failed}.
   */
  static int repair(
      Common command,
      WorkflowClient client,
      String cluster,
      Target release,
      boolean markFailed,
      String identity) {
    String where = release + Names.clusterFlag(cluster);
    String open = openRun(client, cluster, release);
    if (open != null) {
      throw new CliFailure(
          CliFailure.REFUSED,
          "repair refused: a Lockstep run of "
              + release
              + " is open (run "
              + open
              + ") and holds the release: see `lockstep status "
              + where
              + "`, stop it with `lockstep cancel "
              + where
              + "`");
    }
    HelmActivities.ReleaseRepair r =
        records(
                client,
                cluster,
                release,
                markFailed ? ReleaseRecordsWorkflow.REPAIR : ReleaseRecordsWorkflow.SHOW_REPAIR,
                identity)
            .repair();
    if (!r.problems().isEmpty()) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, String.join("; ", r.problems()) + "; nothing was changed");
    }
    var out = command.out();
    String deployed =
        r.deployedRevision() > 0
            ? "revision " + r.deployedRevision() + " stays deployed"
            : "no revision is deployed";
    if (r.done()) {
      out.println(
          release
              + ": revision "
              + r.revision()
              + " marked failed (it was "
              + r.status()
              + ": \""
              + r.description()
              + "\"); "
              + deployed
              + "; nothing in the cluster was changed.");
    } else {
      out.println(
          release
              + ": revision "
              + r.revision()
              + " is "
              + r.status()
              + " (\""
              + r.description()
              + "\") and no Lockstep run holds it: the operation that wrote it died.");
      out.println(
          "repair would mark revision "
              + r.revision()
              + " failed, as Helm records an interrupted operation; "
              + deployed
              + "; nothing in the cluster changes.");
    }
    if (!r.workloads().isEmpty()) {
      out.println("The workloads now:");
      r.workloads().forEach(w -> out.println("  " + w));
    }
    if (r.done()) {
      out.println(
          "next: `lockstep upgrade "
              + where
              + " --chart ...` or `lockstep rollback "
              + where
              + " --to-revision N` (lockstep history "
              + where
              + " lists the revisions)");
    } else {
      out.println("to do it: lockstep repair " + where + " --mark-failed");
    }
    out.flush();
    return 0;
  }
}
