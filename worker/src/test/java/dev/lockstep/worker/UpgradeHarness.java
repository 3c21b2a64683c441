package dev.lockstep.worker;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.awaitility.Awaitility.await;

import dev.lockstep.activities.ClusterActivitiesImpl;
import dev.lockstep.activities.ClusterWatch;
import dev.lockstep.kubesim.lane.TestCluster;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.UpgradeWorkflow;
import dev.lockstep.workflows.UpgradeWorkflowImpl;
import dev.lockstep.workflows.Upgrades;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * An upgrade test bench: a cluster in this run's lane ({@link TestCluster}: kubesim, or a real API
 * server with hollow nodes, where the worker is a ServiceAccount with docs/worker.md's RBAC), the
 * Temporal test server (sticky execution off, as in the dev stack, so a replaced worker takes
 * over), and workers running the real workflow and activities.
 */
final class UpgradeHarness implements AutoCloseable {
  static final String CLUSTER = Names.DEFAULT_CLUSTER;
  private static final AtomicInteger NAMESPACES = new AtomicInteger();
  private static final String RUN =
      "-" + Long.toString(System.currentTimeMillis() % 1_000_000_000L, 36);

  final TestCluster cluster;

  /** The test's own client, with every right; the worker has its own ({@link #cluster}). */
  final KubernetesClient kube;

  final TestWorkflowEnvironment env;
  final WorkflowClient client;
  private final List<WorkerFactory> factories = new ArrayList<>();
  private final List<ClusterWatch> watches = new ArrayList<>();
  private final List<ClusterActivitiesImpl> activities = new ArrayList<>();
  private final List<Watch> podWatches = new ArrayList<>();
  private final List<String> namespaces = new ArrayList<>();
  private final java.util.Set<String> refusalsExpected =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** The workers' default notification targets: set, then {@link #replaceWorkers()}. */
  volatile dev.lockstep.activities.WorkerNotify notify = dev.lockstep.activities.WorkerNotify.NONE;

  UpgradeHarness(Duration podStartup) {
    this(podStartup, null);
  }

  /** A bench whose workers report their metrics to {@code metrics} (null: none). */
  UpgradeHarness(Duration podStartup, com.uber.m3.tally.Scope metrics) {
    this(podStartup, metrics, true);
  }

  /**
   * A bench with no worker yet when {@code startWorker} is false: the test starts its own with
   * {@link #startWorker(KubernetesClient)}, e.g. as a ServiceAccount it made itself.
   */
  UpgradeHarness(Duration podStartup, com.uber.m3.tally.Scope metrics, boolean startWorker) {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        TestCluster.unavailable().isEmpty(), () -> TestCluster.unavailable().orElse(""));
    cluster = TestCluster.start(podStartup);
    kube = cluster.admin();
    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder()
                .setUseTimeskipping(false)
                .setMetricsScope(metrics)
                .setWorkflowServiceStubsOptions(
                    WorkflowServiceStubsOptions.newBuilder()
                        .setGrpcClientInterceptors(List.of(new StickyExecutionDisabled()))
                        .build())
                .build());
    client = env.getWorkflowClient();
    // What the worker does at start: register Lockstep's search attributes where they are missing.
    dev.lockstep.workflows.SearchAttributes.ensure(env.getWorkflowServiceStubs(), "default");
    if (startWorker) {
      startWorker();
    }
  }

  /**
   * Skips the calling test (or class) in the real lane, saying why in one line: for what only
   * kubesim can do, such as injecting API errors.
   */
  static void onlyInKubesimLane(String why) {
    if (TestCluster.realLane()) {
      System.err.println(why);
      org.junit.jupiter.api.Assumptions.abort(why);
    }
  }

  /** Skips the calling test in the kubesim lane, saying why in one line: kubesim cannot do it. */
  void onlyInRealLane(String why) {
    if (cluster.sim().isPresent()) {
      System.err.println(why);
      org.junit.jupiter.api.Assumptions.abort(why);
    }
  }

  /** Starts one more worker (its own factory) polling the cluster's task queue. */
  WorkerFactory startWorker() {
    return startWorker(cluster.worker());
  }

  /** {@link #startWorker()} with {@code kube} as the worker's Kubernetes client. */
  WorkerFactory startWorker(KubernetesClient kube) {
    WorkerFactory factory =
        WorkerFactory.newInstance(
            client,
            io.temporal.worker.WorkerFactoryOptions.newBuilder()
                .setWorkerInterceptors(new dev.lockstep.activities.ApiErrorCounter())
                .build());
    Worker worker = factory.newWorker(Names.taskQueue(CLUSTER));
    worker.registerWorkflowImplementationTypes(
        UpgradeWorkflowImpl.class,
        dev.lockstep.workflows.PlanWorkflowImpl.class,
        dev.lockstep.workflows.HistoryWorkflowImpl.class,
        dev.lockstep.workflows.ReleasePlanWorkflowImpl.class,
        dev.lockstep.workflows.ReleaseRecordsWorkflowImpl.class,
        dev.lockstep.workflows.ReleaseWorkflowImpl.class);
    ClusterWatch watch = new ClusterWatch(kube, Duration.ofMillis(250));
    watches.add(watch);
    ClusterActivitiesImpl acting = new ClusterActivitiesImpl(kube, watch, notify);
    activities.add(acting);
    worker.registerActivitiesImplementations(
        acting,
        new dev.lockstep.activities.NotificationsImpl(notify),
        new dev.lockstep.activities.helm.HelmActivitiesImpl(
            kube, dev.lockstep.activities.helm.HelmCalls.DEFAULT_TIMEOUT));
    factory.start();
    factories.add(factory);
    return factory;
  }

  /**
   * Where the cluster's request log stands once every Event the workers' steps handed over to be
   * told after they returned (a unit's {@code UnitUpgraded}) has been told: what is written after
   * this mark is what came next, not an earlier run's story arriving late.
   */
  long mark() {
    for (ClusterActivitiesImpl each : activities) {
      try {
        if (!each.awaitToldEvents(Duration.ofSeconds(30))) {
          throw new AssertionError("the worker's Events were not told within 30 s");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
    return cluster.requests().mark();
  }

  /**
   * The writes since {@code mark} to namespace {@code ns} or to cluster-scoped objects: not those
   * of another test's namespace.
   */
  List<dev.lockstep.kubesim.RequestRecord> writesSince(long mark, String ns) {
    return cluster.requests().writesSince(mark).stream()
        .filter(r -> r.namespace().isEmpty() || r.namespace().equals(ns))
        .toList();
  }

  /**
   * Kills every worker as abruptly as the SDK allows (running activities are interrupted and never
   * report back), then starts a new one: what a SIGKILLed worker and its replacement look like to
   * Temporal.
   */
  void replaceWorkers() {
    replaceWorkers(cluster.worker());
  }

  /** {@link #replaceWorkers()}, the new worker with {@code kube} as its Kubernetes client. */
  void replaceWorkers(KubernetesClient kube) {
    for (WorkerFactory factory : factories) {
      factory.shutdownNow();
      factory.awaitTermination(10, SECONDS);
    }
    factories.clear();
    startWorker(kube);
  }

  String namespace() {
    // A real cluster may be shared with earlier runs: its namespaces get this run's suffix.
    String name = "test-" + NAMESPACES.incrementAndGet() + (cluster.sim().isPresent() ? "" : RUN);
    cluster.createNamespace(name);
    namespaces.add(name);
    return name;
  }

  /**
   * Deletes the namespaces made so far and waits until their pods are gone: in the real lane the
   * nodes are shared by every test of the run, and a test that measures their room needs them
   * empty. (kubesim starts empty for every harness.)
   */
  void deleteNamespaces() {
    if (cluster.sim().isPresent()) {
      return;
    }
    for (String ns : namespaces) {
      kube.namespaces().withName(ns).delete();
    }
    for (String ns : namespaces) {
      kube.pods().inNamespace(ns).informOnCondition(List::isEmpty).orTimeout(60, SECONDS).join();
    }
    namespaces.clear();
  }

  StatefulSet statefulSet(String ns, String name, int replicas, String image) {
    return createReady(ns, statefulSetSpec(name, replicas, image));
  }

  /** A StatefulSet of one container named after it, {@code app=NAME}, not yet created. */
  static StatefulSet statefulSetSpec(String name, int replicas, String image) {
    return new StatefulSetBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withReplicas(replicas)
        .withServiceName(name)
        .withNewSelector()
        .addToMatchLabels("app", name)
        .endSelector()
        .withNewTemplate()
        .withNewMetadata()
        .addToLabels("app", name)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName(name)
        .withImage(image)
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  StatefulSet createReady(String ns, StatefulSet sts) {
    kube.apps().statefulSets().inNamespace(ns).resource(sts).create();
    String name = sts.getMetadata().getName();
    int replicas = sts.getSpec().getReplicas();
    await()
        .atMost(30, SECONDS)
        .until(
            () -> {
              var s = kube.apps().statefulSets().inNamespace(ns).withName(name).get().getStatus();
              return s != null
                  && s.getReadyReplicas() != null
                  && s.getReadyReplicas() == replicas
                  && s.getCurrentRevision() != null
                  && s.getCurrentRevision().equals(s.getUpdateRevision());
            });
    return kube.apps().statefulSets().inNamespace(ns).withName(name).get();
  }

  /**
   * A Deployment of one container named after it, {@code app=NAME}, rolling at most one pod over
   * and none under its replicas, created and rolled out.
   */
  io.fabric8.kubernetes.api.model.apps.Deployment deployment(
      String ns, String name, int replicas, String image) {
    var d =
        new io.fabric8.kubernetes.api.model.apps.DeploymentBuilder()
            .withNewMetadata()
            .withName(name)
            .endMetadata()
            .withNewSpec()
            .withReplicas(replicas)
            .withNewSelector()
            .addToMatchLabels("app", name)
            .endSelector()
            .withNewStrategy()
            .withType("RollingUpdate")
            .withNewRollingUpdate()
            .withNewMaxSurge(1)
            .withNewMaxUnavailable(0)
            .endRollingUpdate()
            .endStrategy()
            .withNewTemplate()
            .withNewMetadata()
            .addToLabels("app", name)
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName(name)
            .withImage(image)
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    kube.apps().deployments().inNamespace(ns).resource(d).create();
    await()
        .atMost(30, SECONDS)
        .until(
            () -> {
              var s = kube.apps().deployments().inNamespace(ns).withName(name).get().getStatus();
              return s != null
                  && s.getAvailableReplicas() != null
                  && s.getAvailableReplicas() == replicas
                  && s.getUpdatedReplicas() != null
                  && s.getUpdatedReplicas() == replicas
                  && s.getReplicas() == replicas;
            });
    return kube.apps().deployments().inNamespace(ns).withName(name).get();
  }

  static UpgradePlan plan(String target, String container, String image, UpgradePlan.Gate gate) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(CLUSTER)
        .images(Map.of(container, image))
        .gate(gate)
        .unitTimeout("2m")
        .build();
  }

  Upgrades.Started start(UpgradePlan plan) {
    return start(plan, 5);
  }

  Upgrades.Started start(UpgradePlan plan, int heartbeatSeconds) {
    return Upgrades.start(
        client, new UpgradeRequest(plan, "alice@laptop", "test", heartbeatSeconds));
  }

  UpgradeWorkflow upgrade(String target) {
    return Upgrades.of(client, CLUSTER, Target.parse(target, "default"));
  }

  UpgradeStatus awaitPhase(String target, Phase phase) {
    await().atMost(60, SECONDS).until(() -> upgrade(target).status().phase() == phase);
    return upgrade(target).status();
  }

  UpgradeStatus awaitStatus(String target, Predicate<UpgradeStatus> condition) {
    await().atMost(60, SECONDS).until(() -> condition.test(upgrade(target).status()));
    return upgrade(target).status();
  }

  UpgradeResult result(String target) {
    try {
      return Upgrades.untyped(client, CLUSTER, Target.parse(target, "default"))
          .getResult(90, SECONDS, UpgradeResult.class);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(
          "the upgrade of " + target + " did not end in 90s: " + upgrade(target).status(), e);
    }
  }

  /** Every pod event in a namespace, in order: who appeared on which revision, with which uid. */
  PodHistory watchPods(String ns) {
    PodHistory history = new PodHistory();
    podWatches.add(kube.pods().inNamespace(ns).watch(history));
    return history;
  }

  static final class PodHistory implements Watcher<Pod> {
    /** One pod event, with when it was received ({@link System#nanoTime}). */
    record Event(Action action, String pod, String uid, String revision, boolean ready, long at) {}

    final List<Event> events = Collections.synchronizedList(new ArrayList<>());

    @Override
    public void eventReceived(Action action, Pod pod) {
      events.add(
          new Event(
              action,
              pod.getMetadata().getName(),
              pod.getMetadata().getUid(),
              pod.getMetadata().getLabels().get("controller-revision-hash"),
              ready(pod),
              System.nanoTime()));
    }

    @Override
    public void onClose(WatcherException cause) {}

    static boolean ready(Pod pod) {
      return pod.getStatus() != null
          && "Running".equals(pod.getStatus().getPhase())
          && pod.getStatus().getConditions().stream()
              .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
    }

    /** Pods in the order they first appeared on a revision. */
    List<String> arrivals(String revision) {
      List<String> pods = new ArrayList<>();
      synchronized (events) {
        for (Event e : events) {
          if (e.action() == Action.ADDED
              && revision.equals(e.revision())
              && !pods.contains(e.pod())) {
            pods.add(e.pod());
          }
        }
      }
      return pods;
    }

    /** When {@code pod} was first seen Ready on {@code revision} (nanoTime), or -1. */
    long readyAt(String pod, String revision) {
      synchronized (events) {
        return events.stream()
            .filter(e -> e.pod().equals(pod) && revision.equals(e.revision()) && e.ready())
            .mapToLong(Event::at)
            .min()
            .orElse(-1);
      }
    }

    /** When {@code pod} on another revision than {@code revision} was first deleted, or -1. */
    long replacedAt(String pod, String revision) {
      synchronized (events) {
        return events.stream()
            .filter(
                e ->
                    e.pod().equals(pod)
                        && e.action() == Action.DELETED
                        && !revision.equals(e.revision()))
            .mapToLong(Event::at)
            .min()
            .orElse(-1);
      }
    }

    /** How many distinct pods (uids) a name had on a revision. */
    long incarnations(String pod, String revision) {
      synchronized (events) {
        return events.stream()
            .filter(e -> e.pod().equals(pod) && revision.equals(e.revision()))
            .map(Event::uid)
            .distinct()
            .count();
      }
    }
  }

  Map<String, String> revisions(String ns, String app) {
    Map<String, String> revisions = new java.util.TreeMap<>();
    for (Pod pod : kube.pods().inNamespace(ns).withLabel("app", app).list().getItems()) {
      revisions.put(
          pod.getMetadata().getName(),
          pod.getMetadata().getLabels().get("controller-revision-hash"));
    }
    return revisions;
  }

  @Override
  public void close() {
    podWatches.forEach(Watch::close);
    for (WorkerFactory factory : factories) {
      factory.shutdownNow();
    }
    env.close();
    watches.forEach(ClusterWatch::close);
    List<dev.lockstep.kubesim.RequestRecord> refused = List.of();
    if (cluster.sim().isEmpty()) {
      // The shared real cluster: what this class made must not take the next one's room.
      namespaces.forEach(ns -> kube.namespaces().withName(ns).delete());
      refused = refused();
    }
    cluster.close();
    if (!refused.isEmpty()) {
      throw new AssertionError(
          "the worker's rights (docs/worker.md) refused "
              + refused.size()
              + " request(s), e.g. "
              + refused.stream()
                  .limit(5)
                  .map(
                      r ->
                          r.status() + " " + r.verb() + " " + r.resource() + " in " + r.namespace())
                  .distinct()
                  .toList());
    }
  }

  /**
   * Says that the worker may be refused (401/403) in namespace {@code ns}: the test made it without
   * the worker's Role, to see the refusal.
   */
  void refusalsExpected(String ns) {
    refusalsExpected.add(ns);
  }

  /**
   * The worker's requests the real API server refused (401/403) outside the namespaces a test said
   * it would be refused in. In the real lane the worker runs with exactly docs/worker.md's rights,
   * so a right they lack fails the test class, even where a step passes over the refusal (it would
   * pass over it in every user's cluster too).
   */
  private List<dev.lockstep.kubesim.RequestRecord> refused() {
    return cluster.requests().all().stream()
        .filter(r -> r.status() == 401 || r.status() == 403)
        .filter(r -> !refusalsExpected.contains(r.namespace()))
        .toList();
  }
}
