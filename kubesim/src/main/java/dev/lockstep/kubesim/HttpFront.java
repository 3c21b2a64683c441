package dev.lockstep.kubesim;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.lockstep.kubesim.api.ApiPath;
import dev.lockstep.kubesim.api.ApiServer;
import dev.lockstep.kubesim.api.OpenApi;
import dev.lockstep.kubesim.api.Tables;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.ServerWebSocket;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP side of kubesim: a Vert.x server on loopback that logs every request, injects faults,
 * serves discovery and kubesim's control endpoints, and hands resource requests to the {@link
 * ApiServer}. Watches are served both ways Kubernetes clients use: WebSocket (fabric8) and a
 * chunked HTTP stream (kubectl, client-go).
 */
final class HttpFront {
  private static final ObjectMapper JSON =
      new ObjectMapper()
          .registerModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

  private final Vertx vertx;
  private final ApiServer api;
  private final RequestLog log;
  private final Faults faults;
  private final java.time.Duration bookmarkInterval;
  private final java.util.Set<io.vertx.core.http.HttpConnection> watching =
      java.util.concurrent.ConcurrentHashMap.newKeySet();
  private HttpServer server;

  HttpFront(
      Vertx vertx,
      ApiServer api,
      RequestLog log,
      Faults faults,
      java.time.Duration bookmarkInterval) {
    this.vertx = vertx;
    this.api = api;
    this.log = log;
    this.faults = faults;
    this.bookmarkInterval = bookmarkInterval;
  }

  /** Starts listening on 127.0.0.1; port 0 picks a free one. Returns the port. */
  int start(int port) {
    HttpServerOptions options = new HttpServerOptions().setHost("127.0.0.1").setPort(port);
    server = vertx.createHttpServer(options).requestHandler(this::handle);
    try {
      server.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("kubesim could not listen on port " + port + ": " + e, e);
    }
    return server.actualPort();
  }

  void stop() {
    if (server != null) {
      try {
        server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // Closing is best effort: the Vert.x instance is closed right after.
      }
    }
  }

  private void handle(HttpServerRequest request) {
    long start = System.nanoTime();
    Instant arrived = Instant.now();
    String agent = Optional.ofNullable(request.getHeader("User-Agent")).orElse("");
    String upgrade = request.getHeader("Upgrade");
    boolean websocket = upgrade != null && upgrade.equalsIgnoreCase("websocket");
    if (websocket) {
      dispatch(request, "", start, arrived, agent, true);
      return;
    }
    request
        .body()
        .onSuccess(body -> dispatch(request, body.toString(), start, arrived, agent, false))
        .onFailure(err -> request.response().setStatusCode(400).end());
  }

  private void dispatch(
      HttpServerRequest request,
      String body,
      long start,
      Instant arrived,
      String agent,
      boolean websocket) {
    String path = request.path();
    String method = request.method().name();
    Map<String, String> query = query(request.params());
    Optional<ApiPath> apiPath = ApiPath.parse(path);
    boolean watch = isWatch(query);
    String verb = apiPath.map(p -> p.verb(method, watch)).orElse(method.toLowerCase());
    String resource = apiPath.map(ApiPath::resource).orElse("");
    Recorder recorder =
        (code, injected) ->
            log.add(
                new RequestRecord(
                    log.nextSeq(),
                    arrived,
                    method,
                    request.uri(),
                    verb,
                    resource,
                    apiPath.map(p -> p.namespace() == null ? "" : p.namespace()).orElse(""),
                    apiPath.map(p -> p.name() == null ? "" : p.name()).orElse(""),
                    code,
                    (System.nanoTime() - start) / 1000,
                    agent,
                    query.containsKey("dryRun"),
                    injected));
    if (path.startsWith("/kubesim/")) {
      control(request, path, method, body, recorder);
      return;
    }
    if (apiPath.isEmpty()) {
      nonResource(request, path, recorder);
      return;
    }
    Faults.Decision decision = faults.decide(verb, resource);
    Runnable serve =
        () -> {
          if (decision.errorCode() != 0) {
            injectFault(request, decision.errorCode(), verb, resource, recorder);
            return;
          }
          ApiServer.Call call =
              new ApiServer.Call(
                  method, apiPath.get(), query, request.getHeader("Content-Type"), body);
          Optional<String> table =
              apiPath.get().subresource() == null && Tables.supports(apiPath.get().type())
                  ? Tables.requested(request.getHeader("Accept"))
                  : Optional.empty();
          if (watch && method.equals("GET") && apiPath.get().name() == null) {
            serveWatch(request, call, websocket, recorder, table);
          } else {
            ApiServer.Answer answer = api.serve(call);
            if (table.isPresent() && method.equals("GET") && answer.code() == 200) {
              answer = asTable(call, answer, table.get());
            }
            send(request.response(), answer.code(), answer.contentType(), answer.body());
            recorder.record(answer.code());
          }
        };
    // A WebSocket upgrade must be answered in the request's own handler (Vert.x reads the request
    // once the handler returns), so WebSocket watches get no added latency.
    if (decision.latencyMillis() > 0 && !websocket) {
      vertx.setTimer(decision.latencyMillis(), id -> serve.run());
    } else {
      serve.run();
    }
  }

  /** An answer (an object or a list) as the server-side Table {@code kubectl get} asks for. */
  private static ApiServer.Answer asTable(ApiServer.Call call, ApiServer.Answer answer, String v) {
    try {
      JsonNode body = JSON.readTree(answer.body());
      ObjectNode table =
          Tables.table(
              call.path().type(), body, v, call.query().get("includeObject"), true, Instant.now());
      return new ApiServer.Answer(200, "application/json", table.toString());
    } catch (java.io.IOException e) {
      return answer;
    }
  }

  /** One watch event line with its object as a one-row Table (headers on the first only). */
  private static String tableEvent(
      ApiServer.Call call, String line, String version, boolean headers) {
    try {
      ObjectNode event = (ObjectNode) JSON.readTree(line);
      JsonNode object = event.path("object");
      if (!object.path("kind").asText().equals(call.path().type().kind())) {
        return line;
      }
      event.set(
          "object",
          Tables.table(
              call.path().type(),
              object,
              version,
              call.query().get("includeObject"),
              headers,
              Instant.now()));
      return event.toString();
    } catch (java.io.IOException | ClassCastException e) {
      return line;
    }
  }

  private interface Recorder {
    void record(int code, boolean injected);

    default void record(int code) {
      record(code, false);
    }
  }

  private void injectFault(
      HttpServerRequest request, int code, String verb, String resource, Recorder recorder) {
    String message = "kubesim: injected fault " + code + " for " + verb + " " + resource;
    HttpServerResponse response = request.response();
    if (code == 429) {
      response.putHeader("Retry-After", "1");
    }
    send(
        response,
        code,
        "application/json",
        ApiServer.status(code, ApiServer.reasonFor(code), message).toString());
    recorder.record(code, true);
  }

  private void serveWatch(
      HttpServerRequest request,
      ApiServer.Call call,
      boolean websocket,
      Recorder recorder,
      Optional<String> table) {
    java.util.concurrent.atomic.AtomicBoolean first =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    java.util.function.UnaryOperator<String> format =
        table.isEmpty()
            ? line -> line
            : line -> tableEvent(call, line, table.get(), first.getAndSet(false));
    io.vertx.core.http.HttpConnection connection = request.connection();
    watching.add(connection);
    connection.closeHandler(v -> watching.remove(connection));
    if (websocket) {
      request
          .toWebSocket()
          .onSuccess(
              socket -> {
                recorder.record(101);
                openWatch(socket, call, format);
              })
          .onFailure(err -> recorder.record(400));
      return;
    }
    HttpServerResponse response = request.response();
    response.setChunked(true);
    response.setStatusCode(200);
    response.putHeader("Content-Type", "application/json");
    response.putHeader("Transfer-Encoding", "chunked");
    ApiServer.WatchHandle handle;
    try {
      handle =
          api.watch(
              call,
              line -> response.write(format.apply(line) + "\n"),
              () -> {
                if (!response.ended() && !response.closed()) {
                  response.end();
                }
              });
    } catch (dev.lockstep.kubesim.api.ApiException e) {
      response.setChunked(false);
      response.headers().remove("Transfer-Encoding");
      send(
          response,
          e.code(),
          "application/json",
          ApiServer.status(e.code(), e.reason(), e.getMessage()).toString());
      recorder.record(e.code());
      return;
    }
    // Headers go out at once, as the API server sends them, so clients see the watch open.
    // Over HTTP/2 the first event has already sent them.
    if (!response.headWritten()) {
      response.writeHead();
    }
    recorder.record(200);
    if (response.ended()) {
      return; // answered at once (410: too old a resourceVersion)
    }
    ApiServer.WatchHandle timed = withTimers(call, handle);
    response.closeHandler(v -> timed.close());
  }

  /**
   * Ends a watch after its timeoutSeconds and, when the client allows bookmarks, sends one every
   * bookmark interval and one 2 s before the timeout (when the real API server's watch cache sends
   * its own). The returned handle also stops the timers.
   */
  private ApiServer.WatchHandle withTimers(ApiServer.Call call, ApiServer.WatchHandle handle) {
    long timeout = timeoutSeconds(call.query());
    List<Long> timers = new java.util.ArrayList<>();
    ApiServer.WatchHandle timed =
        () -> {
          synchronized (timers) {
            timers.forEach(vertx::cancelTimer);
          }
          handle.close();
        };
    synchronized (timers) {
      timers.add(vertx.setTimer(timeout * 1000, id -> timed.close()));
      if ("true".equals(call.query().get("allowWatchBookmarks"))) {
        long every = Math.max(1, bookmarkInterval.toMillis());
        timers.add(vertx.setPeriodic(every, id -> handle.bookmark()));
        if (timeout > 2) {
          timers.add(vertx.setTimer((timeout - 2) * 1000, id -> handle.bookmark()));
        }
      }
    }
    return timed;
  }

  private void openWatch(
      ServerWebSocket socket,
      ApiServer.Call call,
      java.util.function.UnaryOperator<String> format) {
    java.util.concurrent.atomic.AtomicBoolean ended =
        new java.util.concurrent.atomic.AtomicBoolean();
    ApiServer.WatchHandle handle =
        api.watch(
            call,
            line -> socket.writeTextMessage(format.apply(line)),
            () -> {
              ended.set(true);
              if (!socket.isClosed()) {
                socket.close();
              }
            });
    if (ended.get()) {
      return; // answered at once (410: too old a resourceVersion)
    }
    ApiServer.WatchHandle timed = withTimers(call, handle);
    socket.closeHandler(v -> timed.close());
    socket.exceptionHandler(err -> timed.close());
  }

  /**
   * Cuts the connection of every open watch, as an API server that dies does: no closing frame or
   * final chunk, so clients see the watch fail and watch again from the last version they saw.
   */
  void dropWatches() {
    List.copyOf(watching).forEach(io.vertx.core.http.HttpConnection::close);
  }

  /** A watch ends after timeoutSeconds, or (like the API server's default) after 30 minutes. */
  private static long timeoutSeconds(Map<String, String> query) {
    try {
      long t = Long.parseLong(query.getOrDefault("timeoutSeconds", "1800"));
      return Math.max(1, Math.min(t, 3600));
    } catch (NumberFormatException e) {
      return 1800;
    }
  }

  private static boolean isWatch(Map<String, String> query) {
    String watch = query.get("watch");
    return watch != null && (watch.equals("true") || watch.equals("1"));
  }

  private void nonResource(HttpServerRequest request, String path, Recorder recorder) {
    if (path.equals("/healthz") || path.equals("/readyz") || path.equals("/livez")) {
      send(request.response(), 200, "text/plain", "ok");
      recorder.record(200);
      return;
    }
    Optional<OpenApi.Document> openApi = OpenApi.document(path, request.getHeader("Accept"));
    if (openApi.isPresent()) {
      HttpServerResponse response = request.response();
      response.setStatusCode(200);
      response.putHeader("Content-Type", openApi.get().contentType());
      response.end(Buffer.buffer(openApi.get().body()));
      recorder.record(200);
      return;
    }
    Optional<com.fasterxml.jackson.databind.node.ObjectNode> doc =
        dev.lockstep.kubesim.api.Discovery.document(path);
    if (doc.isPresent()) {
      send(request.response(), 200, "application/json", doc.get().toString());
      recorder.record(200);
      return;
    }
    send(
        request.response(),
        404,
        "application/json",
        ApiServer.status(404, "NotFound", "the server could not find the requested resource")
            .toString());
    recorder.record(404);
  }

  /**
   * kubesim's own endpoints: {@code GET /kubesim/requests[?since=N]} (the request log), {@code
   * DELETE /kubesim/requests}, {@code GET|PUT|DELETE /kubesim/faults} (the fault rules as JSON).
   */
  private void control(
      HttpServerRequest request, String path, String method, String body, Recorder recorder) {
    HttpServerResponse response = request.response();
    try {
      switch (path + " " + method) {
        case "/kubesim/requests GET" -> {
          String since = request.getParam("since");
          List<RequestRecord> records =
              since == null ? log.all() : log.since(Long.parseLong(since));
          send(response, 200, "application/json", JSON.writeValueAsString(records));
        }
        case "/kubesim/requests DELETE" -> {
          log.clear();
          send(response, 200, "application/json", "{}");
        }
        case "/kubesim/faults GET" ->
            send(response, 200, "application/json", JSON.writeValueAsString(faults.rules()));
        case "/kubesim/faults PUT" -> {
          List<FaultRule> rules = JSON.readValue(body, new TypeReference<List<FaultRule>>() {});
          faults.set(rules);
          send(response, 200, "application/json", JSON.writeValueAsString(faults.rules()));
        }
        case "/kubesim/faults DELETE" -> {
          faults.clear();
          send(response, 200, "application/json", "[]");
        }
        default -> {
          send(response, 404, "text/plain", "unknown kubesim endpoint " + method + " " + path);
          recorder.record(404);
          return;
        }
      }
      recorder.record(200);
    } catch (Exception e) {
      send(response, 400, "text/plain", "bad kubesim request: " + e.getMessage());
      recorder.record(400);
    }
  }

  private static void send(HttpServerResponse response, int code, String type, String body) {
    if (response.ended() || response.closed()) {
      return;
    }
    response.setStatusCode(code);
    response.putHeader("Content-Type", type);
    response.end(Buffer.buffer(body == null ? "" : body));
  }

  private static Map<String, String> query(MultiMap params) {
    Map<String, String> query = new HashMap<>();
    for (Map.Entry<String, String> e : params) {
      query.putIfAbsent(e.getKey(), e.getValue());
    }
    return query;
  }
}
