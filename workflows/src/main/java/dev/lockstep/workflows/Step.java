package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * One step of a run, as {@code status} and {@code plan} show it: a run compiles its plan into a
 * list of these and walks it with an index, as an Argo Rollout walks its canary steps.
 *
 * @param kind what the step does
 * @param subject what it acts on: a unit's pod name, a hook's name, a gate's position; may be empty
 * @param state where it is
 */
/* A CLI or console older than the worker reads a status with fields it does not know yet. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Step(Kind kind, String subject, State state) {

  /** What a step does. The first group moves the target forward, the second returns it. */
  public enum Kind {
    COLLECT,
    PRE_CHECKS,
    BACKUP,
    SCALE_UP,
    PREPARE,
    /** Takes the target over from a run that ended outside Lockstep ({@code repair}). */
    ADOPT,
    UNIT,
    /**
     * A stretch of a Deployment's own rolling update: on until the subject's count of new pods is
     * Ready, then paused (a gate follows) or done (the last).
     */
    ROLL,
    /**
     * A canary weight: the canary Deployment scaled to the subject's share of the pods behind the
     * Service, the stable one scaled down by as many, every pod Ready.
     */
    WEIGHT,
    /** A canary's timed pause: a durable timer ({@code pause: {duration: 10m}}). */
    PAUSE_FOR,
    /** A canary's analysis: its pods still Ready, not crash-looping, and healthy. */
    ANALYSIS,
    /**
     * Promotes the canary: the stable Deployment rolls to the new template with its own maxSurge
     * and maxUnavailable and gets its replicas back; then the canary goes.
     */
    PROMOTE,
    /**
     * A blue-green's preview: a Deployment {@code <name>-preview} with the new template at the
     * user's replicas and a preview Service selecting only its pods, every pod Ready; the active
     * Service keeps to the user's pods.
     */
    PREVIEW,
    /**
     * A blue-green's switch of the active Service: to the preview's pods (the first), or back to
     * the user's Deployment once it runs the new template (the second). Only Ready pods ever take
     * it.
     */
    SWITCH,
    /** A blue-green's end: the preview Deployment and Service removed, the Service as found. */
    SCALE_DOWN,
    MIGRATE,
    GATE,
    TEST,
    SCALE_BACK,
    FINISH,
    /** Stops every unit (scales to zero) so that nothing runs while the data is restored. */
    STOP,
    /** Runs the restore hook before units go back over data migrated forward. */
    RESTORE_DATA,
    /** Returns every unit to the revision the run started from. */
    REVERT,
    /** Starts the units again, on the revision the run started from, after a {@link #STOP}. */
    START,
    /** Lets go of the target: the run's mark goes, the user's update strategy comes back. */
    RELEASE;

    /** Whether the step moves pods to the new version: a pause holds before it. */
    public boolean movesUnits() {
      return this == UNIT
          || this == ROLL
          || this == WEIGHT
          || this == PROMOTE
          || this == PREVIEW
          || this == SWITCH;
    }

    /** Whether the step returns the target rather than moving it forward. */
    public boolean returns() {
      return this == STOP
          || this == RESTORE_DATA
          || this == REVERT
          || this == START
          || this == RELEASE;
    }
  }

  /** Where a step is. */
  public enum State {
    PENDING,
    RUNNING,
    DONE,
    FAILED,
    /** Not run: the run ended, or went back, before it. */
    SKIPPED
  }

  public static Step of(Kind kind, String subject) {
    return new Step(kind, subject == null ? "" : subject, State.PENDING);
  }

  Step in(State next) {
    return new Step(kind, subject, next);
  }

  /** One line, as {@code plan} prints it: {@code unit web-2}, {@code gate after web-2}. */
  public String describe() {
    String name = kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    return subject.isEmpty() ? name : name + " " + subject;
  }
}
