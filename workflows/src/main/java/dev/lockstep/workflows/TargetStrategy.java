package dev.lockstep.workflows;

import java.util.List;
import java.util.Set;

/**
 * What one workload kind contributes to a run: the steps that move it forward and the steps that
 * return it, and the activities behind the steps it owns. The interpreter ({@link
 * UpgradeWorkflowImpl}) knows nothing of StatefulSets or Deployments: it walks the steps, runs the
 * hooks and gates, steers, and applies the {@link FailurePolicy}.
 */
interface TargetStrategy {
  /** How the forward steps begin. */
  enum Start {
    /** A new run: backup, scale-up, prepare. */
    FRESH,
    /** A repair that continues a dead run's change: take the target over. */
    ADOPTED,
    /** Again from prepare, after going back ({@code retries}). */
    AGAIN
  }

  /** The forward steps after the pre-checks, to the end. */
  List<Step> forward(Start start);

  /**
   * The steps that return the target from where the run is.
   *
   * @param whole false when the run goes back only to start again (the target keeps its extra unit)
   */
  List<Step> back(boolean whole);

  /** The step kinds this strategy runs. */
  Set<Step.Kind> owns();

  /**
   * Runs one of its steps.
   *
   * @throws StepFailed when the step did not do what it is for
   */
  void execute(Step step);

  /** Releases the target exactly as it is (abandon). */
  void release();

  /** The line a completed run ends with. */
  String completed();

  /** What a gate says the run has done so far, or null for the interpreter's count of units. */
  default String atGate() {
    return null;
  }

  /**
   * Where the target's Service sends traffic now, per version; null when the strategy does not say.
   */
  default UpgradeStatus.Traffic traffic() {
    return null;
  }

  /** The Service a hook tests now ({@code LOCKSTEP_SERVICE}), or null. */
  default String hookService() {
    return null;
  }

  /** How an abandoned run leaves the target, for its last line. */
  default String leftAsIs() {
    return "partition still pinned";
  }
}
