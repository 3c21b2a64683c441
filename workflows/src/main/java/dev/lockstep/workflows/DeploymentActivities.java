package dev.lockstep.workflows;

import dev.lockstep.workflows.ClusterActivities.Origin;
import dev.lockstep.workflows.ClusterActivities.RecordRequest;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/**
 * What a Deployment's upgrade asks of the cluster, beside {@link ClusterActivities} (which reads
 * the Deployment in {@code inspect}, runs hooks and health checks, and records Events). Implemented
 * with fabric8 in the {@code activities} module, registered by the same object as {@link
 * ClusterActivities}; the {@code Deployment} prefix keeps the activity types apart.
 *
 * <p>Every method is idempotent and safe to retry after a crash at any line: it computes what the
 * Deployment should be, compares it with what it is, and writes only on a difference, conditional
 * on the resourceVersion it read. A Deployment that someone else changed while the run holds it
 * (template, replicas, update strategy, selector, or the run's mark) fails the step with {@link
 * ClusterActivities#FAILURE_TARGET_CHANGED} and the difference; the run HOLDs and overwrites
 * nothing. No method puts the pod template in its arguments or result: the run knows the template
 * it wrote only by a hash.
 */
@ActivityInterface(namePrefix = "Deployment")
public interface DeploymentActivities {
  /**
   * Marks the Deployment with the run ({@link ClusterActivities#RUN_ANNOTATION}, {@link
   * ClusterActivities#ORIGIN_ANNOTATION}), pauses it ({@code spec.paused}) and applies the change,
   * in one write: nothing rolls out until {@link #roll}. Idempotent: a retry finds the change made.
   * Fails with {@link ClusterActivities#FAILURE_TARGET_CHANGED} when the Deployment is no longer on
   * the revision {@code inspect} saw, and {@link ClusterActivities#FAILURE_TARGET_LOCKED} when
   * another run's mark is on it.
   */
  @ActivityMethod
  Prepared prepare(PrepareRequest request);

  /**
   * Moves the Deployment's own rolling update until exactly {@code count} pods of the new template
   * are Ready and {@code replicas - count} old ones are left, then pauses it for the gate that
   * follows; the controller itself rests there (between gates the Deployment runs with step
   * settings under which no new pod counts as available and maxSurge + maxUnavailable is the count
   * wanted, the user's settings kept in an annotation), so a fast rollout cannot pass the gate.
   * Each move takes at most the user's maxSurge + maxUnavailable new pods and stays within the
   * user's surge and unavailability. With {@code last}, puts the user's strategy, minReadySeconds
   * and progressDeadlineSeconds back, unpauses, and waits until the rollout is complete (every pod
   * on the new template and Ready, no old pod left). Idempotent: each write is computed from what
   * the Deployment is now. Heartbeats while it waits. Fails with {@link
   * ClusterActivities#FAILURE_UNIT_FAILED} when a new pod crash-loops past the plan's threshold,
   * when the Deployment's progress deadline passes ({@code ProgressDeadlineExceeded}), or when the
   * step takes longer than its timeout (counted from the first attempt).
   */
  @ActivityMethod
  Progress roll(RollRequest request);

  /**
   * Checks that every pod is Ready on the new template, then removes the run's mark; with {@code
   * end}, records the run's end (best effort). Idempotent.
   */
  @ActivityMethod
  Progress finish(FinishRequest request);

  /**
   * Returns the Deployment exactly as it was found: the template of the ReplicaSet the run started
   * from (as {@code kubectl rollout undo} does: its template without {@code pod-template-hash}),
   * the user's replicas, update strategy, minReadySeconds, progressDeadlineSeconds and {@code
   * paused}, without the run's marks, in one write; then waits until the rollout back is complete.
   * Pods that never moved are never touched. Idempotent: a retry that finds the Deployment returned
   * only waits.
   */
  @ActivityMethod
  Progress revert(RevertRequest request);

  /**
   * Releases the Deployment as it is: removes the run's mark and puts back the user's strategy,
   * minReadySeconds and progressDeadlineSeconds if a roll step held them (template, {@code paused}
   * and pods stay). Idempotent.
   */
  @ActivityMethod
  void release(ReleaseRequest request);

  /** Which run lets go of which Deployment. */
  record ReleaseRequest(String cluster, Target target, String runId) {}

  /**
   * What the run expects the Deployment to be while it holds it: anything else is someone else's
   * change.
   *
   * @param templateHash the hash of the template the run wrote ({@link Prepared#templateHash()})
   * @param replicas spec.replicas
   * @param strategy spec.strategy as JSON, or null when the Deployment has none written
   */
  record Expected(String templateHash, int replicas, String strategy) {}

  /**
   * Mark, pause and change.
   *
   * @param fromRevision the ReplicaSet {@code inspect} saw as current; anything else is someone
   *     else's change
   * @param events Events to record once the change is written (the run's start), best effort
   */
  record PrepareRequest(
      String cluster,
      Target target,
      UpgradePlan.Change change,
      String fromRevision,
      String runId,
      Origin origin,
      List<ClusterActivities.ClusterEvent> events) {}

  /**
   * The change is written.
   *
   * @param expected what the Deployment is now, for the drift checks of the next steps
   * @param told whether the request's Events were recorded
   */
  record Prepared(Expected expected, boolean told) {}

  /**
   * One stretch of the rollout.
   *
   * @param count how many pods of the new template must be Ready
   * @param last whether this stretch ends the rollout (no pause after it)
   * @param timeoutSeconds how long the stretch may take, from its first attempt
   * @param retry a HELD run's retry: restarts before this attempt do not count
   */
  record RollRequest(
      String cluster,
      Target target,
      String runId,
      Expected expected,
      int count,
      boolean last,
      long timeoutSeconds,
      int crashLoopRestarts,
      boolean retry) {}

  /**
   * Where the rollout stands.
   *
   * @param newRevision the ReplicaSet of the new template (null before the controller made it)
   * @param newReady how many of its pods are Ready
   * @param units every pod of the Deployment, with the ReplicaSet it belongs to as its revision
   * @param told whether the request's end was recorded (finish)
   */
  record Progress(String newRevision, int newReady, List<UnitSnapshot> units, boolean told) {}

  /** Finish: every pod on {@code toRevision}; then record {@code end} when given. */
  record FinishRequest(
      String cluster,
      Target target,
      String runId,
      Expected expected,
      String toRevision,
      RecordRequest end) {}

  /**
   * Return the Deployment to the template of the ReplicaSet {@code fromRevision}, with the user's
   * {@code replicas} and {@code strategy} (JSON, or null for none written) and unpaused.
   */
  record RevertRequest(
      String cluster,
      Target target,
      String runId,
      String fromRevision,
      int replicas,
      String strategy,
      long timeoutSeconds) {}
}
