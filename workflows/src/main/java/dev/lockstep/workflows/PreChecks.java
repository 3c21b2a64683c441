package dev.lockstep.workflows;

import java.util.ArrayList;
import java.util.List;

/**
 * The pre-upgrade checks that the target's snapshot answers. Pure and deterministic: they run in
 * workflow code. Every failing check is reported at once.
 */
public final class PreChecks {
  /** Every unit is Ready. */
  public static final String UNITS_READY = "units-ready";

  /** No rollout is in progress: currentRevision equals updateRevision. */
  public static final String NO_ROLLOUT = "no-rollout";

  private PreChecks() {}

  /** One check's answer. */
  public record Result(String name, boolean passed, boolean forced, String message) {}

  /** Evaluates every check; {@code force} names checks whose failure is recorded but ignored. */
  public static List<Result> evaluate(ClusterActivities.TargetSnapshot target, List<String> force) {
    List<Result> results = new ArrayList<>();
    List<String> notReady = new ArrayList<>();
    for (ClusterActivities.UnitSnapshot unit : target.units()) {
      if (!unit.ready()) {
        notReady.add(unit.name());
      }
    }
    if (target.units().size() < target.replicas()) {
      notReady.add((target.replicas() - target.units().size()) + " missing");
    }
    results.add(
        result(
            UNITS_READY,
            notReady.isEmpty(),
            force,
            notReady.isEmpty()
                ? "all " + target.replicas() + " units Ready"
                : "units not Ready: " + String.join(", ", notReady)));
    boolean settled =
        target.currentRevision() != null
            && target.currentRevision().equals(target.updateRevision())
            && target.observedGeneration() >= target.generation();
    results.add(
        result(
            NO_ROLLOUT,
            settled,
            force,
            settled
                ? "no rollout in progress"
                : "a rollout is already in progress (currentRevision "
                    + target.currentRevision()
                    + ", updateRevision "
                    + target.updateRevision()
                    + ")"));
    return results;
  }

  private static Result result(String name, boolean passed, List<String> force, String message) {
    return new Result(name, passed, !passed && force.contains(name), message);
  }
}
