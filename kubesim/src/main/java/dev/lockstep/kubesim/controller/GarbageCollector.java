package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ResourceType;
import dev.lockstep.kubesim.api.ResourceTypes;
import java.util.List;

/**
 * The garbage collector, in background mode: when an owner is deleted, the objects whose owner
 * references name it (pods of a StatefulSet or Job, its ControllerRevisions, claims with a Delete
 * retention policy) are deleted too.
 */
public final class GarbageCollector implements Controller {
  private static final java.util.Set<String> OWNERS =
      java.util.Set.of("StatefulSet", "Job", "ReplicaSet", "Deployment", "Service");
  private static final List<ResourceType> DEPENDENTS =
      List.of(
          ResourceTypes.of("", "pods"),
          ResourceTypes.of("apps", "controllerrevisions"),
          ResourceTypes.of("apps", "replicasets"),
          ResourceTypes.of("discovery.k8s.io", "endpointslices"),
          ResourceTypes.of("", "persistentvolumeclaims"));

  private final Cluster cluster;

  public GarbageCollector(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public String name() {
    return "garbage-collector";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (!deleted || !OWNERS.contains(type.kind())) {
      return List.of();
    }
    // The key carries the deleted owner's uid in place of a name.
    return List.of(
        new Key(
            object.path("metadata").path("namespace").asText(),
            object.path("metadata").path("uid").asText()));
  }

  @Override
  public List<Key> resyncKeys() {
    return List.of();
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    String ownerUid = key.name();
    for (ResourceType type : DEPENDENTS) {
      for (ObjectNode object : cluster.dependents(type, key.namespace(), ownerUid)) {
        cluster.delete(type, key.namespace(), object.path("metadata").path("name").asText());
      }
    }
  }
}
