package dev.lockstep.activities;

import static dev.lockstep.activities.StatefulSets.nonRetryable;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_UNIT_FAILED;

import dev.lockstep.activities.ClusterActivitiesImpl.HealthProgress;
import dev.lockstep.workflows.ClusterActivities.HealthRequest;
import dev.lockstep.workflows.UpgradePlan;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A unit's health check: GETs the pod's health endpoint through the API server's pod proxy (so the
 * worker needs no network path to the pods) until it answers as expected enough times in a row, or
 * the check's time runs out. The start time lives in the heartbeat ({@link HealthProgress}), so a
 * retried attempt keeps the deadline.
 */
final class UnitHealth {
  private static final Logger LOG = LoggerFactory.getLogger(UnitHealth.class);

  private final KubernetesClient client;

  UnitHealth(KubernetesClient client) {
    this.client = client;
  }

  void checkHealth(HealthRequest request) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    HealthProgress progress =
        context
            .getHeartbeatDetails(HealthProgress.class)
            .orElse(new HealthProgress(System.currentTimeMillis()));
    context.heartbeat(progress);
    UpgradePlan.Health health = request.health();
    String where = ":" + health.port() + health.effectivePath();
    String url =
        client.getMasterUrl().toString().replaceAll("/+$", "")
            + "/api/v1/namespaces/"
            + request.target().namespace()
            + "/pods/"
            + request.pod()
            + ":"
            + health.port()
            + "/proxy"
            + health.effectivePath();
    long deadline = progress.startedAt() + request.timeoutSeconds() * 1000;
    int inARow = 0;
    String last = "no answer yet";
    var http = client.getHttpClient();
    while (true) {
      try {
        var answer =
            http.sendAsync(
                    http.newHttpRequestBuilder().uri(url).timeout(10, TimeUnit.SECONDS).build(),
                    String.class)
                .get(15, TimeUnit.SECONDS);
        int code = answer.code();
        boolean ok =
            health.expectStatus() == null
                ? code >= 200 && code < 300
                : code == health.expectStatus();
        inARow = ok ? inARow + 1 : 0;
        last = String.valueOf(code);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "interrupted checking the health of " + request.pod(), "Interrupted");
      } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
        inARow = 0;
        last =
            "no answer ("
                + (e.getCause() == null ? e : e.getCause()).getClass().getSimpleName()
                + ")";
      }
      if (inARow >= health.effectiveSuccesses()) {
        LOG.info("{} healthy: GET {} answered {} {} times", request.pod(), where, last, inARow);
        return;
      }
      if (System.currentTimeMillis() >= deadline) {
        throw nonRetryable(
            FAILURE_UNIT_FAILED,
            request.pod()
                + " failed its health check: GET "
                + where
                + " last answered "
                + last
                + " ("
                + inARow
                + " of "
                + health.effectiveSuccesses()
                + " successes in a row needed, expected "
                + (health.expectStatus() == null ? "2xx" : health.expectStatus())
                + ") within "
                + request.timeoutSeconds()
                + "s");
      }
      context.heartbeat(progress);
      try {
        Thread.sleep(request.intervalMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "interrupted checking the health of " + request.pod(), "Interrupted");
      }
    }
  }
}
