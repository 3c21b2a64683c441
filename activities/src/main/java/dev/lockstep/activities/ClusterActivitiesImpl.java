package dev.lockstep.activities;

import dev.lockstep.workflows.BlueGreenActivities;
import dev.lockstep.workflows.CanaryActivities;
import dev.lockstep.workflows.ClusterActivities;
import dev.lockstep.workflows.DeploymentActivities;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.client.KubernetesClient;

/**
 * The cluster side of an upgrade, with fabric8. Every write is computed from what the cluster holds
 * now and made only when it differs, so a retry after a crash at any line is safe; waits run on
 * {@link ClusterWatch}'s shared informers and heartbeat their progress.
 *
 * <p>This is the one class registered with Temporal; each activity is carried out by the class that
 * owns its concern, so each can be read at once: {@link Inspection} (inspect, revisions), {@link
 * StatefulSetActions} (prepare, scale, adopt, release), {@link UnitUpgrade} (one unit and its drift
 * check), {@link Finishing} (finish, revert and the settle wait), {@link UnitHealth}, {@link
 * HookJobs} and {@link Records} (Events and revision notes), on the helpers of {@link StatefulSets}
 * and {@link Marks}; a Deployment's inspect, revisions and writes are {@link Deployments}'.
 */
public final class ClusterActivitiesImpl
    implements ClusterActivities, DeploymentActivities, CanaryActivities, BlueGreenActivities {
  /**
   * What an attempt at one unit keeps in its heartbeat, so that a retry after a worker dies keeps
   * the same deadline and the same restart baseline.
   */
  @com.fasterxml.jackson.annotation.JsonIgnoreProperties(ignoreUnknown = true)
  public record UnitProgress(
      long startedAt,
      String podUid,
      int baselineRestarts,
      dev.lockstep.workflows.PodState pod,
      java.util.List<dev.lockstep.workflows.PodState> pods) {

    public UnitProgress(long startedAt, String podUid, int baselineRestarts) {
      this(startedAt, podUid, baselineRestarts, null, null);
    }

    /**
     * The same progress, with the unit's pod and every pod of the target as they were last seen
     * (for {@code lockstep status}).
     */
    UnitProgress seeing(
        dev.lockstep.workflows.PodState seen, java.util.List<dev.lockstep.workflows.PodState> all) {
      return new UnitProgress(startedAt, podUid, baselineRestarts, seen, all);
    }
  }

  /** What a health check keeps in its heartbeat: when it started, so a retry keeps the deadline. */
  public record HealthProgress(long startedAt) {}

  private final Inspection inspection;
  private final StatefulSetActions actions;
  private final UnitUpgrade units;
  private final Finishing finishing;
  private final UnitHealth health;
  private final HookJobs hooks;
  private final Records records;
  private final Deployments deployments;
  private final Canaries canaries;
  private final BlueGreens blueGreens;

  private WorkerNotify notify = WorkerNotify.NONE;

  /**
   * These activities, telling every run whose plan has no {@code notify:} the worker's {@code
   * defaults} (with the target it inspects).
   */
  public ClusterActivitiesImpl(KubernetesClient client, ClusterWatch watch, WorkerNotify defaults) {
    this(client, watch);
    this.notify = defaults;
  }

  public ClusterActivitiesImpl(KubernetesClient client, ClusterWatch watch) {
    StatefulSets sets = new StatefulSets(client, watch);
    this.records = new Records(client, sets);
    this.inspection = new Inspection(client, sets);
    this.actions = new StatefulSetActions(client, sets, records);
    this.units = new UnitUpgrade(client, watch, sets, records);
    this.finishing = new Finishing(client, sets, records);
    this.health = new UnitHealth(client);
    this.hooks = new HookJobs(client);
    this.deployments = new Deployments(client, records, watch);
    this.canaries = new Canaries(client, deployments);
    this.blueGreens = new BlueGreens(client, deployments, canaries);
    records.deployments(deployments);
  }

  /**
   * Waits, at most {@code timeout}, for the Events that steps handed over to be told after they
   * returned (a unit's {@code UnitUpgraded}); returns whether all were. A worker that stops calls
   * it so that no run's story is cut short; a test calls it before it counts the writes of what
   * comes next.
   */
  public boolean awaitToldEvents(java.time.Duration timeout) throws InterruptedException {
    return records.awaitTold(timeout);
  }

  private static boolean isDeployment(Target target) {
    return Target.DEPLOYMENT.equals(target.kind());
  }

  @Override
  public TargetSnapshot inspect(InspectRequest request) {
    TargetSnapshot found =
        isDeployment(request.target()) ? deployments.inspect(request) : inspection.inspect(request);
    return notify.recorded() == null ? found : found.withWorkerNotify(notify.recorded());
  }

  @Override
  public RevisionList revisions(RevisionsRequest request) {
    return isDeployment(request.target())
        ? deployments.revisions(request)
        : inspection.revisions(request);
  }

  @Override
  public PrepareResult prepare(ClusterActivities.PrepareRequest request) {
    return actions.prepare(request);
  }

  @Override
  public UnitResult upgradeUnit(UnitRequest request) {
    return units.upgradeUnit(request);
  }

  @Override
  public FinishResult scale(ScaleRequest request) {
    return actions.scale(request);
  }

  @Override
  public void adopt(AdoptRequest request) {
    actions.adopt(request);
  }

  @Override
  public void release(ClusterActivities.ReleaseRequest request) {
    actions.release(request);
  }

  @Override
  public FinishResult finish(ClusterActivities.FinishRequest request) {
    return finishing.finish(request);
  }

  @Override
  public FinishResult revert(ClusterActivities.RevertRequest request) {
    return finishing.revert(request);
  }

  @Override
  public void checkHealth(HealthRequest request) {
    health.checkHealth(request);
  }

  @Override
  public HookResult runHook(HookRequest request) {
    return hooks.run(request);
  }

  @Override
  public void record(RecordRequest request) {
    records.record(request);
  }

  @Override
  public Prepared prepare(DeploymentActivities.PrepareRequest request) {
    return deployments.prepare(request);
  }

  @Override
  public Progress roll(RollRequest request) {
    return deployments.roll(request);
  }

  @Override
  public Progress finish(DeploymentActivities.FinishRequest request) {
    return deployments.finish(request);
  }

  @Override
  public Progress revert(DeploymentActivities.RevertRequest request) {
    return deployments.revert(request);
  }

  @Override
  public void release(DeploymentActivities.ReleaseRequest request) {
    deployments.release(request);
  }

  @Override
  public Prepared prepare(CanaryActivities.PrepareRequest request) {
    return canaries.prepare(request);
  }

  @Override
  public Weighted setWeight(WeightRequest request) {
    return canaries.setWeight(request);
  }

  @Override
  public Weighted promote(PromoteRequest request) {
    return canaries.promote(request);
  }

  @Override
  public Weighted revert(CanaryActivities.RevertRequest request) {
    return canaries.revert(request);
  }

  @Override
  public void release(CanaryActivities.ReleaseRequest request) {
    canaries.release(request);
  }

  @Override
  public Marked prepare(BlueGreenActivities.PrepareRequest request) {
    return blueGreens.prepare(request);
  }

  @Override
  public Switched preview(StepRequest request) {
    return blueGreens.preview(request);
  }

  @Override
  public Switched switchTraffic(SwitchRequest request) {
    return blueGreens.switchTraffic(request);
  }

  @Override
  public Switched promote(StepRequest request) {
    return blueGreens.promote(request);
  }

  @Override
  public Switched scaleDown(StepRequest request) {
    return blueGreens.scaleDown(request);
  }

  @Override
  public Switched revert(BlueGreenActivities.RevertRequest request) {
    return blueGreens.revert(request);
  }

  @Override
  public void release(BlueGreenActivities.ReleaseRequest request) {
    blueGreens.release(request);
  }
}
