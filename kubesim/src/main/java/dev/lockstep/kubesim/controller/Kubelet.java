package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.PodRuntime;
import dev.lockstep.kubesim.api.ResourceType;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The scheduler and the kubelets of every simulated node. A new pod is bound to a node whose
 * allocatable CPU and memory still fit its requests (or stays Pending with a FailedScheduling
 * event); then its containers start: Pending, then Running and Ready after the start-up time, or
 * crash-looping, failing to pull, or exiting (Job pods) as the image's behaviour says. Keeps each
 * container's log and answers the API server's pod proxy.
 */
public final class Kubelet implements Controller, PodRuntime {
  private static final String COMPONENT = "kubelet";

  /** What a pod does, as the kubelet emulation needs to know it. */
  public record Behaviour(
      boolean crashes,
      boolean flaky,
      double failureRate,
      boolean pullError,
      boolean unhealthy,
      Duration startup) {}

  private final Cluster cluster;
  private final Function<String, Behaviour> behaviours;
  private final Supplier<Duration> crashBackoffBase;
  private final Random random = new Random(7);
  private final ResourceType pods = Cluster.type("", "pods");
  private final ResourceType nodes = Cluster.type("", "nodes");
  private final Map<String, PodState> states = new ConcurrentHashMap<>();

  /** Per pod uid: what only the node knows. */
  private static final class PodState {
    Instant boundAt;
    Instant nextAttempt;
    Instant readySince;
    Instant lastExit;
    int restarts;
    boolean finished;
    boolean failed;
    String podIp;
    final List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
  }

  public Kubelet(
      Cluster cluster,
      Function<String, Behaviour> behaviours,
      Supplier<Duration> crashBackoffBase) {
    this.cluster = cluster;
    this.behaviours = behaviours;
    this.crashBackoffBase = crashBackoffBase;
  }

  @Override
  public String name() {
    return "kubelet";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (type.equals(pods)) {
      if (deleted) {
        states.remove(object.path("metadata").path("uid").asText());
        return List.of();
      }
      return List.of(Key.of(object));
    }
    return List.of();
  }

  @Override
  public List<Key> resyncKeys() {
    List<Key> keys = new ArrayList<>();
    cluster.forEach(
        pods,
        null,
        pod -> {
          String phase = pod.path("status").path("phase").asText("");
          if (!phase.equals("Succeeded") && !phase.equals("Failed")) {
            keys.add(Key.of(pod));
          }
        });
    return keys;
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    ObjectNode pod = cluster.get(pods, key.namespace(), key.name()).orElse(null);
    if (pod == null) {
      return;
    }
    String phase = pod.path("status").path("phase").asText("");
    if (phase.equals("Succeeded") || phase.equals("Failed")) {
      return;
    }
    if (pod.path("spec").path("nodeName").asText("").isEmpty()) {
      schedule(pod, requeue);
      return;
    }
    run(pod, requeue);
  }

  // ---- scheduler ---------------------------------------------------------------------------

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
      scheduled.put("lastTransitionTime", timestamp(Instant.now()));
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
    run(stored, requeue);
  }

  // ---- kubelet -----------------------------------------------------------------------------

  private Behaviour behaviourOf(JsonNode pod) {
    Behaviour worst = null;
    for (JsonNode container : pod.path("spec").path("containers")) {
      Behaviour b = behaviours.apply(container.path("image").asText());
      if (worst == null
          || rank(b) > rank(worst)
          || (rank(b) == rank(worst) && b.startup().compareTo(worst.startup()) > 0)) {
        worst = b;
      }
    }
    return worst == null ? behaviours.apply("") : worst;
  }

  private static int rank(Behaviour b) {
    if (b.pullError()) {
      return 4;
    }
    if (b.crashes()) {
      return 3;
    }
    if (b.flaky()) {
      return 2;
    }
    return b.unhealthy() ? 1 : 0;
  }

  private static boolean isJobPod(JsonNode pod) {
    String restart = pod.path("spec").path("restartPolicy").asText("Always");
    return !restart.equals("Always");
  }

  private void run(ObjectNode pod, Requeue requeue) {
    String uid = pod.path("metadata").path("uid").asText();
    Instant now = Instant.now();
    Behaviour behaviour = behaviourOf(pod);
    PodState state =
        states.computeIfAbsent(
            uid,
            u -> {
              PodState s = new PodState();
              s.boundAt = now;
              s.nextAttempt = now.plus(behaviour.startup());
              s.podIp = podIp(pod);
              for (JsonNode c : pod.path("spec").path("containers")) {
                s.log.add(
                    line(
                        now,
                        c.path("name").asText(),
                        "starting image " + c.path("image").asText()));
              }
              return s;
            });
    boolean jobPod = isJobPod(pod);
    // Play every start attempt that is due, in order, so that a late look gives the same story.
    while (state.readySince == null && !state.finished && !state.nextAttempt.isAfter(now)) {
      Instant attempt = state.nextAttempt;
      Behaviour current = behaviourOf(pod);
      if (current.pullError()) {
        state.nextAttempt = attempt.plus(backoff(1));
        state.lastExit = null;
        break;
      }
      boolean crash =
          current.crashes() || (current.flaky() && random.nextDouble() < current.failureRate());
      if (jobPod) {
        state.finished = true;
        state.failed = crash;
        state.lastExit = attempt;
        log(pod, state, attempt, crash ? "exited with code 1" : "completed successfully");
        break;
      }
      if (crash) {
        state.restarts++;
        state.lastExit = attempt;
        log(pod, state, attempt, "exited with code 1 (kubesim: this image is set to crash)");
        state.nextAttempt = attempt.plus(backoff(state.restarts));
      } else {
        state.readySince = attempt;
        log(pod, state, attempt, "ready");
      }
    }
    ObjectNode status = desiredStatus(pod, state, behaviourOf(pod), jobPod);
    if (!status.equals(pod.path("status"))) {
      ObjectNode updated = pod.deepCopy();
      updated.set("status", status);
      cluster.updateStatus(pods, updated);
      if (state.restarts > 0 && state.readySince == null && !jobPod) {
        cluster.event(
            pods,
            pod,
            "Warning",
            "BackOff",
            "Back-off restarting failed container "
                + pod.path("spec").path("containers").path(0).path("name").asText()
                + " in pod "
                + pod.path("metadata").path("name").asText()
                + "_"
                + pod.path("metadata").path("namespace").asText()
                + "("
                + uid
                + ")",
            COMPONENT);
      }
    }
    if (state.readySince == null && !state.finished) {
      requeue.after(Duration.between(now, state.nextAttempt).plusMillis(1));
    }
  }

  private Duration backoff(int restarts) {
    // CrashLoopBackOff doubles from its base (10s in Kubernetes, the pod start-up time here),
    // capped at 30 times the base (300s in Kubernetes).
    Duration base = crashBackoffBase.get();
    long factor = 1L << Math.min(Math.max(restarts - 1, 0), 5);
    Duration delay = base.multipliedBy(Math.min(factor, 30));
    return delay.isZero() ? Duration.ofMillis(10) : delay;
  }

  private void log(ObjectNode pod, PodState state, Instant at, String message) {
    for (JsonNode c : pod.path("spec").path("containers")) {
      state.log.add(line(at, c.path("name").asText(), message));
    }
  }

  private static String line(Instant at, String container, String message) {
    return at.truncatedTo(ChronoUnit.MILLIS) + " [kubesim] " + container + ": " + message;
  }

  private ObjectNode desiredStatus(
      ObjectNode pod, PodState state, Behaviour behaviour, boolean jobPod) {
    ObjectNode status = Cluster.JSON.createObjectNode();
    String nodeName = pod.path("spec").path("nodeName").asText();
    boolean ready = state.readySince != null;
    String phase;
    if (jobPod && state.finished) {
      phase = state.failed ? "Failed" : "Succeeded";
    } else if (ready || state.restarts > 0) {
      phase = "Running";
    } else {
      phase = "Pending";
    }
    status.put("phase", phase);
    ArrayNode conditions = status.putArray("conditions");
    condition(conditions, "PodReadyToStartContainers", true, state.boundAt, null);
    condition(conditions, "Initialized", true, state.boundAt, null);
    String notReady =
        "containers with unready status: [" + String.join(" ", containerNames(pod)) + "]";
    Instant readyChange = ready ? state.readySince : state.boundAt;
    if (jobPod && state.finished) {
      condition(conditions, "Ready", false, state.lastExit, "PodCompleted");
      condition(conditions, "ContainersReady", false, state.lastExit, "PodCompleted");
    } else {
      condition(conditions, "Ready", ready, readyChange, ready ? null : "ContainersNotReady");
      condition(
          conditions, "ContainersReady", ready, readyChange, ready ? null : "ContainersNotReady");
      if (!ready) {
        ((ObjectNode) conditions.get(2)).put("message", notReady);
        ((ObjectNode) conditions.get(3)).put("message", notReady);
      }
    }
    condition(conditions, "PodScheduled", true, state.boundAt, null);
    status.put("hostIP", nodeIp(nodeName));
    status.putArray("hostIPs").addObject().put("ip", nodeIp(nodeName));
    status.put("podIP", state.podIp);
    status.putArray("podIPs").addObject().put("ip", state.podIp);
    status.put("startTime", timestamp(state.boundAt));
    status.put("qosClass", Quantities.podCpuMillis(pod) > 0 ? "Burstable" : "BestEffort");
    ArrayNode containers = status.putArray("containerStatuses");
    for (JsonNode c : pod.path("spec").path("containers")) {
      ObjectNode cs = containers.addObject();
      String name = c.path("name").asText();
      String image = c.path("image").asText();
      cs.put("name", name);
      cs.put("image", image);
      cs.put("imageID", behaviour.pullError() ? "" : "kubesim://" + image);
      cs.put("restartCount", state.restarts);
      cs.put("ready", ready && !(jobPod && state.finished));
      cs.put("started", ready);
      ObjectNode st = cs.putObject("state");
      if (jobPod && state.finished) {
        ObjectNode terminated = st.putObject("terminated");
        terminated.put("exitCode", state.failed ? 1 : 0);
        terminated.put("reason", state.failed ? "Error" : "Completed");
        terminated.put("startedAt", timestamp(state.boundAt));
        terminated.put("finishedAt", timestamp(state.lastExit));
        cs.put(
            "containerID", "kubesim://" + pod.path("metadata").path("uid").asText() + "/" + name);
      } else if (ready) {
        st.putObject("running").put("startedAt", timestamp(state.readySince));
        cs.put(
            "containerID", "kubesim://" + pod.path("metadata").path("uid").asText() + "/" + name);
      } else if (behaviour.pullError()) {
        ObjectNode waiting = st.putObject("waiting");
        waiting.put(
            "reason",
            state.nextAttempt.isAfter(state.boundAt.plus(behaviour.startup()))
                ? "ImagePullBackOff"
                : "ErrImagePull");
        waiting.put("message", "Back-off pulling image \"" + image + "\"");
      } else if (state.restarts > 0) {
        ObjectNode waiting = st.putObject("waiting");
        waiting.put("reason", "CrashLoopBackOff");
        waiting.put(
            "message",
            "back-off "
                + backoff(state.restarts).toSeconds()
                + "s restarting failed container="
                + name
                + " pod="
                + pod.path("metadata").path("name").asText()
                + "_"
                + pod.path("metadata").path("namespace").asText()
                + "("
                + pod.path("metadata").path("uid").asText()
                + ")");
        ObjectNode last = cs.putObject("lastState").putObject("terminated");
        last.put("exitCode", 1);
        last.put("reason", "Error");
        last.put("finishedAt", timestamp(state.lastExit));
      } else {
        st.putObject("waiting").put("reason", "ContainerCreating");
      }
    }
    return status;
  }

  private static List<String> containerNames(JsonNode pod) {
    List<String> names = new ArrayList<>();
    pod.path("spec").path("containers").forEach(c -> names.add(c.path("name").asText()));
    return names;
  }

  private static void condition(
      ArrayNode conditions, String type, boolean value, Instant since, String reason) {
    ObjectNode condition = conditions.addObject();
    condition.put("type", type);
    condition.put("status", value ? "True" : "False");
    condition.put("lastTransitionTime", timestamp(since));
    if (reason != null) {
      condition.put("reason", reason);
    }
  }

  private static String timestamp(Instant instant) {
    return instant.truncatedTo(ChronoUnit.SECONDS).toString();
  }

  private static String nodeIp(String nodeName) {
    int n = Math.abs(nodeName.hashCode() % 250) + 1;
    return "10.0.0." + n;
  }

  private final java.util.concurrent.atomic.AtomicInteger nextIp =
      new java.util.concurrent.atomic.AtomicInteger();

  private String podIp(JsonNode pod) {
    int n = nextIp.incrementAndGet();
    return "10.244." + ((n / 250) % 250) + "." + (n % 250 + 1);
  }

  // ---- what the API server asks a node ------------------------------------------------------

  @Override
  public String log(ObjectNode pod, String container, int tailLines) {
    PodState state = states.get(pod.path("metadata").path("uid").asText());
    if (state == null) {
      return "";
    }
    List<String> lines;
    synchronized (state.log) {
      lines = state.log.stream().filter(l -> l.contains(" [kubesim] " + container + ": ")).toList();
    }
    if (tailLines >= 0 && lines.size() > tailLines) {
      lines = lines.subList(lines.size() - tailLines, lines.size());
    }
    return lines.isEmpty() ? "" : String.join("\n", lines) + "\n";
  }

  @Override
  public ProxyAnswer proxy(ObjectNode pod, int port, String method, String path) {
    PodState state = states.get(pod.path("metadata").path("uid").asText());
    if (state == null || state.readySince == null) {
      return new ProxyAnswer(
          503,
          "text/plain",
          "Error trying to reach service: dial tcp "
              + (state == null ? "" : state.podIp)
              + ":"
              + port
              + ": connect: connection refused");
    }
    if (behaviourOf(pod).unhealthy()) {
      return new ProxyAnswer(503, "text/plain", "unhealthy\n");
    }
    return new ProxyAnswer(200, "text/plain", "ok\n");
  }
}
