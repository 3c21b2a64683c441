package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ApiException;
import dev.lockstep.kubesim.api.ResourceType;
import dev.lockstep.kubesim.api.Selectors;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The ReplicaSet controller, after upstream's {@code replica_set.go}: keeps {@code spec.replicas}
 * active pods (named {@code <rs>-<random>}, labelled and annotated from the template, owned by the
 * ReplicaSet), deletes the surplus in upstream's order (unscheduled, then Pending, then not Ready,
 * then doubled-up on a node, then Ready for the shortest time, then most restarts, then newest
 * first), replaces pods that ended, and writes status ({@code replicas}, {@code
 * fullyLabeledReplicas}, {@code readyReplicas}, {@code availableReplicas} with {@code
 * minReadySeconds}, {@code observedGeneration}).
 */
public final class ReplicaSetController implements Controller {
  static final String DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";
  private static final String COMPONENT = "replicaset-controller";

  private final Cluster cluster;
  private final ResourceType replicaSets = Cluster.type("apps", "replicasets");
  private final ResourceType pods = Cluster.type("", "pods");

  public ReplicaSetController(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public String name() {
    return "replicaset";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (type.equals(replicaSets)) {
      return deleted ? List.of() : List.of(Key.of(object));
    }
    if (type.equals(pods)) {
      return Cluster.controllerOfKind(object, "ReplicaSet");
    }
    return List.of();
  }

  @Override
  public List<Key> resyncKeys() {
    List<Key> keys = new ArrayList<>();
    cluster.forEach(replicaSets, null, rs -> keys.add(Key.of(rs)));
    return keys;
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    ObjectNode rs = cluster.get(replicaSets, key.namespace(), key.name()).orElse(null);
    if (rs == null) {
      return;
    }
    String uid = rs.path("metadata").path("uid").asText();
    List<ObjectNode> owned = cluster.owned(pods, key.namespace(), uid);
    List<ObjectNode> active = new ArrayList<>();
    for (ObjectNode pod : owned) {
      if (isActive(pod)
          && Selectors.matches(rs.path("spec").path("selector"), Cluster.labels(pod))) {
        active.add(pod);
      }
    }
    if (!rs.path("metadata").has("deletionTimestamp")) {
      active = manageReplicas(rs, active, owned);
    }
    int minReady = rs.path("spec").path("minReadySeconds").asInt(0);
    ObjectNode status = writeStatus(rs, active);
    int replicas = rs.path("spec").path("replicas").asInt(1);
    if (minReady > 0
        && status.path("readyReplicas").asInt() == replicas
        && status.path("availableReplicas").asInt() != replicas) {
      // Nothing else announces the moment a pod becomes available: look again then.
      requeue.after(Duration.ofMillis(Math.min(500, minReady * 1000L)));
    }
  }

  /** Creates or deletes pods until the active ones number spec.replicas; returns those left. */
  private List<ObjectNode> manageReplicas(
      ObjectNode rs, List<ObjectNode> active, List<ObjectNode> owned) {
    int want = rs.path("spec").path("replicas").asInt(1);
    int diff = active.size() - want;
    if (diff < 0) {
      List<ObjectNode> result = new ArrayList<>(active);
      for (int i = 0; i < -diff; i++) {
        result.add(createPod(rs));
      }
      return result;
    }
    if (diff > 0) {
      List<ObjectNode> doomed = podsToDelete(active, owned, diff);
      List<ObjectNode> result = new ArrayList<>(active);
      for (ObjectNode pod : doomed) {
        deletePod(rs, pod);
        result.remove(pod);
      }
      return result;
    }
    return active;
  }

  private ObjectNode createPod(ObjectNode rs) {
    String namespace = rs.path("metadata").path("namespace").asText();
    String rsName = rs.path("metadata").path("name").asText();
    JsonNode template = rs.path("spec").path("template");
    ObjectNode pod = Cluster.JSON.createObjectNode();
    ObjectNode metadata = pod.putObject("metadata");
    metadata.put("generateName", rsName + "-");
    metadata.put("namespace", namespace);
    ObjectNode labels = metadata.putObject("labels");
    template
        .path("metadata")
        .path("labels")
        .fields()
        .forEachRemaining(e -> labels.set(e.getKey(), e.getValue()));
    if (template.path("metadata").path("annotations").isObject()) {
      metadata.set("annotations", template.path("metadata").get("annotations").deepCopy());
    }
    Cluster.setOwner(pod, replicaSets, rs);
    pod.set(
        "spec",
        template.path("spec").isObject()
            ? template.get("spec").deepCopy()
            : Cluster.JSON.createObjectNode());
    try {
      ObjectNode created = cluster.create(pods, namespace, pod);
      cluster.event(
          replicaSets,
          rs,
          "Normal",
          "SuccessfulCreate",
          "Created pod: " + created.path("metadata").path("name").asText(),
          COMPONENT);
      return created;
    } catch (ApiException e) {
      cluster.event(
          replicaSets,
          rs,
          "Warning",
          "FailedCreate",
          "Error creating: " + e.getMessage(),
          COMPONENT);
      throw e;
    }
  }

  private void deletePod(ObjectNode rs, ObjectNode pod) {
    String name = pod.path("metadata").path("name").asText();
    cluster.delete(pods, pod.path("metadata").path("namespace").asText(), name);
    cluster.event(replicaSets, rs, "Normal", "SuccessfulDelete", "Deleted pod: " + name, COMPONENT);
  }

  /**
   * The pods a scale-down removes, as upstream's {@code getPodsToDelete} picks them: ranked by
   * {@code ActivePodsWithRanks}, where the rank of a pod is how many pods of the same owner's
   * family share its node.
   */
  private List<ObjectNode> podsToDelete(List<ObjectNode> active, List<ObjectNode> owned, int n) {
    // Pods of the sibling ReplicaSets (same Deployment) count for "doubled up" on a node.
    List<ObjectNode> related = active.isEmpty() ? active : relatedPods(active.get(0));
    Map<String, Integer> perNode = new HashMap<>();
    for (ObjectNode pod : related) {
      if (isActive(pod)) {
        perNode.merge(pod.path("spec").path("nodeName").asText(""), 1, Integer::sum);
      }
    }
    List<ObjectNode> sorted = new ArrayList<>(active);
    Instant now = Instant.now();
    sorted.sort(deletionOrder(perNode, now));
    return sorted.subList(0, Math.min(n, sorted.size()));
  }

  /** Active pods owned by any ReplicaSet that shares the given pod's ReplicaSet's owner. */
  private List<ObjectNode> relatedPods(ObjectNode pod) {
    String namespace = pod.path("metadata").path("namespace").asText();
    List<Key> rsKeys = Cluster.controllerOfKind(pod, "ReplicaSet");
    if (rsKeys.isEmpty()) {
      return List.of(pod);
    }
    ObjectNode rs = cluster.get(replicaSets, namespace, rsKeys.get(0).name()).orElse(null);
    if (rs == null) {
      return List.of(pod);
    }
    List<ObjectNode> siblings = new ArrayList<>();
    String deploymentUid = null;
    for (JsonNode ref : rs.path("metadata").path("ownerReferences")) {
      if (ref.path("controller").asBoolean(false)) {
        deploymentUid = ref.path("uid").asText();
      }
    }
    if (deploymentUid == null) {
      siblings.add(rs);
    } else {
      siblings.addAll(cluster.owned(replicaSets, namespace, deploymentUid));
    }
    List<ObjectNode> result = new ArrayList<>();
    for (ObjectNode sibling : siblings) {
      result.addAll(cluster.owned(pods, namespace, sibling.path("metadata").path("uid").asText()));
    }
    return result;
  }

  /** Upstream's {@code ActivePodsWithRanks}: the first pods are the first to go. */
  static Comparator<ObjectNode> deletionOrder(Map<String, Integer> perNode, Instant now) {
    return (a, b) -> {
      String nodeA = a.path("spec").path("nodeName").asText("");
      String nodeB = b.path("spec").path("nodeName").asText("");
      // 1. Unassigned < assigned.
      if (nodeA.isEmpty() != nodeB.isEmpty()) {
        return nodeA.isEmpty() ? -1 : 1;
      }
      // 2. Pending < Unknown < Running.
      int phaseA = phaseRank(a);
      int phaseB = phaseRank(b);
      if (phaseA != phaseB) {
        return Integer.compare(phaseA, phaseB);
      }
      // 3. Not ready < ready.
      boolean readyA = isReady(a);
      boolean readyB = isReady(b);
      if (readyA != readyB) {
        return readyA ? 1 : -1;
      }
      // 4. Lower pod-deletion-cost < higher.
      int costA = deletionCost(a);
      int costB = deletionCost(b);
      if (costA != costB) {
        return Integer.compare(costA, costB);
      }
      // 5. Doubled up (more pods of the family on its node) < not.
      int rankA = perNode.getOrDefault(nodeA, 0);
      int rankB = perNode.getOrDefault(nodeB, 0);
      if (rankA != rankB) {
        return Integer.compare(rankB, rankA);
      }
      // 6. Ready for less time < ready for longer.
      if (readyA) {
        Instant sinceA = readySince(a);
        Instant sinceB = readySince(b);
        if (!sinceA.equals(sinceB)) {
          return sinceB.compareTo(sinceA);
        }
      }
      // 7. More restarts < fewer.
      int restartsA = restarts(a);
      int restartsB = restarts(b);
      if (restartsA != restartsB) {
        return Integer.compare(restartsB, restartsA);
      }
      // 8. Newer < older.
      String createdA = a.path("metadata").path("creationTimestamp").asText("");
      String createdB = b.path("metadata").path("creationTimestamp").asText("");
      return createdB.compareTo(createdA);
    };
  }

  private static int phaseRank(JsonNode pod) {
    return switch (pod.path("status").path("phase").asText("")) {
      case "Pending", "" -> 0;
      case "Unknown" -> 1;
      case "Running" -> 2;
      default -> 3;
    };
  }

  private static int deletionCost(JsonNode pod) {
    try {
      return Integer.parseInt(
          pod.path("metadata").path("annotations").path(DELETION_COST).asText("0"));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static int restarts(JsonNode pod) {
    int max = 0;
    for (JsonNode c : pod.path("status").path("containerStatuses")) {
      max = Math.max(max, c.path("restartCount").asInt(0));
    }
    return max;
  }

  private static Instant readySince(JsonNode pod) {
    JsonNode c = readyCondition(pod);
    String since = c == null ? "" : c.path("lastTransitionTime").asText("");
    return since.isEmpty() ? Instant.EPOCH : Instant.parse(since);
  }

  // ---- pod predicates shared with the Deployment controller ----------------------------------

  /** Neither ended nor being deleted (upstream's {@code IsPodActive}). */
  static boolean isActive(JsonNode pod) {
    String phase = pod.path("status").path("phase").asText("");
    return !phase.equals("Succeeded")
        && !phase.equals("Failed")
        && !pod.path("metadata").has("deletionTimestamp");
  }

  private static JsonNode readyCondition(JsonNode pod) {
    for (JsonNode condition : pod.path("status").path("conditions")) {
      if ("Ready".equals(condition.path("type").asText())) {
        return condition;
      }
    }
    return null;
  }

  /** The pod's Ready condition is True ({@code IsPodReady}). */
  static boolean isReady(JsonNode pod) {
    JsonNode c = readyCondition(pod);
    return c != null && "True".equals(c.path("status").asText());
  }

  /** Ready for at least minReadySeconds ({@code IsPodAvailable}). */
  static boolean isAvailable(JsonNode pod, int minReadySeconds, Instant now) {
    if (!isReady(pod)) {
      return false;
    }
    if (minReadySeconds <= 0) {
      return true;
    }
    Instant since = readySince(pod);
    return !since.equals(Instant.EPOCH) && since.plusSeconds(minReadySeconds).isBefore(now);
  }

  /** Sets a count that the API omits when zero. */
  static void putCount(ObjectNode status, String field, int value) {
    if (value != 0) {
      status.put(field, value);
    }
  }

  // ---- status --------------------------------------------------------------------------------

  private ObjectNode writeStatus(ObjectNode rs, List<ObjectNode> active) {
    int minReady = rs.path("spec").path("minReadySeconds").asInt(0);
    Map<String, String> templateLabels = Cluster.labels(rs.path("spec").path("template"));
    Instant now = Instant.now();
    int fullyLabeled = 0;
    int ready = 0;
    int available = 0;
    for (ObjectNode pod : active) {
      if (Cluster.labels(pod).entrySet().containsAll(templateLabels.entrySet())) {
        fullyLabeled++;
      }
      if (isReady(pod)) {
        ready++;
        if (isAvailable(pod, minReady, now)) {
          available++;
        }
      }
    }
    ObjectNode status = Cluster.JSON.createObjectNode();
    // As the API serialises it: zero counts but replicas are omitted (omitempty).
    status.put("replicas", active.size());
    putCount(status, "fullyLabeledReplicas", fullyLabeled);
    putCount(status, "readyReplicas", ready);
    putCount(status, "availableReplicas", available);
    status.put("observedGeneration", rs.path("metadata").path("generation").asLong(1));
    if (status.equals(rs.path("status"))) {
      return status;
    }
    ObjectNode updated = rs.deepCopy();
    updated.set("status", status);
    cluster.updateStatus(replicaSets, updated);
    return status;
  }
}
