package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Pins kubesim's StatefulSet controller to upstream semantics. */
class StatefulSetIT {
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
        .resource(
            new io.fabric8.kubernetes.api.model.NamespaceBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .build())
        .create();
    return name;
  }

  private static StatefulSet createReady(String ns, String name, int replicas, String image) {
    client
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .resource(Workloads.statefulSet(name, replicas, image))
        .create();
    awaitRolledOut(ns, name, replicas);
    return client.apps().statefulSets().inNamespace(ns).withName(name).get();
  }

  private static void awaitRolledOut(String ns, String name, int replicas) {
    awaitStatus(
        ns,
        name,
        s ->
            s.getReadyReplicas() == replicas
                && s.getReplicas() == replicas
                && s.getUpdatedReplicas() == replicas
                && s.getCurrentRevision().equals(s.getUpdateRevision()));
  }

  private static StatefulSetStatus status(String ns, String name) {
    return client.apps().statefulSets().inNamespace(ns).withName(name).get().getStatus();
  }

  /** Waits until the StatefulSet's status satisfies the condition. */
  private static void awaitStatus(
      String ns, String name, java.util.function.Predicate<StatefulSetStatus> condition) {
    await()
        .atMost(30, SECONDS)
        .until(
            () -> {
              StatefulSetStatus s = status(ns, name);
              return s != null && s.getReadyReplicas() != null && condition.test(s);
            });
  }

  private static void setImage(String ns, String name, String image) {
    client
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .withName(name)
        .edit(
            s -> {
              s.getSpec().getTemplate().getSpec().getContainers().get(0).setImage(image);
              return s;
            });
  }

  /** Records every pod event, in order, with the pod's revision and readiness. */
  private static final class PodEvents implements Watcher<Pod> {
    record Event(Watcher.Action action, String pod, String revision, boolean ready) {}

    final List<Event> events = Collections.synchronizedList(new ArrayList<>());

    @Override
    public void eventReceived(Action action, Pod pod) {
      events.add(
          new Event(
              action, pod.getMetadata().getName(), Workloads.revision(pod), Workloads.ready(pod)));
    }

    @Override
    public void onClose(WatcherException cause) {}

    /** Pods in the order they first appeared on a revision. */
    List<String> added(String revision) {
      return distinct(e -> e.action() == Action.ADDED && revision.equals(e.revision()));
    }

    /** Pods in the order they first were Ready on a revision. */
    List<String> readied(String revision) {
      return distinct(e -> e.ready() && revision.equals(e.revision()));
    }

    int first(java.util.function.Predicate<Event> p) {
      synchronized (events) {
        for (int i = 0; i < events.size(); i++) {
          if (p.test(events.get(i))) {
            return i;
          }
        }
      }
      return -1;
    }

    private List<String> distinct(java.util.function.Predicate<Event> p) {
      List<String> pods = new ArrayList<>();
      synchronized (events) {
        for (Event e : events) {
          if (p.test(e) && !pods.contains(e.pod())) {
            pods.add(e.pod());
          }
        }
      }
      return pods;
    }
  }

  @Test
  void createsOrderedReadyPodsOnOneRevision() {
    String ns = namespace("create");
    StatefulSet sts = createReady(ns, "web", 3, "nginx:1.25");

    List<Pod> pods = Workloads.pods(client, ns, "web");
    assertThat(pods)
        .extracting(p -> p.getMetadata().getName())
        .containsExactly("web-0", "web-1", "web-2");
    String revision = sts.getStatus().getUpdateRevision();
    assertThat(revision).matches("web-[4-9bcdf]{1,10}");
    assertThat(pods)
        .allSatisfy(
            p -> {
              assertThat(Workloads.revision(p)).isEqualTo(revision);
              assertThat(Workloads.ready(p)).isTrue();
              assertThat(p.getSpec().getHostname()).isEqualTo(p.getMetadata().getName());
              assertThat(p.getSpec().getSubdomain()).isEqualTo("web");
              assertThat(p.getSpec().getNodeName()).startsWith("kubesim-node-");
              assertThat(p.getMetadata().getLabels())
                  .containsEntry("statefulset.kubernetes.io/pod-name", p.getMetadata().getName())
                  .containsKey("apps.kubernetes.io/pod-index");
              assertThat(p.getMetadata().getOwnerReferences().get(0).getUid())
                  .isEqualTo(sts.getMetadata().getUid());
            });
    // OrderedReady: each pod was created after the previous one was Ready.
    assertThat(pods.get(1).getMetadata().getCreationTimestamp())
        .isGreaterThanOrEqualTo(
            pods.get(0).getStatus().getConditions().stream()
                .filter(c -> c.getType().equals("Ready"))
                .findFirst()
                .orElseThrow()
                .getLastTransitionTime());
    StatefulSetStatus status = sts.getStatus();
    assertEquals(3, status.getReplicas());
    assertEquals(3, status.getCurrentReplicas());
    assertEquals(3, status.getAvailableReplicas());
    assertEquals(sts.getMetadata().getGeneration(), status.getObservedGeneration());
    List<ControllerRevision> revisions =
        client.apps().controllerRevisions().inNamespace(ns).list().getItems();
    assertThat(revisions).hasSize(1);
    assertEquals(revision, revisions.get(0).getMetadata().getName());
    assertEquals(1L, revisions.get(0).getRevision());
  }

  @Test
  void partitionReplacesOnlyHigherOrdinalsHighestFirstEachAfterThePreviousIsReady()
      throws Exception {
    String ns = namespace("partition");
    StatefulSet sts = createReady(ns, "db", 5, "postgres:14.8");
    Map<String, String> before = Workloads.uids(client, ns, "db");
    String oldRevision = sts.getStatus().getCurrentRevision();
    client
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .withName("db")
        .edit(
            s -> {
              s.getSpec().getUpdateStrategy().getRollingUpdate().setPartition(3);
              return s;
            });
    PodEvents watcher = new PodEvents();
    try (Watch watch = client.pods().inNamespace(ns).watch(watcher)) {
      setImage(ns, "db", "postgres:14.9");
      awaitStatus(
          ns,
          "db",
          s ->
              !s.getUpdateRevision().equals(oldRevision)
                  && s.getUpdatedReplicas() == 2
                  && s.getReadyReplicas() == 5);
      String newRevision =
          client
              .apps()
              .statefulSets()
              .inNamespace(ns)
              .withName("db")
              .get()
              .getStatus()
              .getUpdateRevision();
      await().atMost(5, SECONDS).until(() -> watcher.readied(newRevision).size() == 2);
      assertThat(watcher.added(newRevision)).containsExactly("db-4", "db-3");
      assertThat(watcher.readied(newRevision)).containsExactly("db-4", "db-3");
      // db-3 was created only after db-4 was Ready on the new revision.
      int db4Ready =
          watcher.first(
              e -> e.pod().equals("db-4") && e.ready() && newRevision.equals(e.revision()));
      int db3Added =
          watcher.first(
              e ->
                  e.pod().equals("db-3")
                      && e.action() == Watcher.Action.ADDED
                      && newRevision.equals(e.revision()));
      assertTrue(db4Ready >= 0 && db3Added > db4Ready, watcher.events::toString);
      Map<String, String> revisions = Workloads.revisions(client, ns, "db");
      assertThat(revisions)
          .containsEntry("db-4", newRevision)
          .containsEntry("db-3", newRevision)
          .containsEntry("db-2", oldRevision)
          .containsEntry("db-1", oldRevision)
          .containsEntry("db-0", oldRevision);
      Map<String, String> after = Workloads.uids(client, ns, "db");
      for (String untouched : List.of("db-0", "db-1", "db-2")) {
        assertEquals(before.get(untouched), after.get(untouched), untouched + " was replaced");
      }
      StatefulSetStatus status =
          client.apps().statefulSets().inNamespace(ns).withName("db").get().getStatus();
      assertEquals(oldRevision, status.getCurrentRevision());
      assertEquals(3, status.getCurrentReplicas());
      assertEquals(2, status.getUpdatedReplicas());
    }
  }

  @Test
  void partitionZeroReplacesEveryPodHighestToLowestAndPromotesTheRevision() {
    String ns = namespace("rolling");
    createReady(ns, "web", 3, "nginx:1.25");
    String oldRevision =
        client
            .apps()
            .statefulSets()
            .inNamespace(ns)
            .withName("web")
            .get()
            .getStatus()
            .getCurrentRevision();
    PodEvents watcher = new PodEvents();
    try (Watch watch = client.pods().inNamespace(ns).watch(watcher)) {
      setImage(ns, "web", "nginx:1.26");
      awaitStatus(
          ns,
          "web",
          s ->
              !oldRevision.equals(s.getCurrentRevision())
                  && s.getUpdatedReplicas() == 3
                  && s.getReadyReplicas() == 3);
      String newRevision =
          client
              .apps()
              .statefulSets()
              .inNamespace(ns)
              .withName("web")
              .get()
              .getStatus()
              .getUpdateRevision();
      await().atMost(5, SECONDS).until(() -> watcher.added(newRevision).size() == 3);
      assertThat(watcher.added(newRevision)).containsExactly("web-2", "web-1", "web-0");
      StatefulSet sts = client.apps().statefulSets().inNamespace(ns).withName("web").get();
      assertEquals(sts.getStatus().getUpdateRevision(), sts.getStatus().getCurrentRevision());
      assertThat(client.apps().controllerRevisions().inNamespace(ns).list().getItems())
          .extracting(ControllerRevision::getRevision)
          .containsExactlyInAnyOrder(1L, 2L);
    }
  }

  @Test
  void onDeleteReplacesOnlyDeletedPods() {
    String ns = namespace("ondelete");
    client
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .resource(
            new io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder(
                    Workloads.statefulSet("od", 3, "redis:7.0"))
                .editSpec()
                .withNewUpdateStrategy()
                .withType("OnDelete")
                .endUpdateStrategy()
                .endSpec()
                .build())
        .create();
    awaitReady(ns, "od", 3);
    String oldRevision =
        client
            .apps()
            .statefulSets()
            .inNamespace(ns)
            .withName("od")
            .get()
            .getStatus()
            .getCurrentRevision();
    Map<String, String> before = Workloads.uids(client, ns, "od");
    setImage(ns, "od", "redis:7.2");
    await()
        .atMost(10, SECONDS)
        .until(
            () ->
                !oldRevision.equals(
                    client
                        .apps()
                        .statefulSets()
                        .inNamespace(ns)
                        .withName("od")
                        .get()
                        .getStatus()
                        .getUpdateRevision()));
    String newRevision =
        client
            .apps()
            .statefulSets()
            .inNamespace(ns)
            .withName("od")
            .get()
            .getStatus()
            .getUpdateRevision();
    // Nothing moves by itself: give the controller several resync chances.
    sim.resync();
    await()
        .during(Duration.ofMillis(600))
        .atMost(2, SECONDS)
        .until(() -> Workloads.uids(client, ns, "od").equals(before));
    client.pods().inNamespace(ns).withName("od-1").delete();
    await()
        .atMost(10, SECONDS)
        .until(
            () -> {
              Pod pod = client.pods().inNamespace(ns).withName("od-1").get();
              return pod != null
                  && newRevision.equals(Workloads.revision(pod))
                  && Workloads.ready(pod);
            });
    Map<String, String> revisions = Workloads.revisions(client, ns, "od");
    assertThat(revisions)
        .containsEntry("od-0", oldRevision)
        .containsEntry("od-1", newRevision)
        .containsEntry("od-2", oldRevision);
    StatefulSetStatus status =
        client.apps().statefulSets().inNamespace(ns).withName("od").get().getStatus();
    assertEquals(1, status.getUpdatedReplicas());
    // Up to Kubernetes 1.35, OnDelete never promotes currentRevision.
    assertEquals(oldRevision, status.getCurrentRevision());
  }

  private static void awaitReady(String ns, String name, int replicas) {
    awaitStatus(ns, name, s -> s.getReadyReplicas() == replicas);
  }

  @Test
  void aPodThatNeverBecomesReadyBlocksTheRolloutAndCrashLoops() {
    String ns = namespace("broken");
    createReady(ns, "app", 3, "example/app:1.0");
    Map<String, String> before = Workloads.uids(client, ns, "app");
    setImage(ns, "app", "example/app:1.1-broken");
    await()
        .atMost(20, SECONDS)
        .until(
            () -> {
              Pod pod = client.pods().inNamespace(ns).withName("app-2").get();
              return pod != null
                  && pod.getStatus().getContainerStatuses().size() == 1
                  && pod.getStatus().getContainerStatuses().get(0).getRestartCount() >= 2;
            });
    Pod broken = client.pods().inNamespace(ns).withName("app-2").get();
    assertEquals(
        "CrashLoopBackOff",
        broken.getStatus().getContainerStatuses().get(0).getState().getWaiting().getReason());
    assertEquals("Running", broken.getStatus().getPhase());
    assertThat(Workloads.ready(broken)).isFalse();
    Map<String, String> after = Workloads.uids(client, ns, "app");
    assertEquals(before.get("app-0"), after.get("app-0"));
    assertEquals(before.get("app-1"), after.get("app-1"));
    StatefulSetStatus status =
        client.apps().statefulSets().inNamespace(ns).withName("app").get().getStatus();
    assertEquals(1, status.getUpdatedReplicas());
    assertEquals(2, status.getReadyReplicas());
    assertThat(client.pods().inNamespace(ns).withName("app-2").getLog())
        .contains("exited with code 1");
  }

  @Test
  void scalesUpInOrderAndDownHighestFirstKeepingClaims() {
    String ns = namespace("scale");
    client
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .resource(
            new io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder(
                    Workloads.statefulSet("data", 2, "postgres:14.8"))
                .editSpec()
                .addNewVolumeClaimTemplate()
                .withNewMetadata()
                .withName("pgdata")
                .endMetadata()
                .withNewSpec()
                .withAccessModes("ReadWriteOnce")
                .withNewResources()
                .addToRequests("storage", new io.fabric8.kubernetes.api.model.Quantity("1Gi"))
                .endResources()
                .endSpec()
                .endVolumeClaimTemplate()
                .endSpec()
                .build())
        .create();
    awaitRolledOut(ns, "data", 2);
    assertThat(client.persistentVolumeClaims().inNamespace(ns).list().getItems())
        .extracting(c -> c.getMetadata().getName())
        .containsExactlyInAnyOrder("pgdata-data-0", "pgdata-data-1");
    Pod pod0 = client.pods().inNamespace(ns).withName("data-0").get();
    assertThat(pod0.getSpec().getVolumes())
        .anySatisfy(
            v -> assertEquals("pgdata-data-0", v.getPersistentVolumeClaim().getClaimName()));

    client.apps().statefulSets().inNamespace(ns).withName("data").scale(4);
    awaitRolledOut(ns, "data", 4);
    assertThat(Workloads.pods(client, ns, "data"))
        .extracting(p -> p.getMetadata().getName())
        .containsExactly("data-0", "data-1", "data-2", "data-3");

    client.apps().statefulSets().inNamespace(ns).withName("data").scale(1);
    awaitRolledOut(ns, "data", 1);
    assertThat(Workloads.pods(client, ns, "data"))
        .extracting(p -> p.getMetadata().getName())
        .containsExactly("data-0");
    // Claims are retained when pods go away (whenScaled: Retain).
    assertThat(client.persistentVolumeClaims().inNamespace(ns).list().getItems()).hasSize(4);
    assertThat(
            client
                .apps()
                .statefulSets()
                .inNamespace(ns)
                .withName("data")
                .scale()
                .getSpec()
                .getReplicas())
        .isEqualTo(1);
  }

  @Test
  void goingBackToAnOlderTemplateReusesItsRevision() {
    String ns = namespace("undo");
    StatefulSet sts = createReady(ns, "web", 2, "nginx:1.25");
    String first = sts.getStatus().getCurrentRevision();
    setImage(ns, "web", "nginx:1.26");
    awaitStatus(
        ns,
        "web",
        s ->
            !first.equals(s.getCurrentRevision())
                && s.getUpdatedReplicas() == 2
                && s.getReadyReplicas() == 2);
    setImage(ns, "web", "nginx:1.25");
    awaitStatus(
        ns,
        "web",
        s ->
            first.equals(s.getCurrentRevision())
                && s.getUpdatedReplicas() == 2
                && s.getReadyReplicas() == 2);
    ControllerRevision reused =
        client.apps().controllerRevisions().inNamespace(ns).withName(first).get();
    assertEquals(3L, reused.getRevision());
    assertThat(client.apps().controllerRevisions().inNamespace(ns).list().getItems()).hasSize(2);
  }

  @Test
  void refusesChangesToImmutableFieldsWith422() {
    String ns = namespace("immutable");
    createReady(ns, "web", 1, "nginx:1.25");
    KubernetesClientException e =
        assertThrows(
            KubernetesClientException.class,
            () ->
                client
                    .apps()
                    .statefulSets()
                    .inNamespace(ns)
                    .withName("web")
                    .edit(
                        s -> {
                          s.getSpec().setServiceName("other");
                          return s;
                        }));
    assertEquals(422, e.getCode());
    assertThat(e.getMessage())
        .contains(
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template',"
                + " 'updateStrategy'");
    assertEquals(
        "web",
        client
            .apps()
            .statefulSets()
            .inNamespace(ns)
            .withName("web")
            .get()
            .getSpec()
            .getServiceName());
  }

  @Test
  void aTemplateChangeOfASetWhoseClaimTemplatesWereWrittenWithoutTypeIsNoChangeOfOtherFields() {
    // As Helm creates it from a chart's YAML: the claim template has no apiVersion/kind of its
    // own. A typed client reads it back and writes it with apiVersion/kind filled in; the API
    // server ignores the type of an embedded object, so only the template changed.
    String ns = namespace("claims-typed");
    client
        .genericKubernetesResources("apps/v1", "StatefulSet")
        .inNamespace(ns)
        .resource(
            io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
                "apiVersion: apps/v1\n"
                    + "kind: StatefulSet\n"
                    + "metadata: {name: gw, namespace: "
                    + ns
                    + "}\n"
                    + "spec:\n"
                    + "  replicas: 1\n"
                    + "  serviceName: gw\n"
                    + "  selector: {matchLabels: {app: gw}}\n"
                    + "  template:\n"
                    + "    metadata: {labels: {app: gw}}\n"
                    + "    spec:\n"
                    + "      containers: [{name: gw, image: gw:1.0}]\n"
                    + "  volumeClaimTemplates:\n"
                    + "  - metadata: {name: data}\n"
                    + "    spec:\n"
                    + "      accessModes: [ReadWriteOnce]\n"
                    + "      resources: {requests: {storage: 1Gi}}\n",
                io.fabric8.kubernetes.api.model.GenericKubernetesResource.class))
        .create();
    // A whole-object update, as a typed client sends it (retried only when the controller's
    // status write got in between: 409).
    StatefulSet edited =
        await()
            .atMost(30, SECONDS)
            .ignoreExceptionsMatching(
                e -> e instanceof KubernetesClientException k && k.getCode() == 409)
            .until(
                () -> {
                  StatefulSet s = client.apps().statefulSets().inNamespace(ns).withName("gw").get();
                  s.getSpec().getTemplate().getSpec().getContainers().get(0).setImage("gw:1.1");
                  return client.apps().statefulSets().inNamespace(ns).resource(s).update();
                },
                java.util.Objects::nonNull);
    assertEquals(
        "gw:1.1", edited.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
  }
}
