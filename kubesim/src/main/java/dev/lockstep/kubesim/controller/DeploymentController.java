package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ApiException;
import dev.lockstep.kubesim.api.ResourceType;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Deployment controller, after upstream's {@code pkg/controller/deployment}: one ReplicaSet per
 * distinct pod template, named {@code <deployment>-<pod-template-hash>} with that label on the
 * ReplicaSet, its selector, its template and so its pods; the {@code deployment.kubernetes.io/}
 * annotations ({@code revision}, {@code revision-history} when an old ReplicaSet comes back, {@code
 * desired-replicas}, {@code max-replicas}); RollingUpdate bounded by {@code maxSurge} (rounded up)
 * and {@code maxUnavailable} (rounded down), Recreate, proportional scaling, {@code paused}, {@code
 * minReadySeconds}, {@code progressDeadlineSeconds}, status and conditions with upstream's reasons,
 * and old ReplicaSets pruned beyond {@code revisionHistoryLimit}. A rollback ({@code kubectl
 * rollout undo}) is an old template written back: its ReplicaSet becomes the new one again with the
 * next revision number. The ReplicaSets' own controller ({@link ReplicaSetController}) makes and
 * removes the pods.
 */
public final class DeploymentController implements Controller {
  static final String HASH_LABEL = "pod-template-hash";
  static final String REVISION = "deployment.kubernetes.io/revision";
  static final String REVISION_HISTORY = "deployment.kubernetes.io/revision-history";
  static final String DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas";
  static final String MAX_REPLICAS = "deployment.kubernetes.io/max-replicas";
  private static final Set<String> NOT_COPIED =
      Set.of(
          "kubectl.kubernetes.io/last-applied-configuration",
          REVISION,
          REVISION_HISTORY,
          DESIRED_REPLICAS,
          MAX_REPLICAS,
          "deprecated.deployment.rollback.to");
  private static final int REVISION_HISTORY_MAX_CHARS = 2000;
  private static final String COMPONENT = "deployment-controller";
  private static final String SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

  // Condition reasons, as upstream's deployment_util.go names them.
  static final String NEW_RS_CREATED = "NewReplicaSetCreated";
  static final String FOUND_NEW_RS = "FoundNewReplicaSet";
  static final String RS_UPDATED = "ReplicaSetUpdated";
  static final String NEW_RS_AVAILABLE = "NewReplicaSetAvailable";
  static final String TIMED_OUT = "ProgressDeadlineExceeded";
  static final String PAUSED = "DeploymentPaused";
  static final String RESUMED = "DeploymentResumed";
  static final String RS_CREATE_ERROR = "ReplicaSetCreateError";
  static final String MIN_AVAILABLE = "MinimumReplicasAvailable";
  static final String MIN_UNAVAILABLE = "MinimumReplicasUnavailable";

  private final Cluster cluster;
  private final ResourceType deployments = Cluster.type("apps", "deployments");
  private final ResourceType replicaSets = Cluster.type("apps", "replicasets");
  private final ResourceType pods = Cluster.type("", "pods");

  public DeploymentController(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public String name() {
    return "deployment";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (type.equals(deployments)) {
      return deleted ? List.of() : List.of(Key.of(object));
    }
    if (type.equals(replicaSets)) {
      return Cluster.controllerOfKind(object, "Deployment");
    }
    return List.of();
  }

  @Override
  public List<Key> resyncKeys() {
    List<Key> keys = new ArrayList<>();
    cluster.forEach(deployments, null, d -> keys.add(Key.of(d)));
    return keys;
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    ObjectNode stored = cluster.get(deployments, key.namespace(), key.name()).orElse(null);
    if (stored == null) {
      return;
    }
    new Sync(stored, requeue).run();
  }

  /** One pass of upstream's {@code syncDeployment} over one Deployment. */
  private final class Sync {
    /** The Deployment as stored; {@link #d} is the working copy whose changes get written. */
    private ObjectNode stored;

    private ObjectNode d;
    private final Requeue requeue;
    private final String namespace;

    Sync(ObjectNode stored, Requeue requeue) {
      this.stored = stored;
      this.d = stored.deepCopy();
      this.requeue = requeue;
      this.namespace = stored.path("metadata").path("namespace").asText();
    }

    void run() {
      List<ObjectNode> rsList =
          new ArrayList<>(
              cluster.owned(replicaSets, namespace, d.path("metadata").path("uid").asText()));
      if (d.path("metadata").has("deletionTimestamp")) {
        syncStatusOnly(rsList);
        return;
      }
      checkPausedConditions();
      if (d.path("spec").path("paused").asBoolean(false)) {
        sync(rsList);
        return;
      }
      if (isScalingEvent(rsList)) {
        sync(rsList);
        return;
      }
      if ("Recreate".equals(d.path("spec").path("strategy").path("type").asText())) {
        rolloutRecreate(rsList);
      } else {
        rolloutRolling(rsList);
      }
    }

    // ---- the spec, as numbers -----------------------------------------------------------------

    int replicas() {
      return d.path("spec").path("replicas").asInt(1);
    }

    boolean rolling() {
      return !"Recreate".equals(d.path("spec").path("strategy").path("type").asText());
    }

    int maxSurge() {
      return rolling() ? fenceposts()[0] : 0;
    }

    int maxUnavailable() {
      if (!rolling() || replicas() == 0) {
        return 0;
      }
      return Math.min(fenceposts()[1], replicas());
    }

    /** Upstream's {@code ResolveFenceposts}: surge rounds up, unavailable down, not both 0. */
    int[] fenceposts() {
      JsonNode rollingUpdate = d.path("spec").path("strategy").path("rollingUpdate");
      int surge = scaled(rollingUpdate.path("maxSurge"), replicas(), true, "25%");
      int unavailable = scaled(rollingUpdate.path("maxUnavailable"), replicas(), false, "25%");
      if (surge == 0 && unavailable == 0) {
        unavailable = 1;
      }
      return new int[] {surge, unavailable};
    }

    boolean hasProgressDeadline() {
      JsonNode deadline = d.path("spec").path("progressDeadlineSeconds");
      return deadline.canConvertToInt() && deadline.asInt() != Integer.MAX_VALUE;
    }

    int minReadySeconds() {
      return d.path("spec").path("minReadySeconds").asInt(0);
    }

    // ---- ReplicaSets --------------------------------------------------------------------------

    /** Upstream's {@code getAllReplicaSetsAndSyncRevision}: [new or null, old...]. */
    ObjectNode newReplicaSet(List<ObjectNode> rsList, boolean create) {
      ObjectNode existing = findNew(rsList);
      List<ObjectNode> old = oldOf(rsList, existing);
      long maxOld = old.stream().mapToLong(DeploymentController::revision).max().orElse(0);
      String newRevision = Long.toString(maxOld + 1);
      if (existing != null) {
        ObjectNode copy = existing.deepCopy();
        boolean annotationsUpdated = setNewReplicaSetAnnotations(copy, newRevision, true);
        boolean minReadyChanged =
            copy.path("spec").path("minReadySeconds").asInt(0) != minReadySeconds();
        if (annotationsUpdated || minReadyChanged) {
          copy.with("spec").put("minReadySeconds", minReadySeconds());
          refresh(existing, cluster.update(replicaSets, copy));
        }
        boolean needsUpdate =
            setDeploymentRevision(annotations(existing).path(REVISION).asText(""));
        if (hasProgressDeadline() && ownCondition("Progressing") == null) {
          setOwnCondition(
              "Progressing",
              "True",
              FOUND_NEW_RS,
              "Found new replica set \"" + name(existing) + "\"");
          needsUpdate = true;
        }
        if (needsUpdate) {
          persist();
        }
        return existing;
      }
      if (!create) {
        return null;
      }
      ObjectNode template = d.path("spec").path("template").deepCopy();
      JsonNode collisions = d.path("status").path("collisionCount");
      String hash = computeHash(template, collisions.canConvertToInt() ? collisions.asInt() : null);
      template.with("metadata").with("labels").put(HASH_LABEL, hash);
      ObjectNode selector = d.path("spec").path("selector").deepCopy();
      selector.with("matchLabels").put(HASH_LABEL, hash);
      ObjectNode rs = Cluster.JSON.createObjectNode();
      ObjectNode metadata = rs.putObject("metadata");
      String rsName = name(d) + "-" + hash;
      metadata.put("name", rsName);
      metadata.put("namespace", namespace);
      metadata.set("labels", template.path("metadata").path("labels").deepCopy());
      Cluster.setOwner(rs, deployments, d);
      ObjectNode spec = rs.putObject("spec");
      spec.put("replicas", 0);
      spec.put("minReadySeconds", minReadySeconds());
      spec.set("selector", selector);
      spec.set("template", template);
      List<ObjectNode> all = new ArrayList<>(old);
      all.add(rs);
      int newReplicas = newRSNewReplicas(all, rs);
      spec.put("replicas", newReplicas);
      setNewReplicaSetAnnotations(rs, newRevision, false);
      ObjectNode created;
      boolean alreadyExists = false;
      try {
        created = cluster.create(replicaSets, namespace, rs);
      } catch (ApiException e) {
        if (e.code() == 409) {
          ObjectNode clash = cluster.get(replicaSets, namespace, rsName).orElseThrow(() -> e);
          if (Cluster.ownedBy(clash, uid(d))
              && equalIgnoreHash(
                  clash.path("spec").path("template"), d.path("spec").path("template"))) {
            created = clash;
            alreadyExists = true;
          } else {
            // A hash collision: the next name is computed with one more collision counted.
            int count = collisions.canConvertToInt() ? collisions.asInt() : 0;
            d.with("status").put("collisionCount", count + 1);
            persist();
            throw new ApiException(409, "AlreadyExists", "hash collision on " + rsName);
          }
        } else {
          setOwnCondition(
              "Progressing",
              "False",
              RS_CREATE_ERROR,
              "Failed to create new replica set \"" + rsName + "\": " + e.getMessage());
          persist();
          throw e;
        }
      }
      if (!alreadyExists && newReplicas > 0) {
        event("Scaled up replica set " + rsName + " from 0 to " + newReplicas);
      }
      boolean needsUpdate = setDeploymentRevision(newRevision);
      if (!alreadyExists && hasProgressDeadline()) {
        setOwnCondition(
            "Progressing", "True", NEW_RS_CREATED, "Created new replica set \"" + rsName + "\"");
        needsUpdate = true;
      }
      if (needsUpdate) {
        persist();
      }
      rsList.add(created);
      return created;
    }

    /** The oldest ReplicaSet whose template is the Deployment's ({@code FindNewReplicaSet}). */
    ObjectNode findNew(List<ObjectNode> rsList) {
      List<ObjectNode> sorted = new ArrayList<>(rsList);
      sorted.sort(BY_CREATION);
      for (ObjectNode rs : sorted) {
        if (equalIgnoreHash(rs.path("spec").path("template"), d.path("spec").path("template"))) {
          return rs;
        }
      }
      return null;
    }

    List<ObjectNode> oldOf(List<ObjectNode> rsList, ObjectNode newRS) {
      List<ObjectNode> old = new ArrayList<>();
      for (ObjectNode rs : rsList) {
        if (newRS == null || !uid(rs).equals(uid(newRS))) {
          old.add(rs);
        }
      }
      return old;
    }

    boolean setNewReplicaSetAnnotations(ObjectNode rs, String newRevision, boolean exists) {
      ObjectNode annotations = rs.with("metadata").with("annotations");
      boolean changed = false;
      for (Map.Entry<String, JsonNode> e : annotations(d).properties()) {
        if (NOT_COPIED.contains(e.getKey()) || e.getValue().equals(annotations.get(e.getKey()))) {
          continue;
        }
        annotations.set(e.getKey(), e.getValue());
        changed = true;
      }
      boolean had = annotations.has(REVISION);
      String oldRevision = annotations.path(REVISION).asText("");
      long oldInt;
      try {
        oldInt = oldRevision.isEmpty() ? 0 : Long.parseLong(oldRevision);
      } catch (NumberFormatException e) {
        return false;
      }
      long newInt = Long.parseLong(newRevision);
      if (oldInt < newInt) {
        annotations.put(REVISION, newRevision);
        changed = true;
      }
      if (had && oldInt < newInt) {
        // Rolling back to this ReplicaSet: the numbers it had stay in its history.
        String history = annotations.path(REVISION_HISTORY).asText("");
        if (history.isEmpty()) {
          annotations.put(REVISION_HISTORY, oldRevision);
        } else {
          List<String> old = new ArrayList<>(List.of(history.split(",")));
          int total = history.length() + oldRevision.length() + 1;
          while (total > REVISION_HISTORY_MAX_CHARS && !old.isEmpty()) {
            total -= old.remove(0).length() + 1;
          }
          if (total <= REVISION_HISTORY_MAX_CHARS) {
            old.add(oldRevision);
            annotations.put(REVISION_HISTORY, String.join(",", old));
          }
        }
      }
      if (!exists && setReplicasAnnotations(rs)) {
        changed = true;
      }
      return changed;
    }

    boolean setReplicasAnnotations(ObjectNode rs) {
      ObjectNode annotations = rs.with("metadata").with("annotations");
      boolean changed = false;
      String desired = Integer.toString(replicas());
      String max = Integer.toString(replicas() + maxSurge());
      if (!desired.equals(annotations.path(DESIRED_REPLICAS).asText(null))) {
        annotations.put(DESIRED_REPLICAS, desired);
        changed = true;
      }
      if (!max.equals(annotations.path(MAX_REPLICAS).asText(null))) {
        annotations.put(MAX_REPLICAS, max);
        changed = true;
      }
      return changed;
    }

    boolean setDeploymentRevision(String revision) {
      ObjectNode annotations = d.with("metadata").with("annotations");
      if (revision.equals(annotations.path(REVISION).asText(null))) {
        if (annotations.isEmpty()) {
          d.with("metadata").remove("annotations");
        }
        return false;
      }
      annotations.put(REVISION, revision);
      return true;
    }

    /** How many replicas the new ReplicaSet may have now ({@code NewRSNewReplicas}). */
    int newRSNewReplicas(List<ObjectNode> all, ObjectNode newRS) {
      if (!rolling()) {
        return replicas();
      }
      int current = sumSpec(all);
      int maxTotal = replicas() + maxSurge();
      if (current >= maxTotal) {
        return specReplicas(newRS);
      }
      int scaleUp = Math.min(maxTotal - current, replicas() - specReplicas(newRS));
      return specReplicas(newRS) + scaleUp;
    }

    /** Scales a ReplicaSet (and refreshes its replicas annotations); true if its size changed. */
    boolean scaleReplicaSet(ObjectNode rs, int newScale) {
      boolean sizeNeedsUpdate = specReplicas(rs) != newScale;
      ObjectNode copy = rs.deepCopy();
      boolean annotationsNeedUpdate = setReplicasAnnotations(copy);
      if (!sizeNeedsUpdate && !annotationsNeedUpdate) {
        return false;
      }
      int from = specReplicas(rs);
      copy.with("spec").put("replicas", newScale);
      refresh(rs, cluster.update(replicaSets, copy));
      if (sizeNeedsUpdate) {
        event(
            "Scaled "
                + (newScale > from ? "up" : "down")
                + " replica set "
                + name(rs)
                + " from "
                + from
                + " to "
                + newScale);
      }
      return sizeNeedsUpdate;
    }

    // ---- rollouts -----------------------------------------------------------------------------

    void rolloutRolling(List<ObjectNode> rsList) {
      ObjectNode newRS = newReplicaSet(rsList, true);
      List<ObjectNode> old = oldOf(rsList, newRS);
      List<ObjectNode> all = new ArrayList<>(old);
      all.add(newRS);
      if (reconcileNewReplicaSet(all, newRS)) {
        syncRolloutStatus(all, newRS);
        return;
      }
      if (reconcileOldReplicaSets(all, active(old), newRS)) {
        syncRolloutStatus(all, newRS);
        return;
      }
      if (complete(d.path("status"))) {
        cleanup(old);
      }
      syncRolloutStatus(all, newRS);
    }

    boolean reconcileNewReplicaSet(List<ObjectNode> all, ObjectNode newRS) {
      if (specReplicas(newRS) == replicas()) {
        return false;
      }
      if (specReplicas(newRS) > replicas()) {
        return scaleReplicaSet(newRS, replicas());
      }
      return scaleReplicaSet(newRS, newRSNewReplicas(all, newRS));
    }

    boolean reconcileOldReplicaSets(List<ObjectNode> all, List<ObjectNode> old, ObjectNode newRS) {
      if (sumSpec(old) == 0) {
        return false;
      }
      int minAvailable = replicas() - maxUnavailable();
      int newUnavailable =
          specReplicas(newRS) - newRS.path("status").path("availableReplicas").asInt(0);
      int maxScaledDown = sumSpec(all) - minAvailable - newUnavailable;
      if (maxScaledDown <= 0) {
        return false;
      }
      // Unhealthy old replicas go first: they cost no availability.
      int cleaned = cleanupUnhealthyReplicas(old, maxScaledDown);
      List<ObjectNode> remaining = new ArrayList<>(old);
      remaining.add(newRS);
      int scaledDown = scaleDownOldForRollingUpdate(remaining, old);
      return cleaned + scaledDown > 0;
    }

    int cleanupUnhealthyReplicas(List<ObjectNode> old, int maxCleanup) {
      List<ObjectNode> sorted = new ArrayList<>(old);
      sorted.sort(BY_CREATION);
      int total = 0;
      for (ObjectNode rs : sorted) {
        if (total >= maxCleanup) {
          break;
        }
        int replicas = specReplicas(rs);
        int available = rs.path("status").path("availableReplicas").asInt(0);
        if (replicas == 0 || replicas == available) {
          continue;
        }
        int count = Math.min(maxCleanup - total, replicas - available);
        scaleReplicaSet(rs, replicas - count);
        total += count;
      }
      return total;
    }

    int scaleDownOldForRollingUpdate(List<ObjectNode> all, List<ObjectNode> old) {
      int minAvailable = replicas() - maxUnavailable();
      int available = sumAvailable(all);
      if (available <= minAvailable) {
        return 0;
      }
      List<ObjectNode> sorted = new ArrayList<>(old);
      sorted.sort(BY_CREATION);
      int toScaleDown = available - minAvailable;
      int total = 0;
      for (ObjectNode rs : sorted) {
        if (total >= toScaleDown) {
          break;
        }
        if (specReplicas(rs) == 0) {
          continue;
        }
        int count = Math.min(specReplicas(rs), toScaleDown - total);
        scaleReplicaSet(rs, specReplicas(rs) - count);
        total += count;
      }
      return total;
    }

    void rolloutRecreate(List<ObjectNode> rsList) {
      ObjectNode newRS = newReplicaSet(rsList, false);
      List<ObjectNode> old = oldOf(rsList, newRS);
      List<ObjectNode> all = new ArrayList<>(old);
      if (newRS != null) {
        all.add(newRS);
      }
      boolean scaledDown = false;
      for (ObjectNode rs : active(old)) {
        scaledDown |= scaleReplicaSet(rs, 0);
      }
      if (scaledDown) {
        syncRolloutStatus(all, newRS);
        return;
      }
      if (oldPodsRunning(newRS, old)) {
        syncRolloutStatus(all, newRS);
        return;
      }
      if (newRS == null) {
        newRS = newReplicaSet(rsList, true);
        old = oldOf(rsList, newRS);
        all = new ArrayList<>(old);
        all.add(newRS);
      }
      scaleReplicaSet(newRS, replicas());
      if (complete(d.path("status"))) {
        cleanup(old);
      }
      syncRolloutStatus(all, newRS);
    }

    /** Whether any pod of an old ReplicaSet still runs: Recreate waits for none to be left. */
    boolean oldPodsRunning(ObjectNode newRS, List<ObjectNode> old) {
      for (ObjectNode rs : old) {
        if (rs.path("status").path("replicas").asInt(0) > 0) {
          return true;
        }
        for (ObjectNode pod : cluster.owned(pods, namespace, uid(rs))) {
          String phase = pod.path("status").path("phase").asText("");
          if (!phase.equals("Succeeded") && !phase.equals("Failed")) {
            return true;
          }
        }
      }
      return false;
    }

    // ---- scaling and pausing ------------------------------------------------------------------

    boolean isScalingEvent(List<ObjectNode> rsList) {
      ObjectNode newRS = newReplicaSet(rsList, false);
      List<ObjectNode> all = oldOf(rsList, newRS);
      if (newRS != null) {
        all.add(newRS);
      }
      for (ObjectNode rs : active(all)) {
        String desired = annotations(rs).path(DESIRED_REPLICAS).asText("");
        if (!desired.isEmpty() && !desired.equals(Integer.toString(replicas()))) {
          return true;
        }
      }
      return false;
    }

    /** Upstream's {@code sync}: scale only (paused, or a scaling event), then status. */
    void sync(List<ObjectNode> rsList) {
      ObjectNode newRS = newReplicaSet(rsList, false);
      List<ObjectNode> old = oldOf(rsList, newRS);
      scale(newRS, old);
      if (d.path("spec").path("paused").asBoolean(false)) {
        cleanup(old);
      }
      List<ObjectNode> all = new ArrayList<>(old);
      if (newRS != null) {
        all.add(newRS);
      }
      writeStatus(calculateStatus(all, newRS));
    }

    void scale(ObjectNode newRS, List<ObjectNode> old) {
      ObjectNode target = activeOrLatest(newRS, old);
      if (target != null) {
        if (specReplicas(target) != replicas()) {
          scaleReplicaSet(target, replicas());
        }
        return;
      }
      if (newRS != null && saturated(newRS)) {
        for (ObjectNode rs : active(old)) {
          scaleReplicaSet(rs, 0);
        }
        return;
      }
      if (!rolling()) {
        return;
      }
      List<ObjectNode> all = new ArrayList<>(old);
      if (newRS != null) {
        all.add(newRS);
      }
      all = active(all);
      int allowed = replicas() > 0 ? replicas() + maxSurge() : 0;
      int toAdd = allowed - sumSpec(all);
      // Proportional scaling: the largest (newest on a tie) grow first, the largest (oldest on a
      // tie) shrink first.
      Comparator<ObjectNode> bySize = Comparator.comparingInt(DeploymentController::specReplicas);
      if (toAdd > 0) {
        all.sort(bySize.reversed().thenComparing(BY_CREATION.reversed()));
      } else if (toAdd < 0) {
        all.sort(bySize.reversed().thenComparing(BY_CREATION));
      }
      Map<String, Integer> sizes = new HashMap<>();
      int added = 0;
      for (ObjectNode rs : all) {
        if (toAdd != 0) {
          int proportion = proportion(rs, toAdd, added);
          sizes.put(name(rs), specReplicas(rs) + proportion);
          added += proportion;
        } else {
          sizes.put(name(rs), specReplicas(rs));
        }
      }
      if (toAdd != 0 && !all.isEmpty()) {
        String first = name(all.get(0));
        sizes.put(first, Math.max(0, sizes.get(first) + toAdd - added));
      }
      for (ObjectNode rs : all) {
        scaleReplicaSet(rs, sizes.get(name(rs)));
      }
    }

    int proportion(ObjectNode rs, int toAdd, int added) {
      if (specReplicas(rs) == 0 || toAdd == 0 || toAdd == added) {
        return 0;
      }
      int fraction = fraction(rs);
      int allowed = toAdd - added;
      return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
    }

    int fraction(ObjectNode rs) {
      if (replicas() == 0) {
        return -specReplicas(rs);
      }
      int deploymentReplicas = replicas() + maxSurge();
      int annotated;
      try {
        annotated = Integer.parseInt(annotations(rs).path(MAX_REPLICAS).asText(""));
      } catch (NumberFormatException e) {
        annotated = d.path("status").path("replicas").asInt(0);
      }
      if (annotated == 0) {
        return 0;
      }
      double newSize = (double) specReplicas(rs) * deploymentReplicas / annotated;
      return (int) Math.round(newSize) - specReplicas(rs);
    }

    ObjectNode activeOrLatest(ObjectNode newRS, List<ObjectNode> old) {
      if (newRS == null && old.isEmpty()) {
        return null;
      }
      List<ObjectNode> sortedOld = new ArrayList<>(old);
      sortedOld.sort(BY_CREATION.reversed());
      List<ObjectNode> all = new ArrayList<>(sortedOld);
      if (newRS != null) {
        all.add(newRS);
      }
      List<ObjectNode> activeOnes = active(all);
      if (activeOnes.isEmpty()) {
        return newRS != null ? newRS : sortedOld.get(0);
      }
      return activeOnes.size() == 1 ? activeOnes.get(0) : null;
    }

    boolean saturated(ObjectNode newRS) {
      String desired = annotations(newRS).path(DESIRED_REPLICAS).asText("");
      return specReplicas(newRS) == replicas()
          && desired.equals(Integer.toString(replicas()))
          && newRS.path("status").path("availableReplicas").asInt(0) == replicas();
    }

    void checkPausedConditions() {
      if (!hasProgressDeadline()) {
        return;
      }
      JsonNode cond = ownCondition("Progressing");
      if (cond != null && TIMED_OUT.equals(cond.path("reason").asText())) {
        return;
      }
      boolean pausedCondition = cond != null && PAUSED.equals(cond.path("reason").asText());
      boolean paused = d.path("spec").path("paused").asBoolean(false);
      if (paused && !pausedCondition) {
        setOwnCondition("Progressing", "Unknown", PAUSED, "Deployment is paused");
      } else if (!paused && pausedCondition) {
        setOwnCondition("Progressing", "Unknown", RESUMED, "Deployment is resumed");
      } else {
        return;
      }
      persist();
    }

    void syncStatusOnly(List<ObjectNode> rsList) {
      ObjectNode newRS = newReplicaSet(rsList, false);
      List<ObjectNode> all = oldOf(rsList, newRS);
      if (newRS != null) {
        all.add(newRS);
      }
      writeStatus(calculateStatus(all, newRS));
    }

    /** Deletes the oldest unused ReplicaSets beyond revisionHistoryLimit. */
    void cleanup(List<ObjectNode> old) {
      JsonNode limitNode = d.path("spec").path("revisionHistoryLimit");
      if (!limitNode.canConvertToInt()) {
        return;
      }
      List<ObjectNode> cleanable = new ArrayList<>();
      for (ObjectNode rs : old) {
        if (!rs.path("metadata").has("deletionTimestamp")) {
          cleanable.add(rs);
        }
      }
      int diff = cleanable.size() - limitNode.asInt();
      if (diff <= 0) {
        return;
      }
      cleanable.sort(
          Comparator.<ObjectNode>comparingLong(DeploymentController::revision)
              .thenComparing(BY_CREATION));
      for (int i = 0; i < diff; i++) {
        ObjectNode rs = cleanable.get(i);
        if (rs.path("status").path("replicas").asInt(0) != 0
            || specReplicas(rs) != 0
            || rs.path("metadata").path("generation").asLong(1)
                > rs.path("status").path("observedGeneration").asLong(0)) {
          continue;
        }
        cluster.delete(replicaSets, namespace, name(rs));
      }
    }

    // ---- status -------------------------------------------------------------------------------

    ObjectNode calculateStatus(List<ObjectNode> all, ObjectNode newRS) {
      int available = sumAvailable(all);
      int unavailable = Math.max(0, sumSpec(all) - available);
      ObjectNode status = Cluster.JSON.createObjectNode();
      status.put("observedGeneration", d.path("metadata").path("generation").asLong(1));
      ReplicaSetController.putCount(status, "replicas", sumStatus(all, "replicas"));
      ReplicaSetController.putCount(
          status, "updatedReplicas", newRS == null ? 0 : sumStatus(List.of(newRS), "replicas"));
      ReplicaSetController.putCount(status, "readyReplicas", sumStatus(all, "readyReplicas"));
      ReplicaSetController.putCount(status, "availableReplicas", available);
      ReplicaSetController.putCount(status, "unavailableReplicas", unavailable);
      JsonNode conditions = d.path("status").path("conditions");
      if (conditions.isArray()) {
        status.set("conditions", conditions.deepCopy());
      }
      if (d.path("status").has("collisionCount")) {
        status.set("collisionCount", d.path("status").get("collisionCount"));
      }
      if (available >= replicas() - maxUnavailable()) {
        setCondition(
            status, "Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.");
      } else {
        setCondition(
            status,
            "Available",
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.");
      }
      return status;
    }

    boolean complete(JsonNode status) {
      return status.path("updatedReplicas").asInt(0) == replicas()
          && status.path("replicas").asInt(0) == replicas()
          && status.path("availableReplicas").asInt(0) == replicas()
          && status.path("observedGeneration").asLong(0)
              >= d.path("metadata").path("generation").asLong(1);
    }

    boolean progressing(JsonNode status) {
      JsonNode old = d.path("status");
      int oldOld = old.path("replicas").asInt(0) - old.path("updatedReplicas").asInt(0);
      int newOld = status.path("replicas").asInt(0) - status.path("updatedReplicas").asInt(0);
      return status.path("updatedReplicas").asInt(0) > old.path("updatedReplicas").asInt(0)
          || newOld < oldOld
          || status.path("readyReplicas").asInt(0) > old.path("readyReplicas").asInt(0)
          || status.path("availableReplicas").asInt(0) > old.path("availableReplicas").asInt(0);
    }

    boolean timedOut(JsonNode status) {
      if (!hasProgressDeadline()) {
        return false;
      }
      JsonNode cond = condition(status, "Progressing");
      if (cond == null || NEW_RS_AVAILABLE.equals(cond.path("reason").asText())) {
        return false;
      }
      if (TIMED_OUT.equals(cond.path("reason").asText())) {
        return true;
      }
      Instant from = Instant.parse(cond.path("lastUpdateTime").asText());
      int deadline = d.path("spec").path("progressDeadlineSeconds").asInt();
      return from.plusSeconds(deadline).isBefore(Instant.now());
    }

    void syncRolloutStatus(List<ObjectNode> all, ObjectNode newRS) {
      ObjectNode status = calculateStatus(all, newRS);
      if (!hasProgressDeadline()) {
        removeCondition(status, "Progressing");
      }
      JsonNode current = condition(status, "Progressing");
      boolean isComplete =
          status.path("replicas").asInt(0) == status.path("updatedReplicas").asInt(0)
              && current != null
              && NEW_RS_AVAILABLE.equals(current.path("reason").asText());
      if (hasProgressDeadline() && !isComplete) {
        String what =
            newRS != null ? "ReplicaSet \"" + name(newRS) + "\"" : "Deployment \"" + name(d) + "\"";
        if (complete(status)) {
          setCondition(
              status,
              "Progressing",
              "True",
              NEW_RS_AVAILABLE,
              what + " has successfully progressed.");
        } else if (progressing(status)) {
          // Progress moves the deadline: lastUpdateTime is now, the transition time is kept.
          String since =
              current != null && "True".equals(current.path("status").asText())
                  ? current.path("lastTransitionTime").asText()
                  : null;
          removeCondition(status, "Progressing");
          setCondition(status, "Progressing", "True", RS_UPDATED, what + " is progressing.");
          if (since != null) {
            ((ObjectNode) condition(status, "Progressing")).put("lastTransitionTime", since);
          }
        } else if (timedOut(status)) {
          setCondition(
              status, "Progressing", "False", TIMED_OUT, what + " has timed out progressing.");
        }
      }
      if (status.equals(d.path("status"))) {
        requeueStuck(status);
        return;
      }
      writeStatus(status);
    }

    /** Looks again when the progress deadline would pass, as nothing else would wake us then. */
    void requeueStuck(JsonNode status) {
      JsonNode cond = condition(status, "Progressing");
      if (!hasProgressDeadline() || cond == null || complete(status)) {
        return;
      }
      String reason = cond.path("reason").asText();
      if (TIMED_OUT.equals(reason) || NEW_RS_AVAILABLE.equals(reason)) {
        return;
      }
      Instant due =
          Instant.parse(cond.path("lastUpdateTime").asText())
              .plusSeconds(d.path("spec").path("progressDeadlineSeconds").asInt());
      Duration after = Duration.between(Instant.now(), due);
      requeue.after(after.isNegative() ? Duration.ofMillis(100) : after.plusSeconds(1));
    }

    void writeStatus(ObjectNode status) {
      if (status.equals(d.path("status"))) {
        return;
      }
      d.set("status", status);
      persist();
    }

    /** Writes what changed in the working copy: annotations through the object, then status. */
    void persist() {
      JsonNode wantedAnnotations = annotations(d);
      if (!wantedAnnotations.equals(annotations(stored))) {
        ObjectNode update = stored.deepCopy();
        update.with("metadata").set("annotations", wantedAnnotations.deepCopy());
        stored = cluster.update(deployments, update);
      }
      JsonNode wantedStatus = d.path("status");
      if (!wantedStatus.equals(stored.path("status"))) {
        ObjectNode update = stored.deepCopy();
        update.set("status", wantedStatus.deepCopy());
        stored = cluster.updateStatus(deployments, update);
      }
      d = stored.deepCopy();
    }

    JsonNode ownCondition(String type) {
      return condition(d.path("status"), type);
    }

    void setOwnCondition(String type, String value, String reason, String message) {
      setCondition(d.with("status"), type, value, reason, message);
    }

    void event(String message) {
      cluster.event(deployments, stored, "Normal", "ScalingReplicaSet", message, COMPONENT);
    }
  }

  // ---- helpers
  // -----------------------------------------------------------------------------------

  /** Oldest first, then by name ({@code ReplicaSetsByCreationTimestamp}). */
  static final Comparator<ObjectNode> BY_CREATION =
      Comparator.<ObjectNode, String>comparing(
              rs -> rs.path("metadata").path("creationTimestamp").asText(""))
          .thenComparing(rs -> rs.path("metadata").path("name").asText(""));

  static JsonNode condition(JsonNode status, String type) {
    for (JsonNode c : status.path("conditions")) {
      if (type.equals(c.path("type").asText())) {
        return c;
      }
    }
    return null;
  }

  static void removeCondition(ObjectNode status, String type) {
    JsonNode conditions = status.path("conditions");
    if (!conditions.isArray()) {
      return;
    }
    ArrayNode array = (ArrayNode) conditions;
    for (int i = array.size() - 1; i >= 0; i--) {
      if (type.equals(array.get(i).path("type").asText())) {
        array.remove(i);
      }
    }
  }

  /**
   * Upstream's {@code SetDeploymentCondition}: the same status and reason change nothing; a new one
   * goes last, keeping the transition time when only the reason changed.
   */
  static void setCondition(
      ObjectNode status, String type, String value, String reason, String message) {
    JsonNode current = condition(status, type);
    if (current != null
        && value.equals(current.path("status").asText())
        && reason.equals(current.path("reason").asText())) {
      return;
    }
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    ObjectNode c = Cluster.JSON.createObjectNode();
    c.put("type", type);
    c.put("status", value);
    c.put("lastUpdateTime", now);
    c.put(
        "lastTransitionTime",
        current != null && value.equals(current.path("status").asText())
            ? current.path("lastTransitionTime").asText(now)
            : now);
    c.put("reason", reason);
    c.put("message", message);
    removeCondition(status, type);
    status.withArray("conditions").add(c);
  }

  /** Replaces the content of a listed object with what was stored, so every list sees it. */
  private static void refresh(ObjectNode listed, ObjectNode stored) {
    listed.removeAll();
    listed.setAll(stored);
  }

  private static String name(JsonNode o) {
    return o.path("metadata").path("name").asText();
  }

  private static String uid(JsonNode o) {
    return o.path("metadata").path("uid").asText();
  }

  private static JsonNode annotations(JsonNode o) {
    JsonNode a = o.path("metadata").path("annotations");
    return a.isObject() ? a : Cluster.JSON.createObjectNode();
  }

  static long revision(JsonNode rs) {
    try {
      return Long.parseLong(annotations(rs).path(REVISION).asText("0"));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  static int specReplicas(JsonNode rs) {
    return rs.path("spec").path("replicas").asInt(1);
  }

  private static int sumSpec(List<ObjectNode> list) {
    return list.stream().mapToInt(DeploymentController::specReplicas).sum();
  }

  private static int sumStatus(List<ObjectNode> list, String field) {
    return list.stream().mapToInt(rs -> rs.path("status").path(field).asInt(0)).sum();
  }

  private static int sumAvailable(List<ObjectNode> list) {
    return sumStatus(list, "availableReplicas");
  }

  private static List<ObjectNode> active(List<ObjectNode> list) {
    List<ObjectNode> result = new ArrayList<>();
    for (ObjectNode rs : list) {
      if (rs != null && specReplicas(rs) > 0) {
        result.add(rs);
      }
    }
    return result;
  }

  /**
   * An int-or-percent of a total, as {@code GetScaledValueFromIntOrPercent}: percentages rounded up
   * or down as asked.
   */
  static int scaled(JsonNode value, int total, boolean roundUp, String missing) {
    String text =
        value.isMissingNode() || value.isNull()
            ? missing
            : value.isNumber() ? Integer.toString(value.asInt()) : value.asText();
    if (text.endsWith("%")) {
      int percent = Integer.parseInt(text.substring(0, text.length() - 1));
      double exact = percent * (double) total / 100;
      return (int) (roundUp ? Math.ceil(exact) : Math.floor(exact));
    }
    return Integer.parseInt(text);
  }

  /**
   * Templates equal once the {@code pod-template-hash} label is ignored ({@code EqualIgnoreHash}).
   */
  static boolean equalIgnoreHash(JsonNode a, JsonNode b) {
    return withoutHash(a).equals(withoutHash(b));
  }

  private static JsonNode withoutHash(JsonNode template) {
    if (!template.isObject()) {
      return template;
    }
    ObjectNode copy = template.deepCopy();
    JsonNode labels = copy.path("metadata").path("labels");
    if (labels.isObject()) {
      ((ObjectNode) labels).remove(HASH_LABEL);
      if (labels.isEmpty()) {
        ((ObjectNode) copy.get("metadata")).remove("labels");
      }
    }
    return copy;
  }

  /**
   * The pod-template-hash: FNV-1a 32 over the template (its JSON with keys sorted, where upstream
   * hashes a Go dump of the struct, so the values differ from a real cluster's) and the collision
   * count, encoded in upstream's safe alphabet.
   */
  static String computeHash(JsonNode template, Integer collisionCount) {
    byte[] bytes =
        StatefulSetController.Revisions.canonical(withoutHash(template))
            .toString()
            .getBytes(StandardCharsets.UTF_8);
    int hash = 0x811c9dc5;
    for (byte b : bytes) {
      hash ^= (b & 0xff);
      hash *= 0x01000193;
    }
    if (collisionCount != null) {
      // Eight bytes, the count little-endian in the first four, as upstream writes them.
      byte[] count = new byte[8];
      for (int i = 0; i < 4; i++) {
        count[i] = (byte) (collisionCount >>> (8 * i));
      }
      for (byte b : count) {
        hash ^= (b & 0xff);
        hash *= 0x01000193;
      }
    }
    String decimal = Long.toString(Integer.toUnsignedLong(hash));
    StringBuilder encoded = new StringBuilder();
    for (char c : decimal.toCharArray()) {
      encoded.append(SAFE_ALPHABET.charAt(c % SAFE_ALPHABET.length()));
    }
    return encoded.toString();
  }
}
