package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/**
 * A pod's status as the kubelet reports it, rendered from what the node knows ({@link PodState}):
 * phase, conditions, addresses and container statuses with their states, restarts and readiness. A
 * pure function of its inputs, so both kinds of nodes report alike.
 */
final class PodStatuses {
  private PodStatuses() {}

  static ObjectNode render(
      JsonNode pod,
      PodState state,
      Kubelet.Behaviour behaviour,
      String hostIp,
      Duration currentBackoff) {
    ObjectNode status = Cluster.JSON.createObjectNode();
    boolean jobPod = Kubelet.isJobPod(pod);
    boolean done = jobPod && state.finished;
    boolean ready = state.ready();
    String phase;
    if (done) {
      phase = state.failed ? "Failed" : "Succeeded";
    } else if (ready || state.restarts > 0) {
      phase = "Running";
    } else {
      phase = "Pending";
    }
    status.put("phase", phase);
    ArrayNode conditions = status.putArray("conditions");
    condition(conditions, "PodReadyToStartContainers", true, state.boundAt, null, null);
    condition(conditions, "Initialized", true, state.boundAt, null, null);
    if (done) {
      condition(conditions, "Ready", false, state.lastExit, "PodCompleted", null);
      condition(conditions, "ContainersReady", false, state.lastExit, "PodCompleted", null);
    } else {
      Instant since = ready ? state.readySince : state.boundAt;
      String reason = ready ? null : "ContainersNotReady";
      String message =
          ready
              ? null
              : "containers with unready status: [" + String.join(" ", containerNames(pod)) + "]";
      condition(conditions, "Ready", ready, since, reason, message);
      condition(conditions, "ContainersReady", ready, since, reason, message);
    }
    condition(conditions, "PodScheduled", true, state.boundAt, null, null);
    status.put("hostIP", hostIp);
    status.putArray("hostIPs").addObject().put("ip", hostIp);
    status.put("podIP", state.podIp);
    status.putArray("podIPs").addObject().put("ip", state.podIp);
    status.put("startTime", timestamp(state.boundAt));
    // A real API server sets qosClass when it creates the pod; keep what it decided.
    String qos = pod.path("status").path("qosClass").asText("");
    status.put(
        "qosClass",
        !qos.isEmpty() ? qos : Quantities.podCpuMillis(pod) > 0 ? "Burstable" : "BestEffort");
    ArrayNode containers = status.putArray("containerStatuses");
    String uid = pod.path("metadata").path("uid").asText();
    for (JsonNode c : pod.path("spec").path("containers")) {
      ObjectNode cs = containers.addObject();
      String name = c.path("name").asText();
      String image = c.path("image").asText();
      cs.put("name", name);
      cs.put("image", image);
      cs.put("imageID", behaviour.pullError() ? "" : "kubesim://" + image);
      cs.put("restartCount", state.restarts);
      cs.put("ready", ready && !done);
      cs.put("started", ready);
      ObjectNode st = cs.putObject("state");
      if (done) {
        ObjectNode terminated = st.putObject("terminated");
        terminated.put("exitCode", state.failed ? 1 : 0);
        terminated.put("reason", state.failed ? "Error" : "Completed");
        terminated.put("startedAt", timestamp(state.boundAt));
        terminated.put("finishedAt", timestamp(state.lastExit));
        cs.put("containerID", "kubesim://" + uid + "/" + name);
      } else if (ready) {
        st.putObject("running").put("startedAt", timestamp(state.readySince));
        cs.put("containerID", "kubesim://" + uid + "/" + name);
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
                + currentBackoff.toSeconds()
                + "s restarting failed container="
                + name
                + " pod="
                + pod.path("metadata").path("name").asText()
                + "_"
                + pod.path("metadata").path("namespace").asText()
                + "("
                + uid
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

  static List<String> containerNames(JsonNode pod) {
    List<String> names = new ArrayList<>();
    pod.path("spec").path("containers").forEach(c -> names.add(c.path("name").asText()));
    return names;
  }

  private static void condition(
      ArrayNode conditions,
      String type,
      boolean value,
      Instant since,
      String reason,
      String message) {
    ObjectNode condition = conditions.addObject();
    condition.put("type", type);
    condition.put("status", value ? "True" : "False");
    condition.put("lastTransitionTime", timestamp(since));
    if (reason != null) {
      condition.put("reason", reason);
    }
    if (message != null) {
      condition.put("message", message);
    }
  }

  static String timestamp(Instant instant) {
    return instant.truncatedTo(ChronoUnit.SECONDS).toString();
  }
}
