package dev.lockstep.workflows;

import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * {@code lockstep plan}: the checks of an upgrade and what it would do, run on the worker (the CLI
 * holds no cluster credentials). Reads only: it never writes to the cluster. Its id is {@link
 * Names#planWorkflowId}, so it never collides with the target's upgrade.
 */
@WorkflowInterface
public interface PlanWorkflow {
  @WorkflowMethod
  PlanReport plan(UpgradePlan plan);
}
