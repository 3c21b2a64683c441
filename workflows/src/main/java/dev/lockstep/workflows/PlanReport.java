package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.List;
import java.util.Map;

/**
 * What an upgrade would do, and whether it could start.
 *
 * @param target the target
 * @param cluster the cluster
 * @param canStart whether {@code lockstep upgrade} with the same plan would start
 * @param problems why the plan does not fit the target (missing target, unknown container); when
 *     not empty, nothing else was checked
 * @param refusals what else would stop it: another run's mark on the target, a change that changes
 *     nothing
 * @param checks every pre-check with its answer, forced ones marked
 * @param fromRevision the target's revision now
 * @param fromImages container to image now
 * @param toImages container to image after the change
 * @param templateDiff the change to the pod template, one line per field, env values not shown
 * @param units the units in the order they would be replaced (an extra unit of a scale-up first)
 * @param gates where the upgrade would wait for {@code lockstep resume}
 * @param hooks the hooks that would run, in order
 * @param rollbackCommand how to roll it back once started
 * @param steps the steps a run would walk, in order, as {@code status} shows them
 * @param unchanged when the target already runs what the plan asks for and nothing is half done:
 *     what it runs ({@code lockstep upgrade} would end {@code unchanged}, exit 0, changing
 *     nothing); null otherwise
 */
/* A CLI or console older than the worker reads a status with fields it does not know yet. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record PlanReport(
    String target,
    String cluster,
    boolean canStart,
    List<String> problems,
    List<String> refusals,
    List<PreChecks.Result> checks,
    String fromRevision,
    Map<String, String> fromImages,
    Map<String, String> toImages,
    List<String> templateDiff,
    List<String> units,
    List<String> gates,
    List<String> hooks,
    String rollbackCommand,
    List<String> steps,
    @com.fasterxml.jackson.annotation.JsonInclude(
            com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
        String unchanged) {

  /** The same report with other refusals, unable to start. */
  public PlanReport refusedWith(List<String> otherRefusals) {
    return new PlanReport(
        target,
        cluster,
        false,
        problems,
        otherRefusals,
        checks,
        fromRevision,
        fromImages,
        toImages,
        templateDiff,
        units,
        gates,
        hooks,
        rollbackCommand,
        steps,
        null);
  }
}
