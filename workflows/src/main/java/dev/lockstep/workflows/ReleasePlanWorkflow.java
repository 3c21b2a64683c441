package dev.lockstep.workflows;

import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * {@code lockstep plan NAMESPACE/helm/RELEASE --chart DIR ...}: what an upgrade of a Helm release
 * would do, worked out on the worker (Helm renders there, never in the CLI). Reads only: it never
 * writes to the cluster. Its id is {@link Names#planWorkflowId}, so it never collides with a run.
 */
@WorkflowInterface
public interface ReleasePlanWorkflow {
  /**
   * The release's plan: bad input (no such release, a missing chart or version, values the chart
   * refuses) is in {@link HelmActivities.ReleasePlan#problems()}, not thrown. Fails only when the
   * worker cannot read the cluster or run Helm within its retries.
   */
  @WorkflowMethod
  HelmActivities.ReleasePlan plan(HelmActivities.ReleaseRequest request);
}
