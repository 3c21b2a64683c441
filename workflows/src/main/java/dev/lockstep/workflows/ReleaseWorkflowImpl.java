package dev.lockstep.workflows;

import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.api.enums.v1.ParentClosePolicy;
import io.temporal.api.enums.v1.WorkflowIdReusePolicy;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.ChildWorkflowFailure;
import io.temporal.workflow.Async;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.ChildWorkflowOptions;
import io.temporal.workflow.Promise;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A Helm release's upgrade: planned and held by activities, each changed workload moved by a child
 * {@link UpgradeWorkflow} in the plan's order, one at a time, and undone in reverse order when one
 * fails. Deterministic: every cluster action is an activity or a child run.
 */
public class ReleaseWorkflowImpl implements ReleaseWorkflow {
  /**
   * {@code lockstep rollback NS/helm/RELEASE --to-revision N} (issue 16): a run whose request has
   * {@code rollbackTo} holds the release with {@code beginRollback} and runs the rollback hooks.
   * Runs recorded before it never carry {@code rollbackTo}, so their path is unchanged; the marker
   * only names the new path in a rollback's history and can stay.
   */
  static final String HRB_ROLLBACK_TO_REVISION = "hrb-rollback-to-revision";

  /**
   * A chart upgrade that adds or removes a workload (issue 16): the release's run creates or
   * deletes it itself ({@code placeWorkload}) at its place in the order, and undoes that when it
   * goes back. Runs recorded before it never reach that path (their plans were refused), so the
   * marker only names it in a history and can stay.
   */
  static final String RWL_ADDED_REMOVED_WORKLOADS = "rwl-added-removed-workloads";

  private static final String WAITING = "waiting";
  private static final String UPGRADING = "upgrading";
  private static final String COMPLETED = "completed";
  private static final String FAILED = "failed";
  private static final String ROLLING_BACK = "rolling-back";
  private static final String ROLLED_BACK = "rolled-back";

  private ReleaseUpgradeRequest request;
  private String runId;
  private Phase phase = Phase.PENDING;
  private String message = "starting";
  private Verdict verdict;
  private int fromRevision;
  private int toRevision;
  private String fromChart;
  private String toChart;
  private final List<ReleaseStatus.Workload> workloads = new ArrayList<>();
  private Integer current;
  private final List<String> story = new ArrayList<>();
  private long startedAt;
  private Long finishedAt;
  private String childRunning;

  /** What an operator asked for: null, CANCELLED or ROLLED_BACK; and who. */
  private Phase stopAsked;

  private SteerRequest stopBy;
  private boolean goingBack;

  private HelmActivities helm;
  private HelmActivities hooks;
  private HelmActivities placements;

  /** The workloads the run moves, in order, as planned. */
  private List<HelmActivities.WorkloadUpgrade> moves = List.of();

  private ClusterActivities cluster;

  @Override
  public ReleaseResult run(ReleaseUpgradeRequest request) {
    this.request = request;
    this.runId = Workflow.getInfo().getRunId();
    this.startedAt = Workflow.currentTimeMillis();
    int heartbeat =
        request.heartbeatSeconds() > 0
            ? request.heartbeatSeconds()
            : UpgradeRequest.DEFAULT_HEARTBEAT_SECONDS;
    helm = Workflow.newActivityStub(HelmActivities.class, options(Duration.ofMinutes(5), 0));
    hooks =
        Workflow.newActivityStub(HelmActivities.class, options(Duration.ofMinutes(30), heartbeat));
    cluster =
        Workflow.newActivityStub(
            ClusterActivities.class, options(Duration.ofMinutes(30), heartbeat));
    // A created workload may take a while to become Ready (its own bound is the plan's unit
    // timeout per replica); an operator's stop cancels the wait, and the undo runs only once the
    // activity has let go, so it never races a create still in flight.
    placements =
        Workflow.newActivityStub(
            HelmActivities.class,
            ActivityOptions.newBuilder(options(Duration.ofHours(2), heartbeat))
                .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
                .build());
    String release = request.release().namespace() + "/" + request.release().release();

    boolean rollback = request.isRollback();
    phase = Phase.PRE_CHECKS;
    message =
        rollback
            ? "planning the rollback of " + release + " to revision " + request.rollbackTo()
            : "planning the upgrade of " + release;
    HelmActivities.PendingUpgrade held;
    try {
      if (rollback) {
        Workflow.getVersion(HRB_ROLLBACK_TO_REVISION, Workflow.DEFAULT_VERSION, 1);
        held =
            helm.beginRollback(
                new HelmActivities.RollbackRequest(
                    request.release().namespace(),
                    request.release().release(),
                    request.rollbackTo(),
                    runId));
      } else {
        held = helm.beginUpgrade(new HelmActivities.BeginRequest(request.release(), runId));
      }
    } catch (ActivityFailure e) {
      verdict = Verdict.notInspected("could not read the release: " + Run.cause(e));
      return end(Phase.FAILED, verdict.problems().get(0));
    }
    if (!held.plan().problems().isEmpty()) {
      verdict = Verdict.invalid(held.plan().problems());
      return end(
          Phase.FAILED,
          "refused, nothing was changed: " + String.join("; ", held.plan().problems()));
    }
    fromRevision = held.fromRevision();
    toRevision = held.toRevision();
    fromChart = held.plan().fromChart();
    toChart = held.plan().toChart();
    moves = held.workloads();
    for (HelmActivities.WorkloadUpgrade w : held.workloads()) {
      workloads.add(
          new ReleaseStatus.Workload(
              w.key(),
              Names.workflowId(
                  request.cluster(), new Target(request.release().namespace(), w.kind(), w.name())),
              WAITING,
              placed(w) ? "none" : request.gateOf(w.key(), w.name()).name().toLowerCase(),
              ""));
    }
    verdict = Verdict.ok("revision " + fromRevision);
    tell(
        "revision "
            + toRevision
            + (rollback
                ? " pending-rollback (rollback to " + request.rollbackTo() + ", "
                : " pending-upgrade (")
            + fromChart
            + " -> "
            + toChart
            + ") by "
            + request.identity()
            + (request.reason().isEmpty() ? "" : " (" + request.reason() + ")"));

    boolean objectsMoved = false;
    List<Integer> done = new ArrayList<>();
    String failure = null;
    try {
      UpgradePlan.Hook backup = request.workloads().effectiveHooks().backup();
      if (backup != null) {
        phase = Phase.BACKUP;
        message = "backup hook";
        ClusterActivities.HookResult result =
            cluster.runHook(
                new ClusterActivities.HookRequest(
                    request.cluster(),
                    request.target(),
                    "backup",
                    backup,
                    Names.hookJob(request.release().release(), "backup", runId, 0),
                    runId));
        tell("backup hook: Job " + result.jobName() + " completed");
      }
      failure = runHooks(rollback ? "pre-rollback" : "pre-upgrade", toRevision);
      if (failure == null && stopAsked == null) {
        phase = Phase.PREPARING;
        message = "applying the objects that are not workloads";
        objectsMoved = true;
        helm.moveObjects(
                new HelmActivities.ObjectsRequest(
                    request.release().namespace(),
                    request.release().release(),
                    fromRevision,
                    toRevision))
            .forEach(this::tell);
      }
      for (int i = 0; i < held.workloads().size() && failure == null && stopAsked == null; i++) {
        HelmActivities.WorkloadUpgrade w = held.workloads().get(i);
        String failed;
        if (placed(w)) {
          // The undo is registered first: a workload half created is deleted, one half deleted
          // is restored (both idempotent).
          done.add(i);
          failed = place(i, w);
        } else {
          failed = upgrade(i, w);
          if (failed == null) {
            done.add(i);
          }
        }
        if (failed != null && stopAsked == null) {
          failure = failed;
        }
      }
      if (failure == null && stopAsked == null) {
        failure = runHooks(rollback ? "post-rollback" : "post-upgrade", toRevision);
      }
      // helm rollback runs no test hooks.
      if (failure == null && stopAsked == null && !rollback) {
        phase = Phase.TESTING;
        failure = runHooks("test", toRevision);
      }
    } catch (ActivityFailure e) {
      failure = Run.cause(e);
    }
    if (failure == null && stopAsked == null) {
      phase = Phase.POST_CHECKS;
      message = "writing revision " + toRevision;
      helm.finishUpgrade(
          new HelmActivities.FinishRequest(
              request.release().namespace(),
              request.release().release(),
              fromRevision,
              toRevision,
              true,
              rollback ? "Rollback to " + request.rollbackTo() : null));
      tell("revision " + toRevision + " deployed, revision " + fromRevision + " superseded");
      return end(
          Phase.COMPLETED,
          rollback
              ? release + " rolled back to revision " + request.rollbackTo() + " (" + toChart + ")"
              : release + " upgraded to " + toChart);
    }
    return goBack(failure, done, objectsMoved);
  }

  /** Runs one workload's child; null when it completed, else why not. */
  private String upgrade(int index, HelmActivities.WorkloadUpgrade w) {
    current = index;
    phase = Phase.UPGRADING;
    ReleaseStatus.Workload status = workloads.get(index);
    message = "upgrading " + w.key() + " (" + status.workflowId() + ")";
    setState(index, UPGRADING, "");
    UpgradePlan plan =
        request.workloads().toBuilder()
            .target(request.release().namespace() + "/" + w.kind() + "/" + w.name())
            .cluster(request.cluster())
            .change(new UpgradePlan.Change(null, w.template(), null))
            .gate(request.gateOf(w.key(), w.name()))
            .hooks(null)
            .repair(null)
            .build();
    UpgradeResult result = child(status.workflowId(), plan);
    if (result != null && result.phase() == Phase.COMPLETED) {
      fromRevisions.put(index, result.status().fromRevision());
      setState(index, COMPLETED, result.message());
      tell(w.key() + ": " + result.message());
      return null;
    }
    String why = result == null ? "its run could not start" : result.message();
    boolean stopped =
        stopAsked != null
            && result != null
            && (result.phase() == Phase.CANCELLED || result.phase() == Phase.ROLLED_BACK);
    setState(index, stopped ? result.phase().name().toLowerCase().replace('_', '-') : FAILED, why);
    tell(w.key() + ": " + (result == null ? "" : result.phase() + ", ") + why);
    return w.key() + (result == null ? " could not run" : " ended " + result.phase()) + ": " + why;
  }

  /** Whether the release's run creates or deletes the workload itself (no child run). */
  private static boolean placed(HelmActivities.WorkloadUpgrade w) {
    return w.change().equals("create") || w.change().equals("delete");
  }

  /**
   * Creates (then waits Ready) or deletes a workload the chart added or removed; null when done,
   * else why not. An operator's cancel or rollback stops the wait.
   */
  private String place(int index, HelmActivities.WorkloadUpgrade w) {
    Workflow.getVersion(RWL_ADDED_REMOVED_WORKLOADS, Workflow.DEFAULT_VERSION, 1);
    boolean create = w.change().equals("create");
    current = index;
    phase = Phase.UPGRADING;
    message = (create ? "creating " : "deleting ") + w.key();
    setState(index, UPGRADING, "");
    String done;
    try {
      done = placeWorkload(create ? toRevision : fromRevision, w.key(), create);
    } catch (ActivityFailure e) {
      String why = Run.cause(e);
      setState(index, FAILED, why);
      tell(w.key() + ": " + why);
      return w.key() + " could not be " + (create ? "created" : "deleted") + ": " + why;
    } catch (CanceledFailure e) {
      setState(index, stopAsked == Phase.CANCELLED ? "cancelled" : "rolled-back", "stopped");
      tell(w.key() + ": stopped, " + (create ? "not created" : "not deleted"));
      return w.key() + " stopped";
    }
    setState(index, COMPLETED, done);
    tell(done);
    return null;
  }

  /**
   * One {@code placeWorkload}, cancelled when an operator asks the release to stop while it waits.
   *
   * @throws CanceledFailure when it was stopped that way
   */
  private String placeWorkload(int revision, String key, boolean present) {
    HelmActivities.WorkloadPresence presence =
        new HelmActivities.WorkloadPresence(
            request.release().namespace(),
            request.release().release(),
            revision,
            key,
            present,
            request.workloads().effectiveUnitTimeout().toSeconds());
    if (goingBack) {
      return placements.placeWorkload(presence);
    }
    List<Promise<String>> result = new ArrayList<>();
    CancellationScope scope =
        Workflow.newCancellationScope(
            () -> result.add(Async.function(placements::placeWorkload, presence)));
    scope.run();
    Workflow.await(() -> result.get(0).isCompleted() || stopAsked != null);
    if (!result.get(0).isCompleted()) {
      scope.cancel("stopped by " + stopBy.identity());
    }
    try {
      return result.get(0).get();
    } catch (ActivityFailure e) {
      if (e.getCause() instanceof CanceledFailure c) {
        throw c;
      }
      throw e;
    }
  }

  /** Runs a child upgrade to its end; null when it could not run at all. */
  private UpgradeResult child(String workflowId, UpgradePlan plan) {
    UpgradeWorkflow child =
        Workflow.newChildWorkflowStub(
            UpgradeWorkflow.class,
            ChildWorkflowOptions.newBuilder()
                .setWorkflowId(workflowId)
                .setTaskQueue(Names.taskQueue(request.cluster()))
                .setWorkflowIdReusePolicy(
                    WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE)
                // The release's run cancelled by Temporal cancels the workload's (= lockstep
                // cancel).
                .setParentClosePolicy(ParentClosePolicy.PARENT_CLOSE_POLICY_REQUEST_CANCEL)
                .build());
    Promise<UpgradeResult> result =
        Async.function(
            child::run,
            new UpgradeRequest(
                plan, request.identity(), request.reason(), request.heartbeatSeconds()));
    try {
      Workflow.getWorkflowExecution(child).get();
      childRunning = workflowId;
      if (stopAsked != null && !goingBack) {
        steerChild(workflowId);
      }
      return result.get();
    } catch (ChildWorkflowFailure e) {
      tell(workflowId + ": " + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()));
      return null;
    } finally {
      childRunning = null;
    }
  }

  /** The hooks of one event; null when they passed, else why not. */
  private String runHooks(String event, int revision) {
    if (stopAsked != null) {
      return null;
    }
    message = event + " hooks";
    try {
      hooks
          .runHooks(
              new HelmActivities.HooksRequest(
                  request.cluster(),
                  request.release().namespace(),
                  request.release().release(),
                  revision,
                  event,
                  runId))
          .forEach(this::tell);
      return null;
    } catch (ActivityFailure e) {
      String why = event + " hook failed: " + Run.cause(e);
      tell(why);
      return why;
    }
  }

  /**
   * Back to the revision the upgrade started from: the workloads already moved rolled back in
   * reverse order (a rollback run each), the objects restored, the revision recorded failed.
   */
  private ReleaseResult goBack(String failure, List<Integer> done, boolean objectsMoved) {
    goingBack = true;
    phase = Phase.ROLLING_BACK;
    String why =
        failure != null
            ? failure
            : (stopAsked == Phase.CANCELLED ? "cancelled by " : "rolled back by ")
                + stopBy.identity()
                + (stopBy.reason().isEmpty() ? "" : " (" + stopBy.reason() + ")");
    tell("going back: " + why);
    List<String> stuck = new ArrayList<>();
    for (int k = done.size() - 1; k >= 0; k--) {
      int index = done.get(k);
      ReleaseStatus.Workload w = workloads.get(index);
      current = index;
      if (placed(moves.get(index))) {
        String not = unplace(index, moves.get(index));
        if (not != null) {
          stuck.add(w.key() + ": " + not);
        }
        continue;
      }
      message = "rolling back " + w.key();
      setState(index, ROLLING_BACK, "");
      String[] kindName = w.workflowId().split("/");
      String kind = kindName[kindName.length - 2];
      String name = kindName[kindName.length - 1];
      UpgradePlan plan =
          request.workloads().toBuilder()
              .target(request.release().namespace() + "/" + kind + "/" + name)
              .cluster(request.cluster())
              .change(UpgradePlan.Change.restoring(fromRevisions.get(index)))
              .gate(UpgradePlan.Gate.NONE)
              .onFailure(UpgradePlan.FailurePolicy.HOLD)
              .retries(null)
              .hooks(null)
              .repair(null)
              .build();
      UpgradeResult result = child(w.workflowId(), plan);
      if (result != null && result.phase() == Phase.COMPLETED) {
        setState(index, ROLLED_BACK, result.message());
        tell(w.key() + " rolled back: " + result.message());
      } else {
        String not = result == null ? "its rollback could not start" : result.message();
        setState(index, FAILED, not);
        stuck.add(w.key() + ": " + not);
        tell(w.key() + " NOT rolled back: " + not);
      }
    }
    current = null;
    String ns = request.release().namespace();
    String name = request.release().release();
    try {
      if (objectsMoved) {
        message = "restoring the objects that are not workloads";
        helm.moveObjects(new HelmActivities.ObjectsRequest(ns, name, toRevision, fromRevision))
            .forEach(o -> tell("restored " + o));
      }
      helm.finishUpgrade(
          new HelmActivities.FinishRequest(
              ns,
              name,
              fromRevision,
              toRevision,
              false,
              (request.isRollback() ? "Rollback \"" : "Upgrade \"") + name + "\" failed: " + why));
      tell("revision " + toRevision + " failed, revision " + fromRevision + " stays deployed");
    } catch (ActivityFailure e) {
      stuck.add("the release record: " + Run.cause(e));
    }
    String end =
        why
            + "; "
            + (stuck.isEmpty()
                ? "every workload is back at revision " + fromRevision
                : "NOT all back: " + String.join("; ", stuck));
    if (!stuck.isEmpty()) {
      return end(Phase.FAILED, end);
    }
    return end(stopAsked != null && failure == null ? stopAsked : Phase.FAILED, end);
  }

  /**
   * Undoes a workload the run created (deleted) or deleted (created again from the revision the
   * release started from, and waited Ready); null when done, else why not.
   */
  private String unplace(int index, HelmActivities.WorkloadUpgrade w) {
    Workflow.getVersion(RWL_ADDED_REMOVED_WORKLOADS, Workflow.DEFAULT_VERSION, 1);
    boolean created = w.change().equals("create");
    message = (created ? "deleting " : "restoring ") + w.key();
    setState(index, ROLLING_BACK, "");
    try {
      // The revision that renders it: the new one for a created workload, the old for a deleted.
      String done = placeWorkload(created ? toRevision : fromRevision, w.key(), !created);
      setState(index, ROLLED_BACK, done);
      tell(w.key() + " rolled back: " + done);
      return null;
    } catch (ActivityFailure e) {
      String not = Run.cause(e);
      setState(index, FAILED, not);
      tell(w.key() + " NOT rolled back: " + not);
      return not;
    }
  }

  private final java.util.Map<Integer, String> fromRevisions = new java.util.HashMap<>();

  private void setState(int index, String state, String msg) {
    ReleaseStatus.Workload w = workloads.get(index);
    workloads.set(index, new ReleaseStatus.Workload(w.key(), w.workflowId(), state, w.gate(), msg));
  }

  private void tell(String line) {
    story.add(line);
  }

  private ReleaseResult end(Phase ended, String why) {
    phase = ended;
    message = why;
    finishedAt = Workflow.currentTimeMillis();
    current = null;
    if (verdict == null) {
      verdict = Verdict.notInspected(why);
    }
    return new ReleaseResult(ended, why, status(), verdict);
  }

  @Override
  public Verdict awaitVerdict() {
    Workflow.await(() -> verdict != null);
    return verdict;
  }

  @Override
  public String cancel(SteerRequest request) {
    return stop(Phase.CANCELLED, request);
  }

  @Override
  public void validateCancel(SteerRequest request) {
    validateStop("cancel");
  }

  @Override
  public String rollback(SteerRequest request) {
    return stop(Phase.ROLLED_BACK, request);
  }

  @Override
  public void validateRollback(SteerRequest request) {
    validateStop("rollback");
  }

  @Override
  public void cancelSignal(SteerRequest request) {
    if (refusal() == null) {
      stop(Phase.CANCELLED, request);
    }
  }

  @Override
  public void rollbackSignal(SteerRequest request) {
    if (refusal() == null) {
      stop(Phase.ROLLED_BACK, request);
    }
  }

  private void validateStop(String what) {
    String refusal = refusal();
    if (refusal != null) {
      throw new IllegalStateException(what + " refused: " + refusal);
    }
  }

  private String refusal() {
    if (phase.isTerminal()) {
      return "the release's upgrade has ended (" + phase + ")";
    }
    if (goingBack || stopAsked != null) {
      return "the release's upgrade is already going back";
    }
    if (verdict == null) {
      return "the release is still being planned";
    }
    return null;
  }

  private String stop(Phase asked, SteerRequest by) {
    stopAsked = asked;
    stopBy = by;
    tell((asked == Phase.CANCELLED ? "cancel" : "rollback") + " asked by " + by.identity());
    if (childRunning != null && !goingBack) {
      steerChild(childRunning);
      return "forwarded to " + childRunning + "; the workloads before it go back next";
    }
    return "the release goes back before its next step";
  }

  /** Tells the moving workload's child to stop as asked (its own steering does the rest). */
  private void steerChild(String workflowId) {
    UpgradeWorkflow child = Workflow.newExternalWorkflowStub(UpgradeWorkflow.class, workflowId);
    if (stopAsked == Phase.CANCELLED) {
      child.cancelSignal(stopBy);
    } else {
      child.rollbackSignal(stopBy);
    }
  }

  @Override
  public ReleaseStatus status() {
    return new ReleaseStatus(
        request == null ? null : request.target().toString(),
        request == null ? null : request.cluster(),
        runId,
        phase,
        message,
        fromRevision,
        toRevision,
        fromChart,
        toChart,
        List.copyOf(workloads),
        current,
        List.copyOf(story),
        Instant.ofEpochMilli(startedAt).toString(),
        finishedAt == null ? null : Instant.ofEpochMilli(finishedAt).toString());
  }

  private static ActivityOptions options(Duration startToClose, int heartbeatSeconds) {
    ActivityOptions.Builder b =
        ActivityOptions.newBuilder()
            .setStartToCloseTimeout(startToClose.plus(Duration.ofMinutes(2)))
            .setScheduleToCloseTimeout(startToClose.plus(Duration.ofMinutes(12)))
            .setRetryOptions(
                RetryOptions.newBuilder()
                    .setInitialInterval(Duration.ofSeconds(1))
                    .setBackoffCoefficient(2)
                    .setMaximumInterval(Duration.ofSeconds(30))
                    .setDoNotRetry(ClusterActivities.FAILURE_HOOK_FAILED)
                    .build());
    if (heartbeatSeconds > 0) {
      b.setHeartbeatTimeout(Duration.ofSeconds(heartbeatSeconds));
    }
    return b.build();
  }
}
