package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.lockstep.activities.NotificationsImpl;
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
  private final AtomicInteger answer = new AtomicInteger(200);

  @BeforeEach
  void listen() throws Exception {
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/",
        exchange -> {
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
}
