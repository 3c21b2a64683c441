package dev.lockstep.workflows;

import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.DeploymentActivities.Expected;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/**
 * What a Deployment's canary asks of the cluster (DESIGN.md, "Deployments", canary: Argo Rollouts'
 * basic canary without a mesh). The canary is a second Deployment, {@code <name>-canary}, with the
 * new template, the labels the Service selects and {@link #RUN_LABEL}; the weight is the share of
 * the Ready pods behind the Service that run the new template. Implemented with fabric8 in the
 * {@code activities} module, registered by the same object as {@link ClusterActivities}.
 *
 * <p>Every method is idempotent and safe to retry after a crash at any line: it creates what is
 * absent, scales to absolute numbers, and writes only on a difference. The user's Deployment (the
 * stable one) is checked before every write: changed by someone else (template, replicas, strategy,
 * the run's mark) fails with {@link ClusterActivities#FAILURE_TARGET_CHANGED} and the difference.
 * No method carries the pod template in its arguments or result.
 */
@ActivityInterface(namePrefix = "Canary")
public interface CanaryActivities {
  /** The label on every object a run creates, with the run's id: {@code repair} finds them. */
  String RUN_LABEL = "lockstep.dev/run";

  /** The canary Deployment's name for a target. */
  static String canaryName(String target) {
    return target + "-canary";
  }

  /**
   * Marks the stable Deployment with the run ({@link ClusterActivities#RUN_ANNOTATION}, {@link
   * ClusterActivities#ORIGIN_ANNOTATION}); nothing else of it changes. Fails with {@link
   * ClusterActivities#FAILURE_TARGET_CHANGED} when it is no longer on the revision {@code inspect}
   * saw, and with {@link ClusterActivities#FAILURE_TARGET_LOCKED} when another run's mark is on it
   * or a Deployment of the canary's name exists that is not this run's. Idempotent.
   */
  @ActivityMethod
  DeploymentActivities.Prepared prepare(PrepareRequest request);

  /**
   * Scales the canary (created if absent) to {@code canaryReplicas} and the stable Deployment to
   * {@code stableReplicas}, growing before shrinking so that the Ready pods behind the Service
   * never drop below the user's replicas; returns once both are complete and every pod Ready.
   * Heartbeats while it waits. Fails with {@link ClusterActivities#FAILURE_UNIT_FAILED} when a
   * canary pod crash-loops past the plan's threshold, when the canary's progress deadline passes,
   * or when the step takes longer than its timeout (counted from its first attempt).
   */
  @ActivityMethod
  Weighted setWeight(WeightRequest request);

  /**
   * Promotes without starting a pod on the old template: the stable Deployment gets the new
   * template at its stable share with maxSurge 100% and maxUnavailable 0, then, once its old
   * ReplicaSets are at 0, its replicas and its own strategy back (one write when the share is
   * already the full count); once every pod of it is Ready on the new template, the canary is
   * deleted and its pods waited out. Idempotent: each write is chosen from what the Deployment is
   * now. Fails as {@link #setWeight} does.
   */
  @ActivityMethod
  Weighted promote(PromoteRequest request);

  /**
   * Returns the stable Deployment exactly as found: the template of the ReplicaSet the run started
   * from, the user's replicas and strategy, without the run's mark, in one write; once every pod of
   * it is Ready on that template, deletes the canary and waits its pods out. Idempotent: a retry
   * that finds the stable Deployment returned only waits and deletes.
   */
  @ActivityMethod
  Weighted revert(RevertRequest request);

  /**
   * Lets go (abandon): gives the stable Deployment its replicas back when they are still the count
   * the run set, removes the run's mark, and deletes the canary; the stable template stays as it
   * is. Idempotent.
   */
  @ActivityMethod
  void release(ReleaseRequest request);

  /**
   * Mark the stable Deployment.
   *
   * @param change the plan's change, for the canary's template
   * @param fromRevision the ReplicaSet {@code inspect} saw as current
   * @param events Events to record once the mark is written (the run's start), best effort
   */
  record PrepareRequest(
      String cluster,
      Target target,
      UpgradePlan.Change change,
      String fromRevision,
      String runId,
      ClusterActivities.Origin origin,
      List<ClusterActivities.ClusterEvent> events) {}

  /**
   * One weight.
   *
   * @param stable what the run left the stable Deployment, before this step
   * @param canaryReplicas the canary's replicas: ceil(weight × replicas)
   * @param stableReplicas the stable Deployment's: replicas − canaryReplicas
   * @param retry a HELD run's retry: restarts before this attempt do not count
   */
  record WeightRequest(
      String cluster,
      Target target,
      String runId,
      UpgradePlan.Change change,
      Expected stable,
      int canaryReplicas,
      int stableReplicas,
      long timeoutSeconds,
      int crashLoopRestarts,
      boolean retry) {}

  /** Promotion: the stable Deployment to the new template with {@code replicas}. */
  record PromoteRequest(
      String cluster,
      Target target,
      String runId,
      UpgradePlan.Change change,
      Expected stable,
      int replicas,
      long timeoutSeconds,
      int crashLoopRestarts,
      boolean retry) {}

  /**
   * Return the stable Deployment to the template of ReplicaSet {@code fromRevision}, with the
   * user's {@code replicas} and {@code strategy} (JSON, or null for none written); delete the
   * canary.
   */
  record RevertRequest(
      String cluster,
      Target target,
      String runId,
      String fromRevision,
      int replicas,
      String strategy,
      long timeoutSeconds) {}

  /** Abandon: {@code stable} as the run left it, {@code replicas} as the user had them. */
  record ReleaseRequest(
      String cluster, Target target, String runId, Expected stable, int replicas) {}

  /**
   * Where the canary stands.
   *
   * @param stable what the stable Deployment is now, for the drift checks of the next steps
   * @param stableRevision the stable Deployment's ReplicaSet now
   * @param canaryRevision the canary's ReplicaSet (null once it is gone)
   * @param units the pods of both, each with its ReplicaSet as its revision
   * @param traffic the Ready pods behind the Service per version, or null without a Service
   */
  record Weighted(
      Expected stable,
      String stableRevision,
      String canaryRevision,
      List<UnitSnapshot> units,
      Traffic traffic) {}

  /**
   * Where the Service sends traffic: its Ready endpoints, counted per version.
   *
   * @param service the Service that selects the Deployment's pods
   * @param stable Ready endpoints on pods of the stable Deployment
   * @param canary Ready endpoints on pods of the canary
   */
  record Traffic(String service, int stable, int canary) {
    /** The canary's share of the Ready endpoints, in percent (0 without any). */
    public int canaryPercent() {
      int all = stable + canary;
      return all == 0 ? 0 : (int) Math.round(100.0 * canary / all);
    }
  }
}
