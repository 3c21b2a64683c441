package dev.lockstep.workflows;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.temporal.api.workflowservice.v1.GetSystemInfoRequest;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * How the CLI and the worker reach Temporal: the one place that turns the settings (the {@code
 * temporal} CLI's environment names, overridden by flags of the same names) into {@link
 * WorkflowServiceStubsOptions} and checks that the server answers. Client-side only; no workflow
 * code uses it.
 *
 * @param address host:port of the Temporal frontend ({@code TEMPORAL_ADDRESS}, {@code
 *     --temporal-address})
 * @param namespace the Temporal namespace ({@code TEMPORAL_NAMESPACE}, {@code
 *     --temporal-namespace})
 * @param tls TLS asked for explicitly ({@code TEMPORAL_TLS=true}, {@code --tls}); any of the TLS
 *     settings or an API key turns it on too
 * @param tlsCert PEM file of the client certificate (chain) for mTLS ({@code TEMPORAL_TLS_CERT},
 *     {@code --tls-cert-path})
 * @param tlsKey PEM file of its PKCS#8 private key ({@code TEMPORAL_TLS_KEY}, {@code
 *     --tls-key-path})
 * @param tlsCa PEM file of the CA(s) to trust instead of the system's ({@code TEMPORAL_TLS_CA},
 *     {@code --tls-ca-path})
 * @param tlsServerName the name to expect in the server's certificate and to send as SNI, when it
 *     is not the address's host ({@code TEMPORAL_TLS_SERVER_NAME}, {@code --tls-server-name})
 * @param apiKey an API key, sent as {@code authorization: Bearer ...} ({@code TEMPORAL_API_KEY},
 *     {@code --api-key}); never printed or logged
 */
public record TemporalConnection(
    String address,
    String namespace,
    Boolean tls,
    String tlsCert,
    String tlsKey,
    String tlsCa,
    String tlsServerName,
    String apiKey) {
  public static final String DEFAULT_ADDRESS = "localhost:7233";
  public static final String DEFAULT_NAMESPACE = "default";

  /** Plain settings: an address and a namespace, no TLS. */
  public static TemporalConnection plain(String address, String namespace) {
    return new TemporalConnection(address, namespace, null, null, null, null, null, null);
  }

  /** The settings from the environment, with the defaults where it says nothing. */
  public static TemporalConnection fromEnvironment(Map<String, String> env) {
    String tls = env.get("TEMPORAL_TLS");
    return new TemporalConnection(
        or(env.get("TEMPORAL_ADDRESS"), DEFAULT_ADDRESS),
        or(env.get("TEMPORAL_NAMESPACE"), DEFAULT_NAMESPACE),
        tls == null || tls.isBlank() ? null : Boolean.valueOf(truthy(tls)),
        blankToNull(env.get("TEMPORAL_TLS_CERT")),
        blankToNull(env.get("TEMPORAL_TLS_KEY")),
        blankToNull(env.get("TEMPORAL_TLS_CA")),
        blankToNull(env.get("TEMPORAL_TLS_SERVER_NAME")),
        blankToNull(env.get("TEMPORAL_API_KEY")));
  }

  /** These settings with each one that {@code flags} gives (not null) in place of ours. */
  public TemporalConnection overriddenBy(TemporalConnection flags) {
    return new TemporalConnection(
        or(flags.address, address),
        or(flags.namespace, namespace),
        flags.tls != null ? flags.tls : tls,
        or(flags.tlsCert, tlsCert),
        or(flags.tlsKey, tlsKey),
        or(flags.tlsCa, tlsCa),
        or(flags.tlsServerName, tlsServerName),
        or(flags.apiKey, apiKey));
  }

  /** Whether the connection uses TLS: asked for, or implied by a TLS setting or an API key. */
  public boolean usesTls() {
    if (tls != null && !tls) {
      return false;
    }
    return Boolean.TRUE.equals(tls)
        || tlsCert != null
        || tlsKey != null
        || tlsCa != null
        || tlsServerName != null
        || apiKey != null;
  }

  /** What is wrong with the settings themselves (before connecting), one line each. */
  public List<String> problems() {
    List<String> problems = new ArrayList<>();
    if ((tlsCert == null) != (tlsKey == null)) {
      problems.add(
          "a client certificate needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"
              + " (--tls-cert-path and --tls-key-path)");
    }
    if (Boolean.FALSE.equals(tls)
        && (tlsCert != null || tlsKey != null || tlsCa != null || tlsServerName != null)) {
      problems.add("TLS is turned off (TEMPORAL_TLS=false) but TLS files are given");
    }
    file("TEMPORAL_TLS_CERT (--tls-cert-path)", tlsCert, problems);
    file("TEMPORAL_TLS_KEY (--tls-key-path)", tlsKey, problems);
    file("TEMPORAL_TLS_CA (--tls-ca-path)", tlsCa, problems);
    return problems;
  }

  private static void file(String what, String path, List<String> problems) {
    if (path != null && !Files.isReadable(Path.of(path))) {
      problems.add("cannot read " + what + " file " + path);
    }
  }

  /**
   * The stubs' options: the target, TLS (custom CA, server name, client certificate) and the API
   * key, as these settings say.
   *
   * @throws IllegalArgumentException when the TLS files cannot be used (one line saying which)
   */
  public WorkflowServiceStubsOptions.Builder options() {
    WorkflowServiceStubsOptions.Builder options =
        WorkflowServiceStubsOptions.newBuilder().setTarget(address);
    if (!usesTls()) {
      return options;
    }
    options.setEnableHttps(true);
    if (tlsCa != null || tlsCert != null) {
      SslContextBuilder ssl = GrpcSslContexts.forClient();
      try {
        if (tlsCa != null) {
          ssl.trustManager(new File(tlsCa));
        }
        if (tlsCert != null && tlsKey != null) {
          ssl.keyManager(new File(tlsCert), new File(tlsKey));
        }
        options.setSslContext(ssl.build());
      } catch (SSLException | IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "cannot use the TLS files (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA): "
                + rootMessage(e)
                + " (PEM files; the key in PKCS#8)",
            e);
      }
    }
    if (tlsServerName != null) {
      // The name checked in the server's certificate, and sent as SNI.
      options.setChannelInitializer(channel -> channel.overrideAuthority(tlsServerName));
    }
    if (apiKey != null) {
      String key = apiKey;
      options.addApiKey(() -> key);
      Metadata headers = new Metadata();
      headers.put(
          Metadata.Key.of("temporal-namespace", Metadata.ASCII_STRING_MARSHALLER), namespace);
      options.setHeaders(headers);
    }
    return options;
  }

  /** Never prints the API key. */
  @Override
  public String toString() {
    return "TemporalConnection[address="
        + address
        + ", namespace="
        + namespace
        + ", tls="
        + usesTls()
        + (tlsCert == null ? "" : ", tlsCert=" + tlsCert)
        + (tlsCa == null ? "" : ", tlsCa=" + tlsCa)
        + (tlsServerName == null ? "" : ", tlsServerName=" + tlsServerName)
        + (apiKey == null ? "" : ", apiKey=(set)")
        + "]";
  }

  /** Why Temporal could not be reached, for the sentence that says what to do. */
  public enum Failure {
    /** Nothing listens at the address (connection refused, unknown host). */
    NOTHING_LISTENS,
    /** The address did not answer in time. */
    NO_ANSWER,
    /** The server refused our client certificate, or asked for one we did not give. */
    CLIENT_CERTIFICATE_REFUSED,
    /** The server's certificate is not trusted, or not for the name we expect. */
    SERVER_NOT_TRUSTED,
    /** TLS on one side only. */
    TLS_MISMATCH,
    /** The server refused the API key or other credentials. */
    CREDENTIALS_REFUSED,
    /** Anything else. */
    OTHER
  }

  /** Temporal could not be reached; the message is one line saying why and what to check. */
  public static final class Unreachable extends RuntimeException {
    private final Failure failure;

    Unreachable(String message, Failure failure, Throwable cause) {
      super(message, cause);
      this.failure = failure;
    }

    public Failure failure() {
      return failure;
    }
  }

  /**
   * Stubs connected to Temporal, once one call has been answered within {@code timeout}. A
   * connection refused fails at once (no waiting for the channel to become ready, as the SDK's own
   * health check does for its whole timeout).
   *
   * @throws Unreachable with the reason in one line
   */
  public WorkflowServiceStubs connect(
      WorkflowServiceStubsOptions.Builder options,
      List<ClientInterceptor> interceptors,
      Duration timeout) {
    refusedAtOnce(timeout);
    WorkflowServiceStubs service =
        WorkflowServiceStubs.newServiceStubs(
            options.setGrpcClientInterceptors(interceptors).build());
    try {
      service
          .blockingStub()
          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .getSystemInfo(GetSystemInfoRequest.getDefaultInstance());
      return service;
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
        return service; // it answered
      }
      service.shutdownNow();
      throw unreachable(e, timeout);
    }
  }

  private Unreachable unreachable(StatusRuntimeException e, Duration timeout) {
    String cause = rootMessage(e);
    String lower = cause.toLowerCase(Locale.ROOT);
    Status.Code code = e.getStatus().getCode();
    if (code == Status.Code.UNAUTHENTICATED || code == Status.Code.PERMISSION_DENIED) {
      return new Unreachable(
          "Temporal at "
              + address
              + " refused our credentials ("
              + code
              + "): check TEMPORAL_API_KEY (--api-key) or the client certificate",
          Failure.CREDENTIALS_REFUSED,
          e);
    }
    String alert = tlsAlert(lower);
    if (alert != null) {
      return new Unreachable(
          tlsCert == null
              ? "Temporal at "
                  + address
                  + " wants a client certificate (TLS alert "
                  + alert
                  + "): set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (--tls-cert-path,"
                  + " --tls-key-path)"
              : "Temporal at "
                  + address
                  + " refused our client certificate (TLS alert "
                  + alert
                  + "): check TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (--tls-cert-path,"
                  + " --tls-key-path)",
          Failure.CLIENT_CERTIFICATE_REFUSED,
          e);
    }
    if (lower.contains("pkix")
        || lower.contains("certification path")
        || lower.contains("subject alternative name")
        || lower.contains("no name matching")
        || lower.contains("certificate_unknown")
        || lower.contains("unknown_ca")) {
      return new Unreachable(
          "cannot trust Temporal's certificate at "
              + address
              + " ("
              + cause
              + "): check TEMPORAL_TLS_CA and TEMPORAL_TLS_SERVER_NAME (--tls-ca-path,"
              + " --tls-server-name)",
          Failure.SERVER_NOT_TRUSTED,
          e);
    }
    if (lower.contains("not an ssl/tls record")
        || lower.contains("unrecognized ssl message")
        || lower.contains("first received frame was not settings")
        || lower.contains("http/2 client preface")) {
      return new Unreachable(
          "Temporal at "
              + address
              + (usesTls()
                  ? " does not speak TLS: leave TEMPORAL_TLS and the TLS settings unset"
                  : " wants TLS: set TEMPORAL_TLS=true (--tls), and the CA if it is not a public"
                      + " one"),
          Failure.TLS_MISMATCH,
          e);
    }
    if (code == Status.Code.DEADLINE_EXCEEDED) {
      return new Unreachable(
          "Temporal at " + address + " did not answer within " + Durations.format(timeout),
          Failure.NO_ANSWER,
          e);
    }
    if (lower.contains("connection refused")
        || lower.contains("unresolved")
        || lower.contains("unknown host")
        || lower.contains("name or service not known")) {
      return new Unreachable(
          "cannot reach Temporal at " + address + ": " + cause, Failure.NOTHING_LISTENS, e);
    }
    return new Unreachable("cannot reach Temporal at " + address + ": " + cause, Failure.OTHER, e);
  }

  /** The TLS alert a server sends when it will not take our certificate, or null. */
  private static String tlsAlert(String message) {
    for (String alert :
        List.of(
            "bad_certificate",
            "certificate_required",
            "unsupported_certificate",
            "certificate_revoked",
            "certificate_expired",
            "access_denied")) {
      if (message.contains(alert)) {
        return alert;
      }
    }
    if (message.contains("received fatal alert: certificate_unknown")) {
      return "certificate_unknown";
    }
    return null;
  }

  /**
   * A plain TCP connection first, for a plain {@code host:port}: nothing listening (or an unknown
   * host) is known at once, before the gRPC stack is even loaded, which is most of a CLI's time to
   * say so.
   */
  private void refusedAtOnce(Duration timeout) {
    java.util.regex.Matcher hostPort =
        java.util.regex.Pattern.compile("([^:/\\[\\]]+):(\\d{1,5})").matcher(address);
    if (!hostPort.matches()) {
      return; // a gRPC target form (dns:///..., IPv6): gRPC itself will tell
    }
    try (java.net.Socket socket = new java.net.Socket()) {
      socket.connect(
          new java.net.InetSocketAddress(hostPort.group(1), Integer.parseInt(hostPort.group(2))),
          (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
    } catch (java.net.ConnectException | java.net.UnknownHostException e) {
      throw new Unreachable(
          "cannot reach Temporal at " + address + ": " + e.getMessage(),
          Failure.NOTHING_LISTENS,
          e);
    } catch (java.io.IOException e) {
      // a timeout or anything else: let the gRPC call below say what it finds
    }
  }

  /** The innermost cause's message, in one line. */
  static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message =
        root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    return message.lines().findFirst().orElse(message);
  }

  private static boolean truthy(String value) {
    return value.equalsIgnoreCase("true") || value.equals("1") || value.equalsIgnoreCase("yes");
  }

  private static String blankToNull(String value) {
    return value == null || value.isBlank() ? null : value;
  }

  private static String or(String value, String otherwise) {
    return value == null || value.isBlank() ? otherwise : value;
  }
}
