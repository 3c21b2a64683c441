package dev.lockstep.workflows;

import dev.lockstep.workflows.ClusterActivities.TargetSnapshot;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import io.temporal.failure.ActivityFailure;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;

/**
 * A Deployment by canary (DESIGN.md, "Deployments", canary; Argo Rollouts' basic canary without a
 * mesh): the plan's steps as data, each {@code setWeight} a {@link Step.Kind#WEIGHT} (a canary
 * Deployment {@code <name>-canary} with the new template scaled to ceil(weight × replicas), the
 * user's own scaled down by as many), each {@code pause: {}} a gate, each {@code pause: {duration}}
 * a durable timer, each {@code analysis} a check of the canary's pods (and the test hook); then
 * {@link Step.Kind#PROMOTE}: the user's Deployment rolls to the new template with its own strategy
 * and gets its replicas back, and the canary goes. Going back returns the user's Deployment exactly
 * as found and removes the canary.
 */
final class DeploymentCanaryStrategy implements TargetStrategy {
  private static final Logger LOG = Workflow.getLogger(DeploymentCanaryStrategy.class);

  /** What {@code upgrade --strategy canary} runs without a plan's steps. */
  static final List<UpgradePlan.CanaryStep> DEFAULT_STEPS =
      List.of(
          new UpgradePlan.CanaryStep(25, null, null),
          new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause(null), null),
          new UpgradePlan.CanaryStep(50, null, null),
          new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause("1m"), null),
          new UpgradePlan.CanaryStep(null, null, Map.of()));

  private final Run run;
  private final Story story;
  private final Stubs stubs;
  private final TargetSnapshot snapshot;
  private final int replicas;
  private final ClusterActivities.Origin origin;

  /** What the stable Deployment is while the run holds it, from prepare on. */
  private DeploymentActivities.Expected expected;

  /** The canary's share now, in percent of the replicas, as the last weight set it. */
  private int weight;

  /** Where the Service sent traffic when last seen. */
  private CanaryActivities.Traffic traffic;

  private String canaryRevision;
  private final Set<String> healthy = new HashSet<>();
  private String failed;

  DeploymentCanaryStrategy(Run run, Story story, Stubs stubs, TargetSnapshot snapshot) {
    this.run = run;
    this.story = story;
    this.stubs = stubs;
    this.snapshot = snapshot;
    this.replicas = snapshot.replicas();
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

  static List<UpgradePlan.CanaryStep> steps(UpgradePlan plan) {
    UpgradePlan.Canary canary = plan.strategy() == null ? null : plan.strategy().canary();
    return canary == null || canary.steps() == null || canary.steps().isEmpty()
        ? DEFAULT_STEPS
        : canary.steps();
  }

  /** The canary's replicas at {@code weight} percent: ceil(weight × replicas), as Argo's. */
  static int canaryReplicas(int weight, int replicas) {
    return Math.min(replicas, (int) Math.ceil(replicas * weight / 100.0));
  }

  /** The forward steps for a Deployment of {@code replicas}: pure, so {@code plan} prints them. */
  static List<Step> compile(UpgradePlan plan, int replicas, Start start) {
    UpgradePlan.Hooks hooks = plan.effectiveHooks();
    List<Step> steps = new ArrayList<>();
    if (start == Start.FRESH && hooks.backup() != null) {
      steps.add(Step.of(Step.Kind.BACKUP, "backup"));
    }
    steps.add(Step.of(Step.Kind.PREPARE, ""));
    int at = 0;
    boolean migrated = false;
    for (UpgradePlan.CanaryStep s : steps(plan)) {
      if (s.setWeight() != null) {
        at = s.setWeight();
        int canary = canaryReplicas(at, replicas);
        steps.add(
            Step.of(Step.Kind.WEIGHT, at + "% (" + canary + " of " + replicas + " pods canary)"));
        if (!migrated && canary > 0 && hooks.migrate() != null) {
          steps.add(Step.of(Step.Kind.MIGRATE, "migrate"));
          migrated = true;
        }
      } else if (s.pause() != null && s.pause().duration() == null) {
        steps.add(Step.of(Step.Kind.GATE, "at " + at + "%"));
      } else if (s.pause() != null) {
        steps.add(Step.of(Step.Kind.PAUSE_FOR, s.pause().duration() + " at " + at + "%"));
      } else {
        steps.add(Step.of(Step.Kind.ANALYSIS, "at " + at + "%"));
        if (hooks.test() != null) {
          steps.add(Step.of(Step.Kind.TEST, "test"));
        }
      }
    }
    steps.add(Step.of(Step.Kind.PROMOTE, "all " + replicas + " pods"));
    if (!migrated && hooks.migrate() != null) {
      steps.add(Step.of(Step.Kind.MIGRATE, "migrate"));
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
        Step.Kind.PREPARE,
        Step.Kind.WEIGHT,
        Step.Kind.PAUSE_FOR,
        Step.Kind.ANALYSIS,
        Step.Kind.PROMOTE,
        Step.Kind.FINISH,
        Step.Kind.REVERT,
        Step.Kind.RELEASE);
  }

  @Override
  public void execute(Step step) {
    try {
      switch (step.kind()) {
        case PREPARE -> prepare();
        case WEIGHT -> setWeight(weightAt(run.index), false);
        case PAUSE_FOR -> pauseFor(step);
        case ANALYSIS -> analysis();
        case PROMOTE -> promote();
        case FINISH -> finish();
        case REVERT -> revert();
        case RELEASE -> release();
        default -> throw new IllegalArgumentException("not a canary step: " + step.kind());
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
                case WEIGHT, ANALYSIS, PROMOTE ->
                    failed != null ? failed : step.describe() + " failed: " + cause;
                case PREPARE -> "prepare failed: " + cause;
                case FINISH -> "post-checks failed: " + cause;
                case REVERT ->
                    "returning " + run.target + " to " + run.fromRevision + " failed: " + cause;
                default -> step.describe() + " failed: " + cause;
              },
          drift);
    }
  }

  /** The weight of the WEIGHT step at {@code index}: the plan's setWeight it was compiled from. */
  private int weightAt(int index) {
    int n = 0;
    int first = index;
    for (int i = index - 1; i >= 0; i--) {
      Step s = run.steps.get(i);
      if (s.kind() == Step.Kind.PREPARE) {
        first = i;
        break;
      }
      if (s.kind() == Step.Kind.WEIGHT) {
        n++;
      }
    }
    for (UpgradePlan.CanaryStep s : steps(run.plan)) {
      if (s.setWeight() != null) {
        if (n == 0) {
          return s.setWeight();
        }
        n--;
      }
    }
    throw new IllegalStateException("no setWeight for step " + index + " after " + first);
  }

  private void prepare() {
    run.message = "marking " + run.target + " for the canary";
    DeploymentActivities.Prepared prepared =
        stubs
            .canaryQuick()
            .prepare(
                new CanaryActivities.PrepareRequest(
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
    weight = 0;
  }

  private void setWeight(int to, boolean verifyOnly) {
    int canary = canaryReplicas(to, replicas);
    boolean retry = run.retrying;
    run.retrying = false;
    failed = null;
    run.message =
        (verifyOnly ? "analysis: checking the canary at " : "canary to ")
            + to
            + "%: "
            + canary
            + " of "
            + replicas
            + " pods on the new version, "
            + (replicas - canary)
            + " on "
            + run.fromRevision;
    Duration timeout =
        run.plan
            .effectiveUnitTimeout()
            .multipliedBy(Math.max(1, Math.abs(canary - canaryReplicas(weight, replicas))));
    CanaryActivities.Weighted now;
    try {
      now =
          stubs
              .canaryWait(timeout)
              .setWeight(
                  new CanaryActivities.WeightRequest(
                      run.cluster,
                      run.target,
                      run.runId(),
                      resolvedChange(),
                      expected,
                      canary,
                      replicas - canary,
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
    weight = to;
    seen(now);
    if (run.plan.health() != null) {
      for (UnitSnapshot pod : now.units()) {
        if (pod.ready() && isCanary(pod) && (verifyOnly || healthy.add(pod.name()))) {
          healthy.add(pod.name());
          checkHealth(pod.name());
        }
      }
    }
    LOG.info("{}: canary at {}% ({} of {} pods)", run.target, to, canary, replicas);
  }

  private boolean isCanary(UnitSnapshot pod) {
    return canaryRevision != null && canaryRevision.equals(pod.revision());
  }

  private void pauseFor(Step step) {
    Duration duration = Durations.positive("pause.duration", pauseDurationAt(run.index));
    long until = Workflow.currentTimeMillis() + duration.toMillis();
    run.message =
        "canary at "
            + weight
            + "%: pausing "
            + step.subject().split(" ")[0]
            + ", until "
            + Instant.ofEpochMilli(until)
            + "; `lockstep rollback "
            + run.target
            + run.clusterFlag()
            + "` ends it early";
    story.event("CanaryPaused", false, run.message);
    // A durable timer: a worker lost meanwhile costs nothing; a cancel or rollback ends it early.
    Workflow.await(duration, () -> run.cancelRequested || run.rollbackRequested);
  }

  /** The duration of the PAUSE_FOR step at {@code index}, from the plan's steps. */
  private String pauseDurationAt(int index) {
    int n = 0;
    for (int i = index - 1; i >= 0; i--) {
      Step s = run.steps.get(i);
      if (s.kind() == Step.Kind.PREPARE) {
        break;
      }
      if (s.kind() == Step.Kind.PAUSE_FOR) {
        n++;
      }
    }
    for (UpgradePlan.CanaryStep s : steps(run.plan)) {
      if (s.pause() != null && s.pause().duration() != null) {
        if (n == 0) {
          return s.pause().duration();
        }
        n--;
      }
    }
    throw new IllegalStateException("no timed pause for step " + index);
  }

  private void analysis() {
    // The canary's pods again: still there, Ready, not crash-looping, and healthy now.
    setWeight(weight, true);
  }

  private void checkHealth(String pod) {
    try {
      DeploymentRollingStrategy.checkHealth(run, stubs, healthy, pod);
    } catch (ActivityFailure e) {
      failed = "the new version failed: " + Run.cause(e);
      throw e;
    }
  }

  private void promote() {
    boolean retry = run.retrying;
    run.retrying = false;
    failed = null;
    run.message =
        "promoting: "
            + run.target
            + " rolls to the new version with its own strategy, then the canary goes";
    Duration timeout = run.plan.effectiveUnitTimeout().multipliedBy(replicas + 1L);
    CanaryActivities.Weighted now;
    try {
      now =
          stubs
              .canaryWait(timeout)
              .promote(
                  new CanaryActivities.PromoteRequest(
                      run.cluster,
                      run.target,
                      run.runId(),
                      resolvedChange(),
                      expected,
                      replicas,
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
    weight = 100;
    run.toRevision = now.stableRevision();
    seen(now);
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
    run.message =
        run.returnReason
            + "; removing the canary and returning "
            + run.target
            + " to "
            + run.fromRevision;
    story.event("RollingBack", true, run.message);
    CanaryActivities.Weighted back =
        stubs
            .canarySettle()
            .revert(
                new CanaryActivities.RevertRequest(
                    run.cluster,
                    run.target,
                    run.runId(),
                    run.fromRevision,
                    replicas,
                    snapshot.updateStrategy(),
                    stubs.settleTimeout().getSeconds()));
    weight = 0;
    healthy.clear();
    traffic = back.traffic();
    canaryRevision = null;
    refresh(back.units(), true);
  }

  @Override
  public void release() {
    stubs
        .canarySettle()
        .release(
            new CanaryActivities.ReleaseRequest(
                run.cluster, run.target, run.runId(), expected, replicas));
    traffic = null;
  }

  @Override
  public String completed() {
    return "all " + replicas + " pods of " + run.target + " on " + run.toRevision + ", no canary";
  }

  @Override
  public String atGate() {
    return "canary at "
        + weight
        + "% ("
        + canaryReplicas(weight, replicas)
        + " of "
        + replicas
        + " pods on the new version"
        + (traffic == null
            ? ""
            : "; Service "
                + traffic.service()
                + ": "
                + traffic.canary()
                + " of "
                + (traffic.stable() + traffic.canary())
                + " Ready endpoints")
        + ")";
  }

  @Override
  public String leftAsIs() {
    return "the canary removed, its replicas given back, its template as it was";
  }

  @Override
  public UpgradeStatus.Traffic traffic() {
    if (traffic == null) {
      return null;
    }
    return new UpgradeStatus.Traffic(
        traffic.service(),
        List.of(
            new UpgradeStatus.Share("stable", run.fromRevision, traffic.stable()),
            new UpgradeStatus.Share("canary", canaryRevision, traffic.canary())));
  }

  private void seen(CanaryActivities.Weighted now) {
    expected = now.stable();
    traffic = now.traffic();
    if (now.canaryRevision() != null) {
      canaryRevision = now.canaryRevision();
      run.toRevision = run.toRevision == null ? canaryRevision : run.toRevision;
    }
    refresh(now.units(), false);
  }

  /** The pods of both Deployments as seen, one line each: canary pods first. */
  private void refresh(List<UnitSnapshot> seen, boolean returned) {
    Map<String, UnitStatus> before = new LinkedHashMap<>();
    run.units.forEach(u -> before.put(u.name(), u));
    run.units.clear();
    int ordinal = 0;
    for (UnitSnapshot pod : seen) {
      UnitStatus was = before.get(pod.name());
      boolean isNew =
          !returned
              && pod.revision() != null
              && (pod.revision().equals(canaryRevision) || pod.revision().equals(run.toRevision));
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
        message =
            pod.ready()
                ? (pod.revision().equals(canaryRevision) ? "canary, Ready" : "upgrade completed")
                : "starting on the new version";
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
    return DeploymentRollingStrategy.resolvedChange(run.plan, snapshot);
  }
}
