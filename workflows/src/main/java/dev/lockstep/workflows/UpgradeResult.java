package dev.lockstep.workflows;

/**
 * How an upgrade ended.
 *
 * @param phase COMPLETED, ROLLED_BACK, FAILED or CANCELLED
 * @param message why, in one line
 * @param status the final status
 */
public record UpgradeResult(Phase phase, String message, UpgradeStatus status) {}
