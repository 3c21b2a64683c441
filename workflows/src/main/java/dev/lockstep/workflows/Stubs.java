package dev.lockstep.workflows;

import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.workflow.Workflow;
import java.time.Duration;

/**
 * The run's activity stubs, each with a schedule-to-close bound derived from the plan's timeouts,
 * so that no step retries for ever: when the bound passes, the step fails and the {@link
 * FailurePolicy} decides. Errors a retry cannot fix are not retried at all.
 */
final class Stubs {
  /** Slack on top of the plan's own timeouts for retries after a worker is lost. */
  private static final Duration SLACK = Duration.ofMinutes(10);

  final ClusterActivities quick;
  private final Run run;

  Stubs(Run run) {
    this.run = run;
    int heartbeat = run.request.effectiveHeartbeatSeconds();
    this.quick =
        Workflow.newActivityStub(
            ClusterActivities.class,
            options(Duration.ofMinutes(2), heartbeat).toBuilder()
                .setScheduleToCloseTimeout(Duration.ofMinutes(10))
                .build());
  }

  /** A unit's stub (its upgrade and its health check): the plan's unit timeout, and the slack. */
  ClusterActivities perUnit() {
    Duration unit = run.plan.effectiveUnitTimeout().plus(Duration.ofMinutes(2));
    return Workflow.newActivityStub(
        ClusterActivities.class,
        options(unit, run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(unit.plus(SLACK))
            // A unit's activity stops writing before the run goes back (a Temporal cancel).
            .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
            .build());
  }

  /** The stub of steps that wait for every unit to settle (finish, revert). */
  ClusterActivities settle() {
    return Workflow.newActivityStub(
        ClusterActivities.class,
        options(settleTimeout(), run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(settleTimeout().plus(SLACK))
            .build());
  }

  /** A Deployment's quick writes (prepare, release): as {@link #quick}. */
  DeploymentActivities deploymentQuick() {
    int heartbeat = run.request.effectiveHeartbeatSeconds();
    return Workflow.newActivityStub(
        DeploymentActivities.class,
        options(Duration.ofMinutes(2), heartbeat).toBuilder()
            .setScheduleToCloseTimeout(Duration.ofMinutes(10))
            .build());
  }

  /**
   * A stretch of a Deployment's rollout: {@code timeout} (the plan's unit timeout per pod it
   * moves), and the slack; it stops writing before the run goes back.
   */
  DeploymentActivities deploymentRoll(Duration timeout) {
    Duration bound = timeout.plus(Duration.ofMinutes(2));
    return Workflow.newActivityStub(
        DeploymentActivities.class,
        options(bound, run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(bound.plus(SLACK))
            .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
            .build());
  }

  /** A Deployment's steps that wait for every pod to settle (finish, revert). */
  DeploymentActivities deploymentSettle() {
    return Workflow.newActivityStub(
        DeploymentActivities.class,
        options(settleTimeout(), run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(settleTimeout().plus(SLACK))
            .build());
  }

  /** A canary's quick writes (prepare): as {@link #quick}. */
  CanaryActivities canaryQuick() {
    int heartbeat = run.request.effectiveHeartbeatSeconds();
    return Workflow.newActivityStub(
        CanaryActivities.class,
        options(Duration.ofMinutes(2), heartbeat).toBuilder()
            .setScheduleToCloseTimeout(Duration.ofMinutes(10))
            .build());
  }

  /**
   * A canary's step that moves pods (a weight, the promotion): {@code timeout}, and the slack; it
   * stops writing before the run goes back.
   */
  CanaryActivities canaryWait(Duration timeout) {
    Duration bound = timeout.plus(Duration.ofMinutes(2));
    return Workflow.newActivityStub(
        CanaryActivities.class,
        options(bound, run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(bound.plus(SLACK))
            .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
            .build());
  }

  /** A canary's steps that wait for every pod to settle (revert, release). */
  CanaryActivities canarySettle() {
    return Workflow.newActivityStub(
        CanaryActivities.class,
        options(settleTimeout(), run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(settleTimeout().plus(SLACK))
            .build());
  }

  /** A blue-green's quick writes (prepare): as {@link #quick}. */
  BlueGreenActivities blueGreenQuick() {
    return Workflow.newActivityStub(
        BlueGreenActivities.class,
        options(Duration.ofMinutes(2), run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(Duration.ofMinutes(10))
            .build());
  }

  /**
   * A blue-green's step that moves pods or traffic (preview, switch, promote, scale-down): {@code
   * timeout}, and the slack; it stops writing before the run goes back.
   */
  BlueGreenActivities blueGreenWait(Duration timeout) {
    Duration bound = timeout.plus(Duration.ofMinutes(2));
    return Workflow.newActivityStub(
        BlueGreenActivities.class,
        options(bound, run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(bound.plus(SLACK))
            .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
            .build());
  }

  /** A blue-green's steps that wait for every pod to settle (revert, release). */
  BlueGreenActivities blueGreenSettle() {
    return Workflow.newActivityStub(
        BlueGreenActivities.class,
        options(settleTimeout(), run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(settleTimeout().plus(SLACK))
            .build());
  }

  /** A hook's stub: the hook's own timeout, and the slack. */
  ClusterActivities hook(UpgradePlan.Hook hook) {
    Duration timeout = hook.effectiveTimeout().plus(Duration.ofMinutes(2));
    return Workflow.newActivityStub(
        ClusterActivities.class,
        options(timeout, run.request.effectiveHeartbeatSeconds()).toBuilder()
            .setScheduleToCloseTimeout(timeout.plus(SLACK))
            .build());
  }

  /** How long every unit may take to settle: one unit timeout per unit, and one more. */
  Duration settleTimeout() {
    return run.plan.effectiveUnitTimeout().multipliedBy(Math.max(1, run.units.size()) + 1L);
  }

  /** A cancelled workflow's activity failure is the cancellation, not the step's failure. */
  static void rethrowCancellation(ActivityFailure e) {
    if (e.getCause() instanceof CanceledFailure cancelled) {
      throw cancelled;
    }
  }

  private static ActivityOptions options(Duration startToClose, int heartbeatSeconds) {
    return ActivityOptions.newBuilder()
        .setStartToCloseTimeout(startToClose)
        .setHeartbeatTimeout(Duration.ofSeconds(heartbeatSeconds))
        .setRetryOptions(
            RetryOptions.newBuilder()
                .setInitialInterval(Duration.ofSeconds(1))
                .setBackoffCoefficient(2)
                .setMaximumInterval(Duration.ofSeconds(30))
                .setDoNotRetry(
                    ClusterActivities.FAILURE_TARGET_NOT_FOUND,
                    ClusterActivities.FAILURE_TARGET_CHANGED,
                    ClusterActivities.FAILURE_TARGET_LOCKED,
                    ClusterActivities.FAILURE_UNIT_FAILED,
                    ClusterActivities.FAILURE_UPGRADED_UNIT_FAILED,
                    ClusterActivities.FAILURE_REJECTED)
                .build())
        .build();
  }
}
