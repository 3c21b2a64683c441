package dev.lockstep.workflows;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;
import java.util.Map;

/**
 * What the upgrade workflow asks of the cluster. Implemented with fabric8 in the {@code activities}
 * module. Every method is idempotent: a retry after a crash at any line neither redoes nor skips a
 * unit, and no method ever deletes or replaces a pod that is already on the revision it moves units
 * to. Failures that a retry cannot fix are non-retryable {@code ApplicationFailure}s whose type is
 * one of the {@code FAILURE_...} constants and whose message a human can act on. No method puts the
 * pod template in its result, so a secret written literally in a template never reaches the
 * workflow history.
 */
@ActivityInterface
public interface ClusterActivities {
  /** The target does not exist. */
  String FAILURE_TARGET_NOT_FOUND = "TargetNotFound";

  /** Someone else changed the target while Lockstep worked on it. */
  String FAILURE_TARGET_CHANGED = "TargetChanged";

  /** Another Lockstep run's annotation is on the target. */
  String FAILURE_TARGET_LOCKED = "TargetLocked";

  /** A unit did not become Ready on the new revision (timeout or crash loop). */
  String FAILURE_UNIT_FAILED = "UnitFailed";

  /** The annotation naming the Lockstep run that is changing a target. */
  String RUN_ANNOTATION = "lockstep.dev/run";

  /**
   * Reads the target and measures the plan's change against it. Changes nothing; safe to repeat. A
   * missing target or an unknown container is reported in {@link TargetSnapshot#problems()}, not
   * thrown.
   */
  @ActivityMethod
  TargetSnapshot inspect(InspectRequest request);

  /**
   * Pins the partition at the replica count (so nothing moves), marks the target with the run's
   * annotation and applies the template change, in one write; then waits until the StatefulSet
   * controller has observed it. Idempotent: a retry finds the change made and only waits. Fails
   * with {@link #FAILURE_TARGET_CHANGED} when the target is no longer what {@code inspect} saw.
   */
  @ActivityMethod
  PrepareResult prepare(PrepareRequest request);

  /**
   * Lowers the partition to the unit's ordinal (never raises it) and waits, on shared watches,
   * until that pod is Ready on the new revision; heartbeats while it waits. Fails with {@link
   * #FAILURE_UNIT_FAILED} when the unit crash-loops past the plan's threshold or is not Ready
   * within the unit timeout (counted from the first attempt, across retries). With {@code retry} (a
   * HELD upgrade's retry), restarts before this attempt do not count.
   */
  @ActivityMethod
  UnitResult upgradeUnit(UnitRequest request);

  /**
   * Waits until every unit is Ready on the new revision and the controller has made it current,
   * then puts back the user's own update strategy and removes the run's annotation. Idempotent.
   */
  @ActivityMethod
  FinishResult finish(FinishRequest request);

  /**
   * Restores the template of the original revision so that the units already upgraded return to it
   * (highest first, as the controller replaces them), deletes units stuck not Ready on another
   * revision (the documented fix for kubernetes#67250), waits until every unit is Ready on the
   * original revision, then puts back the user's update strategy and removes the annotation. Units
   * that never moved are never touched. Idempotent.
   */
  @ActivityMethod
  FinishResult revert(RevertRequest request);

  /**
   * Releases the target exactly as it is: removes this run's {@link #RUN_ANNOTATION} and nothing
   * else (template, partition and pods stay). Idempotent.
   */
  @ActivityMethod
  void release(ReleaseRequest request);

  /**
   * Sets the replica count (marking the target with this run's {@link #RUN_ANNOTATION}) and waits
   * until exactly that many units are Ready; with {@code revision}, the new units must be on it.
   * Scaling down removes the highest ordinals, as the controller does. Idempotent.
   */
  @ActivityMethod
  FinishResult scale(ScaleRequest request);

  /** The replica count to reach, and the revision new units must come up on (or null). */
  record ScaleRequest(String cluster, Target target, int replicas, String revision, String runId) {}

  /** Which run lets go of which target. */
  record ReleaseRequest(String cluster, Target target, String runId) {}

  /** What to inspect: the target and the change the plan asks for. */
  record InspectRequest(String cluster, Target target, UpgradePlan.Change change) {}

  /**
   * The target as it is, without its template.
   *
   * @param found whether the target exists
   * @param problems why the plan cannot run against it (missing target, unknown container)
   * @param replicas spec.replicas
   * @param strategyType RollingUpdate or OnDelete
   * @param partition the user's partition (RollingUpdate), or null
   * @param currentRevision status.currentRevision
   * @param updateRevision status.updateRevision
   * @param generation metadata.generation
   * @param observedGeneration status.observedGeneration
   * @param images container name to current image
   * @param newImages container name to image after the change
   * @param changesTemplate whether the change alters the pod template at all
   * @param runAnnotation the value of {@link #RUN_ANNOTATION}, or null
   * @param units the pods, highest ordinal first
   */
  record TargetSnapshot(
      boolean found,
      List<String> problems,
      int replicas,
      String strategyType,
      Integer partition,
      String currentRevision,
      String updateRevision,
      long generation,
      long observedGeneration,
      Map<String, String> images,
      Map<String, String> newImages,
      boolean changesTemplate,
      String runAnnotation,
      List<UnitSnapshot> units) {}

  /** One pod as seen. */
  record UnitSnapshot(String name, int ordinal, String revision, boolean ready, int restarts) {}

  /** The user's update strategy, to put back at the end. */
  record Strategy(String type, Integer partition) {}

  /**
   * What {@code prepare} does.
   *
   * @param change the change, with container names resolved
   * @param fromRevision the revision {@code inspect} saw; anything else is someone else's change
   * @param runId the run, written to {@link #RUN_ANNOTATION}
   */
  record PrepareRequest(
      String cluster,
      Target target,
      UpgradePlan.Change change,
      String fromRevision,
      String runId) {}

  /** The revision units move to, and the replica count pinned. */
  record PrepareResult(String toRevision, int replicas) {}

  /** One unit to move to {@code toRevision}. */
  record UnitRequest(
      String cluster,
      Target target,
      int ordinal,
      String toRevision,
      long unitTimeoutSeconds,
      int crashLoopRestarts,
      String runId,
      boolean retry,
      int replicas,
      int partitionBefore) {}

  /** The unit as it ended up. */
  record UnitResult(String name, String uid, String revision, boolean ready, int restarts) {}

  /** Finish an upgrade on {@code toRevision}. */
  record FinishRequest(
      String cluster, Target target, String toRevision, Strategy strategy, String runId) {}

  /** Return every unit to {@code fromRevision}. */
  record RevertRequest(
      String cluster,
      Target target,
      String fromRevision,
      Strategy strategy,
      long timeoutSeconds,
      String runId) {}

  /** The units at the end, highest ordinal first. */
  record FinishResult(String currentRevision, List<UnitSnapshot> units) {}
}
