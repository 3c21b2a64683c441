package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Map;

/**
 * The input of a release's upgrade run (the parent of one child upgrade per changed workload).
 *
 * @param release the chart, version and values, as {@code helm upgrade} takes them
 * @param cluster the cluster the release lives in (null: the default)
 * @param workloads what each child run takes from the user's plan: gate, gate timeout and policy,
 *     unit timeout, failure policy, retries, approvals; its {@code hooks.backup} runs once, in the
 *     parent, before anything changes. Target and change are the release's own and ignored here.
 * @param gates a gate per workload, by {@code Kind/name} or by name, over {@code workloads.gate}
 * @param identity who started it
 * @param reason why
 * @param heartbeatSeconds as {@link UpgradeRequest#heartbeatSeconds()}
 * @param rollbackTo 0 for an upgrade; N for {@code lockstep rollback NS/helm/RELEASE --to-revision
 *     N}: revision N's manifest and values come back as a new revision, through the same children
 *     (the chart, values and version of {@code release} are not used then)
 */
public record ReleaseUpgradeRequest(
    HelmActivities.ReleaseRequest release,
    String cluster,
    UpgradePlan workloads,
    Map<String, UpgradePlan.Gate> gates,
    String identity,
    String reason,
    int heartbeatSeconds,
    int rollbackTo) {

  /** An upgrade (not a rollback). */
  public ReleaseUpgradeRequest(
      HelmActivities.ReleaseRequest release,
      String cluster,
      UpgradePlan workloads,
      Map<String, UpgradePlan.Gate> gates,
      String identity,
      String reason,
      int heartbeatSeconds) {
    this(release, cluster, workloads, gates, identity, reason, heartbeatSeconds, 0);
  }

  /** Whether this run rolls the release back to a stored revision. */
  @JsonIgnore
  public boolean isRollback() {
    return rollbackTo > 0;
  }

  public ReleaseUpgradeRequest {
    cluster = cluster == null || cluster.isBlank() ? Names.DEFAULT_CLUSTER : cluster;
    workloads = workloads == null ? UpgradePlan.builder().build() : workloads;
    gates = gates == null ? Map.of() : gates;
    identity = identity == null || identity.isBlank() ? "unknown" : identity;
    reason = reason == null ? "" : reason;
  }

  /** The release as a target: {@code NAMESPACE/helm/RELEASE}. */
  public Target target() {
    return new Target(release.namespace(), Releases.KIND, release.release());
  }

  /** The gate of one workload: its own, by key or name, or the plan's. */
  public UpgradePlan.Gate gateOf(String key, String name) {
    UpgradePlan.Gate gate = gates.get(key);
    if (gate == null) {
      gate = gates.get(name);
    }
    return gate != null ? gate : workloads.effectiveGate();
  }
}
