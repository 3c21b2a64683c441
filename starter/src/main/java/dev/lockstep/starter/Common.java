package dev.lockstep.starter;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.TemporalConnection;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.serviceclient.RpcRetryOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * What every command shares: the cluster, Temporal's address, who is asking, and turning failures
 * into one {@code lockstep:} line and an exit code (CLI.md). Nothing connects until a command runs,
 * so {@code --help} never touches the network.
 */
abstract class Common implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--cluster",
      description = "The cluster the target lives in (default: LOCKSTEP_CLUSTER or default).")
  String cluster;

  @Option(names = "--verbose", description = "Print stack traces with errors.")
  boolean verbose;

  @Option(
      names = "--temporal-address",
      paramLabel = "HOST:PORT",
      description = "Temporal's frontend (default: TEMPORAL_ADDRESS or localhost:7233).")
  String temporalAddressFlag;

  @Option(
      names = "--temporal-namespace",
      paramLabel = "NAMESPACE",
      description = "The Temporal namespace (default: TEMPORAL_NAMESPACE or default).")
  String temporalNamespaceFlag;

  @Option(
      names = "--tls",
      negatable = true,
      description =
          "Connect to Temporal with TLS (default: TEMPORAL_TLS; on when a TLS setting or an API"
              + " key is given).")
  Boolean tls;

  @Option(
      names = "--tls-cert-path",
      paramLabel = "FILE",
      description = "PEM client certificate for mTLS (default: TEMPORAL_TLS_CERT).")
  String tlsCert;

  @Option(
      names = "--tls-key-path",
      paramLabel = "FILE",
      description = "PEM (PKCS#8) key of the client certificate (default: TEMPORAL_TLS_KEY).")
  String tlsKey;

  @Option(
      names = "--tls-ca-path",
      paramLabel = "FILE",
      description =
          "PEM CA certificate(s) to trust instead of the system's (default: TEMPORAL_TLS_CA).")
  String tlsCa;

  @Option(
      names = "--tls-server-name",
      paramLabel = "NAME",
      description =
          "The name in Temporal's certificate, when not the address's host (default:"
              + " TEMPORAL_TLS_SERVER_NAME).")
  String tlsServerName;

  @Option(
      names = "--api-key",
      paramLabel = "KEY",
      description =
          "API key, e.g. for Temporal Cloud (default: TEMPORAL_API_KEY; prefer the variable: a"
              + " flag shows in the process list).")
  String apiKey;

  @Option(
      names = "--codec-keys",
      paramLabel = "PATHS",
      description =
          "Payload encryption keys: files or directories (a mounted Secret), comma-separated;"
              + " the same as the worker's (default: LOCKSTEP_CODEC_KEYS; none: clear text).")
  String codecKeys;

  @Option(
      names = "--codec-key-id",
      paramLabel = "ID",
      description =
          "The key that encrypts new payloads (default: LOCKSTEP_CODEC_KEY_ID, else the last key"
              + " id in sort order).")
  String codecKeyId;

  private WorkflowServiceStubs service;

  /** Whether {@link #service} is the CLI daemon's warm one (kept open after the command). */
  private boolean warmService;

  /** The client {@link #temporal()} made, to say more when an upgrade is not found. */
  private WorkflowClient client;

  /** How long a call that finds no Temporal is retried before the command gives up (exit 4). */
  static final Duration RPC_RETRY_EXPIRATION = Duration.ofSeconds(4);

  /**
   * gRPC's own java.util.logging output (e.g. "Exception notifying context listener" while a
   * channel shuts down) is not for the person at the terminal: the CLI says what happened in its
   * one {@code lockstep:} line. Held here so that the configured logger is never collected.
   */
  private static final java.util.logging.Logger GRPC_LOG = quiet("io.grpc");

  private static java.util.logging.Logger quiet(String name) {
    java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
    logger.setLevel(java.util.logging.Level.OFF);
    return logger;
  }

  /** Indented JSON, as every {@code -o json} prints it. */
  static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper()
          .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
          .registerModule(Times.MODULE);

  /**
   * Block YAML without a document marker, as {@code kubectl -o yaml} prints it. Made when first
   * asked for: a command that prints no YAML does not build it (issue 19).
   */
  static com.fasterxml.jackson.databind.ObjectMapper yaml() {
    return Yaml.MAPPER;
  }

  private static final class Yaml {
    static final com.fasterxml.jackson.databind.ObjectMapper MAPPER =
        new com.fasterxml.jackson.databind.ObjectMapper(
                com.fasterxml.jackson.dataformat.yaml.YAMLFactory.builder()
                    .disable(
                        com.fasterxml.jackson.dataformat.yaml.YAMLGenerator.Feature
                            .WRITE_DOC_START_MARKER)
                    .build())
            .registerModule(Times.MODULE);
  }

  /** Refuses an {@code -o} other than table, json or yaml. */
  static void checkOutput(String output) {
    if (!output.equals("table") && !output.equals("json") && !output.equals("yaml")) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, "-o must be table, json or yaml, not '" + output + "'");
    }
  }

  /** Prints {@code value} as {@code -o} says: JSON, YAML, or the table. */
  void print(String output, Object value, java.util.function.Supplier<String> table) {
    try {
      switch (output) {
        case "json" -> out().println(JSON.writeValueAsString(value));
        case "yaml" -> out().print(yaml().writeValueAsString(value));
        default -> out().print(table.get());
      }
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new CliFailure(CliFailure.FAILED, "cannot print the answer: " + e.getOriginalMessage());
    }
    out().flush();
  }

  String cluster() {
    if (cluster != null) {
      return cluster;
    }
    String env = Invocation.getenv("LOCKSTEP_CLUSTER");
    return env == null || env.isBlank() ? Names.DEFAULT_CLUSTER : env;
  }

  static String defaultNamespace() {
    String env = Invocation.getenv("LOCKSTEP_NAMESPACE");
    return env == null || env.isBlank() ? "default" : env;
  }

  String temporalAddress() {
    return connection().address();
  }

  String temporalNamespace() {
    return connection().namespace();
  }

  /** {@code --as}, else {@code $USER@hostname} (the OS user when {@code $USER} is unset). */
  static String identity(String as) {
    return identity(as, Invocation.getenv("USER"));
  }

  static String identity(String as, String userVariable) {
    if (as != null && !as.isBlank()) {
      return as;
    }
    String user = userVariable;
    if (user == null || user.isBlank()) {
      user = System.getProperty("user.name");
    }
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      host = "localhost";
    }
    return (user == null || user.isBlank() ? "unknown" : user) + "@" + host;
  }

  static SteerRequest who(String as, String reason) {
    return new SteerRequest(identity(as), reason);
  }

  Target target(String text) {
    try {
      return Target.parse(text, defaultNamespace());
    } catch (IllegalArgumentException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, e.getMessage());
    }
  }

  /** How to reach Temporal: the environment (the {@code temporal} CLI's names), then flags. */
  TemporalConnection connection() {
    return TemporalConnection.fromEnvironment(Invocation.environment())
        .overriddenBy(
            new TemporalConnection(
                temporalAddressFlag,
                temporalNamespaceFlag,
                tls,
                tlsCert,
                tlsKey,
                tlsCa,
                tlsServerName,
                apiKey));
  }

  /**
   * A client of Temporal, once the server has answered. A refused connection is exit 4 at once;
   * calls that fail for lack of Temporal are retried for a few seconds only, then exit 4 too.
   */
  WorkflowClient temporal() {
    TemporalConnection connection = connection();
    if (!connection.problems().isEmpty()) {
      throw new CliFailure(CliFailure.BAD_INPUT, String.join("; ", connection.problems()));
    }
    // Bad codec keys are bad input, found before anything is sent.
    io.temporal.common.converter.DataConverter converter = dataConverter();
    io.temporal.serviceclient.WorkflowServiceStubsOptions.Builder options;
    try {
      options = connection.options();
    } catch (IllegalArgumentException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, e.getMessage(), e);
    }
    java.util.function.Supplier<WorkflowServiceStubs> connect =
        () -> {
          try {
            return connection.connect(
                options.setRpcRetryOptions(
                    RpcRetryOptions.newBuilder()
                        .setExpiration(RPC_RETRY_EXPIRATION)
                        .setMaximumInterval(Duration.ofSeconds(1))
                        .build()),
                List.of(),
                Duration.ofSeconds(10));
          } catch (TemporalConnection.Unreachable e) {
            throw new CliFailure(
                CliFailure.UNREACHABLE,
                switch (e.failure()) {
                  case NOTHING_LISTENS ->
                      "cannot reach Temporal at "
                          + connection.address()
                          + ": start it (./lockstep dev) or set TEMPORAL_ADDRESS";
                  case NO_ANSWER -> e.getMessage() + ": check TEMPORAL_ADDRESS";
                  default -> e.getMessage();
                },
                e);
          }
        };
    StubsCache warm = Invocation.stubs();
    service = warm == null ? connect.get() : warm.get(connection, connect);
    warmService = warm != null;
    client =
        WorkflowClient.newInstance(
            service,
            WorkflowClientOptions.newBuilder()
                .setNamespace(connection.namespace())
                .setIdentity("lockstep-cli/" + identity(null))
                .setDataConverter(converter)
                .build());
    return client;
  }

  /**
   * Why a target has no Lockstep run. When the target itself does not exist (the worker reads the
   * cluster: the CLI holds no credentials) it is the sentence every command uses for a missing
   * target, exit 2; otherwise Lockstep never ran on it, exit 1. Either way with the close names
   * among the targets Lockstep knows in the cluster.
   */
  CliFailure noRun(WorkflowClient client, Target t) {
    Boolean exists = null;
    try {
      exists =
          dev.lockstep.workflows.RevisionHistory.fetch(client, cluster(), t, Duration.ofSeconds(5))
              != null;
    } catch (java.util.concurrent.TimeoutException | RuntimeException e) {
      // no worker answered: say what Temporal knows
    }
    String close = "";
    try {
      close =
          dev.lockstep.workflows.Suggestions.didYouMean(
              t.toString(), dev.lockstep.workflows.Listing.targets(client, cluster()));
    } catch (RuntimeException e) {
      // suggestions are a courtesy
    }
    if (Boolean.FALSE.equals(exists)) {
      return new CliFailure(
          CliFailure.BAD_INPUT, dev.lockstep.workflows.Suggestions.notFound(t, cluster()) + close);
    }
    return new CliFailure(
        CliFailure.FAILED, "no Lockstep run of " + t + " in cluster " + cluster() + close);
  }

  /** The target of one of this cluster's workflow ids, or null when it is not one. */
  Target targetOf(String workflowId) {
    String prefix = Names.WORKFLOW_ID_PREFIX + cluster() + "/";
    if (!workflowId.startsWith(prefix)) {
      return null;
    }
    try {
      return Target.parse(workflowId.substring(prefix.length()), defaultNamespace());
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * The run a command means when the user names none: null for the latest, else the run before the
   * runs that were turned down without changing anything (see {@link
   * dev.lockstep.workflows.Listing#counted}).
   */
  String countedRun(WorkflowClient client, Target t) {
    return dev.lockstep.workflows.Listing.counted(client, Names.workflowId(cluster(), t))
        .orElse(null);
  }

  /** {@code --codec-keys}, else {@code LOCKSTEP_CODEC_KEYS}; null when payloads are clear. */
  String codecKeys() {
    return or(codecKeys, Invocation.getenv("LOCKSTEP_CODEC_KEYS"));
  }

  String codecKeyId() {
    return or(codecKeyId, Invocation.getenv("LOCKSTEP_CODEC_KEY_ID"));
  }

  private static String or(String value, String otherwise) {
    return value != null && !value.isBlank()
        ? value
        : otherwise == null || otherwise.isBlank() ? null : otherwise;
  }

  /**
   * The data converter: payloads encrypted with the codec keys when they are given. A bad key
   * setting is bad input (exit 2) before anything is sent.
   */
  io.temporal.common.converter.DataConverter dataConverter() {
    try {
      return dev.lockstep.workflows.PayloadEncryption.dataConverter(codecKeys(), codecKeyId());
    } catch (IllegalArgumentException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, e.getMessage(), e);
    }
  }

  /** Payloads this command cannot read for want of the right codec key, as one line; or null. */
  static String encryptedCause(Throwable e) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof io.temporal.payload.codec.PayloadCodecException) {
        return t.getMessage();
      }
      if (t instanceof io.temporal.common.converter.DataConverterException
          && String.valueOf(t.getMessage())
              .contains(dev.lockstep.workflows.PayloadEncryption.ENCODING)) {
        return "the run's payloads are encrypted: give the codec keys the worker uses"
            + " (LOCKSTEP_CODEC_KEYS or --codec-keys)";
      }
    }
    return null;
  }

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  abstract int run();

  @Override
  public final Integer call() {
    try {
      return run();
    } catch (CliFailure e) {
      return fail(e.code(), e.getMessage(), e);
    } catch (WorkflowNotFoundException e) {
      Target t = targetOf(e.getExecution().getWorkflowId());
      if (client != null && t != null) {
        CliFailure why = noRun(client, t);
        return fail(why.code(), why.getMessage(), e);
      }
      return fail(CliFailure.FAILED, "no upgrade found: " + e.getExecution().getWorkflowId(), e);
    } catch (RuntimeException e) {
      String encrypted = encryptedCause(e);
      if (encrypted != null) {
        return fail(CliFailure.BAD_INPUT, encrypted, e);
      }
      StatusRuntimeException status = transportCause(e);
      if (status != null) {
        return transportFailure(status);
      }
      if (e.getClass().getName().startsWith("io.temporal.")) {
        return fail(
            CliFailure.UNREACHABLE,
            "Temporal at " + temporalAddress() + " failed the request: " + oneLine(e),
            e);
      }
      return fail(
          CliFailure.FAILED,
          "unexpected error: " + oneLine(e) + "; run again with --verbose for the details",
          e);
    } finally {
      if (service != null && !warmService) {
        service.shutdownNow();
      }
    }
  }

  /**
   * A gRPC failure talking to Temporal, as one line: unreachable, a failed TLS handshake or a
   * refused credential is exit 4; a namespace permission refused is exit 3.
   */
  private int transportFailure(StatusRuntimeException e) {
    Status.Code code = e.getStatus().getCode();
    String address = temporalAddress();
    return switch (code) {
      case DEADLINE_EXCEEDED ->
          fail(
              CliFailure.UNREACHABLE,
              "no answer in time from Temporal at "
                  + address
                  + " or from a worker of cluster "
                  + cluster()
                  + " (DEADLINE_EXCEEDED): is `lockstep worker --cluster "
                  + cluster()
                  + "` running?",
              e);
      case UNAVAILABLE, CANCELLED ->
          fail(
              CliFailure.UNREACHABLE,
              "Temporal at "
                  + address
                  + " stopped answering ("
                  + code
                  + "); the upgrade, if any, goes on: check Temporal and run the command again",
              e);
      case UNAUTHENTICATED ->
          fail(
              CliFailure.UNREACHABLE,
              "Temporal at "
                  + address
                  + " did not accept our credentials (UNAUTHENTICATED): check TEMPORAL_API_KEY"
                  + " (--api-key) or the client certificate",
              e);
      case PERMISSION_DENIED ->
          fail(
              CliFailure.REFUSED,
              "Temporal at "
                  + address
                  + " refused: permission denied in namespace "
                  + temporalNamespace(),
              e);
      case NOT_FOUND ->
          fail(
              CliFailure.UNREACHABLE,
              "Temporal at "
                  + address
                  + " said: "
                  + firstLine(e.getStatus().getDescription())
                  + "; check TEMPORAL_NAMESPACE",
              e);
      default ->
          fail(
              CliFailure.UNREACHABLE,
              "Temporal at "
                  + address
                  + " answered "
                  + code
                  + ": "
                  + firstLine(e.getStatus().getDescription()),
              e);
    };
  }

  /** The gRPC failure behind a Temporal client exception, or null when there is none. */
  static StatusRuntimeException transportCause(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof StatusRuntimeException s) {
        return s;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
  }

  static String oneLine(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message =
        root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    return firstLine(message);
  }

  private static String firstLine(String text) {
    return text == null ? "" : text.lines().findFirst().orElse(text);
  }

  private int fail(int code, String message, Throwable e) {
    PrintWriter err = spec.commandLine().getErr();
    err.println("lockstep: " + message.lines().findFirst().orElse(message));
    if (verbose) {
      e.printStackTrace(err);
    }
    err.flush();
    return code;
  }
}
