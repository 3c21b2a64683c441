package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.temporal.activity.ActivityOptions;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.testing.WorkflowReplayer;
import io.temporal.worker.NonDeterministicException;
import io.temporal.workflow.Workflow;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The replay gate: every saved history must replay against today's workflow code, so that a change
 * to the workflow's command sequence can never break running upgrades unnoticed: upgrades wait at
 * gates for days across Lockstep's own upgrades. The histories were recorded by the engine of
 * v0.2.0 and are never re-recorded: a change to the workflow keeps them replaying with {@code
 * Workflow.getVersion}. A new path gets a new history: add its scenario to {@link Scenarios#ALL}
 * and run {@code mvn -pl workflows test -Dtest=ReplayTest -Dlockstep.recordHistories=true}, which
 * writes only the histories that are missing.
 */
class ReplayTest {
  private static final Path HISTORIES = Path.of("src", "test", "resources", "histories");

  static Stream<Path> histories() throws IOException {
    try (Stream<Path> files = Files.list(HISTORIES)) {
      return files.filter(f -> f.toString().endsWith(".json")).sorted().toList().stream();
    }
  }

  @Test
  void theSavedHistoriesCoverEveryPathARunCanTake() throws IOException {
    assertThat(histories().map(p -> p.getFileName().toString()))
        .containsAll(Scenarios.ALL.keySet());
  }

  @ParameterizedTest
  @MethodSource("histories")
  void replaysAgainstTodaysWorkflow(Path history) throws Exception {
    WorkflowReplayer.replayWorkflowExecution(
        saved(history), UpgradeWorkflowImpl.class, ReleaseWorkflowImpl.class);
  }

  @Test
  void aNonDeterministicChangeIsCaught() throws Exception {
    WorkflowExecutionHistory history = saved(HISTORIES.resolve("full-upgrade.json"));
    Throwable e =
        assertThrows(
            Throwable.class,
            () -> WorkflowReplayer.replayWorkflowExecution(history, SkipsPrepare.class));
    assertThat(causes(e))
        .as("the replay failure %s", e)
        .anyMatch(
            t ->
                t instanceof NonDeterministicException
                    || String.valueOf(t.getMessage()).contains("nondeterministic")
                    || String.valueOf(t.getMessage()).contains("NonDeterministic"));
  }

  /**
   * A saved history with the workflow id it ran under: a run reads its own id (a repair compares it
   * with the mark on the target), so replaying under the replayer's placeholder id would take
   * another path than the run did, as no worker ever would.
   */
  static WorkflowExecutionHistory saved(Path file) throws IOException {
    return new WorkflowExecutionHistory(
        WorkflowExecutionHistory.fromJson(Files.readString(file)).getHistory(),
        Scenarios.workflowId(file.getFileName().toString()));
  }

  private static List<Throwable> causes(Throwable e) {
    java.util.ArrayList<Throwable> chain = new java.util.ArrayList<>();
    for (Throwable t = e; t != null && !chain.contains(t); t = t.getCause()) {
      chain.add(t);
    }
    return chain;
  }

  /** A "refactoring" that drops the prepare step: exactly what the replay gate must refuse. */
  public static class SkipsPrepare extends UpgradeWorkflowImpl {
    @Override
    public UpgradeResult run(UpgradeRequest request) {
      ClusterActivities activities =
          Workflow.newActivityStub(
              ClusterActivities.class,
              ActivityOptions.newBuilder().setStartToCloseTimeout(Duration.ofMinutes(1)).build());
      activities.inspect(
          new ClusterActivities.InspectRequest(
              "default",
              Target.parse(request.plan().target(), "default"),
              request.plan().change(),
              false));
      activities.upgradeUnit(
          new ClusterActivities.UnitRequest(
              "default",
              Target.parse(request.plan().target(), "default"),
              2,
              "web-2",
              60,
              3,
              "",
              false,
              null,
              3,
              3,
              0));
      return null;
    }
  }

  @Test
  @EnabledIfSystemProperty(named = "lockstep.recordHistories", matches = "true")
  void recordHistories() throws IOException {
    Files.createDirectories(HISTORIES);
    for (var scenario : Scenarios.ALL.entrySet()) {
      if (Files.exists(HISTORIES.resolve(scenario.getKey()))) {
        continue;
      }
      Files.writeString(
          HISTORIES.resolve(scenario.getKey()),
          new WorkflowExecutionHistory(Scenarios.record(scenario.getKey(), scenario.getValue()))
              .toJson(true));
    }
  }
}
