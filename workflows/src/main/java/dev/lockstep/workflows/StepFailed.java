package dev.lockstep.workflows;

/**
 * A step did not do what it is for. The interpreter hands it to the {@link FailurePolicy}.
 *
 * @see FailurePolicy#decide
 */
final class StepFailed extends RuntimeException {
  private final boolean drift;

  StepFailed(String why, boolean drift) {
    super(why, null, false, false);
    this.drift = drift;
  }

  /** Whether someone else changed the target. */
  boolean drift() {
    return drift;
  }

  String why() {
    return getMessage();
  }
}
