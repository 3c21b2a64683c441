package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ApiException;
import dev.lockstep.kubesim.api.ResourceType;
import dev.lockstep.kubesim.api.Selectors;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The StatefulSet controller, after upstream's {@code stateful_set_control.go}: pods named by
 * ordinal and created in order (OrderedReady) or all at once (Parallel); one ControllerRevision per
 * distinct template, named by its FNV hash; RollingUpdate with partition (highest ordinal first,
 * one pod at a time, the next only once the previous is Ready); OnDelete; scale up and down; and
 * status computed as upstream computes it. A pod that never becomes Ready blocks the rollout, as it
 * does in Kubernetes (kubernetes#67250).
 */
public final class StatefulSetController implements Controller {
  static final String REVISION_LABEL = "controller-revision-hash";
  static final String POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
  static final String POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";
  private static final String HASH_LABEL = "controller.kubernetes.io/hash";
  private static final String COMPONENT = "statefulset-controller";
  private static final String SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

  private final Cluster cluster;
  private final ResourceType statefulSets = Cluster.type("apps", "statefulsets");
  private final ResourceType revisions = Cluster.type("apps", "controllerrevisions");
  private final ResourceType pods = Cluster.type("", "pods");
  private final ResourceType claims = Cluster.type("", "persistentvolumeclaims");

  public StatefulSetController(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public String name() {
    return "statefulset";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (type.equals(statefulSets)) {
      return List.of(Key.of(object));
    }
    if (type.equals(pods)) {
      return Cluster.controllerOfKind(object, "StatefulSet");
    }
    return List.of();
  }

  @Override
  public List<Key> resyncKeys() {
    List<Key> keys = new ArrayList<>();
    cluster.forEach(statefulSets, null, sts -> keys.add(Key.of(sts)));
    return keys;
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    ObjectNode sts = cluster.get(statefulSets, key.namespace(), key.name()).orElse(null);
    if (sts == null) {
      return;
    }
    String uid = sts.path("metadata").path("uid").asText();
    JsonNode spec = sts.path("spec");
    ObjectNode status = sts.path("status").isObject() ? (ObjectNode) sts.get("status") : null;
    int collisionCount = status == null ? 0 : status.path("collisionCount").asInt(0);

    List<ObjectNode> history = cluster.owned(revisions, key.namespace(), uid);
    Revisions.Result revs = updateRevision(sts, history, collisionCount);
    ObjectNode updateRevision = revs.revision();
    collisionCount = revs.collisionCount();
    String updateName = updateRevision.path("metadata").path("name").asText();
    String recorded = status == null ? "" : status.path("currentRevision").asText("");
    ObjectNode currentRevision =
        revs.history().stream()
            .filter(r -> r.path("metadata").path("name").asText().equals(recorded))
            .findFirst()
            .orElse(updateRevision);
    String currentName = currentRevision.path("metadata").path("name").asText();

    if (!sts.path("metadata").has("deletionTimestamp")) {
      sync(sts, key, uid, currentRevision, updateRevision);
    }

    List<ObjectNode> owned = ownedPods(sts, uid);
    writeStatus(sts, owned, currentName, updateName, collisionCount);
    truncateHistory(sts, revs.history(), owned, currentName, updateName);
    int minReady = spec.path("minReadySeconds").asInt(0);
    if (minReady > 0
        && owned.stream().anyMatch(p -> runningAndReady(p) && !available(p, minReady))) {
      // Nothing else announces the moment a pod becomes available: look again then.
      requeue.after(Duration.ofMillis(500));
    }
  }

  private List<ObjectNode> ownedPods(ObjectNode sts, String uid) {
    JsonNode selector = sts.path("spec").path("selector");
    List<ObjectNode> result = new ArrayList<>();
    for (ObjectNode pod :
        cluster.owned(pods, sts.path("metadata").path("namespace").asText(), uid)) {
      if (Selectors.matches(selector, Cluster.labels(pod))) {
        result.add(pod);
      }
    }
    return result;
  }

  // ---- revisions ---------------------------------------------------------------------------

  private Revisions.Result updateRevision(
      ObjectNode sts, List<ObjectNode> history, int collisionCount) {
    ObjectNode data = Revisions.data(sts.path("spec").path("template"));
    long maxRevision = history.stream().mapToLong(r -> r.path("revision").asLong()).max().orElse(0);
    List<ObjectNode> sorted = new ArrayList<>(history);
    sorted.sort(Comparator.comparingLong(r -> r.path("revision").asLong()));
    for (ObjectNode existing : sorted) {
      if (Revisions.sameData(existing.path("data"), data)) {
        if (existing.path("revision").asLong() < maxRevision
            && existing != sorted.get(sorted.size() - 1)) {
          // Rolling back to an older template reuses its revision and makes it the newest.
          ObjectNode raised = existing.deepCopy();
          raised.put("revision", maxRevision + 1);
          ObjectNode stored = cluster.update(revisions, raised);
          List<ObjectNode> newHistory = new ArrayList<>(history);
          newHistory.remove(existing);
          newHistory.add(stored);
          return new Revisions.Result(stored, newHistory, collisionCount);
        }
        return new Revisions.Result(existing, history, collisionCount);
      }
    }
    String namespace = sts.path("metadata").path("namespace").asText();
    String stsName = sts.path("metadata").path("name").asText();
    while (true) {
      String hash = Revisions.hash(data, collisionCount);
      String name = Revisions.name(stsName, hash);
      ObjectNode revision = Cluster.JSON.createObjectNode();
      ObjectNode metadata = revision.putObject("metadata");
      metadata.put("name", name);
      metadata.put("namespace", namespace);
      ObjectNode labels = metadata.putObject("labels");
      sts.path("spec")
          .path("template")
          .path("metadata")
          .path("labels")
          .fields()
          .forEachRemaining(e -> labels.set(e.getKey(), e.getValue()));
      labels.put(HASH_LABEL, hash);
      JsonNode annotations = sts.path("metadata").path("annotations");
      if (annotations.isObject() && !annotations.isEmpty()) {
        metadata.set("annotations", annotations.deepCopy());
      }
      Cluster.setOwner(revision, statefulSets, sts);
      revision.set("data", data);
      revision.put("revision", maxRevision + 1);
      try {
        ObjectNode stored = cluster.create(revisions, namespace, revision);
        List<ObjectNode> newHistory = new ArrayList<>(history);
        newHistory.add(stored);
        return new Revisions.Result(stored, newHistory, collisionCount);
      } catch (ApiException e) {
        if (e.code() != 409) {
          throw e;
        }
        ObjectNode clash = cluster.get(revisions, namespace, name).orElseThrow(() -> e);
        if (Revisions.sameData(clash.path("data"), data)) {
          List<ObjectNode> newHistory = new ArrayList<>(history);
          newHistory.add(clash);
          return new Revisions.Result(clash, newHistory, collisionCount);
        }
        collisionCount++;
      }
    }
  }

  private void truncateHistory(
      ObjectNode sts,
      List<ObjectNode> history,
      List<ObjectNode> owned,
      String currentName,
      String updateName) {
    int limit = sts.path("spec").path("revisionHistoryLimit").asInt(10);
    if (limit < 0) {
      return;
    }
    Set<String> live = new HashSet<>(Set.of(currentName, updateName));
    owned.forEach(p -> live.add(Cluster.labels(p).getOrDefault(REVISION_LABEL, "")));
    List<ObjectNode> dead =
        new ArrayList<>(
            history.stream()
                .filter(r -> !live.contains(r.path("metadata").path("name").asText()))
                .toList());
    dead.sort(
        Comparator.<ObjectNode>comparingLong(r -> r.path("revision").asLong())
            .thenComparing(r -> r.path("metadata").path("creationTimestamp").asText())
            .thenComparing(r -> r.path("metadata").path("name").asText()));
    for (int i = 0; i < dead.size() - limit; i++) {
      ObjectNode r = dead.get(i);
      cluster.delete(
          revisions,
          r.path("metadata").path("namespace").asText(),
          r.path("metadata").path("name").asText());
    }
  }

  // ---- pods --------------------------------------------------------------------------------

  private static final Pattern ORDINAL = Pattern.compile("^(.*)-([0-9]+)$");

  static int ordinal(JsonNode pod) {
    Matcher m = ORDINAL.matcher(pod.path("metadata").path("name").asText());
    if (!m.matches()) {
      return -1;
    }
    try {
      return Integer.parseInt(m.group(2));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  static boolean runningAndReady(JsonNode pod) {
    if (!"Running".equals(pod.path("status").path("phase").asText())) {
      return false;
    }
    for (JsonNode condition : pod.path("status").path("conditions")) {
      if ("Ready".equals(condition.path("type").asText())) {
        return "True".equals(condition.path("status").asText());
      }
    }
    return false;
  }

  private static boolean available(JsonNode pod, int minReadySeconds) {
    if (!runningAndReady(pod)) {
      return false;
    }
    if (minReadySeconds <= 0) {
      return true;
    }
    for (JsonNode condition : pod.path("status").path("conditions")) {
      if ("Ready".equals(condition.path("type").asText())) {
        String since = condition.path("lastTransitionTime").asText("");
        return !since.isEmpty()
            && Instant.parse(since).plusSeconds(minReadySeconds).isBefore(Instant.now());
      }
    }
    return false;
  }

  private static boolean terminating(JsonNode pod) {
    return pod.path("metadata").has("deletionTimestamp");
  }

  private static String revisionOf(JsonNode pod) {
    return Cluster.labels(pod).getOrDefault(REVISION_LABEL, "");
  }

  /** One pass of upstream's sync: create or replace what is missing, scale, then update. */
  private void sync(
      ObjectNode sts, Key key, String uid, ObjectNode currentRevision, ObjectNode updateRevision) {
    JsonNode spec = sts.path("spec");
    int replicas = spec.path("replicas").asInt(1);
    int start = spec.path("ordinals").path("start").asInt(0);
    boolean monotonic = !"Parallel".equals(spec.path("podManagementPolicy").asText());
    boolean rolling = "RollingUpdate".equals(spec.path("updateStrategy").path("type").asText());
    int partition =
        rolling ? spec.path("updateStrategy").path("rollingUpdate").path("partition").asInt(0) : 0;
    int minReady = spec.path("minReadySeconds").asInt(0);
    String updateName = updateRevision.path("metadata").path("name").asText();
    String currentName = currentRevision.path("metadata").path("name").asText();

    Map<Integer, ObjectNode> inRange = new TreeMap<>();
    List<ObjectNode> condemned = new ArrayList<>();
    for (ObjectNode pod : ownedPods(sts, uid)) {
      int ordinal = ordinal(pod);
      if (ordinal < 0) {
        continue;
      }
      if (ordinal >= start && ordinal < start + replicas) {
        inRange.put(ordinal, pod);
      } else {
        condemned.add(pod);
      }
    }

    boolean unhealthy = false;
    for (int ordinal = start; ordinal < start + replicas; ordinal++) {
      ObjectNode pod = inRange.get(ordinal);
      String phase = pod == null ? "" : pod.path("status").path("phase").asText();
      if (pod != null && (phase.equals("Failed") || phase.equals("Succeeded"))) {
        if (!terminating(pod)) {
          deletePod(sts, pod);
        }
        if (monotonic) {
          return;
        }
        continue;
      }
      if (pod == null) {
        boolean useCurrent =
            rolling && !currentName.equals(updateName) && ordinal < start + partition;
        createPod(sts, ordinal, useCurrent ? currentRevision : updateRevision);
        if (monotonic) {
          return;
        }
        continue;
      }
      if (terminating(pod) || !available(pod, minReady)) {
        unhealthy = true;
        if (monotonic) {
          return;
        }
      }
    }

    condemned.sort(Comparator.comparingInt(StatefulSetController::ordinal).reversed());
    for (ObjectNode pod : condemned) {
      if (terminating(pod)) {
        if (monotonic) {
          return;
        }
        continue;
      }
      if (monotonic && unhealthy) {
        return;
      }
      deletePod(sts, pod);
      if (monotonic) {
        return;
      }
    }

    if (!rolling) {
      return; // OnDelete: pods change only when someone deletes them.
    }
    for (int ordinal = start + replicas - 1; ordinal >= start + partition; ordinal--) {
      ObjectNode pod = inRange.get(ordinal);
      if (pod == null) {
        return;
      }
      if (!revisionOf(pod).equals(updateName) && !terminating(pod)) {
        deletePod(sts, pod);
        return;
      }
      if (terminating(pod) || !available(pod, minReady)) {
        return;
      }
    }
  }

  private void createPod(ObjectNode sts, int ordinal, ObjectNode revision) {
    String namespace = sts.path("metadata").path("namespace").asText();
    String stsName = sts.path("metadata").path("name").asText();
    String podName = stsName + "-" + ordinal;
    ObjectNode template = Revisions.template(revision);
    ObjectNode pod = Cluster.JSON.createObjectNode();
    ObjectNode metadata = pod.putObject("metadata");
    JsonNode templateMeta = template.path("metadata");
    metadata.put("name", podName);
    metadata.put("namespace", namespace);
    metadata.put("generateName", stsName + "-");
    ObjectNode labels = metadata.putObject("labels");
    templateMeta
        .path("labels")
        .fields()
        .forEachRemaining(e -> labels.set(e.getKey(), e.getValue()));
    labels.put(POD_NAME_LABEL, podName);
    labels.put(POD_INDEX_LABEL, Integer.toString(ordinal));
    labels.put(REVISION_LABEL, revision.path("metadata").path("name").asText());
    if (templateMeta.path("annotations").isObject()) {
      metadata.set("annotations", templateMeta.get("annotations").deepCopy());
    }
    Cluster.setOwner(pod, Cluster.type("apps", "statefulsets"), sts);
    ObjectNode podSpec =
        template.path("spec").isObject()
            ? (ObjectNode) template.get("spec").deepCopy()
            : Cluster.JSON.createObjectNode();
    podSpec.put("hostname", podName);
    String serviceName = sts.path("spec").path("serviceName").asText("");
    if (!serviceName.isEmpty()) {
      podSpec.put("subdomain", serviceName);
    }
    JsonNode claimTemplates = sts.path("spec").path("volumeClaimTemplates");
    if (claimTemplates.isArray() && !claimTemplates.isEmpty()) {
      ArrayNode volumes = podSpec.withArray("volumes");
      for (JsonNode claimTemplate : claimTemplates) {
        String volumeName = claimTemplate.path("metadata").path("name").asText();
        String claimName = volumeName + "-" + stsName + "-" + ordinal;
        ensureClaim(sts, claimTemplate, claimName, podName);
        for (int i = volumes.size() - 1; i >= 0; i--) {
          if (volumeName.equals(volumes.get(i).path("name").asText())) {
            volumes.remove(i);
          }
        }
        ObjectNode volume = volumes.addObject();
        volume.put("name", volumeName);
        volume.putObject("persistentVolumeClaim").put("claimName", claimName);
      }
    }
    pod.set("spec", podSpec);
    try {
      cluster.create(pods, namespace, pod);
      cluster.event(
          Cluster.type("apps", "statefulsets"),
          sts,
          "Normal",
          "SuccessfulCreate",
          "create Pod " + podName + " in StatefulSet " + stsName + " successful",
          COMPONENT);
    } catch (ApiException e) {
      if (e.code() != 409) {
        cluster.event(
            Cluster.type("apps", "statefulsets"),
            sts,
            "Warning",
            "FailedCreate",
            "create Pod "
                + podName
                + " in StatefulSet "
                + stsName
                + " failed error: "
                + e.getMessage(),
            COMPONENT);
        throw e;
      }
    }
  }

  private void ensureClaim(ObjectNode sts, JsonNode claimTemplate, String claimName, String pod) {
    String namespace = sts.path("metadata").path("namespace").asText();
    if (cluster.get(claims, namespace, claimName).isPresent()) {
      return; // An existing claim is reused, never updated, as upstream does.
    }
    ObjectNode claim = Cluster.JSON.createObjectNode();
    ObjectNode metadata = claim.putObject("metadata");
    metadata.put("name", claimName);
    metadata.put("namespace", namespace);
    ObjectNode labels = metadata.putObject("labels");
    claimTemplate
        .path("metadata")
        .path("labels")
        .fields()
        .forEachRemaining(e -> labels.set(e.getKey(), e.getValue()));
    sts.path("spec")
        .path("selector")
        .path("matchLabels")
        .fields()
        .forEachRemaining(e -> labels.set(e.getKey(), e.getValue()));
    if ("Delete"
        .equals(
            sts.path("spec")
                .path("persistentVolumeClaimRetentionPolicy")
                .path("whenDeleted")
                .asText())) {
      Cluster.setOwner(claim, Cluster.type("apps", "statefulsets"), sts);
    }
    claim.set(
        "spec",
        claimTemplate.path("spec").isObject()
            ? claimTemplate.get("spec").deepCopy()
            : Cluster.JSON.createObjectNode());
    ObjectNode stored = cluster.create(claims, namespace, claim);
    // kubesim binds every claim at once: there is no provisioner to wait for.
    ObjectNode bound = stored.deepCopy();
    ObjectNode status = bound.putObject("status");
    status.put("phase", "Bound");
    JsonNode requested = claimTemplate.path("spec").path("resources").path("requests");
    if (requested.isObject()) {
      status.set("capacity", requested.deepCopy());
    }
    JsonNode modes = claimTemplate.path("spec").path("accessModes");
    if (modes.isArray()) {
      status.set("accessModes", modes.deepCopy());
    }
    cluster.updateStatus(claims, bound);
    cluster.event(
        Cluster.type("apps", "statefulsets"),
        sts,
        "Normal",
        "SuccessfulCreate",
        "create Claim "
            + claimName
            + " Pod "
            + pod
            + " in StatefulSet "
            + sts.path("metadata").path("name").asText()
            + " success",
        COMPONENT);
  }

  private void deletePod(ObjectNode sts, ObjectNode pod) {
    String name = pod.path("metadata").path("name").asText();
    cluster.delete(pods, pod.path("metadata").path("namespace").asText(), name);
    cluster.event(
        Cluster.type("apps", "statefulsets"),
        sts,
        "Normal",
        "SuccessfulDelete",
        "delete Pod "
            + name
            + " in StatefulSet "
            + sts.path("metadata").path("name").asText()
            + " successful",
        COMPONENT);
  }

  // ---- status ------------------------------------------------------------------------------

  private void writeStatus(
      ObjectNode sts,
      List<ObjectNode> owned,
      String currentName,
      String updateName,
      int collisionCount) {
    JsonNode spec = sts.path("spec");
    int minReady = spec.path("minReadySeconds").asInt(0);
    int replicas = 0;
    int ready = 0;
    int available = 0;
    int current = 0;
    int updated = 0;
    for (ObjectNode pod : owned) {
      if (ordinal(pod) < 0 || pod.path("status").path("phase").asText("").isEmpty()) {
        continue;
      }
      replicas++;
      if (runningAndReady(pod)) {
        ready++;
      }
      if (available(pod, minReady)) {
        available++;
      }
      if (!terminating(pod)) {
        String revision = revisionOf(pod);
        if (revision.equals(currentName)) {
          current++;
        }
        if (revision.equals(updateName)) {
          updated++;
        }
      }
    }
    boolean rolling = "RollingUpdate".equals(spec.path("updateStrategy").path("type").asText());
    if (rolling
        && updated == ready
        && ready == replicas
        && replicas == spec.path("replicas").asInt(1)) {
      currentName = updateName;
      current = updated;
    }
    ObjectNode status = Cluster.JSON.createObjectNode();
    status.put("observedGeneration", sts.path("metadata").path("generation").asLong(1));
    status.put("replicas", replicas);
    status.put("readyReplicas", ready);
    status.put("currentReplicas", current);
    status.put("updatedReplicas", updated);
    status.put("availableReplicas", available);
    status.put("currentRevision", currentName);
    status.put("updateRevision", updateName);
    status.put("collisionCount", collisionCount);
    if (status.equals(sts.path("status"))) {
      return;
    }
    ObjectNode updatedSts = sts.deepCopy();
    updatedSts.set("status", status);
    cluster.updateStatus(statefulSets, updatedSts);
  }

  /** ControllerRevision data, hashes and names, as upstream's history package makes them. */
  static final class Revisions {
    record Result(ObjectNode revision, List<ObjectNode> history, int collisionCount) {}

    private Revisions() {}

    /** The revision data: {@code {"spec":{"template":{..., "$patch":"replace"}}}}. */
    static ObjectNode data(JsonNode template) {
      ObjectNode copy =
          template.isObject() ? (ObjectNode) template.deepCopy() : Cluster.JSON.createObjectNode();
      copy.put("$patch", "replace");
      ObjectNode data = Cluster.JSON.createObjectNode();
      data.putObject("spec").set("template", copy);
      return (ObjectNode) canonical(data);
    }

    static boolean sameData(JsonNode a, JsonNode b) {
      return canonical(a).equals(canonical(b));
    }

    static ObjectNode template(ObjectNode revision) {
      ObjectNode template = revision.path("data").path("spec").path("template").deepCopy();
      template.remove("$patch");
      return template;
    }

    /** Object keys sorted, recursively, so that equal templates serialise to equal bytes. */
    static JsonNode canonical(JsonNode node) {
      if (node.isObject()) {
        ObjectNode sorted = Cluster.JSON.createObjectNode();
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        names.sort(null);
        for (String name : names) {
          sorted.set(name, canonical(node.get(name)));
        }
        return sorted;
      }
      if (node.isArray()) {
        ArrayNode array = Cluster.JSON.createArrayNode();
        node.forEach(element -> array.add(canonical(element)));
        return array;
      }
      return node;
    }

    /** FNV-1 32-bit over the data (and the collision count), safe-encoded as upstream does. */
    static String hash(JsonNode data, int collisionCount) {
      byte[] bytes = canonical(data).toString().getBytes(StandardCharsets.UTF_8);
      int hash = 0x811c9dc5;
      for (byte b : bytes) {
        hash *= 0x01000193;
        hash ^= (b & 0xff);
      }
      if (collisionCount > 0) {
        for (byte b : Integer.toString(collisionCount).getBytes(StandardCharsets.UTF_8)) {
          hash *= 0x01000193;
          hash ^= (b & 0xff);
        }
      }
      String decimal = Long.toString(Integer.toUnsignedLong(hash));
      StringBuilder encoded = new StringBuilder();
      for (char c : decimal.toCharArray()) {
        encoded.append(SAFE_ALPHABET.charAt(c % SAFE_ALPHABET.length()));
      }
      return encoded.toString();
    }

    static String name(String stsName, String hash) {
      String prefix = stsName.length() > 223 ? stsName.substring(0, 223) : stsName;
      return prefix + "-" + hash;
    }
  }
}
