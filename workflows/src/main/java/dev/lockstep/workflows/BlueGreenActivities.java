package dev.lockstep.workflows;

import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.DeploymentActivities.Expected;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;
import java.util.Map;

/**
 * What a Deployment's blue-green asks of the cluster (DESIGN.md, "Deployments", blueGreen). The
 * preview is a second Deployment, {@code <name>-preview}, with the new template at the user's
 * replicas, whose pods carry the labels the active Service selects plus {@link #PREVIEW_LABEL}, and
 * a preview Service selecting only them; both carry {@link CanaryActivities#RUN_LABEL}. The active
 * Service (the one that selects the user's pods) only ever selects Ready pods of one version: while
 * the preview starts it is narrowed to the user's own pods (its selector plus their {@code
 * pod-template-hash}), the switch narrows it to the preview's pods instead, and at the end it gets
 * its selector exactly as found. Implemented with fabric8 in the {@code activities} module,
 * registered by the same object as {@link ClusterActivities}.
 *
 * <p>Every method is idempotent and safe to retry after a crash at any line: it creates what is
 * absent and writes absolute values (a selector, a template, replicas) only on a difference. The
 * user's Deployment and the active Service are checked before every write: changed by someone else
 * (template, replicas, strategy, the run's mark; the Service's selector or ports) fails with {@link
 * ClusterActivities#FAILURE_TARGET_CHANGED} and the difference. No method carries the pod template
 * in its arguments or result.
 */
@ActivityInterface(namePrefix = "BlueGreen")
public interface BlueGreenActivities {
  /** The label that tells the preview's pods apart (its value: the run's short id). */
  String PREVIEW_LABEL = "lockstep.dev/preview";

  /** The preview Deployment's name for a target. */
  static String previewName(String target) {
    return target + "-preview";
  }

  /** The preview Service's name: the plan's, or {@code <service>-preview}. */
  static String previewServiceName(String service, UpgradePlan.BlueGreen blueGreen) {
    return blueGreen != null && blueGreen.previewService() != null
        ? blueGreen.previewService()
        : service + "-preview";
  }

  /**
   * Marks the user's Deployment and its active Service with the run (the Service also with its
   * selector as found); nothing else of them changes. Fails with {@link
   * ClusterActivities#FAILURE_TARGET_CHANGED} when the Deployment is no longer on the revision
   * {@code inspect} saw, with {@link ClusterActivities#FAILURE_REJECTED} when no Service selects
   * its pods, and with {@link ClusterActivities#FAILURE_TARGET_LOCKED} when another run's mark is
   * on either, or a preview Deployment or Service of the run's names exists that is not this run's.
   * Idempotent.
   */
  @ActivityMethod
  Marked prepare(PrepareRequest request);

  /**
   * Narrows the active Service to the user's pods, creates the preview Service and the preview
   * Deployment (if absent) at the user's replicas, and returns once every preview pod is Ready.
   * Heartbeats while it waits. Fails with {@link ClusterActivities#FAILURE_UNIT_FAILED} when a
   * preview pod crash-loops past the plan's threshold, when the preview's progress deadline passes,
   * or when the step takes longer than its timeout (counted from its first attempt).
   */
  @ActivityMethod
  Switched preview(StepRequest request);

  /**
   * Points the active Service at the preview's Ready pods ({@code toPreview}), or back at the
   * user's Deployment's pods on its current ReplicaSet, in one write of its selector; returns once
   * its EndpointSlices show only those pods. Refuses (FAILURE_UNIT_FAILED) when the pods it would
   * point at are not all Ready: the Service is never left selecting nothing. A retry finds it done.
   */
  @ActivityMethod
  Switched switchTraffic(SwitchRequest request);

  /**
   * Rolls the user's Deployment to the new template with its own strategy while the active Service
   * sends it no traffic; returns once every pod of it is Ready on the new template. Fails as {@link
   * #preview} does.
   */
  @ActivityMethod
  Switched promote(StepRequest request);

  /**
   * Deletes the preview Deployment and Service, waits their pods out, then gives the active Service
   * its selector exactly as found and removes the run's marks from it. Idempotent.
   */
  @ActivityMethod
  Switched scaleDown(StepRequest request);

  /**
   * Returns everything as found, from any point: the active Service on the preview while the user's
   * Deployment goes back (when it was changed), the user's Deployment with the template of the
   * ReplicaSet the run started from, its replicas and strategy, without the run's mark; then the
   * Service on the user's pods, the preview removed, and the Service's selector exactly as found.
   * Idempotent: a retry finds what is done and goes on.
   */
  @ActivityMethod
  Switched revert(RevertRequest request);

  /**
   * Lets go (abandon): removes the run's marks; when the user's Deployment has all its pods Ready,
   * gives the Service its selector as found and removes the preview, else leaves both as they are
   * (the Service keeps sending traffic to Ready pods). Idempotent.
   */
  @ActivityMethod
  void release(ReleaseRequest request);

  /**
   * Mark the user's Deployment and its Service.
   *
   * @param change the plan's change, for the preview's template
   * @param fromRevision the ReplicaSet {@code inspect} saw as current
   * @param previewService the plan's name for the preview Service, or null
   * @param events Events to record once the mark is written (the run's start), best effort
   */
  record PrepareRequest(
      String cluster,
      Target target,
      UpgradePlan.Change change,
      String fromRevision,
      String runId,
      ClusterActivities.Origin origin,
      String previewService,
      List<ClusterActivities.ClusterEvent> events) {}

  /**
   * The user's Deployment and Service are marked.
   *
   * @param expected what the Deployment is, for the drift checks of the next steps
   * @param active the active Service as found
   * @param told whether the request's Events were recorded
   */
  record Marked(Expected expected, Active active, boolean told) {}

  /**
   * The active Service as the run found it.
   *
   * @param service its name
   * @param selector its selector as found, put back exactly at the end
   * @param ports its ports as JSON: a change is someone else's
   * @param previewService the preview Service's name
   * @param oldHash the {@code pod-template-hash} of the user's pods when the run started
   */
  record Active(
      String service,
      Map<String, String> selector,
      String ports,
      String previewService,
      String oldHash) {}

  /**
   * One forward step.
   *
   * @param stable what the run left the user's Deployment, before this step
   * @param retry a HELD run's retry: restarts before this attempt do not count
   */
  record StepRequest(
      String cluster,
      Target target,
      String runId,
      UpgradePlan.Change change,
      Expected stable,
      Active active,
      int replicas,
      long timeoutSeconds,
      int crashLoopRestarts,
      boolean retry) {}

  /** The switch: to the preview's pods, or back to the user's Deployment. */
  record SwitchRequest(
      String cluster,
      Target target,
      String runId,
      Expected stable,
      Active active,
      boolean toPreview,
      long timeoutSeconds) {}

  /**
   * Return the user's Deployment to the template of ReplicaSet {@code fromRevision}, with the
   * user's {@code replicas} and {@code strategy} (JSON, or null for none written), the Service as
   * found ({@code active}, null when the run never marked it), and no preview.
   */
  record RevertRequest(
      String cluster,
      Target target,
      String runId,
      String fromRevision,
      int replicas,
      String strategy,
      Active active,
      long timeoutSeconds) {}

  /** Abandon. */
  record ReleaseRequest(String cluster, Target target, String runId, Active active) {}

  /**
   * Where the blue-green stands.
   *
   * @param stable what the user's Deployment is now, for the drift checks of the next steps
   * @param stableRevision the user's Deployment's ReplicaSet now
   * @param previewRevision the preview's ReplicaSet (null while it is absent)
   * @param units the pods of both, each with its ReplicaSet as its revision
   * @param traffic the Ready endpoints of the active Service per version, or null
   */
  record Switched(
      Expected stable,
      String stableRevision,
      String previewRevision,
      List<UnitSnapshot> units,
      ServiceTraffic traffic) {}

  /**
   * Where the active Service sends traffic: its Ready endpoints, counted per version.
   *
   * @param service the active Service
   * @param active Ready endpoints on the user's Deployment's pods
   * @param preview Ready endpoints on the preview's pods
   */
  record ServiceTraffic(String service, int active, int preview) {}
}
