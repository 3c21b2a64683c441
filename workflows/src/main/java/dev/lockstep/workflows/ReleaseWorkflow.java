package dev.lockstep.workflows;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.UpdateMethod;
import io.temporal.workflow.UpdateValidatorMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * The upgrade of a Helm release, {@code NAMESPACE/helm/RELEASE}: the parent of one child {@link
 * UpgradeWorkflow} per changed workload. It plans (a refused plan changes nothing), holds the
 * release {@code pending-upgrade} as Helm does, runs the backup and the {@code pre-upgrade} hooks,
 * moves the non-workload objects, then each workload one at a time as a child run whose id is the
 * workload's usual upgrade id, runs the {@code post-upgrade} and {@code test} hooks, and writes the
 * revision {@code deployed}. When a workload fails (its own child rolls it back), the workloads
 * before it are rolled back in reverse order, the objects restored and the revision written {@code
 * failed}. Its id is {@link Names#workflowId} of the release target.
 */
@WorkflowInterface
public interface ReleaseWorkflow {

  /**
   * Runs the release's upgrade to its end; with {@link ReleaseUpgradeRequest#rollbackTo()}, its
   * rollback to that stored revision ({@code helm rollback}) through the same children.
   */
  @WorkflowMethod
  ReleaseResult run(ReleaseUpgradeRequest request);

  /** Waits until the plan was checked and the release held (or refused); what the CLI waits for. */
  @UpdateMethod
  Verdict awaitVerdict();

  /**
   * Stops: the workload moving now is cancelled (its child returns its units), the ones before it
   * are rolled back in reverse order, the objects restored; ends CANCELLED.
   */
  @UpdateMethod
  String cancel(SteerRequest request);

  /** Refuses a cancel once the run is going back or has ended. */
  @UpdateValidatorMethod(updateName = "cancel")
  void validateCancel(SteerRequest request);

  /** As {@link #cancel}, but ends ROLLED_BACK (the moving workload rolled back by its child). */
  @UpdateMethod
  String rollback(SteerRequest request);

  /** Refuses a rollback once the run is going back or has ended. */
  @UpdateValidatorMethod(updateName = "rollback")
  void validateRollback(SteerRequest request);

  /** {@link #cancel} for tools that can only signal. */
  @SignalMethod(name = "cancel")
  void cancelSignal(SteerRequest request);

  /** {@link #rollback} for tools that can only signal. */
  @SignalMethod(name = "rollback")
  void rollbackSignal(SteerRequest request);

  /** Which workload moves, its child's id, the phase. */
  @QueryMethod
  ReleaseStatus status();
}
