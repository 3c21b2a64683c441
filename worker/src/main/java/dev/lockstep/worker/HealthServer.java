package dev.lockstep.worker;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;

/**
 * {@code GET /health}: 200 {@code {"status":"UP"}} while the worker polls, 503 otherwise; for
 * Kubernetes liveness and readiness probes.
 */
final class HealthServer implements AutoCloseable {
  private final HttpServer server;

  HealthServer(int port, String cluster, BooleanSupplier up) throws IOException {
    server = HttpServer.create(new InetSocketAddress(port), 0);
    server.createContext(
        "/health",
        exchange -> {
          boolean ok = up.getAsBoolean();
          byte[] body =
              ("{\"status\":\"" + (ok ? "UP" : "DOWN") + "\",\"cluster\":\"" + cluster + "\"}")
                  .getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(ok ? 200 : 503, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
