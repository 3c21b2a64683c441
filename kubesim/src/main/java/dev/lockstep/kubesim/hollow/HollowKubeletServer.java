package dev.lockstep.kubesim.hollow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The part of the kubelet API a hollow node serves: the container logs the API server reads for
 * {@code pods/log} ({@code GET /containerLogs/NAMESPACE/POD/CONTAINER}), over HTTPS on the node's
 * own loopback address ({@code 127.244.i.1} for the node address {@code 10.244.i.1}) and a free
 * port, which the Node advertises in {@code status.daemonEndpoints.kubeletEndpoint.Port}.
 *
 * <p>A v1.20 API server dials the node's {@code Hostname} address first (its default {@code
 * --kubelet-preferred-address-types}), which is the node's name and resolves nowhere here; through
 * {@code HTTPS_PROXY} it asks the pod network gateway to {@code CONNECT} to it instead, and the
 * gateway connects it here ({@link #target}). The certificate is self-signed ({@link
 * ServingCertificate}): an API server without {@code --kubelet-certificate-authority} does not
 * verify it. No client certificate is asked for (the kit's API server has none to present), so
 * anyone who reaches the loopback address reads the logs, as of a kubelet with anonymous access.
 *
 * <p>Query parameters as the kubelet reads them: {@code tailLines}, {@code limitBytes}, {@code
 * sinceSeconds}, {@code sinceTime}, {@code timestamps}, {@code previous} (the log up to the
 * container's last exit; 400 when it never exited); {@code follow=true} answers what is there and
 * ends, it does not stream.
 */
public final class HollowKubeletServer implements AutoCloseable {
  private static final Pattern CONTAINER_LOGS =
      Pattern.compile("^/containerLogs/([^/]+)/([^/]+)/([^/]+)/?$");

  private final Vertx vertx;
  private final LoopbackPodNetwork network;
  private final BiFunction<String, String, Optional<ObjectNode>> pods;
  private final BiFunction<ObjectNode, String, List<String>> logs;
  private final Map<String, HttpServer> servers = new LinkedHashMap<>();

  /**
   * @param vertx where the servers run
   * @param network the nodes' addresses
   * @param pods a pod by namespace and name, from the nodes' own watches
   * @param logs every line a pod's container wrote, each starting with its time
   */
  public HollowKubeletServer(
      Vertx vertx,
      LoopbackPodNetwork network,
      BiFunction<String, String, Optional<ObjectNode>> pods,
      BiFunction<ObjectNode, String, List<String>> logs) {
    this.vertx = vertx;
    this.network = network;
    this.pods = pods;
    this.logs = logs;
  }

  /** Starts one server per node and returns each node's port. */
  public Map<String, Integer> start(List<String> nodeNames) throws Exception {
    ServingCertificate certificate = ServingCertificate.create("hollow-node");
    HttpServerOptions options =
        new HttpServerOptions()
            .setSsl(true)
            .setKeyCertOptions(
                new PemKeyCertOptions()
                    .addKeyValue(Buffer.buffer(certificate.privateKeyPem()))
                    .addCertValue(Buffer.buffer(certificate.certificatePem())));
    Map<String, Integer> ports = new LinkedHashMap<>();
    for (String node : nodeNames) {
      HttpServer server =
          vertx
              .createHttpServer(options)
              .requestHandler(request -> serve(node, request))
              .listen(0, address(node))
              .toCompletionStage()
              .toCompletableFuture()
              .get(10, TimeUnit.SECONDS);
      servers.put(node, server);
      ports.put(node, server.actualPort());
    }
    return ports;
  }

  /**
   * Where a {@code CONNECT host:port} for a node's kubelet goes: {@code host} is the node's name
   * (its Hostname address) or its InternalIP, {@code port} its kubelet port.
   */
  public Optional<SocketAddress> target(String host, int port) {
    for (Map.Entry<String, HttpServer> node : servers.entrySet()) {
      boolean named = host.equals(node.getKey()) || host.equals(network.hostIp(node.getKey()));
      if (named && node.getValue().actualPort() == port) {
        return Optional.of(SocketAddress.inetSocketAddress(port, address(node.getKey())));
      }
    }
    return Optional.empty();
  }

  private String address(String node) {
    return LoopbackPodNetwork.loopbackOf(network.hostIp(node));
  }

  private void serve(String node, HttpServerRequest request) {
    Matcher m = CONTAINER_LOGS.matcher(request.path());
    if (request.method() != HttpMethod.GET || !m.matches()) {
      answer(request, 404, "404 page not found (a hollow node serves only /containerLogs)\n");
      return;
    }
    String namespace = m.group(1);
    String name = m.group(2);
    String container = m.group(3);
    Optional<ObjectNode> pod =
        pods.apply(namespace, name)
            .filter(p -> node.equals(p.path("spec").path("nodeName").asText()));
    if (pod.isEmpty()) {
      answer(request, 404, "pod \"" + namespace + "/" + name + "\" not found on " + node + "\n");
      return;
    }
    boolean declared = false;
    for (JsonNode c : pod.get().path("spec").path("containers")) {
      declared |= container.equals(c.path("name").asText());
    }
    if (!declared) {
      answer(
          request,
          404,
          "container \"" + container + "\" not found in pod \"" + namespace + "/" + name + "\"\n");
      return;
    }
    try {
      answer(
          request,
          200,
          select(logs.apply(pod.get(), container), request::getParam, container, name));
    } catch (IllegalArgumentException e) {
      answer(request, 400, e.getMessage() + "\n");
    }
  }

  /** The lines the query asks for, as the kubelet picks them. */
  static String select(
      List<String> all, Function<String, String> query, String container, String podName) {
    List<String> lines = new ArrayList<>(all);
    if (flag(query, "previous")) {
      int lastExit = -1;
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).contains(": exited with code ")) {
          lastExit = i;
        }
      }
      if (lastExit < 0) {
        throw new IllegalArgumentException(
            "previous terminated container \""
                + container
                + "\" in pod \""
                + podName
                + "\" not found");
      }
      lines = new ArrayList<>(lines.subList(0, lastExit + 1));
    }
    Instant since = since(query);
    if (since != null) {
      lines.removeIf(line -> timeOf(line).isBefore(since));
    }
    long tail = number(query, "tailLines");
    if (tail >= 0 && lines.size() > tail) {
      lines = new ArrayList<>(lines.subList(lines.size() - (int) tail, lines.size()));
    }
    StringBuilder text = new StringBuilder();
    boolean timestamps = flag(query, "timestamps");
    for (String line : lines) {
      if (timestamps) {
        text.append(timeOf(line)).append(' ');
      }
      text.append(line).append('\n');
    }
    byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
    long limit = number(query, "limitBytes");
    if (limit >= 0 && bytes.length > limit) {
      return new String(bytes, 0, (int) limit, StandardCharsets.UTF_8);
    }
    return text.toString();
  }

  private static Instant since(Function<String, String> query) {
    long seconds = number(query, "sinceSeconds");
    if (seconds >= 0) {
      return Instant.now().minusSeconds(seconds);
    }
    String time = query.apply("sinceTime");
    if (time == null || time.isEmpty()) {
      return null;
    }
    try {
      return Instant.parse(time);
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("sinceTime must be an RFC 3339 time, was " + time);
    }
  }

  private static Instant timeOf(String line) {
    int space = line.indexOf(' ');
    try {
      return Instant.parse(space < 0 ? line : line.substring(0, space));
    } catch (DateTimeParseException e) {
      return Instant.EPOCH;
    }
  }

  private static boolean flag(Function<String, String> query, String name) {
    return "true".equalsIgnoreCase(query.apply(name)) || "1".equals(query.apply(name));
  }

  private static long number(Function<String, String> query, String name) {
    String value = query.apply(name);
    if (value == null || value.isEmpty()) {
      return -1;
    }
    try {
      long n = Long.parseLong(value);
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number at or above 0, was " + value);
    }
  }

  private static void answer(HttpServerRequest request, int status, String text) {
    request
        .response()
        .setStatusCode(status)
        .putHeader("Content-Type", "text/plain; charset=utf-8")
        .end(text);
  }

  @Override
  public void close() {
    servers.values().forEach(HttpServer::close);
  }
}
