package dev.lockstep.workflows;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.UpdateMethod;
import io.temporal.workflow.UpdateValidatorMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * The durable upgrade of one StatefulSet: collect, pre-checks, prepare, the first unit, the gate,
 * the rest highest to lowest, post-checks. Its id is {@link Names#workflowId}, so one target has at
 * most one running upgrade. Operators steer it with Updates (validated and answered at once) or
 * with Signals of the same names for tools that can only signal; one logic serves both, and a
 * signal that would have been refused is recorded as ignored.
 */
@WorkflowInterface
public interface UpgradeWorkflow {

  /** Runs the upgrade to its end: COMPLETED, ROLLED_BACK, FAILED or CANCELLED. */
  @WorkflowMethod
  UpgradeResult run(UpgradeRequest request);

  /**
   * Waits until the plan has been checked against the cluster, before anything was changed, and
   * returns the verdict. What {@code lockstep upgrade} waits for.
   */
  @UpdateMethod
  Verdict awaitVerdict();

  /** Resumes at a gate, or when paused. Returns what it did. */
  @UpdateMethod
  String resume(SteerRequest request);

  /** Refuses a resume when no gate waits and nothing is paused. */
  @UpdateValidatorMethod(updateName = "resume")
  void validateResume(SteerRequest request);

  /** Holds before the next unit. */
  @UpdateMethod
  String pause(SteerRequest request);

  /** Refuses a pause when no unit remains or the upgrade is already paused or ending. */
  @UpdateValidatorMethod(updateName = "pause")
  void validatePause(SteerRequest request);

  /**
   * Stops before the next unit and returns the units already upgraded to the original revision; the
   * run ends CANCELLED.
   */
  @UpdateMethod
  String cancel(SteerRequest request);

  /** Refuses a cancel once the upgrade is ending. */
  @UpdateValidatorMethod(updateName = "cancel")
  void validateCancel(SteerRequest request);

  /**
   * Returns every upgraded unit to the original revision and ends ROLLED_BACK: at a gate, paused,
   * held, or mid-way (the unit being replaced settles first, as the charm guides say: never roll
   * back during a unit's replacement).
   */
  @UpdateMethod
  String rollback(SteerRequest request);

  /** Refuses a rollback when the upgrade is ending or nothing has changed yet. */
  @UpdateValidatorMethod(updateName = "rollback")
  void validateRollback(SteerRequest request);

  /** HELD only: tries the failed unit again (e.g. once the image is fixed). */
  @UpdateMethod
  String retry(SteerRequest request);

  /** Refuses a retry unless the upgrade is HELD. */
  @UpdateValidatorMethod(updateName = "retry")
  void validateRetry(SteerRequest request);

  /** HELD only: leaves the target exactly as it is, releases it, ends ABANDONED. */
  @UpdateMethod
  String abandon(SteerRequest request);

  /** Refuses an abandon unless the upgrade is HELD. */
  @UpdateValidatorMethod(updateName = "abandon")
  void validateAbandon(SteerRequest request);

  /** {@link #rollback} for tools that can only signal. */
  @SignalMethod(name = "rollback")
  void rollbackSignal(SteerRequest request);

  /** {@link #retry} for tools that can only signal. */
  @SignalMethod(name = "retry")
  void retrySignal(SteerRequest request);

  /** {@link #abandon} for tools that can only signal. */
  @SignalMethod(name = "abandon")
  void abandonSignal(SteerRequest request);

  /** {@link #resume} for tools that can only signal. */
  @SignalMethod(name = "resume")
  void resumeSignal(SteerRequest request);

  /** {@link #pause} for tools that can only signal. */
  @SignalMethod(name = "pause")
  void pauseSignal(SteerRequest request);

  /** {@link #cancel} for tools that can only signal. */
  @SignalMethod(name = "cancel")
  void cancelSignal(SteerRequest request);

  /** The status {@code lockstep status} shows. */
  @QueryMethod
  UpgradeStatus status();
}
