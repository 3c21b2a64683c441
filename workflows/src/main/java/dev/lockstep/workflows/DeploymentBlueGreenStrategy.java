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
 * A Deployment by blue-green (DESIGN.md, "Deployments", blueGreen): {@link Step.Kind#PREVIEW} (a
 * preview Deployment {@code <name>-preview} with the new template at the user's replicas and a
 * preview Service selecting only its pods, every pod Ready and healthy), the plan's test hook
 * against the preview Service, a gate, {@link Step.Kind#SWITCH} (the active Service to the
 * preview's pods), {@link Step.Kind#PROMOTE} (the user's Deployment rolls to the new template while
 * it takes no traffic), {@link Step.Kind#SWITCH} back to it, a durable timer of {@code
 * scaleDownDelay}, then {@link Step.Kind#SCALE_DOWN} (the preview goes, the Service's selector
 * exactly as found). Going back from any point returns the Service first when the user's Deployment
 * is still as found (instant), and the user's Deployment exactly as found, the preview removed.
 */
final class DeploymentBlueGreenStrategy implements TargetStrategy {
  private static final Logger LOG = Workflow.getLogger(DeploymentBlueGreenStrategy.class);

  private final Run run;
  private final Story story;
  private final Stubs stubs;
  private final TargetSnapshot snapshot;
  private final int replicas;
  private final ClusterActivities.Origin origin;

  /** What the user's Deployment is while the run holds it, from prepare on. */
  private DeploymentActivities.Expected expected;

  /** The active Service as found, from prepare on. */
  private BlueGreenActivities.Active active;

  /** Where the active Service sent traffic when last seen. */
  private BlueGreenActivities.ServiceTraffic traffic;

  private String previewRevision;

  /** Whether the active Service points at the preview now. */
  private boolean switched;

  private final Set<String> healthy = new HashSet<>();
  private String failed;

  DeploymentBlueGreenStrategy(Run run, Story story, Stubs stubs, TargetSnapshot snapshot) {
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

  static UpgradePlan.BlueGreen blueGreen(UpgradePlan plan) {
    UpgradePlan.BlueGreen bg = plan.strategy() == null ? null : plan.strategy().blueGreen();
    return bg == null ? new UpgradePlan.BlueGreen(null) : bg;
  }

  /** The forward steps for a Deployment of {@code replicas}: pure, so {@code plan} prints them. */
  static List<Step> compile(UpgradePlan plan, int replicas, Start start) {
    UpgradePlan.Hooks hooks = plan.effectiveHooks();
    String name = Target.parse(plan.target(), "default").name();
    List<Step> steps = new ArrayList<>();
    if (start == Start.FRESH && hooks.backup() != null) {
      steps.add(Step.of(Step.Kind.BACKUP, "backup"));
    }
    steps.add(Step.of(Step.Kind.PREPARE, ""));
    steps.add(
        Step.of(
            Step.Kind.PREVIEW,
            BlueGreenActivities.previewName(name)
                + " ("
                + replicas
                + " pods on the new version, behind the preview Service)"));
    if (hooks.migrate() != null) {
      steps.add(Step.of(Step.Kind.MIGRATE, "migrate"));
    }
    if (hooks.test() != null) {
      steps.add(Step.of(Step.Kind.TEST, "test (against the preview Service)"));
    }
    if (plan.effectiveGate() != UpgradePlan.Gate.NONE) {
      steps.add(Step.of(Step.Kind.GATE, "before the switch"));
    }
    steps.add(Step.of(Step.Kind.SWITCH, "the Service to the preview's pods"));
    steps.add(
        Step.of(
            Step.Kind.PROMOTE,
            name + " to the new version (all " + replicas + " pods, no traffic)"));
    steps.add(Step.of(Step.Kind.SWITCH, "the Service back to " + name));
    steps.add(
        Step.of(
            Step.Kind.PAUSE_FOR,
            blueGreen(plan).effectiveScaleDownDelay() + " before the preview goes"));
    steps.add(Step.of(Step.Kind.SCALE_DOWN, "the preview Deployment and Service"));
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
        Step.Kind.PREVIEW,
        Step.Kind.SWITCH,
        Step.Kind.PROMOTE,
        Step.Kind.PAUSE_FOR,
        Step.Kind.SCALE_DOWN,
        Step.Kind.FINISH,
        Step.Kind.REVERT,
        Step.Kind.RELEASE);
  }

  @Override
  public void execute(Step step) {
    try {
      switch (step.kind()) {
        case PREPARE -> prepare();
        case PREVIEW -> preview();
        case SWITCH -> switchTraffic(!switchedBefore(run.index));
        case PROMOTE -> promote();
        case PAUSE_FOR -> scaleDownDelay();
        case SCALE_DOWN -> scaleDown();
        case FINISH -> finish();
        case REVERT -> revert();
        case RELEASE -> release();
        default -> throw new IllegalArgumentException("not a blue-green step: " + step.kind());
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
                case PREVIEW, SWITCH, PROMOTE ->
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

  /** Whether a SWITCH step ran since the last prepare before {@code index}: this one goes back. */
  private boolean switchedBefore(int index) {
    for (int i = index - 1; i >= 0; i--) {
      Step s = run.steps.get(i);
      if (s.kind() == Step.Kind.PREPARE) {
        return false;
      }
      if (s.kind() == Step.Kind.SWITCH) {
        return true;
      }
    }
    return false;
  }

  private void prepare() {
    run.message = "marking " + run.target + " and its Service for the blue-green";
    BlueGreenActivities.Marked marked =
        stubs
            .blueGreenQuick()
            .prepare(
                new BlueGreenActivities.PrepareRequest(
                    run.cluster,
                    run.target,
                    resolvedChange(),
                    run.fromRevision,
                    run.runId(),
                    origin,
                    blueGreen(run.plan).previewService(),
                    story.pending()));
    if (marked.told()) {
      story.told();
    }
    story.tellStart();
    expected = marked.expected();
    active = marked.active();
  }

  private BlueGreenActivities.StepRequest stepRequest(Duration timeout, boolean retry) {
    return new BlueGreenActivities.StepRequest(
        run.cluster,
        run.target,
        run.runId(),
        resolvedChange(),
        expected,
        active,
        replicas,
        timeout.getSeconds(),
        run.plan.effectiveCrashLoopRestarts(),
        retry);
  }

  private void preview() {
    boolean retry = run.retrying;
    run.retrying = false;
    failed = null;
    run.message =
        "preview: "
            + replicas
            + " pods on the new version in "
            + BlueGreenActivities.previewName(run.target.name())
            + ", behind Service "
            + active.previewService()
            + "; Service "
            + active.service()
            + " keeps to "
            + run.fromRevision;
    Duration timeout = run.plan.effectiveUnitTimeout().multipliedBy(replicas + 1L);
    BlueGreenActivities.Switched now;
    try {
      now = stubs.blueGreenWait(timeout).preview(stepRequest(timeout, retry));
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      if (Run.isType(e, ClusterActivities.FAILURE_UNIT_FAILED)) {
        failed = "the new version failed: " + Run.cause(e);
      }
      throw e;
    }
    seen(now);
    if (run.plan.health() != null) {
      for (UnitSnapshot pod : now.units()) {
        if (pod.ready() && isPreview(pod) && healthy.add(pod.name())) {
          checkHealth(pod.name());
        }
      }
    }
    LOG.info("{}: preview of {} pods Ready", run.target, replicas);
  }

  private boolean isPreview(UnitSnapshot pod) {
    return previewRevision != null && previewRevision.equals(pod.revision());
  }

  private void checkHealth(String pod) {
    try {
      DeploymentRollingStrategy.checkHealth(run, stubs, healthy, pod);
    } catch (ActivityFailure e) {
      failed = "the new version failed: " + Run.cause(e);
      throw e;
    }
  }

  private void switchTraffic(boolean toPreview) {
    failed = null;
    run.message =
        toPreview
            ? "switching Service " + active.service() + " to the preview's pods"
            : "switching Service " + active.service() + " back to " + run.target.name();
    Duration timeout = run.plan.effectiveUnitTimeout();
    BlueGreenActivities.Switched now =
        stubs
            .blueGreenWait(timeout)
            .switchTraffic(
                new BlueGreenActivities.SwitchRequest(
                    run.cluster,
                    run.target,
                    run.runId(),
                    expected,
                    active,
                    toPreview,
                    timeout.getSeconds()));
    switched = toPreview;
    story.event(
        "TrafficSwitched",
        false,
        "Service "
            + active.service()
            + (toPreview ? " now sends traffic to the preview" : " back on " + run.target.name()));
    seen(now);
  }

  private void promote() {
    boolean retry = run.retrying;
    run.retrying = false;
    failed = null;
    run.message =
        run.target
            + " rolls to the new version with its own strategy while the preview takes the"
            + " traffic";
    Duration timeout = run.plan.effectiveUnitTimeout().multipliedBy(replicas + 1L);
    BlueGreenActivities.Switched now;
    try {
      now = stubs.blueGreenWait(timeout).promote(stepRequest(timeout, retry));
    } catch (ActivityFailure e) {
      Stubs.rethrowCancellation(e);
      if (Run.isType(e, ClusterActivities.FAILURE_UNIT_FAILED)) {
        failed = "the new version failed: " + Run.cause(e);
      }
      throw e;
    }
    run.toRevision = now.stableRevision();
    seen(now);
  }

  private void scaleDownDelay() {
    Duration delay =
        Durations.positive(
            "strategy.blueGreen.scaleDownDelay", blueGreen(run.plan).effectiveScaleDownDelay());
    long until = Workflow.currentTimeMillis() + delay.toMillis();
    run.message =
        "every pod of "
            + run.target
            + " on the new version and taking the traffic; the preview goes at "
            + Instant.ofEpochMilli(until)
            + " (scaleDownDelay "
            + blueGreen(run.plan).effectiveScaleDownDelay()
            + ")";
    story.event("ScaleDownDelay", false, run.message);
    // A durable timer: a worker lost meanwhile costs nothing; a cancel or rollback ends it early.
    Workflow.await(delay, () -> run.cancelRequested || run.rollbackRequested);
  }

  private void scaleDown() {
    run.message = "removing the preview; Service " + active.service() + " as found";
    Duration timeout = run.plan.effectiveUnitTimeout().multipliedBy(replicas + 1L);
    BlueGreenActivities.Switched now =
        stubs.blueGreenWait(timeout).scaleDown(stepRequest(timeout, false));
    previewRevision = null;
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
            + "; "
            + (switched ? "switching Service " + active.service() + " back, " : "")
            + "removing the preview and returning "
            + run.target
            + " to "
            + run.fromRevision;
    story.event("RollingBack", true, run.message);
    BlueGreenActivities.Switched back =
        stubs
            .blueGreenSettle()
            .revert(
                new BlueGreenActivities.RevertRequest(
                    run.cluster,
                    run.target,
                    run.runId(),
                    run.fromRevision,
                    replicas,
                    snapshot.updateStrategy(),
                    active,
                    stubs.settleTimeout().getSeconds()));
    healthy.clear();
    switched = false;
    traffic = back.traffic();
    previewRevision = null;
    refresh(back.units(), true);
  }

  @Override
  public void release() {
    stubs
        .blueGreenSettle()
        .release(
            new BlueGreenActivities.ReleaseRequest(run.cluster, run.target, run.runId(), active));
    traffic = null;
  }

  @Override
  public String completed() {
    return "all "
        + replicas
        + " pods of "
        + run.target
        + " on "
        + run.toRevision
        + ", its Service as found, no preview";
  }

  @Override
  public String atGate() {
    return "preview of "
        + replicas
        + " pods Ready on the new version behind Service "
        + (active == null ? "" : active.previewService())
        + (traffic == null
            ? ""
            : "; Service "
                + traffic.service()
                + ": "
                + traffic.active()
                + " Ready endpoints on "
                + run.fromRevision
                + ", "
                + traffic.preview()
                + " on the preview");
  }

  @Override
  public String leftAsIs() {
    return "the run's marks removed; the Service and the preview as they were unless "
        + run.target
        + " had every pod Ready";
  }

  @Override
  public String hookService() {
    return active == null || previewRevision == null ? null : active.previewService();
  }

  @Override
  public UpgradeStatus.Traffic traffic() {
    if (traffic == null) {
      return null;
    }
    return new UpgradeStatus.Traffic(
        traffic.service(),
        List.of(
            new UpgradeStatus.Share(
                "active",
                run.toRevision != null ? run.toRevision : run.fromRevision,
                traffic.active()),
            new UpgradeStatus.Share("preview", previewRevision, traffic.preview())));
  }

  private void seen(BlueGreenActivities.Switched now) {
    expected = now.stable();
    traffic = now.traffic();
    if (now.previewRevision() != null) {
      previewRevision = now.previewRevision();
    }
    refresh(now.units(), false);
  }

  /** The pods of both Deployments as seen, one line each: the preview's first. */
  private void refresh(List<UnitSnapshot> seen, boolean returned) {
    Map<String, UnitStatus> before = new LinkedHashMap<>();
    run.units.forEach(u -> before.put(u.name(), u));
    run.units.clear();
    int ordinal = 0;
    for (UnitSnapshot pod : seen) {
      UnitStatus was = before.get(pod.name());
      boolean preview = isPreview(pod);
      boolean isNew =
          !returned && pod.revision() != null && (preview || pod.revision().equals(run.toRevision));
      UnitState state;
      String message;
      if (returned) {
        state = UnitState.ROLLED_BACK;
        message = "on " + run.fromRevision;
      } else if (isNew) {
        state =
            !pod.ready()
                ? UnitState.UPGRADING
                : run.plan.health() != null && preview && !healthy.contains(pod.name())
                    ? UnitState.VERIFYING
                    : UnitState.UPGRADED;
        message =
            pod.ready()
                ? (preview ? "preview, Ready" : "upgrade completed")
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
