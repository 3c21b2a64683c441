package dev.lockstep.workflows;

import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.workflow.Workflow;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A run's state, all of it: the steps and where the run is in them, what collect found, what
 * operators have asked, and what the run has done to the data. Status is computed from it in one
 * place ({@link UpgradeWorkflowImpl#status()}); the strategy keeps its workload's own facts.
 */
final class Run {
  /** What the run is waiting for, when it waits for a person. */
  enum Waiting {
    NOTHING,
    GATE,
    PAUSE,
    HELD,
    HELD_FOR_DATA
  }

  // Given.
  UpgradeRequest request;
  UpgradePlan plan;
  Target target;
  String cluster;
  long startedAt;

  // The steps, and where the run is.
  final List<Step> steps = new ArrayList<>();
  int index;
  Phase phase = Phase.PENDING;
  String message = "starting";
  Waiting waiting = Waiting.NOTHING;

  /** Going back: the steps being run are return steps. */
  boolean returning;

  /** Why the run is going back. */
  String returnReason;

  Long finishedAt;
  Verdict verdict;

  // What collect found.
  String fromRevision;
  String toRevision;
  Map<String, String> fromImages = Map.of();
  Map<String, String> toImages = Map.of();
  final List<UnitStatus> units = new ArrayList<>();
  final List<PreChecks.Result> checks = new ArrayList<>();

  // What operators asked, and what was decided.
  final List<Steering> steering = new ArrayList<>();
  boolean pauseRequested;
  boolean cancelRequested;
  boolean rollbackRequested;
  String rollbackBy;
  boolean riskAccepted;
  boolean gateOpened;
  String heldDecision;

  /** Who has approved the gate the run waits at, in order (a gate that counts approvals). */
  final List<String> approvedBy = new ArrayList<>();

  /** When the gate the run waits at times out (epoch millis), or null. */
  Long gateDeadline;

  /** The gate the run waits at has timed out. */
  boolean gateTimedOut;

  /** The next unit step is a HELD run's retry: restarts before it do not count. */
  boolean retrying;

  // What the run has done.
  /** The run has written to the target (its mark is on it). */
  boolean changed;

  /** The run's end is still to be told on the cluster. */
  boolean untold;

  int attempt;
  int hookRuns;
  boolean migrateDone;

  /** Data was migrated forward: units may not go back before it is restored. */
  boolean dataMoved;

  String runId() {
    return Workflow.getInfo().getRunId();
  }

  String clusterFlag() {
    return Names.clusterFlag(cluster);
  }

  Step current() {
    return index < steps.size() ? steps.get(index) : null;
  }

  void mark(int at, Step.State state) {
    steps.set(at, steps.get(at).in(state));
  }

  int unitIndex(String name) {
    for (int i = 0; i < units.size(); i++) {
      if (units.get(i).name().equals(name)) {
        return i;
      }
    }
    throw new IllegalStateException("no unit " + name);
  }

  /** Whether a unit step remains that a pause could hold before. */
  boolean unitsRemain() {
    for (int i = index; i < steps.size(); i++) {
      Step s = steps.get(i);
      if (s.kind().movesUnits()
          && s.state() == Step.State.PENDING
          && !(i == index && phase == Phase.UPGRADING)) {
        return true;
      }
    }
    return false;
  }

  /** Who last steered with {@code action}, and why, for Events. */
  String lastSteering(String action) {
    for (int i = steering.size() - 1; i >= 0; i--) {
      Steering s = steering.get(i);
      if (s.accepted() && s.action().equals(action)) {
        return s.identity() + (s.reason().isEmpty() ? "" : " (" + s.reason() + ")");
      }
    }
    return "unknown";
  }

  static String cause(ActivityFailure e) {
    Throwable cause = e.getCause();
    if (cause instanceof ApplicationFailure app) {
      return app.getOriginalMessage();
    }
    return cause == null ? e.getMessage() : cause.getMessage();
  }

  static boolean isType(ActivityFailure e, String... types) {
    if (e.getCause() instanceof ApplicationFailure app) {
      for (String type : types) {
        if (type.equals(app.getType())) {
          return true;
        }
      }
    }
    return false;
  }
}
