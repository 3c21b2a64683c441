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
 * @param codec encrypts every payload given to Temporal; null: payloads in clear text
 */
public record WorkerSettings(
    String cluster,
    TemporalConnection temporal,
    String kubeconfig,
    String context,
    String sticky,
    Duration shutdownGrace,
    int maxActivities,
    int workflowCache,
    dev.lockstep.workflows.PayloadEncryption codec) {
  /** The default: enough for 1000 upgrades waiting for a unit at once on one worker. */
  public static final int DEFAULT_MAX_ACTIVITIES = 1000;

  /** The SDK's default workflow cache. */
  public static final int DEFAULT_WORKFLOW_CACHE = 600;

  /** Settings with payloads in clear text. */
  public WorkerSettings(
      String cluster,
      TemporalConnection temporal,
      String kubeconfig,
      String context,
      String sticky,
      Duration shutdownGrace,
      int maxActivities,
      int workflowCache) {
    this(
        cluster,
        temporal,
        kubeconfig,
        context,
        sticky,
        shutdownGrace,
        maxActivities,
        workflowCache,
        null);
  }

  /** These settings with payloads encrypted by {@code with}. */
  public WorkerSettings withCodec(dev.lockstep.workflows.PayloadEncryption with) {
    return new WorkerSettings(
        cluster,
        temporal,
        kubeconfig,
        context,
        sticky,
        shutdownGrace,
        maxActivities,
        workflowCache,
        with);
  }

  /** The data converter of the worker's client: encrypting when a codec is set. */
  public io.temporal.common.converter.DataConverter dataConverter() {
    return codec == null
        ? io.temporal.common.converter.DefaultDataConverter.STANDARD_INSTANCE
        : codec.dataConverter();
  }

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
