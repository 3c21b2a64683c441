package dev.lockstep.activities;

import dev.lockstep.workflows.ClusterActivities;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.temporal.activity.Activity;
import io.temporal.failure.ApplicationFailure;
import java.util.Map;
import java.util.Set;

/**
 * The one place that decides whether an API server's error is worth retrying. A refusal no retry
 * can change (forbidden by RBAC, invalid, an admission webhook's denial, an unsupported media type)
 * fails the step at once with the API server's own message; anything else (a 5xx, 429, a conflict,
 * a broken connection) is left to Temporal's retry policy. Every error it maps is counted, by HTTP
 * code, in the activity's metrics ({@value #METRIC}; docs/worker.md#metrics).
 */
final class ApiErrors {
  /** 400 bad request (webhook denials among them), 401, 403, 405, 415, 422. */
  private static final Set<Integer> FINAL = Set.of(400, 401, 403, 405, 415, 422);

  private ApiErrors() {}

  static boolean isFinal(KubernetesClientException e) {
    return FINAL.contains(e.getCode());
  }

  /** Prometheus: {@code lockstep_kubernetes_api_errors_total{code}}. */
  static final String METRIC = "lockstep_kubernetes_api_errors";

  /**
   * Errors counted already: one that a step counted and that then leaves its activity counts once.
   */
  private static final Set<Throwable> COUNTED =
      java.util.Collections.synchronizedSet(
          java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>()));

  /**
   * Counts {@code e} by its HTTP code ({@code 0}: no answer, e.g. a broken connection) in the
   * running activity's metrics scope, once however often it is passed; outside an activity (a
   * watch's own thread) it counts nothing. Every error of the API server that an activity meets is
   * counted, through here: those that become a failure here ({@link #failure}), those that leave an
   * activity as they are ({@link ApiErrorCounter}), and those a step passes over or turns into a
   * failed check, where it handles them. The answers a step expects (404 for an object already
   * gone, 409 for one already there) are not errors and are not counted.
   */
  static void count(KubernetesClientException e) {
    com.uber.m3.tally.Scope metrics;
    try {
      metrics = Activity.getExecutionContext().getMetricsScope();
    } catch (IllegalStateException notInAnActivity) {
      // Nothing to count against: the activity that surfaces it counts it.
      return;
    }
    count(e, metrics);
  }

  /** {@link #count(KubernetesClientException)} in an activity's {@code metrics}. */
  static void count(KubernetesClientException e, com.uber.m3.tally.Scope metrics) {
    if (!COUNTED.add(e)) {
      return;
    }
    metrics.tagged(Map.of("code", String.valueOf(Math.max(0, e.getCode())))).counter(METRIC).inc(1);
  }

  /**
   * Counts the Kubernetes API error behind {@code thrown} (itself or a cause), if there is one, in
   * the {@code metrics} of the activity it leaves.
   */
  static void countCause(Throwable thrown, com.uber.m3.tally.Scope metrics) {
    for (Throwable t = thrown; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof KubernetesClientException e) {
        count(e, metrics);
        return;
      }
    }
  }

  /** The failure to throw for {@code e}, saying {@code what} could not be done; counted. */
  static ApplicationFailure failure(KubernetesClientException e, String what) {
    count(e);
    String message = what + ": " + message(e);
    return isFinal(e)
        ? ApplicationFailure.newNonRetryableFailure(message, ClusterActivities.FAILURE_REJECTED)
        : ApplicationFailure.newFailure(message, "KubernetesApi");
  }

  /** The API server's message when it sent one, with its code. */
  static String message(KubernetesClientException e) {
    String text =
        e.getStatus() != null && e.getStatus().getMessage() != null
            ? e.getStatus().getMessage()
            : e.getMessage();
    return e.getCode() > 0 && !text.contains(String.valueOf(e.getCode()))
        ? text + " (" + e.getCode() + ")"
        : text;
  }
}
