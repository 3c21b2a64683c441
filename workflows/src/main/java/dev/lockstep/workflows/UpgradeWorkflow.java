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
