package dev.lockstep.activities;

import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;

/**
 * Heartbeats of the activities that read rather than wait ({@code inspect}: the target, its pods,
 * the checks' cluster-wide lists page by page): on a large or slow cluster they take longer than
 * the heartbeat timeout, and a silent activity would be timed out and retried while still working.
 */
final class Heartbeats {
  private Heartbeats() {}

  /** Tells Temporal this activity is alive; the SDK throttles the calls. Outside one, nothing. */
  static void beat() {
    ActivityExecutionContext context;
    try {
      context = Activity.getExecutionContext();
    } catch (IllegalStateException notInAnActivity) {
      return;
    }
    context.heartbeat(null);
  }
}
