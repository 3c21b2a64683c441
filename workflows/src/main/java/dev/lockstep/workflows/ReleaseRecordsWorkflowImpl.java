package dev.lockstep.workflows;

import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.workflow.Workflow;
import java.time.Duration;

/** {@link ReleaseRecordsWorkflow}: one activity. */
public class ReleaseRecordsWorkflowImpl implements ReleaseRecordsWorkflow {
  private final HelmActivities helm =
      Workflow.newActivityStub(
          HelmActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofMinutes(1))
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofSeconds(1))
                      .setMaximumAttempts(3)
                      .build())
              .build());

  @Override
  public Records run(Request request) {
    if (request.action().equals(HISTORY)) {
      return new Records(
          helm.releaseHistory(
              new HelmActivities.ReleaseRef(request.namespace(), request.release())),
          null);
    }
    return new Records(
        null,
        helm.repairRelease(
            new HelmActivities.RepairRequest(
                request.namespace(),
                request.release(),
                request.action().equals(REPAIR),
                request.identity())));
  }
}
