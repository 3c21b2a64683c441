package dev.lockstep.workflows;

import dev.lockstep.workflows.ClusterActivities.TargetSnapshot;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.SteeringTable.Action;
import dev.lockstep.workflows.SteeringTable.Situation;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.workflow.Async;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.Promise;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;

/**
 * The engine: a run compiles its plan into a list of {@link Step}s and walks them with an index.
 * The {@link TargetStrategy} of the workload kind compiles and runs the workload's steps; this
 * interpreter runs collect, the pre-checks, hooks and gates, holds before a unit when paused, takes
 * operators' requests through the {@link SteeringTable}, and hands every failed step to the {@link
 * FailurePolicy}. Going back is a list of return steps walked the same way. Deterministic: time,
 * waits and logging come from {@link Workflow}; every cluster action is an activity.
 */
public class UpgradeWorkflowImpl implements UpgradeWorkflow {
  private static final Logger LOG = Workflow.getLogger(UpgradeWorkflowImpl.class);

  /**
   * A target that already runs what the plan asks for ends the run COMPLETED ("unchanged") instead
   * of FAILED with a failed pre-check (issue 20). The old branch can go once no run started before
   * this change can still be replayed (runs refused this way end at once, so: after the release
   * that brings it, plus the namespace's retention).
   */
  static final String UNCHANGED_COMPLETES = "unchanged-completes";

  /** Plans 0.2.0 refused (Deployment targets, gateTimeout) are accepted from here on. */
  static final String PLANS_AFTER_020 = "plans-after-0.2.0";

  /**
   * Canary plans (strategy.canary) are accepted from here on; main before it refused them before
   * anything moved. The DEFAULT_VERSION branch can go once no run refused that way can still be
   * replayed (the release that brings canaries, plus the namespace's retention).
   */
  static final String CANARY_ACCEPTED = "canary-strategy-accepted";

  /**
   * Blue-green plans (strategy.blueGreen) are accepted from here on; main before it refused them
   * before anything moved. The DEFAULT_VERSION branch can go once no run refused that way can still
   * be replayed (the release that brings blue-green, plus the namespace's retention).
   */
  static final String BG_ACCEPTED = "bg-strategy-accepted";

  private final Run run = new Run();
  private final Story story = new Story(run);
  private Stubs stubs;
  private TargetStrategy strategy;

  @Override
  public UpgradeResult run(UpgradeRequest request) {
    run.request = request;
    run.plan = request.plan();
    run.startedAt = Workflow.currentTimeMillis();
    run.cluster = run.plan.effectiveCluster();
    run.steps.add(Step.of(Step.Kind.COLLECT, ""));
    run.steps.add(Step.of(Step.Kind.PRE_CHECKS, ""));
    stubs = new Stubs(run);
    RunMetrics.started();
    try {
      return start();
    } catch (CanceledFailure e) {
      // Temporal's own cancel (the Web UI, `temporal workflow cancel`) means `lockstep cancel`.
      UpgradeResult[] result = new UpgradeResult[1];
      CancellationScope scope =
          Workflow.newDetachedCancellationScope(() -> result[0] = cancelledByTemporal());
      scope.run();
      return result[0];
    }
  }

  private UpgradeResult start() {
    // Collect, and validate against the cluster before anything moves.
    begin(Phase.COLLECTING, "reading the target");
    List<String> problems = new ArrayList<>(PlanValidation.problems(run.plan));
    if (!problems.isEmpty()) {
      return invalid(problems);
    }
    List<String> refusedBeforeCanary = PlanValidation.refusedBeforeCanary(run.plan);
    if (!refusedBeforeCanary.isEmpty()
        && Workflow.getVersion(CANARY_ACCEPTED, Workflow.DEFAULT_VERSION, 1)
            == Workflow.DEFAULT_VERSION) {
      // A canary run refused before canaries were accepted replays as it ran: refused.
      return invalid(refusedBeforeCanary);
    }
    List<String> refusedBeforeBlueGreen = PlanValidation.refusedBeforeBlueGreen(run.plan);
    if (!refusedBeforeBlueGreen.isEmpty()
        && Workflow.getVersion(BG_ACCEPTED, Workflow.DEFAULT_VERSION, 1)
            == Workflow.DEFAULT_VERSION) {
      // A blue-green run refused before blue-green was accepted replays as it ran: refused.
      return invalid(refusedBeforeBlueGreen);
    }
    List<String> refusedBefore = PlanValidation.refusedBy020(run.plan);
    if (!refusedBefore.isEmpty()
        && Workflow.getVersion(PLANS_AFTER_020, Workflow.DEFAULT_VERSION, 1)
            == Workflow.DEFAULT_VERSION) {
      // A run 0.2.0 refused (a Deployment, a gateTimeout) replays as it ran: refused.
      return invalid(refusedBefore);
    }
    run.target = Target.parse(run.plan.target(), "default");
    Workflow.upsertTypedSearchAttributes(
        SearchAttributes.TARGET.valueSet(run.target.toString()),
        SearchAttributes.CLUSTER.valueSet(run.cluster),
        SearchAttributes.PHASE.valueSet(run.phase.name()));
    TargetSnapshot snapshot;
    try {
      snapshot =
          stubs.quick.inspect(
              new ClusterActivities.InspectRequest(
                  run.cluster,
                  run.target,
                  run.plan.effectiveChange(),
                  Boolean.TRUE.equals(run.plan.scaleUp())));
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      run.verdict = Verdict.notInspected("could not read the target: " + Run.cause(e));
      return end(Phase.FAILED, run.verdict.problems().get(0));
    }
    if (!snapshot.problems().isEmpty()) {
      return invalid(snapshot.problems());
    }
    if (run.plan.notifications() == null
        && snapshot.workerNotify() != null
        && !snapshot.workerNotify().effectiveWebhooks().isEmpty()
        && Workflow.getVersion(NOTIFY_DEFAULTS, Workflow.DEFAULT_VERSION, NOTIFY_DEFAULTS_V1)
            == NOTIFY_DEFAULTS_V1) {
      workerNotify = snapshot.workerNotify();
    }
    run.fromRevision = snapshot.updateRevision();
    run.fromImages = snapshot.images();
    run.toImages = snapshot.newImages();
    for (UnitSnapshot unit : snapshot.units()) {
      run.units.add(
          new UnitStatus(
              unit.name(), unit.ordinal(), UnitState.WAITING, unit.revision(), unit.ready(), ""));
    }
    StatefulSetStrategy statefulSet = null;
    if (Target.DEPLOYMENT.equals(run.target.kind())
        && run.plan.strategy() != null
        && run.plan.strategy().canary() != null) {
      strategy = new DeploymentCanaryStrategy(run, story, stubs, snapshot);
    } else if (Target.DEPLOYMENT.equals(run.target.kind())
        && run.plan.strategy() != null
        && run.plan.strategy().blueGreen() != null) {
      strategy = new DeploymentBlueGreenStrategy(run, story, stubs, snapshot);
    } else if (Target.DEPLOYMENT.equals(run.target.kind())) {
      strategy = new DeploymentRollingStrategy(run, story, stubs, snapshot);
    } else {
      statefulSet = new StatefulSetStrategy(run, story, stubs, snapshot);
      strategy = statefulSet;
    }
    run.mark(0, Step.State.DONE);
    run.index = 1;
    if (run.plan.repair() != null) {
      return repair(snapshot, statefulSet);
    }

    // Pre-checks: every failing reason at once; nothing changes if any fails.
    begin(Phase.PRE_CHECKS, "running pre-checks");
    if (snapshot.runAnnotation() != null) {
      String held =
          PreChecks.heldBy(snapshot, run.target, Workflow.getInfo().getWorkflowId(), run.cluster);
      run.verdict = Verdict.refused(Verdict.Refusal.TARGET_HELD, List.of(held));
      return end(Phase.FAILED, "refused, nothing was changed: " + held);
    }
    // Unchanged only when nothing is half done either (an abandoned run's pinned partition or
    // paused rollout): otherwise the pre-checks refuse it with the reason.
    if (!snapshot.changesTemplate()
        && PreChecks.evaluate(snapshot, List.of()).stream().allMatch(PreChecks.Result::passed)
        && Workflow.getVersion(UNCHANGED_COMPLETES, Workflow.DEFAULT_VERSION, 1) == 1) {
      return unchanged();
    }
    List<String> failing = new ArrayList<>();
    run.checks.addAll(PreChecks.evaluate(snapshot, run.plan.effectiveForce()));
    for (PreChecks.Result check : run.checks) {
      if (!check.passed() && !check.forced()) {
        failing.add(check.name() + ": " + check.message());
      }
    }
    if (!snapshot.changesTemplate()) {
      failing.add("the change changes nothing: " + run.target + " already runs " + run.toImages);
    }
    if (run.plan.effectiveChange().restore() != null
        && ClusterActivities.DATA_MIGRATED_FORWARD.equals(snapshot.revisionData())
        && !Boolean.TRUE.equals(run.plan.effectiveMigration().acceptDataRisk())) {
      // Data first: the revision in place migrated the data forward only.
      failing.add(
          "data: "
              + run.fromRevision
              + " was reached with a forward-only migration: rolling back would run the old"
              + " version on migrated data; restore the data first, then run `lockstep rollback "
              + run.target
              + run.clusterFlag()
              + " --accept-data-risk`");
    }
    if (!failing.isEmpty()) {
      run.verdict = Verdict.refused(Verdict.Refusal.CHECKS_FAILED, failing);
      return end(
          Phase.FAILED, "pre-checks failed, nothing was changed: " + String.join("; ", failing));
    }
    accepted();
    run.mark(1, Step.State.DONE);
    run.index = 2;
    if (run.cancelRequested) {
      return end(Phase.CANCELLED, "cancelled before any change");
    }
    run.untold = true;
    story.startPending(
        "Lockstep run "
            + run.runId()
            + " by "
            + run.request.identity()
            + (run.request.reason().isEmpty() ? "" : " (" + run.request.reason() + ")")
            + ": "
            + Audit.describe(run.plan));
    run.steps.addAll(strategy.forward(TargetStrategy.Start.FRESH));
    UpgradeResult ended = walk();
    return ended != null ? ended : end(Phase.COMPLETED, strategy.completed());
  }

  /**
   * A repair: takes the target over from the run that ended outside Lockstep and either continues
   * its change or restores the revision it started from. What the dead run knew comes from the mark
   * it left on the target, so a repair works even after Temporal has forgotten the dead run. That
   * this run could start at all proves the dead run is not running: a target has one workflow id,
   * and only one run of it runs at a time.
   */
  private UpgradeResult repair(TargetSnapshot snapshot, StatefulSetStrategy statefulSet) {
    begin(Phase.PRE_CHECKS, "reading the mark of the run that ended");
    String dead = snapshot.runAnnotation();
    ClusterActivities.Origin found = snapshot.origin();
    String workflowId = Workflow.getInfo().getWorkflowId();
    if (dead == null) {
      String problem =
          "nothing to repair: "
              + run.target
              + " carries no Lockstep run's mark (annotation "
              + ClusterActivities.RUN_ANNOTATION
              + ")";
      run.verdict = Verdict.refused(Verdict.Refusal.CHECKS_FAILED, List.of(problem));
      return end(Phase.FAILED, problem);
    }
    if (found == null || !workflowId.equals(found.workflowId())) {
      String problem =
          found == null
              ? run.target
                  + " is marked by Lockstep run "
                  + dead
                  + " but the mark does not say where it started (annotation "
                  + ClusterActivities.ORIGIN_ANNOTATION
                  + " missing): put back the update strategy and remove "
                  + ClusterActivities.RUN_ANNOTATION
                  + " by hand"
              : run.target
                  + " is marked by run "
                  + dead
                  + " of "
                  + found.workflowId()
                  + ", not of "
                  + workflowId
                  + ": repair it with the --cluster that run was started with";
      run.verdict = Verdict.refused(Verdict.Refusal.TARGET_HELD, List.of(problem));
      return end(Phase.FAILED, problem);
    }
    if (snapshot.markedRunHooks() != null
        && "Running".equals(snapshot.markedRunHooks().get("migrate"))) {
      // Data first: nothing is decided about a target whose data is being migrated.
      String problem =
          "the migrate hook of run "
              + dead
              + " is still running: let its Job finish (or delete it), then repair "
              + run.target
              + "; nothing was changed";
      run.verdict = Verdict.refused(Verdict.Refusal.TARGET_HELD, List.of(problem));
      return end(Phase.FAILED, problem);
    }
    boolean wasRestoring = statefulSet.takeOver(found, dead);
    accepted();
    run.mark(1, Step.State.DONE);
    run.index = 2;
    if (run.cancelRequested) {
      return end(Phase.CANCELLED, "cancelled before any change");
    }
    run.untold = true;
    if (run.plan.repair() == UpgradePlan.Repair.RESTORE || wasRestoring) {
      run.steps.add(Step.of(Step.Kind.ADOPT, ""));
      UpgradeResult ended = walk();
      if (ended != null) {
        return ended;
      }
      statefulSet.restoring();
      return goBack(
          (wasRestoring ? "finished the rollback of run " : "restored after run ")
              + dead
              + " ended outside Lockstep; units returned to "
              + run.fromRevision,
          Phase.COMPLETED);
    }
    run.steps.addAll(strategy.forward(TargetStrategy.Start.ADOPTED));
    UpgradeResult ended = walk();
    return ended != null ? ended : end(Phase.COMPLETED, strategy.completed());
  }

  /**
   * The plan is accepted: the verdict is given, and the run goes on only once the caller waiting
   * for it ({@code awaitVerdict}) has its answer. That keeps the answer's completion and the run's
   * next command in one order whether the caller's update arrived with the run's first task or
   * later; without it, a replay could order them differently from the original.
   */
  private void accepted() {
    run.verdict = Verdict.ok(run.fromRevision);
    Workflow.await(Workflow::isEveryHandlerFinished);
  }

  // ---- the interpreter -----------------------------------------------------------------------

  /**
   * Walks the steps from the current index to the end. Returns how the run ended when it ended
   * early (stopped, rolled back, held and abandoned), or null when every step is done.
   */
  private UpgradeResult walk() {
    while (run.index < run.steps.size()) {
      Step step = run.current();
      if (!step.kind().returns()) {
        if (step.kind().movesUnits()) {
          holdIfPaused();
        }
        UpgradeResult stopped = stopIfAsked();
        if (stopped != null) {
          return stopped;
        }
      }
      run.mark(run.index, Step.State.RUNNING);
      long began = Workflow.currentTimeMillis();
      try {
        execute(step);
        if (step.kind() == Step.Kind.UNIT) {
          RunMetrics.unitReplaced(Duration.ofMillis(Workflow.currentTimeMillis() - began));
        }
        run.mark(run.index, Step.State.DONE);
        run.index++;
      } catch (StepFailed failed) {
        run.mark(run.index, Step.State.FAILED);
        UpgradeResult ended = failed(step, failed);
        if (ended != null) {
          return ended;
        }
      }
    }
    return null;
  }

  /** What follows a failed step; null to go on walking (from a retried or a new step). */
  private UpgradeResult failed(Step step, StepFailed failed) {
    String why =
        !step.kind().returns()
            ? failed.why()
            : failed.why().isEmpty() ? run.returnReason : run.returnReason + "; " + failed.why();
    boolean stopping = run.cancelRequested || run.rollbackRequested;
    FailurePolicy.Decision decision =
        FailurePolicy.decide(
            step.kind(), failed.drift(), run.changed, run.attempt, run.plan, stopping);
    LOG.info("step {} failed ({}): {}", step.describe(), decision, why);
    RunMetrics.stepFailed(step.kind());
    switch (decision) {
      case FAIL -> {
        return end(Phase.FAILED, why + "; nothing was changed");
      }
      case AGAIN -> {
        // Flux-style remediation: go back, then run the upgrade again from prepare.
        UpgradeResult ended = walkBack(why, false);
        if (ended != null) {
          return ended;
        }
        run.attempt++;
        for (int u = 0; u < run.units.size(); u++) {
          UnitStatus back = run.units.get(u);
          run.units.set(
              u,
              back.with(
                  UnitState.WAITING,
                  back.revision(),
                  back.ready(),
                  "attempt " + (run.attempt + 1) + " after: " + why));
        }
        // The return steps walked to the end: the index stands on the first new step.
        run.steps.addAll(strategy.forward(TargetStrategy.Start.AGAIN));
        return null;
      }
      case ROLL_BACK -> {
        RunMetrics.rolledBack(step.kind(), "failure");
        return goBack(why, Phase.ROLLED_BACK);
      }
      default -> {
        String answer = hold(why, step);
        switch (answer) {
          case "retry" -> {
            run.retrying = step.kind().movesUnits();
            run.mark(run.index, Step.State.PENDING);
            return null;
          }
          case "abandon" -> {
            return abandon(why);
          }
          default -> {
            if (step.kind().returns()) {
              // Asked to roll back or cancel while going back: that is what a retry does.
              run.mark(run.index, Step.State.PENDING);
              return null;
            }
            UpgradeResult stopped = stopIfAsked();
            if (stopped != null) {
              return stopped;
            }
            RunMetrics.rolledBack(step.kind(), "requested");
            return goBack(why, Phase.ROLLED_BACK);
          }
        }
      }
    }
  }

  private void execute(Step step) {
    setPhase(phaseOf(step));
    switch (step.kind()) {
      case BACKUP -> {
        story.tellStart();
        runHook("backup", run.plan.effectiveHooks().backup());
      }
      case MIGRATE -> {
        // The Discourse pattern: one unit on the new version, the schema migrated once, then the
        // gate and the rest.
        run.dataMoved = run.dataMoved || run.plan.effectiveMigration().forwardOnly();
        runHook("migrate", run.plan.effectiveHooks().migrate());
        run.migrateDone = true;
      }
      case TEST -> runHook("test", run.plan.effectiveHooks().test());
      case GATE -> awaitGate();
      case RESTORE_DATA -> restoreData();
      default -> {
        if (step.kind() == Step.Kind.SCALE_UP
            || step.kind() == Step.Kind.PREPARE
            || step.kind() == Step.Kind.ADOPT) {
          run.changed = true;
        }
        if (step.kind().movesUnits()
            && run.plan.effectiveMigration().forwardOnly()
            && run.plan.effectiveHooks().migrate() == null) {
          // The new version migrates its data itself as it starts.
          run.dataMoved = true;
        }
        strategy.execute(step);
      }
    }
  }

  private static Phase phaseOf(Step step) {
    return switch (step.kind()) {
      case COLLECT -> Phase.COLLECTING;
      case PRE_CHECKS -> Phase.PRE_CHECKS;
      case BACKUP -> Phase.BACKUP;
      case SCALE_UP -> Phase.SCALING_UP;
      case PREPARE, ADOPT -> Phase.PREPARING;
      case UNIT, ROLL, WEIGHT, PAUSE_FOR, PROMOTE, PREVIEW, SWITCH -> Phase.UPGRADING;
      case SCALE_DOWN -> Phase.SCALING_BACK;
      case ANALYSIS -> Phase.TESTING;
      case MIGRATE -> Phase.MIGRATING;
      case GATE -> Phase.WAITING_FOR_RESUME;
      case TEST -> Phase.TESTING;
      case SCALE_BACK -> Phase.SCALING_BACK;
      case FINISH -> Phase.POST_CHECKS;
      case STOP, RESTORE_DATA, REVERT, START, RELEASE -> Phase.ROLLING_BACK;
    };
  }

  /**
   * Goes back: the forward steps not run are skipped, the strategy's return steps are walked, and
   * the run ends in {@code outcome}.
   */
  private UpgradeResult goBack(String why, Phase outcome) {
    UpgradeResult ended = walkBack(why, true);
    return ended != null ? ended : end(outcome, why);
  }

  /** Walks the return steps; null when the target is back, else how the run ended instead. */
  private UpgradeResult walkBack(String why, boolean whole) {
    for (int i = run.index; i < run.steps.size(); i++) {
      if (run.steps.get(i).state() == Step.State.PENDING) {
        run.mark(i, Step.State.SKIPPED);
      }
    }
    run.index = run.steps.size();
    run.steps.addAll(strategy.back(whole));
    run.returning = true;
    run.returnReason = why;
    run.message = why + "; returning units to " + run.fromRevision;
    UpgradeResult ended = walk();
    run.returning = false;
    return ended;
  }

  /** Stops before the next step when a cancel or rollback was asked for; null to go on. */
  private UpgradeResult stopIfAsked() {
    if (run.cancelRequested) {
      if (!run.changed) {
        return end(
            Phase.CANCELLED,
            run.steps.stream().anyMatch(s -> s.kind() == Step.Kind.BACKUP && isDone(s))
                ? "cancelled after the backup, before any change"
                : "cancelled before any change");
      }
      return goBack("cancelled; units returned to " + run.fromRevision, Phase.CANCELLED);
    }
    if (run.rollbackRequested) {
      RunMetrics.rolledBack(run.current() == null ? null : run.current().kind(), "requested");
      return goBack(
          "rolled back as " + run.rollbackBy + " asked; units returned to " + run.fromRevision,
          Phase.ROLLED_BACK);
    }
    return null;
  }

  private static boolean isDone(Step step) {
    return step.state() == Step.State.DONE;
  }

  private UpgradeResult cancelledByTemporal() {
    if (run.phase.isTerminal()) {
      return new UpgradeResult(run.phase, run.message, status(), run.verdict);
    }
    run.steering.add(
        new Steering(
            Workflow.currentTimeMillis(),
            "cancel",
            "temporal",
            "the workflow was cancelled in Temporal",
            "cancel-request",
            true,
            "cancelling: returning upgraded units to "
                + (run.fromRevision == null ? "their original revision" : run.fromRevision)));
    run.cancelRequested = true;
    run.waiting = Run.Waiting.NOTHING;
    if (run.index < run.steps.size() && run.current().state() == Step.State.RUNNING) {
      Step.Kind kind = run.current().kind();
      run.mark(
          run.index,
          kind.returns()
              ? Step.State.PENDING
              : kind == Step.Kind.GATE ? Step.State.SKIPPED : Step.State.FAILED);
      if (!run.current().kind().returns()) {
        run.index++;
      }
    }
    if (run.returning) {
      UpgradeResult ended = walk();
      return ended != null ? ended : end(Phase.CANCELLED, "cancelled; units returned");
    }
    if (run.verdict == null) {
      run.verdict = Verdict.notInspected("cancelled before the plan was checked");
    }
    if (!run.changed) {
      return end(Phase.CANCELLED, "cancelled before any change");
    }
    return goBack("cancelled; units returned to " + run.fromRevision, Phase.CANCELLED);
  }

  // ---- steps the interpreter runs itself -----------------------------------------------------

  private void runHook(String name, UpgradePlan.Hook hook) {
    run.message = "running the " + name + " hook (" + hook.describe() + ")";
    String job = Names.hookJob(run.target.name(), name, run.runId(), ++run.hookRuns);
    LOG.info("running the {} hook of {} as Job {}", name, run.target, job);
    try {
      stubs
          .hook(hook)
          .runHook(
              new ClusterActivities.HookRequest(
                  run.cluster,
                  run.target,
                  name,
                  hook,
                  job,
                  run.runId(),
                  strategy == null ? null : strategy.hookService()));
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      throw new StepFailed(Run.cause(e), false);
    }
  }

  private void awaitGate() {
    int upgraded = 0;
    for (int i = run.index - 1; i >= 0; i--) {
      Step s = run.steps.get(i);
      if (s.kind() == Step.Kind.PREPARE || s.kind() == Step.Kind.ADOPT) {
        break;
      }
      if (s.kind() == Step.Kind.UNIT && isDone(s)) {
        upgraded++;
      }
    }
    String done = strategy.atGate();
    run.message =
        (done != null ? done : upgraded == 1 ? "first unit upgraded" : upgraded + " units upgraded")
            + "; run `lockstep resume "
            + run.target
            + run.clusterFlag()
            + "`";
    run.gateOpened = false;
    run.approvedBy.clear();
    run.gateTimedOut = false;
    run.gateDeadline = null;
    if (run.plan.countsApprovals()) {
      int required = run.plan.effectiveApprovals();
      run.message +=
          " (" + required + " approval" + (required == 1 ? "" : "s") + " by distinct people";
      run.message +=
          Boolean.TRUE.equals(run.plan.excludeStarter())
              ? ", not " + run.request.identity() + ")"
              : ")";
    }
    run.waiting = Run.Waiting.GATE;
    story.event("WaitingForResume", false, run.message);
    long since = Workflow.currentTimeMillis();
    tell("gate-waiting", run.message, since);
    Duration timeout = run.plan.effectiveGateTimeout();
    Duration remind = whoIsTold() == null ? null : whoIsTold().effectiveRemindEvery();
    // Added after v0.2.0 with gateTimeout: only plans that set it take the timed path, and
    // v0.2.0 refused those, so the DEFAULT_VERSION branch can go once no v0.2.0 run is left.
    boolean timed =
        timeout != null
            && Workflow.getVersion(GATE_TIMEOUT, Workflow.DEFAULT_VERSION, GATE_TIMEOUT_V1)
                == GATE_TIMEOUT_V1;
    if (timed) {
      run.gateDeadline = since + timeout.toMillis();
    }
    if (remind != null && notifying()) {
      // Reminders on durable timers, up to the gate timeout and after it (held at the gate).
      while (true) {
        long now = Workflow.currentTimeMillis();
        long next = now + remind.toMillis();
        if (timed && !run.gateTimedOut) {
          next = Math.min(next, run.gateDeadline);
        }
        if (Workflow.await(
            Duration.ofMillis(Math.max(1, next - now)),
            () -> run.gateOpened || run.cancelRequested || run.rollbackRequested)) {
          break;
        }
        if (timed && !run.gateTimedOut && Workflow.currentTimeMillis() >= run.gateDeadline) {
          gateTimedOut(timeout);
        } else {
          tell(
              "gate-reminder",
              "still waiting since " + Instant.ofEpochMilli(since) + ": " + run.message,
              since);
        }
      }
    } else if (timed) {
      boolean answered =
          Workflow.await(
              timeout, () -> run.gateOpened || run.cancelRequested || run.rollbackRequested);
      if (!answered) {
        gateTimedOut(timeout);
      }
    }
    Workflow.await(() -> run.gateOpened || run.cancelRequested || run.rollbackRequested);
    RunMetrics.gateWaited(
        Duration.ofMillis(Workflow.currentTimeMillis() - since),
        run.gateOpened ? "resumed" : run.rollbackRequested ? "rollback" : "cancel");
    run.waiting = Run.Waiting.NOTHING;
    run.gateDeadline = null;
    if (run.gateOpened) {
      story.event(
          "Resumed",
          false,
          "resumed at the gate by "
              + (run.approvedBy.isEmpty()
                  ? run.lastSteering("resume")
                  : String.join(", ", run.approvedBy)));
    }
    run.gateOpened = false;
  }

  private static final String NOTIFY = "notify";
  private static final int NOTIFY_V1 = 1;

  /**
   * The worker's default notification targets, for a plan without {@code notify:}: read with the
   * target at collect (recorded in the history, so a replay and a run started before the worker's
   * configuration changed both use what the run was given). Added after v0.2.0: a run recorded
   * before it carries none, and the DEFAULT_VERSION branch can go once no such run is left.
   */
  static final String NOTIFY_DEFAULTS = "notify-defaults";

  private static final int NOTIFY_DEFAULTS_V1 = 1;
  private UpgradePlan.Notify workerNotify;
  private Notifications notifications;

  /** Who is told: the plan's {@code notify:}, else the worker's defaults; null for nobody. */
  private UpgradePlan.Notify whoIsTold() {
    if (run.plan == null) {
      return null;
    }
    return run.plan.notifications() != null ? run.plan.notifications() : workerNotify;
  }

  /**
   * Whether this run tells the plan's webhooks. Added after v0.2.0 with {@code notify:}, which
   * v0.2.0 did not know: the DEFAULT_VERSION branch can go once no v0.2.0 run is left.
   */
  private boolean notifying() {
    UpgradePlan.Notify notify = whoIsTold();
    // A start refused before anything changed is answered to whoever started it, not announced.
    boolean refused = run.verdict != null && !run.verdict.valid();
    return notify != null
        && !refused
        && !notify.effectiveWebhooks().isEmpty()
        && Workflow.getVersion(NOTIFY, Workflow.DEFAULT_VERSION, NOTIFY_V1) == NOTIFY_V1;
  }

  /**
   * Tells every webhook of the plan, at once, and waits for the deliveries (each retried for a few
   * minutes). A delivery that fails is logged and in the audit (its activity's failure); it never
   * fails the run.
   */
  private void tell(String event, String text, Long waitingSince) {
    if (!notifying()) {
      return;
    }
    if (notifications == null) {
      notifications =
          Workflow.newActivityStub(
              Notifications.class,
              ActivityOptions.newBuilder()
                  .setStartToCloseTimeout(Duration.ofSeconds(30))
                  .setScheduleToCloseTimeout(Duration.ofMinutes(3))
                  .setRetryOptions(
                      RetryOptions.newBuilder()
                          .setInitialInterval(Duration.ofSeconds(2))
                          .setBackoffCoefficient(2)
                          .setMaximumInterval(Duration.ofSeconds(30))
                          .setMaximumAttempts(6)
                          .build())
                  .build());
    }
    String target =
        run.target != null ? run.target.toString() : run.plan == null ? "" : run.plan.target();
    List<Promise<String>> sent = new ArrayList<>();
    for (UpgradePlan.Webhook webhook : whoIsTold().effectiveWebhooks()) {
      sent.add(
          Async.function(
              notifications::deliver,
              new Notifications.Notice(
                  webhook,
                  event,
                  target,
                  run.cluster,
                  run.runId(),
                  run.phase.name(),
                  text,
                  waitingSince == null ? null : Instant.ofEpochMilli(waitingSince).toString())));
    }
    for (Promise<String> delivery : sent) {
      try {
        delivery.get();
      } catch (ActivityFailure e) {
        Stubs.rethrowCancellation(e);
        LOG.warn("could not notify ({}): {}", event, Run.cause(e));
      }
    }
  }

  private static final String GATE_TIMEOUT = "gate-timeout";
  private static final int GATE_TIMEOUT_V1 = 1;

  /** The gate waited {@code timeout} without an answer: the plan's onGateTimeout applies. */
  private void gateTimedOut(Duration timeout) {
    run.gateTimedOut = true;
    String waited = "no resume within gateTimeout " + Durations.format(timeout);
    String t = run.target + run.clusterFlag();
    switch (run.plan.effectiveOnGateTimeout()) {
      case RESUME -> {
        run.gateOpened = true;
        run.steering.add(
            new Steering(
                Workflow.currentTimeMillis(),
                "resume",
                "lockstep",
                waited,
                "gateTimeout",
                true,
                "resumed at the gate (onGateTimeout: resume)"));
        story.event("GateTimedOut", false, waited + ": resumed (onGateTimeout: resume)");
      }
      case ROLLBACK -> {
        run.rollbackRequested = true;
        run.rollbackBy = "onGateTimeout (" + waited + ")";
        run.steering.add(
            new Steering(
                Workflow.currentTimeMillis(),
                "rollback",
                "lockstep",
                waited,
                "gateTimeout",
                true,
                "rolling back to " + run.fromRevision + " (onGateTimeout: rollback)"));
        story.event("GateTimedOut", true, waited + ": rolling back (onGateTimeout: rollback)");
      }
      case HOLD -> {
        setPhase(Phase.HELD);
        run.message =
            waited
                + ": held at the gate (onGateTimeout: hold); run `lockstep resume "
                + t
                + "` to go on, `lockstep rollback "
                + t
                + "` or `lockstep cancel "
                + t
                + "`";
        story.event("GateTimedOut", true, run.message);
        tell("held", run.message, null);
      }
    }
  }

  private void holdIfPaused() {
    if (run.pauseRequested && !run.cancelRequested && !run.rollbackRequested) {
      setPhase(Phase.PAUSED);
      run.waiting = Run.Waiting.PAUSE;
      run.message =
          "paused before the next unit; run `lockstep resume "
              + run.target
              + run.clusterFlag()
              + "`";
      story.event("Paused", false, "paused by " + run.lastSteering("pause"));
      Workflow.await(() -> !run.pauseRequested || run.cancelRequested || run.rollbackRequested);
      run.waiting = Run.Waiting.NOTHING;
      if (!run.pauseRequested && !run.cancelRequested && !run.rollbackRequested) {
        story.event("Resumed", false, "resumed by " + run.lastSteering("resume"));
      }
    }
  }

  /**
   * Before units go back after a forward-only migration: the restore hook runs first; without one,
   * the run HOLDs until the risk is accepted or the target abandoned.
   */
  private void restoreData() {
    UpgradePlan.Hook restore = run.plan.effectiveHooks().restore();
    String why = run.returnReason;
    if (restore != null) {
      runHook("restore", restore);
      run.dataMoved = false;
      return;
    }
    if (Boolean.TRUE.equals(run.plan.effectiveMigration().acceptDataRisk()) || run.riskAccepted) {
      run.dataMoved = false;
      return;
    }
    setPhase(Phase.HELD);
    run.waiting = Run.Waiting.HELD_FOR_DATA;
    run.message =
        why
            + "; rolling back would run "
            + run.fromRevision
            + " on data migrated forward (migration.reversible: false) and the plan has no"
            + " restore hook: held; run `lockstep rollback "
            + run.target
            + run.clusterFlag()
            + " --accept-data-risk` to roll back anyway, or `lockstep abandon "
            + run.target
            + run.clusterFlag()
            + "` to leave it as it is";
    run.heldDecision = null;
    story.event("UpgradeHeld", true, run.message);
    tell("held", run.message, null);
    Workflow.await(() -> run.riskAccepted || "abandon".equals(run.heldDecision));
    run.waiting = Run.Waiting.NOTHING;
    if (!run.riskAccepted) {
      // Abandon: the caller's hold path ends the run.
      throw new StepFailed("", false);
    }
    run.dataMoved = false;
  }

  /** HELD: waits, at no cost, for retry, rollback, cancel or abandon; returns which. */
  private String hold(String why, Step step) {
    if ("abandon".equals(run.heldDecision)) {
      // Already decided while held for the data: leave the target as it is.
      run.heldDecision = null;
      return "abandon";
    }
    setPhase(Phase.HELD);
    run.waiting = Run.Waiting.HELD;
    String t = run.target + run.clusterFlag();
    run.message =
        why
            + (step.kind().returns()
                ? "; held: run `lockstep retry "
                    + t
                    + "` to try again or `lockstep abandon "
                    + t
                    + "` to leave it as it is"
                : "; held: run `lockstep retry "
                    + run.target
                    + "`, `lockstep rollback "
                    + run.target
                    + "` or `lockstep abandon "
                    + run.target
                    + "`");
    run.heldDecision = null;
    boolean stoppingBefore = run.cancelRequested || run.rollbackRequested;
    story.event("UpgradeHeld", true, run.message);
    tell("held", run.message, null);
    Workflow.await(
        () ->
            run.heldDecision != null
                || (!stoppingBefore && (run.cancelRequested || run.rollbackRequested)));
    run.waiting = Run.Waiting.NOTHING;
    String decision = run.heldDecision == null ? "rollback" : run.heldDecision;
    run.heldDecision = null;
    return decision;
  }

  /** Releases the target exactly as it is: the run's mark goes, nothing else changes. */
  private UpgradeResult abandon(String why) {
    try {
      strategy.release();
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      return end(Phase.FAILED, why + "; abandoning failed to release the target: " + Run.cause(e));
    }
    long upgraded = run.units.stream().filter(u -> u.state() == UnitState.UPGRADED).count();
    return end(
        Phase.ABANDONED,
        why
            + "; abandoned: "
            + run.target
            + " left as it is ("
            + upgraded
            + " of "
            + run.units.size()
            + " units on "
            + run.toRevision
            + ", "
            + strategy.leftAsIs()
            + ") and released");
  }

  // ---- phases and the end --------------------------------------------------------------------

  private void begin(Phase phase, String message) {
    run.mark(run.index, Step.State.RUNNING);
    setPhase(phase);
    run.message = message;
  }

  /** Moves to a phase, and tells Temporal visibility ({@code LockstepPhase}). */
  private void setPhase(Phase next) {
    if (next == run.phase) {
      return;
    }
    run.phase = next;
    if (run.target != null) {
      Workflow.upsertTypedSearchAttributes(SearchAttributes.PHASE.valueSet(next.name()));
    }
  }

  /**
   * The target already runs what the plan asks for: the run ends COMPLETED having changed nothing,
   * so that running the same upgrade again answers {@code unchanged}, as {@code kubectl apply}
   * does, instead of leaving a FAILED run (issue 20).
   */
  private UpgradeResult unchanged() {
    StringBuilder images = new StringBuilder();
    run.toImages.forEach(
        (container, image) ->
            images
                .append(images.length() == 0 ? "" : ", ")
                .append(container)
                .append('=')
                .append(image));
    String why =
        "already runs "
            + (images.length() == 0 ? "that template" : images)
            + "; nothing was changed";
    run.verdict = Verdict.unchanged(run.fromRevision, why);
    return end(Phase.COMPLETED, "unchanged: " + why);
  }

  private UpgradeResult invalid(List<String> problems) {
    run.verdict = Verdict.invalid(problems);
    return end(Phase.FAILED, "invalid plan: " + String.join("; ", problems));
  }

  private UpgradeResult end(Phase outcome, String why) {
    if (run.verdict == null) {
      run.verdict = Verdict.notInspected(why);
    }
    Verdict given = run.verdict;
    for (int i = 0; i < run.steps.size(); i++) {
      Step.State state = run.steps.get(i).state();
      if (state == Step.State.PENDING) {
        run.mark(i, Step.State.SKIPPED);
      } else if (state == Step.State.RUNNING) {
        run.mark(i, outcome == Phase.COMPLETED ? Step.State.DONE : Step.State.FAILED);
      }
    }
    if (run.untold) {
      run.untold = false;
      story.tellEnd(outcome, why);
    }
    setPhase(outcome);
    run.message = why;
    run.waiting = Run.Waiting.NOTHING;
    run.finishedAt = Workflow.currentTimeMillis();
    RunMetrics.ended(outcome);
    switch (outcome) {
      case COMPLETED -> tell("completed", why, null);
      case FAILED -> tell("failed", why, null);
      case ROLLED_BACK -> tell("rolled-back", why, null);
      default -> {}
    }
    // Updates still running (awaitVerdict) must answer before the run closes.
    Workflow.await(Workflow::isEveryHandlerFinished);
    return new UpgradeResult(outcome, why, status(), given);
  }

  // ---- steering: one table behind updates and signals ----------------------------------------

  private Situation situation() {
    if (run.phase.isTerminal()) {
      return Situation.ENDED;
    }
    switch (run.waiting) {
      case HELD_FOR_DATA -> {
        return Situation.HELD_FOR_DATA;
      }
      case HELD -> {
        return Situation.HELD;
      }
      case GATE -> {
        return Situation.AT_GATE;
      }
      case PAUSE -> {
        return Situation.PAUSED;
      }
      default -> {}
    }
    if (run.returning) {
      return Situation.RETURNING;
    }
    Step step = run.current();
    if (step == null) {
      return Situation.FINISHING;
    }
    return switch (step.kind()) {
      case COLLECT, PRE_CHECKS, BACKUP -> Situation.BEFORE_CHANGE;
      case SCALE_BACK, SCALE_DOWN, FINISH -> Situation.FINISHING;
      default -> Situation.WORKING;
    };
  }

  private String refusal(String action, SteerRequest who) {
    Situation where = situation();
    SteeringTable.Pending pending =
        new SteeringTable.Pending(
            run.pauseRequested,
            (run.cancelRequested || run.rollbackRequested)
                && where != Situation.HELD
                && where != Situation.HELD_FOR_DATA,
            run.heldDecision != null,
            run.unitsRemain(),
            where == Situation.AT_GATE && run.plan.countsApprovals()
                ? new SteeringTable.Approvals(
                    run.plan.effectiveApprovals(),
                    List.copyOf(run.approvedBy),
                    Boolean.TRUE.equals(run.plan.excludeStarter()) ? run.request.identity() : null)
                : null);
    return SteeringTable.refusal(Action.of(action), where, pending, who, run.phase);
  }

  private String apply(String action, SteerRequest who, String via) {
    String refused = refusal(action, who);
    if (refused != null) {
      run.steering.add(
          new Steering(
              Workflow.currentTimeMillis(),
              action,
              who.identity(),
              who.reason(),
              via,
              false,
              "ignored: " + refused));
      return refused;
    }
    String outcome =
        switch (Action.of(action)) {
          case RESUME -> {
            boolean atGate = run.waiting == Run.Waiting.GATE;
            if (atGate && run.plan.countsApprovals()) {
              run.approvedBy.add(who.identity());
              int still = run.plan.effectiveApprovals() - run.approvedBy.size();
              if (still > 0) {
                yield "approved by "
                    + who.identity()
                    + " ("
                    + run.approvedBy.size()
                    + " of "
                    + run.plan.effectiveApprovals()
                    + "): "
                    + still
                    + " more approval"
                    + (still == 1 ? "" : "s")
                    + " needed";
              }
            }
            run.gateOpened = atGate;
            run.pauseRequested = false;
            yield atGate ? "resumed at the gate" : "resumed";
          }
          case PAUSE -> {
            run.pauseRequested = true;
            yield run.phase == Phase.UPGRADING
                ? "will pause once the unit upgrading now is done"
                : "pausing before the next unit";
          }
          case RETRY -> {
            run.heldDecision = "retry";
            Step step = run.current();
            yield step != null && step.kind() == Step.Kind.UNIT
                ? "retrying the failed unit"
                : "retrying the failed step";
          }
          case ABANDON -> {
            run.heldDecision = "abandon";
            yield "abandoning: the target stays exactly as it is and is released";
          }
          case ROLLBACK -> {
            run.rollbackRequested = true;
            run.rollbackBy = who.identity();
            run.riskAccepted = run.riskAccepted || who.acceptDataRisk();
            String risk = who.acceptDataRisk() ? ", accepting the data risk" : "";
            yield run.phase == Phase.UPGRADING
                    || run.phase == Phase.PREPARING
                    || run.phase == Phase.MIGRATING
                ? "will roll back to "
                    + run.fromRevision
                    + " once the step running now has settled"
                    + risk
                : "rolling back to " + run.fromRevision + risk;
          }
          case CANCEL -> {
            run.cancelRequested = true;
            yield "cancelling: stopping before the next unit and returning upgraded units to "
                + (run.fromRevision == null ? "their original revision" : run.fromRevision);
          }
        };
    run.steering.add(
        new Steering(
            Workflow.currentTimeMillis(),
            action,
            who.identity(),
            who.reason(),
            via,
            true,
            outcome));
    return outcome;
  }

  private void validate(String action, SteerRequest who) {
    String refused = refusal(action, who);
    if (refused != null) {
      throw new IllegalStateException(refused);
    }
  }

  @Override
  public Verdict awaitVerdict() {
    Workflow.await(() -> run.verdict != null);
    return run.verdict;
  }

  @Override
  public String resume(SteerRequest who) {
    return apply("resume", who, "update");
  }

  @Override
  public void validateResume(SteerRequest who) {
    validate("resume", who);
  }

  @Override
  public String pause(SteerRequest who) {
    return apply("pause", who, "update");
  }

  @Override
  public void validatePause(SteerRequest who) {
    validate("pause", who);
  }

  @Override
  public String cancel(SteerRequest who) {
    return apply("cancel", who, "update");
  }

  @Override
  public void validateCancel(SteerRequest who) {
    validate("cancel", who);
  }

  @Override
  public String rollback(SteerRequest who) {
    return apply("rollback", who, "update");
  }

  @Override
  public void validateRollback(SteerRequest who) {
    validate("rollback", who);
  }

  @Override
  public String retry(SteerRequest who) {
    return apply("retry", who, "update");
  }

  @Override
  public void validateRetry(SteerRequest who) {
    validate("retry", who);
  }

  @Override
  public String abandon(SteerRequest who) {
    return apply("abandon", who, "update");
  }

  @Override
  public void validateAbandon(SteerRequest who) {
    validate("abandon", who);
  }

  @Override
  public void rollbackSignal(SteerRequest who) {
    apply("rollback", who, "signal");
  }

  @Override
  public void retrySignal(SteerRequest who) {
    apply("retry", who, "signal");
  }

  @Override
  public void abandonSignal(SteerRequest who) {
    apply("abandon", who, "signal");
  }

  @Override
  public void resumeSignal(SteerRequest who) {
    apply("resume", who, "signal");
  }

  @Override
  public void pauseSignal(SteerRequest who) {
    apply("pause", who, "signal");
  }

  @Override
  public void cancelSignal(SteerRequest who) {
    apply("cancel", who, "signal");
  }

  @Override
  public UpgradeStatus status() {
    String targetText =
        run.target != null ? run.target.toString() : run.plan == null ? "" : run.plan.target();
    return new UpgradeStatus(
        targetText,
        Workflow.getInfo().getRunId(),
        run.phase,
        run.message,
        run.fromRevision,
        run.toRevision,
        run.fromImages,
        run.toImages,
        run.cluster,
        run.startedAt == 0 ? null : Instant.ofEpochMilli(run.startedAt).toString(),
        run.finishedAt == null ? null : Instant.ofEpochMilli(run.finishedAt).toString(),
        run.target == null ? null : "lockstep rollback " + run.target + run.clusterFlag(),
        unitsNow(),
        List.copyOf(run.steering),
        List.copyOf(run.checks),
        List.copyOf(run.steps),
        run.phase.isTerminal() ? null : Math.min(run.index, Math.max(0, run.steps.size() - 1)),
        kind(),
        gate(),
        pauseNow(),
        strategy == null ? null : strategy.traffic());
  }

  /** The gate the run waits at, with its approvals and timeout; null when it waits at none. */
  private UpgradeStatus.GateStatus gate() {
    if (run.waiting != Run.Waiting.GATE || run.plan == null) {
      return null;
    }
    int required = run.plan.countsApprovals() ? run.plan.effectiveApprovals() : 1;
    return new UpgradeStatus.GateStatus(
        required,
        List.copyOf(run.approvedBy),
        Math.max(0, required - run.approvedBy.size()),
        Boolean.TRUE.equals(run.plan.excludeStarter()) ? run.request.identity() : null,
        run.gateDeadline == null ? null : Instant.ofEpochMilli(run.gateDeadline).toString(),
        run.gateDeadline == null
            ? null
            : run.plan.effectiveOnGateTimeout().name().toLowerCase(java.util.Locale.ROOT),
        run.gateTimedOut);
  }

  /**
   * The units as a person should read them now: a unit the run has not reached says why it waits
   * (the gate, a pause, a hold) or, once the run has ended, that it was never touched, instead of
   * "other units upgrading first" when nothing is upgrading. Computed when asked: nothing of it is
   * in the history.
   */
  private List<UnitStatus> unitsNow() {
    String untouched =
        run.phase.isTerminal()
            ? "not touched: the run ended " + run.phase + " before this unit"
            : switch (run.phase) {
              case WAITING_FOR_RESUME -> "waits for `lockstep resume` at the gate";
              case PAUSED -> "waits: the upgrade is paused";
              case HELD -> "waits: the upgrade is HELD";
              case ROLLING_BACK -> "not touched: the run is rolling back";
              default -> null;
            };
    List<UnitStatus> units = new ArrayList<>();
    for (UnitStatus u : run.units) {
      units.add(
          untouched != null
                  && u.state() == UnitState.WAITING
                  && StatefulSetStrategy.MSG_WAITING.equals(u.message())
              ? u.with(u.state(), u.revision(), u.ready(), untouched)
              : u);
    }
    return List.copyOf(units);
  }

  /** Who asked for the pause that is pending or holds the run, and why; null when none. */
  private String pauseNow() {
    if (run.phase.isTerminal() || (!run.pauseRequested && run.phase != Phase.PAUSED)) {
      return null;
    }
    Steering asked = null;
    for (Steering s : run.steering) {
      if (s.accepted() && "pause".equals(s.action())) {
        asked = s;
      }
    }
    String who =
        asked == null
            ? ""
            : " by "
                + asked.identity()
                + (asked.reason() == null || asked.reason().isEmpty()
                    ? ""
                    : " (" + asked.reason() + ")");
    return run.phase == Phase.PAUSED
        ? "paused" + who + ": `lockstep resume` goes on"
        : "pause requested" + who + ": holds before the next unit";
  }

  /** What the run is, for the people steering it: a rollback is not rolled back again. */
  private String kind() {
    if (run.plan == null) {
      return "upgrade";
    }
    if (run.plan.repair() != null) {
      return "repair";
    }
    return run.plan.change() != null && run.plan.change().restore() != null
        ? "rollback"
        : "upgrade";
  }
}
