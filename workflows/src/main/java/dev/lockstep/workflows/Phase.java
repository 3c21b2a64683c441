package dev.lockstep.workflows;

/** Where an upgrade is; the last six end it. */
public enum Phase {
  PENDING,
  COLLECTING,
  PRE_CHECKS,
  BACKUP,
  SCALING_UP,
  PREPARING,
  UPGRADING,
  MIGRATING,
  WAITING_FOR_RESUME,
  PAUSED,
  POST_CHECKS,
  TESTING,
  SCALING_BACK,
  ROLLING_BACK,
  HELD,
  COMPLETED,
  ROLLED_BACK,
  FAILED,
  CANCELLED,
  ABANDONED;

  /** Whether the upgrade has ended. */
  public boolean isTerminal() {
    return switch (this) {
      case COMPLETED, ROLLED_BACK, FAILED, CANCELLED, ABANDONED -> true;
      default -> false;
    };
  }
}
