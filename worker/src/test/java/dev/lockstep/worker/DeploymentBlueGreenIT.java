package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A Deployment's blue-green with the real workflow and activities, in both lanes: which pods run
 * which template at each step, where the active Service sends traffic (never to a pod that is not
 * Ready, never to nothing), its selector and ports exactly as found at the end, and nothing of
 * Lockstep's left after the upgrade, after a rollback from the switched state, and after a
 * crash-looping preview.
 */
@Timeout(180)
class DeploymentBlueGreenIT {
  private static final String RUN_LABEL = "lockstep.dev/run";
  private static UpgradeHarness h;
  private static final SteerRequest OPS = new SteerRequest("ops", "test");
  private final List<Watch> watches = new ArrayList<>();

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(200));
  }

  @AfterAll
  static void stop() {
    h.close();
  }

  @AfterEach
  void clearBehaviours() {
    watches.forEach(Watch::close);
    h.cluster.behaviours().clear();
  }

  private Deployment read(String ns, String name) {
    return h.kube.apps().deployments().inNamespace(ns).withName(name).get();
  }

  private Service service(String ns, String name) {
    return h.kube.services().inNamespace(ns).withName(name).get();
  }

  /** The images of the live pods of the user's Deployment ({@code preview=false}) or preview. */
  private List<String> images(String ns, String app, boolean preview) {
    return h.kube.pods().inNamespace(ns).withLabel("app", app).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .filter(p -> p.getMetadata().getName().startsWith(app + "-preview-") == preview)
        .map((Pod p) -> p.getSpec().getContainers().get(0).getImage())
        .sorted()
        .toList();
  }

  private List<Pod> runPods(String ns) {
    return h.kube.pods().inNamespace(ns).withLabel(RUN_LABEL).list().getItems();
  }

  /** The parts of a Deployment a user wrote: what every return must give back exactly. */
  private static List<Object> asWritten(Deployment d) {
    return List.of(
        d.getSpec().getTemplate(),
        d.getSpec().getReplicas(),
        d.getSpec().getStrategy(),
        String.valueOf(d.getSpec().getPaused()),
        d.getSpec().getSelector(),
        String.valueOf(d.getMetadata().getLabels()),
        lockstepAnnotations(d.getMetadata().getAnnotations()));
  }

  /** The parts of a Service a user wrote. */
  private static List<Object> asWritten(Service s) {
    return List.of(
        String.valueOf(s.getSpec().getSelector()),
        String.valueOf(s.getSpec().getPorts()),
        lockstepAnnotations(s.getMetadata().getAnnotations()));
  }

  private static String lockstepAnnotations(Map<String, String> annotations) {
    return String.valueOf(
        annotations == null
            ? List.of()
            : annotations.keySet().stream().filter(k -> k.startsWith("lockstep.dev/")).toList());
  }

  /** A Deployment and the Service selecting it, every endpoint Ready. */
  private Deployment deploymentWithService(String ns, String name, int replicas, String image) {
    Deployment d = h.deployment(ns, name, replicas, image);
    h.kube
        .services()
        .inNamespace(ns)
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .addToSelector("app", name)
                .addNewPort()
                .withPort(80)
                .withNewTargetPort(80)
                .endPort()
                .endSpec()
                .build())
        .create();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> endpoints(ns, name).size() == replicas);
    return d;
  }

  /** Whether the cluster serves discovery.k8s.io/v1 (kubesim; Kubernetes from 1.21). */
  private static boolean v1() {
    try {
      h.kube.discovery().v1().endpointSlices().inNamespace("default").list();
      return true;
    } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
      if (e.getCode() == 404) {
        return false;
      }
      throw e;
    }
  }

  private static Boolean isReady(Boolean ready) {
    // A nil ready condition means ready (discovery EndpointConditions).
    return ready == null || ready;
  }

  /** The Service's endpoints now: pod name to whether it is Ready. */
  private Map<String, Boolean> endpoints(String ns, String service) {
    Map<String, Boolean> pods = new TreeMap<>();
    if (v1()) {
      for (EndpointSlice slice :
          h.kube
              .discovery()
              .v1()
              .endpointSlices()
              .inNamespace(ns)
              .withLabel("kubernetes.io/service-name", service)
              .list()
              .getItems()) {
        pods.putAll(endpoints(slice));
      }
    } else {
      for (var slice :
          h.kube
              .discovery()
              .v1beta1()
              .endpointSlices()
              .inNamespace(ns)
              .withLabel("kubernetes.io/service-name", service)
              .list()
              .getItems()) {
        pods.putAll(endpoints(slice));
      }
    }
    return pods;
  }

  private static Map<String, Boolean> endpoints(EndpointSlice slice) {
    Map<String, Boolean> pods = new TreeMap<>();
    if (slice.getEndpoints() != null) {
      slice.getEndpoints().stream()
          .filter(e -> e.getTargetRef() != null)
          .forEach(
              e ->
                  pods.put(
                      e.getTargetRef().getName(),
                      isReady(e.getConditions() == null ? null : e.getConditions().getReady())));
    }
    return pods;
  }

  private static Map<String, Boolean> endpoints(
      io.fabric8.kubernetes.api.model.discovery.v1beta1.EndpointSlice slice) {
    Map<String, Boolean> pods = new TreeMap<>();
    if (slice.getEndpoints() != null) {
      slice.getEndpoints().stream()
          .filter(e -> e.getTargetRef() != null)
          .forEach(
              e ->
                  pods.put(
                      e.getTargetRef().getName(),
                      isReady(e.getConditions() == null ? null : e.getConditions().getReady())));
    }
    return pods;
  }

  /** Every state of the Service's endpoints (pod to Ready), as the EndpointSlice watch saw them. */
  private List<Map<String, Boolean>> watchEndpoints(String ns, String service) {
    List<Map<String, Boolean>> seen = Collections.synchronizedList(new ArrayList<>());
    Map<String, Map<String, Boolean>> bySlice = new ConcurrentHashMap<>();
    java.util.function.BiConsumer<Watcher.Action, Map.Entry<String, Map<String, Boolean>>> event =
        (action, slice) -> {
          if (action == Watcher.Action.DELETED) {
            bySlice.remove(slice.getKey());
          } else {
            bySlice.put(slice.getKey(), slice.getValue());
          }
          Map<String, Boolean> all = new TreeMap<>();
          bySlice.values().forEach(all::putAll);
          seen.add(all);
        };
    if (v1()) {
      watches.add(
          h.kube
              .discovery()
              .v1()
              .endpointSlices()
              .inNamespace(ns)
              .withLabel("kubernetes.io/service-name", service)
              .watch(
                  new Watcher<>() {
                    @Override
                    public void eventReceived(Action action, EndpointSlice slice) {
                      event.accept(
                          action, Map.entry(slice.getMetadata().getName(), endpoints(slice)));
                    }

                    @Override
                    public void onClose(WatcherException cause) {}
                  }));
    } else {
      watches.add(
          h.kube
              .discovery()
              .v1beta1()
              .endpointSlices()
              .inNamespace(ns)
              .withLabel("kubernetes.io/service-name", service)
              .watch(
                  new Watcher<>() {
                    @Override
                    public void eventReceived(
                        Action action,
                        io.fabric8.kubernetes.api.model.discovery.v1beta1.EndpointSlice slice) {
                      event.accept(
                          action, Map.entry(slice.getMetadata().getName(), endpoints(slice)));
                    }

                    @Override
                    public void onClose(WatcherException cause) {}
                  }));
    }
    return seen;
  }

  /** The Service only ever selected Ready pods, and always some. */
  private static void onlyReadyAndNeverNone(List<Map<String, Boolean>> seen) {
    assertThat(seen)
        .isNotEmpty()
        .allMatch(s -> !s.isEmpty(), "at least one endpoint")
        .allMatch(s -> s.values().stream().allMatch(r -> r), "every endpoint Ready");
  }

  private static UpgradePlan blueGreen(
      String target, String app, String image, UpgradePlan.Gate gate, String scaleDownDelay) {
    return UpgradeHarness.plan(target, app, image, gate).toBuilder()
        .strategy(new UpgradePlan.Strategy(null, null, new UpgradePlan.BlueGreen(scaleDownDelay)))
        .build();
  }

  @Test
  void previewGateSwitchThenTheUsersDeploymentOnTheNewTemplateAndItsServiceAsFound() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "web", 3, "example/web:1.0");
    Service serviceBefore = service(ns, "web");
    List<Map<String, Boolean>> traffic = watchEndpoints(ns, "web");
    String target = ns + "/deployment/web";
    h.start(blueGreen(target, "web", "example/web:2.0", UpgradePlan.Gate.FIRST, "1s"));

    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(gate.message()).startsWith("preview of 3 pods Ready on the new version");
    Deployment preview = read(ns, "web-preview");
    assertThat(preview.getSpec().getReplicas()).isEqualTo(3);
    assertThat(preview.getMetadata().getLabels()).containsEntry(RUN_LABEL, gate.runId());
    assertThat(service(ns, "web-preview").getMetadata().getLabels())
        .containsEntry(RUN_LABEL, gate.runId());
    assertThat(images(ns, "web", false))
        .containsExactly("example/web:1.0", "example/web:1.0", "example/web:1.0");
    assertThat(images(ns, "web", true))
        .containsExactly("example/web:2.0", "example/web:2.0", "example/web:2.0");
    // Before the switch: the active Service on the user's pods, the preview's on the preview's.
    assertThat(endpoints(ns, "web").keySet())
        .hasSize(3)
        .noneMatch(p -> p.startsWith("web-preview-"));
    assertThat(endpoints(ns, "web-preview").keySet())
        .hasSize(3)
        .allMatch(p -> p.startsWith("web-preview-"));
    assertThat(gate.traffic().service()).isEqualTo("web");
    assertThat(gate.traffic().shares())
        .extracting(UpgradeStatus.Share::version, UpgradeStatus.Share::ready)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("active", 3),
            org.assertj.core.groups.Tuple.tuple("preview", 0));

    h.upgrade(target).resume(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    Deployment after = read(ns, "web");
    assertThat(images(ns, "web", false)).hasSize(3).containsOnly("example/web:2.0");
    assertThat(after.getSpec().getReplicas()).isEqualTo(3);
    assertThat(after.getSpec().getStrategy()).isEqualTo(before.getSpec().getStrategy());
    assertThat(after.getSpec().getSelector()).isEqualTo(before.getSpec().getSelector());
    assertThat(after.getMetadata().getAnnotations()).doesNotContainKeys(RUN_LABEL);
    assertThat(asWritten(service(ns, "web"))).isEqualTo(asWritten(serviceBefore));
    assertThat(read(ns, "web-preview")).isNull();
    assertThat(service(ns, "web-preview")).isNull();
    assertThat(runPods(ns)).isEmpty();
    // The new version took the traffic at the switch: some state had only preview pods in it.
    assertThat(traffic)
        .anyMatch(
            s -> !s.isEmpty() && s.keySet().stream().allMatch(p -> p.startsWith("web-preview-")));
    onlyReadyAndNeverNone(traffic);
    assertThat(endpoints(ns, "web")).hasSize(3);
  }

  @Test
  void rollbackAfterTheSwitchReturnsTheServiceAndTheDeploymentExactlyAsFound() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "api", 3, "example/api:1.0");
    Service serviceBefore = service(ns, "api");
    List<Map<String, Boolean>> traffic = watchEndpoints(ns, "api");
    String target = ns + "/deployment/api";
    h.start(blueGreen(target, "api", "example/api:2.0", UpgradePlan.Gate.NONE, "10m"));
    // Switched, the user's Deployment rolled behind the preview, the traffic back on it.
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(90))
        .until(() -> h.upgrade(target).status().message().contains("the preview goes at"));
    assertThat(images(ns, "api", false)).hasSize(3).containsOnly("example/api:2.0");

    h.upgrade(target).rollback(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(asWritten(read(ns, "api"))).isEqualTo(asWritten(before));
    assertThat(asWritten(service(ns, "api"))).isEqualTo(asWritten(serviceBefore));
    assertThat(images(ns, "api", false)).hasSize(3).containsOnly("example/api:1.0");
    assertThat(read(ns, "api-preview")).isNull();
    assertThat(service(ns, "api-preview")).isNull();
    assertThat(runPods(ns)).isEmpty();
    onlyReadyAndNeverNone(traffic);
  }

  @Test
  void aWorkerKilledAfterTheSwitchIsReplacedAndTheRunEndsOnceWithNothingLeft() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "k", 3, "example/k:1.0");
    Service serviceBefore = service(ns, "k");
    List<Map<String, Boolean>> traffic = watchEndpoints(ns, "k");
    String target = ns + "/deployment/k";
    h.start(blueGreen(target, "k", "example/k:2.0", UpgradePlan.Gate.NONE, "1s"));
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(90))
        .until(() -> service(ns, "k").getSpec().getSelector().containsKey("lockstep.dev/preview"));
    String previewUid = read(ns, "k-preview").getMetadata().getUid();
    List<String> previews = Collections.synchronizedList(new ArrayList<>());
    watches.add(
        h.kube
            .apps()
            .deployments()
            .inNamespace(ns)
            .withName("k-preview")
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, Deployment d) {
                    previews.add(d.getMetadata().getUid());
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                }));

    h.replaceWorkers();
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(images(ns, "k", false)).hasSize(3).containsOnly("example/k:2.0");
    assertThat(read(ns, "k").getSpec().getSelector()).isEqualTo(before.getSpec().getSelector());
    assertThat(asWritten(service(ns, "k"))).isEqualTo(asWritten(serviceBefore));
    assertThat(read(ns, "k-preview")).isNull();
    // The preview the first worker created is the only one: the new worker never made another.
    assertThat(previews).containsOnly(previewUid);
    assertThat(runPods(ns)).isEmpty();
    onlyReadyAndNeverNone(traffic);
  }

  @Test
  void aCrashLoopingPreviewIsRolledBackAndNeverTakesTraffic() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "q", 2, "example/q:1.0");
    Service serviceBefore = service(ns, "q");
    List<Map<String, Boolean>> traffic = watchEndpoints(ns, "q");
    h.cluster.behaviours().image("example/q:2.0", ImageBehaviour.CRASHLOOP);
    String target = ns + "/deployment/q";
    h.start(blueGreen(target, "q", "example/q:2.0", UpgradePlan.Gate.FIRST, null));

    UpgradeResult result = h.result(target);

    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(result.message()).contains("the new version failed").contains("crash-looping");
    assertThat(asWritten(read(ns, "q"))).isEqualTo(asWritten(before));
    assertThat(asWritten(service(ns, "q"))).isEqualTo(asWritten(serviceBefore));
    assertThat(images(ns, "q", false)).hasSize(2).containsOnly("example/q:1.0");
    assertThat(read(ns, "q-preview")).isNull();
    assertThat(runPods(ns)).isEmpty();
    onlyReadyAndNeverNone(traffic);
    assertThat(traffic)
        .allMatch(
            s -> s.keySet().stream().noneMatch(p -> p.startsWith("q-preview-")), "no preview pod");
  }
}
