package dev.lockstep.activities;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Shared watches of the cluster, one pod informer and one StatefulSet informer per namespace, for
 * every activity of the worker: a thousand activities waiting for pods cost two watches on the API
 * server, not a thousand polls. A wait is about one StatefulSet: it re-evaluates its condition when
 * that StatefulSet or one of its pods changes (and at a steady tick, to heartbeat), and reads its
 * pods through an index, so a thousand waits in one namespace cost what their own objects cost.
 */
public final class ClusterWatch implements AutoCloseable {
  private final KubernetesClient client;
  private final Duration tick;
  private final ConcurrentMap<String, Namespace> namespaces = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, DeploymentNamespace> deploymentNamespaces =
      new ConcurrentHashMap<>();

  /** What a waiting activity can read: the informers' caches, never the API server. */
  public interface View {
    Optional<StatefulSet> statefulSet(String name);

    Optional<Pod> pod(String name);

    /** The pods of the StatefulSet the wait is about: those it controls, and those named as its. */
    List<Pod> pods();
  }

  /** The index of pods by the StatefulSet they belong to. */
  private static final String BY_SET = "statefulset";

  /** A StatefulSet pod's name: the set's name, a dash, the ordinal. */
  static final Pattern ORDINAL = Pattern.compile("(.+)-(\\d+)");

  /**
   * The StatefulSets a pod concerns: its controller's name when that is a StatefulSet, and the name
   * its own name says (set-N), so that a pod that lost its owner still wakes the wait.
   */
  static List<String> setsOf(Pod pod) {
    List<String> sets = new ArrayList<>(2);
    if (pod.getMetadata().getOwnerReferences() != null) {
      for (OwnerReference ref : pod.getMetadata().getOwnerReferences()) {
        if ("StatefulSet".equals(ref.getKind()) && Boolean.TRUE.equals(ref.getController())) {
          sets.add(ref.getName());
        }
      }
    }
    Matcher m = ORDINAL.matcher(pod.getMetadata().getName());
    if (m.matches() && !sets.contains(m.group(1))) {
      sets.add(m.group(1));
    }
    return sets;
  }

  /** One step of a wait: either the answer, or what to report while waiting. */
  public interface Step<T> {
    /** Evaluates the state; may act (idempotently). Empty means "not yet". */
    Optional<T> evaluate(View view);
  }

  /** Told on every tick, with the time waited so far; may throw to stop the wait (cancel). */
  public interface Heartbeat {
    void beat(Duration waited);
  }

  private static final class Namespace {
    final SharedIndexInformer<Pod> pods;
    final SharedIndexInformer<StatefulSet> sets;

    /** Waits by the StatefulSet they are about. */
    final ConcurrentMap<String, Set<Semaphore>> waiters = new ConcurrentHashMap<>();

    final String name;
    java.util.concurrent.CompletableFuture<Void> synced;

    /** The last refusal no retry changes (403, 401, ...) of a list or watch, until both synced. */
    volatile io.fabric8.kubernetes.client.KubernetesClientException refused;

    Namespace(KubernetesClient client, String name) {
      this.name = name;
      this.pods = client.pods().inNamespace(name).runnableInformer(0);
      pods.addIndexers(Map.of(BY_SET, ClusterWatch::setsOf));
      this.sets = client.apps().statefulSets().inNamespace(name).runnableInformer(0);
      // The API server's errors (500, 429, 409 on a watch, a dropped connection) pass: the
      // informers list and watch again, backing off. By default some of them stop an informer for
      // good, which would leave every wait on this namespace blind. A refusal (403: the worker may
      // not watch here) is kept, so that a wait fails with it instead of timing out blind.
      pods.exceptionHandler(this::retry);
      sets.exceptionHandler(this::retry);
      pods.addEventHandler(
          new ResourceEventHandler<>() {
            @Override
            public void onAdd(Pod pod) {
              setsOf(pod).forEach(Namespace.this::wake);
            }

            @Override
            public void onUpdate(Pod before, Pod after) {
              setsOf(before).forEach(Namespace.this::wake);
              setsOf(after).forEach(Namespace.this::wake);
            }

            @Override
            public void onDelete(Pod pod, boolean deletedFinalStateUnknown) {
              setsOf(pod).forEach(Namespace.this::wake);
            }
          });
      sets.addEventHandler(
          new ResourceEventHandler<>() {
            @Override
            public void onAdd(StatefulSet set) {
              wake(set.getMetadata().getName());
            }

            @Override
            public void onUpdate(StatefulSet before, StatefulSet after) {
              wake(after.getMetadata().getName());
            }

            @Override
            public void onDelete(StatefulSet set, boolean deletedFinalStateUnknown) {
              wake(set.getMetadata().getName());
            }
          });
    }

    private boolean retry(boolean started, Throwable error) {
      // The refusal may come wrapped (a CompletionException, a WatcherException).
      for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
        io.fabric8.kubernetes.client.KubernetesClientException e =
            t instanceof io.fabric8.kubernetes.client.WatcherException w
                ? w.asClientException()
                : t instanceof io.fabric8.kubernetes.client.KubernetesClientException k ? k : null;
        if (e != null && ApiErrors.isFinal(e)) {
          refused = e;
          wakeAll();
          break;
        }
      }
      return true;
    }

    void wake(String set) {
      Set<Semaphore> waiting = waiters.get(set);
      if (waiting != null) {
        waiting.forEach(Semaphore::release);
      }
    }

    void wakeAll() {
      waiters.values().forEach(waiting -> waiting.forEach(Semaphore::release));
    }

    void add(String set, Semaphore waiter) {
      waiters.computeIfAbsent(set, s -> new CopyOnWriteArraySet<>()).add(waiter);
    }

    void remove(String set, Semaphore waiter) {
      waiters.computeIfPresent(
          set,
          (s, waiting) -> {
            waiting.remove(waiter);
            return waiting.isEmpty() ? null : waiting;
          });
    }

    /** What a wait about {@code set} sees. */
    View view(String set) {
      return new View() {
        @Override
        public Optional<StatefulSet> statefulSet(String other) {
          return Namespace.this.statefulSet(other);
        }

        @Override
        public Optional<Pod> pod(String pod) {
          return Namespace.this.pod(pod);
        }

        @Override
        public List<Pod> pods() {
          return pods.getIndexer().byIndex(BY_SET, set);
        }
      };
    }

    /** Starts both informers; {@link #synced} completes when both have listed once. */
    void start() {
      synced =
          java.util.concurrent.CompletableFuture.allOf(
              pods.start().toCompletableFuture(), sets.start().toCompletableFuture());
      // The first list's events may reach waiters before the caches count as synced: wake them
      // once more when they do, or they would sleep a whole tick.
      synced.whenComplete((done, error) -> wakeAll());
    }

    /** Whether both informers still run (a stopped one is replaced). */
    boolean alive() {
      return pods.isRunning()
          && sets.isRunning()
          && !pods.stopped().toCompletableFuture().isDone()
          && !sets.stopped().toCompletableFuture().isDone();
    }

    Optional<StatefulSet> statefulSet(String set) {
      return Optional.ofNullable(sets.getStore().getByKey(name + "/" + set));
    }

    Optional<Pod> pod(String pod) {
      return Optional.ofNullable(pods.getStore().getByKey(name + "/" + pod));
    }

    void stop() {
      pods.stop();
      sets.stop();
    }
  }

  public ClusterWatch(KubernetesClient client, Duration tick) {
    this.client = client;
    this.tick = tick;
  }

  /** The namespace's informers, started if need be, and replaced if they stopped. */
  private Namespace namespace(String name) {
    return namespaces.compute(
        name,
        (n, existing) -> {
          if (existing != null && existing.alive()) {
            return existing;
          }
          if (existing != null) {
            existing.stop();
          }
          Namespace created = new Namespace(client, n);
          created.start();
          return created;
        });
  }

  /**
   * Waits until {@code step} gives an answer about the StatefulSet {@code set}, re-evaluating it
   * whenever the set or one of its pods changes, and at least every tick (when {@code heartbeat} is
   * told how long it has waited).
   *
   * @throws TimeoutException when {@code deadline} passes first
   */
  public <T> T await(
      String namespace, String set, Instant deadline, Step<T> step, Heartbeat heartbeat)
      throws TimeoutException, InterruptedException {
    return await(namespace, set, deadline, step, heartbeat, tick);
  }

  /**
   * As {@link #await(String, String, Instant, Step, Heartbeat)}, beating at least every {@code
   * beatEvery} (when shorter than the watch's own tick): a caller with a short heartbeat timeout
   * asks for it.
   */
  public <T> T await(
      String namespace,
      String set,
      Instant deadline,
      Step<T> step,
      Heartbeat heartbeat,
      Duration beatEvery)
      throws TimeoutException, InterruptedException {
    Duration tick = beatEvery.compareTo(this.tick) < 0 ? beatEvery : this.tick;
    Namespace ns = namespace(namespace);
    Semaphore changed = new Semaphore(0);
    ns.add(set, changed);
    Instant start = Instant.now();
    Instant lastBeat = start;
    // The first look waits a moment: a namespace's informers usually list within it.
    Instant lastProbe = start.minus(PROBE_EVERY).plusSeconds(1);
    try {
      while (true) {
        changed.drainPermits();
        if (ns.refused != null && (!ns.synced.isDone() || ns.synced.isCompletedExceptionally())) {
          throw ApiErrors.failure(ns.refused, "cannot watch pods and StatefulSets in " + namespace);
        }
        if (!ns.synced.isDone()
            && Duration.between(lastProbe, Instant.now()).compareTo(PROBE_EVERY) >= 0) {
          // Still not listed: ask the API server once why (the informers retry silently).
          lastProbe = Instant.now();
          probe(namespace);
        }
        if (!ns.alive() || ns.synced.isCompletedExceptionally()) {
          // Its informers stopped: start new ones and go on waiting on those.
          ns.remove(set, changed);
          ns = namespace(namespace);
          ns.add(set, changed);
        }
        // Until the informers have listed once, their caches say nothing: not yet.
        Optional<T> answer = ns.synced.isDone() ? step.evaluate(ns.view(set)) : Optional.empty();
        if (answer.isPresent()) {
          return answer.get();
        }
        Instant now = Instant.now();
        if (!now.isBefore(deadline)) {
          throw new TimeoutException("waited " + Duration.between(start, now).toSeconds() + "s");
        }
        // Beat at least every tick, however busy the namespace is.
        if (!Duration.between(lastBeat, now).minus(tick).isNegative()) {
          heartbeat.beat(Duration.between(start, now));
          lastBeat = now;
        }
        Duration left = Duration.between(now, deadline);
        Duration wait = left.compareTo(tick) < 0 ? left : tick;
        changed.tryAcquire(Math.max(1, wait.toMillis()), TimeUnit.MILLISECONDS);
      }
    } finally {
      ns.remove(set, changed);
    }
  }

  private static final Duration PROBE_EVERY = Duration.ofSeconds(10);

  /**
   * Lists one pod and one StatefulSet of the namespace: a refusal (403: the worker may not read
   * there) fails the wait with the API server's message instead of letting it time out blind.
   * Anything else (a 5xx, a timeout) is left to the informers' own retries.
   */
  private void probe(String namespace) {
    try {
      client
          .pods()
          .inNamespace(namespace)
          .list(new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withLimit(1L).build());
      client
          .apps()
          .statefulSets()
          .inNamespace(namespace)
          .list(new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withLimit(1L).build());
    } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
      ApiErrors.count(e);
      if (ApiErrors.isFinal(e)) {
        throw ApiErrors.failure(e, "cannot watch pods and StatefulSets in " + namespace);
      }
    }
  }

  // ---- Deployments ------------------------------------------------------------------------------

  /**
   * The changes of one Deployment's objects, for a wait that reads them from the API server: it
   * reads once per change, not on a timer. Register ({@link #deploymentChanges}) before the first
   * read: a change during a read is not lost, it ends the next {@link #await} at once.
   */
  public interface Changes extends AutoCloseable {
    /**
     * Returns at the first change since the last await returned (or since registering), or after
     * {@code atMost} (the safety re-read), beating {@code heartbeat} every tick meanwhile. The
     * changes of a burst end one await, not one each.
     *
     * @return whether a change ended it
     */
    boolean await(Duration atMost, Heartbeat heartbeat) throws InterruptedException;

    @Override
    void close();
  }

  /**
   * Whether an object named {@code object} may concern the Deployment {@code deployment}: the
   * Deployment itself and those named after it (its canary {@code NAME-canary}, its preview), its
   * ReplicaSets ({@code NAME-HASH}) and their pods ({@code NAME-HASH-SUFFIX}). Too wide at worst (a
   * Deployment {@code NAME-x} wakes the waits on {@code NAME}), which costs a read, never a missed
   * change.
   */
  static boolean concerns(String object, String deployment) {
    return object.equals(deployment) || object.startsWith(deployment + "-");
  }

  /** One Deployment, one ReplicaSet and one pod informer for the namespace's Deployment waits. */
  private static final class DeploymentNamespace {
    final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    final ConcurrentMap<String, Set<Semaphore>> waiters = new ConcurrentHashMap<>();

    DeploymentNamespace(KubernetesClient client, String name) {
      informers.add(watched(client.apps().deployments().inNamespace(name).runnableInformer(0)));
      informers.add(watched(client.apps().replicaSets().inNamespace(name).runnableInformer(0)));
      informers.add(watched(client.pods().inNamespace(name).runnableInformer(0)));
    }

    private <T extends io.fabric8.kubernetes.api.model.HasMetadata> SharedIndexInformer<T> watched(
        SharedIndexInformer<T> informer) {
      // Errors pass (the informer lists and watches again): a wait that hears nothing still
      // re-reads at its safety interval, so a refused watch slows it, never blinds it.
      informer.exceptionHandler((started, error) -> true);
      informer.addEventHandler(
          new ResourceEventHandler<T>() {
            @Override
            public void onAdd(T object) {
              wake(object.getMetadata().getName());
            }

            @Override
            public void onUpdate(T before, T after) {
              wake(after.getMetadata().getName());
            }

            @Override
            public void onDelete(T object, boolean deletedFinalStateUnknown) {
              wake(object.getMetadata().getName());
            }
          });
      return informer;
    }

    void wake(String object) {
      waiters.forEach(
          (deployment, waiting) -> {
            if (concerns(object, deployment)) {
              waiting.forEach(Semaphore::release);
            }
          });
    }

    void start() {
      informers.forEach(SharedIndexInformer::start);
    }

    boolean alive() {
      return informers.stream()
          .allMatch(i -> i.isRunning() && !i.stopped().toCompletableFuture().isDone());
    }

    void stop() {
      informers.forEach(SharedIndexInformer::stop);
    }
  }

  /**
   * Starts hearing the changes of the Deployment {@code deployment} in {@code namespace} (and of
   * what {@link #concerns} it): the namespace's informers are started on the first call and shared
   * by every wait after it.
   */
  public Changes deploymentChanges(String namespace, String deployment) {
    DeploymentNamespace ns =
        deploymentNamespaces.compute(
            namespace,
            (n, existing) -> {
              if (existing != null && existing.alive()) {
                return existing;
              }
              if (existing != null) {
                existing.stop();
              }
              DeploymentNamespace created = new DeploymentNamespace(client, n);
              created.start();
              return created;
            });
    Semaphore changed = new Semaphore(0);
    ns.waiters.computeIfAbsent(deployment, d -> new CopyOnWriteArraySet<>()).add(changed);
    return new Changes() {
      @Override
      public boolean await(Duration atMost, Heartbeat heartbeat) throws InterruptedException {
        Instant start = Instant.now();
        Instant until = start.plus(atMost);
        while (true) {
          Duration left = Duration.between(Instant.now(), until);
          Duration wait = left.compareTo(tick) < 0 ? left : tick;
          if (changed.tryAcquire(Math.max(0, wait.toMillis()), TimeUnit.MILLISECONDS)) {
            // The read that follows sees every change heard so far.
            changed.drainPermits();
            return true;
          }
          if (!Instant.now().isBefore(until)) {
            return false;
          }
          heartbeat.beat(Duration.between(start, Instant.now()));
        }
      }

      @Override
      public void close() {
        ns.waiters.computeIfPresent(
            deployment,
            (d, waiting) -> {
              waiting.remove(changed);
              return waiting.isEmpty() ? null : waiting;
            });
      }
    };
  }

  @Override
  public void close() {
    namespaces.values().forEach(Namespace::stop);
    namespaces.clear();
    deploymentNamespaces.values().forEach(DeploymentNamespace::stop);
    deploymentNamespaces.clear();
  }
}
