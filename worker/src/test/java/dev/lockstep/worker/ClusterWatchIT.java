package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.lockstep.activities.ClusterWatch;
import dev.lockstep.kubesim.FaultRule;
import dev.lockstep.kubesim.RequestRecord;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shared watches against kubesim: a wait is about one StatefulSet, is woken by its own objects'
 * changes (not by its neighbours'), and sees only its own pods. The tick is an hour, so a wait that
 * returns was woken by a change.
 */
class ClusterWatchIT {
  private static UpgradeHarness h;
  private static KubernetesClient kube;
  private static String ns;

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(100));
    kube = h.kube;
    ns = h.namespace();
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  /** Whether {@code changes} heard a change, without waiting for one. */
  private static boolean heard(ClusterWatch.Changes changes) throws InterruptedException {
    return changes.await(Duration.ZERO, waited -> {});
  }

  /** Waits for a change; the tick and the safety are an hour, so only a change ends it. */
  private static void woken(ClusterWatch.Changes changes) throws Exception {
    CompletableFuture.runAsync(
            () -> {
              try {
                changes.await(Duration.ofHours(1), waited -> {});
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            })
        .get(30, java.util.concurrent.TimeUnit.SECONDS);
  }

  @Test
  void aDeploymentWaitIsWokenByItsDeploymentItsCanaryAndTheirPodsNotByANeighbour()
      throws Exception {
    String here = h.namespace();
    h.deployment(here, "web", 1, "example/app:1.0");
    h.deployment(here, "api", 1, "example/app:1.0");
    try (ClusterWatch watch = new ClusterWatch(kube, Duration.ofHours(1));
        ClusterWatch.Changes web = watch.deploymentChanges(here, "web");
        ClusterWatch.Changes api = watch.deploymentChanges(here, "api")) {
      // The informers' first list wakes both; then they are quiet until something changes.
      woken(web);
      woken(api);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> kube.pods().inNamespace(here).list().getItems().size() == 2);
      while (web.await(Duration.ofMillis(300), waited -> {})
          || api.await(Duration.ofMillis(300), waited -> {})) {
        // drain the first list's events
      }

      // The neighbour's pod changes: the neighbour's wait is woken, not this one.
      kube.pods()
          .inNamespace(here)
          .withLabel("app", "api")
          .list()
          .getItems()
          .forEach(p -> kube.pods().resource(p).edit(q -> label(q, "touch", "1")));
      woken(api);
      assertThat(heard(web)).isFalse();

      // Its own pod, its Deployment, and a canary named after it each wake it.
      kube.pods()
          .inNamespace(here)
          .withLabel("app", "web")
          .list()
          .getItems()
          .forEach(p -> kube.pods().resource(p).edit(q -> label(q, "touch", "1")));
      woken(web);
      kube.apps()
          .deployments()
          .inNamespace(here)
          .withName("web")
          .edit(
              d -> {
                d.getMetadata().setAnnotations(Map.of("touch", "1"));
                return d;
              });
      woken(web);
      h.deployment(here, "web-canary", 1, "example/app:2.0");
      woken(web);
    }
  }

  @Test
  void aWaitSeesItsOwnPodsAndIsWokenByThemNotByItsNeighbours() throws Exception {
    h.statefulSet(ns, "mine", 2, "example/app:1.0");
    h.statefulSet(ns, "theirs", 3, "example/app:1.0");

    try (ClusterWatch watch = new ClusterWatch(kube, Duration.ofHours(1))) {
      AtomicInteger mine = new AtomicInteger();
      AtomicInteger theirs = new AtomicInteger();
      List<List<String>> seen = new CopyOnWriteArrayList<>();
      CompletableFuture<String> waiting =
          waitFor(
              watch,
              "mine",
              view -> {
                mine.incrementAndGet();
                seen.add(
                    view.pods().stream().map(p -> p.getMetadata().getName()).sorted().toList());
              });
      CompletableFuture<String> neighbour =
          waitFor(watch, "theirs", view -> theirs.incrementAndGet());
      await().atMost(Duration.ofSeconds(30)).until(() -> mine.get() >= 1 && theirs.get() >= 1);
      assertThat(seen.get(seen.size() - 1)).containsExactly("mine-0", "mine-1");

      // The neighbour's pods change, one at a time: each wakes the neighbour's wait, none mine.
      int before = mine.get();
      for (int i = 0; i < 5; i++) {
        int looked = theirs.get();
        String value = String.valueOf(i);
        kube.pods()
            .inNamespace(ns)
            .withName("theirs-" + (i % 3))
            .edit(p -> label(p, "touch", value));
        await().atMost(Duration.ofSeconds(30)).until(() -> theirs.get() > looked);
      }
      assertThat(mine.get()).isEqualTo(before);

      // A change to its own pod wakes it.
      kube.pods().inNamespace(ns).withName("mine-0").edit(p -> label(p, "touch", "1"));
      await().atMost(Duration.ofSeconds(30)).until(() -> mine.get() > before);

      // Its StatefulSet's change answers it.
      go("mine");
      assertThat(assertTimeoutPreemptively(Duration.ofSeconds(30), () -> waiting.get()))
          .isEqualTo("now");
      go("theirs");
      assertThat(assertTimeoutPreemptively(Duration.ofSeconds(30), () -> neighbour.get()))
          .isEqualTo("now");
    }
  }

  @Test
  void aWaitWhoseWatchMeetsA410ListsAgainAndSeesWhatChangedMeanwhile() throws Exception {
    // A real server drops a version from its watch cache only after minutes of changes; kubesim
    // can be told to (compaction), and to cut its watches (a dying API server).
    UpgradeHarness.onlyInKubesimLane(
        "ClusterWatchIT.aWaitWhoseWatchMeetsA410...: kubesim lane only (a real API server expires"
            + " a watch's version only after minutes)");
    dev.lockstep.kubesim.Kubesim sim = h.cluster.sim().orElseThrow();
    h.statefulSet(ns, "relisted", 1, "example/app:1.0");
    try (ClusterWatch watch = new ClusterWatch(kube, Duration.ofHours(1))) {
      AtomicInteger looks = new AtomicInteger();
      CompletableFuture<String> waiting =
          waitFor(watch, "relisted", view -> looks.incrementAndGet());
      await().atMost(Duration.ofSeconds(30)).until(() -> looks.get() >= 1);
      long expired = sim.expiredWatches();

      // The API server dies: the informers try to watch again, and cannot yet...
      long mark = sim.requestLog().mark();
      sim.faults().set(List.of(new FaultRule("watch", "*", 1.0, List.of(503), 0)));
      try {
        sim.dropWatches();
        await().atMost(Duration.ofSeconds(30)).until(() -> watchesRefused(sim, mark));
        // ... and meanwhile the awaited change happens and the history before it is compacted:
        // the version the informers will watch from is gone.
        go("relisted");
        sim.compact();
      } finally {
        sim.faults().clear();
      }
      // Their watch is answered 410 Expired; they list again, and so the wait sees the change.
      assertThat(assertTimeoutPreemptively(Duration.ofSeconds(60), () -> waiting.get()))
          .isEqualTo("now");
      assertThat(sim.expiredWatches()).isGreaterThan(expired);
    }
  }

  @Test
  void anUpgradeUnitWhoseWaitMeetsA410StillCompletes() {
    UpgradeHarness.onlyInKubesimLane(
        "ClusterWatchIT.anUpgradeUnitWhoseWaitMeetsA410...: kubesim lane only (a real API server"
            + " expires a watch's version only after minutes)");
    dev.lockstep.kubesim.Kubesim sim = h.cluster.sim().orElseThrow();
    h.statefulSet(ns, "unit410", 2, "example/unit410:1.0");
    sim.behaviours()
        .image(
            "example/unit410:2.0",
            dev.lockstep.kubesim.ImageBehaviour.startingIn(Duration.ofSeconds(3)));
    String target = ns + "/statefulset/unit410";
    h.start(
        dev.lockstep.workflows.UpgradePlan.builder()
            .target(target)
            .cluster(UpgradeHarness.CLUSTER)
            .images(Map.of("unit410", "example/unit410:2.0"))
            .gate(dev.lockstep.workflows.UpgradePlan.Gate.NONE)
            .unitTimeout("2m")
            .build());
    // The first unit's new pod is starting: its wait is on.
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> image("unit410-1").equals("example/unit410:2.0"));
    long expired = sim.expiredWatches();
    long mark = sim.requestLog().mark();
    sim.faults().set(List.of(new FaultRule("watch", "*", 1.0, List.of(503), 0)));
    try {
      // The API server dies; the worker's informers try to watch again, and cannot yet...
      sim.dropWatches();
      await().atMost(Duration.ofSeconds(30)).until(() -> watchesRefused(sim, mark));
      // ... while the unit's pod gets Ready, and the history of it is compacted away.
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                Pod pod = kube.pods().inNamespace(ns).withName("unit410-1").get();
                return pod != null
                    && pod.getStatus().getConditions().stream()
                        .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
              });
      sim.compact();
    } finally {
      sim.faults().clear();
    }
    dev.lockstep.workflows.UpgradeResult result = h.result(target);
    assertThat(result.phase())
        .as(result.message())
        .isEqualTo(dev.lockstep.workflows.Phase.COMPLETED);
    assertThat(h.revisions(ns, "unit410").values()).containsOnly(result.status().toRevision());
    assertThat(sim.expiredWatches()).as("the worker's watches met a 410").isGreaterThan(expired);
  }

  /**
   * Whether both informers of the namespace (pods, StatefulSets) tried to watch since {@code mark}
   * and were refused: from then on, the version they will watch from is fixed.
   */
  private static boolean watchesRefused(dev.lockstep.kubesim.Kubesim sim, long mark) {
    return sim.requestLog().since(mark).stream()
        .filter(r -> r.verb().equals("watch") && r.status() == 503 && r.namespace().equals(ns))
        .map(RequestRecord::resource)
        .collect(java.util.stream.Collectors.toSet())
        .containsAll(List.of("pods", "statefulsets"));
  }

  private static String image(String pod) {
    Pod found = kube.pods().inNamespace(ns).withName(pod).get();
    return found == null ? "" : found.getSpec().getContainers().get(0).getImage();
  }

  /** Waits, with an hour's tick, until the StatefulSet carries the annotation "go". */
  private static CompletableFuture<String> waitFor(
      ClusterWatch watch, String set, Consumer<ClusterWatch.View> look) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return watch.await(
                ns,
                set,
                Instant.now().plus(Duration.ofHours(1)),
                view -> {
                  look.accept(view);
                  return view.statefulSet(set)
                      .map(s -> s.getMetadata().getAnnotations())
                      .map(a -> a.get("go"));
                },
                waited -> {});
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
  }

  private static void go(String set) {
    kube.apps()
        .statefulSets()
        .inNamespace(ns)
        .withName(set)
        .edit(
            s -> {
              s.getMetadata().setAnnotations(Map.of("go", "now"));
              return s;
            });
  }

  private static Pod label(Pod pod, String key, String value) {
    pod.getMetadata().getLabels().put(key, value);
    return pod;
  }

  @Test
  void aWaitWhereTheWorkerMayNotWatchFailsWithTheRefusalNotATimeout() {
    // kubesim has no RBAC: only a real API server refuses the worker.
    h.onlyInRealLane(
        "ClusterWatchIT.aWaitWhereTheWorkerMayNotWatch...: real lane only (kubesim has no RBAC)");
    String forbidden = "forbidden" + ns.substring(ns.indexOf('-'));
    h.refusalsExpected(forbidden);
    // Made by the admin, without the worker's Role: the worker may not list or watch here.
    kube.namespaces()
        .resource(
            new io.fabric8.kubernetes.api.model.NamespaceBuilder()
                .withNewMetadata()
                .withName(forbidden)
                .endMetadata()
                .build())
        .create();
    try (ClusterWatch watch = new ClusterWatch(h.cluster.worker(), Duration.ofMillis(100))) {
      Throwable refused =
          org.junit.jupiter.api.Assertions.assertThrows(
              io.temporal.failure.ApplicationFailure.class,
              () ->
                  watch.await(
                      forbidden,
                      "db",
                      Instant.now().plus(Duration.ofMinutes(2)),
                      view -> java.util.Optional.empty(),
                      waited -> {}));
      assertThat(refused.getMessage())
          .contains("cannot watch pods and StatefulSets in " + forbidden)
          .contains("forbidden");
    } finally {
      kube.namespaces().withName(forbidden).delete();
    }
  }
}
