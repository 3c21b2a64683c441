package dev.lockstep.kubesim;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ApiServer;
import dev.lockstep.kubesim.api.ResourceType;
import dev.lockstep.kubesim.api.ResourceTypes;
import dev.lockstep.kubesim.api.Store;
import dev.lockstep.kubesim.controller.Cluster;
import dev.lockstep.kubesim.controller.ClusterKubeletApi;
import dev.lockstep.kubesim.controller.ControllerManager;
import dev.lockstep.kubesim.controller.DeploymentController;
import dev.lockstep.kubesim.controller.DisruptionController;
import dev.lockstep.kubesim.controller.EndpointsController;
import dev.lockstep.kubesim.controller.GarbageCollector;
import dev.lockstep.kubesim.controller.JobController;
import dev.lockstep.kubesim.controller.Kubelet;
import dev.lockstep.kubesim.controller.ReplicaSetController;
import dev.lockstep.kubesim.controller.Scheduler;
import dev.lockstep.kubesim.controller.SimulatedPodNetwork;
import dev.lockstep.kubesim.controller.StatefulSetController;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A simulated Kubernetes: a real HTTP API server on loopback (fabric8's mock server in CRUD mode
 * underneath) with emulated StatefulSet, Job and disruption controllers, a scheduler, kubelets with
 * configurable start-up times and failing images, fault injection and a request log.
 *
 * <pre>{@code
 * try (Kubesim sim = Kubesim.builder().podStartup(Duration.ofMillis(200)).start()) {
 *   KubernetesClient client = sim.client();
 *   ...
 * }
 * }</pre>
 */
public final class Kubesim implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Kubesim.class);

  private final Builder settings;
  private final Vertx vertx;
  private final ApiServer api;
  private final HttpFront front;
  private final ControllerManager controllers;
  private final RequestLog requestLog;
  private final Faults faults = new Faults();
  private final Behaviours behaviours;
  private final int port;
  private KubernetesClient client;

  private Kubesim(Builder settings) {
    this.settings = settings;
    this.behaviours = new Behaviours(settings.podStartup);
    this.requestLog = new RequestLog(settings.requestLogCapacity);
    this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2));
    this.api = new ApiServer(new Store(settings.watchHistory));
    Cluster cluster = new Cluster(api);
    this.controllers = new ControllerManager(settings.resync);
    Kubelet kubelet =
        new Kubelet(
            new ClusterKubeletApi(cluster),
            new SimulatedPodNetwork(),
            behaviours::forKubelet,
            behaviours::podStartup);
    controllers.register(new StatefulSetController(cluster));
    // ReplicaSets before Deployments: a scale-down's pods go before the next rollout step looks.
    controllers.register(new ReplicaSetController(cluster));
    controllers.register(new DeploymentController(cluster));
    controllers.register(new EndpointsController(cluster));
    controllers.register(new Scheduler(cluster));
    controllers.register(kubelet);
    controllers.register(new JobController(cluster));
    controllers.register(new DisruptionController(cluster));
    controllers.register(new GarbageCollector(cluster));
    api.setPodRuntime(kubelet);
    api.addListener(controllers);
    api.addListener(this::watchBehaviourConfigMap);
    behaviours.onChange(controllers::resyncAll);
    seed(cluster);
    controllers.start();
    this.front = new HttpFront(vertx, api, requestLog, faults, settings.bookmarkInterval);
    this.port = front.start(settings.port);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Starts a simulator with the defaults: a free port, 1 s pod start-up, 3 nodes. */
  public static Kubesim start() {
    return builder().start();
  }

  /** Settings of a simulator. */
  public static final class Builder {
    private int port;
    private Duration podStartup = Duration.ofSeconds(1);
    private int nodes = 3;
    private String nodeCpu = "4";
    private String nodeMemory = "16Gi";
    private Duration resync = Duration.ofSeconds(5);
    private int requestLogCapacity = 200_000;
    private int watchHistory = Store.DEFAULT_HISTORY_LIMIT;
    private Duration bookmarkInterval = Duration.ofMinutes(1);

    /** The port to listen on, on 127.0.0.1; 0 (default) picks a free one. */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /** How long a pod takes from scheduled to Ready (default 1 s). */
    public Builder podStartup(Duration podStartup) {
      this.podStartup = podStartup;
      return this;
    }

    /** Number of nodes (default 3). */
    public Builder nodes(int nodes) {
      this.nodes = nodes;
      return this;
    }

    /** Allocatable CPU of every node (default 4). */
    public Builder nodeCpu(String cpu) {
      this.nodeCpu = cpu;
      return this;
    }

    /** Allocatable memory of every node (default 16Gi). */
    public Builder nodeMemory(String memory) {
      this.nodeMemory = memory;
      return this;
    }

    /** How often controllers look at everything again, as a safety net (default 5 s). */
    public Builder resync(Duration resync) {
      this.resync = resync;
      return this;
    }

    /** The most request-log entries kept (default 200,000). */
    public Builder requestLogCapacity(int capacity) {
      this.requestLogCapacity = capacity;
      return this;
    }

    /**
     * How many changes of each type are kept for watches and paged lists (default 10,000): a watch
     * from an older resourceVersion, or a paged list continued from one, is answered 410 Expired,
     * as a real API server answers once its watch cache or etcd has dropped that version. A small
     * number provokes it in a test.
     */
    public Builder watchHistory(int changes) {
      if (changes < 1) {
        throw new IllegalArgumentException("watchHistory must be at least 1, not " + changes);
      }
      this.watchHistory = changes;
      return this;
    }

    /**
     * How often a watch that allows bookmarks ({@code allowWatchBookmarks=true}) gets a BOOKMARK
     * event (default 1 minute), besides the one 2 s before its timeout.
     */
    public Builder bookmarkInterval(Duration interval) {
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("bookmarkInterval must be positive, not " + interval);
      }
      this.bookmarkInterval = interval;
      return this;
    }

    public Kubesim start() {
      return new Kubesim(this);
    }
  }

  private void seed(Cluster cluster) {
    ResourceType namespaces = ResourceTypes.of("", "namespaces");
    for (String ns : List.of("default", "kube-system", "kube-public", "kube-node-lease")) {
      ObjectNode namespace = Cluster.JSON.createObjectNode();
      namespace
          .putObject("metadata")
          .put("name", ns)
          .putObject("labels")
          .put("kubernetes.io/metadata.name", ns);
      namespace.putObject("status").put("phase", "Active");
      cluster.create(namespaces, null, namespace);
    }
    ResourceType nodeType = ResourceTypes.of("", "nodes");
    for (int i = 1; i <= settings.nodes; i++) {
      String name = "kubesim-node-" + i;
      ObjectNode node = Cluster.JSON.createObjectNode();
      ObjectNode metadata = node.putObject("metadata");
      metadata.put("name", name);
      metadata
          .putObject("labels")
          .put("kubernetes.io/hostname", name)
          .put("kubernetes.io/os", "linux")
          .put("kubernetes.io/arch", "amd64");
      node.putObject("spec");
      ObjectNode stored = cluster.create(nodeType, null, node);
      ObjectNode status = stored.putObject("status");
      ObjectNode resources = Cluster.JSON.createObjectNode();
      resources.put("cpu", settings.nodeCpu);
      resources.put("memory", settings.nodeMemory);
      resources.put("pods", "110");
      status.set("capacity", resources.deepCopy());
      status.set("allocatable", resources);
      ObjectNode ready = status.putArray("conditions").addObject();
      ready.put("type", "Ready");
      ready.put("status", "True");
      ready.put("reason", "KubeletReady");
      ready.put("message", "kubelet is posting ready status");
      status
          .putArray("addresses")
          .addObject()
          .put("type", "InternalIP")
          .put("address", "10.0.0." + i);
      status.putObject("nodeInfo").put("kubeletVersion", "v1.35.0-kubesim");
      cluster.updateStatus(nodeType, stored);
    }
  }

  private void watchBehaviourConfigMap(ResourceType type, ObjectNode object, boolean deleted) {
    if (!type.kind().equals("ConfigMap")
        || !"kube-system".equals(object.path("metadata").path("namespace").asText())
        || !Behaviours.CONFIG_MAP.equals(object.path("metadata").path("name").asText())) {
      return;
    }
    Map<String, String> data = null;
    if (!deleted) {
      data = new HashMap<>();
      Map<String, String> finalData = data;
      object
          .path("data")
          .fields()
          .forEachRemaining(e -> finalData.put(e.getKey(), e.getValue().asText()));
    }
    for (String problem : behaviours.loadConfigMap(data)) {
      LOG.warn("kube-system/{}: {}", Behaviours.CONFIG_MAP, problem);
    }
  }

  /** The port the API server listens on. */
  public int port() {
    return port;
  }

  /** The API server's URL, e.g. {@code http://127.0.0.1:16443}. */
  public String url() {
    return "http://127.0.0.1:" + port;
  }

  /** The request log: every request clients sent. */
  /**
   * Drops the watch history up to now, as etcd's compaction does: a client resuming a watch (or a
   * paged list) from an earlier resourceVersion gets 410 Expired and must list again.
   */
  public void compact() {
    api.store().compact();
  }

  /**
   * Cuts every open watch's connection, as an API server that dies does: clients watch again from
   * the last resourceVersion they saw (and, if {@link #compact()} dropped it meanwhile, meet 410).
   */
  public void dropWatches() {
    front.dropWatches();
  }

  /** How many watches were answered with a 410 ERROR event since start. */
  public long expiredWatches() {
    return api.expiredWatches();
  }

  public RequestLog requestLog() {
    return requestLog;
  }

  /** Fault injection, switchable while running. */
  public Faults faults() {
    return faults;
  }

  /** Image behaviours and the pod start-up time. */
  public Behaviours behaviours() {
    return behaviours;
  }

  /** Runs every controller's resync now. */
  public void resync() {
    controllers.resyncAll();
  }

  /** A fabric8 client configuration for this simulator; fabric8's own retries are off. */
  public Config config() {
    return new ConfigBuilder(Config.empty())
        .withMasterUrl(url())
        .withNamespace("default")
        .withTrustCerts(true)
        .withRequestRetryBackoffLimit(0)
        .withConnectionTimeout(5_000)
        .withRequestTimeout(30_000)
        .build();
  }

  /** A shared fabric8 client for this simulator, closed with it. */
  public synchronized KubernetesClient client() {
    if (client == null) {
      client = new KubernetesClientBuilder().withConfig(config()).build();
    }
    return client;
  }

  /** The kubeconfig text that points kubectl and fabric8 at this simulator. */
  public String kubeconfig() {
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: kubesim
          cluster:
            server: %s
        contexts:
        - name: kubesim
          context:
            cluster: kubesim
            user: kubesim
            namespace: default
        current-context: kubesim
        users:
        - name: kubesim
          user:
            token: kubesim
        """
        .formatted(url());
  }

  /** Writes the kubeconfig to a file (creating its directory). */
  public Path writeKubeconfig(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(file, kubeconfig());
    return file;
  }

  @Override
  public void close() {
    if (client != null) {
      client.close();
    }
    controllers.close();
    front.stop();
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.debug("closing Vert.x: {}", e.toString());
    }
  }
}
