package dev.lockstep.workflows;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A scripted cluster for Deployment runs: {@code demo/deployment/web} with {@code replicas} pods on
 * ReplicaSet {@code web-old} moving to {@code web-new}, as the Deployment controller would move
 * them (the new ReplicaSet reaches each stretch's count, the old one keeps the rest). StatefulSet
 * targets are {@link FakeCluster}'s. Records every call in order.
 */
class FakeDeployment extends FakeCluster
    implements DeploymentActivities, CanaryActivities, BlueGreenActivities {
  static final String TARGET = "demo/deployment/web";
  static final String OLD = "web-old";
  static final String NEW = "web-new";

  private final int pods;

  /** How many pods are Ready on the new version. */
  volatile int onNew;

  /** The stretch that reaches this count fails: the new version crash-loops. */
  volatile int failAt;

  /** Before the stretch that reaches this count, someone else scales the Deployment to 6. */
  volatile int driftAt;

  /** Paused by the run (spec.paused). */
  volatile boolean paused;

  /** Marked by the run. */
  volatile String marked;

  /** The canary's replicas; -1 while there is no canary. */
  volatile int canary = -1;

  /** The stable Deployment's replicas (a canary run scales it). */
  volatile int stable;

  /** A canary weight whose canary count reaches this crash-loops. */
  volatile int canaryFailAt;

  /** Before the weight whose canary count reaches this, someone else changes the template. */
  volatile int canaryDriftAt;

  static final String CANARY = "web-canary-5d8f";

  FakeDeployment(int pods) {
    super(3);
    this.pods = pods;
    this.stable = pods;
  }

  private List<ClusterActivities.UnitSnapshot> units() {
    List<ClusterActivities.UnitSnapshot> units = new ArrayList<>();
    for (int i = 0; i < onNew; i++) {
      units.add(new ClusterActivities.UnitSnapshot("web-new-" + i, i, NEW, true, 0));
    }
    for (int i = onNew; i < pods; i++) {
      units.add(new ClusterActivities.UnitSnapshot("web-old-" + i, i, OLD, true, 0));
    }
    return units;
  }

  @Override
  public TargetSnapshot inspect(InspectRequest request) {
    if (!Target.DEPLOYMENT.equals(request.target().kind())) {
      return super.inspect(request);
    }
    calls.add("inspect");
    return new TargetSnapshot(
        true,
        problems,
        pods,
        "RollingUpdate",
        null,
        OLD,
        OLD,
        1,
        1,
        Map.of("web", "nginx:1.25"),
        Map.of("web", "nginx:1.26"),
        true,
        marked,
        null,
        units(),
        checks,
        List.of("spec.containers[web].image: nginx:1.25 -> nginx:1.26"),
        0,
        "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":0}}",
        Map.of(),
        null);
  }

  @Override
  public Prepared prepare(DeploymentActivities.PrepareRequest request) {
    calls.add("prepare " + request.change().images());
    marked = request.runId();
    paused = true;
    return new Prepared(
        new Expected("sha256:new", pods, "{\"type\":\"RollingUpdate\"}"),
        !request.events().isEmpty());
  }

  @Override
  public Progress roll(RollRequest request) {
    calls.add("roll to " + request.count() + (request.last() ? "" : " and pause"));
    if (request.count() == driftAt) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "spec.replicas " + pods + " -> 6", FAILURE_TARGET_CHANGED);
    }
    if (request.count() == failAt) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "pod web-new-0 is crash-looping (3 restarts)", FAILURE_UNIT_FAILED);
    }
    onNew = request.count();
    paused = !request.last();
    return new Progress(NEW, onNew, units(), false);
  }

  @Override
  public Progress finish(DeploymentActivities.FinishRequest request) {
    calls.add("finish on " + request.toRevision());
    marked = null;
    if (request.end() != null) {
      record(request.end());
    }
    return new Progress(NEW, onNew, units(), request.end() != null);
  }

  @Override
  public Progress revert(DeploymentActivities.RevertRequest request) {
    calls.add("revert to " + request.fromRevision() + " with " + request.replicas() + " replicas");
    onNew = 0;
    paused = false;
    marked = null;
    return new Progress(OLD, 0, units(), false);
  }

  @Override
  public void release(DeploymentActivities.ReleaseRequest request) {
    calls.add("release");
    marked = null;
  }

  // ---- the canary ------------------------------------------------------------------------------

  private List<ClusterActivities.UnitSnapshot> canaryUnits() {
    List<ClusterActivities.UnitSnapshot> units = new ArrayList<>();
    for (int i = 0; i < Math.max(0, canary); i++) {
      units.add(new ClusterActivities.UnitSnapshot(CANARY + "-" + i, i, CANARY, true, 0));
    }
    for (int i = 0; i < stable; i++) {
      boolean isNew = i < onNew;
      units.add(
          new ClusterActivities.UnitSnapshot(
              (isNew ? "web-new-" : "web-old-") + i, i, isNew ? NEW : OLD, true, 0));
    }
    return units;
  }

  private Weighted weighted(String stableRevision) {
    return new Weighted(
        new Expected(onNew > 0 ? "sha256:new" : "sha256:old", stable, "{}"),
        stableRevision,
        canary < 0 ? null : CANARY,
        canaryUnits(),
        new Traffic("web", stable, Math.max(0, canary)));
  }

  @Override
  public Prepared prepare(CanaryActivities.PrepareRequest request) {
    calls.add("mark for the canary");
    marked = request.runId();
    return new Prepared(new Expected("sha256:old", pods, "{}"), !request.events().isEmpty());
  }

  @Override
  public Weighted setWeight(WeightRequest request) {
    calls.add(
        "weight " + request.canaryReplicas() + " canary, " + request.stableReplicas() + " stable");
    if (request.canaryReplicas() == canaryDriftAt) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "spec.template is not the one this run wrote", FAILURE_TARGET_CHANGED);
    }
    if (request.canaryReplicas() == canaryFailAt) {
      canary = request.canaryReplicas();
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "pod " + CANARY + "-0 is crash-looping (3 restarts)", FAILURE_UNIT_FAILED);
    }
    canary = request.canaryReplicas();
    stable = request.stableReplicas();
    return weighted(OLD);
  }

  @Override
  public Weighted promote(PromoteRequest request) {
    calls.add("promote to " + request.replicas());
    stable = request.replicas();
    onNew = request.replicas();
    canary = -1;
    return weighted(NEW);
  }

  @Override
  public Weighted revert(CanaryActivities.RevertRequest request) {
    calls.add(
        "revert to "
            + request.fromRevision()
            + " with "
            + request.replicas()
            + " replicas, no canary");
    stable = request.replicas();
    onNew = 0;
    canary = -1;
    marked = null;
    return weighted(OLD);
  }

  @Override
  public void release(CanaryActivities.ReleaseRequest request) {
    calls.add("release the canary");
    stable = request.replicas();
    canary = -1;
    marked = null;
  }

  // ---- the blue-green --------------------------------------------------------------------------

  static final String PREVIEW = "web-preview-7c9d";

  /** The preview's pods; -1 while there is no preview. */
  volatile int preview = -1;

  /** Where the Service sends traffic: "found", "fenced", "preview" or "back". */
  volatile String service = "found";

  /** The preview crash-loops. */
  volatile boolean previewFails;

  /** Someone else changes the Service's selector before the switch to the preview. */
  volatile boolean serviceDrift;

  /** Someone else scales the user's Deployment while it is rolled behind the preview. */
  volatile boolean deploymentDrift;

  private static final Active ACTIVE =
      new Active("web", Map.of("app", "web"), "[{\"port\":80}]", "web-preview", "old");

  private List<ClusterActivities.UnitSnapshot> blueGreenUnits() {
    List<ClusterActivities.UnitSnapshot> units = new ArrayList<>();
    for (int i = 0; i < Math.max(0, preview); i++) {
      units.add(new ClusterActivities.UnitSnapshot(PREVIEW + "-" + i, i, PREVIEW, true, 0));
    }
    for (int i = 0; i < pods; i++) {
      boolean isNew = i < onNew;
      units.add(
          new ClusterActivities.UnitSnapshot(
              (isNew ? "web-new-" : "web-old-") + i, i, isNew ? NEW : OLD, true, 0));
    }
    return units;
  }

  private Switched switched() {
    int toPreview = "preview".equals(service) ? Math.max(0, preview) : 0;
    int toActive =
        "preview".equals(service) ? 0 : pods + ("found".equals(service) ? Math.max(0, preview) : 0);
    return new Switched(
        new Expected(onNew > 0 ? "sha256:new" : "sha256:old", pods, "{}"),
        onNew > 0 ? NEW : OLD,
        preview < 0 ? null : PREVIEW,
        blueGreenUnits(),
        new ServiceTraffic("web", toActive, toPreview));
  }

  @Override
  public Marked prepare(BlueGreenActivities.PrepareRequest request) {
    calls.add("mark for the blue-green");
    marked = request.runId();
    return new Marked(new Expected("sha256:old", pods, "{}"), ACTIVE, !request.events().isEmpty());
  }

  @Override
  public Switched preview(StepRequest request) {
    calls.add("preview " + request.replicas() + " pods");
    service = "fenced";
    preview = request.replicas();
    if (previewFails) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "preview pod " + PREVIEW + "-0 is crash-looping (3 restarts)", FAILURE_UNIT_FAILED);
    }
    return switched();
  }

  @Override
  public Switched switchTraffic(SwitchRequest request) {
    calls.add(request.toPreview() ? "switch to the preview" : "switch back");
    if (request.toPreview() && serviceDrift) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "service web: spec.selector {app=web, pod-template-hash=old} -> {app=other}",
          FAILURE_TARGET_CHANGED);
    }
    service = request.toPreview() ? "preview" : "back";
    return switched();
  }

  @Override
  public Switched promote(StepRequest request) {
    calls.add("promote " + request.replicas() + " pods, no traffic");
    if (deploymentDrift) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "spec.replicas " + pods + " -> 6", FAILURE_TARGET_CHANGED);
    }
    onNew = pods;
    return switched();
  }

  @Override
  public Switched scaleDown(StepRequest request) {
    calls.add("scale down the preview");
    preview = -1;
    service = "found";
    return switched();
  }

  @Override
  public Switched revert(BlueGreenActivities.RevertRequest request) {
    calls.add(
        "revert to "
            + request.fromRevision()
            + " with "
            + request.replicas()
            + " replicas, Service as found, no preview");
    onNew = 0;
    preview = -1;
    service = "found";
    marked = null;
    return switched();
  }

  @Override
  public void release(BlueGreenActivities.ReleaseRequest request) {
    calls.add("release the blue-green");
    marked = null;
  }
}
