package dev.lockstep.console;

import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.temporal.client.WorkflowClient;
import java.util.Map;

/**
 * A running console: its own Micronaut context with the HTTP server, started only here (by {@code
 * lockstep console} or the dev stack), so nothing of it loads or starts for the CLI.
 */
public final class Console implements AutoCloseable {
  private final ApplicationContext context;
  private final EmbeddedServer server;

  private Console(ApplicationContext context, EmbeddedServer server) {
    this.context = context;
    this.server = server;
  }

  /**
   * Starts the HTTP server on {@code settings}' address, talking to Temporal through {@code
   * client}.
   *
   * @throws RuntimeException when the port cannot be bound
   */
  public static Console start(ConsoleSettings settings, WorkflowClient client) {
    ApplicationContext context =
        ApplicationContext.builder()
            .deduceEnvironment(false)
            .deduceCloudEnvironment(false)
            .banner(false)
            .environments("console")
            .properties(
                Map.of(
                    "micronaut.server.host",
                    settings.bind(),
                    // Micronaut picks a free port for -1.
                    "micronaut.server.port",
                    settings.port() == 0 ? -1 : settings.port(),
                    "micronaut.server.server-header",
                    "",
                    "micronaut.server.max-request-size",
                    65536))
            .singletons(settings, new Upgrades(client))
            .start();
    try {
      EmbeddedServer server = context.getBean(EmbeddedServer.class);
      server.start();
      return new Console(context, server);
    } catch (RuntimeException e) {
      context.close();
      throw e;
    }
  }

  /** Where to open it, e.g. {@code http://127.0.0.1:8080/}. */
  public String url() {
    String host = server.getHost();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    return "http://" + host + ":" + server.getPort() + "/";
  }

  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    try {
      server.stop();
    } finally {
      context.close();
    }
  }
}
