package dev.lockstep.workflows;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * Which steering action is accepted where: the one table that update validators, updates and
 * signals all read. A request is either refused here, with the reason, or acted on by the run;
 * never accepted and then ignored.
 */
final class SteeringTable {
  private SteeringTable() {}

  /** What an operator can ask of a run. */
  enum Action {
    RESUME,
    PAUSE,
    CANCEL,
    ROLLBACK,
    RETRY,
    ABANDON;

    static Action of(String name) {
      for (Action a : values()) {
        if (a.word().equals(name)) {
          return a;
        }
      }
      return null;
    }

    String word() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** Where a run stands, as far as steering is concerned. */
  enum Situation {
    /** Collecting, pre-checks, backup: nothing on the target has changed. */
    BEFORE_CHANGE,
    /** A forward step is running (scale-up, prepare, a unit, migrate, test). */
    WORKING,
    AT_GATE,
    PAUSED,
    /** Stopped after a failure, waiting for retry, rollback, cancel or abandon. */
    HELD,
    /** Stopped before a rollback that would run the old version on migrated data. */
    HELD_FOR_DATA,
    /** Going back: cancel, rollback or a failure's return steps. */
    RETURNING,
    /** Every unit is upgraded: scale-back and post-checks. */
    FINISHING,
    ENDED
  }

  /**
   * What has been asked and not yet acted on, and what the run's position allows.
   *
   * @param pause a pause is pending
   * @param stopping a cancel or rollback is pending
   * @param decided a HELD run already has its decision
   * @param unitsRemain a unit remains that a pause could hold before
   * @param approvals at a gate that counts approvals ({@code approvals}, {@code excludeStarter}):
   *     who has approved and who may not; null when any resume opens the gate
   */
  record Pending(
      boolean pause, boolean stopping, boolean decided, boolean unitsRemain, Approvals approvals) {
    Pending(boolean pause, boolean stopping, boolean decided, boolean unitsRemain) {
      this(pause, stopping, decided, unitsRemain, null);
    }
  }

  /**
   * Who has approved the gate the run waits at.
   *
   * @param required distinct approvals that open it
   * @param approvedBy identities that have approved it
   * @param excluded the identity whose resume does not count (the starter), or null
   */
  record Approvals(int required, java.util.List<String> approvedBy, String excluded) {}

  private static final Map<Situation, Set<Action>> ACCEPTED =
      Map.of(
          Situation.BEFORE_CHANGE, EnumSet.of(Action.RESUME, Action.PAUSE, Action.CANCEL),
          Situation.WORKING,
              EnumSet.of(Action.RESUME, Action.PAUSE, Action.CANCEL, Action.ROLLBACK),
          Situation.AT_GATE,
              EnumSet.of(Action.RESUME, Action.PAUSE, Action.CANCEL, Action.ROLLBACK),
          Situation.PAUSED, EnumSet.of(Action.RESUME, Action.CANCEL, Action.ROLLBACK),
          Situation.HELD, EnumSet.of(Action.RETRY, Action.ROLLBACK, Action.CANCEL, Action.ABANDON),
          Situation.HELD_FOR_DATA, EnumSet.of(Action.ROLLBACK, Action.ABANDON),
          Situation.RETURNING, EnumSet.noneOf(Action.class),
          Situation.FINISHING, EnumSet.noneOf(Action.class),
          Situation.ENDED, EnumSet.noneOf(Action.class));

  /**
   * Why {@code action} is refused now, or null when it is accepted.
   *
   * @param phase the run's phase, named in some refusals
   */
  static String refusal(
      Action action, Situation where, Pending pending, SteerRequest who, Phase phase) {
    if (action == null) {
      return "unknown action";
    }
    if (!ACCEPTED.get(where).contains(action)) {
      return notHere(action, where, phase);
    }
    return switch (action) {
      case RESUME -> {
        if (where == Situation.AT_GATE && pending.approvals() != null) {
          yield approvalRefusal(pending.approvals(), who);
        }
        yield where == Situation.AT_GATE || where == Situation.PAUSED || pending.pause()
            ? null
            : "no gate is waiting and the upgrade is not paused (phase " + phase + ")";
      }
      case PAUSE -> {
        if (pending.stopping()) {
          yield "the upgrade is ending (phase " + phase + ")";
        }
        if (pending.pause()) {
          yield "the upgrade is already paused";
        }
        yield pending.unitsRemain()
            ? null
            : "no unit remains to hold before: the last unit is upgrading";
      }
      case CANCEL, ROLLBACK -> {
        if (pending.stopping()) {
          yield "the upgrade is already being cancelled or rolled back";
        }
        if (action == Action.ROLLBACK
            && where == Situation.HELD_FOR_DATA
            && !who.acceptDataRisk()) {
          yield "rolling back would run the old version on data migrated forward and the plan has"
              + " no restore hook: add --accept-data-risk to roll back anyway, or abandon";
        }
        yield null;
      }
      case RETRY, ABANDON -> pending.decided() ? "the HELD upgrade already has its decision" : null;
    };
  }

  /** Why a resume does not count as an approval of the gate, or null when it does. */
  private static String approvalRefusal(Approvals approvals, SteerRequest who) {
    if (who.identity().equals(approvals.excluded())) {
      return who.identity()
          + " started this upgrade and the plan excludes the starter from approving its gates"
          + " (excludeStarter: true): someone else must resume it";
    }
    if (approvals.approvedBy().contains(who.identity())) {
      int still = approvals.required() - approvals.approvedBy().size();
      return who.identity()
          + " has already approved this gate ("
          + approvals.approvedBy().size()
          + " of "
          + approvals.required()
          + "): "
          + still
          + " more approval"
          + (still == 1 ? "" : "s")
          + " by someone else needed";
    }
    return null;
  }

  private static String notHere(Action action, Situation where, Phase phase) {
    return switch (where) {
      case ENDED -> "the upgrade has ended (" + phase + ")";
      case HELD_FOR_DATA ->
          "the upgrade is HELD before a rollback that would run the old version on migrated"
              + " data: use rollback --accept-data-risk or abandon";
      case HELD -> "the upgrade is HELD after a failure: use retry, rollback or abandon";
      case RETURNING ->
          action == Action.PAUSE || action == Action.RESUME
              ? "the upgrade is ending (phase " + phase + ")"
              : "the upgrade is already being cancelled or rolled back";
      case FINISHING ->
          action == Action.PAUSE
              ? "the upgrade is ending (phase " + phase + ")"
              : "every unit is already upgraded; the upgrade is finishing";
      case BEFORE_CHANGE ->
          action == Action.ROLLBACK
              ? "nothing has changed yet (phase " + phase + "): use `lockstep cancel`"
              : onlyHeld(action, phase);
      case PAUSED ->
          action == Action.PAUSE ? "the upgrade is already paused" : onlyHeld(action, phase);
      default -> onlyHeld(action, phase);
    };
  }

  private static String onlyHeld(Action action, Phase phase) {
    return "only a HELD upgrade can be "
        + (action == Action.RETRY ? "retried" : "abandoned")
        + " (phase "
        + phase
        + ")";
  }
}
