package dev.lockstep.worker;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import dev.lockstep.activities.helm.ChartRenderer;
import dev.lockstep.activities.helm.HelmCalls;
import dev.lockstep.activities.helm.HelmInstall;
import dev.lockstep.workflows.HelmActivities;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.ReleasePlanWorkflow;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.temporal.client.WorkflowOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code lockstep plan NAMESPACE/helm/RELEASE}: the worker's ReleasePlanWorkflow against a release
 * installed as Helm writes it (the chart's objects with Helm's metadata, revision 1 {@code
 * deployed} in Helm's storage), in the test's cluster lane. Every answer, good or bad, leaves the
 * release's Secrets and objects exactly as they were.
 */
class ReleasePlanIT {
  static final Path CHARTS = Path.of("../examples/charts");

  private static UpgradeHarness h;
  private static String ns;

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(100));
    ns = h.namespace();
    HelmInstall.install(
        h.kube,
        new ChartRenderer(HelmCalls.DEFAULT_TIMEOUT),
        CHARTS.resolve("ghostwire/0.2.0"),
        "ghostwire",
        ns,
        Map.of(),
        Instant.now());
    // Installed and settled: what changes from here on is what a plan would have written.
    await()
        .atMost(60, SECONDS)
        .until(
            () -> {
              var sts = h.kube.apps().statefulSets().inNamespace(ns).withName("ghostwire").get();
              return sts.getStatus() != null
                  && Integer.valueOf(1).equals(sts.getStatus().getReadyReplicas());
            });
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  @Test
  void thePlanOfAnUpgradeTo030SaysWhatChangesAndChangesNothing() {
    Map<String, String> before = state();
    HelmActivities.ReleasePlan plan =
        plan(request("ghostwire", "0.3.0", List.of(), List.of("logLevel=debug")));

    assertThat(plan.problems()).isEmpty();
    assertThat(plan.fromRevision()).isEqualTo(1);
    assertThat(plan.fromChart()).isEqualTo("ghostwire-0.2.0");
    assertThat(plan.toChart()).isEqualTo("ghostwire-0.3.0");
    assertThat(plan.valuesDiff()).containsExactly("+ logLevel: debug");
    assertThat(plan.chartDefaultsDiff()).anyMatch(l -> l.contains("image.tag"));
    assertThat(plan.objects())
        .extracting(HelmActivities.ObjectChange::key, HelmActivities.ObjectChange::change)
        .contains(tuple("StatefulSet/ghostwire", "update"), tuple("Service/ghostwire", "update"));
    assertThat(plan.objects())
        .filteredOn(o -> o.key().equals("StatefulSet/ghostwire"))
        .flatExtracting(HelmActivities.ObjectChange::diff)
        .anyMatch(l -> l.contains("ghcr.io/example/ghostwire:1.19.0"))
        .anyMatch(l -> l.contains("GHOSTWIRE_LOG_LEVEL"));
    assertThat(plan.workloads())
        .extracting(HelmActivities.WorkloadMove::key, HelmActivities.WorkloadMove::declaredDowntime)
        .containsExactly(tuple("StatefulSet/ghostwire", false));
    assertThat(plan.hooks()).anyMatch(l -> l.contains("ghostwire-test-connection"));
    assertThat(state()).isEqualTo(before);
  }

  @Test
  void badInputIsOneProblemEachAndChangesNothing() {
    Map<String, String> before = state();
    assertThat(plan(request("ghostwire", "9.9.9", List.of(), List.of())).problems())
        .singleElement()
        .asString()
        .contains("has no version 9.9.9")
        .contains("0.2.0, 0.3.0");
    assertThat(plan(request("ghostwire", "0.3.0", List.of(), List.of("replicaCount=3"))).problems())
        .singleElement()
        .asString()
        .contains("replicaCount");
    assertThat(
            plan(request(
                    "ghostwire",
                    "0.3.0",
                    List.of(new HelmActivities.ValuesFile("list.yaml", "- a\n- b\n")),
                    List.of()))
                .problems())
        .singleElement()
        .asString()
        .contains("list.yaml");
    assertThat(plan(request("nosuch", "0.3.0", List.of(), List.of())).problems())
        .singleElement()
        .asString()
        .contains("release " + ns + "/nosuch not found");
    assertThat(state()).isEqualTo(before);
  }

  private static HelmActivities.ReleasePlan plan(HelmActivities.ReleaseRequest request) {
    ReleasePlanWorkflow workflow =
        h.client.newWorkflowStub(
            ReleasePlanWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId("lockstep-plan/" + UpgradeHarness.CLUSTER + "/" + UUID.randomUUID())
                .setTaskQueue(Names.taskQueue(UpgradeHarness.CLUSTER))
                .setWorkflowExecutionTimeout(Duration.ofMinutes(5))
                .build());
    return workflow.plan(request);
  }

  private static HelmActivities.ReleaseRequest request(
      String release, String version, List<HelmActivities.ValuesFile> values, List<String> sets) {
    return new HelmActivities.ReleaseRequest(
        ns, release, chartFiles(CHARTS.resolve("ghostwire")), version, values, sets, "default");
  }

  static HelmActivities.ChartFiles chartFiles(Path dir) {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path file : walk.filter(Files::isRegularFile).toList()) {
        files.put(
            dir.relativize(file).toString(),
            Base64.getEncoder().encodeToString(Files.readAllBytes(file)));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new HelmActivities.ChartFiles(dir.toString(), files);
  }

  /**
   * Every Secret and Service of the namespace with its resource version, every StatefulSet with its
   * generation (its status moves as its pods do) and template.
   */
  private static Map<String, String> state() {
    Stream<HasMetadata> objects =
        Stream.of(
                h.kube.secrets().inNamespace(ns).list().getItems().stream(),
                h.kube.apps().statefulSets().inNamespace(ns).list().getItems().stream()
                    .peek(
                        s -> {
                          s.getMetadata()
                              .setResourceVersion(
                                  s.getMetadata().getGeneration()
                                      + " "
                                      + s.getSpec().getTemplate().toString());
                        }),
                h.kube.services().inNamespace(ns).list().getItems().stream())
            .flatMap(s -> s.map(HasMetadata.class::cast));
    return objects.collect(
        Collectors.toMap(
            o -> o.getKind() + "/" + o.getMetadata().getName(),
            o -> o.getMetadata().getResourceVersion(),
            (a, b) -> a,
            TreeMap::new));
  }
}
