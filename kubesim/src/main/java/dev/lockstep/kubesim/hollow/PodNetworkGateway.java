package dev.lockstep.kubesim.hollow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Carries a real API server's pod proxy requests to the hollow pods' loopback addresses. Start the
 * API server with {@code HTTP_PROXY=http://127.0.0.1:PORT} (this gateway's port): its pod proxy
 * then sends {@code GET http://.../PATH} here instead of connecting to the pod IP, which on this
 * machine leads nowhere. The pod comes from the {@code X-Forwarded-Uri} header the API server adds
 * ({@code /api/v1/namespaces/NS/pods/NAME[:PORT]/proxy/PATH}), because Go writes the API server's
 * own host into the proxied request line.
 *
 * <p>A pod that does not listen on the port (not Ready, undeclared port) refuses the connection;
 * the gateway then closes the API server's connection without an answer, and the API server reports
 * its own error ({@code error trying to reach service}, 500), as for a refused dial.
 *
 * <p>With {@code HTTPS_PROXY=http://127.0.0.1:PORT} too, the API server's connections to the nodes'
 * kubelet API (pod logs: {@code https://NODE:KUBELET_PORT/containerLogs/...}) come here as {@code
 * CONNECT NODE:KUBELET_PORT}, and are tunnelled to that node's {@link HollowKubeletServer}; a
 * {@code CONNECT} to anything else is refused (502).
 */
public final class PodNetworkGateway implements AutoCloseable {
  private static final Pattern POD_PROXY =
      Pattern.compile("^/api/v1/namespaces/([^/]+)/pods/([^/]+)/proxy(?:/.*)?$");
  private static final Set<String> HOP_BY_HOP =
      Set.of(
          "connection",
          "proxy-connection",
          "keep-alive",
          "proxy-authorization",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade");

  private final Vertx vertx;
  private final BiFunction<String, String, Optional<ObjectNode>> pods;
  private final BiFunction<String, Integer, Optional<SocketAddress>> kubelets;
  private final HttpClient client;
  private final NetClient tunnels;
  private HttpServer server;

  /**
   * @param vertx where the gateway runs
   * @param pods a hollow pod by namespace and name
   * @param kubelets where a {@code CONNECT host:port} to a node's kubelet API goes
   */
  public PodNetworkGateway(
      Vertx vertx,
      BiFunction<String, String, Optional<ObjectNode>> pods,
      BiFunction<String, Integer, Optional<SocketAddress>> kubelets) {
    this.vertx = vertx;
    this.pods = pods;
    this.kubelets = kubelets;
    this.client = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(2_000));
    this.tunnels = vertx.createNetClient(new NetClientOptions().setConnectTimeout(2_000));
  }

  /** Listens on 127.0.0.1 ({@code port} 0 picks a free one) and returns the port. */
  public int start(int port) throws Exception {
    server =
        vertx
            .createHttpServer()
            .requestHandler(this::forward)
            .listen(port, "127.0.0.1")
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    return server.actualPort();
  }

  private void forward(HttpServerRequest request) {
    if (request.method() == HttpMethod.CONNECT) {
      tunnel(request);
      return;
    }
    request.pause();
    Matcher m = POD_PROXY.matcher(pathOf(request.getHeader("X-Forwarded-Uri")));
    if (!m.matches()) {
      request
          .response()
          .setStatusCode(502)
          .end("kubesim gateway: only the API server's pod proxy requests come here\n");
      return;
    }
    String[] id = m.group(2).split(":");
    String name = id.length == 3 ? id[1] : id[0];
    String portText = id.length == 3 ? id[2] : id.length == 2 ? id[1] : "";
    Optional<ObjectNode> pod = pods.apply(m.group(1), name);
    String podIp = pod.map(p -> p.path("status").path("podIP").asText("")).orElse("");
    if (podIp.isEmpty()) {
      request.connection().close();
      return;
    }
    int port = portText.isEmpty() ? defaultPort(pod.get()) : Integer.parseInt(portText);
    String target = request.path() + (request.query() == null ? "" : "?" + request.query());
    RequestOptions options =
        new RequestOptions()
            .setMethod(request.method())
            .setHost(LoopbackPodNetwork.loopbackOf(podIp))
            .setPort(port)
            .setURI(target);
    request
        .headers()
        .forEach(
            h -> {
              if (!HOP_BY_HOP.contains(h.getKey().toLowerCase(java.util.Locale.ROOT))) {
                options.addHeader(h.getKey(), h.getValue());
              }
            });
    client
        .request(options)
        .compose(
            out -> {
              request.resume();
              return request.body().compose(out::send);
            })
        .compose(
            answer ->
                answer
                    .body()
                    .onSuccess(
                        body -> {
                          request.response().setStatusCode(answer.statusCode());
                          answer
                              .headers()
                              .forEach(
                                  h -> {
                                    if (!HOP_BY_HOP.contains(
                                        h.getKey().toLowerCase(java.util.Locale.ROOT))) {
                                      request.response().putHeader(h.getKey(), h.getValue());
                                    }
                                  });
                          request.response().end(body);
                        }))
        .onFailure(e -> request.connection().close());
  }

  /** {@code CONNECT host:port}: a byte tunnel to a node's kubelet API, or 502. */
  private void tunnel(HttpServerRequest request) {
    String authority = request.uri();
    int colon = authority.lastIndexOf(':');
    Optional<SocketAddress> target = Optional.empty();
    if (colon > 0) {
      try {
        target =
            kubelets.apply(
                authority.substring(0, colon), Integer.parseInt(authority.substring(colon + 1)));
      } catch (NumberFormatException e) {
        // no port: not a node's kubelet
      }
    }
    if (target.isEmpty()) {
      request
          .response()
          .setStatusCode(502)
          .end("kubesim gateway: " + authority + " is no hollow node's kubelet API\n");
      return;
    }
    tunnels
        .connect(target.get())
        .onFailure(e -> request.response().setStatusCode(502).end())
        .onSuccess(
            kubelet ->
                request
                    .toNetSocket()
                    .onFailure(e -> kubelet.close())
                    .onSuccess(apiServer -> splice(apiServer, kubelet)));
  }

  private static void splice(NetSocket a, NetSocket b) {
    a.pipeTo(b);
    b.pipeTo(a);
  }

  /** As the API server picks it: the first port of the first container that declares any. */
  private static int defaultPort(JsonNode pod) {
    for (JsonNode container : pod.path("spec").path("containers")) {
      for (JsonNode port : container.path("ports")) {
        return port.path("containerPort").asInt(80);
      }
    }
    return 80;
  }

  private static String pathOf(String uri) {
    if (uri == null) {
      return "";
    }
    int query = uri.indexOf('?');
    return query < 0 ? uri : uri.substring(0, query);
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
    client.close();
    tunnels.close();
  }
}
