package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.kubesim.RequestRecord;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The per-unit HTTP health check, through the API server's pod proxy. */
class HealthIT {
  private static UpgradeHarness h;

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(100));
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  @AfterEach
  void clearBehaviours() {
    h.cluster.behaviours().clear();
  }

  /**
   * Three units of an app that declares the port the health check reads: hollow nodes (the real
   * lane) serve a pod's declared ports only, as its containers would listen on them.
   */
  private static StatefulSet serving(String ns) {
    StatefulSet sts = UpgradeHarness.statefulSetSpec("app", 3, "example/app:1.0");
    sts.getSpec()
        .getTemplate()
        .getSpec()
        .getContainers()
        .get(0)
        .setPorts(
            List.of(
                new io.fabric8.kubernetes.api.model.ContainerPortBuilder()
                    .withContainerPort(8080)
                    .build()));
    return h.createReady(ns, sts);
  }

  private static UpgradePlan plan(String target, String image, String unitTimeout) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(UpgradeHarness.CLUSTER)
        .images(Map.of("app", image))
        .gate(UpgradePlan.Gate.NONE)
        .unitTimeout(unitTimeout)
        .health(new UpgradePlan.Health(8080, "/health", 2))
        .build();
  }

  @Test
  void everyUnitIsCheckedThroughThePodProxyBeforeTheNext() {
    String ns = h.namespace();
    serving(ns);
    long mark = h.mark();
    String target = ns + "/statefulset/app";
    h.start(plan(target, "example/app:2.0", "1m"));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    List<String> probed =
        h.cluster.requests().since(mark).stream()
            .filter(r -> r.path().endsWith("/proxy/health"))
            .map(RequestRecord::path)
            .distinct()
            .toList();
    assertThat(probed)
        .containsExactly(
            "/api/v1/namespaces/" + ns + "/pods/app-2:8080/proxy/health",
            "/api/v1/namespaces/" + ns + "/pods/app-1:8080/proxy/health",
            "/api/v1/namespaces/" + ns + "/pods/app-0:8080/proxy/health");
    for (String path : probed) {
      assertThat(h.cluster.requests().since(mark).stream().filter(r -> r.path().equals(path)))
          .as(path)
          .hasSizeGreaterThanOrEqualTo(2)
          .allMatch(r -> r.status() == 200);
    }
  }

  @Test
  void aUnitReadyButUnhealthyFailsAndIsRolledBack() {
    String ns = h.namespace();
    StatefulSet before = serving(ns);
    h.cluster.behaviours().image("example/app:2.0", ImageBehaviour.UNHEALTHY);
    String target = ns + "/statefulset/app";
    UpgradeHarness.PodHistory pods = h.watchPods(ns);
    h.start(plan(target, "example/app:2.0", "4s"));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message())
        .startsWith(
            "app-2 failed: app-2 failed its health check: GET :8080/health last answered 503 (0 of"
                + " 2 successes in a row needed, expected 2xx)");
    String to = result.status().toRevision();
    assertThat(pods.arrivals(to)).containsExactly("app-2");
    assertThat(h.revisions(ns, "app").values())
        .containsOnly(before.getStatus().getCurrentRevision());
  }
}
