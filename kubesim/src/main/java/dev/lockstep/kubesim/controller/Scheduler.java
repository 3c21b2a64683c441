package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ResourceType;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * kubesim's scheduler: binds a new pod to the node whose allocatable CPU and memory still fit its
 * requests, preferring the one with the most free CPU; otherwise the pod stays Pending with {@code
 * PodScheduled=False/Unschedulable} and a FailedScheduling event, and is tried again. Only in
 * kubesim's own cluster: against a real control plane, kube-scheduler binds the pods that hollow
 * nodes run.
 */
public final class Scheduler implements Controller {
  private final Cluster cluster;
  private final ResourceType pods = Cluster.type("", "pods");
  private final ResourceType nodes = Cluster.type("", "nodes");

  public Scheduler(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public String name() {
    return "scheduler";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    return type.equals(pods) && !deleted && unscheduled(object)
        ? List.of(Key.of(object))
        : List.of();
  }

  @Override
  public List<Key> resyncKeys() {
    List<Key> keys = new ArrayList<>();
    cluster.forEach(
        pods,
        null,
        pod -> {
          if (unscheduled(pod)) {
            keys.add(Key.of(pod));
          }
        });
    return keys;
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    cluster
        .get(pods, key.namespace(), key.name())
        .filter(Scheduler::unscheduled)
        .ifPresent(pod -> schedule(pod, requeue));
  }

  private static boolean unscheduled(JsonNode pod) {
    String phase = pod.path("status").path("phase").asText("");
    return pod.path("spec").path("nodeName").asText("").isEmpty()
        && !pod.path("metadata").has("deletionTimestamp")
        && !phase.equals("Succeeded")
        && !phase.equals("Failed");
  }

  private void schedule(ObjectNode pod, Requeue requeue) {
    long cpu = Quantities.podCpuMillis(pod);
    long memory = Quantities.podMemoryBytes(pod);
    List<ObjectNode> allNodes = cluster.list(nodes, null);
    allNodes.sort(Comparator.comparing(n -> n.path("metadata").path("name").asText()));
    // What every node has committed: one walk over the pods, not one per node.
    Map<String, long[]> used = new HashMap<>();
    cluster.forEach(
        pods,
        null,
        other -> {
          String otherPhase = other.path("status").path("phase").asText("");
          String otherNode = other.path("spec").path("nodeName").asText("");
          if (!otherNode.isEmpty()
              && !otherPhase.equals("Succeeded")
              && !otherPhase.equals("Failed")) {
            long[] sum = used.computeIfAbsent(otherNode, n -> new long[2]);
            sum[0] += Quantities.podCpuMillis(other);
            sum[1] += Quantities.podMemoryBytes(other);
          }
        });
    ObjectNode chosen = null;
    long bestFree = -1;
    int noCpu = 0;
    int noMemory = 0;
    int unschedulable = 0;
    for (ObjectNode node : allNodes) {
      if (node.path("spec").path("unschedulable").asBoolean(false)) {
        unschedulable++;
        continue;
      }
      String nodeName = node.path("metadata").path("name").asText();
      long[] committed = used.getOrDefault(nodeName, new long[2]);
      long usedCpu = committed[0];
      long usedMemory = committed[1];
      JsonNode allocatable = node.path("status").path("allocatable");
      long freeCpu = Quantities.cpuMillis(allocatable.path("cpu").asText("0")) - usedCpu;
      long freeMemory = Quantities.bytes(allocatable.path("memory").asText("0")) - usedMemory;
      boolean cpuFits = freeCpu >= cpu;
      boolean memoryFits = freeMemory >= memory;
      if (!cpuFits) {
        noCpu++;
      }
      if (!memoryFits) {
        noMemory++;
      }
      // Spread: prefer the node with the most free CPU, like the default scoring tends to.
      if (cpuFits && memoryFits && freeCpu > bestFree) {
        chosen = node;
        bestFree = freeCpu;
      }
    }
    if (chosen == null) {
      List<String> reasons = new ArrayList<>();
      if (noCpu > 0) {
        reasons.add(noCpu + " Insufficient cpu");
      }
      if (noMemory > 0) {
        reasons.add(noMemory + " Insufficient memory");
      }
      if (unschedulable > 0) {
        reasons.add(unschedulable + " node(s) were unschedulable");
      }
      String message =
          "0/" + allNodes.size() + " nodes are available: " + String.join(", ", reasons) + ".";
      ObjectNode status = pod.path("status").deepCopy();
      status.put("phase", "Pending");
      ArrayNode conditions = Cluster.JSON.createArrayNode();
      ObjectNode scheduled = conditions.addObject();
      scheduled.put("type", "PodScheduled");
      scheduled.put("status", "False");
      scheduled.put("reason", "Unschedulable");
      scheduled.put("message", message);
      scheduled.put("lastTransitionTime", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
      boolean alreadySaid = false;
      for (JsonNode c : pod.path("status").path("conditions")) {
        if ("PodScheduled".equals(c.path("type").asText())
            && message.equals(c.path("message").asText())) {
          alreadySaid = true;
        }
      }
      if (!alreadySaid) {
        status.set("conditions", conditions);
        ObjectNode updated = pod.deepCopy();
        updated.set("status", status);
        cluster.updateStatus(pods, updated);
        cluster.event(pods, pod, "Warning", "FailedScheduling", message, "default-scheduler");
      }
      // A pod that does not fit waits for room: look again later (deletions also resync).
      requeue.after(Duration.ofSeconds(2));
      return;
    }
    String nodeName = chosen.path("metadata").path("name").asText();
    ObjectNode bound = pod.deepCopy();
    bound.with("spec").put("nodeName", nodeName);
    ObjectNode stored = cluster.update(pods, bound);
    cluster.event(
        pods,
        stored,
        "Normal",
        "Scheduled",
        "Successfully assigned "
            + pod.path("metadata").path("namespace").asText()
            + "/"
            + pod.path("metadata").path("name").asText()
            + " to "
            + nodeName,
        "default-scheduler");
  }
}
