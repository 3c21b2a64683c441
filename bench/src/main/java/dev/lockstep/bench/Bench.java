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
import dev.lockstep.workflows.UnitState;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeWorkflow;
import dev.lockstep.workflows.Upgrades;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatus;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.testserver.TestServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Lockstep's benchmarks (issue 8), on the embedded stack: the Temporal test server, kubesim, and a
 * worker (in this JVM, or as its own process where its memory or its death is measured). They print
 * tables; they assert nothing. {@code java -jar bench/target/lockstep-bench.jar [B1..B7] [--full]
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

  /** What each table says it was measured on (see {@link #commit}). */
  String commit = "unknown commit";

  /** The options that chose B2's and B3's sizes (--full, --sizes, --caches), as given. */
  String options = "";

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

  /**
   * Where and when a table was measured: the commit (with "-dirty" when the work tree differed from
   * it), its start and end, and what actually ran.
   */
  record Measured(String commit, Instant start, Instant end, String runs, String options) {
    String line() {
      return "Measured on "
          + commit
          + " from "
          + start.truncatedTo(ChronoUnit.SECONDS)
          + " to "
          + end.truncatedTo(ChronoUnit.SECONDS)
          + "; "
          + runs
          + (options.isEmpty() ? "" : "; options " + options)
          + ".";
    }
  }

  /** One benchmark's table; a row that could not be measured says FAILED and the note says why. */
  record Table(
      String id,
      String title,
      List<String> columns,
      List<List<String>> rows,
      String note,
      Measured measured) {
    Table(String id, String title, List<String> columns, List<List<String>> rows, String note) {
      this(id, title, columns, rows, note, null);
    }

    String markdown() {
      StringBuilder s = new StringBuilder("### " + id + " " + title + "\n\n");
      if (measured != null) {
        s.append(measured.line()).append("\n\n");
      }
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
      if (measured != null) {
        s.append(measured.line()).append('\n');
      }
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

  /** "1 run", "5 runs". */
  static String count(int n, String what) {
    return n + " " + what + (n == 1 ? "" : "s");
  }

  /** What a row shows when its benchmark could not measure it. */
  static final String FAILED = "FAILED";

  /** A benchmark could not measure: a condition it waits for did not come in time. */
  static final class NotMeasured extends RuntimeException {
    NotMeasured(String message) {
      super(message);
    }
  }

  /**
   * Polls {@code probe} every {@code every} until it answers (not null) and returns the answer;
   * throws {@link NotMeasured} naming {@code what} once {@code timeout} has passed. The one way the
   * benchmarks wait for a condition they cannot be told about.
   */
  static <T> T await(String what, Duration timeout, Duration every, Supplier<T> probe)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      T answer = probe.get();
      if (answer != null) {
        return answer;
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new NotMeasured(what + ": not within " + human(timeout));
      }
      Thread.sleep(every.toMillis());
    }
  }

  static String human(Duration d) {
    return d.toMinutes() > 0 && d.toSecondsPart() == 0
        ? d.toMinutes() + " min"
        : d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  /** The note's last sentence when rows failed: what could not be measured, and why. */
  static String failedNote(List<String> failures) {
    return failures.isEmpty() ? "" : " FAILED: " + String.join("; ", failures) + ".";
  }

  /**
   * {@code git rev-parse --short HEAD} of {@code root}, plus "-dirty" when tracked or untracked
   * files under it differ from that commit (the results file being written, {@code ignore}, does
   * not count); "unknown commit" outside a git work tree.
   */
  static String commit(Path root, Path ignore) {
    Path dir = root.toAbsolutePath().normalize();
    String head = git(dir, "rev-parse", "--short", "HEAD");
    if (head == null || head.isBlank()) {
      return "unknown commit";
    }
    List<String> status = new ArrayList<>(List.of("status", "--porcelain", "--", "."));
    if (ignore != null && ignore.toAbsolutePath().normalize().startsWith(dir)) {
      status.add(":(exclude)" + dir.relativize(ignore.toAbsolutePath().normalize()));
    }
    String changes = git(dir, status.toArray(String[]::new));
    return "commit "
        + head.strip()
        + (changes == null ? " (work tree unknown)" : changes.isBlank() ? "" : "-dirty");
  }

  /** What git printed, or null if it could not run or failed. */
  private static String git(Path dir, String... args) {
    List<String> command = new ArrayList<>(List.of("git", "-C", dir.toString()));
    command.addAll(List.of(args));
    try {
      Process p =
          new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 ? out : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** A table's provenance, from {@code start} until now. */
  Measured measured(Instant start, String runs) {
    return new Measured(commit, start, Instant.now(), runs, "");
  }

  /** The same, with the options that chose its sizes (B2, B3). */
  Measured measuredSized(Instant start, String runs) {
    return new Measured(commit, start, Instant.now(), runs, options);
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
      statefulSet(ns, name, replicas, image, Map.of());
    }

    /** A StatefulSet whose container requests {@code requests} (e.g. cpu 10m, memory 16Mi). */
    void statefulSet(
        String ns, String name, int replicas, String image, Map<String, String> requests) {
      ContainerBuilder container = new ContainerBuilder().withName("app").withImage(image);
      if (!requests.isEmpty()) {
        Map<String, Quantity> quantities = new java.util.LinkedHashMap<>();
        requests.forEach((k, v) -> quantities.put(k, new Quantity(v)));
        container.withNewResources().withRequests(quantities).endResources();
      }
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
              .addToContainers(container.build())
              .endSpec()
              .endTemplate()
              .endSpec()
              .build();
      kube.apps().statefulSets().inNamespace(ns).resource(sts).create();
    }

    /**
     * A Deployment of {@code replicas} pods (container "app", requesting {@code requests}) with the
     * Kubernetes default RollingUpdate written out (maxSurge 25%, maxUnavailable 25%), and the
     * Service selecting its pods.
     */
    void deploymentWithService(
        String ns, String name, int replicas, String image, Map<String, String> requests) {
      Map<String, Quantity> quantities = new LinkedHashMap<>();
      requests.forEach((k, v) -> quantities.put(k, new Quantity(v)));
      Deployment d =
          new DeploymentBuilder()
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
              .withNewMaxSurge("25%")
              .withNewMaxUnavailable("25%")
              .endRollingUpdate()
              .endStrategy()
              .withNewTemplate()
              .withNewMetadata()
              .addToLabels("app", name)
              .endMetadata()
              .withNewSpec()
              .addNewContainer()
              .withName("app")
              .withImage(image)
              .withNewResources()
              .withRequests(quantities)
              .endResources()
              .endContainer()
              .endSpec()
              .endTemplate()
              .endSpec()
              .build();
      kube.apps().deployments().inNamespace(ns).resource(d).create();
      kube.services()
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
    }

    /**
     * Waits (polled) until the Deployment has rolled out {@code image}: {@link #rolledOut} true,
     * and its Service's EndpointSlices hold every replica Ready.
     */
    void awaitRolledOut(String ns, String name, String image, Duration timeout)
        throws InterruptedException {
      await(
          ns + "/" + name + " rolled out on " + image + " behind its Service",
          timeout,
          Duration.ofMillis(50),
          () -> {
            Deployment d = kube.apps().deployments().inNamespace(ns).withName(name).get();
            return d != null
                    && rolledOut(d, replicaSets(ns), image)
                    && readyEndpoints(ns, name) == d.getSpec().getReplicas()
                ? Boolean.TRUE
                : null;
          });
    }

    List<ReplicaSet> replicaSets(String ns) {
      return kube.apps().replicaSets().inNamespace(ns).list().getItems();
    }

    /** The Ready endpoints of the Service {@code service} (kubesim serves discovery.k8s.io/v1). */
    int readyEndpoints(String ns, String service) {
      int ready = 0;
      for (EndpointSlice slice :
          kube.discovery()
              .v1()
              .endpointSlices()
              .inNamespace(ns)
              .withLabel("kubernetes.io/service-name", service)
              .list()
              .getItems()) {
        for (Endpoint e :
            slice.getEndpoints() == null ? List.<Endpoint>of() : slice.getEndpoints()) {
          if (e.getConditions() == null || !Boolean.FALSE.equals(e.getConditions().getReady())) {
            ready++;
          }
        }
      }
      return ready;
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
      await(
          ns + ": " + count + " StatefulSets settled",
          timeout,
          Duration.ofMillis(100),
          () ->
              kube.apps().statefulSets().inNamespace(ns).list().getItems().stream()
                          .filter(Bench::settled)
                          .count()
                      >= count
                  ? Boolean.TRUE
                  : null);
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

  /**
   * What B1's and B4's StatefulSets request, so that the capacity pre-check does its cluster-wide
   * reads (every node, every pod) as it does for any real workload that requests resources. Small
   * enough that the runs' pods, which stay in their namespaces, never fill kubesim's nodes.
   */
  static final Map<String, String> REQUESTS = Map.of("cpu", "10m", "memory", "16Mi");

  static double mean(List<Double> values) {
    return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
  }

  static String ratio(double value) {
    return String.format(Locale.ROOT, "%.3f", value);
  }

  static String perUnit(List<Double> values) {
    return String.format(Locale.ROOT, "%.1f", median(values));
  }

  static List<String> failedRow(String first, int cells) {
    List<String> row = new ArrayList<>(List.of(first));
    for (int i = 1; i < cells; i++) {
      row.add(FAILED);
    }
    return row;
  }

  void b1AndB4() throws Exception {
    Instant start = Instant.now();
    int units = 10;
    List<Double> floor = new ArrayList<>();
    List<Double> lockstep = new ArrayList<>();
    List<String> floorFailures = new ArrayList<>();
    List<String> lockstepFailures = new ArrayList<>();
    List<Double> eventsPerUnit = new ArrayList<>();
    List<Double> requestsPerUnit = new ArrayList<>();
    List<Double> writesPerUnit = new ArrayList<>();
    List<Double> clusterWidePerUnit = new ArrayList<>();
    List<RequestRecord> lastRequests = List.of();
    try (Stack stack = new Stack(Duration.ofSeconds(1), true)) {
      for (int r = 0; r < repeat; r++) {
        String run = "run " + (r + 1);
        String ns = stack.namespace();
        stack.statefulSet(ns, "floor", units, "example/app:1.0", REQUESTS);
        stack.statefulSet(ns, "lock", units, "example/app:1.0", REQUESTS);
        try {
          stack.awaitSettled(ns, 2, Duration.ofMinutes(2));
        } catch (NotMeasured e) {
          floorFailures.add(run + ": " + e.getMessage());
          lockstepFailures.add(run + ": " + e.getMessage());
          continue;
        }
        // The floor: the StatefulSet controller's own RollingUpdate of the same change.
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
        try {
          await(
              "the floor's RollingUpdate settled",
              Duration.ofMinutes(5),
              Duration.ofMillis(20),
              () -> {
                StatefulSet s =
                    stack.kube.apps().statefulSets().inNamespace(ns).withName("floor").get();
                return settled(s)
                        && s.getStatus().getUpdateRevision() != null
                        && s.getMetadata().getGeneration() > 1
                    ? Boolean.TRUE
                    : null;
              });
          floor.add(Duration.between(began, Instant.now()).toMillis() / 1000.0);
        } catch (NotMeasured e) {
          floorFailures.add(run + ": " + e.getMessage());
        }

        long mark = stack.sim.requestLog().mark();
        began = Instant.now();
        try {
          Upgrades.Started started =
              Upgrades.start(
                  stack.client,
                  new UpgradeRequest(
                      plan(ns, "lock", "example/app:2.0", UpgradePlan.Gate.NONE),
                      "bench",
                      "B1",
                      30));
          UpgradeResult result = result(stack.client, ns, "lock", 600);
          double seconds = Duration.between(began, Instant.now()).toMillis() / 1000.0;
          long end = stack.sim.requestLog().mark();
          if (result.phase() != Phase.COMPLETED) {
            lockstepFailures.add(
                run + ": the upgrade ended " + result.phase() + " (" + result.message() + ")");
            continue;
          }
          lockstep.add(seconds);
          var history = stack.client.fetchHistory(started.workflowId(), started.runId());
          eventsPerUnit.add((double) history.getEvents().size() / units);
          // The worker's requests for this run: in the target's namespace, and cluster-scoped or
          // across namespaces (kubesim logs those with namespace ""): nodes, every pod, discovery.
          List<RequestRecord> requests =
              stack.sim.requestLog().since(mark).stream()
                  .filter(x -> x.seq() <= end)
                  .filter(x -> ns.equals(x.namespace()) || x.namespace().isEmpty())
                  .toList();
          requestsPerUnit.add((double) requests.size() / units);
          writesPerUnit.add(
              (double) requests.stream().filter(RequestRecord::changedState).count() / units);
          clusterWidePerUnit.add(
              (double) requests.stream().filter(x -> x.namespace().isEmpty()).count() / units);
          lastRequests = requests;
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
        } catch (TimeoutException e) {
          lockstepFailures.add(run + ": no result within 10 min");
        } catch (RuntimeException e) {
          lockstepFailures.add(run + ": " + e);
        }
      }
    }
    // What the requests were, for whoever reads the console.
    Map<String, Long> kinds = new java.util.TreeMap<>();
    for (RequestRecord x : lastRequests) {
      kinds.merge(
          x.verb()
              + " "
              + (x.resource().isEmpty() ? x.path() : x.resource())
              + (x.namespace().isEmpty() ? " (cluster-wide)" : ""),
          1L,
          Long::sum);
    }
    System.out.println("B4 requests of the last run: " + kinds);

    List<String> columns =
        List.of(
            "run",
            "median of " + repeat,
            "mean",
            "ratio to the floor (median)",
            "ratio to the floor (mean)");
    double f = floorFailures.isEmpty() ? median(floor) : Double.NaN;
    double fm = floorFailures.isEmpty() ? mean(floor) : Double.NaN;
    String floorRun = "StatefulSet RollingUpdate, no Lockstep (the floor)";
    String lockstepRun = "Lockstep, gate none";
    List<List<String>> rows = new ArrayList<>();
    rows.add(
        floorFailures.isEmpty()
            ? List.of(floorRun, s(f), s(fm), "1.00", "1.00")
            : failedRow(floorRun, columns.size()));
    if (lockstepFailures.isEmpty()) {
      double l = median(lockstep);
      double lm = mean(lockstep);
      rows.add(
          List.of(
              lockstepRun,
              s(l),
              s(lm),
              floorFailures.isEmpty() ? ratio(l / f) : FAILED,
              floorFailures.isEmpty() ? ratio(lm / fm) : FAILED));
    } else {
      rows.add(failedRow(lockstepRun, columns.size()));
    }
    List<String> failures = new ArrayList<>();
    floorFailures.forEach(x -> failures.add("the floor, " + x));
    lockstepFailures.forEach(x -> failures.add("Lockstep, " + x));
    String runs = count(repeat, "run") + " (each: the floor, then Lockstep)";
    tables.add(
        new Table(
            "B1",
            "overhead: 10 units, pods start in 1 s",
            columns,
            rows,
            "Target: ratio (median) <= 1.02, the mean beside it (issue 19). Each run: "
                + floor
                + " s (floor), "
                + lockstep
                + " s (Lockstep). Both StatefulSets request cpu 10m and memory 16Mi, so the"
                + " capacity pre-check reads every node and every pod of the cluster."
                + failedNote(failures),
            measured(start, runs)));
    List<String> measures =
        List.of(
            "Temporal history events",
            "API requests by the worker (reads, writes, watch opens)",
            "of which writes",
            "of which cluster-scoped or across namespaces");
    List<String> targets = List.of("<= 12", "no polling", "", "");
    List<List<Double>> values =
        List.of(eventsPerUnit, requestsPerUnit, writesPerUnit, clusterWidePerUnit);
    List<List<String>> costRows = new ArrayList<>();
    for (int i = 0; i < measures.size(); i++) {
      costRows.add(
          List.of(
              measures.get(i),
              lockstepFailures.isEmpty() ? perUnit(values.get(i)) : FAILED,
              targets.get(i)));
    }
    tables.add(
        new Table(
            "B4",
            "cost per unit (the B1 runs)",
            List.of("measure", "per unit (median of " + repeat + ")", "target"),
            costRows,
            "History events include the run's fixed steps (collect, prepare, finish, events), spread"
                + " over its 10 units; requests are counted from kubesim's request log from the"
                + " upgrade's start to its result, in the target's namespace and cluster-scoped or"
                + " across namespaces (kubesim logs those with namespace \"\"). The template"
                + " requests cpu 10m and memory 16Mi, so the capacity pre-check's reads of every"
                + " node and every pod are in the figure."
                + failedNote(lockstepFailures.stream().map(x -> "Lockstep, " + x).toList()),
            measured(start, "the " + count(repeat, "Lockstep run") + " of B1")));
  }

  // ---- B2 concurrency, B3 gated -------------------------------------------------------------

  void b2() throws Exception {
    Instant measuredFrom = Instant.now();
    List<Integer> sizes = sizes(List.of(25, 50, 100), List.of(50, 200, 1000));
    List<List<String>> rows = new ArrayList<>();
    List<String> failures = new ArrayList<>();
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
          // Waits for every result, sampling the worker's RSS every half second meanwhile.
          CompletableFuture<Void> all =
              CompletableFuture.allOf(done.toArray(CompletableFuture[]::new));
          Instant deadline = began.plus(Duration.ofMinutes(70));
          while (!all.isDone() && Instant.now().isBefore(deadline)) {
            peakRss[0] = Math.max(peakRss[0], worker.rss());
            try {
              all.get(500, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
              // sample again
            }
          }
          double wall = Duration.between(began, Instant.now()).toMillis() / 1000.0;
          pool.shutdownNow();
          if (!all.isDone()) {
            long open = done.stream().filter(d -> !d.isDone()).count();
            failures.add(n + " upgrades: " + open + " without a result within 70 min");
            rows.add(failedRow(String.valueOf(n), 8));
            continue;
          }
          List<Double> times = new ArrayList<>();
          int notCompleted = 0;
          for (CompletableFuture<Double> d : done) {
            double t = d.join();
            if (t < 0) {
              notCompleted++;
            } else {
              times.add(t);
            }
          }
          rows.add(
              List.of(
                  String.valueOf(n),
                  times.isEmpty() ? FAILED : s(percentile(times, 0.5)),
                  times.isEmpty() ? FAILED : s(percentile(times, 0.95)),
                  times.isEmpty() ? FAILED : s(percentile(times, 1.0)),
                  s(wall),
                  String.valueOf(notCompleted),
                  worker.heapUsed(),
                  mib(peakRss[0])));
        } catch (NotMeasured e) {
          failures.add(n + " upgrades: " + e.getMessage());
          rows.add(failedRow(String.valueOf(n), 8));
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
                + " on, --max-activities 5000)."
                + failedNote(failures),
            measuredSized(measuredFrom, "1 run per size")));
  }

  void b3() throws Exception {
    Instant measuredFrom = Instant.now();
    List<String> failures = new ArrayList<>();
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
            List<CompletableFuture<Boolean>> starts = new ArrayList<>();
            for (Sts sts : sets) {
              starts.add(
                  CompletableFuture.runAsync(
                          () -> startUpgrade(stack.client, sts, UpgradePlan.Gate.FIRST, "B3"), pool)
                      .thenApply(v -> true)
                      .exceptionally(e -> false));
            }
            long refused = starts.stream().map(CompletableFuture::join).filter(ok -> !ok).count();
            if (refused > 0) {
              throw new NotMeasured(refused + " upgrades did not start");
            }
            // Every upgrade reaches its gate once its first unit runs the new version and its
            // workflow has taken that in: asked (a query) from 16 client threads until its phase
            // is WAITING_FOR_RESUME.
            Instant gateDeadline = Instant.now().plus(Duration.ofMinutes(120));
            List<CompletableFuture<String>> gates = new ArrayList<>();
            for (Sts sts : sets) {
              gates.add(
                  CompletableFuture.supplyAsync(
                      () -> phaseAtGate(stack.client, sts, gateDeadline), pool));
            }
            Map<String, Long> notAtGate = new java.util.TreeMap<>();
            for (CompletableFuture<String> gate : gates) {
              String phase = gate.join();
              if (!phase.equals(Phase.WAITING_FOR_RESUME.name())) {
                notAtGate.merge(phase, 1L, Long::sum);
              }
            }
            if (!notAtGate.isEmpty()) {
              pool.shutdownNow();
              long count = notAtGate.values().stream().mapToLong(Long::longValue).sum();
              failures.add(
                  n
                      + " with cache "
                      + cache
                      + ": "
                      + count
                      + " not at their gate within 120 min (phases "
                      + notAtGate
                      + ")");
              List<String> row = failedRow(String.valueOf(n), 9);
              row.set(1, String.valueOf(cache));
              row.set(2, mib(idleRss));
              rows.add(row);
              continue;
            }
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
            long notCompleted =
                done.stream().map(CompletableFuture::join).filter(ok -> !ok).count();
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
                    String.valueOf(notCompleted)));
          } catch (NotMeasured e) {
            failures.add(n + " with cache " + cache + ": " + e.getMessage());
            List<String> row = failedRow(String.valueOf(n), 9);
            row.set(1, String.valueOf(cache));
            rows.add(row);
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
                + " and resumed from 16; each is measured once all have reached their gate"
                + " (their phase, queried, is WAITING_FOR_RESUME). --full runs 10,000 with the"
                + " default cache only."
                + failedNote(failures),
            measuredSized(measuredFrom, "1 run per size and cache")));
  }

  /**
   * The phase of a benchmark's upgrade once it waits at its gate, has ended or is held, or at the
   * deadline; "query failed: ..." if it could not be asked.
   */
  static String phaseAtGate(WorkflowClient client, Sts sts, Instant deadline) {
    UpgradeWorkflow w = Upgrades.of(client, Names.DEFAULT_CLUSTER, sts.target());
    String[] last = {"not asked"};
    try {
      return await(
          sts.target() + " at its gate",
          Duration.between(Instant.now(), deadline),
          Duration.ofMillis(500),
          () -> {
            try {
              Phase phase = w.status().phase();
              last[0] = phase.name();
              return phase == Phase.WAITING_FOR_RESUME || phase == Phase.HELD || phase.isTerminal()
                  ? phase.name()
                  : null;
            } catch (RuntimeException e) {
              last[0] = "query failed: " + e.getClass().getSimpleName();
              return null;
            }
          });
    } catch (NotMeasured e) {
      return last[0];
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  // ---- B7 Deployment strategies --------------------------------------------------------------

  /** B7's Deployments: 8 pods, so a 25% canary is 2 of them and maxSurge 25% is 2. */
  static final int B7_REPLICAS = 8;

  /** The strategies B7 runs with Lockstep, in the order it runs them in each repetition. */
  static final List<String> B7_STRATEGIES = List.of("rolling", "canary", "blue-green");

  /** The image of a pod template's first container, or null. */
  static String image(PodTemplateSpec template) {
    return template == null
            || template.getSpec() == null
            || template.getSpec().getContainers() == null
            || template.getSpec().getContainers().isEmpty()
        ? null
        : template.getSpec().getContainers().get(0).getImage();
  }

  /**
   * Whether {@code d} has rolled out {@code image}: its template on it and observed, every replica
   * updated and available, no other pod of it left ({@code status.replicas}), and every ReplicaSet
   * of it on another template (the old one) at 0 in spec and status. ReplicaSets of other owners (a
   * canary's, a preview's) do not count.
   */
  static boolean rolledOut(Deployment d, List<ReplicaSet> sets, String image) {
    return updatedAndAvailable(d, image) && oldSetsAtZero(d, sets, image);
  }

  /** The Deployment's side of {@link #rolledOut}, from its status alone. */
  static boolean updatedAndAvailable(Deployment d, String image) {
    DeploymentStatus st = d.getStatus();
    int replicas = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
    if (st == null
        || !image.equals(image(d.getSpec().getTemplate()))
        || st.getObservedGeneration() == null
        || st.getObservedGeneration() < d.getMetadata().getGeneration()
        || !Integer.valueOf(replicas).equals(st.getUpdatedReplicas())
        || !Integer.valueOf(replicas).equals(st.getAvailableReplicas())
        || !Integer.valueOf(replicas).equals(st.getReplicas())) {
      return false;
    }
    return true;
  }

  /** The ReplicaSets' side of {@link #rolledOut}: every one of {@code d} on another image at 0. */
  static boolean oldSetsAtZero(Deployment d, List<ReplicaSet> sets, String image) {
    String uid = d.getMetadata().getUid();
    for (ReplicaSet rs : sets) {
      boolean ours =
          rs.getMetadata().getOwnerReferences() != null
              && rs.getMetadata().getOwnerReferences().stream()
                  .anyMatch(o -> o.getUid() != null && o.getUid().equals(uid));
      if (!ours || image.equals(image(rs.getSpec().getTemplate()))) {
        continue;
      }
      boolean specZero = rs.getSpec().getReplicas() == null || rs.getSpec().getReplicas() == 0;
      boolean statusZero =
          rs.getStatus() == null
              || rs.getStatus().getReplicas() == null
              || rs.getStatus().getReplicas() == 0;
      if (!specZero || !statusZero) {
        return false;
      }
    }
    return true;
  }

  /**
   * The pods created in a namespace from its opening on, counted by uid through a watch (kubesim's
   * controllers create them, so its request log does not show them).
   */
  static final class PodsCreated implements AutoCloseable {
    /** Each pod seen added, by uid: the ReplicaSet that owns it. */
    private final Map<String, String> seen = new ConcurrentHashMap<>();

    private final Set<String> before;
    private final Watch watch;
    private volatile String lost;

    PodsCreated(KubernetesClient kube, String ns) {
      watch =
          kube.pods()
              .inNamespace(ns)
              .watch(
                  new Watcher<Pod>() {
                    @Override
                    public void eventReceived(Action action, Pod pod) {
                      if (action == Action.ADDED) {
                        var owners = pod.getMetadata().getOwnerReferences();
                        seen.put(
                            pod.getMetadata().getUid(),
                            owners == null || owners.isEmpty() ? "none" : owners.get(0).getName());
                      }
                    }

                    @Override
                    public void onClose(WatcherException cause) {
                      lost = cause.getMessage();
                    }
                  });
      // Listed after the watch opened: a pod in both is an old one, not counted.
      before =
          kube.pods().inNamespace(ns).list().getItems().stream()
              .map(p -> p.getMetadata().getUid())
              .collect(Collectors.toSet());
    }

    /** The pods created since the watch opened; throws NotMeasured if the watch was lost. */
    int count() {
      if (lost != null) {
        throw new NotMeasured("the pod watch closed (" + lost + ")");
      }
      return byOwner().values().stream().mapToInt(Integer::intValue).sum();
    }

    /** The pods created since the watch opened, by the ReplicaSet that owns them. */
    Map<String, Integer> byOwner() {
      Map<String, Integer> owners = new java.util.TreeMap<>();
      seen.forEach(
          (uid, owner) -> {
            if (!before.contains(uid)) {
              owners.merge(owner, 1, Integer::sum);
            }
          });
      return owners;
    }

    @Override
    public void close() {
      watch.close();
    }
  }

  /**
   * A plan moving B7's Deployment {@code ns/deployment/name} to {@code image} by {@code strategy}.
   */
  static UpgradePlan deploymentPlan(String ns, String name, String image, String strategy) {
    UpgradePlan.Strategy s =
        switch (strategy) {
          case "rolling" -> null;
          case "canary" ->
              new UpgradePlan.Strategy(
                  null,
                  new UpgradePlan.Canary(
                      List.of(
                          new UpgradePlan.CanaryStep(25, null, null),
                          new UpgradePlan.CanaryStep(50, null, null))),
                  null);
          // The least delay the plan accepts: it must be positive.
          case "blue-green" ->
              new UpgradePlan.Strategy(null, null, new UpgradePlan.BlueGreen("1ms"));
          default -> throw new IllegalArgumentException("no strategy " + strategy);
        };
    return UpgradePlan.builder()
        .target(ns + "/deployment/" + name)
        .cluster(Names.DEFAULT_CLUSTER)
        .images(Map.of("app", image))
        .gate(UpgradePlan.Gate.NONE)
        .strategy(s)
        .unitTimeout("10m")
        .build();
  }

  /** What one strategy's runs measured, over the repetitions. */
  static final class StrategyRuns {
    final List<Double> seconds = new ArrayList<>();
    final List<Double> ratios = new ArrayList<>();
    final List<Double> events = new ArrayList<>();
    final List<Double> requests = new ArrayList<>();
    final List<Double> writes = new ArrayList<>();
    final List<Double> pods = new ArrayList<>();
    final List<String> failures = new ArrayList<>();
  }

  static String perPod(List<Double> values) {
    return String.format(Locale.ROOT, "%.1f", median(values));
  }

  void b7() throws Exception {
    Instant measuredFrom = Instant.now();
    int replicas = B7_REPLICAS;
    String from = "example/app:1.0";
    String to = "example/app:2.0";
    StrategyRuns floor = new StrategyRuns();
    Map<String, StrategyRuns> runs = new LinkedHashMap<>();
    B7_STRATEGIES.forEach(s -> runs.put(s, new StrategyRuns()));
    try (Stack stack = new Stack(Duration.ofSeconds(1), true)) {
      for (int r = 0; r < repeat; r++) {
        String run = "run " + (r + 1);
        // The floor: the Deployment's own RollingUpdate of the same change, in this repetition.
        Double floorSeconds = null;
        String ns = stack.namespace();
        try {
          stack.deploymentWithService(ns, "web", replicas, from, REQUESTS);
          stack.awaitRolledOut(ns, "web", from, Duration.ofMinutes(2));
          try (PodsCreated pods = new PodsCreated(stack.kube, ns)) {
            Instant began = Instant.now();
            stack
                .kube
                .apps()
                .deployments()
                .inNamespace(ns)
                .withName("web")
                .edit(
                    d -> {
                      d.getSpec().getTemplate().getSpec().getContainers().get(0).setImage(to);
                      return d;
                    });
            await(
                "the floor's RollingUpdate rolled out",
                Duration.ofMinutes(5),
                Duration.ofMillis(20),
                () -> {
                  Deployment d =
                      stack.kube.apps().deployments().inNamespace(ns).withName("web").get();
                  // The ReplicaSets are listed only once the Deployment says it is done.
                  return d != null
                          && updatedAndAvailable(d, to)
                          && oldSetsAtZero(d, stack.replicaSets(ns), to)
                      ? Boolean.TRUE
                      : null;
                });
            floorSeconds = Duration.between(began, Instant.now()).toMillis() / 1000.0;
            floor.seconds.add(floorSeconds);
            floor.pods.add((double) pods.count() / replicas);
          }
        } catch (NotMeasured e) {
          floor.failures.add(run + ": " + e.getMessage());
        }
        for (String strategy : B7_STRATEGIES) {
          StrategyRuns these = runs.get(strategy);
          String at = stack.namespace();
          try {
            stack.deploymentWithService(at, "web", replicas, from, REQUESTS);
            stack.awaitRolledOut(at, "web", from, Duration.ofMinutes(2));
            try (PodsCreated pods = new PodsCreated(stack.kube, at)) {
              long mark = stack.sim.requestLog().mark();
              Instant began = Instant.now();
              Upgrades.Started started =
                  Upgrades.start(
                      stack.client,
                      new UpgradeRequest(
                          deploymentPlan(at, "web", to, strategy), "bench", "B7", 30));
              // The target's only run: its namespace is new.
              UpgradeResult result =
                  Upgrades.untyped(
                          stack.client,
                          Names.DEFAULT_CLUSTER,
                          Target.parse(at + "/deployment/web", at))
                      .getResult(600, TimeUnit.SECONDS, UpgradeResult.class);
              double seconds = Duration.between(began, Instant.now()).toMillis() / 1000.0;
              long end = stack.sim.requestLog().mark();
              if (result.phase() != Phase.COMPLETED) {
                these.failures.add(
                    run + ": the upgrade ended " + result.phase() + " (" + result.message() + ")");
                continue;
              }
              int created = pods.count();
              // Which ReplicaSets started them, for whoever reads the console.
              System.out.println(
                  "B7 " + strategy + ", " + run + ": pods started " + pods.byOwner());
              // What the user relies on, checked, not timed: the Deployment on the new version.
              stack.awaitRolledOut(at, "web", to, Duration.ofSeconds(30));
              these.seconds.add(seconds);
              if (floorSeconds != null) {
                these.ratios.add(seconds / floorSeconds);
              }
              var history = stack.client.fetchHistory(started.workflowId(), started.runId());
              these.events.add((double) history.getEvents().size() / replicas);
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
              List<RequestRecord> requests =
                  stack.sim.requestLog().since(mark).stream()
                      .filter(x -> x.seq() <= end)
                      .filter(x -> at.equals(x.namespace()) || x.namespace().isEmpty())
                      .toList();
              these.requests.add((double) requests.size() / replicas);
              these.writes.add(
                  (double) requests.stream().filter(RequestRecord::changedState).count()
                      / replicas);
              these.pods.add((double) created / replicas);
            }
          } catch (NotMeasured e) {
            these.failures.add(run + ": " + e.getMessage());
          } catch (TimeoutException e) {
            these.failures.add(run + ": no result within 10 min");
          } catch (RuntimeException e) {
            these.failures.add(run + ": " + e);
          }
        }
      }
    }
    tables.add(b7Table(floor, runs, measured(measuredFrom, b7Runs(repeat))));
  }

  static String b7Runs(int repeat) {
    return count(repeat, "repetition")
        + " (each: the floor, then Lockstep's rolling, canary and blue-green, each on a fresh"
        + " Deployment)";
  }

  /**
   * B7's table from its runs: a row FAILED where any of its runs (or, for ratios, the floor's) did.
   */
  Table b7Table(StrategyRuns floor, Map<String, StrategyRuns> runs, Measured measured) {
    List<String> columns =
        List.of(
            "run",
            "median of " + repeat,
            "mean",
            "ratio to the floor (median)",
            "ratio to the floor (mean)",
            "history events per pod replaced",
            "API requests per pod replaced (of them writes)",
            "pods started per pod replaced");
    boolean floorOk = floor.failures.isEmpty() && !floor.seconds.isEmpty();
    List<List<String>> rows = new ArrayList<>();
    String floorRun = "Deployment RollingUpdate, no Lockstep (the floor)";
    rows.add(
        floorOk
            ? List.of(
                floorRun,
                s(median(floor.seconds)),
                s(mean(floor.seconds)),
                "1.00",
                "1.00",
                "-",
                "-",
                String.format(Locale.ROOT, "%.2f", median(floor.pods)))
            : failedRow(floorRun, columns.size()));
    List<String> failures = new ArrayList<>();
    floor.failures.forEach(x -> failures.add("the floor, " + x));
    StringBuilder each = new StringBuilder("Each run: " + floor.seconds + " s (floor)");
    String canaryVerdict = "not measured";
    for (Map.Entry<String, StrategyRuns> e : runs.entrySet()) {
      String label = "Lockstep " + e.getKey() + ", gate none";
      StrategyRuns x = e.getValue();
      x.failures.forEach(f -> failures.add(e.getKey() + ", " + f));
      each.append(", ").append(x.seconds).append(" s (").append(e.getKey()).append(')');
      if (!x.failures.isEmpty() || x.seconds.isEmpty()) {
        rows.add(failedRow(label, columns.size()));
        continue;
      }
      double ratio = floorOk ? median(x.ratios) : Double.NaN;
      rows.add(
          List.of(
              label,
              s(median(x.seconds)),
              s(mean(x.seconds)),
              floorOk ? ratio(ratio) : FAILED,
              floorOk ? ratio(mean(x.ratios)) : FAILED,
              perPod(x.events),
              perPod(x.requests) + " (" + perPod(x.writes) + ")",
              String.format(Locale.ROOT, "%.2f", median(x.pods))));
      if (e.getKey().equals("canary") && floorOk) {
        canaryVerdict = (ratio <= 1.05 ? "met" : "not met") + " (" + ratio(ratio) + ")";
      }
    }
    return new Table(
        "B7",
        "Deployment strategies: " + B7_REPLICAS + " replicas, pods start in 1 s",
        columns,
        rows,
        "Target (issue 15): canary ratio (median) <= 1.05: "
            + canaryVerdict
            + ". Each repetition runs the floor and each strategy on a fresh Deployment of "
            + B7_REPLICAS
            + " replicas with its Service, in a namespace of its own (pods request cpu 10m and"
            + " memory 16Mi; RollingUpdate maxSurge 25% and maxUnavailable 25%, the Kubernetes"
            + " defaults, written out). The floor: the Deployment's own RollingUpdate of the same"
            + " image change, from the template write until every replica is updated and available"
            + " and the old ReplicaSet is at 0. Lockstep, with gate none: rolling (the Deployment's"
            + " own update, driven), canary (setWeight 25, setWeight 50, then promote; no pause),"
            + " blue-green (scaleDownDelay 1ms, the least the plan accepts), each from its start to"
            + " COMPLETED. A ratio is a run over the floor of its own repetition; the median and"
            + " mean are of those. Per pod replaced ("
            + B7_REPLICAS
            + "): the run's history events; kubesim's request log from the start to the result, in"
            + " the run's namespace and cluster-scoped; the pods created in the namespace during"
            + " the run (a watch). "
            + each
            + "."
            + failedNote(failures),
        measured);
  }

  // ---- B5 recovery ---------------------------------------------------------------------------

  void b5() throws Exception {
    Instant measuredFrom = Instant.now();
    int heartbeat = 5;
    List<Double> restart = new ArrayList<>();
    List<Double> moving = new ArrayList<>();
    List<String> failures = new ArrayList<>();
    try (Stack stack = new Stack(Duration.ofSeconds(1), false)) {
      stack
          .sim
          .behaviours()
          .image("example/app:2.0", ImageBehaviour.startingIn(Duration.ofSeconds(4)));
      for (int r = 0; r < repeat; r++) {
        String run = "run " + (r + 1);
        Processes.Running worker = null;
        Processes.Running next = null;
        try {
          worker = stack.workerProcess();
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
          // Mid-unit: unit 1's new pod is starting (its partition written, the pod recreated on
          // the new revision, not Ready yet), not merely marked UPGRADING in the workflow, which
          // may be before its activity even ran: the whole unit would then be left to redo.
          await(
              "unit 1's new pod starting",
              Duration.ofMinutes(2),
              Duration.ofMillis(20),
              () -> newPodStarting(stack.kube, ns, "svc", "svc-1") ? Boolean.TRUE : null);
          Instant killed = Instant.now();
          worker.kill();
          next = stack.workerProcess();
          double ready = Duration.between(killed, Instant.now()).toMillis() / 1000.0;
          await(
              "unit 1 upgraded after the kill",
              Duration.ofMinutes(2),
              Duration.ofMillis(50),
              () -> unitState(w, 1) == UnitState.UPGRADED ? Boolean.TRUE : null);
          double moved = Duration.between(killed, Instant.now()).toMillis() / 1000.0;
          UpgradeResult result = result(stack.client, ns, "svc", 300);
          if (result.phase() != Phase.COMPLETED) {
            failures.add(
                run + ": the upgrade ended " + result.phase() + " (" + result.message() + ")");
            continue;
          }
          restart.add(ready);
          moving.add(moved);
        } catch (NotMeasured e) {
          failures.add(run + ": " + e.getMessage());
        } catch (TimeoutException e) {
          failures.add(run + ": no result within 5 min");
        } catch (IllegalStateException e) {
          // a worker process that did not start, or ended
          failures.add(run + ": " + e.getMessage());
        } finally {
          if (worker != null) {
            worker.kill();
          }
          if (next != null) {
            next.close();
          }
        }
      }
    }
    String measure1 = "kill to new worker ready";
    String measure2 = "kill to the unit done and the upgrade moving on";
    List<List<String>> rows =
        failures.isEmpty()
            ? List.of(
                List.of(measure1, s(median(restart)), s(percentile(restart, 1.0))),
                List.of(measure2, s(median(moving)), s(percentile(moving, 1.0))))
            : List.of(failedRow(measure1, 3), failedRow(measure2, 3));
    tables.add(
        new Table(
            "B5",
            "recovery: worker SIGKILLed mid-unit, a new one started (heartbeat timeout "
                + heartbeat
                + " s)",
            List.of("measure", "median of " + repeat, "max"),
            rows,
            "Killed while unit 1's new pod starts (4 s; its partition written, the pod on the"
                + " new revision, not Ready). The dead worker's activity moves to the new worker"
                + " once the heartbeat timeout passes (and the 1 s retry interval), so recovery is"
                + " bounded by max(new worker start, heartbeat timeout) plus what is left of the"
                + " unit. Target: every run within the heartbeat timeout + 2 s of the kill (issue"
                + " 19): "
                + moving.stream().filter(x -> x <= heartbeat + 2).count()
                + " of "
                + moving.size()
                + " were. Runs: "
                + moving
                + " s (moving on), "
                + restart
                + " s (new worker ready)."
                + failedNote(failures),
            measured(measuredFrom, count(repeat, "run"))));
  }

  /**
   * Whether {@code pod} is on its StatefulSet's update revision and not Ready: the unit's
   * replacement has begun and is not over.
   */
  static boolean newPodStarting(KubernetesClient kube, String ns, String sts, String pod) {
    StatefulSet s = kube.apps().statefulSets().inNamespace(ns).withName(sts).get();
    io.fabric8.kubernetes.api.model.Pod p = kube.pods().inNamespace(ns).withName(pod).get();
    if (s == null || s.getStatus() == null || p == null || p.getMetadata().getLabels() == null) {
      return false;
    }
    String update = s.getStatus().getUpdateRevision();
    boolean onUpdate =
        update != null
            && !update.equals(s.getStatus().getCurrentRevision())
            && update.equals(p.getMetadata().getLabels().get("controller-revision-hash"));
    boolean ready =
        p.getStatus() != null
            && p.getStatus().getConditions() != null
            && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    return onUpdate && !ready;
  }

  /** The state of a unit (by its index in the status), or null while the status has no units. */
  static UnitState unitState(UpgradeWorkflow w, int index) {
    List<dev.lockstep.workflows.UnitStatus> units = w.status().units();
    return units.size() > index ? units.get(index).state() : null;
  }

  // ---- B6 CLI --------------------------------------------------------------------------------

  void b6() throws Exception {
    Instant measuredFrom = Instant.now();
    Path launcher = ROOT.resolve("lockstep");
    int runs = Math.max(10, repeat);
    // Each resume answers an upgrade at its gate, once: one upgrade per call, per path.
    List<String> commands = List.of("--help", "status --help", "status", "list", "resume");
    Map<String, List<Double>> warm = new LinkedHashMap<>();
    Map<String, List<Double>> off = new LinkedHashMap<>();
    Map<String, List<String>> failures = new LinkedHashMap<>();
    commands.forEach(
        c -> {
          warm.put(c, new ArrayList<>());
          off.put(c, new ArrayList<>());
          failures.put(c, new ArrayList<>());
        });
    List<Double> first = new ArrayList<>();
    List<Double> firstAnswered = new ArrayList<>();
    List<String> coldFailures = new ArrayList<>();
    // The daemon of this benchmark only, in a run directory of its own, stopped at the end.
    Path run = Files.createTempDirectory(Path.of("/tmp"), "lockstep-b6");
    try (Stack stack = new Stack(Duration.ofMillis(200), true)) {
      String ns = stack.namespace();
      int targets = 2 * runs;
      for (int r = 0; r < targets; r++) {
        stack.statefulSet(ns, "svc-" + r, 3, "example/app:1.0");
      }
      stack.awaitSettled(ns, targets, Duration.ofMinutes(2));
      for (int r = 0; r < targets; r++) {
        Upgrades.start(
            stack.client,
            new UpgradeRequest(
                plan(ns, "svc-" + r, "example/app:2.0", UpgradePlan.Gate.FIRST),
                "bench",
                "B6",
                30));
      }
      Instant deadline = Instant.now().plus(Duration.ofMinutes(2));
      for (int r = 0; r < targets; r++) {
        String phase = phaseAtGate(stack.client, new Sts(ns, "svc-" + r), deadline);
        if (!phase.equals(Phase.WAITING_FOR_RESUME.name())) {
          failures.get("resume").add("svc-" + r + " never reached its gate (" + phase + ")");
        }
      }
      Map<String, String> daemon =
          Map.of(
              "TEMPORAL_ADDRESS",
              "localhost:" + stack.temporalPort,
              "XDG_RUNTIME_DIR",
              run.toString());
      Map<String, String> daemonOff = new HashMap<>(daemon);
      daemonOff.put("LOCKSTEP_CLI_DAEMON", "off");
      String status0 = ns + "/statefulset/svc-0";
      // The first call finds no daemon: it runs in a JVM of its own and starts one.
      time(launcher, daemon, first, coldFailures, "first call", "status", status0);
      try {
        await(
            "the CLI daemon answering",
            Duration.ofMinutes(1),
            Duration.ofMillis(50),
            () -> Processes.launch(launcher, daemon, "daemon", "status") == 0 ? true : null);
        time(launcher, daemon, firstAnswered, coldFailures, "first answer", "status", status0);
      } catch (NotMeasured e) {
        coldFailures.add(e.getMessage());
      }
      for (int r = 0; r < runs; r++) {
        String call = "run " + (r + 1);
        String target = ns + "/statefulset/svc-" + r;
        String other = ns + "/statefulset/svc-" + (runs + r);
        for (String c : commands) {
          String[] args =
              switch (c) {
                case "--help", "list" -> new String[] {c};
                case "status --help" -> new String[] {"status", "--help"};
                default -> new String[] {c, target};
              };
          time(launcher, daemonOff, off.get(c), failures.get(c), call + ", daemon off", args);
          if (c.equals("resume")) {
            args = new String[] {c, other};
          }
          time(launcher, daemon, warm.get(c), failures.get(c), call + ", daemon", args);
        }
      }
      Processes.launch(launcher, daemon, "daemon", "stop");
    }
    List<String> notes = new ArrayList<>();
    List<List<String>> rows = new ArrayList<>();
    for (String c : commands) {
      String label =
          c.contains("--help")
              ? "lockstep " + c
              : "lockstep " + c + (c.equals("list") ? "" : " TARGET");
      failures.get(c).forEach(x -> notes.add(c + ", " + x));
      rows.add(
          failures.get(c).isEmpty()
              ? List.of(
                  label,
                  s(median(warm.get(c))),
                  s(percentile(warm.get(c), 1.0)),
                  s(median(off.get(c))),
                  s(percentile(off.get(c), 1.0)))
              : failedRow(label, 5));
    }
    coldFailures.forEach(x -> notes.add("status, " + x));
    rows.add(
        first.isEmpty()
            ? failedRow("lockstep status TARGET, first call: no daemon yet (starts one)", 5)
            : List.of(
                "lockstep status TARGET, first call: no daemon yet (starts one)",
                s(first.get(0)),
                "-",
                "-",
                "-"));
    rows.add(
        firstAnswered.isEmpty()
            ? failedRow("lockstep status TARGET, the new daemon's first answer", 5)
            : List.of(
                "lockstep status TARGET, the new daemon's first answer",
                s(firstAnswered.get(0)),
                "-",
                "-",
                "-"));
    tables.add(
        new Table(
            "B6",
            "CLI wall time",
            List.of(
                "command",
                "./lockstep, median of " + runs,
                "max",
                "LOCKSTEP_CLI_DAEMON=off, median of " + runs,
                "max"),
            rows,
            "Each call is `./lockstep ARGS` as a person runs it (the launcher, its JVM flags),"
                + " against the local Temporal test server, wall time to exit. ./lockstep: the"
                + " short commands answered by the warm CLI daemon (docs/cli.md#the-cli-daemon),"
                + " --help printed by the launcher from the page the build rendered, without a JVM,"
                + " on both paths; LOCKSTEP_CLI_DAEMON=off: every other"
                + " call a JVM of its own (with the class-data archive the build dumps beside the"
                + " jar), called alternately with the daemon's. max(10, --repeat) calls of each;"
                + " resume answers an upgrade waiting at its gate (one per call). The last two rows:"
                + " the first call, which finds no daemon (a JVM of its own, starting the daemon in"
                + " the background), and the first call that daemon answers (its JIT and its"
                + " Temporal connection cold). Target (issue 19): status, resume and list <= 0.5 s,"
                + " --help <= 0.3 s."
                + failedNote(notes),
            measured(measuredFrom, count(runs, "call") + " of each command on each path")));
  }

  /**
   * One timed CLI call, its seconds added to {@code times}, or why it failed to {@code failures}.
   */
  private static void time(
      Path launcher,
      Map<String, String> env,
      List<Double> times,
      List<String> failures,
      String run,
      String... args)
      throws Exception {
    try {
      times.add(Processes.time(launcher, env, args));
    } catch (IllegalStateException e) {
      failures.add(run + ": " + e.getMessage());
    }
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

  /** The command line of {@code lockstep bench}. */
  record Args(
      List<String> which,
      Path write,
      boolean full,
      int repeat,
      List<Integer> sizes,
      List<Integer> caches) {}

  private static final String USAGE =
      "B1..B7, --full, --repeat N, --sizes N,N, --caches N,N, --write FILE";

  /** Reads the command line; a bad one is an IllegalArgumentException saying what is wrong. */
  static Args parse(String... args) {
    List<String> which = new ArrayList<>();
    Path write = null;
    boolean full = false;
    int repeat = 3;
    List<Integer> sizes = List.of();
    List<Integer> caches = List.of();
    for (int i = 0; i < args.length; i++) {
      String option = args[i];
      boolean valued = List.of("--write", "--repeat", "--sizes", "--caches").contains(option);
      if (valued && i + 1 >= args.length) {
        throw new IllegalArgumentException(option + " needs a value: " + USAGE);
      }
      try {
        switch (option) {
          case "--write" -> write = Path.of(args[++i]);
          case "--full" -> full = true;
          case "--repeat" -> repeat = Integer.parseInt(args[++i]);
          case "--sizes" -> sizes = numbers(args[++i]);
          case "--caches" -> caches = numbers(args[++i]);
          default -> {
            if (!option.matches("B[1-7]")) {
              throw new IllegalArgumentException("unknown argument '" + option + "': " + USAGE);
            }
            which.add(option);
          }
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            option + " takes whole numbers, not '" + args[i] + "': " + USAGE);
      }
    }
    return new Args(which, write, full, repeat, sizes, caches);
  }

  public static void main(String[] args) throws Exception {
    Args parsed;
    try {
      parsed = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("lockstep bench: " + e.getMessage());
      System.exit(2);
      return;
    }
    List<String> which = new ArrayList<>(parsed.which());
    Path write = parsed.write();
    boolean full = parsed.full();
    int repeat = parsed.repeat();
    List<Integer> sizes = parsed.sizes();
    List<Integer> caches = parsed.caches();
    if (which.isEmpty()) {
      which.addAll(List.of("B1", "B2", "B3", "B4", "B5", "B6", "B7"));
    }
    Bench bench = new Bench(full, repeat, sizes, caches);
    bench.commit = commit(ROOT, write);
    List<String> options = new ArrayList<>();
    if (full) {
      options.add("--full");
    }
    if (!sizes.isEmpty()) {
      options.add(
          "--sizes " + sizes.stream().map(String::valueOf).collect(Collectors.joining(",")));
    }
    if (!caches.isEmpty()) {
      options.add(
          "--caches " + caches.stream().map(String::valueOf).collect(Collectors.joining(",")));
    }
    bench.options = String.join(" ", options);
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
    if (which.contains("B7")) {
      bench.b7();
    }
    System.out.println("Machine: " + machine());
    for (Table t : bench.tables) {
      System.out.println();
      System.out.print(t.text());
    }
    if (write != null) {
      write(write, bench.tables);
      System.out.println("\nwrote " + write);
    }
    System.exit(0);
  }

  /**
   * Replaces the tables of {@code tables}' benchmarks in the file's "## Results" and keeps the
   * others as they were, each with its own provenance line.
   */
  static void write(Path file, List<Table> tables) throws IOException {
    String doc = Files.exists(file) ? Files.readString(file) : "";
    int at = doc.indexOf("## Results");
    String head = at >= 0 ? doc.substring(0, at) : doc;
    Map<String, String> kept = new java.util.TreeMap<>();
    if (at >= 0) {
      for (String part : doc.substring(at).split("(?m)^(?=### B[1-9] )")) {
        if (part.startsWith("### B")) {
          kept.put(part.substring(4, 6), part.strip() + "\n");
        }
      }
    }
    for (Table t : tables) {
      kept.put(t.id(), t.markdown());
    }
    StringBuilder md =
        new StringBuilder("## Results\n\nMachine: ").append(machine()).append(".\n\n");
    kept.values().forEach(v -> md.append(v).append('\n'));
    Files.writeString(file, head + md);
  }
}
