package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.List;

/**
 * What {@code lockstep status NAMESPACE/helm/RELEASE} shows: the release's run and one line per
 * workload it moves, each with the workflow id of its child run (where its own status, steering and
 * audit live).
 *
 * @param fromRevision the Helm revision the upgrade started from (0 before it was read)
 * @param toRevision the revision it writes ({@code pending-upgrade} while it works)
 * @param current the index in {@code workloads} of the workload moving now, or null
 * @param story what the run did, in order, one line each
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ReleaseStatus(
    String target,
    String cluster,
    String runId,
    Phase phase,
    String message,
    int fromRevision,
    int toRevision,
    String fromChart,
    String toChart,
    List<Workload> workloads,
    Integer current,
    List<String> story,
    String startedAt,
    String finishedAt) {

  /**
   * One workload of the release.
   *
   * @param key {@code Kind/name}
   * @param workflowId its child run's id (its usual upgrade id)
   * @param state waiting, upgrading, completed, failed, rolling-back, rolled-back
   * @param gate its gate
   * @param message the child's last word
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Workload(
      String key, String workflowId, String state, String gate, String message) {}

  /** The child run moving now, or null. */
  @JsonIgnore
  public Workload currentWorkload() {
    return current == null ? null : workloads.get(current);
  }
}
