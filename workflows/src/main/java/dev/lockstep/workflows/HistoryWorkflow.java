package dev.lockstep.workflows;

import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * {@code lockstep history}: the target's revisions with what Lockstep noted on them, read on the
 * worker (the CLI holds no cluster credentials). Reads only.
 */
@WorkflowInterface
public interface HistoryWorkflow {
  @WorkflowMethod
  ClusterActivities.RevisionList revisions(ClusterActivities.RevisionsRequest request);
}
