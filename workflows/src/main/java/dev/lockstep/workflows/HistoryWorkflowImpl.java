package dev.lockstep.workflows;

import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.workflow.Workflow;
import java.time.Duration;

/** {@link HistoryWorkflow}: one read. */
public class HistoryWorkflowImpl implements HistoryWorkflow {
  @Override
  public ClusterActivities.RevisionList revisions(ClusterActivities.RevisionsRequest request) {
    return Workflow.newActivityStub(
            ClusterActivities.class,
            ActivityOptions.newBuilder()
                .setStartToCloseTimeout(Duration.ofMinutes(1))
                .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(3).build())
                .build())
        .revisions(request);
  }
}
