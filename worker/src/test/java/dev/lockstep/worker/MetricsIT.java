package dev.lockstep.worker;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.kubesim.FaultRule;
import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The worker's Prometheus {@code /metrics} scraped during and after upgrades: the Temporal SDK's
 * series and Lockstep's own (docs/worker.md#metrics), with their labels and counts, and no label
 * that names a run, a target or a pod.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MetricsIT {
  private static WorkerMetrics metrics;
  private static UpgradeHarness h;
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    metrics = new WorkerMetrics(0, Duration.ofMillis(100));
    h = new UpgradeHarness(Duration.ofMillis(100), metrics.scope());
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.cluster.sim().ifPresent(sim -> sim.faults().clear());
      h.cluster.behaviours().clear();
      h.close();
    }
    if (metrics != null) {
      metrics.close();
    }
  }

  static String scrape() throws Exception {
    HttpResponse<String> response =
        HTTP.send(
            HttpRequest.newBuilder(URI.create("http://localhost:" + metrics.port() + "/metrics"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
    return response.body();
  }

  /**
   * The sum of a series' samples over every label set that has all of {@code labels} (e.g. {@code
   * phase="completed"}); 0 when there is none.
   */
  static double value(String text, String name, String... labels) {
    double sum = 0;
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*\\})? (\\S+)$").matcher(text);
    while (m.find()) {
      String set = m.group(1) == null ? "" : m.group(1);
      boolean all = true;
      for (String label : labels) {
        all &= set.contains(label);
      }
      if (all) {
        sum += Double.parseDouble(m.group(2));
      }
    }
    return sum;
  }

  static double awaitValue(String name, double expected, String... labels) {
    await()
        .atMost(30, SECONDS)
        .untilAsserted(() -> assertThat(value(scrape(), name, labels)).isEqualTo(expected));
    return expected;
  }

  @Test
  @Order(1)
  void anUpgradeIsCountedWhileItWaitsAtTheGateAndWhenItEnds() throws Exception {
    String ns = h.namespace();
    h.statefulSet(ns, "web", 3, "example/web:1.0");
    String target = ns + "/statefulset/web";
    h.start(UpgradeHarness.plan(target, "web", "example/web:2.0", UpgradePlan.Gate.FIRST));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);

    // During: started, the first unit replaced, nothing ended yet; the SDK's own series are there.
    awaitValue("lockstep_upgrades_started_total", 1, "workflow_type=\"UpgradeWorkflow\"");
    awaitValue("lockstep_unit_replacement_seconds_count", 1);
    String during = scrape();
    assertThat(value(during, "lockstep_upgrades_ended_total")).isZero();
    assertThat(value(during, "temporal_workflow_task_queue_poll_succeed_total")).isPositive();
    assertThat(value(during, "temporal_activity_execution_latency_seconds_count")).isPositive();
    assertThat(during).contains("task_queue=\"lockstep.default\"");

    h.upgrade(target).resume(new SteerRequest("alice@laptop", "looks good", false));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());

    // After: ended completed, three units, one gate left by a resume.
    awaitValue("lockstep_upgrades_ended_total", 1, "phase=\"completed\"");
    awaitValue("lockstep_unit_replacement_seconds_count", 3);
    String after = scrape();
    assertThat(value(after, "lockstep_gate_wait_seconds_count", "outcome=\"resumed\""))
        .isEqualTo(1);
    assertThat(value(after, "lockstep_gate_wait_seconds_sum")).isPositive();
    assertThat(after).contains("lockstep_unit_replacement_seconds_bucket{");
    assertThat(
            value(after, "temporal_workflow_completed_total", "workflow_type=\"UpgradeWorkflow\""))
        .isEqualTo(1);
    // Low cardinality: no label names the run, the namespace or a pod.
    assertThat(after)
        .doesNotContain(result.status().runId())
        .doesNotContain(ns)
        .doesNotContain("web-0");
  }

  @Test
  @Order(2)
  void aFailedUnitIsCountedByStepKindAndTheRollbackByCause() throws Exception {
    String ns = h.namespace();
    h.statefulSet(ns, "db", 3, "example/db:1.0");
    h.cluster.behaviours().image("example/db:2.0", ImageBehaviour.CRASHLOOP);
    String target = ns + "/statefulset/db";
    h.start(
        UpgradePlan.builder()
            .target(target)
            .cluster(UpgradeHarness.CLUSTER)
            .images(java.util.Map.of("db", "example/db:2.0"))
            .gate(UpgradePlan.Gate.NONE)
            .unitTimeout("3s")
            .build());
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());

    awaitValue("lockstep_upgrades_ended_total", 1, "phase=\"rolled_back\"");
    String after = scrape();
    assertThat(value(after, "lockstep_step_failures_total", "step=\"unit\"")).isEqualTo(1);
    assertThat(value(after, "lockstep_rollbacks_total", "step=\"unit\"", "cause=\"failure\""))
        .isEqualTo(1);
    assertThat(value(after, "lockstep_upgrades_started_total")).isEqualTo(2);
  }

  @Test
  @Order(3)
  void kubernetesApiErrorsAreCountedByCode() throws Exception {
    UpgradeHarness.onlyInKubesimLane("MetricsIT: API errors are injected by kubesim only");
    String ns = h.namespace();
    h.statefulSet(ns, "shop", 2, "example/shop:1.0");
    String target = ns + "/statefulset/shop";
    h.cluster
        .sim()
        .orElseThrow()
        .faults()
        .set(List.of(new FaultRule("create", "jobs", 1.0, List.of(403), 0)));
    h.start(
        UpgradePlan.builder()
            .target(target)
            .cluster(UpgradeHarness.CLUSTER)
            .images(java.util.Map.of("shop", "example/shop:2.0"))
            .gate(UpgradePlan.Gate.NONE)
            .unitTimeout("1m")
            .hooks(
                new UpgradePlan.Hooks(
                    new UpgradePlan.Hook("example/backup:1", List.of("backup")), null, null, null))
            .build());
    UpgradeResult result = h.result(target);
    h.cluster.sim().orElseThrow().faults().clear();
    assertEquals(Phase.FAILED, result.phase(), result.message());

    awaitValue("lockstep_kubernetes_api_errors_total", 1, "code=\"403\"");
    String after = scrape();
    assertThat(
            value(
                after,
                "lockstep_kubernetes_api_errors_total",
                "code=\"403\"",
                "activity_type=\"RunHook\""))
        .isEqualTo(1);
    assertThat(value(after, "lockstep_step_failures_total", "step=\"backup\"")).isEqualTo(1);
    assertThat(value(after, "lockstep_upgrades_ended_total", "phase=\"failed\"")).isEqualTo(1);
  }

  @Test
  @Order(4)
  @org.junit.jupiter.api.Timeout(120)
  void apiErrorsThatLeaveAnActivityOrThatAStepPassesOverAreCountedToo() throws Exception {
    UpgradeHarness.onlyInKubesimLane("MetricsIT: API errors are injected by kubesim only");
    String ns = h.namespace();
    h.statefulSet(ns, "cart", 2, "example/cart:1.0");
    String target = ns + "/statefulset/cart";
    h.cluster.behaviours().image("example/cart-backup:1", ImageBehaviour.FAIL);
    var faults = h.cluster.sim().orElseThrow().faults();
    // A 503 to the compatibility check's list leaves the inspect activity as it is (Temporal
    // retries it); a 403 to the failed backup's log is passed over (the hook fails without it).
    FaultRule log = new FaultRule("get", "pods/log", 1.0, List.of(403), 0);
    faults.set(List.of(log, new FaultRule("list", "services", 1.0, List.of(503), 0)));
    // Started aside: the start waits for the verdict, which needs the check to get through.
    var started =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () ->
                h.start(
                    UpgradePlan.builder()
                        .target(target)
                        .cluster(UpgradeHarness.CLUSTER)
                        .images(java.util.Map.of("cart", "example/cart:2.0"))
                        .gate(UpgradePlan.Gate.NONE)
                        .unitTimeout("1m")
                        .hooks(
                            new UpgradePlan.Hooks(
                                new UpgradePlan.Hook("example/cart-backup:1", List.of("backup")),
                                null,
                                null,
                                null))
                        .build()));
    await()
        .atMost(30, SECONDS)
        .untilAsserted(
            () ->
                assertThat(
                        value(
                            scrape(),
                            "lockstep_kubernetes_api_errors_total",
                            "code=\"503\"",
                            "activity_type=\"Inspect\""))
                    .isPositive());
    faults.set(List.of(log));
    started.get(30, SECONDS);
    UpgradeResult result = h.result(target);
    faults.clear();
    assertEquals(Phase.FAILED, result.phase(), result.message());
    assertThat(result.message()).contains("its log could not be read: 403");
    await()
        .atMost(30, SECONDS)
        .untilAsserted(
            () ->
                assertThat(
                        value(
                            scrape(),
                            "lockstep_kubernetes_api_errors_total",
                            "code=\"403\"",
                            "activity_type=\"RunHook\""))
                    .isPositive());
  }
}
