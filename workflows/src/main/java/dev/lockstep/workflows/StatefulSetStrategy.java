package dev.lockstep.workflows;

import dev.lockstep.workflows.ClusterActivities.FinishResult;
import dev.lockstep.workflows.ClusterActivities.PrepareResult;
import dev.lockstep.workflows.ClusterActivities.TargetSnapshot;
import dev.lockstep.workflows.ClusterActivities.UnitResult;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import io.temporal.failure.ActivityFailure;
import io.temporal.workflow.Workflow;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;

/**
 * A StatefulSet, in place by ordinal (DESIGN.md, "The upgrade, step by step"): the partition pinned
 * at the replica count, then lowered one unit at a time, highest first, each verified before the
 * next; an optional extra unit added first and removed at the end; going back restores the original
 * revision's template, then removes the extra unit, then lets go.
 */
final class StatefulSetStrategy implements TargetStrategy {
  private static final Logger LOG = Workflow.getLogger(StatefulSetStrategy.class);
  static final String MSG_WAITING = "other units upgrading first...";
  private static final String MSG_UPGRADING = "upgrading unit";
  private static final String MSG_UPGRADED = "upgrade completed";
  private static final long HEALTH_INTERVAL_MILLIS = 1000;

  private final Run run;
  private final Story story;
  private final Stubs stubs;
  private final TargetSnapshot snapshot;

  private ClusterActivities.Origin origin;

  /** How many units a {@link Step.Kind#START} brings back, decided when the return was compiled. */
  private int startReplicas;

  /** {@code spec.ordinals.start}: the lowest ordinal; partitions count from it. */
  private final int start;

  private ClusterActivities.Strategy userStrategy;
  private int originalReplicas;
  private boolean scaledUp;
  private int pinnedReplicas;

  /** Index in the run's units of the first unit this attempt moves (after a dead run's). */
  private int firstOfAttempt;

  /** The dead run a repair takes the target over from. */
  private String deadRun;

  StatefulSetStrategy(Run run, Story story, Stubs stubs, TargetSnapshot snapshot) {
    this.run = run;
    this.story = story;
    this.stubs = stubs;
    this.snapshot = snapshot;
    this.originalReplicas = snapshot.replicas();
    this.start = snapshot.ordinalStart();
    this.userStrategy =
        new ClusterActivities.Strategy(
            snapshot.strategyType(), snapshot.partition(), snapshot.updateStrategy());
    this.origin =
        new ClusterActivities.Origin(
            Workflow.getInfo().getWorkflowId(),
            run.fromRevision,
            snapshot.strategyType(),
            snapshot.partition(),
            originalReplicas,
            snapshot.updateStrategy(),
            run.plan.effectiveMigration().forwardOnly());
    if (Boolean.TRUE.equals(run.plan.scaleUp()) && run.plan.repair() == null) {
      run.units.add(
          0,
          new UnitStatus(
              extraUnit(),
              start + originalReplicas,
              UnitState.WAITING,
              run.fromRevision,
              true,
              "the extra unit, upgraded first"));
    }
  }

  /**
   * A repair: what the dead run knew comes from the mark it left ({@link
   * ClusterActivities#ORIGIN_ANNOTATION}). Returns whether the dead run was itself going back.
   */
  boolean takeOver(ClusterActivities.Origin found, String dead) {
    deadRun = dead;
    origin = found;
    run.fromRevision = found.fromRevision();
    originalReplicas = found.replicas();
    userStrategy =
        new ClusterActivities.Strategy(
            found.strategyType(), found.partition(), found.updateStrategy());
    scaledUp = snapshot.replicas() > originalReplicas;
    pinnedReplicas = snapshot.replicas();
    String toward = snapshot.updateRevision();
    boolean wasRestoring = toward == null || toward.equals(run.fromRevision);
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      if (!wasRestoring && toward.equals(unit.revision()) && unit.ready()) {
        run.units.set(
            i, unit.with(UnitState.UPGRADED, unit.revision(), true, "upgraded by run " + dead));
      }
    }
    run.toRevision = wasRestoring ? null : toward;
    // The dead run's data: migrated forward by its migrate Job, or by its new version itself.
    boolean moved =
        (snapshot.markedRunHooks() != null && snapshot.markedRunHooks().containsKey("migrate"))
            || run.units.stream().anyMatch(u -> u.state() == UnitState.UPGRADED);
    run.dataMoved = found.forwardOnly() && !wasRestoring && moved;
    return wasRestoring;
  }

  /** A repair that restores: every unit not on the original revision goes back. */
  void restoring() {
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      if (!run.fromRevision.equals(unit.revision())) {
        run.units.set(i, unit.with(UnitState.UPGRADED, unit.revision(), unit.ready(), ""));
      }
    }
  }

  private String extraUnit() {
    return run.target.name() + "-" + (start + originalReplicas);
  }

  @Override
  public List<Step> forward(Start start) {
    List<String> order = new ArrayList<>();
    firstOfAttempt = 0;
    while (firstOfAttempt < run.units.size()
        && run.units.get(firstOfAttempt).state() == UnitState.UPGRADED) {
      firstOfAttempt++;
    }
    for (int i = firstOfAttempt; i < run.units.size(); i++) {
      order.add(run.units.get(i).name());
    }
    boolean scaleUp = start == Start.FRESH && Boolean.TRUE.equals(run.plan.scaleUp());
    return compile(run.plan, order, start, scaleUp ? extraUnit() : null, scaleUp || scaledUp);
  }

  /**
   * The forward steps for {@code units} in order: pure, so that {@code plan} prints exactly what a
   * run would walk.
   *
   * @param extraUnit the unit a scale-up adds, or null
   * @param scaleBack whether the run ends by removing an extra unit
   */
  static List<Step> compile(
      UpgradePlan plan, List<String> units, Start start, String extraUnit, boolean scaleBack) {
    UpgradePlan.Hooks hooks = plan.effectiveHooks();
    List<Step> steps = new ArrayList<>();
    if (start == Start.FRESH) {
      if (hooks.backup() != null) {
        steps.add(Step.of(Step.Kind.BACKUP, "backup"));
      }
      if (extraUnit != null) {
        steps.add(Step.of(Step.Kind.SCALE_UP, extraUnit));
      }
    }
    steps.add(Step.of(start == Start.ADOPTED ? Step.Kind.ADOPT : Step.Kind.PREPARE, ""));
    for (int i = 0; i < units.size(); i++) {
      if (i > 0 && gateBefore(plan.effectiveGate(), i)) {
        steps.add(Step.of(Step.Kind.GATE, "after " + units.get(i - 1)));
      }
      steps.add(Step.of(Step.Kind.UNIT, units.get(i)));
      if (i == 0 && hooks.migrate() != null) {
        steps.add(Step.of(Step.Kind.MIGRATE, "migrate"));
      }
    }
    if (hooks.test() != null) {
      steps.add(Step.of(Step.Kind.TEST, "test"));
    }
    if (scaleBack) {
      steps.add(Step.of(Step.Kind.SCALE_BACK, extraUnit == null ? "" : extraUnit));
    }
    steps.add(Step.of(Step.Kind.FINISH, ""));
    return steps;
  }

  /** Whether a gate stands before the {@code i}-th unit this attempt moves (0 is the first). */
  private static boolean gateBefore(UpgradePlan.Gate gate, int i) {
    return switch (gate) {
      case FIRST -> i == 1;
      case EACH -> true;
      case NONE -> false;
    };
  }

  @Override
  public List<Step> back(boolean whole) {
    List<Step> steps = new ArrayList<>();
    if (run.dataMoved && run.plan.effectiveHooks().restore() != null) {
      // Nothing may run while the data is restored: the new version could write to it, or
      // migrate it again, and the old one would run on data not yet restored. Every unit stops,
      // the data is restored, the template goes back, and the units start on the old revision.
      int replicas = whole ? originalReplicas : originalReplicas + (scaledUp ? 1 : 0);
      steps.add(Step.of(Step.Kind.STOP, run.target.name()));
      steps.add(Step.of(Step.Kind.RESTORE_DATA, "restore"));
      steps.add(Step.of(Step.Kind.REVERT, run.fromRevision));
      startReplicas = replicas;
      steps.add(Step.of(Step.Kind.START, replicas + " units"));
      steps.add(Step.of(Step.Kind.RELEASE, ""));
      return steps;
    }
    if (run.dataMoved) {
      steps.add(Step.of(Step.Kind.RESTORE_DATA, "restore"));
    }
    // Units first, the extra unit after: the controller removes no pod while another is not
    // Ready, so scaling back before the broken units are replaced would wait for ever.
    steps.add(Step.of(Step.Kind.REVERT, run.fromRevision));
    if (whole && scaledUp) {
      steps.add(Step.of(Step.Kind.SCALE_BACK, extraUnit()));
      steps.add(Step.of(Step.Kind.RELEASE, ""));
    }
    return steps;
  }

  @Override
  public Set<Step.Kind> owns() {
    return EnumSet.of(
        Step.Kind.SCALE_UP,
        Step.Kind.PREPARE,
        Step.Kind.ADOPT,
        Step.Kind.UNIT,
        Step.Kind.SCALE_BACK,
        Step.Kind.FINISH,
        Step.Kind.STOP,
        Step.Kind.REVERT,
        Step.Kind.START,
        Step.Kind.RELEASE);
  }

  @Override
  public void execute(Step step) {
    try {
      switch (step.kind()) {
        case SCALE_UP -> scaleUp();
        case PREPARE -> prepare();
        case ADOPT -> adopt();
        case UNIT -> unit(step.subject());
        case SCALE_BACK -> scaleBack();
        case FINISH -> finish();
        case STOP -> stop();
        case REVERT -> revert();
        case START -> start();
        case RELEASE -> release();
        default -> throw new IllegalArgumentException("not a StatefulSet step: " + step.kind());
      }
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      boolean drift =
          Run.isType(
              e, ClusterActivities.FAILURE_TARGET_CHANGED, ClusterActivities.FAILURE_TARGET_LOCKED);
      String cause = Run.cause(e);
      throw new StepFailed(
          switch (step.kind()) {
            case UNIT -> drift ? "someone else changed " + run.target + ": " + cause : failedUnit;
            case SCALE_UP -> "scaling up failed: " + cause;
            case PREPARE ->
                drift
                    ? "someone else changed " + run.target + ": " + cause
                    : "prepare failed: " + cause;
            case ADOPT -> "taking over from run " + deadRun + " failed: " + cause;
            case FINISH -> "post-checks failed: " + cause;
            case SCALE_BACK -> "scaling back to " + originalReplicas + " failed: " + cause;
            case REVERT -> "returning the units to " + run.fromRevision + " failed: " + cause;
            case STOP -> "stopping the units for the restore failed: " + cause;
            case START -> "starting the units on " + run.fromRevision + " failed: " + cause;
            default -> step.describe() + " failed: " + cause;
          },
          drift);
    }
  }

  /** The failing unit's line, set by {@link #unit} before its failure is thrown on. */
  private String failedUnit;

  private void scaleUp() {
    story.tellStart();
    run.message = "adding one unit: " + extraUnit();
    scaledUp = true;
    FinishResult grown =
        stubs.quick.scale(
            new ClusterActivities.ScaleRequest(
                run.cluster,
                run.target,
                originalReplicas + 1,
                run.fromRevision,
                run.runId(),
                origin));
    refresh(grown.units());
  }

  private void prepare() {
    run.message = "pinning the partition and applying the change";
    PrepareResult prepared =
        stubs.quick.prepare(
            new ClusterActivities.PrepareRequest(
                run.cluster,
                run.target,
                resolvedChange(),
                run.fromRevision,
                run.runId(),
                origin,
                story.pending()));
    if (prepared.told()) {
      story.told();
    }
    // Told before any unit moves, whatever happened above.
    story.tellStart();
    run.toRevision = prepared.toRevision();
    pinnedReplicas = prepared.replicas();
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      boolean done = unit.state() == UnitState.UPGRADED;
      run.units.set(
          i,
          unit.with(
              done ? UnitState.UPGRADED : UnitState.WAITING,
              unit.revision(),
              unit.ready(),
              done ? unit.message() : MSG_WAITING));
    }
  }

  private void adopt() {
    run.message = "taking " + run.target + " over from run " + deadRun;
    stubs.quick.adopt(
        new ClusterActivities.AdoptRequest(run.cluster, run.target, deadRun, run.runId()));
    LOG.info("took {} over from run {}", run.target, deadRun);
    story.event(
        "UpgradeStarted",
        false,
        "Lockstep run "
            + run.runId()
            + " by "
            + run.request.identity()
            + ": "
            + Audit.describe(run.plan)
            + " of run "
            + deadRun);
  }

  private void unit(String name) {
    int i = run.unitIndex(name);
    UnitStatus unit = run.units.get(i);
    run.units.set(i, unit.with(UnitState.UPGRADING, unit.revision(), false, MSG_UPGRADING));
    run.message = "upgrading " + name + " (" + (i + 1) + "/" + run.units.size() + ")";
    boolean retry = run.retrying;
    run.retrying = false;
    int partitionBefore =
        i == 0
            ? pinnedReplicas
            : i == firstOfAttempt && snapshot.partition() != null && deadRun != null
                ? snapshot.partition()
                : run.units.get(i - 1).ordinal() - start;
    try {
      UnitResult result =
          stubs
              .perUnit()
              .upgradeUnit(
                  new ClusterActivities.UnitRequest(
                      run.cluster,
                      run.target,
                      unit.ordinal(),
                      run.toRevision,
                      run.plan.effectiveUnitTimeout().getSeconds(),
                      run.plan.effectiveCrashLoopRestarts(),
                      run.runId(),
                      retry,
                      story.eventName("u" + unit.ordinal() + "-a" + run.attempt),
                      pinnedReplicas,
                      partitionBefore,
                      run.plan.effectiveSoak().getSeconds()));
      if (run.plan.health() != null) {
        // One failure path: a unit that is Ready but unhealthy has failed like any other.
        run.units.set(
            i, unit.with(UnitState.VERIFYING, result.revision(), true, "checking health"));
        stubs
            .perUnit()
            .checkHealth(
                new ClusterActivities.HealthRequest(
                    run.cluster,
                    run.target,
                    name,
                    run.plan.health(),
                    run.plan.effectiveUnitTimeout().getSeconds(),
                    HEALTH_INTERVAL_MILLIS));
      }
      run.units.set(
          i, unit.with(UnitState.UPGRADED, result.revision(), result.ready(), MSG_UPGRADED));
      LOG.info("unit {} upgraded to {}", name, run.toRevision);
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      String cause = Run.cause(e);
      boolean drift =
          Run.isType(
              e, ClusterActivities.FAILURE_TARGET_CHANGED, ClusterActivities.FAILURE_TARGET_LOCKED);
      if (Run.isType(e, ClusterActivities.FAILURE_UPGRADED_UNIT_FAILED)) {
        // A unit verified earlier broke while this one upgraded: that unit is the cause.
        String broken = cause.split(" ", 2)[0];
        for (int u = 0; u < run.units.size(); u++) {
          UnitStatus earlier = run.units.get(u);
          if (earlier.name().equals(broken)) {
            run.units.set(u, earlier.with(UnitState.FAILED, run.toRevision, false, cause));
          }
        }
        run.units.set(i, run.units.get(i).with(UnitState.UPGRADING, unit.revision(), false, ""));
        failedUnit = cause;
        throw e;
      }
      // Never overwrite someone else's change: the unit keeps the revision it was seen on.
      run.units.set(
          i,
          run.units
              .get(i)
              .with(UnitState.FAILED, drift ? unit.revision() : run.toRevision, false, cause));
      failedUnit = name + " failed: " + cause;
      throw e;
    }
  }

  private void scaleBack() {
    run.message =
        (run.returning ? "going back" : "upgraded") + "; removing the extra unit " + extraUnit();
    stubs.quick.scale(
        new ClusterActivities.ScaleRequest(
            run.cluster, run.target, originalReplicas, null, run.runId(), null));
    scaledUp = false;
    run.units.removeIf(u -> u.ordinal() >= start + originalReplicas);
  }

  private void finish() {
    run.message = "checking every unit on " + run.toRevision;
    String completed = completed();
    // The end is told by finish itself once every unit is settled (one activity fewer).
    ClusterActivities.RecordRequest end = story.endRecord(Phase.COMPLETED, completed);
    FinishResult finished =
        stubs
            .settle()
            .finish(
                new ClusterActivities.FinishRequest(
                    run.cluster, run.target, run.toRevision, userStrategy, run.runId(), end));
    refresh(finished.units());
    if (!finished.told()) {
      // The same Event by name: what finish managed to record is not recorded twice.
      story.record(end.events(), end.revision(), end.notes());
    }
    run.untold = false;
  }

  private void revert() {
    run.message = run.returnReason + "; returning units to " + run.fromRevision;
    story.event("RollingBack", true, run.message);
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      if (unit.state() == UnitState.UPGRADED
          || unit.state() == UnitState.UPGRADING
          || unit.state() == UnitState.VERIFYING
          || unit.state() == UnitState.FAILED) {
        run.units.set(
            i, unit.with(UnitState.ROLLING_BACK, unit.revision(), unit.ready(), "rolling back"));
      }
    }
    FinishResult result =
        stubs
            .settle()
            .revert(
                new ClusterActivities.RevertRequest(
                    run.cluster,
                    run.target,
                    run.fromRevision,
                    userStrategy,
                    stubs.settleTimeout().getSeconds(),
                    run.runId()));
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      if (unit.state() == UnitState.ROLLING_BACK) {
        run.units.set(i, unit.with(UnitState.ROLLED_BACK, run.fromRevision, true, "rolled back"));
      }
    }
    refresh(result.units());
  }

  /** Every unit stopped: a StatefulSet at zero replicas. */
  private void stop() {
    run.message =
        run.returnReason + "; stopping every unit so that nothing runs while the data is restored";
    story.event("RollingBack", true, run.message);
    stubs
        .settle()
        .scale(
            new ClusterActivities.ScaleRequest(
                run.cluster, run.target, 0, null, run.runId(), null));
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      run.units.set(
          i, unit.with(UnitState.ROLLING_BACK, unit.revision(), false, "stopped for the restore"));
    }
  }

  /** The units started again, on the original revision, after a {@link #stop}. */
  private void start() {
    int replicas = startReplicas;
    run.message = run.returnReason + "; starting " + replicas + " units on " + run.fromRevision;
    FinishResult started =
        stubs
            .settle()
            .scale(
                new ClusterActivities.ScaleRequest(
                    run.cluster, run.target, replicas, run.fromRevision, run.runId(), null));
    scaledUp = replicas > originalReplicas;
    run.units.removeIf(u -> u.ordinal() >= start + replicas);
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      run.units.set(i, unit.with(UnitState.ROLLED_BACK, run.fromRevision, true, "rolled back"));
    }
    refresh(started.units());
  }

  @Override
  public void release() {
    stubs.quick.release(new ClusterActivities.ReleaseRequest(run.cluster, run.target, run.runId()));
  }

  @Override
  public String completed() {
    return "all " + originalReplicas + " units upgraded to " + run.toRevision;
  }

  private void refresh(List<UnitSnapshot> seen) {
    for (UnitSnapshot s : seen) {
      for (int i = 0; i < run.units.size(); i++) {
        UnitStatus unit = run.units.get(i);
        if (unit.name().equals(s.name())) {
          run.units.set(i, unit.with(unit.state(), s.revision(), s.ready(), unit.message()));
        }
      }
    }
  }

  /** The plan's change with only the containers whose image really changes. */
  private UpgradePlan.Change resolvedChange() {
    UpgradePlan.Change change = run.plan.effectiveChange();
    Map<String, String> images = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : snapshot.newImages().entrySet()) {
      if (!e.getValue().equals(snapshot.images().get(e.getKey()))) {
        images.put(e.getKey(), e.getValue());
      }
    }
    return new UpgradePlan.Change(images, change.template(), change.resources(), change.restore());
  }
}
