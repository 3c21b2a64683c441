package dev.lockstep.workflows;

/**
 * The input of an upgrade run.
 *
 * @param plan what to change and how (validated by the caller, checked again by the run)
 * @param identity who started it
 * @param reason why
 * @param heartbeatSeconds how long an activity may go silent before Temporal gives it to another
 *     worker; bounds how long a dead worker delays the upgrade (0 for the default, 30)
 */
public record UpgradeRequest(
    UpgradePlan plan, String identity, String reason, int heartbeatSeconds) {
  public static final int DEFAULT_HEARTBEAT_SECONDS = 30;

  public UpgradeRequest {
    identity = identity == null || identity.isBlank() ? "unknown" : identity;
    reason = reason == null ? "" : reason;
  }

  int effectiveHeartbeatSeconds() {
    return heartbeatSeconds > 0 ? heartbeatSeconds : DEFAULT_HEARTBEAT_SECONDS;
  }
}
