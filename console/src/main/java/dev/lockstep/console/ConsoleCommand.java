package dev.lockstep.console;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.TemporalConnection;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lockstep console [--port 8080]}: the web console, until stopped. */
@Command(
    name = "console",
    mixinStandardHelpOptions = true,
    description = {
      "The web console: every upgrade at a glance, one upgrade live, the gate answered from the",
      "browser. Talks to Temporal only. Put it behind an authenticating proxy that sets",
      "X-Forwarded-User (or X-Forwarded-Email): that name is who steers; without one it is",
      "read-only."
    },
    footer = {
      "",
      "Environment: TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE, TEMPORAL_TLS,",
      "  TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME,",
      "  TEMPORAL_API_KEY, LOCKSTEP_CLUSTER.",
      "Exit codes: 0 stopped, 2 bad input, 4 Temporal cannot be reached or the port is taken."
    })
public final class ConsoleCommand implements Callable<Integer> {
  static final int BAD_INPUT = 2;
  static final int UNREACHABLE = 4;

  @Option(
      names = "--port",
      defaultValue = "8080",
      description = "The port to listen on (default 8080; 0 picks a free one).")
  int port;

  @Option(
      names = "--bind",
      paramLabel = "ADDRESS",
      defaultValue = "127.0.0.1",
      description =
          "The address to listen on (default 127.0.0.1; 0.0.0.0 in a container behind its proxy).")
  String bind;

  @Option(
      names = "--cluster",
      paramLabel = "NAME",
      description =
          "A cluster whose upgrades to show; repeat for several (default: LOCKSTEP_CLUSTER or"
              + " default).")
  List<String> clusters = new ArrayList<>();

  @Option(names = "--read-only", description = "Show only: nobody can steer from this console.")
  boolean readOnly;

  @Option(
      names = "--dev-user",
      paramLabel = "NAME",
      description =
          "Everyone who opens the console steers as NAME (for a dev machine; headers are then"
              + " ignored).")
  String devUser;

  @Option(
      names = "--user-header",
      paramLabel = "HEADER",
      defaultValue = ConsoleSettings.USER_HEADER,
      description = "The header the proxy sets to the user's name (default X-Forwarded-User).")
  String userHeader;

  @Option(
      names = "--email-header",
      paramLabel = "HEADER",
      defaultValue = ConsoleSettings.EMAIL_HEADER,
      description = "The header the proxy sets to the user's e-mail (default X-Forwarded-Email).")
  String emailHeader;

  @Option(
      names = "--temporal-address",
      paramLabel = "HOST:PORT",
      description = "Temporal's frontend (default: TEMPORAL_ADDRESS or localhost:7233).")
  String temporalAddress;

  @Option(
      names = "--temporal-namespace",
      paramLabel = "NAMESPACE",
      description = "The Temporal namespace (default: TEMPORAL_NAMESPACE or default).")
  String temporalNamespace;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs {@code lockstep console ARGS}; returns the exit code. */
  public static int execute(String... args) {
    return commandLine().execute(args);
  }

  static CommandLine commandLine() {
    CommandLine line = new CommandLine(new ConsoleCommand());
    line.setCommandName("lockstep console");
    line.setParameterExceptionHandler(
        (e, args) -> {
          e.getCommandLine()
              .getErr()
              .println("lockstep: " + e.getMessage() + "; see `lockstep console --help`");
          return BAD_INPUT;
        });
    return line;
  }

  /** Checks the flags; returns why they are wrong, or null. */
  ConsoleSettings settings() {
    if (port < 0 || port > 65535) {
      throw new Bad("--port must be between 0 and 65535, was " + port);
    }
    for (String header : List.of(userHeader, emailHeader)) {
      if (!header.matches("[A-Za-z0-9!#$%&'*+.^_`|~-]+")) {
        throw new Bad("'" + header + "' is not an HTTP header name");
      }
    }
    if (devUser != null && devUser.isBlank()) {
      throw new Bad("--dev-user needs a name");
    }
    if (bind.isBlank()) {
      throw new Bad("--bind needs an address");
    }
    List<String> shown = new ArrayList<>();
    for (String c : clusters) {
      if (!c.matches("[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?")) {
        throw new Bad(
            "--cluster '" + c + "' is not a cluster name (lower case letters, digits, '-')");
      }
      if (!shown.contains(c)) {
        shown.add(c);
      }
    }
    if (shown.isEmpty()) {
      String env = System.getenv("LOCKSTEP_CLUSTER");
      shown.add(env == null || env.isBlank() ? Names.DEFAULT_CLUSTER : env);
    }
    if (readOnly && devUser != null) {
      throw new Bad("--read-only and --dev-user say opposite things: give one");
    }
    return new ConsoleSettings(bind, port, shown, devUser, userHeader, emailHeader, readOnly);
  }

  /** Bad input: one line, exit 2, nothing started. */
  static final class Bad extends RuntimeException {
    Bad(String message) {
      super(message);
    }
  }

  @Override
  public Integer call() throws InterruptedException {
    ConsoleSettings settings;
    TemporalConnection connection =
        TemporalConnection.fromEnvironment(System.getenv())
            .overriddenBy(TemporalConnection.plain(temporalAddress, temporalNamespace));
    try {
      settings = settings();
      if (!connection.problems().isEmpty()) {
        throw new Bad(connection.problems().get(0));
      }
    } catch (Bad e) {
      return fail(BAD_INPUT, e.getMessage());
    }
    WorkflowServiceStubs service;
    try {
      service = connection.connect(connection.options(), List.of(), Duration.ofSeconds(5));
    } catch (TemporalConnection.Unreachable e) {
      return fail(UNREACHABLE, e.getMessage());
    }
    WorkflowClient client =
        WorkflowClient.newInstance(
            service,
            WorkflowClientOptions.newBuilder().setNamespace(connection.namespace()).build());
    Console console;
    try {
      console = Console.start(settings, client);
    } catch (RuntimeException e) {
      service.shutdownNow();
      return fail(
          UNREACHABLE,
          "cannot listen on "
              + bind
              + ":"
              + port
              + " (in use? pick --port): "
              + Upgrades.oneLine(e));
    }
    System.out.println("console " + console.url());
    System.out.println(
        settings.readOnly()
            ? "read-only (--read-only)"
            : settings.devUser() != null
                ? "everyone steers as " + settings.devUser() + " (--dev-user)"
                : "who steers: "
                    + settings.userHeader()
                    + " or "
                    + settings.emailHeader()
                    + " from the authenticating proxy; read-only without them");
    System.out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  console.close();
                  service.shutdownNow();
                  stopped.countDown();
                }));
    stopped.await();
    return 0;
  }

  private int fail(int code, String message) {
    spec.commandLine().getErr().println("lockstep: " + message);
    spec.commandLine().getErr().flush();
    return code;
  }
}
