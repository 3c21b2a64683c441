package dev.lockstep.starter;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage;
import io.temporal.api.update.v1.Outcome;
import io.temporal.api.workflowservice.v1.GetSystemInfoRequest;
import io.temporal.api.workflowservice.v1.GetSystemInfoResponse;
import io.temporal.api.workflowservice.v1.ListWorkflowExecutionsRequest;
import io.temporal.api.workflowservice.v1.ListWorkflowExecutionsResponse;
import io.temporal.api.workflowservice.v1.QueryWorkflowRequest;
import io.temporal.api.workflowservice.v1.QueryWorkflowResponse;
import io.temporal.api.workflowservice.v1.UpdateWorkflowExecutionRequest;
import io.temporal.api.workflowservice.v1.UpdateWorkflowExecutionResponse;
import io.temporal.api.workflowservice.v1.WorkflowServiceGrpc;
import io.temporal.common.converter.DefaultDataConverter;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The training run behind the CLI's class-data sharing archive (issue 19: a short command spent
 * most of its second loading and verifying the same few thousand classes). The build runs it once
 * with {@code -XX:ArchiveClassesAtExit} after the jar is made: it answers {@code --help}, {@code
 * status} (table, json, yaml), {@code list} and {@code resume} against a stand-in Temporal on a
 * loopback port, so every class those commands load is in the archive, and the launcher starts the
 * CLI with it. Nothing here is on a user's path.
 */
final class ClassDataTraining {
  private ClassDataTraining() {}

  public static void main(String[] args) throws Exception {
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .addService(new StandIn())
            .build()
            .start();
    try {
      String address = "127.0.0.1:" + server.getPort();
      String target = "demo/statefulset/app";
      List<String[]> runs =
          List.of(
              new String[] {"--help"},
              new String[] {"status", "--help"},
              new String[] {"upgrade", "--help"},
              new String[] {"status", target, "--temporal-address", address},
              new String[] {"status", target, "-o", "json", "--temporal-address", address},
              new String[] {"status", target, "-o", "yaml", "--temporal-address", address},
              new String[] {"list", "--all", "--temporal-address", address},
              new String[] {
                "resume", target, "--reason", "training", "--temporal-address", address
              },
              new String[] {"status", "a/b/c/d"},
              new String[] {"statsu"});
      for (String[] run : runs) {
        PrintWriter discard = new PrintWriter(OutputStream.nullOutputStream(), true);
        LockstepCommand.commandLine(picocli.CommandLine.defaultFactory(), run)
            .setOut(discard)
            .setErr(discard)
            .execute(run);
      }
    } finally {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    loadPackages();
  }

  /**
   * Packages whose classes the commands load against a real Temporal and the stand-in does not make
   * them load: the history events {@code status} reads to find the run it means, the descriptions
   * and listings of real runs, the Jackson deserializers of their answers (issue 19: measured
   * against the dev stack, ~450 classes a {@code status} still loaded and verified from the jar one
   * by one). Every class of these packages is loaded (not initialised) so that the archive has it.
   */
  static final List<String> PACKAGES =
      List.of(
          "io/temporal/api/history/v1/",
          "io/temporal/api/workflow/v1/",
          "io/temporal/api/common/v1/",
          "io/temporal/api/enums/v1/",
          "io/temporal/api/query/v1/",
          "io/temporal/api/taskqueue/v1/",
          "io/temporal/api/sdk/v1/",
          "io/temporal/api/filter/v1/",
          "com/fasterxml/jackson/databind/deser/",
          "com/fasterxml/jackson/databind/deser/std/",
          "com/fasterxml/jackson/databind/deser/impl/",
          "dev/lockstep/workflows/");

  private static void loadPackages() throws java.io.IOException {
    java.net.URL jar = ClassDataTraining.class.getProtectionDomain().getCodeSource().getLocation();
    ClassLoader loader = ClassDataTraining.class.getClassLoader();
    try (java.util.jar.JarFile file =
        new java.util.jar.JarFile(new java.io.File(java.net.URI.create(jar.toString())))) {
      for (java.util.jar.JarEntry entry : java.util.Collections.list(file.entries())) {
        String name = entry.getName();
        int slash = name.lastIndexOf('/');
        if (!name.endsWith(".class")
            || name.startsWith("META-INF/")
            || !PACKAGES.contains(name.substring(0, slash + 1))) {
          continue;
        }
        try {
          Class.forName(
              name.substring(0, name.length() - ".class".length()).replace('/', '.'),
              false,
              loader);
        } catch (ClassNotFoundException | LinkageError e) {
          // a class the CLI cannot load is not one it needs
        }
      }
    }
  }

  /** A status as an upgrade at its first gate answers it, with every kind of unit line. */
  static Map<String, Object> status() {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("target", "demo/statefulset/app");
    s.put("runId", "training");
    s.put("phase", "WAITING_FOR_RESUME");
    s.put("message", "first unit upgraded");
    s.put("fromRevision", "app-1");
    s.put("toRevision", "app-2");
    s.put("fromImages", Map.of("app", "app:1"));
    s.put("toImages", Map.of("app", "app:2"));
    s.put("cluster", "default");
    s.put("startedAt", "2026-11-27T10:00:00Z");
    s.put("rollbackCommand", "lockstep rollback demo/statefulset/app");
    List<Map<String, Object>> units = new ArrayList<>();
    String[] states = {"UPGRADED", "UPGRADING", "WAITING"};
    for (int i = 0; i < states.length; i++) {
      Map<String, Object> u = new LinkedHashMap<>();
      u.put("name", "app-" + (2 - i));
      u.put("ordinal", 2 - i);
      u.put("state", states[i]);
      u.put("revision", "app-1");
      u.put("ready", i == 0);
      u.put("message", "training");
      units.add(u);
    }
    s.put("units", units);
    return s;
  }

  /** Temporal as far as the trained commands ask it. */
  private static final class StandIn extends WorkflowServiceGrpc.WorkflowServiceImplBase {
    @Override
    public void getSystemInfo(
        GetSystemInfoRequest request, StreamObserver<GetSystemInfoResponse> answer) {
      answer.onNext(GetSystemInfoResponse.getDefaultInstance());
      answer.onCompleted();
    }

    @Override
    public void queryWorkflow(
        QueryWorkflowRequest request, StreamObserver<QueryWorkflowResponse> answer) {
      answer.onNext(
          QueryWorkflowResponse.newBuilder()
              .setQueryResult(DefaultDataConverter.STANDARD_INSTANCE.toPayloads(status()).get())
              .build());
      answer.onCompleted();
    }

    @Override
    public void listWorkflowExecutions(
        ListWorkflowExecutionsRequest request,
        StreamObserver<ListWorkflowExecutionsResponse> answer) {
      answer.onNext(ListWorkflowExecutionsResponse.getDefaultInstance());
      answer.onCompleted();
    }

    @Override
    public void updateWorkflowExecution(
        UpdateWorkflowExecutionRequest request,
        StreamObserver<UpdateWorkflowExecutionResponse> answer) {
      answer.onNext(
          UpdateWorkflowExecutionResponse.newBuilder()
              .setUpdateRef(
                  io.temporal.api.update.v1.UpdateRef.newBuilder()
                      .setWorkflowExecution(request.getWorkflowExecution())
                      .setUpdateId(request.getRequest().getMeta().getUpdateId()))
              .setStage(
                  UpdateWorkflowExecutionLifecycleStage
                      .UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED)
              .setOutcome(
                  Outcome.newBuilder()
                      .setSuccess(
                          DefaultDataConverter.STANDARD_INSTANCE.toPayloads("resumed").get()))
              .build());
      answer.onCompleted();
    }
  }
}
