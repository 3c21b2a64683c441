package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ResourceType;
import dev.lockstep.kubesim.api.Selectors;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The disruption controller: keeps each PodDisruptionBudget's status (expectedPods, desiredHealthy,
 * currentHealthy, disruptionsAllowed) as upstream computes it, so that evictions and Lockstep's
 * disruption check see real numbers.
 */
public final class DisruptionController implements Controller {
  private final Cluster cluster;
  private final ResourceType pdbs = Cluster.type("policy", "poddisruptionbudgets");
  private final ResourceType pods = Cluster.type("", "pods");

  public DisruptionController(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public String name() {
    return "disruption";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (type.equals(pdbs)) {
      return deleted ? List.of() : List.of(Key.of(object));
    }
    if (type.equals(pods)) {
      String namespace = object.path("metadata").path("namespace").asText();
      return cluster.list(pdbs, namespace).stream().map(Key::of).toList();
    }
    return List.of();
  }

  @Override
  public List<Key> resyncKeys() {
    return cluster.list(pdbs, null).stream().map(Key::of).toList();
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    ObjectNode pdb = cluster.get(pdbs, key.namespace(), key.name()).orElse(null);
    if (pdb == null) {
      return;
    }
    JsonNode spec = pdb.path("spec");
    JsonNode selector = spec.path("selector");
    int healthy = 0;
    int matching = 0;
    Set<String> owners = new HashSet<>();
    long scale = 0;
    Map<String, JsonNode> disrupted = new java.util.HashMap<>();
    pdb.path("status")
        .path("disruptedPods")
        .fields()
        .forEachRemaining(e -> disrupted.put(e.getKey(), e.getValue()));
    for (ObjectNode pod : cluster.list(pods, key.namespace())) {
      if (selector.isMissingNode()
          || selector.isEmpty()
          || !Selectors.matches(selector, Cluster.labels(pod))) {
        continue;
      }
      matching++;
      String name = pod.path("metadata").path("name").asText();
      boolean evicted =
          disrupted.containsKey(name)
              && pod.path("metadata")
                      .path("creationTimestamp")
                      .asText()
                      .compareTo(disrupted.get(name).asText())
                  < 0;
      if (StatefulSetController.runningAndReady(pod)
          && !pod.path("metadata").has("deletionTimestamp")
          && !evicted) {
        healthy++;
      }
      for (JsonNode ref : pod.path("metadata").path("ownerReferences")) {
        if (ref.path("controller").asBoolean(false) && owners.add(ref.path("uid").asText())) {
          scale += ownerScale(key.namespace(), ref);
        }
      }
    }
    int expected;
    int desired;
    if (spec.has("maxUnavailable")) {
      expected = (int) scale;
      int max = resolve(spec.path("maxUnavailable"), expected);
      desired = Math.max(0, expected - max);
    } else if (spec.has("minAvailable")) {
      JsonNode min = spec.path("minAvailable");
      if (min.isTextual() && min.asText().endsWith("%")) {
        expected = (int) scale;
      } else {
        expected = matching;
      }
      desired = resolve(min, expected);
    } else {
      expected = matching;
      desired = 0;
    }
    ObjectNode status = Cluster.JSON.createObjectNode();
    status.put("observedGeneration", pdb.path("metadata").path("generation").asLong(1));
    int allowed = Math.max(0, healthy - desired);
    status.put("disruptionsAllowed", allowed);
    status.put("currentHealthy", healthy);
    status.put("desiredHealthy", desired);
    status.put("expectedPods", expected);
    // An approved eviction stays recorded until its pod is gone; kubesim deletes evicted pods at
    // once, so a pod of the same name created since is its replacement.
    ObjectNode stillDisrupted = status.putObject("disruptedPods");
    disrupted.forEach(
        (name, time) ->
            cluster
                .get(pods, key.namespace(), name)
                .filter(
                    p ->
                        p.path("metadata")
                                .path("creationTimestamp")
                                .asText()
                                .compareTo(time.asText())
                            < 0)
                .ifPresent(p -> stillDisrupted.set(name, time)));
    ObjectNode condition = status.putArray("conditions").addObject();
    condition.put("type", "DisruptionAllowed");
    condition.put("status", allowed > 0 ? "True" : "False");
    condition.put("reason", allowed > 0 ? "SufficientPods" : "InsufficientPods");
    condition.put("message", "");
    JsonNode old = pdb.path("status").path("conditions").path(0);
    condition.put(
        "lastTransitionTime",
        old.path("status").asText().equals(condition.path("status").asText())
            ? old.path("lastTransitionTime").asText()
            : java.time.Instant.now()
                .truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
                .toString());
    if (status.equals(pdb.path("status"))) {
      return;
    }
    ObjectNode updated = pdb.deepCopy();
    updated.set("status", status);
    cluster.updateStatus(pdbs, updated);
  }

  private long ownerScale(String namespace, JsonNode ref) {
    ResourceType type =
        switch (ref.path("kind").asText()) {
          case "StatefulSet" -> Cluster.type("apps", "statefulsets");
          case "ReplicaSet" -> Cluster.type("apps", "replicasets");
          case "Deployment" -> Cluster.type("apps", "deployments");
          default -> null;
        };
    if (type == null) {
      return 1;
    }
    return cluster
        .get(type, namespace, ref.path("name").asText())
        .map(o -> o.path("spec").path("replicas").asLong(1))
        .orElse(0L);
  }

  /** An int-or-percent, percentages of {@code total} rounded up, as the controller does. */
  static int resolve(JsonNode value, int total) {
    if (value.isTextual() && value.asText().endsWith("%")) {
      double percent = Double.parseDouble(value.asText().replace("%", ""));
      return (int) Math.ceil(percent * total / 100.0);
    }
    return value.asInt();
  }
}
