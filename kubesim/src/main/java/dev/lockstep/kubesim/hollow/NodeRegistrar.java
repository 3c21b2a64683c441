package dev.lockstep.kubesim.hollow;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.controller.Cluster;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.KubernetesClientTimeoutException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.ToIntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers hollow nodes and keeps them alive as a kubelet does: a Node with capacity and a Ready
 * status, and a Lease in {@code kube-node-lease} renewed every 10 s, so that the node lifecycle
 * controller keeps the node Ready (its grace period is 40 s) and lifts the {@code
 * node.kubernetes.io/not-ready:NoSchedule} taint every new Node is given.
 */
public final class NodeRegistrar implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeRegistrar.class);
  static final String NOT_READY_TAINT = "node.kubernetes.io/not-ready";
  private static final String LEASE_NAMESPACE = "kube-node-lease";
  private static final Duration RENEW_EVERY = Duration.ofSeconds(10);
  private static final int LEASE_SECONDS = 40;

  private final KubernetesClient client;
  private final LoopbackPodNetwork network;
  private final String cpu;
  private final String memory;
  private final ToIntFunction<String> kubeletPort;
  private final ScheduledExecutorService renewer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "hollow-node-leases");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param kubeletPort the port of a node's kubelet API, advertised in its status
   */
  public NodeRegistrar(
      KubernetesClient client,
      LoopbackPodNetwork network,
      String cpu,
      String memory,
      ToIntFunction<String> kubeletPort) {
    this.client = client;
    this.kubeletPort = kubeletPort;
    this.network = network;
    this.cpu = cpu;
    this.memory = memory;
  }

  /** Creates (or takes over) the Nodes, posts their status and starts renewing their Leases. */
  public void register(List<String> names) {
    for (String name : names) {
      Node node = client.nodes().withName(name).get();
      if (node == null) {
        node =
            client
                .nodes()
                .resource(
                    new NodeBuilder()
                        .withNewMetadata()
                        .withName(name)
                        .addToLabels("kubernetes.io/hostname", name)
                        .addToLabels("kubernetes.io/os", "linux")
                        .addToLabels("kubernetes.io/arch", "amd64")
                        .addToLabels("kubesim.lockstep.dev/hollow", "true")
                        .endMetadata()
                        .withNewSpec()
                        .withPodCIDR(network.podCidr(name))
                        .withPodCIDRs(network.podCidr(name))
                        .endSpec()
                        .build())
                .create();
      }
      postStatus(name);
      renew(node);
    }
    renewer.scheduleAtFixedRate(
        () -> names.forEach(this::renewQuietly),
        RENEW_EVERY.toMillis(),
        RENEW_EVERY.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  private void postStatus(String name) {
    ObjectNode status = Cluster.JSON.createObjectNode();
    ObjectNode resources = Cluster.JSON.createObjectNode();
    resources.put("cpu", cpu);
    resources.put("memory", memory);
    resources.put("pods", "110");
    status.set("capacity", resources.deepCopy());
    status.set("allocatable", resources);
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    ArrayNode conditions = status.putArray("conditions");
    for (String pressure : List.of("MemoryPressure", "DiskPressure", "PIDPressure")) {
      condition(conditions, pressure, "False", "KubeletHasNo" + pressure, now);
    }
    condition(conditions, "Ready", "True", "KubeletReady", now)
        .put("message", "kubelet is posting ready status");
    ArrayNode addresses = status.putArray("addresses");
    addresses.addObject().put("type", "InternalIP").put("address", network.hostIp(name));
    addresses.addObject().put("type", "Hostname").put("address", name);
    ObjectNode info = status.putObject("nodeInfo");
    info.put("kubeletVersion", "v1.20.2-kubesim");
    info.put("kubeProxyVersion", "v1.20.2-kubesim");
    info.put("containerRuntimeVersion", "kubesim://1");
    info.put("operatingSystem", "linux");
    info.put("architecture", "amd64");
    info.put("osImage", "kubesim hollow node");
    // Where the API server reads pod logs (HollowKubeletServer), as a kubelet advertises it.
    status
        .putObject("daemonEndpoints")
        .putObject("kubeletEndpoint")
        .put("Port", kubeletPort.applyAsInt(name));
    ObjectNode patch = Cluster.JSON.createObjectNode();
    patch.set("status", status);
    client
        .nodes()
        .withName(name)
        .subresource("status")
        .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
  }

  private static ObjectNode condition(
      ArrayNode conditions, String type, String value, String reason, String now) {
    ObjectNode c = conditions.addObject();
    c.put("type", type);
    c.put("status", value);
    c.put("reason", reason);
    c.put("lastHeartbeatTime", now);
    c.put("lastTransitionTime", now);
    return c;
  }

  private void renewQuietly(String name) {
    try {
      Node node = client.nodes().withName(name).get();
      if (node != null) {
        renew(node);
      }
    } catch (KubernetesClientException e) {
      // The next renewal tries again; a lease is good for 40 s.
      LOG.warn("renewing the lease of {} failed: {}", name, e.getMessage());
    }
  }

  private void renew(Node node) {
    String name = node.getMetadata().getName();
    ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
    Lease existing = client.leases().inNamespace(LEASE_NAMESPACE).withName(name).get();
    if (existing == null) {
      client
          .leases()
          .inNamespace(LEASE_NAMESPACE)
          .resource(
              new LeaseBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .withNamespace(LEASE_NAMESPACE)
                  // As the kubelet does: the lease goes when its Node goes.
                  .addNewOwnerReference()
                  .withApiVersion("v1")
                  .withKind("Node")
                  .withName(name)
                  .withUid(node.getMetadata().getUid())
                  .endOwnerReference()
                  .endMetadata()
                  .withNewSpec()
                  .withHolderIdentity(name)
                  .withLeaseDurationSeconds(LEASE_SECONDS)
                  .withRenewTime(now)
                  .endSpec()
                  .build())
          .create();
    } else {
      existing.getSpec().setHolderIdentity(name);
      existing.getSpec().setRenewTime(now);
      client.leases().inNamespace(LEASE_NAMESPACE).resource(existing).update();
    }
  }

  /**
   * Waits until no node carries the not-ready taint any more. A cluster whose controller manager
   * runs without the node lifecycle controller ({@code --controllers=*,-nodelifecycle}) never lifts
   * it; after {@code patience} the nodes lift it themselves.
   *
   * @return the nodes whose taint was lifted here
   */
  public List<String> awaitSchedulable(List<String> names, Duration patience) {
    List<String> liftedHere = new java.util.ArrayList<>();
    for (String name : names) {
      try {
        client
            .nodes()
            .withName(name)
            .waitUntilCondition(
                n -> n != null && !hasNotReadyTaint(n), patience.toMillis(), TimeUnit.MILLISECONDS);
      } catch (KubernetesClientTimeoutException e) {
        client
            .nodes()
            .withName(name)
            .edit(
                n -> {
                  n.getSpec().getTaints().removeIf(t -> NOT_READY_TAINT.equals(t.getKey()));
                  return n;
                });
        liftedHere.add(name);
      }
    }
    return liftedHere;
  }

  static boolean hasNotReadyTaint(Node node) {
    List<Taint> taints = node.getSpec() == null ? null : node.getSpec().getTaints();
    return taints != null && taints.stream().anyMatch(t -> NOT_READY_TAINT.equals(t.getKey()));
  }

  @Override
  public void close() {
    renewer.shutdownNow();
  }
}
