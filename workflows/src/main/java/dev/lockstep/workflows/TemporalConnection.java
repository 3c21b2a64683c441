package dev.lockstep.workflows;

import io.grpc.ClientInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.api.workflowservice.v1.GetSystemInfoRequest;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * How the CLI and the worker reach Temporal: the one place that turns the settings (the {@code
 * temporal} CLI's environment names, overridden by flags) into {@link WorkflowServiceStubsOptions}
 * and checks that the server answers. Client-side only; no workflow code uses it.
 *
 * @param address host:port of the Temporal frontend ({@code TEMPORAL_ADDRESS})
 * @param namespace the Temporal namespace ({@code TEMPORAL_NAMESPACE})
 */
public record TemporalConnection(String address, String namespace) {
  public static final String DEFAULT_ADDRESS = "localhost:7233";
  public static final String DEFAULT_NAMESPACE = "default";

  /** The settings from the environment, with the defaults where it says nothing. */
  public static TemporalConnection fromEnvironment(Map<String, String> env) {
    return new TemporalConnection(
        or(env.get("TEMPORAL_ADDRESS"), DEFAULT_ADDRESS),
        or(env.get("TEMPORAL_NAMESPACE"), DEFAULT_NAMESPACE));
  }

  /** These settings with the given values in place of theirs; null keeps theirs. */
  public TemporalConnection with(String address, String namespace) {
    return new TemporalConnection(or(address, this.address), or(namespace, this.namespace));
  }

  /** The stubs' options: the target and, from here on, TLS and credentials. */
  public WorkflowServiceStubsOptions.Builder options() {
    return WorkflowServiceStubsOptions.newBuilder().setTarget(address);
  }

  /** Temporal could not be reached; the message is one line saying why. */
  public static final class Unreachable extends RuntimeException {
    private final Status.Code code;

    Unreachable(String message, Status.Code code, Throwable cause) {
      super(message, cause);
      this.code = code;
    }

    /** The gRPC status of the failed check. */
    public Status.Code code() {
      return code;
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
      throw new Unreachable(why(e, timeout), e.getStatus().getCode(), e);
    }
  }

  private static String why(StatusRuntimeException e, Duration timeout) {
    if (e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
      return "no answer within " + Durations.format(timeout);
    }
    return rootMessage(e);
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
          Status.Code.UNAVAILABLE,
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

  private static String or(String value, String otherwise) {
    return value == null || value.isBlank() ? otherwise : value;
  }
}
