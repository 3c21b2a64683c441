package dev.lockstep.workflows;

/** Where one unit (pod) is in the upgrade. */
public enum UnitState {
  WAITING,
  UPGRADING,
  VERIFYING,
  UPGRADED,
  FAILED,
  ROLLING_BACK,
  ROLLED_BACK
}
