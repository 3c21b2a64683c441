package dev.lockstep.worker;

import java.time.Duration;

/**
 * What a worker needs to know.
 *
 * @param cluster the cluster it serves (its task queue is {@code lockstep.<cluster>})
 * @param temporalAddress host:port of the Temporal frontend
 * @param temporalNamespace the Temporal namespace
 * @param kubeconfig a kubeconfig file, or null for the default (KUBECONFIG, ~/.kube/config, or
 *     in-cluster)
 * @param context the kubeconfig context, or null for its current one
 * @param sticky sticky execution: {@code auto} (off against the Temporal test server, on
 *     elsewhere), {@code on} or {@code off}
 * @param shutdownGrace how long a stopping worker lets running activities finish
 */
public record WorkerSettings(
    String cluster,
    String temporalAddress,
    String temporalNamespace,
    String kubeconfig,
    String context,
    String sticky,
    Duration shutdownGrace) {}
