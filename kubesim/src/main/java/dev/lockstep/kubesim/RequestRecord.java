package dev.lockstep.kubesim;

import java.time.Instant;

/**
 * One request the simulated API server answered.
 *
 * @param seq position in the log, from 1
 * @param time when the request arrived
 * @param method HTTP method
 * @param path path and query as sent
 * @param verb Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection,
 *     or the HTTP method in lower case for non-resource paths
 * @param resource resource plural (with {@code /subresource}), or "" for non-resource paths
 * @param namespace namespace, or "" when cluster-scoped or across namespaces
 * @param name object name, or ""
 * @param status HTTP status answered
 * @param micros time to answer, in microseconds (for a watch: until the stream was opened)
 * @param client the client's User-Agent
 * @param dryRun whether the request was a dry run
 * @param injected whether the answer was an injected fault
 */
public record RequestRecord(
    long seq,
    Instant time,
    String method,
    String path,
    String verb,
    String resource,
    String namespace,
    String name,
    int status,
    long micros,
    String client,
    boolean dryRun,
    boolean injected) {

  /** Whether the request asked to change state (create, update, patch, delete, eviction). */
  public boolean isWrite() {
    return switch (verb) {
      case "create", "update", "patch", "delete", "deletecollection" -> true;
      default -> false;
    };
  }

  /** Whether the request changed (or could have changed) stored state: a write that succeeded. */
  public boolean changedState() {
    return isWrite() && !dryRun && status >= 200 && status < 300;
  }
}
