package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * A unit's pod as {@code kubectl get pods} shows it, as the activity waiting for it last saw it. It
 * travels in that activity's heartbeat, which the CLI reads from Temporal (describe), so that
 * {@code lockstep status} shows it with no call to the worker or the cluster.
 *
 * @param name the pod
 * @param status kubectl's STATUS column: Pending, ContainerCreating, Running, CrashLoopBackOff,
 *     ErrImagePull, ImagePullBackOff, Terminating, Error, Completed...
 * @param restarts the most restarts of any of its containers
 * @param since when it entered that status (ISO-8601), or null when unknown
 * @param revision the revision it runs ({@code controller-revision-hash}), or null
 * @param ready whether it is Ready
 * @param seenAt when the activity saw it (ISO-8601)
 */
/* A CLI older or newer than the worker reads what it knows of it. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record PodState(
    String name,
    String status,
    int restarts,
    String since,
    String revision,
    boolean ready,
    String seenAt) {}
