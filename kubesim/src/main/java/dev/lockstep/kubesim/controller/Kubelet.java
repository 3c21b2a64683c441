package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.PodRuntime;
import dev.lockstep.kubesim.api.ResourceType;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The kubelet of every node kubesim plays: runs the pods bound to them. Their containers start
 * Pending, then become Running and Ready after the start-up time, or crash-loop, fail to pull, or
 * exit (Job pods) as the image's behaviour says; a pod being deleted is stopped and its deletion
 * finished. Keeps each container's log and answers for each pod's ports.
 *
 * <p>The same logic serves kubesim's own cluster and a real control plane: what differs is only the
 * API server it talks to ({@link KubeletApi}) and whether pods' ports really listen ({@link
 * PodNetwork}).
 */
public final class Kubelet implements Controller, PodRuntime {

  /** What a pod does, as the kubelet emulation needs to know it. */
  public record Behaviour(
      boolean crashes,
      boolean flaky,
      double failureRate,
      boolean pullError,
      boolean unhealthy,
      Duration startup) {}

  private final KubeletApi api;
  private final PodNetwork network;
  private final Function<String, Behaviour> behaviours;
  private final Supplier<Duration> crashBackoffBase;
  private final Random random = new Random(7);
  private final ResourceType pods = Cluster.type("", "pods");
  private final Map<String, PodState> states = new ConcurrentHashMap<>();

  /**
   * @param api the API server the pods are read from and their status written to
   * @param network pod and node addresses, and where Ready pods' ports listen
   * @param behaviours an image's behaviour
   * @param crashBackoffBase the first CrashLoopBackOff delay (it doubles, capped at 30 times)
   */
  public Kubelet(
      KubeletApi api,
      PodNetwork network,
      Function<String, Behaviour> behaviours,
      Supplier<Duration> crashBackoffBase) {
    this.api = api;
    this.network = network;
    this.behaviours = behaviours;
    this.crashBackoffBase = crashBackoffBase;
  }

  @Override
  public String name() {
    return "kubelet";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (!type.equals(pods)) {
      return List.of();
    }
    if (deleted) {
      forget(object.path("metadata").path("uid").asText());
      return List.of();
    }
    return List.of(Key.of(object));
  }

  @Override
  public List<Key> resyncKeys() {
    List<Key> keys = new ArrayList<>();
    api.forEachPod(
        pod -> {
          if (!terminal(pod) || pod.path("metadata").has("deletionTimestamp")) {
            keys.add(Key.of(pod));
          }
        });
    return keys;
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    ObjectNode pod = api.pod(key.namespace(), key.name()).orElse(null);
    if (pod == null) {
      return;
    }
    String nodeName = pod.path("spec").path("nodeName").asText("");
    if (nodeName.isEmpty() || !api.runsNode(nodeName)) {
      return;
    }
    if (pod.path("metadata").has("deletionTimestamp")) {
      terminate(pod);
      return;
    }
    if (terminal(pod)) {
      network.stopServing(uid(pod));
      return;
    }
    run(pod, requeue);
  }

  /** Forgets a pod that is gone, freeing its address. */
  private void forget(String uid) {
    states.remove(uid);
    network.release(uid);
  }

  private static boolean terminal(JsonNode pod) {
    String phase = pod.path("status").path("phase").asText("");
    return phase.equals("Succeeded") || phase.equals("Failed");
  }

  static boolean isJobPod(JsonNode pod) {
    return !pod.path("spec").path("restartPolicy").asText("Always").equals("Always");
  }

  private static String uid(JsonNode pod) {
    return pod.path("metadata").path("uid").asText();
  }

  /**
   * A bound pod with a deletionTimestamp: its containers stop at once (they honour SIGTERM), and
   * the kubelet finishes the deletion with grace period 0, as the API server waits for it to.
   */
  private void terminate(ObjectNode pod) {
    network.stopServing(uid(pod));
    PodState state = states.get(uid(pod));
    if (state != null && state.deletionFinished) {
      return;
    }
    api.finishDeletion(pod);
    if (state != null) {
      state.deletionFinished = true;
    }
  }

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

  private void run(ObjectNode pod, Requeue requeue) {
    String uid = uid(pod);
    Instant now = Instant.now();
    PodState state =
        states.computeIfAbsent(
            uid,
            u -> {
              PodState s =
                  new PodState(now, now.plus(behaviourOf(pod).startup()), network.assignPodIp(pod));
              for (JsonNode c : pod.path("spec").path("containers")) {
                s.log.add(
                    line(
                        now,
                        c.path("name").asText(),
                        "starting image " + c.path("image").asText()));
              }
              return s;
            });
    playDueAttempts(pod, state, now);
    if (state.ready() && !state.finished) {
      network.serve(pod, (port, method, path) -> proxy(pod, port, method, path));
    } else {
      network.stopServing(uid);
    }
    ObjectNode status =
        PodStatuses.render(
            pod,
            state,
            behaviourOf(pod),
            network.hostIp(pod.path("spec").path("nodeName").asText()),
            backoff(state.restarts));
    if (!status.equals(state.lastWritten)) {
      api.writeStatus(pod, status);
      state.lastWritten = status;
      if (state.restarts > 0 && !state.ready() && !isJobPod(pod)) {
        api.event(
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
                + ")");
      }
    }
    if (!state.ready() && !state.finished) {
      requeue.after(Duration.between(now, state.nextAttempt).plusMillis(1));
    }
  }

  /** Plays every start attempt that is due, in order, so that a late look gives the same story. */
  private void playDueAttempts(JsonNode pod, PodState state, Instant now) {
    boolean jobPod = isJobPod(pod);
    while (!state.ready() && !state.finished && !state.nextAttempt.isAfter(now)) {
      Instant attempt = state.nextAttempt;
      Behaviour current = behaviourOf(pod);
      if (current.pullError()) {
        state.nextAttempt = attempt.plus(backoff(1));
        state.lastExit = null;
        return;
      }
      boolean crash =
          current.crashes() || (current.flaky() && random.nextDouble() < current.failureRate());
      if (jobPod) {
        state.finished = true;
        state.failed = crash;
        state.lastExit = attempt;
        log(pod, state, attempt, crash ? "exited with code 1" : "completed successfully");
        return;
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
  }

  private Duration backoff(int restarts) {
    // CrashLoopBackOff doubles from its base (10s in Kubernetes, the pod start-up time here),
    // capped at 30 times the base (300s in Kubernetes).
    Duration base = crashBackoffBase.get();
    long factor = 1L << Math.min(Math.max(restarts - 1, 0), 5);
    Duration delay = base.multipliedBy(Math.min(factor, 30));
    return delay.isZero() ? Duration.ofMillis(10) : delay;
  }

  private static void log(JsonNode pod, PodState state, Instant at, String message) {
    for (JsonNode c : pod.path("spec").path("containers")) {
      state.log.add(line(at, c.path("name").asText(), message));
    }
  }

  private static String line(Instant at, String container, String message) {
    return at.truncatedTo(ChronoUnit.MILLIS) + " [kubesim] " + container + ": " + message;
  }

  // ---- what the API server asks a node ------------------------------------------------------

  @Override
  public String log(ObjectNode pod, String container, int tailLines) {
    List<String> lines = logLines(pod, container);
    if (tailLines >= 0 && lines.size() > tailLines) {
      lines = lines.subList(lines.size() - tailLines, lines.size());
    }
    return lines.isEmpty() ? "" : String.join("\n", lines) + "\n";
  }

  /**
   * Every line {@code container} of {@code pod} wrote, oldest first, each starting with its time
   * (ISO-8601, UTC) and a space: the log that pods/log and a hollow node's kubelet API serve.
   */
  public List<String> logLines(ObjectNode pod, String container) {
    PodState state = states.get(uid(pod));
    if (state == null) {
      return List.of();
    }
    synchronized (state.log) {
      return state.log.stream().filter(l -> l.contains(" [kubesim] " + container + ": ")).toList();
    }
  }

  @Override
  public ProxyAnswer proxy(ObjectNode pod, int port, String method, String path) {
    PodState state = states.get(uid(pod));
    if (state == null || !state.ready()) {
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
