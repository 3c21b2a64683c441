package dev.lockstep.activities;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.workflows.Notifications;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Webhook delivery over HTTP: a generic JSON body, or Slack's incoming-webhook body ({@code text}).
 * The URL may carry a token (Slack's do): only its host is ever logged or returned. A worker
 * default ({@code worker:N}) is found in the worker's {@link WorkerNotify}.
 */
public final class NotificationsImpl implements Notifications {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final WorkerNotify defaults;

  /** Delivery to plans' own webhooks only. */
  public NotificationsImpl() {
    this(WorkerNotify.NONE);
  }

  /** Delivery to plans' webhooks and to the worker's {@code defaults}. */
  public NotificationsImpl(WorkerNotify defaults) {
    this.defaults = defaults;
  }

  @Override
  public String deliver(Notice notice) {
    URI uri;
    try {
      uri = URI.create(defaults.url(notice.webhook()));
    } catch (IllegalArgumentException e) {
      throw ApplicationFailure.newNonRetryableFailure(e.getMessage(), "DeliveryRefused");
    }
    String where = uri.getHost() + (uri.getPort() > 0 ? ":" + uri.getPort() : "");
    String body;
    try {
      body = JSON.writeValueAsString(body(notice));
    } catch (IOException e) {
      throw ApplicationFailure.newNonRetryableFailure(
          "cannot write the notice: " + e.getMessage(), "DeliveryFailed");
    }
    HttpResponse<String> response;
    try {
      response =
          http.send(
              HttpRequest.newBuilder(uri)
                  .timeout(Duration.ofSeconds(20))
                  .header("Content-Type", "application/json")
                  .header("User-Agent", "lockstep")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw ApplicationFailure.newFailure(
          "webhook at " + where + " unreachable: " + e.getClass().getSimpleName(),
          "DeliveryFailed");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted", "DeliveryFailed");
    }
    int status = response.statusCode();
    if (status >= 200 && status < 300) {
      return "delivered to " + where + ": HTTP " + status;
    }
    String failure = "webhook at " + where + " answered HTTP " + status;
    if (status == 429 || status >= 500) {
      throw ApplicationFailure.newFailure(failure, "DeliveryFailed");
    }
    throw ApplicationFailure.newNonRetryableFailure(failure, "DeliveryRefused");
  }

  /** The body: Slack's {@code text}, or every field of the notice (the generic format). */
  static Map<String, Object> body(Notice n) {
    Map<String, Object> body = new LinkedHashMap<>();
    if ("slack".equals(n.webhook().effectiveFormat())) {
      body.put(
          "text",
          ":"
              + (n.event().equals("completed") ? "white_check_mark" : "warning")
              + ": *Lockstep* `"
              + n.target()
              + "`"
              + (n.cluster() == null || n.cluster().equals("default")
                  ? ""
                  : " (cluster " + n.cluster() + ")")
              + " "
              + n.event()
              + ": "
              + n.text());
      return body;
    }
    body.put("event", n.event());
    body.put("target", n.target());
    body.put("cluster", n.cluster());
    body.put("runId", n.runId());
    body.put("phase", n.phase());
    body.put("text", n.text());
    if (n.waitingSince() != null) {
      body.put("waitingSince", n.waitingSince());
    }
    body.put("sentAt", Instant.now().toString());
    return body;
  }
}
