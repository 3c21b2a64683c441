package dev.lockstep.starter;

import io.micronaut.context.ApplicationContext;
import io.micronaut.context.env.Environment;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.testserver.TestServer;
import io.temporal.worker.WorkerFactory;
import io.temporal.workflow.Workflow;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Temporal test server on a loopback port with a scripted upgrade behind the {@code
 * UpgradeWorkflow} type: the CLI connects to it as to a real cluster, and each test says what the
 * upgrade answers (its status, its verdict). The script is plain data (maps), so the CLI's tests do
 * not depend on how the real workflow is written, only on what it answers.
 */
final class FakeTemporal implements AutoCloseable {
  /** The status each upgrade answers, by workflow id (JSON fields of {@code status -o json}). */
  static final Map<String, Map<String, Object>> STATUS = new ConcurrentHashMap<>();

  /** The request each upgrade was started with (its JSON fields), by workflow id. */
  static final Map<String, Map<String, Object>> STARTED = new ConcurrentHashMap<>();

  /**
   * The verdict each upgrade gives on its plan, by workflow id (JSON fields of {@code Verdict});
   * none: accepted. A run whose verdict does not accept its plan ends at once, FAILED, as the real
   * workflow does.
   */
  static final Map<String, Map<String, Object>> VERDICT = new ConcurrentHashMap<>();

  /**
   * The targets ({@code NAMESPACE/NAME}) the scripted cluster does not have: the worker's history
   * read answers "not found" for them. Every other target exists, with no revisions.
   */
  static final java.util.Set<String> MISSING = ConcurrentHashMap.newKeySet();

  /** How many times each upgrade's status was asked for, by workflow id. */
  static final Map<String, AtomicInteger> QUERIES = new ConcurrentHashMap<>();

  private final TestServer.PortBoundTestServer server;
  private final WorkflowServiceStubs service;
  private final WorkerFactory factory;
  final WorkflowClient client;
  final int port;

  private FakeTemporal(
      int port,
      TestServer.PortBoundTestServer server,
      WorkflowServiceStubs service,
      WorkerFactory factory,
      WorkflowClient client) {
    this.port = port;
    this.server = server;
    this.service = service;
    this.factory = factory;
    this.client = client;
  }

  static FakeTemporal start() {
    int port = freePort();
    TestServer.PortBoundTestServer server = TestServer.createPortBoundServer(port, true);
    WorkflowServiceStubs service =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder().setTarget("localhost:" + port).build());
    WorkflowClient client = WorkflowClient.newInstance(service);
    WorkerFactory factory = WorkerFactory.newInstance(client);
    factory
        .newWorker("lockstep.default")
        .registerWorkflowImplementationTypes(
            FakeUpgrade.class, FakeHistory.class, FakeReleaseRecords.class, FakeReleaseRun.class);
    factory.start();
    return new FakeTemporal(port, server, service, factory, client);
  }

  String address() {
    return "localhost:" + port;
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A status as the upgrade of {@code target} answers it, with {@code units} unit names. */
  static Map<String, Object> status(String target, String phase, String message, String... units) {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("target", target);
    s.put("phase", phase);
    s.put("message", message);
    s.put("fromRevision", "pg-5d8f");
    s.put("toRevision", "pg-7c41");
    s.put("fromImages", Map.of("pg", "postgres:14.8"));
    s.put("toImages", Map.of("pg", "postgres:14.9"));
    s.put("cluster", "default");
    s.put("startedAt", "2026-11-27T10:00:00Z");
    s.put("rollbackCommand", "lockstep rollback " + target);
    List<Map<String, Object>> list = new ArrayList<>();
    for (int i = 0; i < units.length; i++) {
      list.add(
          Map.of(
              "name",
              units[i],
              "ordinal",
              units.length - 1 - i,
              "state",
              "WAITING",
              "revision",
              "pg-5d8f",
              "ready",
              true,
              "message",
              "other units upgrading first..."));
    }
    s.put("units", list);
    s.put("steering", List.of());
    s.put("checks", List.of());
    return s;
  }

  private boolean closed;

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    factory.shutdownNow();
    service.shutdownNow();
    server.close();
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper MAPPER =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /**
   * The scripted upgrade: answers the verdict and the status the test set, never ends on its own
   * (an accepted run), or ends FAILED once its verdict was asked for (a refused one). Typed, so
   * that its update handlers exist before an update that comes with the first task is delivered
   * (handlers registered at run time may come too late for it).
   */
  public static final class FakeUpgrade implements dev.lockstep.workflows.UpgradeWorkflow {
    private String id;
    private boolean answered;

    private String id() {
      return id != null ? id : Workflow.getInfo().getWorkflowId();
    }

    @Override
    @SuppressWarnings("unchecked")
    public dev.lockstep.workflows.UpgradeResult run(dev.lockstep.workflows.UpgradeRequest request) {
      id = Workflow.getInfo().getWorkflowId();
      STARTED.put(id, MAPPER.convertValue(request, Map.class));
      dev.lockstep.workflows.Verdict verdict = verdict();
      if (verdict.valid()) {
        Workflow.await(() -> false);
        return null;
      }
      // Turned down: the run ends once its verdict has been asked for, FAILED, as the real one.
      Workflow.await(() -> answered);
      Workflow.await(Workflow::isEveryHandlerFinished);
      return new dev.lockstep.workflows.UpgradeResult(
          dev.lockstep.workflows.Phase.FAILED, "refused", null, verdict);
    }

    private dev.lockstep.workflows.Verdict verdict() {
      Map<String, Object> scripted = VERDICT.get(id());
      return scripted == null
          ? dev.lockstep.workflows.Verdict.ok("pg-5d8f")
          : MAPPER.convertValue(scripted, dev.lockstep.workflows.Verdict.class);
    }

    @Override
    public dev.lockstep.workflows.Verdict awaitVerdict() {
      answered = true;
      return verdict();
    }

    @Override
    public dev.lockstep.workflows.UpgradeStatus status() {
      QUERIES.computeIfAbsent(id(), k -> new AtomicInteger()).incrementAndGet();
      Map<String, Object> s = new LinkedHashMap<>(STATUS.getOrDefault(id(), Map.of()));
      s.put("runId", Workflow.getInfo().getRunId());
      return MAPPER.convertValue(s, dev.lockstep.workflows.UpgradeStatus.class);
    }

    @Override
    public String resume(dev.lockstep.workflows.SteerRequest request) {
      return "resumed";
    }

    @Override
    public void validateResume(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public String pause(dev.lockstep.workflows.SteerRequest request) {
      return "pausing before the next unit";
    }

    @Override
    public void validatePause(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public String cancel(dev.lockstep.workflows.SteerRequest request) {
      return "cancelling";
    }

    @Override
    public void validateCancel(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public String rollback(dev.lockstep.workflows.SteerRequest request) {
      return "rolling back";
    }

    @Override
    public void validateRollback(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public String retry(dev.lockstep.workflows.SteerRequest request) {
      return "retrying the failed unit";
    }

    @Override
    public void validateRetry(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public String abandon(dev.lockstep.workflows.SteerRequest request) {
      return "abandoned";
    }

    @Override
    public void validateAbandon(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public void rollbackSignal(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public void retrySignal(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public void abandonSignal(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public void resumeSignal(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public void pauseSignal(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public void cancelSignal(dev.lockstep.workflows.SteerRequest request) {}
  }

  /** The worker's read of a target's revisions: found unless the test made it MISSING. */
  public static final class FakeHistory implements dev.lockstep.workflows.HistoryWorkflow {
    @Override
    public dev.lockstep.workflows.ClusterActivities.RevisionList revisions(
        dev.lockstep.workflows.ClusterActivities.RevisionsRequest request) {
      boolean found =
          !MISSING.contains(request.target().namespace() + "/" + request.target().name());
      return new dev.lockstep.workflows.ClusterActivities.RevisionList(
          found, null, null, List.of());
    }
  }

  /** A Helm release's revisions in the scripted cluster, by {@code NAMESPACE/RELEASE}. */
  static final Map<String, List<dev.lockstep.workflows.HelmActivities.ReleaseRevision>> RELEASES =
      new ConcurrentHashMap<>();

  /** What the release records were asked, in order ({@code action NAMESPACE/RELEASE}). */
  static final List<String> RECORDS = java.util.Collections.synchronizedList(new ArrayList<>());

  /**
   * The worker's read (and repair) of Helm's storage: the revisions the test set in {@link
   * #RELEASES}; a repair marks a latest pending revision failed there.
   */
  public static final class FakeReleaseRecords
      implements dev.lockstep.workflows.ReleaseRecordsWorkflow {
    @Override
    public Records run(Request request) {
      String key = request.namespace() + "/" + request.release();
      RECORDS.add(request.action() + " " + key);
      List<dev.lockstep.workflows.HelmActivities.ReleaseRevision> revisions =
          new ArrayList<>(RELEASES.getOrDefault(key, List.of()));
      if (request.action().equals(HISTORY)) {
        return new Records(revisions, null);
      }
      if (revisions.isEmpty()) {
        return new Records(
            null,
            new dev.lockstep.workflows.HelmActivities.ReleaseRepair(
                List.of("release " + key + " not found (no Helm release of that name there)"),
                0,
                null,
                null,
                0,
                List.of(),
                false));
      }
      var latest = revisions.get(revisions.size() - 1);
      if (!latest.status().startsWith("pending-")) {
        return new Records(
            null,
            new dev.lockstep.workflows.HelmActivities.ReleaseRepair(
                List.of(
                    "release "
                        + key
                        + " is "
                        + latest.status()
                        + " at revision "
                        + latest.revision()
                        + ": nothing to repair"),
                latest.revision(),
                latest.status(),
                latest.description(),
                0,
                List.of(),
                false));
      }
      return new Records(
          null,
          new dev.lockstep.workflows.HelmActivities.ReleaseRepair(
              List.of(),
              latest.revision(),
              latest.status(),
              latest.description(),
              latest.revision() - 1,
              List.of(
                  "StatefulSet/ghostwire: its template has ghostwire=gw:1.18.0 (revision 1's images)"),
              request.action().equals(REPAIR)));
    }
  }

  /**
   * A release's run: records its request in {@link #STARTED}, accepts it (from revision 2) and
   * never ends on its own.
   */
  public static final class FakeReleaseRun implements dev.lockstep.workflows.ReleaseWorkflow {
    @Override
    @SuppressWarnings("unchecked")
    public dev.lockstep.workflows.ReleaseResult run(
        dev.lockstep.workflows.ReleaseUpgradeRequest request) {
      STARTED.put(Workflow.getInfo().getWorkflowId(), MAPPER.convertValue(request, Map.class));
      Workflow.await(() -> false);
      return null;
    }

    @Override
    public dev.lockstep.workflows.Verdict awaitVerdict() {
      return dev.lockstep.workflows.Verdict.ok("revision 2");
    }

    @Override
    public String cancel(dev.lockstep.workflows.SteerRequest request) {
      return "cancelling";
    }

    @Override
    public void validateCancel(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public String rollback(dev.lockstep.workflows.SteerRequest request) {
      return "rolling back";
    }

    @Override
    public void validateRollback(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public void cancelSignal(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public void rollbackSignal(dev.lockstep.workflows.SteerRequest request) {}

    @Override
    public dev.lockstep.workflows.ReleaseStatus status() {
      return null;
    }
  }

  /** What one in-process run of the CLI printed and how it exited. */
  record Run(int exit, String out, String err) {}

  /** Runs the CLI in this process, as {@code lockstep ARGS...}. */
  static Run cli(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try (ApplicationContext ctx = ApplicationContext.run(Environment.CLI, Environment.TEST)) {
      int exit = LockstepCommand.commandLine(ctx).execute(args);
      return new Run(
          exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }
}
