package dev.lockstep.workflows;

/**
 * Who asks to steer an upgrade, and why; carried by every update and signal so the audit can show
 * it.
 */
public record SteerRequest(String identity, String reason, boolean acceptDataRisk) {
  public SteerRequest {
    identity = identity == null || identity.isBlank() ? "unknown" : identity;
    reason = reason == null ? "" : reason;
  }

  public SteerRequest(String identity, String reason) {
    this(identity, reason, false);
  }
}
