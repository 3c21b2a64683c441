package dev.lockstep.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dev stack's seeded Helm release, {@code demo-helm/helm/ghostwire} at the example chart's
 * 0.2.0, planned by the CLI as a separate process, as a newcomer runs it after {@code ./lockstep
 * dev}. Bad input is one {@code lockstep:} line each, exit 2, and nothing in the cluster changes.
 */
class HelmPlanDevIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String RELEASE = "demo-helm/helm/ghostwire";
  private static final String CHART =
      Processes.ROOT.resolve("examples/charts/ghostwire").toString();

  @TempDir static Path dir;
  private static DevStack stack;
  private static Map<String, String> env;

  @BeforeAll
  static void start() throws Exception {
    stack =
        DevStack.start(
            new DevStack.Settings(
                0, 0, Duration.ofMillis(300), true, true, dir.resolve("kubeconfig")));
    env = Map.of("TEMPORAL_ADDRESS", stack.temporalAddress());
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
  }

  @Test
  void theSeededReleasePlansTo030AndNothingChanges() throws Exception {
    Map<String, String> before = state();
    long started = System.nanoTime();
    Processes.Result r =
        Processes.cli(env, "plan", RELEASE, "--chart", CHART, "--version", "0.3.0");
    System.err.println(
        "first helm plan through the CLI: " + (System.nanoTime() - started) / 1_000_000 + " ms");
    assertEquals(0, r.exit(), r.err());
    assertThat(r.err()).isEmpty();
    assertThat(r.out())
        .contains("Plan for " + RELEASE + " (cluster default), now on revision 1")
        .contains("Chart: ghostwire-0.2.0 -> ghostwire-0.3.0")
        .contains("~ image.tag: 1.18.0 -> 1.19.0")
        .contains("StatefulSet/ghostwire (workload)")
        .contains("ghcr.io/example/ghostwire:1.19.0")
        .contains("1. StatefulSet/ghostwire (update)")
        .contains("ghostwire-test-connection")
        .endsWith("Nothing was changed.\n");

    Processes.Result json =
        Processes.cli(
            env, "plan", RELEASE, "--chart", CHART, "--set", "logLevel=debug", "-o", "json");
    assertEquals(0, json.exit(), json.err());
    JsonNode plan = JSON.readTree(json.out());
    assertThat(plan.path("fromRevision").asInt()).isEqualTo(1);
    assertThat(plan.path("toChart").asText()).isEqualTo("ghostwire-0.3.0");
    assertThat(plan.path("valuesDiff").toString()).contains("+ logLevel: debug");
    assertThat(plan.path("workloads").get(0).path("key").asText())
        .isEqualTo("StatefulSet/ghostwire");
    assertThat(state()).isEqualTo(before);
  }

  @Test
  void badInputIsOneLineExit2AndNothingChanges() throws Exception {
    Map<String, String> before = state();
    assertBad(
        "has no version 9.9.9 (it has 0.2.0, 0.3.0)",
        "plan",
        RELEASE,
        "--chart",
        CHART,
        "--version",
        "9.9.9");
    assertBad("replicaCount", "plan", RELEASE, "--chart", CHART, "--set", "replicaCount=3");
    assertBad(
        "chart directory no/such/chart not found", "plan", RELEASE, "--chart", "no/such/chart");
    assertBad(
        "--set 'logLevel' is not KEY=VALUE",
        "plan",
        RELEASE,
        "--chart",
        CHART,
        "--set",
        "logLevel");
    assertBad(
        "release demo-helm/nosuch not found", "plan", "demo-helm/helm/nosuch", "--chart", CHART);
    assertThat(state()).isEqualTo(before);
  }

  private static void assertBad(String expected, String... args) throws Exception {
    Processes.Result r = Processes.cli(env, args);
    assertEquals(2, r.exit(), String.join(" ", args) + " -> " + r.err());
    assertThat(r.err()).startsWith("lockstep: ").hasLineCount(1).contains(expected);
    assertThat(r.out()).isEmpty();
  }

  /**
   * The release's Secrets and Services with their resource versions, its StatefulSets with their
   * generation and template (their status moves with their pods).
   */
  private static Map<String, String> state() {
    KubernetesClient client = stack.kubesim().client();
    String ns = DevStack.HELM_NAMESPACE;
    Stream<Map.Entry<String, String>> secrets =
        client.secrets().inNamespace(ns).list().getItems().stream().map(HelmPlanDevIT::version);
    Stream<Map.Entry<String, String>> services =
        client.services().inNamespace(ns).list().getItems().stream().map(HelmPlanDevIT::version);
    Stream<Map.Entry<String, String>> statefulSets =
        client.apps().statefulSets().inNamespace(ns).list().getItems().stream()
            .map(
                s ->
                    Map.entry(
                        "StatefulSet/" + s.getMetadata().getName(),
                        s.getMetadata().getGeneration() + " " + s.getSpec().getTemplate()));
    return Stream.of(secrets, services, statefulSets)
        .flatMap(s -> s)
        .collect(
            Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, TreeMap::new));
  }

  private static Map.Entry<String, String> version(HasMetadata o) {
    return Map.entry(
        o.getKind() + "/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion());
  }
}
