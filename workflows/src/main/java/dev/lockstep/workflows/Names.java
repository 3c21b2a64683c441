package dev.lockstep.workflows;

/** Task queue names and workflow-id formats, in one place. */
public final class Names {
  /** The cluster used when none is named. */
  public static final String DEFAULT_CLUSTER = "default";

  /** Prefix of every upgrade workflow id. */
  public static final String WORKFLOW_ID_PREFIX = "lockstep/";

  private Names() {}

  /** The task queue that the workers of one cluster poll: {@code lockstep.<cluster>}. */
  public static String taskQueue(String cluster) {
    return "lockstep." + cluster;
  }

  /**
   * The workflow id of the upgrade of a target: {@code lockstep/<cluster>/<ns>/<kind>/<name>}. One
   * running execution per id is what makes one upgrade per target a lock that cannot be left stuck.
   */
  public static String workflowId(String cluster, Target target) {
    return WORKFLOW_ID_PREFIX
        + cluster
        + "/"
        + target.namespace()
        + "/"
        + target.kind()
        + "/"
        + target.name();
  }

  /** The id of one {@code lockstep plan} of a target: its own, never the upgrade's. */
  public static String planWorkflowId(String cluster, Target target, String nonce) {
    return "lockstep-plan/"
        + cluster
        + "/"
        + target.namespace()
        + "/"
        + target.kind()
        + "/"
        + target.name()
        + "/"
        + nonce;
  }

  /** How a command names a cluster other than the default: {@code " --cluster NAME"} or "". */
  public static String clusterFlag(String cluster) {
    return DEFAULT_CLUSTER.equals(cluster) ? "" : " --cluster " + cluster;
  }

  /**
   * The name of a hook's Job: {@code NAME-HOOK-HASH}, the hash of the run id and the hook's
   * sequence number in the run, so the same step always names the same Job and another step (or a
   * retry of the step by the user) another; at most 63 characters.
   */
  public static String hookJob(String targetName, String hook, String runId, int sequence) {
    String hash = String.format("%08x", (runId + "/" + hook + "/" + sequence).hashCode());
    String suffix = "-" + hook + "-" + hash;
    String base =
        targetName.length() + suffix.length() > 63
            ? targetName.substring(0, 63 - suffix.length())
            : targetName;
    return base.replaceAll("-+$", "") + suffix;
  }
}
