package dev.lockstep.workflows;

import dev.lockstep.workflows.ClusterActivities.FinishResult;
import dev.lockstep.workflows.ClusterActivities.PrepareResult;
import dev.lockstep.workflows.ClusterActivities.Strategy;
import dev.lockstep.workflows.ClusterActivities.TargetSnapshot;
import dev.lockstep.workflows.ClusterActivities.UnitResult;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;

/**
 * The upgrade, step by step, as DESIGN.md describes it. Deterministic: time, waits and logging come
 * from {@link Workflow}; every cluster action is an activity. The state below is all there is:
 * status is computed from it in one place ({@link #status()}).
 */
public class UpgradeWorkflowImpl implements UpgradeWorkflow {
  private static final Logger LOG = Workflow.getLogger(UpgradeWorkflowImpl.class);

  private static final String MSG_WAITING = "other units upgrading first...";
  private static final String MSG_UPGRADING = "upgrading unit";
  private static final String MSG_UPGRADED = "upgrade completed";
  private static final long HEALTH_INTERVAL_MILLIS = 1000;

  private UpgradeRequest request;
  private UpgradePlan plan;
  private Target target;
  private String cluster;
  private long startedAt;
  private Long finishedAt;
  private Phase phase = Phase.PENDING;
  private String message = "starting";
  private Verdict verdict;
  private String fromRevision;
  private String toRevision;
  private Map<String, String> fromImages = Map.of();
  private Map<String, String> toImages = Map.of();
  private final List<UnitStatus> units = new ArrayList<>();
  private final List<Steering> steering = new ArrayList<>();
  private final List<PreChecks.Result> checks = new ArrayList<>();
  private boolean gateOpened;
  private boolean pauseRequested;
  private boolean cancelRequested;
  private boolean rollbackRequested;
  private String rollbackBy;
  private String heldDecision;
  private int originalReplicas;
  private ClusterActivities.Origin origin;
  private boolean scaledUp;
  private int unitsStarted;
  private int attempt;
  private int hookRuns;
  private boolean migrateDone;
  private boolean dataMoved;
  private boolean riskAccepted;
  private boolean dataRiskHold;
  private boolean touched;
  private int eventSeq;

  /**
   * The run's start Event, until it is recorded: with prepare's write (one activity fewer), or on
   * its own before a backup or a scale-up, or with whatever is told first.
   */
  private ClusterActivities.ClusterEvent pendingStart;

  private ClusterActivities quick;

  @Override
  public UpgradeResult run(UpgradeRequest upgradeRequest) {
    this.request = upgradeRequest;
    this.plan = upgradeRequest.plan();
    this.startedAt = Workflow.currentTimeMillis();
    this.cluster = plan.effectiveCluster();
    int heartbeat = upgradeRequest.effectiveHeartbeatSeconds();
    this.quick =
        Workflow.newActivityStub(
            ClusterActivities.class,
            options(Duration.ofMinutes(2), heartbeat).toBuilder()
                .setScheduleToCloseTimeout(Duration.ofMinutes(10))
                .build());

    // 1. Collect, and validate against the cluster before anything moves.
    setPhase(Phase.COLLECTING);
    message = "reading the target";
    List<String> problems = new ArrayList<>(PlanValidation.problems(plan));
    if (!problems.isEmpty()) {
      return invalid(problems);
    }
    target = Target.parse(plan.target(), "default");
    Workflow.upsertTypedSearchAttributes(
        SearchAttributes.TARGET.valueSet(target.toString()),
        SearchAttributes.CLUSTER.valueSet(cluster),
        SearchAttributes.PHASE.valueSet(phase.name()));
    TargetSnapshot snapshot;
    try {
      snapshot =
          quick.inspect(
              new ClusterActivities.InspectRequest(
                  cluster, target, plan.effectiveChange(), Boolean.TRUE.equals(plan.scaleUp())));
    } catch (ActivityFailure e) {
      verdict = Verdict.notInspected("could not read the target: " + cause(e));
      return end(Phase.FAILED, verdict.problems().get(0));
    }
    if (!snapshot.problems().isEmpty()) {
      return invalid(snapshot.problems());
    }
    fromRevision = snapshot.updateRevision();
    fromImages = snapshot.images();
    toImages = snapshot.newImages();
    for (UnitSnapshot unit : snapshot.units()) {
      units.add(
          new UnitStatus(
              unit.name(), unit.ordinal(), UnitState.WAITING, unit.revision(), unit.ready(), ""));
    }
    if (plan.repair() != null) {
      return repair(snapshot);
    }

    // 2. Pre-checks: every failing reason at once; nothing changes if any fails.
    setPhase(Phase.PRE_CHECKS);
    message = "running pre-checks";
    if (snapshot.runAnnotation() != null) {
      String held = PreChecks.heldBy(snapshot, target, Workflow.getInfo().getWorkflowId(), cluster);
      verdict = Verdict.refused(Verdict.Refusal.TARGET_HELD, List.of(held));
      return end(Phase.FAILED, "refused, nothing was changed: " + held);
    }
    List<String> failing = new ArrayList<>();
    checks.addAll(PreChecks.evaluate(snapshot, plan.effectiveForce()));
    for (PreChecks.Result check : checks) {
      if (!check.passed() && !check.forced()) {
        failing.add(check.name() + ": " + check.message());
      }
    }
    if (!snapshot.changesTemplate()) {
      failing.add("the change changes nothing: " + target + " already runs " + toImages);
    }
    if (!failing.isEmpty()) {
      verdict = Verdict.refused(Verdict.Refusal.CHECKS_FAILED, failing);
      return end(
          Phase.FAILED, "pre-checks failed, nothing was changed: " + String.join("; ", failing));
    }
    verdict = Verdict.ok(fromRevision);
    if (cancelRequested) {
      return end(Phase.CANCELLED, "cancelled before any change");
    }
    touched = true;
    pendingStart =
        newEvent(
            "UpgradeStarted",
            false,
            "Lockstep run "
                + runId()
                + " by "
                + request.identity()
                + (request.reason().isEmpty() ? "" : " (" + request.reason() + ")")
                + ": "
                + Audit.describe(plan));

    // 3. Backup: its failure means no change.
    UpgradePlan.Hook backup = plan.effectiveHooks().backup();
    if (backup != null) {
      tellStart();
      setPhase(Phase.BACKUP);
      message = "running the backup hook (" + backup.describe() + ")";
      try {
        runHook("backup", backup);
      } catch (ActivityFailure e) {
        return end(Phase.FAILED, cause(e) + "; nothing was changed");
      }
      if (cancelRequested) {
        return end(Phase.CANCELLED, "cancelled after the backup, before any change");
      }
    }

    // 4. Scale up by one (optional): the extra unit is upgraded first.
    originalReplicas = snapshot.replicas();
    origin =
        new ClusterActivities.Origin(
            Workflow.getInfo().getWorkflowId(),
            fromRevision,
            snapshot.strategyType(),
            snapshot.partition(),
            originalReplicas);
    if (Boolean.TRUE.equals(plan.scaleUp())) {
      tellStart();
      setPhase(Phase.SCALING_UP);
      message = "adding one unit: " + target.name() + "-" + originalReplicas;
      scaledUp = true;
      try {
        FinishResult grown =
            quick.scale(
                new ClusterActivities.ScaleRequest(
                    cluster, target, originalReplicas + 1, fromRevision, runId(), origin));
        units.add(
            0,
            new UnitStatus(
                target.name() + "-" + originalReplicas,
                originalReplicas,
                UnitState.WAITING,
                fromRevision,
                true,
                "the extra unit, upgraded first"));
        refreshUnits(grown.units());
      } catch (ActivityFailure e) {
        return rollBack(
            new Strategy(snapshot.strategyType(), snapshot.partition()),
            "scaling up failed: " + cause(e),
            Phase.FAILED);
      }
    }

    // 5. Prepare: pin the partition so nothing moves, then apply the template change.
    Strategy strategy = new Strategy(snapshot.strategyType(), snapshot.partition());
    return upgradeUnits(snapshot, strategy, null);
  }

  /**
   * Steps 5 to 9: prepare (unless {@code adopted}, the change a dead run already applied), every
   * unit not yet on the new revision highest first with the gates, scale back, post-checks.
   */
  private UpgradeResult upgradeUnits(
      TargetSnapshot snapshot, Strategy strategy, PrepareResult adopted) {
    int heartbeat = request.effectiveHeartbeatSeconds();
    UpgradePlan.Hooks hooks = plan.effectiveHooks();
    boolean forwardOnly = plan.effectiveMigration().forwardOnly();
    attempts:
    while (true) {
      migrateDone = false;
      PrepareResult prepared = adopted;
      if (prepared == null) {
        setPhase(Phase.PREPARING);
        message = "pinning the partition and applying the change";
        try {
          prepared =
              quick.prepare(
                  new ClusterActivities.PrepareRequest(
                      cluster,
                      target,
                      resolved(snapshot),
                      fromRevision,
                      runId(),
                      origin,
                      pendingStart == null ? List.of() : List.of(pendingStart)));
        } catch (ActivityFailure e) {
          return rollBack(strategy, "prepare failed: " + cause(e), Phase.FAILED);
        }
        if (prepared.told()) {
          pendingStart = null;
        }
      }
      // Told before any unit moves, whatever happened above.
      tellStart();
      adopted = null;
      toRevision = prepared.toRevision();
      for (int i = 0; i < units.size(); i++) {
        UnitStatus unit = units.get(i);
        boolean done = unit.state() == UnitState.UPGRADED;
        units.set(
            i,
            unit.with(
                done ? UnitState.UPGRADED : UnitState.WAITING,
                unit.revision(),
                unit.ready(),
                done ? unit.message() : MSG_WAITING));
      }
      // Units a dead run already upgraded count as done; gates count from this run's first unit.
      int skipped = 0;
      while (skipped < units.size() && units.get(skipped).state() == UnitState.UPGRADED) {
        skipped++;
      }

      // 6-8. The first unit, the gate, then the rest, highest ordinal first.
      ClusterActivities perUnit =
          Workflow.newActivityStub(
              ClusterActivities.class,
              options(plan.effectiveUnitTimeout().plus(Duration.ofMinutes(2)), heartbeat));
      for (int i = skipped; i < units.size(); i++) {
        if (i > skipped && gateAfter(i - skipped)) {
          awaitGate(i - skipped);
        }
        holdIfPaused();
        UpgradeResult stopped = stopIfAsked(strategy);
        if (stopped != null) {
          return stopped;
        }
        UnitStatus unit = units.get(i);
        boolean retry = false;
        while (true) {
          if (forwardOnly && hooks.migrate() == null) {
            // The new version migrates its data itself as it starts.
            dataMoved = true;
          }
          units.set(i, unit.with(UnitState.UPGRADING, unit.revision(), false, MSG_UPGRADING));
          unitsStarted = i + 1;
          setPhase(Phase.UPGRADING);
          message = "upgrading " + unit.name() + " (" + (i + 1) + "/" + units.size() + ")";
          try {
            UnitResult result =
                perUnit.upgradeUnit(
                    new ClusterActivities.UnitRequest(
                        cluster,
                        target,
                        unit.ordinal(),
                        toRevision,
                        plan.effectiveUnitTimeout().getSeconds(),
                        plan.effectiveCrashLoopRestarts(),
                        runId(),
                        retry,
                        eventName("u" + unit.ordinal() + "-a" + attempt),
                        prepared.replicas(),
                        i == 0
                            ? prepared.replicas()
                            : i == skipped && snapshot.partition() != null
                                ? snapshot.partition()
                                : units.get(i - 1).ordinal()));
            if (plan.health() != null) {
              // One failure path: a unit that is Ready but unhealthy has failed like any other.
              units.set(
                  i, unit.with(UnitState.VERIFYING, result.revision(), true, "checking health"));
              perUnit.checkHealth(
                  new ClusterActivities.HealthRequest(
                      cluster,
                      target,
                      unit.name(),
                      plan.health(),
                      plan.effectiveUnitTimeout().getSeconds(),
                      HEALTH_INTERVAL_MILLIS));
            }
            units.set(
                i, unit.with(UnitState.UPGRADED, result.revision(), result.ready(), MSG_UPGRADED));
            LOG.info("unit {} upgraded to {}", unit.name(), toRevision);
            if (hooks.migrate() != null && !migrateDone) {
              // The Discourse pattern: one unit on the new version, the schema migrated once,
              // then the gate and the rest.
              setPhase(Phase.MIGRATING);
              message = "running the migrate hook after " + unit.name();
              dataMoved = dataMoved || forwardOnly;
              runHook("migrate", hooks.migrate());
              migrateDone = true;
            }
            break;
          } catch (ActivityFailure e) {
            String cause = cause(e);
            String why = unit.name() + " failed: " + cause;
            boolean drift = changedBySomeoneElse(e);
            if (isHookFailure(e)) {
              why = cause;
            } else if (drift) {
              // Never overwrite someone else's change: hold with the difference, whatever the
              // failure policy, until a human decides.
              units.set(i, units.get(i).with(UnitState.FAILED, unit.revision(), false, cause));
              why = "someone else changed " + target + ": " + cause;
            } else {
              units.set(i, units.get(i).with(UnitState.FAILED, toRevision, false, cause));
            }
            Next next = failed(strategy, why, drift);
            if (next == Next.AGAIN) {
              continue attempts;
            }
            if (next == Next.ENDED) {
              return ended;
            }
            retry = true;
          }
        }
      }

      // 9. Tests, like `helm test`: a failure takes the failure policy.
      UpgradeResult stopped = stopIfAsked(strategy);
      if (stopped != null) {
        return stopped;
      }
      while (hooks.test() != null) {
        setPhase(Phase.TESTING);
        message = "running the test hook (" + hooks.test().describe() + ")";
        try {
          runHook("test", hooks.test());
          break;
        } catch (ActivityFailure e) {
          Next next = failed(strategy, cause(e), false);
          if (next == Next.AGAIN) {
            continue attempts;
          }
          if (next == Next.ENDED) {
            return ended;
          }
        }
      }
      break;
    }
    // A cancel or rollback asked for while the tests ran still applies.
    UpgradeResult stopped = stopIfAsked(strategy);
    if (stopped != null) {
      return stopped;
    }

    if (scaledUp) {
      UpgradeResult failed = scaleBack("upgraded");
      if (failed != null) {
        return failed;
      }
    }

    // 9. Post-checks, and the user's own update strategy back.
    setPhase(Phase.POST_CHECKS);
    message = "checking every unit on " + toRevision;
    ClusterActivities settle =
        Workflow.newActivityStub(ClusterActivities.class, options(settleTimeout(), heartbeat));
    String completed = "all " + units.size() + " units upgraded to " + toRevision;
    // The end is told by finish itself once every unit is settled (one activity fewer).
    ClusterActivities.RecordRequest end = endRecord(Phase.COMPLETED, completed);
    try {
      FinishResult finished =
          settle.finish(
              new ClusterActivities.FinishRequest(
                  cluster, target, toRevision, strategy, runId(), end));
      refreshUnits(finished.units());
      if (!finished.told()) {
        // The same Event by name: what finish managed to record is not recorded twice.
        record(end.events(), end.revision(), end.notes());
      }
      touched = false;
    } catch (ActivityFailure e) {
      return end(Phase.FAILED, "post-checks failed: " + cause(e));
    }
    return end(Phase.COMPLETED, completed);
  }

  /**
   * A repair: takes the target over from the run that ended outside Lockstep and either continues
   * its change or restores the revision it started from. What the dead run knew comes from the mark
   * it left on the target ({@link ClusterActivities#ORIGIN_ANNOTATION}), so a repair works even
   * after Temporal has forgotten the dead run. That this run could start at all proves the dead run
   * is not running: a target has one workflow id, and only one run of it runs at a time.
   */
  private UpgradeResult repair(TargetSnapshot snapshot) {
    setPhase(Phase.PRE_CHECKS);
    message = "reading the mark of the run that ended";
    String dead = snapshot.runAnnotation();
    ClusterActivities.Origin found = snapshot.origin();
    String workflowId = Workflow.getInfo().getWorkflowId();
    if (dead == null) {
      String problem =
          "nothing to repair: "
              + target
              + " carries no Lockstep run's mark (annotation "
              + ClusterActivities.RUN_ANNOTATION
              + ")";
      verdict = Verdict.refused(Verdict.Refusal.CHECKS_FAILED, List.of(problem));
      return end(Phase.FAILED, problem);
    }
    if (found == null || !workflowId.equals(found.workflowId())) {
      String problem =
          found == null
              ? target
                  + " is marked by Lockstep run "
                  + dead
                  + " but the mark does not say where it started (annotation "
                  + ClusterActivities.ORIGIN_ANNOTATION
                  + " missing): put back the update strategy and remove "
                  + ClusterActivities.RUN_ANNOTATION
                  + " by hand"
              : target
                  + " is marked by run "
                  + dead
                  + " of "
                  + found.workflowId()
                  + ", not of "
                  + workflowId
                  + ": repair it with the --cluster that run was started with";
      verdict = Verdict.refused(Verdict.Refusal.TARGET_HELD, List.of(problem));
      return end(Phase.FAILED, problem);
    }
    origin = found;
    fromRevision = found.fromRevision();
    originalReplicas = found.replicas();
    scaledUp = snapshot.replicas() > originalReplicas;
    String toward = snapshot.updateRevision();
    boolean wasRestoring = toward == null || toward.equals(fromRevision);
    for (int i = 0; i < units.size(); i++) {
      UnitStatus unit = units.get(i);
      if (!wasRestoring && toward.equals(unit.revision()) && unit.ready()) {
        units.set(
            i, unit.with(UnitState.UPGRADED, unit.revision(), true, "upgraded by run " + dead));
      }
    }
    verdict = Verdict.ok(fromRevision);
    if (cancelRequested) {
      return end(Phase.CANCELLED, "cancelled before any change");
    }
    setPhase(Phase.PREPARING);
    message = "taking " + target + " over from run " + dead;
    try {
      quick.adopt(new ClusterActivities.AdoptRequest(cluster, target, dead, runId()));
    } catch (ActivityFailure e) {
      return end(Phase.FAILED, "taking over from run " + dead + " failed: " + cause(e));
    }
    LOG.info("took {} over from run {}", target, dead);
    touched = true;
    event(
        "UpgradeStarted",
        false,
        "Lockstep run "
            + runId()
            + " by "
            + request.identity()
            + ": "
            + Audit.describe(plan)
            + " of run "
            + dead);
    Strategy strategy = new Strategy(found.strategyType(), found.partition());
    if (plan.repair() == UpgradePlan.Repair.RESTORE || wasRestoring) {
      toRevision = wasRestoring ? null : toward;
      for (int i = 0; i < units.size(); i++) {
        UnitStatus unit = units.get(i);
        if (!fromRevision.equals(unit.revision())) {
          units.set(i, unit.with(UnitState.UPGRADED, unit.revision(), unit.ready(), ""));
        }
      }
      return rollBack(
          strategy,
          (wasRestoring ? "finished the rollback of run " : "restored after run ")
              + dead
              + " ended outside Lockstep; units returned to "
              + fromRevision,
          Phase.COMPLETED);
    }
    return upgradeUnits(snapshot, strategy, new PrepareResult(toward, snapshot.replicas(), true));
  }

  /** What follows a failed step. */
  private enum Next {
    /** Rolled back; run the upgrade again from prepare ({@code retries}). */
    AGAIN,
    /** Retry the failed step (a HELD upgrade's retry). */
    RETRY,
    /** The run ends with {@link #ended}. */
    ENDED
  }

  /** How the run ends, when a failed step said {@link Next#ENDED}. */
  private UpgradeResult ended;

  /**
   * The one failure path, for a unit (not Ready, crash-looping, unhealthy), a hook or someone
   * else's change: retries first, then the plan's policy; someone else's change always HOLDs.
   */
  private Next failed(Strategy strategy, String why, boolean drift) {
    if (!drift && attempt < plan.effectiveRetries() && !cancelRequested && !rollbackRequested) {
      // Flux-style remediation: roll back, then run the upgrade again from prepare.
      UpgradeResult failed = returnUnits(strategy, why, false);
      if (failed != null) {
        ended = failed;
        return Next.ENDED;
      }
      attempt++;
      for (int u = 0; u < units.size(); u++) {
        UnitStatus back = units.get(u);
        units.set(
            u,
            back.with(
                UnitState.WAITING,
                back.revision(),
                back.ready(),
                "attempt " + (attempt + 1) + " after: " + why));
      }
      return Next.AGAIN;
    }
    if (!drift
        && (plan.onFailure() != UpgradePlan.FailurePolicy.HOLD
            || cancelRequested
            || rollbackRequested)) {
      ended = rollBack(strategy, why, Phase.ROLLED_BACK);
      return Next.ENDED;
    }
    switch (hold(why)) {
      case "retry" -> {
        return Next.RETRY;
      }
      case "abandon" -> {
        ended = abandon(why);
        return Next.ENDED;
      }
      default -> {
        UpgradeResult stop = stopIfAsked(strategy);
        ended = stop != null ? stop : rollBack(strategy, why, Phase.ROLLED_BACK);
        return Next.ENDED;
      }
    }
  }

  /** Runs one hook's Job to its end; a failure is the activity's {@link ActivityFailure}. */
  private void runHook(String name, UpgradePlan.Hook hook) {
    ClusterActivities hooks =
        Workflow.newActivityStub(
            ClusterActivities.class,
            options(
                hook.effectiveTimeout().plus(Duration.ofMinutes(2)),
                request.effectiveHeartbeatSeconds()));
    String job = Names.hookJob(target.name(), name, runId(), ++hookRuns);
    LOG.info("running the {} hook of {} as Job {}", name, target, job);
    hooks.runHook(new ClusterActivities.HookRequest(cluster, target, name, hook, job, runId()));
  }

  /**
   * Before units go back after a forward-only migration: the restore hook runs first; without one,
   * the run HOLDs until the risk is accepted or the target abandoned. Null to go on.
   */
  private UpgradeResult restoreDataFirst(String why) {
    if (!dataMoved) {
      return null;
    }
    UpgradePlan.Hook restore = plan.effectiveHooks().restore();
    if (restore != null) {
      setPhase(Phase.ROLLING_BACK);
      message = why + "; restoring the data first (restore hook: " + restore.describe() + ")";
      try {
        runHook("restore", restore);
      } catch (ActivityFailure e) {
        return end(
            Phase.FAILED,
            why
                + "; "
                + cause(e)
                + ": the units were left on "
                + toRevision
                + " (the data may not fit "
                + fromRevision
                + "); see `lockstep repair "
                + target
                + clusterFlag()
                + "` once the data is restored");
      }
      dataMoved = false;
      return null;
    }
    if (Boolean.TRUE.equals(plan.effectiveMigration().acceptDataRisk()) || riskAccepted) {
      dataMoved = false;
      return null;
    }
    setPhase(Phase.HELD);
    dataRiskHold = true;
    message =
        why
            + "; rolling back would run "
            + fromRevision
            + " on data migrated forward (migration.reversible: false) and the plan has no"
            + " restore hook: held; run `lockstep rollback "
            + target
            + clusterFlag()
            + " --accept-data-risk` to roll back anyway, or `lockstep abandon "
            + target
            + clusterFlag()
            + "` to leave it as it is";
    heldDecision = null;
    event("UpgradeHeld", true, message);
    Workflow.await(() -> riskAccepted || "abandon".equals(heldDecision));
    dataRiskHold = false;
    if (!riskAccepted) {
      heldDecision = null;
      return abandon(why);
    }
    dataMoved = false;
    return null;
  }

  private static boolean isHookFailure(ActivityFailure e) {
    return e.getCause() instanceof ApplicationFailure app
        && ClusterActivities.FAILURE_HOOK_FAILED.equals(app.getType());
  }

  /** Rolls back when a cancel or rollback was asked for; null to go on. */
  private UpgradeResult stopIfAsked(Strategy strategy) {
    if (cancelRequested) {
      return rollBack(strategy, "cancelled; units returned to " + fromRevision, Phase.CANCELLED);
    }
    if (rollbackRequested) {
      return rollBack(
          strategy,
          "rolled back as " + rollbackBy + " asked; units returned to " + fromRevision,
          Phase.ROLLED_BACK);
    }
    return null;
  }

  /** HELD: waits, at no cost, for retry, rollback, cancel or abandon; returns which. */
  private String hold(String why) {
    setPhase(Phase.HELD);
    message =
        why
            + "; held: run `lockstep retry "
            + target
            + "`, `lockstep rollback "
            + target
            + "` or `lockstep abandon "
            + target
            + "`";
    heldDecision = null;
    event("UpgradeHeld", true, message);
    Workflow.await(() -> heldDecision != null || cancelRequested || rollbackRequested);
    String decision = heldDecision == null ? "rollback" : heldDecision;
    heldDecision = null;
    return decision;
  }

  /** Releases the target exactly as it is: the run's mark goes, nothing else changes. */
  private UpgradeResult abandon(String why) {
    try {
      quick.release(new ClusterActivities.ReleaseRequest(cluster, target, runId()));
    } catch (ActivityFailure e) {
      return end(Phase.FAILED, why + "; abandoning failed to release the target: " + cause(e));
    }
    long upgraded = units.stream().filter(u -> u.state() == UnitState.UPGRADED).count();
    return end(
        Phase.ABANDONED,
        why
            + "; abandoned: "
            + target
            + " left as it is ("
            + upgraded
            + " of "
            + units.size()
            + " units on "
            + toRevision
            + ", partition still pinned) and released");
  }

  private boolean gateAfter(int unitIndex) {
    return switch (plan.effectiveGate()) {
      case FIRST -> unitIndex == 1;
      case EACH -> true;
      case NONE -> false;
    };
  }

  private void awaitGate(int unitIndex) {
    setPhase(Phase.WAITING_FOR_RESUME);
    message =
        (unitIndex == 1 ? "first unit upgraded" : unitIndex + " units upgraded")
            + "; run `lockstep resume "
            + target
            + "`";
    gateOpened = false;
    event("WaitingForResume", false, message);
    Workflow.await(() -> gateOpened || cancelRequested || rollbackRequested);
    if (gateOpened) {
      event("Resumed", false, "resumed at the gate by " + lastSteering("resume"));
    }
    gateOpened = false;
  }

  /** Moves to a phase, and tells Temporal visibility ({@code LockstepPhase}). */
  private void setPhase(Phase next) {
    if (next == phase) {
      return;
    }
    phase = next;
    if (target != null) {
      Workflow.upsertTypedSearchAttributes(SearchAttributes.PHASE.valueSet(next.name()));
    }
  }

  /** Who last steered with {@code action}, and why, for events. */
  private String lastSteering(String action) {
    for (int i = steering.size() - 1; i >= 0; i--) {
      Steering s = steering.get(i);
      if (s.accepted() && s.action().equals(action)) {
        return s.identity() + (s.reason().isEmpty() ? "" : " (" + s.reason() + ")");
      }
    }
    return "unknown";
  }

  /**
   * Records a Kubernetes Event on the target, named by the run and a sequence so a retry creates
   * none twice. Telling the story must never stop the upgrade: a failure is logged and passed.
   */
  private void event(String reason, boolean warning, String text) {
    record(afterStart(List.of(newEvent(reason, warning, text))), null, Map.of());
  }

  /** {@code events}, after the start Event if that is still untold (it is then told with them). */
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

  /** The next Event of this run, named by the run and its place in the run's story. */
  private ClusterActivities.ClusterEvent newEvent(String reason, boolean warning, String text) {
    eventSeq++;
    return new ClusterActivities.ClusterEvent(
        eventName("e" + eventSeq), reason, warning ? "Warning" : "Normal", text);
  }

  /** Records the start Event now if it is still pending. */
  private void tellStart() {
    if (pendingStart != null) {
      record(afterStart(List.of()), null, Map.of());
    }
  }

  private String eventName(String suffix) {
    return target.name() + ".lockstep-" + String.format("%08x", runId().hashCode()) + "-" + suffix;
  }

  private void record(
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
          new ClusterActivities.RecordRequest(cluster, target, events, revision, notes));
    } catch (ActivityFailure e) {
      LOG.warn("could not record {} on {}: {}", events, target, cause(e));
    }
  }

  private void holdIfPaused() {
    if (pauseRequested && !cancelRequested && !rollbackRequested) {
      setPhase(Phase.PAUSED);
      message = "paused before the next unit; run `lockstep resume " + target + "`";
      event("Paused", false, "paused by " + lastSteering("pause"));
      Workflow.await(() -> !pauseRequested || cancelRequested || rollbackRequested);
      if (!pauseRequested && !cancelRequested && !rollbackRequested) {
        event("Resumed", false, "resumed by " + lastSteering("resume"));
      }
    }
  }

  /** Returns every upgraded unit to the original revision, then ends in {@code outcome}. */
  private UpgradeResult rollBack(Strategy strategy, String why, Phase outcome) {
    UpgradeResult failed = returnUnits(strategy, why, true);
    return failed != null ? failed : end(outcome, why);
  }

  /**
   * Returns every upgraded unit to the original revision; null when done, else the FAILED result to
   * end with.
   */
  private UpgradeResult returnUnits(Strategy strategy, String why, boolean scaleBack) {
    UpgradeResult stopped = restoreDataFirst(why);
    if (stopped != null) {
      return stopped;
    }
    if (scaleBack && scaledUp) {
      // Removing the extra unit first: when only it was upgraded, that is the whole rollback.
      UpgradeResult failed = scaleBack(why);
      if (failed != null) {
        return failed;
      }
    }
    setPhase(Phase.ROLLING_BACK);
    message = why + "; returning units to " + fromRevision;
    event("RollingBack", true, message);
    for (int i = 0; i < units.size(); i++) {
      UnitStatus unit = units.get(i);
      if (unit.state() == UnitState.UPGRADED
          || unit.state() == UnitState.UPGRADING
          || unit.state() == UnitState.FAILED) {
        units.set(
            i, unit.with(UnitState.ROLLING_BACK, unit.revision(), unit.ready(), "rolling back"));
      }
    }
    ClusterActivities revert =
        Workflow.newActivityStub(
            ClusterActivities.class, options(settleTimeout(), request.effectiveHeartbeatSeconds()));
    try {
      FinishResult result =
          revert.revert(
              new ClusterActivities.RevertRequest(
                  cluster, target, fromRevision, strategy, settleTimeout().getSeconds(), runId()));
      for (int i = 0; i < units.size(); i++) {
        UnitStatus unit = units.get(i);
        if (unit.state() == UnitState.ROLLING_BACK) {
          units.set(i, unit.with(UnitState.ROLLED_BACK, fromRevision, true, "rolled back"));
        }
      }
      refreshUnits(result.units());
    } catch (ActivityFailure e) {
      return end(
          Phase.FAILED,
          why
              + "; returning the units to "
              + fromRevision
              + " failed too: "
              + cause(e)
              + " (the target may be mixed: check `lockstep status` and the pods)");
    }
    return null;
  }

  /** Back to the original replica count: the extra unit goes. Null when done. */
  private UpgradeResult scaleBack(String why) {
    setPhase(Phase.SCALING_BACK);
    message = why + "; removing the extra unit";
    try {
      quick.scale(
          new ClusterActivities.ScaleRequest(
              cluster, target, originalReplicas, null, runId(), null));
    } catch (ActivityFailure e) {
      return end(
          Phase.FAILED, why + "; scaling back to " + originalReplicas + " failed: " + cause(e));
    }
    scaledUp = false;
    units.removeIf(u -> u.ordinal() >= originalReplicas);
    return null;
  }

  private void refreshUnits(List<UnitSnapshot> seen) {
    for (UnitSnapshot s : seen) {
      for (int i = 0; i < units.size(); i++) {
        UnitStatus unit = units.get(i);
        if (unit.name().equals(s.name())) {
          units.set(i, unit.with(unit.state(), s.revision(), s.ready(), unit.message()));
        }
      }
    }
  }

  private Duration settleTimeout() {
    return plan.effectiveUnitTimeout().multipliedBy(Math.max(1, units.size()) + 1L);
  }

  private static ActivityOptions options(Duration startToClose, int heartbeatSeconds) {
    return ActivityOptions.newBuilder()
        .setStartToCloseTimeout(startToClose)
        .setHeartbeatTimeout(Duration.ofSeconds(heartbeatSeconds))
        .setRetryOptions(
            RetryOptions.newBuilder()
                .setInitialInterval(Duration.ofSeconds(1))
                .setBackoffCoefficient(2)
                .setMaximumInterval(Duration.ofSeconds(30))
                .setDoNotRetry(
                    ClusterActivities.FAILURE_TARGET_NOT_FOUND,
                    ClusterActivities.FAILURE_TARGET_CHANGED,
                    ClusterActivities.FAILURE_TARGET_LOCKED,
                    ClusterActivities.FAILURE_UNIT_FAILED)
                .build())
        .build();
  }

  private UpgradePlan.Change resolved(TargetSnapshot snapshot) {
    UpgradePlan.Change change = plan.effectiveChange();
    Map<String, String> images = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : snapshot.newImages().entrySet()) {
      if (!e.getValue().equals(snapshot.images().get(e.getKey()))) {
        images.put(e.getKey(), e.getValue());
      }
    }
    return new UpgradePlan.Change(images, change.template(), change.resources(), change.restore());
  }

  private UpgradeResult invalid(List<String> problems) {
    verdict = Verdict.invalid(problems);
    return end(Phase.FAILED, "invalid plan: " + String.join("; ", problems));
  }

  private UpgradeResult end(Phase outcome, String why) {
    if (verdict == null) {
      verdict = Verdict.notInspected(why);
    }
    Verdict given = verdict;
    if (touched) {
      touched = false;
      recordEnd(outcome, why);
    }
    setPhase(outcome);
    message = why;
    finishedAt = Workflow.currentTimeMillis();
    // Updates still running (awaitVerdict) must answer before the run closes.
    Workflow.await(Workflow::isEveryHandlerFinished);
    return new UpgradeResult(outcome, why, status(), given);
  }

  /** The end, told: an Event (after the start, if that is still untold), and the run's notes. */
  private void recordEnd(Phase outcome, String why) {
    ClusterActivities.RecordRequest end = endRecord(outcome, why);
    record(afterStart(end.events()), end.revision(), end.notes());
  }

  /** The run's end Event, and its notes on the revision it produced (if it produced one). */
  private ClusterActivities.RecordRequest endRecord(Phase outcome, String why) {
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
    if (toRevision == null) {
      return new ClusterActivities.RecordRequest(cluster, target, events, null, Map.of());
    }
    Map<String, String> notes = new LinkedHashMap<>();
    notes.put(ClusterActivities.NOTE_RUN, runId());
    // A repair that restored the original revision rolled the dead run's revision back.
    notes.put(
        ClusterActivities.NOTE_OUTCOME,
        plan.repair() == UpgradePlan.Repair.RESTORE && outcome == Phase.COMPLETED
            ? Phase.ROLLED_BACK.name()
            : outcome.name());
    notes.put(ClusterActivities.NOTE_STARTED_BY, request.identity());
    notes.put(
        ClusterActivities.NOTE_REASON,
        request.reason().length() > 200 ? request.reason().substring(0, 200) : request.reason());
    notes.put(
        ClusterActivities.NOTE_FINISHED_AT,
        Instant.ofEpochMilli(Workflow.currentTimeMillis()).toString());
    return new ClusterActivities.RecordRequest(cluster, target, events, toRevision, notes);
  }

  private static boolean changedBySomeoneElse(ActivityFailure e) {
    return e.getCause() instanceof ApplicationFailure app
        && (ClusterActivities.FAILURE_TARGET_CHANGED.equals(app.getType())
            || ClusterActivities.FAILURE_TARGET_LOCKED.equals(app.getType()));
  }

  private static String cause(ActivityFailure e) {
    Throwable cause = e.getCause();
    if (cause instanceof ApplicationFailure app) {
      return app.getOriginalMessage();
    }
    return cause == null ? e.getMessage() : cause.getMessage();
  }

  private String runId() {
    return Workflow.getInfo().getRunId();
  }

  // ---- steering: one logic behind updates and signals ----------------------------------------

  /** Why an action would be refused now, or null when it is accepted. */
  private String refusal(String action, SteerRequest who) {
    if (phase.isTerminal()) {
      return "the upgrade has ended (" + phase + ")";
    }
    if (dataRiskHold) {
      return switch (action) {
        case "abandon" -> null;
        case "rollback" ->
            who.acceptDataRisk()
                ? null
                : "rolling back would run "
                    + fromRevision
                    + " on data migrated forward and the plan has no restore hook: add"
                    + " --accept-data-risk to roll back anyway, or abandon";
        default ->
            "the upgrade is HELD before a rollback that would run the old version on migrated"
                + " data: use rollback --accept-data-risk or abandon";
      };
    }
    if (phase == Phase.HELD
        && !action.equals("retry")
        && !action.equals("abandon")
        && !action.equals("rollback")
        && !action.equals("cancel")) {
      return "the upgrade is HELD after a failure: use retry, rollback or abandon";
    }
    return switch (action) {
      case "resume" ->
          phase == Phase.WAITING_FOR_RESUME || phase == Phase.PAUSED || pauseRequested
              ? null
              : "no gate is waiting and the upgrade is not paused (phase " + phase + ")";
      case "retry", "abandon" ->
          phase == Phase.HELD && heldDecision == null
              ? null
              : "only a HELD upgrade can be "
                  + (action.equals("retry") ? "retried" : "abandoned")
                  + " (phase "
                  + phase
                  + ")";
      case "rollback" -> {
        if (cancelRequested || rollbackRequested || phase == Phase.ROLLING_BACK) {
          yield "the upgrade is already being cancelled or rolled back";
        }
        if (phase == Phase.POST_CHECKS) {
          yield "every unit is already upgraded; the upgrade is finishing";
        }
        if (toRevision == null && phase != Phase.PREPARING) {
          yield "nothing has changed yet (phase " + phase + "): use `lockstep cancel`";
        }
        yield null;
      }
      case "pause" -> {
        if (cancelRequested || phase == Phase.ROLLING_BACK || phase == Phase.POST_CHECKS) {
          yield "the upgrade is ending (phase " + phase + ")";
        }
        if (pauseRequested || phase == Phase.PAUSED) {
          yield "the upgrade is already paused";
        }
        if (!units.isEmpty() && unitsStarted >= units.size()) {
          yield "no unit remains to hold before: the last unit is upgrading";
        }
        yield null;
      }
      case "cancel" -> {
        if (cancelRequested || rollbackRequested || phase == Phase.ROLLING_BACK) {
          yield "the upgrade is already being cancelled or rolled back";
        }
        if (phase == Phase.POST_CHECKS) {
          yield "every unit is already upgraded; the upgrade is finishing";
        }
        yield null;
      }
      default -> "unknown action " + action;
    };
  }

  private String apply(String action, SteerRequest who, String via) {
    String refused = refusal(action, who);
    if (refused != null) {
      steering.add(
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
        switch (action) {
          case "resume" -> {
            boolean atGate = phase == Phase.WAITING_FOR_RESUME;
            gateOpened = atGate;
            pauseRequested = false;
            yield atGate ? "resumed at the gate" : "resumed";
          }
          case "pause" -> {
            pauseRequested = true;
            yield phase == Phase.UPGRADING
                ? "will pause once the unit upgrading now is done"
                : "pausing before the next unit";
          }
          case "retry" -> {
            heldDecision = "retry";
            yield "retrying the failed unit";
          }
          case "abandon" -> {
            heldDecision = "abandon";
            yield "abandoning: the target stays exactly as it is and is released";
          }
          case "rollback" -> {
            rollbackRequested = true;
            rollbackBy = who.identity();
            riskAccepted = riskAccepted || who.acceptDataRisk();
            String risk = who.acceptDataRisk() ? ", accepting the data risk" : "";
            yield phase == Phase.UPGRADING || phase == Phase.PREPARING || phase == Phase.MIGRATING
                ? "will roll back to "
                    + fromRevision
                    + " once the step running now has settled"
                    + risk
                : "rolling back to " + fromRevision + risk;
          }
          default -> {
            cancelRequested = true;
            yield "cancelling: stopping before the next unit and returning upgraded units to "
                + (fromRevision == null ? "their original revision" : fromRevision);
          }
        };
    steering.add(
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
    Workflow.await(() -> verdict != null);
    return verdict;
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
    String targetText = target != null ? target.toString() : plan == null ? "" : plan.target();
    return new UpgradeStatus(
        targetText,
        Workflow.getInfo().getRunId(),
        phase,
        message,
        fromRevision,
        toRevision,
        fromImages,
        toImages,
        cluster,
        startedAt == 0 ? null : Instant.ofEpochMilli(startedAt).toString(),
        finishedAt == null ? null : Instant.ofEpochMilli(finishedAt).toString(),
        target == null ? null : "lockstep rollback " + target + clusterFlag(),
        List.copyOf(units),
        List.copyOf(steering),
        List.copyOf(checks));
  }

  private String clusterFlag() {
    return Names.clusterFlag(cluster);
  }
}
