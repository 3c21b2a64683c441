package dev.lockstep.worker;

import dev.lockstep.workflows.TemporalConnection;
import java.time.Duration;

/**
 * What a worker needs to know.
 *
 * @param cluster the cluster it serves (its task queue is {@code lockstep.<cluster>})
 * @param temporal how to reach Temporal: address, namespace, TLS, API key
 * @param kubeconfig a kubeconfig file, or null for the default (KUBECONFIG, ~/.kube/config, or
 *     in-cluster)
 * @param context the kubeconfig context, or null for its current one
 * @param sticky sticky execution: {@code auto} (off against the Temporal test server, on
 *     elsewhere), {@code on} or {@code off}
 * @param shutdownGrace how long a stopping worker lets running activities finish
 * @param maxActivities how many activities run at once; every unit being waited for holds one
 * @param workflowCache how many workflows the worker keeps in memory (each on a parked thread);
 *     others are replayed from their history when they go on
 */
public record WorkerSettings(
    String cluster,
    TemporalConnection temporal,
    String kubeconfig,
    String context,
    String sticky,
    Duration shutdownGrace,
    int maxActivities,
    int workflowCache) {
  /** The default: enough for 1000 upgrades waiting for a unit at once on one worker. */
  public static final int DEFAULT_MAX_ACTIVITIES = 1000;

  /** The SDK's default workflow cache. */
  public static final int DEFAULT_WORKFLOW_CACHE = 600;

  /** Settings for a Temporal reached in plain text (the dev stack, tests, benchmarks). */
  public WorkerSettings(
      String cluster,
      String temporalAddress,
      String temporalNamespace,
      String kubeconfig,
      String context,
      String sticky,
      Duration shutdownGrace,
      int maxActivities,
      int workflowCache) {
    this(
        cluster,
        TemporalConnection.plain(temporalAddress, temporalNamespace),
        kubeconfig,
        context,
        sticky,
        shutdownGrace,
        maxActivities,
        workflowCache);
  }

  public WorkerSettings(
      String cluster,
      String temporalAddress,
      String temporalNamespace,
      String kubeconfig,
      String context,
      String sticky,
      Duration shutdownGrace) {
    this(
        cluster,
        temporalAddress,
        temporalNamespace,
        kubeconfig,
        context,
        sticky,
        shutdownGrace,
        DEFAULT_MAX_ACTIVITIES,
        DEFAULT_WORKFLOW_CACHE);
  }

  /** host:port of the Temporal frontend. */
  public String temporalAddress() {
    return temporal.address();
  }

  /** The Temporal namespace. */
  public String temporalNamespace() {
    return temporal.namespace();
  }
}
