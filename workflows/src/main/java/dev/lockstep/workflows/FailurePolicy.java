package dev.lockstep.workflows;

/**
 * What a failed step leads to: the one answer for every step, forward or returning. The plan's
 * {@code retries} and {@code onFailure} decide for forward steps; someone else's change always
 * holds (Lockstep never overwrites it, nor rolls it back); a return step that cannot finish holds
 * too, so that no run ever retries for ever or sits in ROLLING_BACK.
 */
final class FailurePolicy {
  private FailurePolicy() {}

  /** What follows a failed step. */
  enum Decision {
    /** Nothing was changed: the run ends FAILED. */
    FAIL,
    /** Roll back, then run the upgrade again from prepare ({@code retries}). */
    AGAIN,
    /** Return the target and end ROLLED_BACK. */
    ROLL_BACK,
    /** HELD until retry, rollback, cancel or abandon. */
    HOLD
  }

  /**
   * @param step the step that failed
   * @param drift whether it failed because someone else changed the target
   * @param changed whether the run has changed the target yet
   * @param attempt how many times the run has already gone back and started again
   * @param stopping whether a cancel or rollback is pending
   */
  static Decision decide(
      Step.Kind step,
      boolean drift,
      boolean changed,
      int attempt,
      UpgradePlan plan,
      boolean stopping) {
    if (step.returns()) {
      return Decision.HOLD;
    }
    if (drift) {
      return Decision.HOLD;
    }
    if (!changed) {
      return Decision.FAIL;
    }
    if (attempt < plan.effectiveRetries() && !stopping) {
      return Decision.AGAIN;
    }
    if (plan.onFailure() != UpgradePlan.FailurePolicy.HOLD || stopping) {
      return Decision.ROLL_BACK;
    }
    return Decision.HOLD;
  }
}
