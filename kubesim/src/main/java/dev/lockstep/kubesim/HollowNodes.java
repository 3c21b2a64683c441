package dev.lockstep.kubesim;

import dev.lockstep.kubesim.controller.ControllerManager;
import dev.lockstep.kubesim.controller.Kubelet;
import dev.lockstep.kubesim.hollow.HollowKubeletApi;
import dev.lockstep.kubesim.hollow.HollowKubeletServer;
import dev.lockstep.kubesim.hollow.LoopbackPodNetwork;
import dev.lockstep.kubesim.hollow.NodeRegistrar;
import dev.lockstep.kubesim.hollow.PodNetworkGateway;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kubesim's nodes as hollow nodes of a real control plane (as Kubernetes' kubemark does): they
 * register as Nodes of any API server, keep their Leases fresh, and run the pods its scheduler
 * binds to them with the same kubelet logic, image behaviours and {@code kubesim-behaviour}
 * ConfigMap as kubesim's own cluster. Ready pods listen on loopback addresses, and the API server's
 * pod proxy reaches them through {@link PodNetworkGateway} when the API server runs with {@code
 * HTTP_PROXY=http://127.0.0.1:GATEWAY_PORT}; each node serves its pods' logs ({@link
 * HollowKubeletServer}), which the API server reaches through the same gateway with {@code
 * HTTPS_PROXY} set to it as well.
 *
 * <pre>{@code
 * try (HollowNodes nodes = HollowNodes.builder(Config.fromKubeconfig(text)).nodes(3).start()) {
 *   ...   // the cluster now has 3 Ready nodes that run pods
 * }
 * }</pre>
 */
public final class HollowNodes implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HollowNodes.class);

  private final Vertx vertx;
  private final KubernetesClient client;
  private final Behaviours behaviours;
  private final List<String> nodeNames;
  private final LoopbackPodNetwork network;
  private final HollowKubeletApi api;
  private final ControllerManager controllers;
  private final NodeRegistrar registrar;
  private final PodNetworkGateway gateway;
  private final HollowKubeletServer kubeletServer;
  private final SharedIndexInformer<ConfigMap> behaviourConfigMap;
  private final int gatewayPort;

  private HollowNodes(Builder settings) throws Exception {
    this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2));
    this.client = new KubernetesClientBuilder().withConfig(settings.config).build();
    try {
      this.behaviours = new Behaviours(settings.podStartup);
      Map<String, Integer> index = new LinkedHashMap<>();
      for (int i = 1; i <= settings.nodes; i++) {
        index.put(settings.namePrefix + "-" + i, i);
      }
      this.nodeNames = List.copyOf(index.keySet());
      this.network = new LoopbackPodNetwork(vertx, index);
      this.api = new HollowKubeletApi(client, index.keySet());
      this.controllers = new ControllerManager(settings.resync);
      Kubelet kubelet = new Kubelet(api, network, behaviours::forKubelet, behaviours::podStartup);
      controllers.register(kubelet);
      behaviours.onChange(controllers::resyncAll);
      this.behaviourConfigMap = watchBehaviourConfigMap();
      this.kubeletServer = new HollowKubeletServer(vertx, network, api::pod, kubelet::logLines);
      Map<String, Integer> kubeletPorts = kubeletServer.start(nodeNames);
      this.registrar =
          new NodeRegistrar(
              client, network, settings.nodeCpu, settings.nodeMemory, kubeletPorts::get);
      registrar.register(nodeNames);
      this.gateway = new PodNetworkGateway(vertx, api::pod, kubeletServer::target);
      this.gatewayPort = gateway.start(settings.gatewayPort);
      api.start(controllers);
      controllers.start();
      for (String lifted : registrar.awaitSchedulable(nodeNames, settings.taintPatience)) {
        LOG.warn(
            "{}: no node lifecycle controller lifted the not-ready taint; the node lifted it",
            lifted);
      }
    } catch (Exception | Error e) {
      // Whatever did start (threads, watches, listeners) must not outlive a failed start.
      close();
      throw e;
    }
  }

  /** Hollow nodes of the API server {@code config} points at. */
  public static Builder builder(Config config) {
    return new Builder(config);
  }

  /** Settings of hollow nodes. */
  public static final class Builder {
    private final Config config;
    private int nodes = 3;
    private String namePrefix = "hollow-node";
    private String nodeCpu = "4";
    private String nodeMemory = "16Gi";
    private Duration podStartup = Duration.ofSeconds(1);
    private Duration resync = Duration.ofSeconds(5);
    private Duration taintPatience = Duration.ofSeconds(15);
    private int gatewayPort;

    private Builder(Config config) {
      this.config = config;
    }

    /** Number of nodes, 1 to 254 (default 3). */
    public Builder nodes(int nodes) {
      if (nodes < 1 || nodes > 254) {
        throw new IllegalArgumentException("--nodes must be between 1 and 254");
      }
      this.nodes = nodes;
      return this;
    }

    /** Nodes are named PREFIX-1 to PREFIX-N (default hollow-node). */
    public Builder namePrefix(String prefix) {
      this.namePrefix = prefix;
      return this;
    }

    /** Capacity and allocatable CPU of every node (default 4). */
    public Builder nodeCpu(String cpu) {
      this.nodeCpu = cpu;
      return this;
    }

    /** Capacity and allocatable memory of every node (default 16Gi). */
    public Builder nodeMemory(String memory) {
      this.nodeMemory = memory;
      return this;
    }

    /** How long a pod takes from bound to Ready (default 1 s). */
    public Builder podStartup(Duration podStartup) {
      this.podStartup = podStartup;
      return this;
    }

    /** How often the kubelet looks at all its pods again, as a safety net (default 5 s). */
    public Builder resync(Duration resync) {
      this.resync = resync;
      return this;
    }

    /**
     * How long to wait for the node lifecycle controller to lift the not-ready taint of a new node
     * before the node lifts it itself (default 15 s).
     */
    public Builder taintPatience(Duration patience) {
      this.taintPatience = patience;
      return this;
    }

    /** The pod network gateway's port on 127.0.0.1; 0 (default) picks a free one. */
    public Builder gatewayPort(int port) {
      this.gatewayPort = port;
      return this;
    }

    /** Registers the nodes and returns once they are Ready and schedulable. */
    public HollowNodes start() {
      try {
        return new HollowNodes(this);
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException("hollow nodes did not start: " + e.getMessage(), e);
      }
    }
  }

  private SharedIndexInformer<ConfigMap> watchBehaviourConfigMap() {
    return client
        .configMaps()
        .inNamespace("kube-system")
        .withName(Behaviours.CONFIG_MAP)
        .inform(
            new ResourceEventHandler<>() {
              @Override
              public void onAdd(ConfigMap configMap) {
                load(configMap.getData() == null ? Map.of() : configMap.getData());
              }

              @Override
              public void onUpdate(ConfigMap before, ConfigMap configMap) {
                load(configMap.getData() == null ? Map.of() : configMap.getData());
              }

              @Override
              public void onDelete(ConfigMap configMap, boolean finalStateUnknown) {
                load(null);
              }

              private void load(Map<String, String> data) {
                for (String problem : behaviours.loadConfigMap(data)) {
                  LOG.warn("kube-system/{}: {}", Behaviours.CONFIG_MAP, problem);
                }
              }
            });
  }

  /** The nodes' names, PREFIX-1 to PREFIX-N. */
  public List<String> nodeNames() {
    return nodeNames;
  }

  /**
   * The pod network gateway's port: the API server's {@code HTTP_PROXY} (pod proxy) and {@code
   * HTTPS_PROXY} (pod logs) should point here.
   */
  public int gatewayPort() {
    return gatewayPort;
  }

  /** Image behaviours and the pod start-up time (the ConfigMap's rules are merged in). */
  public Behaviours behaviours() {
    return behaviours;
  }

  /**
   * Stops running pods and renewing leases. The Node objects stay, as when a kubelet stops: the
   * node lifecycle controller marks them NotReady after 40 s.
   */
  @Override
  public void close() {
    // Called by a failed start too, when some of these were never made.
    for (AutoCloseable part :
        new AutoCloseable[] {
          behaviourConfigMap, api, controllers, registrar, gateway, kubeletServer, network, client
        }) {
      if (part != null) {
        try {
          part.close();
        } catch (Exception e) {
          LOG.debug("closing hollow nodes: {}", e.toString());
        }
      }
    }
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.debug("closing Vert.x: {}", e.toString());
    }
  }
}
