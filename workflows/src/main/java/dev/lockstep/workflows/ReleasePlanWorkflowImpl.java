package dev.lockstep.workflows;

import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.workflow.Workflow;
import java.time.Duration;

/** {@link ReleasePlanWorkflow}: one call of {@link HelmActivities#planRelease}. */
public class ReleasePlanWorkflowImpl implements ReleasePlanWorkflow {
  /**
   * One rendering: the first on a worker unpacks Helm's native library (seconds), and every Helm
   * call has its own bound (60 s by default), so a few minutes cover a retry after a stuck call.
   */
  static final Duration PLAN_TIMEOUT = Duration.ofMinutes(3);

  private final HelmActivities helm =
      Workflow.newActivityStub(
          HelmActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(PLAN_TIMEOUT)
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumAttempts(3)
                      .build())
              .build());

  @Override
  public HelmActivities.ReleasePlan plan(HelmActivities.ReleaseRequest request) {
    return helm.planRelease(request);
  }
}
