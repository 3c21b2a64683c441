package dev.lockstep.workflows;

import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.util.List;

/**
 * {@code lockstep history NAMESPACE/helm/RELEASE} and {@code lockstep repair
 * NAMESPACE/helm/RELEASE}: one read (or one repair) of Helm's storage on the worker, which holds
 * the cluster credentials. Its id is {@link Names#planWorkflowId}, so it never collides with the
 * release's run.
 */
@WorkflowInterface
public interface ReleaseRecordsWorkflow {
  /** Read the revisions ({@code helm history}). */
  String HISTORY = "history";

  /** Say what a repair would do, writing nothing. */
  String SHOW_REPAIR = "show-repair";

  /** Mark the pending revision failed. */
  String REPAIR = "repair";

  /**
   * What to do.
   *
   * @param action {@link #HISTORY}, {@link #SHOW_REPAIR} or {@link #REPAIR}
   * @param identity who asks
   */
  record Request(String namespace, String release, String action, String identity) {}

  /** The answer: the revisions for a history, the repair for a repair. */
  record Records(
      List<HelmActivities.ReleaseRevision> history, HelmActivities.ReleaseRepair repair) {}

  /** One call of {@link HelmActivities#releaseHistory} or {@link HelmActivities#repairRelease}. */
  @WorkflowMethod
  Records run(Request request);
}
