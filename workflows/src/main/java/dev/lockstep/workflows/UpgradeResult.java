package dev.lockstep.workflows;

/**
 * How an upgrade ended.
 *
 * @param phase COMPLETED, ROLLED_BACK, FAILED or CANCELLED
 * @param message why, in one line
 * @param status the final status
 * @param verdict the verdict the run gave before changing anything
 */
public record UpgradeResult(Phase phase, String message, UpgradeStatus status, Verdict verdict) {}
