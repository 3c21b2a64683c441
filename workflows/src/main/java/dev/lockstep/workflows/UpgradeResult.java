package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * How an upgrade ended.
 *
 * @param phase COMPLETED, ROLLED_BACK, FAILED or CANCELLED
 * @param message why, in one line
 * @param status the final status
 * @param verdict the verdict the run gave before changing anything
 */
/* A CLI or console older than the worker reads a status with fields it does not know yet. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record UpgradeResult(Phase phase, String message, UpgradeStatus status, Verdict verdict) {}
