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
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A Deployment's canary with the real workflow and activities on kubesim's Deployment, ReplicaSet
 * and EndpointSlice controllers: which pods run which template at each step, where the Service
 * sends traffic, and nothing of Lockstep's left after promotion, cancel or an automatic rollback.
 */
@Timeout(180)
class DeploymentCanaryIT {
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

  /** The images of the live pods behind {@code app=APP} (the canary's carry the label too). */
  private List<String> images(String ns, String app) {
    return h.kube.pods().inNamespace(ns).withLabel("app", app).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .map((Pod p) -> p.getSpec().getContainers().get(0).getImage())
        .sorted()
        .toList();
  }

  private List<Pod> runPods(String ns) {
    return h.kube.pods().inNamespace(ns).withLabel(RUN_LABEL).list().getItems();
  }

  /** The parts of a Deployment a user wrote: what every return must give back exactly. */
  private static List<Object> asWritten(Deployment d) {
    Map<String, String> annotations = d.getMetadata().getAnnotations();
    return List.of(
        d.getSpec().getTemplate(),
        d.getSpec().getReplicas(),
        d.getSpec().getStrategy(),
        String.valueOf(d.getSpec().getPaused()),
        d.getSpec().getSelector(),
        String.valueOf(d.getMetadata().getLabels()),
        String.valueOf(
            annotations == null
                ? List.of()
                : annotations.keySet().stream()
                    .filter(k -> k.startsWith("lockstep.dev/"))
                    .toList()));
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
        .until(() -> readyEndpoints(ns, name).size() == replicas);
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

  /** The Service's Ready endpoints, by pod name. */
  private Set<String> readyEndpoints(String ns, String service) {
    Set<String> pods = new TreeSet<>();
    if (v1()) {
      h.kube
          .discovery()
          .v1()
          .endpointSlices()
          .inNamespace(ns)
          .withLabel("kubernetes.io/service-name", service)
          .list()
          .getItems()
          .forEach(slice -> pods.addAll(ready(slice)));
    } else {
      h.kube
          .discovery()
          .v1beta1()
          .endpointSlices()
          .inNamespace(ns)
          .withLabel("kubernetes.io/service-name", service)
          .list()
          .getItems()
          .forEach(slice -> pods.addAll(ready(slice)));
    }
    return pods;
  }

  private static Set<String> ready(EndpointSlice slice) {
    Set<String> pods = new TreeSet<>();
    if (slice.getEndpoints() != null) {
      for (Endpoint e : slice.getEndpoints()) {
        if ((e.getConditions() == null || !Boolean.FALSE.equals(e.getConditions().getReady()))
            && e.getTargetRef() != null) {
          pods.add(e.getTargetRef().getName());
        }
      }
    }
    return pods;
  }

  private static Set<String> ready(
      io.fabric8.kubernetes.api.model.discovery.v1beta1.EndpointSlice slice) {
    Set<String> pods = new TreeSet<>();
    if (slice.getEndpoints() != null) {
      for (var e : slice.getEndpoints()) {
        if ((e.getConditions() == null || !Boolean.FALSE.equals(e.getConditions().getReady()))
            && e.getTargetRef() != null) {
          pods.add(e.getTargetRef().getName());
        }
      }
    }
    return pods;
  }

  /** Every state of the Service's Ready endpoints, as the EndpointSlice watch saw them. */
  private List<Set<String>> watchTraffic(String ns, String service) {
    List<Set<String>> seen = Collections.synchronizedList(new ArrayList<>());
    Map<String, Set<String>> bySlice = new ConcurrentHashMap<>();
    java.util.function.BiConsumer<Watcher.Action, Map.Entry<String, Set<String>>> event =
        (action, slice) -> {
          if (action == Watcher.Action.DELETED) {
            bySlice.remove(slice.getKey());
          } else {
            bySlice.put(slice.getKey(), slice.getValue());
          }
          Set<String> all = new TreeSet<>();
          bySlice.values().forEach(all::addAll);
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
                      event.accept(action, Map.entry(slice.getMetadata().getName(), ready(slice)));
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
                      event.accept(action, Map.entry(slice.getMetadata().getName(), ready(slice)));
                    }

                    @Override
                    public void onClose(WatcherException cause) {}
                  }));
    }
    return seen;
  }

  private static UpgradePlan canary(String target, String app, String image, Object... steps) {
    List<UpgradePlan.CanaryStep> list = new ArrayList<>();
    for (Object s : steps) {
      if (s instanceof Integer w) {
        list.add(new UpgradePlan.CanaryStep(w, null, null));
      } else if ("gate".equals(s)) {
        list.add(new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause(null), null));
      } else if ("analysis".equals(s)) {
        list.add(new UpgradePlan.CanaryStep(null, null, Map.of()));
      } else {
        list.add(new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause((String) s), null));
      }
    }
    return UpgradeHarness.plan(target, app, image, UpgradePlan.Gate.FIRST).toBuilder()
        .strategy(new UpgradePlan.Strategy(null, new UpgradePlan.Canary(list), null))
        .build();
  }

  @Test
  void weightsAreReadyPodsBehindTheServiceAndPromotionLeavesOnlyTheUsersDeployment() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "web", 4, "example/web:1.0");
    List<Set<String>> traffic = watchTraffic(ns, "web");
    String target = ns + "/deployment/web";
    h.start(canary(target, "web", "example/web:2.0", 25, "gate", 50, "2s", "analysis"));

    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(gate.message()).startsWith("canary at 25% (1 of 4 pods on the new version");
    Deployment canary = read(ns, "web-canary");
    assertThat(canary.getSpec().getReplicas()).isEqualTo(1);
    assertThat(canary.getMetadata().getLabels()).containsEntry(RUN_LABEL, gate.runId());
    assertThat(read(ns, "web").getSpec().getReplicas()).isEqualTo(3);
    assertThat(images(ns, "web"))
        .containsExactly(
            "example/web:1.0", "example/web:1.0", "example/web:1.0", "example/web:2.0");
    assertThat(gate.traffic().service()).isEqualTo("web");
    assertThat(gate.traffic().shares())
        .extracting(UpgradeStatus.Share::version, UpgradeStatus.Share::ready)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("stable", 3),
            org.assertj.core.groups.Tuple.tuple("canary", 1));
    assertThat(readyEndpoints(ns, "web")).hasSize(4);

    h.upgrade(target).resume(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    Deployment after = read(ns, "web");
    assertThat(images(ns, "web")).hasSize(4).containsOnly("example/web:2.0");
    assertThat(after.getSpec().getReplicas()).isEqualTo(4);
    assertThat(after.getSpec().getStrategy()).isEqualTo(before.getSpec().getStrategy());
    assertThat(after.getSpec().getSelector()).isEqualTo(before.getSpec().getSelector());
    assertThat(after.getMetadata().getAnnotations()).doesNotContainKeys("lockstep.dev/run");
    assertThat(read(ns, "web-canary")).isNull();
    assertThat(runPods(ns)).isEmpty();
    // The Service always had the user's four replicas' worth of Ready endpoints, and only those.
    assertThat(traffic).isNotEmpty().allMatch(s -> s.size() >= 4, "at least 4 Ready endpoints");
    assertThat(readyEndpoints(ns, "web")).hasSize(4);
  }

  /** The image of every pod created in {@code ns} from now on, by name (a watch). */
  private Map<String, String> watchCreatedPods(String ns) {
    Set<String> before = new TreeSet<>();
    h.kube
        .pods()
        .inNamespace(ns)
        .list()
        .getItems()
        .forEach(p -> before.add(p.getMetadata().getName()));
    Map<String, String> created = new ConcurrentHashMap<>();
    watches.add(
        h.kube
            .pods()
            .inNamespace(ns)
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, Pod pod) {
                    String name = pod.getMetadata().getName();
                    if (!before.contains(name)) {
                      created.putIfAbsent(
                          name,
                          pod.getSpec().getContainers().get(0).getImage()
                              + (pod.getMetadata().getLabels().containsKey(RUN_LABEL)
                                  ? " (canary)"
                                  : ""));
                    }
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                }));
    return created;
  }

  @Test
  void promotionStartsNoPodOnTheOldTemplate() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "pr", 4, "example/pr:1.0");
    List<Set<String>> traffic = watchTraffic(ns, "pr");
    String target = ns + "/deployment/pr";
    h.start(canary(target, "pr", "example/pr:2.0", 50, "gate"));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    Map<String, String> created = watchCreatedPods(ns);

    h.upgrade(target).resume(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    // The promotion started the user's 4 pods on the new template, and nothing else: no pod of
    // the old template (the stable share is not scaled back up before it rolls), no canary pod.
    assertThat(created.values()).hasSize(4).containsOnly("example/pr:2.0");
    Deployment after = read(ns, "pr");
    assertThat(after.getSpec().getReplicas()).isEqualTo(4);
    assertThat(after.getSpec().getStrategy()).isEqualTo(before.getSpec().getStrategy());
    assertThat(images(ns, "pr")).hasSize(4).containsOnly("example/pr:2.0");
    assertThat(read(ns, "pr-canary")).isNull();
    assertThat(traffic).allMatch(s -> s.size() >= 4, "at least 4 Ready endpoints");
  }

  @Test
  void aPromotionCutBetweenItsTwoWritesFinishesFromWhatItReads() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "cut", 4, "example/cut:1.0");
    String target = ns + "/deployment/cut";
    h.start(canary(target, "cut", "example/cut:2.0", 50, "gate"));
    h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    Map<String, String> created = watchCreatedPods(ns);
    // What the promotion's first write leaves, as if its worker died right after it: the new
    // template at the stable share (2), every new pod at once, no old one stopped before.
    h.kube
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName("cut")
        .edit(
            d -> {
              d.getSpec()
                  .getTemplate()
                  .getSpec()
                  .getContainers()
                  .get(0)
                  .setImage("example/cut:2.0");
              d.getSpec()
                  .setStrategy(
                      new io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder()
                          .withType("RollingUpdate")
                          .withNewRollingUpdate()
                          .withMaxSurge(new io.fabric8.kubernetes.api.model.IntOrString("100%"))
                          .withMaxUnavailable(new io.fabric8.kubernetes.api.model.IntOrString(0))
                          .endRollingUpdate()
                          .build());
              return d;
            });

    h.upgrade(target).resume(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(created.values()).hasSize(4).containsOnly("example/cut:2.0");
    Deployment after = read(ns, "cut");
    assertThat(after.getSpec().getReplicas()).isEqualTo(4);
    assertThat(after.getSpec().getStrategy()).isEqualTo(before.getSpec().getStrategy());
    assertThat(read(ns, "cut-canary")).isNull();
  }

  @Test
  void cancelAtTheGateRemovesTheCanaryAndReturnsTheDeploymentExactlyAsFound() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "api", 4, "example/api:1.0");
    List<Set<String>> traffic = watchTraffic(ns, "api");
    String target = ns + "/deployment/api";
    h.start(canary(target, "api", "example/api:2.0", 50, "gate"));
    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(gate.traffic().shares())
        .extracting(UpgradeStatus.Share::ready)
        .containsExactly(2, 2);

    h.upgrade(target).cancel(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.CANCELLED, result.phase(), result.message());
    assertThat(asWritten(read(ns, "api"))).isEqualTo(asWritten(before));
    assertThat(images(ns, "api")).hasSize(4).containsOnly("example/api:1.0");
    assertThat(read(ns, "api-canary")).isNull();
    assertThat(runPods(ns)).isEmpty();
    assertThat(traffic).allMatch(s -> s.size() >= 4, "at least 4 Ready endpoints");
  }

  @Test
  void aCrashLoopingCanaryIsRolledBackAndNeverTakesTraffic() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "q", 3, "example/q:1.0");
    List<Set<String>> traffic = watchTraffic(ns, "q");
    h.cluster.behaviours().image("example/q:2.0", ImageBehaviour.CRASHLOOP);
    String target = ns + "/deployment/q";
    h.start(canary(target, "q", "example/q:2.0", 33, "gate"));

    UpgradeResult result = h.result(target);

    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(result.message()).contains("the new version failed").contains("crash-looping");
    assertThat(asWritten(read(ns, "q"))).isEqualTo(asWritten(before));
    assertThat(images(ns, "q")).hasSize(3).containsOnly("example/q:1.0");
    assertThat(read(ns, "q-canary")).isNull();
    assertThat(runPods(ns)).isEmpty();
    // The stable pods kept every endpoint; no canary pod was ever a Ready endpoint.
    assertThat(traffic)
        .allMatch(s -> s.size() >= 3, "at least 3 Ready endpoints")
        .allMatch(s -> s.stream().noneMatch(p -> p.startsWith("q-canary-")), "no canary pod");
  }

  @Test
  void aWorkerKilledMidWeightIsReplacedAndTheCanaryEndsPromotedOnce() {
    String ns = h.namespace();
    deploymentWithService(ns, "k", 4, "example/k:1.0");
    List<Set<String>> traffic = watchTraffic(ns, "k");
    String target = ns + "/deployment/k";
    h.start(canary(target, "k", "example/k:2.0", 50, "gate"));
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> read(ns, "k-canary") != null);
    String canaryUid = read(ns, "k-canary").getMetadata().getUid();

    h.replaceWorkers();
    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(read(ns, "k-canary").getMetadata().getUid()).isEqualTo(canaryUid);
    assertThat(gate.traffic().shares())
        .extracting(UpgradeStatus.Share::ready)
        .containsExactly(2, 2);

    h.upgrade(target).resume(OPS);
    UpgradeResult result = h.result(target);

    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(images(ns, "k")).hasSize(4).containsOnly("example/k:2.0");
    assertThat(read(ns, "k").getSpec().getReplicas()).isEqualTo(4);
    assertThat(read(ns, "k-canary")).isNull();
    assertThat(runPods(ns)).isEmpty();
    assertThat(traffic).allMatch(s -> s.size() >= 4, "at least 4 Ready endpoints");
  }

  @Test
  void aFailedAnalysisRollsTheCanaryBackAndReturnsTheDeploymentExactlyAsFound() {
    String ns = h.namespace();
    Deployment before = deploymentWithService(ns, "an", 4, "example/an:1.0");
    List<Set<String>> traffic = watchTraffic(ns, "an");
    h.cluster.behaviours().image("example/an-check:1", ImageBehaviour.FAIL);
    String target = ns + "/deployment/an";
    h.start(
        canary(target, "an", "example/an:2.0", 25, "analysis").toBuilder()
            .hooks(
                new UpgradePlan.Hooks(
                    null, null, new UpgradePlan.Hook("example/an-check:1", List.of("check")), null))
            .build());

    UpgradeResult result = h.result(target);

    assertEquals(Phase.ROLLED_BACK, result.phase(), result.message());
    assertThat(result.message()).contains("test");
    assertThat(asWritten(read(ns, "an"))).isEqualTo(asWritten(before));
    assertThat(images(ns, "an")).hasSize(4).containsOnly("example/an:1.0");
    assertThat(read(ns, "an-canary")).isNull();
    assertThat(runPods(ns)).isEmpty();
    assertThat(traffic).allMatch(s -> s.size() >= 4, "at least 4 Ready endpoints");
  }
}
