package dev.lockstep.activities;

import dev.lockstep.workflows.ClusterActivities;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.temporal.failure.ApplicationFailure;
import java.util.Set;

/**
 * The one place that decides whether an API server's error is worth retrying. A refusal no retry
 * can change (forbidden by RBAC, invalid, an admission webhook's denial, an unsupported media type)
 * fails the step at once with the API server's own message; anything else (a 5xx, 429, a conflict,
 * a broken connection) is left to Temporal's retry policy.
 */
final class ApiErrors {
  /** 400 bad request (webhook denials among them), 401, 403, 405, 415, 422. */
  private static final Set<Integer> FINAL = Set.of(400, 401, 403, 405, 415, 422);

  private ApiErrors() {}

  static boolean isFinal(KubernetesClientException e) {
    return FINAL.contains(e.getCode());
  }

  /** The failure to throw for {@code e}, saying {@code what} could not be done. */
  static ApplicationFailure failure(KubernetesClientException e, String what) {
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
