package dev.lockstep.worker;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.lockstep.activities.WorkerNotify;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The worker's default webhooks (LOCKSTEP_NOTIFY_WEBHOOKS) told about a run whose plan has no
 * {@code notify:}, received by a real HTTP server; the run's history never holds their URL.
 */
class NotifyDefaultsIT {
  private static UpgradeHarness h;
  private static HttpServer receiver;
  private static final List<String> texts = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/",
        exchange -> {
          String body =
              new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
          texts.add(new ObjectMapper().readTree(body).path("text").asText());
          exchange.sendResponseHeaders(200, -1);
          exchange.close();
        });
    receiver.start();
    h = new UpgradeHarness(Duration.ofMillis(100));
    h.notify =
        WorkerNotify.parse(
            "slack=http://127.0.0.1:"
                + receiver.getAddress().getPort()
                + "/services/T0/B0/token-secret",
            null);
    h.replaceWorkers();
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
    if (receiver != null) {
      receiver.stop(0);
    }
  }

  @Test
  void aPlanWithoutNotifyIsToldAtTheGateAndAtTheEnd() {
    String ns = h.namespace();
    h.statefulSet(ns, "web", 2, "example/web:1.0");
    String target = ns + "/statefulset/web";
    h.start(UpgradeHarness.plan(target, "web", "example/web:2.0", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    await().atMost(30, SECONDS).until(() -> texts.size() == 1);
    assertThat(texts.get(0)).contains("`" + target + "` gate-waiting:").contains("lockstep resume");

    h.upgrade(target).resume(new SteerRequest("alice@laptop", "ok", false));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    await().atMost(30, SECONDS).until(() -> texts.size() == 2);
    assertThat(texts.get(1)).contains("`" + target + "` completed:");

    String history =
        h.client
            .fetchHistory(Names.workflowId(UpgradeHarness.CLUSTER, Target.parse(target, "default")))
            .getHistory()
            .toString(); // protobuf text: payloads as their (JSON) bytes
    assertThat(history).contains("worker:0").doesNotContain("token-secret");
  }
}
