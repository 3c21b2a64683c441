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

  /** The new template's requests fit the nodes, unit by unit (and the extra unit). */
  public static final String CAPACITY = "capacity";

  /** Every PodDisruptionBudget selecting the units allows one down. */
  public static final String DISRUPTION = "disruption";

  /** Service target ports, claim mounts and env kinds survive the change. */
  public static final String COMPATIBILITY = "compatibility";

  /** Nothing the API server treats as immutable changes. */
  public static final String IMMUTABLE = "immutable-fields";

  /** The API server accepts the write, sent as a dry run. */
  public static final String DRY_RUN = "dry-run";

  /** Every check, in the order they are reported. */
  public static final List<String> ALL =
      List.of(UNITS_READY, NO_ROLLOUT, CAPACITY, DISRUPTION, COMPATIBILITY, IMMUTABLE, DRY_RUN);

  /**
   * The checks {@code force} may name. The API server would refuse what the other two find, so
   * forcing them would only move the failure into the middle of the upgrade.
   */
  public static final List<String> FORCEABLE =
      List.of(UNITS_READY, NO_ROLLOUT, CAPACITY, DISRUPTION, COMPATIBILITY);

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
    if (target.checks() != null) {
      for (ClusterActivities.CheckResult check : target.checks()) {
        results.add(result(check.name(), check.passed(), force, check.message()));
      }
    }
    return results;
  }

  private static Result result(String name, boolean passed, List<String> force, String message) {
    return new Result(name, passed, !passed && force.contains(name), message);
  }

  /**
   * Why a target marked by a Lockstep run cannot be upgraded, and what to do about it: the mark of
   * a run of the target's own upgrade workflow, {@code upgradeWorkflowId}, is a dead run's (only
   * one run of it runs at a time), to be repaired.
   */
  public static String heldBy(
      ClusterActivities.TargetSnapshot snapshot,
      Target target,
      String upgradeWorkflowId,
      String cluster) {
    ClusterActivities.Origin marked = snapshot.origin();
    String flag = Names.clusterFlag(cluster);
    if (marked != null && marked.workflowId().equals(upgradeWorkflowId)) {
      return target
          + " is still marked by Lockstep run "
          + snapshot.runAnnotation()
          + ", which ended without finishing (stopped outside Lockstep, e.g. terminated):"
          + " run `lockstep repair "
          + target
          + flag
          + " --continue` to finish its change, or `lockstep repair "
          + target
          + flag
          + " --restore` to return to "
          + marked.fromRevision();
    }
    return target
        + " is marked as being changed by Lockstep run "
        + snapshot.runAnnotation()
        + (marked == null ? "" : " of " + marked.workflowId())
        + " (annotation "
        + ClusterActivities.RUN_ANNOTATION
        + ")";
  }
}
