package dev.lockstep.starter;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.temporal.api.common.v1.Payloads;
import io.temporal.payload.codec.PayloadCodec;
import io.temporal.payload.codec.PayloadCodecException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;

/**
 * Temporal's remote codec protocol over HTTP, for the Web UI and the {@code temporal} CLI: {@code
 * POST /encode} and {@code POST /decode} (also under a namespace segment, {@code /NS/decode}), each
 * taking and answering {@code {"payloads": [...]}} in proto3 JSON (metadata values and data in
 * base64). A browser on one of the allowed origins may call it (CORS, with credentials, so the UI
 * can pass its access token). Only the JDK's HTTP server: the CLI stays light.
 */
final class CodecServer implements AutoCloseable {
  private static final long MAX_BODY = 8L * 1024 * 1024;
  private final HttpServer server;
  private final PayloadCodec codec;
  private final Set<String> origins;

  private CodecServer(HttpServer server, PayloadCodec codec, Set<String> origins) {
    this.server = server;
    this.codec = codec;
    this.origins = origins;
  }

  /** Listens on {@code address} (port 0: any free port) and serves until closed. */
  static CodecServer start(InetSocketAddress address, PayloadCodec codec, List<String> origins)
      throws IOException {
    HttpServer http = HttpServer.create(address, 0);
    CodecServer server = new CodecServer(http, codec, Set.copyOf(origins));
    http.createContext("/", server::handle);
    http.setExecutor(Executors.newFixedThreadPool(4));
    http.start();
    return server;
  }

  int port() {
    return server.getAddress().getPort();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String origin = exchange.getRequestHeaders().getFirst("Origin");
      if (origin != null && (origins.contains(origin) || origins.contains("*"))) {
        var headers = exchange.getResponseHeaders();
        headers.set("Access-Control-Allow-Origin", origin);
        headers.set("Vary", "Origin");
        headers.set("Access-Control-Allow-Credentials", "true");
        headers.set("Access-Control-Allow-Methods", "POST, OPTIONS");
        headers.set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization");
        headers.set("Access-Control-Max-Age", "600");
      }
      String path = exchange.getRequestURI().getPath();
      boolean encode = path.endsWith("/encode");
      boolean decode = path.endsWith("/decode");
      if (!encode && !decode) {
        reply(exchange, 404, "{\"message\":\"not found: use POST /encode or /decode\"}");
        return;
      }
      if (exchange.getRequestMethod().equals("OPTIONS")) {
        exchange.sendResponseHeaders(204, -1);
        return;
      }
      if (!exchange.getRequestMethod().equals("POST")) {
        exchange.getResponseHeaders().set("Allow", "POST, OPTIONS");
        reply(exchange, 405, "{\"message\":\"use POST\"}");
        return;
      }
      String body;
      try (InputStream in = exchange.getRequestBody()) {
        byte[] bytes = in.readNBytes((int) MAX_BODY + 1);
        if (bytes.length > MAX_BODY) {
          reply(exchange, 413, "{\"message\":\"too large\"}");
          return;
        }
        body = new String(bytes, StandardCharsets.UTF_8);
      }
      Payloads.Builder in = Payloads.newBuilder();
      try {
        JsonFormat.parser().ignoringUnknownFields().merge(body, in);
      } catch (InvalidProtocolBufferException e) {
        reply(exchange, 400, json("not a JSON object with payloads: " + e.getMessage()));
        return;
      }
      Payloads out;
      try {
        out =
            Payloads.newBuilder()
                .addAllPayloads(
                    encode
                        ? codec.encode(in.getPayloadsList())
                        : codec.decode(in.getPayloadsList()))
                .build();
      } catch (PayloadCodecException e) {
        reply(exchange, 400, json(e.getMessage()));
        return;
      }
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      reply(exchange, 200, JsonFormat.printer().omittingInsignificantWhitespace().print(out));
    }
  }

  private static String json(String message) {
    return "{\"message\":\"" + message.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}";
  }

  private static void reply(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    if (!exchange.getResponseHeaders().containsKey("Content-Type")) {
      exchange.getResponseHeaders().set("Content-Type", "application/json");
    }
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
