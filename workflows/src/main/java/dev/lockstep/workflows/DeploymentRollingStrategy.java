package dev.lockstep.workflows;

import dev.lockstep.workflows.ClusterActivities.TargetSnapshot;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import io.temporal.failure.ActivityFailure;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;

/**
 * A Deployment, by its own rolling update (DESIGN.md, "Deployments", rolling): the Deployment is
 * marked, paused and changed in one write; each {@link Step.Kind#ROLL} moves the controller's
 * rollout, a bounded step at a time within the user's maxSurge and maxUnavailable, to exactly the
 * step's count of new Ready pods and pauses it for the gate that follows; the last one gives the
 * user's settings back and lets it finish. Going back restores the template of the ReplicaSet the
 * run started from, with the user's replicas, strategy and {@code paused}, as {@code kubectl
 * rollout undo} would.
 */
final class DeploymentRollingStrategy implements TargetStrategy {
  private static final Logger LOG = Workflow.getLogger(DeploymentRollingStrategy.class);
  private static final long HEALTH_INTERVAL_MILLIS = 1000;

  private final Run run;
  private final Story story;
  private final Stubs stubs;
  private final TargetSnapshot snapshot;
  private final int replicas;
  private final ClusterActivities.Origin origin;

  /** What the Deployment is while the run holds it, from prepare on. */
  private DeploymentActivities.Expected expected;

  /** The counts of new Ready pods each ROLL step of an attempt reaches, the last = replicas. */
  private final List<Integer> counts;

  /** Pods of the new version whose health check passed. */
  private final Set<String> healthy = new HashSet<>();

  private String failed;

  DeploymentRollingStrategy(Run run, Story story, Stubs stubs, TargetSnapshot snapshot) {
    this.run = run;
    this.story = story;
    this.stubs = stubs;
    this.snapshot = snapshot;
    this.replicas = snapshot.replicas();
    this.counts = counts(run.plan, replicas);
    this.origin =
        new ClusterActivities.Origin(
            Workflow.getInfo().getWorkflowId(),
            run.fromRevision,
            snapshot.strategyType(),
            null,
            replicas,
            snapshot.updateStrategy(),
            run.plan.effectiveMigration().forwardOnly());
  }

  /**
   * The counts of new Ready pods at which the rollout stops for a gate, ascending, each between 1
   * and {@code replicas - 1}: the plan's {@code strategy.rolling.gates}, else its {@code gate}.
   */
  static List<Integer> gates(UpgradePlan plan, int replicas) {
    TreeSet<Integer> at = new TreeSet<>();
    UpgradePlan.Strategy strategy = plan.strategy();
    if (strategy != null && strategy.rolling() != null && strategy.rolling().gates() != null) {
      for (String point : strategy.rolling().gates()) {
        int count = count(point, replicas);
        if (count >= 1 && count < replicas) {
          at.add(count);
        }
      }
    } else {
      switch (plan.effectiveGate()) {
        case FIRST -> {
          if (replicas > 1) {
            at.add(1);
          }
        }
        case EACH -> {
          for (int i = 1; i < replicas; i++) {
            at.add(i);
          }
        }
        case NONE -> {}
      }
    }
    return List.copyOf(at);
  }

  /** The gates, then every replica: what each ROLL step reaches. */
  static List<Integer> counts(UpgradePlan plan, int replicas) {
    List<Integer> counts = new ArrayList<>(gates(plan, replicas));
    counts.add(replicas);
    return counts;
  }

  /**
   * A gate's count of new Ready pods: {@code "2"}, or {@code "50%"} of the replicas rounded up.
   *
   * @throws IllegalArgumentException when it is neither
   */
  static int count(String point, int replicas) {
    String text = point == null ? "" : point.trim();
    try {
      if (text.endsWith("%")) {
        int percent = Integer.parseInt(text.substring(0, text.length() - 1).trim());
        if (percent < 1 || percent > 100) {
          throw new NumberFormatException();
        }
        return (int) Math.ceil(replicas * percent / 100.0);
      }
      int count = Integer.parseInt(text);
      if (count < 1) {
        throw new NumberFormatException();
      }
      return count;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "strategy.rolling.gates: '"
              + point
              + "' is neither a count of new pods (e.g. 1) nor a share of the replicas (e.g."
              + " 50%)");
    }
  }

  /** The forward steps for a Deployment of {@code replicas}: pure, so {@code plan} prints them. */
  static List<Step> compile(UpgradePlan plan, int replicas, Start start) {
    UpgradePlan.Hooks hooks = plan.effectiveHooks();
    List<Step> steps = new ArrayList<>();
    if (start == Start.FRESH && hooks.backup() != null) {
      steps.add(Step.of(Step.Kind.BACKUP, "backup"));
    }
    steps.add(Step.of(Step.Kind.PREPARE, ""));
    List<Integer> counts = counts(plan, replicas);
    for (int i = 0; i < counts.size(); i++) {
      int count = counts.get(i);
      steps.add(Step.of(Step.Kind.ROLL, "to " + count + " of " + replicas + " new pods"));
      if (i == 0 && hooks.migrate() != null) {
        steps.add(Step.of(Step.Kind.MIGRATE, "migrate"));
      }
      if (count < replicas) {
        steps.add(Step.of(Step.Kind.GATE, "at " + count + " of " + replicas + " new pods"));
      }
    }
    if (hooks.test() != null) {
      steps.add(Step.of(Step.Kind.TEST, "test"));
    }
    steps.add(Step.of(Step.Kind.FINISH, ""));
    return steps;
  }

  @Override
  public List<Step> forward(Start start) {
    return compile(run.plan, replicas, start);
  }

  @Override
  public List<Step> back(boolean whole) {
    List<Step> steps = new ArrayList<>();
    if (run.dataMoved) {
      steps.add(Step.of(Step.Kind.RESTORE_DATA, "restore"));
    }
    steps.add(Step.of(Step.Kind.REVERT, run.fromRevision));
    return steps;
  }

  @Override
  public Set<Step.Kind> owns() {
    return EnumSet.of(
        Step.Kind.PREPARE, Step.Kind.ROLL, Step.Kind.FINISH, Step.Kind.REVERT, Step.Kind.RELEASE);
  }

  @Override
  public void execute(Step step) {
    try {
      switch (step.kind()) {
        case PREPARE -> prepare();
        case ROLL -> roll();
        case FINISH -> finish();
        case REVERT -> revert();
        case RELEASE -> release();
        default -> throw new IllegalArgumentException("not a Deployment step: " + step.kind());
      }
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      boolean drift =
          Run.isType(
              e, ClusterActivities.FAILURE_TARGET_CHANGED, ClusterActivities.FAILURE_TARGET_LOCKED);
      String cause = Run.cause(e);
      throw new StepFailed(
          drift
              ? "someone else changed " + run.target + ": " + cause
              : switch (step.kind()) {
                case ROLL -> failed != null ? failed : "the rollout failed: " + cause;
                case PREPARE -> "prepare failed: " + cause;
                case FINISH -> "post-checks failed: " + cause;
                case REVERT ->
                    "returning " + run.target + " to " + run.fromRevision + " failed: " + cause;
                default -> step.describe() + " failed: " + cause;
              },
          drift);
    }
  }

  private void prepare() {
    run.message = "pausing " + run.target + " and applying the change";
    DeploymentActivities.Prepared prepared =
        stubs
            .deploymentQuick()
            .prepare(
                new DeploymentActivities.PrepareRequest(
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
    story.tellStart();
    expected = prepared.expected();
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      run.units.set(
          i, unit.with(UnitState.WAITING, unit.revision(), unit.ready(), "on the old version"));
    }
  }

  /** Which ROLL step of this attempt runs now: the ROLL steps since the last prepare. */
  private int rollIndex() {
    int n = 0;
    for (int i = run.index - 1; i >= 0; i--) {
      Step s = run.steps.get(i);
      if (s.kind() == Step.Kind.PREPARE) {
        break;
      }
      if (s.kind() == Step.Kind.ROLL) {
        n++;
      }
    }
    return n;
  }

  private void roll() {
    int i = rollIndex();
    int count = counts.get(i);
    int before = i == 0 ? 0 : counts.get(i - 1);
    boolean last = count >= replicas;
    boolean retry = run.retrying;
    run.retrying = false;
    failed = null;
    run.message =
        "rolling out: waiting for "
            + count
            + " of "
            + replicas
            + " pods Ready on the new version"
            + (last ? "" : ", then pausing");
    Duration timeout = run.plan.effectiveUnitTimeout().multipliedBy(Math.max(1, count - before));
    DeploymentActivities.Progress progress;
    try {
      progress =
          stubs
              .deploymentRoll(timeout)
              .roll(
                  new DeploymentActivities.RollRequest(
                      run.cluster,
                      run.target,
                      run.runId(),
                      expected,
                      count,
                      last,
                      timeout.getSeconds(),
                      run.plan.effectiveCrashLoopRestarts(),
                      retry));
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      if (Run.isType(e, ClusterActivities.FAILURE_UNIT_FAILED)) {
        failed = "the new version failed: " + Run.cause(e);
      }
      throw e;
    }
    run.toRevision = progress.newRevision();
    refresh(progress.units(), false);
    if (run.plan.health() != null) {
      for (UnitSnapshot pod : progress.units()) {
        if (pod.ready()
            && pod.revision() != null
            && pod.revision().equals(run.toRevision)
            && healthy.add(pod.name())) {
          checkHealth(pod.name());
        }
      }
    }
    LOG.info(
        "{}: {} of {} pods Ready on {}", run.target, progress.newReady(), replicas, run.toRevision);
  }

  private void checkHealth(String pod) {
    try {
      checkHealth(run, stubs, healthy, pod);
    } catch (ActivityFailure e) {
      failed = "the new version failed: " + Run.cause(e);
      throw e;
    }
  }

  /**
   * The plan's health check of one new pod (shared with {@link DeploymentCanaryStrategy}): the unit
   * VERIFYING, then UPGRADED; on failure FAILED, no longer counted healthy, and the failure thrown.
   */
  static void checkHealth(Run run, Stubs stubs, Set<String> healthy, String pod) {
    int i = run.unitIndex(pod);
    UnitStatus unit = run.units.get(i);
    run.units.set(i, unit.with(UnitState.VERIFYING, unit.revision(), true, "checking health"));
    try {
      stubs
          .perUnit()
          .checkHealth(
              new ClusterActivities.HealthRequest(
                  run.cluster,
                  run.target,
                  pod,
                  run.plan.health(),
                  run.plan.effectiveUnitTimeout().getSeconds(),
                  HEALTH_INTERVAL_MILLIS));
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      healthy.remove(pod);
      run.units.set(i, unit.with(UnitState.FAILED, unit.revision(), true, Run.cause(e)));
      throw e;
    }
    run.units.set(i, unit.with(UnitState.UPGRADED, unit.revision(), true, "upgrade completed"));
  }

  private void finish() {
    run.message = "checking every pod on " + run.toRevision;
    ClusterActivities.RecordRequest end = story.endRecord(Phase.COMPLETED, completed());
    DeploymentActivities.Progress finished =
        stubs
            .deploymentSettle()
            .finish(
                new DeploymentActivities.FinishRequest(
                    run.cluster, run.target, run.runId(), expected, run.toRevision, end));
    refresh(finished.units(), false);
    if (!finished.told()) {
      story.record(end.events(), end.revision(), end.notes());
    }
    run.untold = false;
  }

  private void revert() {
    run.message = run.returnReason + "; returning " + run.target + " to " + run.fromRevision;
    story.event("RollingBack", true, run.message);
    for (int i = 0; i < run.units.size(); i++) {
      UnitStatus unit = run.units.get(i);
      if (unit.state() != UnitState.WAITING) {
        run.units.set(
            i, unit.with(UnitState.ROLLING_BACK, unit.revision(), unit.ready(), "rolling back"));
      }
    }
    DeploymentActivities.Progress back =
        stubs
            .deploymentSettle()
            .revert(
                new DeploymentActivities.RevertRequest(
                    run.cluster,
                    run.target,
                    run.runId(),
                    run.fromRevision,
                    replicas,
                    snapshot.updateStrategy(),
                    stubs.settleTimeout().getSeconds()));
    healthy.clear();
    refresh(back.units(), true);
  }

  @Override
  public void release() {
    stubs
        .deploymentQuick()
        .release(new DeploymentActivities.ReleaseRequest(run.cluster, run.target, run.runId()));
  }

  @Override
  public String completed() {
    return "all " + replicas + " pods of " + run.target + " on " + run.toRevision;
  }

  @Override
  public String atGate() {
    long upgraded =
        run.units.stream()
            .filter(u -> run.toRevision != null && run.toRevision.equals(u.revision()) && u.ready())
            .count();
    return upgraded + " of " + replicas + " pods Ready on the new version " + run.toRevision;
  }

  @Override
  public String leftAsIs() {
    return "the Deployment paused: `kubectl rollout resume` would finish its rollout";
  }

  /**
   * The pods as seen, one line each: a Deployment's pods are replaced, not changed in place, so the
   * list is the Deployment's pods now (the old ones while they last, then the new ones).
   */
  private void refresh(List<UnitSnapshot> seen, boolean returned) {
    Map<String, UnitStatus> before = new LinkedHashMap<>();
    run.units.forEach(u -> before.put(u.name(), u));
    run.units.clear();
    int ordinal = 0;
    for (UnitSnapshot pod : seen) {
      UnitStatus was = before.get(pod.name());
      boolean isNew = run.toRevision != null && run.toRevision.equals(pod.revision());
      UnitState state;
      String message;
      if (returned) {
        state = UnitState.ROLLED_BACK;
        message = "on " + run.fromRevision;
      } else if (isNew) {
        state =
            !pod.ready()
                ? UnitState.UPGRADING
                : run.plan.health() != null && !healthy.contains(pod.name())
                    ? UnitState.VERIFYING
                    : UnitState.UPGRADED;
        message = pod.ready() ? "upgrade completed" : "starting on the new version";
        if (was != null && was.state() == UnitState.FAILED) {
          state = UnitState.FAILED;
          message = was.message();
        }
      } else {
        state = UnitState.WAITING;
        message = "on the old version";
      }
      run.units.add(
          new UnitStatus(pod.name(), ordinal++, state, pod.revision(), pod.ready(), message));
    }
  }

  /** The plan's change with only the containers whose image really changes. */
  private UpgradePlan.Change resolvedChange() {
    return resolvedChange(run.plan, snapshot);
  }

  /** {@link #resolvedChange()} of any Deployment strategy (shared with the canary). */
  static UpgradePlan.Change resolvedChange(UpgradePlan plan, TargetSnapshot snapshot) {
    UpgradePlan.Change change = plan.effectiveChange();
    Map<String, String> images = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : snapshot.newImages().entrySet()) {
      if (!e.getValue().equals(snapshot.images().get(e.getKey()))) {
        images.put(e.getKey(), e.getValue());
      }
    }
    return new UpgradePlan.Change(images, change.template(), change.resources(), change.restore());
  }
}
