package dev.lockstep.bench;

import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.kubesim.Kubesim;
import dev.lockstep.kubesim.RequestRecord;
import dev.lockstep.worker.WorkerRuntime;
import dev.lockstep.worker.WorkerSettings;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.UpgradeWorkflow;
import dev.lockstep.workflows.Upgrades;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.testserver.TestServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lockstep's benchmarks (issue 8), on the embedded stack: the Temporal test server, kubesim, and a
 * worker (in this JVM, or as its own process where its memory or its death is measured). They print
 * tables; they assert nothing. {@code java -jar bench/target/lockstep-bench.jar [B1..B6] [--full]
 * [--repeat N] [--sizes N,N] [--caches N,N] [--write docs/benchmarks.md]}.
 */
public final class Bench {
  private static final AtomicInteger NAMESPACES = new AtomicInteger();
  static final Path ROOT = Path.of(System.getProperty("lockstep.root", ".")).toAbsolutePath();

  final boolean full;
  final int repeat;
  final List<Integer> sizes;
  final List<Integer> caches;
  final List<Table> tables = new ArrayList<>();

  Bench(boolean full, int repeat) {
    this(full, repeat, List.of(), List.of());
  }

  /** {@code sizes} and {@code caches}, when not empty, replace B2/B3's rounds and B3's caches. */
  Bench(boolean full, int repeat, List<Integer> sizes, List<Integer> caches) {
    this.full = full;
    this.repeat = repeat;
    this.sizes = sizes;
    this.caches = caches;
  }

  private List<Integer> sizes(List<Integer> standard, List<Integer> fullSizes) {
    return !sizes.isEmpty() ? sizes : full ? fullSizes : standard;
  }

  /** One benchmark's table. */
  record Table(
      String id, String title, List<String> columns, List<List<String>> rows, String note) {
    String markdown() {
      StringBuilder s = new StringBuilder("### " + id + " " + title + "\n\n");
      s.append("| ").append(String.join(" | ", columns)).append(" |\n|");
      columns.forEach(c -> s.append("---|"));
      s.append('\n');
      for (List<String> row : rows) {
        s.append("| ").append(String.join(" | ", row)).append(" |\n");
      }
      if (note != null && !note.isEmpty()) {
        s.append('\n').append(note).append('\n');
      }
      return s.toString();
    }

    String text() {
      List<List<String>> all = new ArrayList<>();
      all.add(columns);
      all.addAll(rows);
      int[] widths = new int[columns.size()];
      for (List<String> row : all) {
        for (int i = 0; i < row.size(); i++) {
          widths[i] = Math.max(widths[i], row.get(i).length());
        }
      }
      StringBuilder s = new StringBuilder(id + " " + title + "\n");
      for (List<String> row : all) {
        for (int i = 0; i < row.size(); i++) {
          s.append(String.format(Locale.ROOT, "%-" + (widths[i] + 2) + "s", row.get(i)));
        }
        s.append('\n');
      }
      if (note != null && !note.isEmpty()) {
        s.append(note).append('\n');
      }
      return s.toString();
    }
  }

  // ---- the stack -----------------------------------------------------------------------------

  /** A StatefulSet of a benchmark. */
  record Sts(String namespace, String name) {
    Target target() {
      return Target.parse(namespace + "/sts/" + name, namespace);
    }
  }

  /** Temporal test server + kubesim, and a worker in this JVM unless told otherwise. */
  static final class Stack implements AutoCloseable {
    final TestServer.PortBoundTestServer temporal;
    final int temporalPort;
    final Kubesim sim;
    final KubernetesClient kube;
    final Path kubeconfig;
    final WorkflowServiceStubs service;
    final WorkflowClient client;
    final WorkerRuntime worker;

    Stack(Duration podStartup, boolean inProcessWorker) throws IOException {
      temporalPort = freePort();
      temporal = TestServer.createPortBoundServer(temporalPort, true);
      // Controllers act on changes; their look at everything (the safety net) comes every 30 s,
      // not kubesim's default 5 s, which at 10,000 StatefulSets would keep them busy.
      sim =
          Kubesim.builder()
              .podStartup(podStartup)
              .resync(Duration.ofSeconds(30))
              .requestLogCapacity(2_000_000)
              .start();
      kube = sim.client();
      kubeconfig = Files.createTempFile("lockstep-bench", ".kubeconfig");
      sim.writeKubeconfig(kubeconfig);
      service =
          WorkflowServiceStubs.newServiceStubs(
              WorkflowServiceStubsOptions.newBuilder()
                  .setTarget("localhost:" + temporalPort)
                  .build());
      client = WorkflowClient.newInstance(service);
      // Sticky execution on, as in production: no worker is killed where this worker runs.
      worker =
          inProcessWorker
              ? WorkerRuntime.start(
                  new WorkerSettings(
                      "default",
                      "localhost:" + temporalPort,
                      "default",
                      kubeconfig.toString(),
                      null,
                      "on",
                      Duration.ofSeconds(5),
                      5000,
                      WorkerSettings.DEFAULT_WORKFLOW_CACHE))
              : null;
    }

    String namespace() {
      String name = "bench-" + NAMESPACES.incrementAndGet();
      kube.namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
          .create();
      return name;
    }

    void statefulSet(String ns, String name, int replicas, String image) {
      StatefulSet sts =
          new StatefulSetBuilder()
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
              .withName("app")
              .withImage(image)
              .endContainer()
              .endSpec()
              .endTemplate()
              .endSpec()
              .build();
      kube.apps().statefulSets().inNamespace(ns).resource(sts).create();
    }

    /** Most StatefulSets per namespace in B2 and B3: a large cluster spreads them, too. */
    static final int PER_NAMESPACE = 100;

    /**
     * {@code n} StatefulSets named {@code prefix + i}, in namespaces of at most {@link
     * #PER_NAMESPACE}, every one settled.
     */
    List<Sts> statefulSets(String prefix, int n, int replicas, String image, Duration timeout)
        throws InterruptedException {
      List<Sts> all = new ArrayList<>();
      String ns = null;
      for (int i = 0; i < n; i++) {
        if (i % PER_NAMESPACE == 0) {
          ns = namespace();
        }
        statefulSet(ns, prefix + i, replicas, image);
        all.add(new Sts(ns, prefix + i));
      }
      Instant deadline = Instant.now().plus(timeout);
      for (String each : all.stream().map(Sts::namespace).distinct().toList()) {
        awaitSettled(
            each,
            (int) all.stream().filter(x -> x.namespace().equals(each)).count(),
            Duration.between(Instant.now(), deadline));
      }
      return all;
    }

    /** Waits (on the real condition, polled) until every StatefulSet in ns is settled. */
    void awaitSettled(String ns, int count, Duration timeout) throws InterruptedException {
      Instant deadline = Instant.now().plus(timeout);
      while (Instant.now().isBefore(deadline)) {
        long settled =
            kube.apps().statefulSets().inNamespace(ns).list().getItems().stream()
                .filter(Bench::settled)
                .count();
        if (settled >= count) {
          return;
        }
        Thread.sleep(100);
      }
      throw new IllegalStateException(ns + ": not settled within " + timeout);
    }

    Processes.Running workerProcess(String... extra) throws Exception {
      List<String> args =
          new ArrayList<>(
              List.of(
                  "--kubeconfig",
                  kubeconfig.toString(),
                  "--health-port",
                  "0",
                  "--temporal-address",
                  "localhost:" + temporalPort));
      args.addAll(List.of(extra));
      Processes.Running w =
          Processes.start(ROOT.resolve("worker/target/lockstep-worker.jar"), args);
      w.awaitLine("worker ready", Duration.ofSeconds(90));
      return w;
    }

    @Override
    public void close() {
      if (worker != null) {
        worker.close();
      }
      service.shutdownNow();
      sim.close();
      temporal.close();
    }
  }

  static boolean ready(io.fabric8.kubernetes.api.model.Pod p) {
    return p.getStatus() != null
        && p.getStatus().getConditions() != null
        && p.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  static boolean settled(StatefulSet s) {
    var st = s.getStatus();
    int replicas = s.getSpec().getReplicas();
    return st != null
        && st.getReadyReplicas() != null
        && st.getReadyReplicas() == replicas
        && st.getUpdatedReplicas() != null
        && st.getUpdatedReplicas() == replicas
        && st.getCurrentRevision() != null
        && st.getCurrentRevision().equals(st.getUpdateRevision())
        && st.getObservedGeneration() != null
        && st.getObservedGeneration() >= s.getMetadata().getGeneration();
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  static UpgradePlan plan(String ns, String name, String image, UpgradePlan.Gate gate) {
    return UpgradePlan.builder()
        .target(ns + "/statefulset/" + name)
        .cluster(Names.DEFAULT_CLUSTER)
        .images(Map.of("app", image))
        .gate(gate)
        .unitTimeout("10m")
        .build();
  }

  /** Starts the upgrade of a benchmark's StatefulSet to example/app:2.0; returns at its verdict. */
  static void startUpgrade(WorkflowClient client, Sts sts, UpgradePlan.Gate gate, String reason) {
    Upgrades.start(
        client,
        new UpgradeRequest(
            plan(sts.namespace(), sts.name(), "example/app:2.0", gate), "bench", reason, 30));
  }

  static UpgradeResult result(WorkflowClient client, String ns, String name, long seconds)
      throws Exception {
    return Upgrades.untyped(client, Names.DEFAULT_CLUSTER, Target.parse(ns + "/sts/" + name, ns))
        .getResult(seconds, TimeUnit.SECONDS, UpgradeResult.class);
  }

  static double median(List<Double> values) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  static double percentile(List<Double> values, double p) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int index = (int) Math.ceil(p * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }

  static String s(double seconds) {
    return String.format(Locale.ROOT, "%.2f s", seconds);
  }

  static String mib(long bytes) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%d MiB", bytes / (1024 * 1024));
  }

  // ---- B1 overhead, B4 cost per unit --------------------------------------------------------

  void b1AndB4() throws Exception {
    int units = 10;
    List<Double> floor = new ArrayList<>();
    List<Double> lockstep = new ArrayList<>();
    List<Double> eventsPerUnit = new ArrayList<>();
    List<Double> requestsPerUnit = new ArrayList<>();
    List<Double> writesPerUnit = new ArrayList<>();
    try (Stack stack = new Stack(Duration.ofSeconds(1), true)) {
      for (int r = 0; r < repeat; r++) {
        // The floor: the StatefulSet controller's own RollingUpdate of the same change.
        String ns = stack.namespace();
        stack.statefulSet(ns, "floor", units, "example/app:1.0");
        stack.statefulSet(ns, "lock", units, "example/app:1.0");
        stack.awaitSettled(ns, 2, Duration.ofMinutes(2));
        Instant began = Instant.now();
        stack
            .kube
            .apps()
            .statefulSets()
            .inNamespace(ns)
            .withName("floor")
            .edit(
                s -> {
                  s.getSpec()
                      .getTemplate()
                      .getSpec()
                      .getContainers()
                      .get(0)
                      .setImage("example/app:2.0");
                  return s;
                });
        Instant deadline = Instant.now().plus(Duration.ofMinutes(5));
        while (Instant.now().isBefore(deadline)) {
          StatefulSet s = stack.kube.apps().statefulSets().inNamespace(ns).withName("floor").get();
          if (settled(s)
              && s.getStatus().getUpdateRevision() != null
              && s.getMetadata().getGeneration() > 1) {
            break;
          }
          Thread.sleep(20);
        }
        floor.add(Duration.between(began, Instant.now()).toMillis() / 1000.0);

        long mark = stack.sim.requestLog().mark();
        began = Instant.now();
        Upgrades.Started started =
            Upgrades.start(
                stack.client,
                new UpgradeRequest(
                    plan(ns, "lock", "example/app:2.0", UpgradePlan.Gate.NONE), "bench", "B1", 30));
        UpgradeResult result = result(stack.client, ns, "lock", 600);
        lockstep.add(Duration.between(began, Instant.now()).toMillis() / 1000.0);
        if (result.phase() != Phase.COMPLETED) {
          throw new IllegalStateException(
              "B1 upgrade ended " + result.phase() + ": " + result.message());
        }
        var history = stack.client.fetchHistory(started.workflowId(), started.runId());
        int events = history.getEvents().size();
        if (r == repeat - 1) {
          // Where the time went, for whoever reads the console.
          System.out.print(
              dev.lockstep.workflows.Audit.render(
                  dev.lockstep.workflows.Audit.of(
                      started.runId(),
                      history.getEvents(),
                      io.temporal.common.converter.GlobalDataConverter.get(),
                      null)));
        }
        eventsPerUnit.add((double) events / units);
        List<RequestRecord> requests =
            stack.sim.requestLog().since(mark).stream()
                .filter(x -> ns.equals(x.namespace()) || x.namespace() == null)
                .toList();
        requestsPerUnit.add((double) requests.size() / units);
        writesPerUnit.add(
            (double) requests.stream().filter(RequestRecord::changedState).count() / units);
      }
    }
    double f = median(floor);
    double l = median(lockstep);
    tables.add(
        new Table(
            "B1",
            "overhead: 10 units, pods start in 1 s",
            List.of("run", "seconds (median of " + repeat + ")", "ratio to the floor"),
            List.of(
                List.of("StatefulSet RollingUpdate, no Lockstep (the floor)", s(f), "1.00"),
                List.of("Lockstep, gate none", s(l), String.format(Locale.ROOT, "%.3f", l / f))),
            "Target: ratio <= 1.05. Each run: "
                + floor
                + " s (floor), "
                + lockstep
                + " s (Lockstep)."));
    tables.add(
        new Table(
            "B4",
            "cost per unit (the B1 runs)",
            List.of("measure", "per unit (median)", "target"),
            List.of(
                List.of(
                    "Temporal history events",
                    String.format(Locale.ROOT, "%.1f", median(eventsPerUnit)),
                    "<= 12"),
                List.of(
                    "API requests by the worker (reads, writes, watch opens)",
                    String.format(Locale.ROOT, "%.1f", median(requestsPerUnit)),
                    "no polling"),
                List.of(
                    "of which writes",
                    String.format(Locale.ROOT, "%.1f", median(writesPerUnit)),
                    "")),
            "History events include the run's fixed steps (collect, prepare, finish, events), spread"
                + " over its 10 units; requests are counted from kubesim's request log over the"
                + " run, in the target's namespace and cluster-wide (nodes)."));
  }

  // ---- B2 concurrency, B3 gated -------------------------------------------------------------

  void b2() throws Exception {
    List<Integer> sizes = sizes(List.of(25, 50, 100), List.of(50, 200, 1000));
    List<List<String>> rows = new ArrayList<>();
    for (int n : sizes) {
      try (Stack stack = new Stack(Duration.ofSeconds(1), false)) {
        Processes.Running worker =
            stack.workerProcess("--sticky", "on", "--max-activities", "5000");
        try {
          List<Sts> sets = stack.statefulSets("s", n, 3, "example/app:1.0", Duration.ofMinutes(60));
          // Starts from 16 client threads, each returning at its verdict; results are awaited
          // asynchronously, so every upgrade runs at once, not 16 at a time.
          ExecutorService pool = Executors.newFixedThreadPool(16);
          List<CompletableFuture<Double>> done = new ArrayList<>();
          Instant began = Instant.now();
          long[] peakRss = {worker.rss()};
          for (Sts sts : sets) {
            done.add(
                CompletableFuture.supplyAsync(
                        () -> {
                          Instant start = Instant.now();
                          startUpgrade(stack.client, sts, UpgradePlan.Gate.NONE, "B2");
                          return start;
                        },
                        pool)
                    .thenCompose(
                        start ->
                            Upgrades.untyped(stack.client, Names.DEFAULT_CLUSTER, sts.target())
                                .getResultAsync(3600, TimeUnit.SECONDS, UpgradeResult.class)
                                .thenApply(
                                    r ->
                                        r.phase() == Phase.COMPLETED
                                            ? Duration.between(start, Instant.now()).toMillis()
                                                / 1000.0
                                            : -1.0))
                    .exceptionally(e -> -1.0));
          }
          while (!CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).isDone()) {
            peakRss[0] = Math.max(peakRss[0], worker.rss());
            Thread.sleep(500);
          }
          double wall = Duration.between(began, Instant.now()).toMillis() / 1000.0;
          pool.shutdown();
          List<Double> times = new ArrayList<>();
          int failures = 0;
          for (CompletableFuture<Double> d : done) {
            double t = d.join();
            if (t < 0) {
              failures++;
            } else {
              times.add(t);
            }
          }
          rows.add(
              List.of(
                  String.valueOf(n),
                  times.isEmpty() ? "n/a" : s(percentile(times, 0.5)),
                  times.isEmpty() ? "n/a" : s(percentile(times, 0.95)),
                  times.isEmpty() ? "n/a" : s(percentile(times, 1.0)),
                  s(wall),
                  String.valueOf(failures),
                  worker.heapUsed(),
                  mib(peakRss[0])));
        } finally {
          worker.close();
        }
      }
    }
    tables.add(
        new Table(
            "B2",
            "concurrent upgrades of 3 units on one worker (pods start in 1 s)",
            List.of(
                "upgrades",
                "p50",
                "p95",
                "max",
                "all done",
                "failures",
                "worker heap used (end)",
                "worker RSS (peak)"),
            rows,
            "Completion time per upgrade from its start to its result. All are started at once"
                + " from 16 client threads, each start returning at its verdict (inspect and"
                + " pre-checks, on the worker), and all then run together; \"all done\" is from the"
                + " first start to the last result. The worker is its own process (sticky execution"
                + " on, --max-activities 5000)."));
  }

  void b3() throws Exception {
    List<Integer> sizes = sizes(List.of(50, 100, 200), List.of(1000, 10_000));
    List<List<String>> rows = new ArrayList<>();
    List<Integer> cacheSizes = caches.isEmpty() ? List.of(600, 50) : caches;
    for (int cache : cacheSizes) {
      for (int n : sizes) {
        if (n >= 10_000 && cache != cacheSizes.get(0) && caches.isEmpty()) {
          // A 10,000 round takes most of an hour on two cores (the test server's bookkeeping is
          // linear in its open workflows); --full runs it with the first cache only.
          continue;
        }
        try (Stack stack = new Stack(Duration.ofMillis(200), false)) {
          Processes.Running worker =
              stack.workerProcess(
                  "--sticky",
                  "on",
                  "--max-activities",
                  "5000",
                  "--workflow-cache",
                  String.valueOf(cache));
          try {
            List<Sts> sets =
                stack.statefulSets("g", n, 2, "example/app:1.0", Duration.ofMinutes(120));
            long idleRss = worker.rss();
            ExecutorService pool = Executors.newFixedThreadPool(16);
            List<CompletableFuture<Void>> starts = new ArrayList<>();
            for (Sts sts : sets) {
              starts.add(
                  CompletableFuture.runAsync(
                      () -> startUpgrade(stack.client, sts, UpgradePlan.Gate.FIRST, "B3"), pool));
            }
            CompletableFuture.allOf(starts.toArray(CompletableFuture[]::new)).join();
            // Every upgrade waits at its gate once its first unit runs the new version.
            Instant deadline = Instant.now().plus(Duration.ofMinutes(120));
            for (String ns : sets.stream().map(Sts::namespace).distinct().toList()) {
              long expected = sets.stream().filter(x -> x.namespace().equals(ns)).count();
              while (Instant.now().isBefore(deadline)) {
                long waiting =
                    stack.kube.pods().inNamespace(ns).list().getItems().stream()
                        .filter(p -> p.getSpec().getContainers().get(0).getImage().endsWith(":2.0"))
                        .filter(Bench::ready)
                        .count();
                if (waiting >= expected) {
                  break;
                }
                Thread.sleep(500);
              }
            }
            // Let the gates be reached (the workflows' tasks after the unit) before measuring.
            Thread.sleep(5000);
            String heap = worker.liveHeap();
            long waitingRss = worker.rss();
            long threads = worker.threads();
            Instant resumed = Instant.now();
            // Resumed from 16 client threads (each resume returns once accepted); the results
            // are awaited asynchronously, so they all run on together.
            List<CompletableFuture<Boolean>> done = new ArrayList<>();
            for (Sts sts : sets) {
              Target target = sts.target();
              done.add(
                  CompletableFuture.runAsync(
                          () ->
                              Upgrades.of(stack.client, Names.DEFAULT_CLUSTER, target)
                                  .resume(new SteerRequest("bench", "B3")),
                          pool)
                      .thenCompose(
                          v ->
                              Upgrades.untyped(stack.client, Names.DEFAULT_CLUSTER, target)
                                  .getResultAsync(3600, TimeUnit.SECONDS, UpgradeResult.class))
                      .thenApply(r -> r.phase() == Phase.COMPLETED)
                      .exceptionally(e -> false));
            }
            long failures = done.stream().map(CompletableFuture::join).filter(ok -> !ok).count();
            double resumeAll = Duration.between(resumed, Instant.now()).toMillis() / 1000.0;
            pool.shutdown();
            // The control: the same worker, its watch caches as full, no upgrade waiting.
            String heapAfter = worker.liveHeap();
            rows.add(
                List.of(
                    String.valueOf(n),
                    String.valueOf(cache),
                    mib(idleRss),
                    mib(waitingRss),
                    heap,
                    heapAfter,
                    String.valueOf(threads),
                    s(resumeAll),
                    String.valueOf(failures)));
          } finally {
            worker.close();
          }
        }
      }
    }
    tables.add(
        new Table(
            "B3",
            "upgrades waiting at a gate (2 units, pods start in 0.2 s)",
            List.of(
                "waiting",
                "workflow cache",
                "worker RSS before",
                "worker RSS while they wait",
                "live heap while they wait",
                "live heap once all completed",
                "worker threads",
                "resume all until all COMPLETED",
                "failures"),
            rows,
            "Target: worker memory independent of the number waiting. A waiting upgrade holds no"
                + " activity and makes no API call; the Java SDK keeps each cached workflow on a"
                + " parked thread, up to the worker's workflow cache (600 by default), and replays"
                + " evicted ones from history when resumed. Live heap is measured after a full"
                + " collection; it includes the worker's watch caches (every pod and StatefulSet"
                + " of the watched namespaces: 100 StatefulSets of 2 pods each per namespace)."
                + " Upgrades are started from 16 client threads (each start returns at its verdict)"
                + " and resumed from 16; --full runs 10,000 with the default cache only."));
  }

  // ---- B5 recovery ---------------------------------------------------------------------------

  void b5() throws Exception {
    List<List<String>> rows = new ArrayList<>();
    int heartbeat = 5;
    List<Double> restart = new ArrayList<>();
    List<Double> moving = new ArrayList<>();
    try (Stack stack = new Stack(Duration.ofSeconds(1), false)) {
      stack
          .sim
          .behaviours()
          .image("example/app:2.0", ImageBehaviour.startingIn(Duration.ofSeconds(4)));
      for (int r = 0; r < repeat; r++) {
        Processes.Running worker = stack.workerProcess();
        String ns = stack.namespace();
        stack.statefulSet(ns, "svc", 3, "example/app:1.0");
        stack.awaitSettled(ns, 1, Duration.ofMinutes(2));
        Upgrades.start(
            stack.client,
            new UpgradeRequest(
                plan(ns, "svc", "example/app:2.0", UpgradePlan.Gate.NONE),
                "bench",
                "B5",
                heartbeat));
        UpgradeWorkflow w =
            Upgrades.of(stack.client, Names.DEFAULT_CLUSTER, Target.parse(ns + "/sts/svc", ns));
        while (true) {
          UpgradeStatus st = w.status();
          if (st.units().size() == 3
              && st.units().get(1).state() == dev.lockstep.workflows.UnitState.UPGRADING) {
            break;
          }
          Thread.sleep(50);
        }
        Instant killed = Instant.now();
        worker.kill();
        Processes.Running next = stack.workerProcess();
        restart.add(Duration.between(killed, Instant.now()).toMillis() / 1000.0);
        while (w.status().units().get(1).state() != dev.lockstep.workflows.UnitState.UPGRADED) {
          Thread.sleep(50);
        }
        moving.add(Duration.between(killed, Instant.now()).toMillis() / 1000.0);
        result(stack.client, ns, "svc", 300);
        next.close();
      }
    }
    rows.add(List.of(s(median(restart)), s(median(moving)), heartbeat + " s"));
    tables.add(
        new Table(
            "B5",
            "recovery: worker SIGKILLed mid-unit, a new one started",
            List.of(
                "kill to new worker ready",
                "kill to the unit done and the upgrade moving on",
                "heartbeat timeout"),
            rows,
            "Medians of "
                + repeat
                + ". The unit takes 4 s to start; the dead worker's activity moves to the new worker"
                + " once the heartbeat timeout passes, so recovery is bounded by"
                + " max(new worker start, heartbeat timeout) plus what is left of the unit."
                + " Runs: "
                + moving));
  }

  // ---- B6 CLI --------------------------------------------------------------------------------

  void b6() throws Exception {
    Path cli = ROOT.resolve("starter/target/lockstep-cli.jar");
    List<Double> help = new ArrayList<>();
    List<Double> status = new ArrayList<>();
    try (Stack stack = new Stack(Duration.ofMillis(200), true)) {
      String ns = stack.namespace();
      stack.statefulSet(ns, "svc", 3, "example/app:1.0");
      stack.awaitSettled(ns, 1, Duration.ofMinutes(2));
      Upgrades.start(
          stack.client,
          new UpgradeRequest(
              plan(ns, "svc", "example/app:2.0", UpgradePlan.Gate.FIRST), "bench", "B6", 30));
      Map<String, String> env = Map.of("TEMPORAL_ADDRESS", "localhost:" + stack.temporalPort);
      for (int r = 0; r < Math.max(5, repeat); r++) {
        help.add(Processes.time(cli, env, "--help"));
        status.add(Processes.time(cli, env, "status", ns + "/statefulset/svc"));
      }
    }
    tables.add(
        new Table(
            "B6",
            "CLI wall time",
            List.of("command", "median", "max"),
            List.of(
                List.of("lockstep --help", s(median(help)), s(percentile(help, 1.0))),
                List.of("lockstep status TARGET", s(median(status)), s(percentile(status, 1.0)))),
            "A new JVM per call (java -jar lockstep-cli.jar), as a user runs it."));
  }

  // ---- main ----------------------------------------------------------------------------------

  static String machine() {
    Runtime rt = Runtime.getRuntime();
    return System.getProperty("os.name")
        + " "
        + System.getProperty("os.arch")
        + ", "
        + rt.availableProcessors()
        + " cores, "
        + mib(totalMemory())
        + " RAM, Java "
        + System.getProperty("java.version")
        + " ("
        + System.getProperty("java.vm.name")
        + ")";
  }

  private static long totalMemory() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      // not Linux
    }
    return -1;
  }

  private static List<Integer> numbers(String list) {
    List<Integer> numbers = new ArrayList<>();
    for (String n : list.split(",")) {
      numbers.add(Integer.parseInt(n.trim()));
    }
    return numbers;
  }

  public static void main(String[] args) throws Exception {
    List<String> which = new ArrayList<>();
    Path write = null;
    boolean full = false;
    int repeat = 3;
    List<Integer> sizes = List.of();
    List<Integer> caches = List.of();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--write" -> write = Path.of(args[++i]);
        case "--full" -> full = true;
        case "--repeat" -> repeat = Integer.parseInt(args[++i]);
        case "--sizes" -> sizes = numbers(args[++i]);
        case "--caches" -> caches = numbers(args[++i]);
        default -> {
          if (!args[i].matches("B[1-6]")) {
            System.err.println(
                "lockstep bench: unknown argument '"
                    + args[i]
                    + "': B1..B6, --full, --repeat N, --sizes N,N, --caches N,N, --write FILE");
            System.exit(2);
          }
          which.add(args[i]);
        }
      }
    }
    if (which.isEmpty()) {
      which.addAll(List.of("B1", "B2", "B3", "B4", "B5", "B6"));
    }
    Bench bench = new Bench(full, repeat, sizes, caches);
    Instant began = Instant.now();
    if (which.contains("B1") || which.contains("B4")) {
      bench.b1AndB4();
    }
    if (which.contains("B2")) {
      bench.b2();
    }
    if (which.contains("B3")) {
      bench.b3();
    }
    if (which.contains("B5")) {
      bench.b5();
    }
    if (which.contains("B6")) {
      bench.b6();
    }
    System.out.println("Machine: " + machine());
    for (Table t : bench.tables) {
      System.out.println();
      System.out.print(t.text());
    }
    if (write != null) {
      String stamp =
          Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MINUTES)
              + (full ? ", --full" : "")
              + ", repeat "
              + repeat;
      StringBuilder md = new StringBuilder();
      md.append("## Results\n\nMeasured ")
          .append(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS))
          .append(" on: ")
          .append(machine())
          .append(". Benchmarks run: ")
          .append(which)
          .append(full ? " (--full)" : "")
          .append(", in ")
          .append(Duration.between(began, Instant.now()).toMinutes())
          .append(" min.\n\n");
      for (Table t : bench.tables) {
        md.append(t.markdown()).append('\n');
      }
      String doc = Files.exists(write) ? Files.readString(write) : "";
      int at = doc.indexOf("## Results");
      String head = at >= 0 ? doc.substring(0, at) : doc;
      // Tables of benchmarks not run this time stay as they were, with their own dates.
      Map<String, String> kept = new java.util.TreeMap<>();
      if (at >= 0) {
        String[] parts = doc.substring(at).split("(?m)^(?=### B[1-6] )");
        for (String part : parts) {
          if (part.startsWith("### B")) {
            kept.put(part.substring(4, 6), part.strip() + "\n");
          }
        }
      }
      for (Table t : bench.tables) {
        kept.put(
            t.id(),
            "### "
                + t.id()
                + " "
                + t.title()
                + " ("
                + stamp
                + ")"
                + t.markdown().substring(t.markdown().indexOf('\n')));
      }
      md.setLength(0);
      md.append("## Results\n\nMachine: ").append(machine()).append(".\n\n");
      kept.values().forEach(v -> md.append(v).append('\n'));
      Files.writeString(write, head + md);
      System.out.println("\nwrote " + write);
    }
    System.exit(0);
  }
}
