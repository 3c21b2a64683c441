package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatus;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Pins kubesim's Deployment and ReplicaSet controllers to upstream semantics: what {@code kubectl
 * rollout status}, {@code kubectl rollout undo} and an orchestrator read from them.
 */
class DeploymentIT {
  private static final String HASH = "pod-template-hash";
  private static final String REVISION = "deployment.kubernetes.io/revision";

  private static Kubesim sim;
  private static KubernetesClient client;

  @BeforeAll
  static void start() {
    sim = Kubesim.builder().podStartup(Duration.ofMillis(150)).start();
    client = sim.client();
  }

  @AfterAll
  static void stop() {
    sim.close();
  }

  private static String namespace(String name) {
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
    return name;
  }

  private static Deployment create(String ns, Deployment deployment) {
    client.apps().deployments().inNamespace(ns).resource(deployment).create();
    String name = deployment.getMetadata().getName();
    awaitRolledOut(ns, name);
    return get(ns, name);
  }

  private static Deployment get(String ns, String name) {
    return client.apps().deployments().inNamespace(ns).withName(name).get();
  }

  private static void edit(String ns, String name, Consumer<Deployment> change) {
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName(name)
        .edit(
            d -> {
              change.accept(d);
              return d;
            });
  }

  private static void setImage(String ns, String name, String image) {
    edit(ns, name, d -> d.getSpec().getTemplate().getSpec().getContainers().get(0).setImage(image));
  }

  /** What {@code kubectl rollout status} waits for, read as it reads it. */
  private static boolean rolledOut(Deployment d) {
    DeploymentStatus s = d.getStatus();
    int replicas = d.getSpec().getReplicas();
    return s != null
        && s.getObservedGeneration() != null
        && s.getObservedGeneration() >= d.getMetadata().getGeneration()
        && n(s.getUpdatedReplicas()) == replicas
        && n(s.getReplicas()) == replicas
        && n(s.getAvailableReplicas()) == replicas
        && "NewReplicaSetAvailable".equals(progressing(d).map(c -> c.getReason()).orElse(""));
  }

  private static void awaitRolledOut(String ns, String name) {
    awaitDeployment(ns, name, DeploymentIT::rolledOut);
  }

  private static void awaitDeployment(String ns, String name, Predicate<Deployment> condition) {
    await()
        .atMost(30, SECONDS)
        .until(
            () -> {
              Deployment d = get(ns, name);
              return d != null && condition.test(d);
            });
  }

  private static int n(Integer value) {
    return value == null ? 0 : value;
  }

  private static Optional<DeploymentCondition> condition(Deployment d, String type) {
    if (d.getStatus() == null || d.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return d.getStatus().getConditions().stream().filter(c -> c.getType().equals(type)).findFirst();
  }

  private static Optional<DeploymentCondition> progressing(Deployment d) {
    return condition(d, "Progressing");
  }

  /** The Deployment's ReplicaSets, oldest revision first. */
  private static List<ReplicaSet> replicaSets(String ns, String name) {
    return client.apps().replicaSets().inNamespace(ns).list().getItems().stream()
        .filter(rs -> rs.getMetadata().getName().startsWith(name + "-"))
        .sorted(Comparator.comparingLong(DeploymentIT::revision))
        .toList();
  }

  private static long revision(ReplicaSet rs) {
    return Long.parseLong(rs.getMetadata().getAnnotations().get(REVISION));
  }

  private static ReplicaSet replicaSetWithImage(String ns, String name, String image) {
    return replicaSets(ns, name).stream()
        .filter(
            rs ->
                rs.getSpec()
                    .getTemplate()
                    .getSpec()
                    .getContainers()
                    .get(0)
                    .getImage()
                    .equals(image))
        .findFirst()
        .orElseThrow();
  }

  /** Every moment a pod watch saw: how many pods existed and how many were Ready, per hash. */
  private static final class PodCensus implements Watcher<Pod> {
    record Moment(int total, int ready, Map<String, Integer> perHash, String event) {}

    private final Map<String, Pod> pods = new HashMap<>();
    final List<Moment> moments = Collections.synchronizedList(new ArrayList<>());
    final List<String> events = Collections.synchronizedList(new ArrayList<>());

    @Override
    public synchronized void eventReceived(Action action, Pod pod) {
      String name = pod.getMetadata().getName();
      if (action == Action.DELETED) {
        pods.remove(name);
      } else {
        pods.put(name, pod);
      }
      String hash = pod.getMetadata().getLabels().get(HASH);
      events.add(action + " " + hash + " " + name);
      int ready = 0;
      Map<String, Integer> perHash = new HashMap<>();
      for (Pod p : pods.values()) {
        if (Workloads.ready(p)) {
          ready++;
        }
        perHash.merge(p.getMetadata().getLabels().get(HASH), 1, Integer::sum);
      }
      moments.add(new Moment(pods.size(), ready, perHash, action + " " + name));
    }

    @Override
    public void onClose(WatcherException cause) {}

    int firstIndex(Predicate<String> event) {
      synchronized (events) {
        for (int i = 0; i < events.size(); i++) {
          if (event.test(events.get(i))) {
            return i;
          }
        }
      }
      return -1;
    }

    int lastIndex(Predicate<String> event) {
      synchronized (events) {
        for (int i = events.size() - 1; i >= 0; i--) {
          if (event.test(events.get(i))) {
            return i;
          }
        }
      }
      return -1;
    }
  }

  @Test
  void aNewDeploymentGetsItsReplicaSetNamedByTemplateHashWithRevisionOneAndDefaults() {
    String ns = namespace("dcreate");
    Deployment d = create(ns, Workloads.deployment("web", 3, "nginx:1.25"));

    assertEquals("RollingUpdate", d.getSpec().getStrategy().getType());
    assertEquals(
        new IntOrString("25%"), d.getSpec().getStrategy().getRollingUpdate().getMaxSurge());
    assertEquals(
        new IntOrString("25%"), d.getSpec().getStrategy().getRollingUpdate().getMaxUnavailable());
    assertEquals(10, d.getSpec().getRevisionHistoryLimit());
    assertEquals(600, d.getSpec().getProgressDeadlineSeconds());
    assertEquals("1", d.getMetadata().getAnnotations().get(REVISION));

    List<ReplicaSet> sets = replicaSets(ns, "web");
    assertThat(sets).hasSize(1);
    ReplicaSet rs = sets.get(0);
    String hash = rs.getMetadata().getLabels().get(HASH);
    assertThat(hash).isNotBlank();
    assertEquals("web-" + hash, rs.getMetadata().getName());
    assertEquals(hash, rs.getSpec().getSelector().getMatchLabels().get(HASH));
    assertEquals(hash, rs.getSpec().getTemplate().getMetadata().getLabels().get(HASH));
    assertEquals("web", rs.getMetadata().getOwnerReferences().get(0).getName());
    assertThat(rs.getMetadata().getAnnotations())
        .containsEntry(REVISION, "1")
        .containsEntry("deployment.kubernetes.io/desired-replicas", "3")
        // 3 + maxSurge 25% of 3 rounded up (1)
        .containsEntry("deployment.kubernetes.io/max-replicas", "4");
    assertEquals(3, rs.getStatus().getReplicas());
    assertEquals(3, rs.getStatus().getReadyReplicas());
    assertEquals(3, rs.getStatus().getAvailableReplicas());

    List<Pod> pods = Workloads.pods(client, ns, "web");
    assertThat(pods).hasSize(3);
    for (Pod pod : pods) {
      assertThat(pod.getMetadata().getName()).startsWith("web-" + hash + "-");
      assertEquals(hash, pod.getMetadata().getLabels().get(HASH));
      assertEquals("ReplicaSet", pod.getMetadata().getOwnerReferences().get(0).getKind());
    }

    DeploymentStatus status = d.getStatus();
    assertEquals(3, status.getReplicas());
    assertEquals(3, status.getUpdatedReplicas());
    assertEquals(3, status.getReadyReplicas());
    assertEquals(3, status.getAvailableReplicas());
    assertNull(status.getUnavailableReplicas());
    assertEquals(d.getMetadata().getGeneration(), status.getObservedGeneration());
    DeploymentCondition available = condition(d, "Available").orElseThrow();
    assertEquals("True", available.getStatus());
    assertEquals("MinimumReplicasAvailable", available.getReason());
    assertEquals("Deployment has minimum availability.", available.getMessage());
    DeploymentCondition progressing = progressing(d).orElseThrow();
    assertEquals("True", progressing.getStatus());
    assertEquals("NewReplicaSetAvailable", progressing.getReason());
    assertEquals(
        "ReplicaSet \"web-" + hash + "\" has successfully progressed.", progressing.getMessage());
  }

  @Test
  void badSpecsAreRefusedAsTheApiServerRefusesThem() {
    String ns = namespace("dinvalid");
    Deployment noRoom = Workloads.deployment("stuck", 2, "nginx:1.25");
    noRoom
        .getSpec()
        .setStrategy(
            new io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder()
                .withType("RollingUpdate")
                .withNewRollingUpdate()
                .withMaxSurge(new IntOrString(0))
                .withMaxUnavailable(new IntOrString(0))
                .endRollingUpdate()
                .build());
    KubernetesClientException e =
        assertThrows(
            KubernetesClientException.class,
            () -> client.apps().deployments().inNamespace(ns).resource(noRoom).create());
    assertEquals(422, e.getCode());
    assertThat(e.getStatus().getMessage())
        .contains("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0")
        .contains("may not be 0 when `maxSurge` is 0");

    create(ns, Workloads.deployment("web", 1, "nginx:1.25"));
    KubernetesClientException immutable =
        assertThrows(
            KubernetesClientException.class,
            () ->
                edit(
                    ns,
                    "web",
                    d -> {
                      d.getSpec().getSelector().getMatchLabels().put("tier", "x");
                      d.getSpec().getTemplate().getMetadata().getLabels().put("tier", "x");
                    }));
    assertEquals(422, immutable.getCode());
    assertThat(immutable.getStatus().getMessage()).contains("field is immutable");
  }

  @Test
  void rollingUpdateNeverExceedsMaxSurgeNorDropsBelowMaxUnavailable() {
    String ns = namespace("dbounds");
    // 5 replicas: maxSurge 2 (absolute), maxUnavailable 30% of 5 = 1.5, rounded down to 1.
    Deployment d = Workloads.deployment("web", 5, "nginx:1.25");
    d.getSpec()
        .setStrategy(
            new io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder()
                .withType("RollingUpdate")
                .withNewRollingUpdate()
                .withMaxSurge(new IntOrString(2))
                .withMaxUnavailable(new IntOrString("30%"))
                .endRollingUpdate()
                .build());
    create(ns, d);
    PodCensus census = new PodCensus();
    try (Watch watch = client.pods().inNamespace(ns).withLabel("app", "web").watch(census)) {
      await().atMost(10, SECONDS).until(() -> census.moments.size() >= 5);
      int before = census.moments.size() - 1;
      setImage(ns, "web", "nginx:1.26");
      awaitDeployment(
          ns,
          "web",
          x -> rolledOut(x) && "2".equals(x.getMetadata().getAnnotations().get(REVISION)));
      String newHash =
          replicaSetWithImage(ns, "web", "nginx:1.26").getMetadata().getLabels().get(HASH);
      await()
          .atMost(10, SECONDS)
          .until(
              () -> {
                PodCensus.Moment last = census.moments.get(census.moments.size() - 1);
                return last.ready() == 5 && last.perHash().getOrDefault(newHash, 0) == 5;
              });
      synchronized (census.moments) {
        for (PodCensus.Moment m : census.moments.subList(before, census.moments.size())) {
          assertTrue(m.total() <= 5 + 2, () -> "more than replicas + maxSurge pods: " + m);
          assertTrue(m.ready() >= 5 - 1, () -> "fewer than replicas - maxUnavailable Ready: " + m);
        }
        // The bounds were used, not just respected: the surge reached 7 pods at some moment.
        assertThat(census.moments).anyMatch(m -> m.total() == 7);
      }
    }
    List<ReplicaSet> sets = replicaSets(ns, "web");
    assertThat(sets).hasSize(2);
    assertEquals(0, sets.get(0).getSpec().getReplicas());
    assertEquals(5, sets.get(1).getSpec().getReplicas());
    assertEquals("2", sets.get(1).getMetadata().getAnnotations().get(REVISION));
    assertEquals(
        "7",
        sets.get(1).getMetadata().getAnnotations().get("deployment.kubernetes.io/max-replicas"));
  }

  @Test
  void maxUnavailableZeroKeepsEveryReplicaReadyThroughoutTheRollout() {
    String ns = namespace("dsurge");
    Deployment d = Workloads.deployment("api", 4, "api:1");
    d.getSpec()
        .setStrategy(
            new io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder()
                .withType("RollingUpdate")
                .withNewRollingUpdate()
                .withMaxSurge(new IntOrString("25%"))
                .withMaxUnavailable(new IntOrString(0))
                .endRollingUpdate()
                .build());
    create(ns, d);
    PodCensus census = new PodCensus();
    try (Watch watch = client.pods().inNamespace(ns).withLabel("app", "api").watch(census)) {
      await().atMost(10, SECONDS).until(() -> census.moments.size() >= 4);
      int before = census.moments.size() - 1;
      setImage(ns, "api", "api:2");
      awaitDeployment(
          ns,
          "api",
          x -> rolledOut(x) && "2".equals(x.getMetadata().getAnnotations().get(REVISION)));
      await()
          .atMost(10, SECONDS)
          .until(() -> census.moments.get(census.moments.size() - 1).total() == 4);
      synchronized (census.moments) {
        for (PodCensus.Moment m : census.moments.subList(before, census.moments.size())) {
          assertTrue(m.total() <= 5, () -> "more than 4 + 1 pods: " + m);
          assertTrue(m.ready() >= 4, () -> "a replica was unavailable: " + m);
        }
      }
    }
  }

  @Test
  void recreateRemovesEveryOldPodBeforeTheFirstNewOne() {
    String ns = namespace("drecreate");
    Deployment d = Workloads.deployment("batch", 3, "worker:1");
    d.getSpec()
        .setStrategy(
            new io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder()
                .withType("Recreate")
                .build());
    create(ns, d);
    String oldHash = replicaSets(ns, "batch").get(0).getMetadata().getLabels().get(HASH);
    PodCensus census = new PodCensus();
    try (Watch watch = client.pods().inNamespace(ns).withLabel("app", "batch").watch(census)) {
      await().atMost(10, SECONDS).until(() -> census.moments.size() >= 3);
      setImage(ns, "batch", "worker:2");
      awaitDeployment(
          ns,
          "batch",
          x -> rolledOut(x) && "2".equals(x.getMetadata().getAnnotations().get(REVISION)));
      String newHash =
          replicaSetWithImage(ns, "batch", "worker:2").getMetadata().getLabels().get(HASH);
      await()
          .atMost(10, SECONDS)
          .until(() -> census.lastIndex(e -> e.startsWith("DELETED " + oldHash)) >= 0);
      int lastOldDeleted = census.lastIndex(e -> e.startsWith("DELETED " + oldHash + " "));
      int firstNewAdded = census.firstIndex(e -> e.startsWith("ADDED " + newHash + " "));
      assertTrue(lastOldDeleted >= 0 && firstNewAdded > lastOldDeleted, census.events::toString);
    }
  }

  @Test
  void pausedDeploymentDoesNotRollOutButStillScalesProportionallyThenResumes() {
    String ns = namespace("dpaused");
    sim.behaviours().image("shop:2", ImageBehaviour.startingIn(Duration.ofHours(1)));
    Deployment d = Workloads.deployment("shop", 4, "shop:1");
    d.getSpec()
        .setStrategy(
            new io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder()
                .withType("RollingUpdate")
                .withNewRollingUpdate()
                .withMaxSurge(new IntOrString(1))
                .withMaxUnavailable(new IntOrString(0))
                .endRollingUpdate()
                .build());
    create(ns, d);
    // shop:2 never becomes Ready: the rollout stops at one new pod (surge 1, unavailable 0).
    setImage(ns, "shop", "shop:2");
    awaitDeployment(ns, "shop", x -> n(x.getStatus().getUpdatedReplicas()) == 1);
    edit(ns, "shop", x -> x.getSpec().setPaused(true));
    awaitDeployment(
        ns,
        "shop",
        x -> "DeploymentPaused".equals(progressing(x).map(c -> c.getReason()).orElse("")));
    Deployment paused = get(ns, "shop");
    assertEquals("Unknown", progressing(paused).orElseThrow().getStatus());
    assertEquals("Deployment is paused", progressing(paused).orElseThrow().getMessage());

    // A template change while paused makes no ReplicaSet.
    setImage(ns, "shop", "shop:3");
    awaitDeployment(
        ns,
        "shop",
        x -> x.getStatus().getObservedGeneration().equals(x.getMetadata().getGeneration()));
    assertThat(replicaSets(ns, "shop")).hasSize(2);

    // Scaling still happens, proportionally: 4+1 grow to 7+2 (8 replicas + maxSurge 1).
    edit(ns, "shop", x -> x.getSpec().setReplicas(8));
    await()
        .atMost(30, SECONDS)
        .until(
            () -> {
              List<ReplicaSet> sets = replicaSets(ns, "shop");
              return sets.get(0).getSpec().getReplicas() == 7
                  && sets.get(1).getSpec().getReplicas() == 2;
            });
    assertThat(replicaSets(ns, "shop")).hasSize(2);

    // Resumed, with the image put back to a good one: the rollout completes.
    sim.behaviours().image("shop:3", ImageBehaviour.OK);
    edit(ns, "shop", x -> x.getSpec().setPaused(false));
    awaitDeployment(
        ns,
        "shop",
        x -> rolledOut(x) && "3".equals(x.getMetadata().getAnnotations().get(REVISION)));
    ReplicaSet newest = replicaSetWithImage(ns, "shop", "shop:3");
    assertEquals(8, newest.getSpec().getReplicas());
  }

  @Test
  void aCrashLoopingVersionStopsTheRolloutAndExceedsTheProgressDeadlineThenUndoRestoresIt() {
    String ns = namespace("ddeadline");
    sim.behaviours().image("pay:2", ImageBehaviour.CRASHLOOP);
    Deployment d = Workloads.deployment("pay", 3, "pay:1");
    d.getSpec().setProgressDeadlineSeconds(2);
    create(ns, d);
    ReplicaSet good = replicaSets(ns, "pay").get(0);
    setImage(ns, "pay", "pay:2");
    awaitDeployment(
        ns,
        "pay",
        x -> "ProgressDeadlineExceeded".equals(progressing(x).map(c -> c.getReason()).orElse("")));
    Deployment stuck = get(ns, "pay");
    ReplicaSet bad = replicaSetWithImage(ns, "pay", "pay:2");
    DeploymentCondition timedOut = progressing(stuck).orElseThrow();
    assertEquals("False", timedOut.getStatus());
    assertEquals(
        "ReplicaSet \"" + bad.getMetadata().getName() + "\" has timed out progressing.",
        timedOut.getMessage());
    // 3 replicas: maxSurge 1, maxUnavailable 0: one crash-looping new pod, the old ones all kept.
    assertEquals(1, bad.getSpec().getReplicas());
    assertEquals(
        3,
        client
            .apps()
            .replicaSets()
            .inNamespace(ns)
            .withName(good.getMetadata().getName())
            .get()
            .getStatus()
            .getAvailableReplicas());
    assertEquals("True", condition(stuck, "Available").orElseThrow().getStatus());
    assertEquals(1, n(stuck.getStatus().getUnavailableReplicas()));

    kubectlRolloutUndo(ns, "pay", 1);
    awaitDeployment(
        ns, "pay", x -> rolledOut(x) && "3".equals(x.getMetadata().getAnnotations().get(REVISION)));
    ReplicaSet restored =
        client.apps().replicaSets().inNamespace(ns).withName(good.getMetadata().getName()).get();
    assertEquals("3", restored.getMetadata().getAnnotations().get(REVISION));
    assertEquals(
        "1",
        restored.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision-history"));
    assertEquals(3, restored.getSpec().getReplicas());
    assertEquals(0, replicaSetWithImage(ns, "pay", "pay:2").getSpec().getReplicas());
    assertThat(replicaSets(ns, "pay")).hasSize(2);
  }

  @Test
  void undoToAnOlderRevisionReusesItsReplicaSetWithTheNextRevisionAndHistoryIsPruned() {
    String ns = namespace("dundo");
    Deployment d = Workloads.deployment("web", 2, "web:1");
    d.getSpec().setRevisionHistoryLimit(2);
    create(ns, d);
    for (int version = 2; version <= 4; version++) {
      setImage(ns, "web", "web:" + version);
      String revision = Integer.toString(version);
      awaitDeployment(
          ns,
          "web",
          x -> rolledOut(x) && revision.equals(x.getMetadata().getAnnotations().get(REVISION)));
    }
    // Revisions 1..4 were made; the limit keeps 2 old ones beside the current.
    await().atMost(10, SECONDS).until(() -> replicaSets(ns, "web").size() == 3);
    assertThat(replicaSets(ns, "web").stream().map(DeploymentIT::revision).toList())
        .containsExactly(2L, 3L, 4L);

    String rs2 = replicaSetWithImage(ns, "web", "web:2").getMetadata().getName();
    Map<String, String> podsBefore = Workloads.uids(client, ns, "web");
    kubectlRolloutUndo(ns, "web", 2);
    awaitDeployment(
        ns, "web", x -> rolledOut(x) && "5".equals(x.getMetadata().getAnnotations().get(REVISION)));
    ReplicaSet reused = client.apps().replicaSets().inNamespace(ns).withName(rs2).get();
    assertEquals("5", reused.getMetadata().getAnnotations().get(REVISION));
    assertEquals(
        "2",
        reused.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision-history"));
    String hash = reused.getMetadata().getLabels().get(HASH);
    await()
        .atMost(10, SECONDS)
        .until(
            () ->
                Workloads.pods(client, ns, "web").stream()
                    .allMatch(p -> hash.equals(p.getMetadata().getLabels().get(HASH))));
    assertThat(Workloads.uids(client, ns, "web").values())
        .doesNotContainAnyElementsOf(podsBefore.values());
    assertThat(replicaSets(ns, "web").stream().map(DeploymentIT::revision).toList())
        .containsExactly(3L, 4L, 5L);
  }

  @Test
  void scalingDownRemovesPodsThatAreNotReadyFirst() {
    String ns = namespace("dscale");
    create(ns, Workloads.deployment("queue", 2, "queue:1"));
    Map<String, String> readyPods = Workloads.uids(client, ns, "queue");
    // From now on a new pod of this image takes an hour to start.
    sim.behaviours().image("queue:1", ImageBehaviour.startingIn(Duration.ofHours(1)));
    edit(ns, "queue", x -> x.getSpec().setReplicas(3));
    await().atMost(10, SECONDS).until(() -> Workloads.pods(client, ns, "queue").size() == 3);
    edit(ns, "queue", x -> x.getSpec().setReplicas(2));
    await().atMost(10, SECONDS).until(() -> Workloads.pods(client, ns, "queue").size() == 2);
    assertEquals(readyPods, Workloads.uids(client, ns, "queue"));
    sim.behaviours().image("queue:1", ImageBehaviour.OK);
  }

  /**
   * What {@code kubectl rollout undo --to-revision=N} sends: a JSON patch replacing the template
   * with the ReplicaSet's (minus its hash label) and the annotations with the ReplicaSet's.
   */
  private static void kubectlRolloutUndo(String ns, String name, long toRevision) {
    ReplicaSet target =
        replicaSets(ns, name).stream()
            .filter(rs -> revision(rs) == toRevision)
            .findFirst()
            .orElseThrow();
    var template = target.getSpec().getTemplate();
    template.getMetadata().getLabels().remove(HASH);
    Map<String, String> annotations = new HashMap<>(target.getMetadata().getAnnotations());
    Deployment current = get(ns, name);
    for (String key :
        List.of(
            REVISION,
            "deployment.kubernetes.io/revision-history",
            "deployment.kubernetes.io/desired-replicas",
            "deployment.kubernetes.io/max-replicas")) {
      annotations.remove(key);
      String own = current.getMetadata().getAnnotations().get(key);
      if (own != null) {
        annotations.put(key, own);
      }
    }
    String patch =
        "[{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":"
            + io.fabric8.kubernetes.client.utils.Serialization.asJson(template)
            + "},{\"op\":\"replace\",\"path\":\"/metadata/annotations\",\"value\":"
            + io.fabric8.kubernetes.client.utils.Serialization.asJson(annotations)
            + "}]";
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName(name)
        .patch(PatchContext.of(PatchType.JSON), patch);
  }
}
