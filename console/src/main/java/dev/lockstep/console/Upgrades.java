package dev.lockstep.console;

import dev.lockstep.workflows.Audit;
import dev.lockstep.workflows.Listing;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.RevisionHistory;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.UpgradeWorkflow;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.EventType;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.common.converter.GlobalDataConverter;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * What the console reads from and sends to Temporal: the same queries and updates as the CLI
 * ({@code status}, {@code list}, {@code audit}, {@code history}, and the steering updates with who
 * asked and why), so neither the workflow nor its audit can tell which one was used. Never the
 * cluster: the console holds no cluster credentials.
 */
final class Upgrades {
  /** How long a worker has to answer a query or an update before the page says so. */
  static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(30);

  /** The steering updates, by the name the CLI gives them. */
  static final Map<String, BiFunction<UpgradeWorkflow, SteerRequest, String>> ACTIONS =
      Map.of(
          "resume", UpgradeWorkflow::resume,
          "pause", UpgradeWorkflow::pause,
          "rollback", UpgradeWorkflow::rollback,
          "cancel", UpgradeWorkflow::cancel,
          "retry", UpgradeWorkflow::retry,
          "abandon", UpgradeWorkflow::abandon);

  /** The actions in the order the page offers them. */
  static final List<String> ACTION_ORDER =
      List.of("resume", "pause", "rollback", "cancel", "retry", "abandon");

  /** Something Temporal or its worker could not answer, said in one line. */
  static final class Unanswered extends RuntimeException {
    final boolean notFound;

    Unanswered(String message, boolean notFound) {
      super(message);
      this.notFound = notFound;
    }
  }

  /** The answer to a steering request: accepted with what it did, or refused and why. */
  record Answer(String action, boolean accepted, String text) {}

  /**
   * Where calls to Temporal wait: threads of their own, not the common pool (one thread on a
   * two-core machine), so one slow worker never holds up the pages of everyone else.
   */
  private static final ExecutorService CALLS =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "console-temporal");
            t.setDaemon(true);
            return t;
          });

  private final WorkflowClient client;

  /** Who started each run (its start event never changes), by run id. */
  private final Map<String, String> startedBy = new ConcurrentHashMap<>();

  Upgrades(WorkflowClient client) {
    this.client = client;
  }

  /** The running and ended upgrades of a cluster, newest first. */
  List<Listing.Row> list(String cluster) {
    return answered(
        () -> Listing.list(client, cluster, null, true, Instant.now()).rows(),
        "the upgrades of cluster " + cluster);
  }

  /** The status of the running (or latest) upgrade of a target. */
  UpgradeStatus status(String cluster, Target target) {
    return answered(
        () -> stub(cluster, target).status(), "the status of " + target + " in cluster " + cluster);
  }

  /** The audit of the latest run, as {@code lockstep audit} prints it. */
  Audit.Report audit(String cluster, Target target, UpgradeStatus now) {
    return answered(
        () -> {
          String workflowId = Names.workflowId(cluster, target);
          var description = client.newUntypedWorkflowStub(workflowId).describe();
          String runId = description.getExecution().getRunId();
          var history = client.fetchHistory(workflowId, runId);
          boolean running =
              description.getStatus() == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
          return Audit.of(
              runId, history.getEvents(), GlobalDataConverter.get(), running ? now : null);
        },
        "the audit of " + target);
  }

  /** The target's revisions, read by a short workflow on the cluster's worker. */
  List<RevisionHistory.Row> history(String cluster, Target target) {
    try {
      List<RevisionHistory.Row> rows =
          RevisionHistory.fetch(client, cluster, target, ANSWER_TIMEOUT);
      if (rows == null) {
        throw new Unanswered(target + " not found in cluster " + cluster, true);
      }
      return rows;
    } catch (TimeoutException e) {
      throw new Unanswered(noWorker(cluster), false);
    } catch (Unanswered e) {
      throw e;
    } catch (RuntimeException e) {
      throw new Unanswered(
          "Temporal did not answer for the history of " + target + ": " + oneLine(e), false);
    }
  }

  /** Who started a run ({@code --as}, else the CLI user's name), from its first event. */
  String startedBy(String cluster, String target, String runId) {
    if (runId == null || runId.isEmpty()) {
      return "";
    }
    return startedBy.computeIfAbsent(runId, r -> readStartedBy(cluster, target, r));
  }

  private String readStartedBy(String cluster, String target, String runId) {
    try {
      Target t = Target.parse(target, "default");
      var response =
          client
              .getWorkflowServiceStubs()
              .blockingStub()
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .getWorkflowExecutionHistory(
                  GetWorkflowExecutionHistoryRequest.newBuilder()
                      .setNamespace(client.getOptions().getNamespace())
                      .setExecution(
                          WorkflowExecution.newBuilder()
                              .setWorkflowId(Names.workflowId(cluster, t))
                              .setRunId(runId))
                      .setMaximumPageSize(1)
                      .build());
      for (HistoryEvent e : response.getHistory().getEventsList()) {
        if (e.getEventType() == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) {
          var input = e.getWorkflowExecutionStartedEventAttributes().getInput();
          UpgradeRequest request =
              GlobalDataConverter.get()
                  .fromPayloads(0, Optional.of(input), UpgradeRequest.class, UpgradeRequest.class);
          return request.identity();
        }
      }
    } catch (RuntimeException e) {
      // An unreadable start shows as unknown; the rest of the row still says what matters.
    }
    return "unknown";
  }

  /**
   * Sends one steering update with who asked and why, exactly as the CLI's command of the same name
   * does; returns the workflow's own words.
   */
  Answer steer(String cluster, Target target, String action, SteerRequest request) {
    BiFunction<UpgradeWorkflow, SteerRequest, String> update = ACTIONS.get(action);
    UpgradeWorkflow upgrade = stub(cluster, target);
    if (action.equals("rollback") && isRollbackRun(upgrade)) {
      // As `lockstep rollback` refuses it: rolling back a rollback would return what it leaves.
      return new Answer(
          action,
          false,
          "this run is itself a rollback, already going back; rolling it back would return the"
              + " version it is leaving. Pause holds it before its next unit");
    }
    CompletableFuture<String> answer =
        CompletableFuture.supplyAsync(() -> update.apply(upgrade, request), CALLS);
    try {
      return new Answer(action, true, answer.get(ANSWER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
    } catch (TimeoutException e) {
      answer.cancel(true);
      throw new Unanswered(noWorker(cluster), false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Unanswered("interrupted", false);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof WorkflowUpdateException refused) {
        return new Answer(action, false, reasonOf(refused));
      }
      if (cause instanceof WorkflowNotFoundException) {
        String ended = endedPhase(upgrade);
        return new Answer(
            action,
            false,
            ended == null
                ? "no upgrade of " + target + " found in cluster " + cluster
                : "the upgrade has ended (" + ended + ")");
      }
      throw new Unanswered("Temporal did not take the " + action + ": " + oneLine(cause), false);
    }
  }

  private UpgradeWorkflow stub(String cluster, Target target) {
    return client.newWorkflowStub(UpgradeWorkflow.class, Names.workflowId(cluster, target));
  }

  private static boolean isRollbackRun(UpgradeWorkflow upgrade) {
    try {
      UpgradeStatus status = upgrade.status();
      return status != null
          && status.phase() != null
          && !status.phase().isTerminal()
          && "rollback".equals(status.kind());
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static String endedPhase(UpgradeWorkflow upgrade) {
    try {
      return String.valueOf(upgrade.status().phase());
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static String reasonOf(WorkflowUpdateException e) {
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t instanceof ApplicationFailure app) {
        return app.getOriginalMessage();
      }
    }
    return e.getMessage();
  }

  private static String noWorker(String cluster) {
    return "no worker of cluster "
        + cluster
        + " answered within "
        + ANSWER_TIMEOUT.toSeconds()
        + "s: is `lockstep worker --cluster "
        + cluster
        + "` running?";
  }

  /** Runs a read with a bound, turning every failure into one line. */
  private static <T> T answered(Supplier<T> read, String what) {
    CompletableFuture<T> answer = CompletableFuture.supplyAsync(read, CALLS);
    try {
      return answer.get(ANSWER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      answer.cancel(true);
      throw new Unanswered(
          "no answer within " + ANSWER_TIMEOUT.toSeconds() + "s for " + what, false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Unanswered("interrupted", false);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof WorkflowNotFoundException) {
        throw new Unanswered("no upgrade found: " + what, true);
      }
      throw new Unanswered("Temporal did not answer for " + what + ": " + oneLine(cause), false);
    }
  }

  static String oneLine(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message =
        root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    String first = message.lines().findFirst().orElse("");
    return first.isEmpty() ? root.getClass().getSimpleName() : first;
  }
}
