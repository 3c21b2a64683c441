package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The worker's answer to "can this plan run against this target?", given before anything is
 * changed: the plan checked against the cluster, and the pre-checks run.
 *
 * @param valid whether the upgrade was accepted and goes on
 * @param inspected false when the target could not be read at all (the cluster was unreachable):
 *     then the plan was neither accepted nor found wrong
 * @param problems every reason it was not accepted, one line each
 * @param fromRevision the target's current revision, when valid
 * @param refusal why it was not accepted, when it was inspected and refused
 * @param unchanged the target already runs what the plan asks for: nothing was changed and nothing
 *     needs to be (as {@code kubectl apply} says {@code unchanged}); {@code valid} is false and the
 *     refusal CHECKS_FAILED, which is what a CLI older than this field reports
 */
/* A CLI or console older than the worker reads a status with fields it does not know yet. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Verdict(
    boolean valid,
    boolean inspected,
    List<String> problems,
    String fromRevision,
    Refusal refusal,
    @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean unchanged) {

  /** The kinds of "no". */
  public enum Refusal {
    /** The plan does not fit the target (missing target, unknown container). */
    INVALID_PLAN,
    /** One or more pre-checks failed. */
    CHECKS_FAILED,
    /** Another Lockstep run's mark is on the target, e.g. a run ended outside Lockstep. */
    TARGET_HELD
  }

  public static Verdict ok(String fromRevision) {
    return new Verdict(true, true, List.of(), fromRevision, null, false);
  }

  /** The target already runs what the plan asks for; {@code why} says what it runs. */
  public static Verdict unchanged(String fromRevision, String why) {
    return new Verdict(false, true, List.of(why), fromRevision, Refusal.CHECKS_FAILED, true);
  }

  public static Verdict invalid(List<String> problems) {
    return refused(Refusal.INVALID_PLAN, problems);
  }

  public static Verdict refused(Refusal refusal, List<String> problems) {
    return new Verdict(false, true, List.copyOf(problems), null, refusal, false);
  }

  public static Verdict notInspected(String problem) {
    return new Verdict(false, false, List.of(problem), null, null, false);
  }
}
