package dev.lockstep.starter;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.io.PrintWriter;
import java.time.Duration;
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

  private WorkflowServiceStubs service;

  /** Indented JSON, as every {@code -o json} prints it. */
  static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper()
          .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);

  /** Refuses an {@code -o} other than table or json. */
  static void tableOrJson(String output) {
    if (!output.equals("table") && !output.equals("json")) {
      throw new CliFailure(CliFailure.BAD_INPUT, "-o must be table or json, not '" + output + "'");
    }
  }

  String cluster() {
    if (cluster != null) {
      return cluster;
    }
    String env = System.getenv("LOCKSTEP_CLUSTER");
    return env == null || env.isBlank() ? Names.DEFAULT_CLUSTER : env;
  }

  static String defaultNamespace() {
    String env = System.getenv("LOCKSTEP_NAMESPACE");
    return env == null || env.isBlank() ? "default" : env;
  }

  static String temporalAddress() {
    String env = System.getenv("TEMPORAL_ADDRESS");
    return env == null || env.isBlank() ? "localhost:7233" : env;
  }

  static String temporalNamespace() {
    String env = System.getenv("TEMPORAL_NAMESPACE");
    return env == null || env.isBlank() ? "default" : env;
  }

  /** {@code --as}, else {@code $USER@hostname}. */
  static String identity(String as) {
    if (as != null && !as.isBlank()) {
      return as;
    }
    String user = System.getenv("USER");
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

  WorkflowClient temporal() {
    String address = temporalAddress();
    try {
      service =
          WorkflowServiceStubs.newConnectedServiceStubs(
              WorkflowServiceStubsOptions.newBuilder().setTarget(address).build(),
              Duration.ofSeconds(5));
    } catch (RuntimeException e) {
      throw new CliFailure(
          CliFailure.UNREACHABLE,
          "cannot reach Temporal at "
              + address
              + ": start it (./lockstep dev) or set TEMPORAL_ADDRESS",
          e);
    }
    return WorkflowClient.newInstance(
        service,
        WorkflowClientOptions.newBuilder()
            .setNamespace(temporalNamespace())
            .setIdentity("lockstep-cli/" + identity(null))
            .build());
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
      return fail(CliFailure.FAILED, "no upgrade found: " + e.getExecution().getWorkflowId(), e);
    } catch (StatusRuntimeException e) {
      Status.Code code = e.getStatus().getCode();
      if (code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED) {
        return fail(
            CliFailure.UNREACHABLE,
            "Temporal at "
                + temporalAddress()
                + " stopped answering: "
                + e.getStatus().getDescription(),
            e);
      }
      return fail(CliFailure.FAILED, "Temporal said: " + e.getStatus(), e);
    } finally {
      if (service != null) {
        service.shutdownNow();
      }
    }
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
