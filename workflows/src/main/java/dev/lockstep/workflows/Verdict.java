package dev.lockstep.workflows;

import java.util.List;

/**
 * The worker's answer to "can this plan run against this target?", given before anything is
 * changed.
 *
 * @param valid whether the plan was accepted
 * @param inspected false when the target could not be read at all (the cluster was unreachable):
 *     then the plan was neither accepted nor found wrong
 * @param problems every reason it was not accepted, one line each
 * @param fromRevision the target's current revision, when valid
 */
public record Verdict(
    boolean valid, boolean inspected, List<String> problems, String fromRevision) {
  public static Verdict ok(String fromRevision) {
    return new Verdict(true, true, List.of(), fromRevision);
  }

  public static Verdict invalid(List<String> problems) {
    return new Verdict(false, true, List.copyOf(problems), null);
  }

  public static Verdict notInspected(String problem) {
    return new Verdict(false, false, List.of(problem), null);
  }
}
