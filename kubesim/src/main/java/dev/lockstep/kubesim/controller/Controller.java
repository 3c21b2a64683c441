package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ResourceType;
import java.util.List;

/**
 * One emulated control loop. It is told of every stored change and answers which of its keys
 * (namespace/name of the objects it reconciles) need a look; the manager then calls {@link
 * #reconcile} for each, one at a time. Adding a controller (Deployments, ReplicaSets) is adding one
 * more class.
 */
public interface Controller {

  /** Short name, for logs. */
  String name();

  /** Keys to reconcile because of a change; empty when the change is not this loop's business. */
  List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted);

  /** Keys to reconcile on a periodic resync, as a safety net for missed changes. */
  List<Key> resyncKeys();

  /**
   * Brings the world one step closer to what the object asks; idempotent. May ask to be called
   * again later through {@code requeue}.
   */
  void reconcile(Key key, Requeue requeue);

  /** A namespaced (or cluster-scoped, namespace null) object name. */
  record Key(String namespace, String name) {
    static Key of(JsonNode object) {
      return new Key(
          object.path("metadata").path("namespace").asText(null),
          object.path("metadata").path("name").asText());
    }
  }

  /** Asks for another reconcile of the same key after a delay. */
  @FunctionalInterface
  interface Requeue {
    void after(java.time.Duration delay);
  }
}
