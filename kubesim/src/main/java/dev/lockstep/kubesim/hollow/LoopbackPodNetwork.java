package dev.lockstep.kubesim.hollow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.PodRuntime;
import dev.lockstep.kubesim.controller.PodNetwork;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pod network of hollow nodes, on this machine's loopback. Node {@code i} (1-based) owns the
 * pod CIDR {@code 10.244.i.0/24}; a pod there gets {@code 10.244.i.j} as its IP and really listens
 * on each declared TCP containerPort at its own loopback address {@code 127.244.i.j} while it is
 * Ready. Nothing listens on an undeclared port or for a pod that is not Ready, so those connections
 * are refused, as they would be in a cluster.
 *
 * <p>Why two addresses: a real API server refuses to proxy to a loopback pod IP ({@code address not
 * allowed}), so the reported IP must be a global unicast one; {@link PodNetworkGateway} carries the
 * API server's proxied requests from one to the other.
 */
public final class LoopbackPodNetwork implements PodNetwork, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LoopbackPodNetwork.class);

  private final Vertx vertx;
  private final Map<String, Integer> nodeIndex;
  private final Map<Integer, BitSet> used = new ConcurrentHashMap<>();
  private final Map<String, String> ipByUid = new ConcurrentHashMap<>();
  private final Map<String, List<Future<HttpServer>>> servers = new ConcurrentHashMap<>();

  /**
   * @param vertx where the pods' HTTP servers run
   * @param nodeIndex each hollow node's number, 1 to 254, which picks its pod CIDR
   */
  public LoopbackPodNetwork(Vertx vertx, Map<String, Integer> nodeIndex) {
    this.vertx = vertx;
    this.nodeIndex = Map.copyOf(nodeIndex);
  }

  /** The pod CIDR of a hollow node. */
  public String podCidr(String nodeName) {
    return "10.244." + index(nodeName) + ".0/24";
  }

  /** The loopback address where a pod with this IP listens, e.g. 127.244.1.2 for 10.244.1.2. */
  public static String loopbackOf(String podIp) {
    return "127." + podIp.substring(podIp.indexOf('.') + 1);
  }

  @Override
  public synchronized String assignPodIp(ObjectNode pod) {
    String uid = pod.path("metadata").path("uid").asText();
    String known = ipByUid.get(uid);
    if (known != null) {
      return known;
    }
    int node = index(pod.path("spec").path("nodeName").asText());
    BitSet taken = used.computeIfAbsent(node, n -> new BitSet());
    // .0 is the network, .1 the node itself, .255 the broadcast address.
    int host = taken.nextClearBit(2);
    if (host > 254) {
      throw new IllegalStateException("no pod address left on node " + node);
    }
    taken.set(host);
    String ip = "10.244." + node + "." + host;
    ipByUid.put(uid, ip);
    return ip;
  }

  @Override
  public String hostIp(String nodeName) {
    return "10.244." + index(nodeName) + ".1";
  }

  @Override
  public void serve(ObjectNode pod, Handler handler) {
    String uid = pod.path("metadata").path("uid").asText();
    String ip = ipByUid.get(uid);
    if (ip == null || servers.containsKey(uid)) {
      return;
    }
    String address = loopbackOf(ip);
    List<Future<HttpServer>> listening = new ArrayList<>();
    for (int port : declaredTcpPorts(pod)) {
      listening.add(
          vertx
              .createHttpServer()
              .requestHandler(
                  request -> {
                    PodRuntime.ProxyAnswer answer =
                        handler.answer(port, request.method().name(), request.path());
                    request
                        .response()
                        .setStatusCode(answer.code())
                        .putHeader("Content-Type", answer.contentType())
                        .end(answer.body());
                  })
              .listen(port, address)
              .onFailure(
                  e ->
                      LOG.warn(
                          "pod {} cannot listen on {}:{}: {}", uid, address, port, e.toString())));
    }
    servers.put(uid, listening);
  }

  @Override
  public void stopServing(String podUid) {
    List<Future<HttpServer>> listening = servers.remove(podUid);
    if (listening != null) {
      listening.forEach(f -> f.onSuccess(HttpServer::close));
    }
  }

  @Override
  public synchronized void release(String podUid) {
    stopServing(podUid);
    String ip = ipByUid.remove(podUid);
    if (ip != null) {
      String[] octets = ip.split("\\.");
      BitSet taken = used.get(Integer.parseInt(octets[2]));
      if (taken != null) {
        taken.clear(Integer.parseInt(octets[3]));
      }
    }
  }

  /** The TCP ports a pod's containers declare (UDP and SCTP ports are not served). */
  static List<Integer> declaredTcpPorts(JsonNode pod) {
    List<Integer> ports = new ArrayList<>();
    for (JsonNode container : pod.path("spec").path("containers")) {
      for (JsonNode port : container.path("ports")) {
        if (port.path("protocol").asText("TCP").equals("TCP") && port.has("containerPort")) {
          ports.add(port.path("containerPort").asInt());
        }
      }
    }
    return ports;
  }

  private int index(String nodeName) {
    Integer index = nodeIndex.get(nodeName);
    if (index == null) {
      throw new IllegalArgumentException("not a hollow node: " + nodeName);
    }
    return index;
  }

  @Override
  public void close() {
    List.copyOf(servers.keySet()).forEach(this::stopServing);
  }
}
