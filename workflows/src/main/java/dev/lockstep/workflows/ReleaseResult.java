package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * How a release's upgrade ended: COMPLETED (the new revision deployed), FAILED, ROLLED_BACK or
 * CANCELLED (every workload moved back, the non-workload objects restored, the revision recorded
 * {@code failed}, as Helm records a failed upgrade).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ReleaseResult(Phase phase, String message, ReleaseStatus status, Verdict verdict) {}
