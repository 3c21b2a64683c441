package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.lockstep.activities.NotificationsImpl;
import dev.lockstep.activities.WorkerNotify;
import dev.lockstep.workflows.Notifications;
import dev.lockstep.workflows.UpgradePlan;
import io.temporal.failure.ApplicationFailure;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Webhook delivery against a real HTTP receiver. */
class NotificationsTest {
  private HttpServer receiver;
  private final List<String> bodies = new CopyOnWriteArrayList<>();
  private final List<String> paths = new CopyOnWriteArrayList<>();
  private final AtomicInteger answer = new AtomicInteger(200);

  @BeforeEach
  void listen() throws Exception {
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/",
        exchange -> {
          paths.add(exchange.getRequestURI().getPath());
          bodies.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
          exchange.sendResponseHeaders(answer.get(), -1);
          exchange.close();
        });
    receiver.start();
  }

  @AfterEach
  void stop() {
    receiver.stop(0);
  }

  private Notifications.Notice notice(String format) {
    return new Notifications.Notice(
        new UpgradePlan.Webhook(
            "http://127.0.0.1:" + receiver.getAddress().getPort() + "/services/T0/B0/secret",
            format),
        "gate-waiting",
        "db/statefulset/postgresql",
        "prod-eu",
        "run-1",
        "WAITING_FOR_RESUME",
        "first unit upgraded; run `lockstep resume db/statefulset/postgresql --cluster prod-eu`",
        "2026-11-27T10:00:00Z");
  }

  @Test
  void theGenericFormatCarriesEveryFieldAsJson() throws Exception {
    String answered = new NotificationsImpl().deliver(notice("json"));
    assertThat(answered).startsWith("delivered to 127.0.0.1:").endsWith("HTTP 200");
    assertThat(answered).doesNotContain("secret");
    JsonNode body = new ObjectMapper().readTree(bodies.get(0));
    assertEquals("gate-waiting", body.path("event").asText());
    assertEquals("db/statefulset/postgresql", body.path("target").asText());
    assertEquals("prod-eu", body.path("cluster").asText());
    assertEquals("run-1", body.path("runId").asText());
    assertEquals("WAITING_FOR_RESUME", body.path("phase").asText());
    assertEquals("2026-11-27T10:00:00Z", body.path("waitingSince").asText());
    assertThat(body.path("text").asText()).contains("lockstep resume");
  }

  @Test
  void theSlackFormatIsOneTextField() throws Exception {
    new NotificationsImpl().deliver(notice("slack"));
    JsonNode body = new ObjectMapper().readTree(bodies.get(0));
    assertThat(body.size()).isEqualTo(1);
    assertThat(body.path("text").asText())
        .contains("*Lockstep* `db/statefulset/postgresql` (cluster prod-eu) gate-waiting:")
        .contains("lockstep resume");
  }

  @Test
  void serverErrorsAreRetriedAndRefusalsAreNotAndNeitherShowsTheUrlsToken() {
    answer.set(503);
    ApplicationFailure busy =
        assertThrows(
            ApplicationFailure.class, () -> new NotificationsImpl().deliver(notice("json")));
    assertThat(busy.isNonRetryable()).isFalse();
    assertThat(busy.getOriginalMessage()).contains("HTTP 503").doesNotContain("secret");

    answer.set(404);
    ApplicationFailure gone =
        assertThrows(
            ApplicationFailure.class, () -> new NotificationsImpl().deliver(notice("json")));
    assertThat(gone.isNonRetryable()).isTrue();
    assertThat(gone.getOriginalMessage()).contains("HTTP 404").doesNotContain("secret");
  }

  private String url(String path) {
    return "http://127.0.0.1:" + receiver.getAddress().getPort() + path;
  }

  @Test
  void theWorkersDefaultsAreRecordedAsReferencesAndDeliveredToTheirUrls() throws Exception {
    WorkerNotify defaults =
        WorkerNotify.parse(
            url("/hooks/json-secret") + " , slack=" + url("/services/T0/B0/slack-secret"), "30m");
    UpgradePlan.Notify recorded = defaults.recorded();
    assertThat(recorded.webhooks())
        .containsExactly(
            new UpgradePlan.Webhook("worker:0", "json"),
            new UpgradePlan.Webhook("worker:1", "slack"));
    assertThat(recorded.remindEvery()).isEqualTo("30m");
    assertThat(recorded.toString()).doesNotContain("secret");

    Notifications.Notice toSlack = withWebhook(notice("json"), recorded.webhooks().get(1));
    String answered = new NotificationsImpl(defaults).deliver(toSlack);
    assertThat(answered).endsWith("HTTP 200").doesNotContain("secret");
    assertThat(paths).containsExactly("/services/T0/B0/slack-secret");
    assertThat(new ObjectMapper().readTree(bodies.get(0)).path("text").asText())
        .contains("gate-waiting");
  }

  @Test
  void aReferenceToADefaultNoLongerConfiguredIsRefusedAtOnce() {
    ApplicationFailure refused =
        assertThrows(
            ApplicationFailure.class,
            () ->
                new NotificationsImpl(WorkerNotify.NONE)
                    .deliver(
                        withWebhook(notice("json"), new UpgradePlan.Webhook("worker:0", "json"))));
    assertThat(refused.isNonRetryable()).isTrue();
    assertThat(refused.getOriginalMessage())
        .isEqualTo(
            "the worker's default webhook worker:0 is no longer configured"
                + " (LOCKSTEP_NOTIFY_WEBHOOKS has 0)");
    assertThat(bodies).isEmpty();
  }

  @Test
  void badWorkerDefaultsAreOneLineWithoutTheUrl() {
    assertThat(WorkerNotify.parse(null, null).recorded()).isNull();
    assertThat(WorkerNotify.parse(" ", "").recorded()).isNull();
    assertThatThrownBy(() -> WorkerNotify.parse("ftp://example.com/secret", null))
        .hasMessage("LOCKSTEP_NOTIFY_WEBHOOKS: webhook 1 is not an http(s) URL with a host");
    assertThatThrownBy(() -> WorkerNotify.parse("https://a/x,teams=https://b/secret", null))
        .hasMessage(
            "LOCKSTEP_NOTIFY_WEBHOOKS: webhook 2 has format 'teams': json or slack"
                + " (slack=https://...)");
    assertThatThrownBy(() -> WorkerNotify.parse("https://a/x", "soon"))
        .hasMessageStartingWith("LOCKSTEP_NOTIFY_REMIND_EVERY: ");
    assertThatThrownBy(() -> WorkerNotify.parse(null, "1h"))
        .hasMessage(
            "LOCKSTEP_NOTIFY_REMIND_EVERY is set but LOCKSTEP_NOTIFY_WEBHOOKS names no webhook");
  }

  private static Notifications.Notice withWebhook(
      Notifications.Notice n, UpgradePlan.Webhook webhook) {
    return new Notifications.Notice(
        webhook,
        n.event(),
        n.target(),
        n.cluster(),
        n.runId(),
        n.phase(),
        n.text(),
        n.waitingSince());
  }
}
