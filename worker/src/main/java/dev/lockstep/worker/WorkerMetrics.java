package dev.lockstep.worker;

import com.sun.net.httpserver.HttpServer;
import com.uber.m3.tally.RootScopeBuilder;
import com.uber.m3.tally.Scope;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.temporal.common.reporter.MicrometerClientStatsReporter;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Prometheus {@code GET /metrics} of a worker: the Temporal SDK's metrics (its tally scope reported
 * to Micrometer) and Lockstep's own, which the workflow records through {@code
 * Workflow.getMetricsScope()} and the activities through their execution context's scope, both
 * children of {@link #scope()}. docs/worker.md#metrics lists every series.
 */
public final class WorkerMetrics implements AutoCloseable {
  /** How often the SDK's scope hands its counters and gauges to the registry. */
  public static final Duration REPORT_EVERY = Duration.ofSeconds(10);

  private final PrometheusMeterRegistry registry;
  private final Scope scope;
  private final HttpServer server;

  /**
   * Serves {@code /metrics} on {@code port} (0: a free one), counters reported every {@code
   * reportEvery}.
   */
  public WorkerMetrics(int port, Duration reportEvery) throws IOException {
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    scope =
        new RootScopeBuilder()
            .reporter(new MicrometerClientStatsReporter(registry))
            .reportEvery(com.uber.m3.util.Duration.ofMillis(reportEvery.toMillis()));
    try {
      server = HttpServer.create(new InetSocketAddress(port), 0);
    } catch (IOException e) {
      closeScope();
      throw e;
    }
    server.createContext(
        "/metrics",
        exchange -> {
          byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
          exchange
              .getResponseHeaders()
              .add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
  }

  /** The root scope to give the worker's service stubs (metrics scope of every workflow). */
  public Scope scope() {
    return scope;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** Stops serving; what the scope still buffers is reported first. */
  @Override
  public void close() {
    server.stop(0);
    closeScope();
    registry.close();
  }

  private void closeScope() {
    try {
      scope.close();
    } catch (com.uber.m3.tally.ScopeCloseException e) {
      // Only the last counters are lost: the worker is stopping.
    }
  }
}
