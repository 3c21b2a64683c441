package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * What {@code lockstep status -o json} shows: the fields tools may rely on (see CLI.md), plus the
 * steering requests received.
 *
 * @param checks the pre-checks with their answers, forced ones marked
 * @param steps the steps the run compiled its plan into, in order, each with its state; return
 *     steps are appended when the run goes back
 * @param step the index in {@code steps} of the step the run is at, or null once it has ended
 * @param kind what the run is: {@code upgrade}, {@code rollback} (it restores a revision) or {@code
 *     repair}
 * @param gate while the run waits at a gate: who has approved it, how many approvals it still
 *     needs, and when it times out; null otherwise
 * @param pause a pause asked for and who asked, while it is pending or holds the run: {@code pause
 *     requested by alice@laptop (change freeze): holds before the next unit}, or null; absent from
 *     a status an older worker sent
 * @param traffic a canary's or blue-green's Service: its Ready endpoints per version; null for
 *     other strategies, and absent from a status an older worker sent
 */
/* A CLI or console older than the worker reads a status with fields it does not know yet. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record UpgradeStatus(
    String target,
    String runId,
    Phase phase,
    String message,
    String fromRevision,
    String toRevision,
    Map<String, String> fromImages,
    Map<String, String> toImages,
    String cluster,
    String startedAt,
    String finishedAt,
    String rollbackCommand,
    List<UnitStatus> units,
    List<Steering> steering,
    List<PreChecks.Result> checks,
    List<Step> steps,
    Integer step,
    String kind,
    @JsonInclude(JsonInclude.Include.NON_NULL) GateStatus gate,
    @JsonInclude(JsonInclude.Include.NON_NULL) String pause,
    @JsonInclude(JsonInclude.Include.NON_NULL) Traffic traffic) {

  /** A status without traffic (every strategy but canary and blue-green). */
  public UpgradeStatus(
      String target,
      String runId,
      Phase phase,
      String message,
      String fromRevision,
      String toRevision,
      Map<String, String> fromImages,
      Map<String, String> toImages,
      String cluster,
      String startedAt,
      String finishedAt,
      String rollbackCommand,
      List<UnitStatus> units,
      List<Steering> steering,
      List<PreChecks.Result> checks,
      List<Step> steps,
      Integer step,
      String kind,
      GateStatus gate,
      String pause) {
    this(
        target,
        runId,
        phase,
        message,
        fromRevision,
        toRevision,
        fromImages,
        toImages,
        cluster,
        startedAt,
        finishedAt,
        rollbackCommand,
        units,
        steering,
        checks,
        steps,
        step,
        kind,
        gate,
        pause,
        null);
  }

  /**
   * Where the Service sends traffic: its Ready endpoints, per version.
   *
   * @param service the Service that selects the target's pods
   * @param shares one per version: {@code stable} and {@code canary} (or {@code active} and {@code
   *     preview})
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Traffic(String service, List<Share> shares) {
    /** One line: {@code Service aeterna: stable 3 (75%), canary 1 (25%)}. */
    public String describe() {
      int all = shares.stream().mapToInt(Share::ready).sum();
      StringBuilder line = new StringBuilder("Service " + service + ":");
      String sep = " ";
      for (Share s : shares) {
        line.append(sep)
            .append(s.version())
            .append(' ')
            .append(s.ready())
            .append(" (")
            .append(all == 0 ? 0 : Math.round(100.0 * s.ready() / all))
            .append("%)");
        sep = ", ";
      }
      return line.append(" of the Ready endpoints").toString();
    }
  }

  /**
   * One version's share of the traffic.
   *
   * @param version {@code stable}, {@code canary}, ...
   * @param revision its ReplicaSet, or null
   * @param ready its Ready endpoints behind the Service
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Share(String version, String revision, int ready) {}

  /**
   * The gate a run waits at.
   *
   * @param approvalsRequired how many distinct identities must resume it ({@code approvals})
   * @param approvedBy who has resumed it so far, in order
   * @param approvalsNeeded how many more approvals open it
   * @param excluded an identity whose resume does not count (the starter, with {@code
   *     excludeStarter}), or null
   * @param timesOutAt when {@code onGateTimeout} applies, or null when it waits for ever
   * @param onTimeout hold, resume or rollback; null without a timeout
   * @param timedOut the timeout has passed (with {@code hold}: the run is HELD at the gate)
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record GateStatus(
      int approvalsRequired,
      List<String> approvedBy,
      int approvalsNeeded,
      String excluded,
      String timesOutAt,
      String onTimeout,
      boolean timedOut) {}
}
