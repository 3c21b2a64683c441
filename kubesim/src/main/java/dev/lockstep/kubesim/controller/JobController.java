package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ResourceType;
import dev.lockstep.kubesim.api.Selectors;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/**
 * The Job controller: creates the Job's pods, counts them, and sets the conditions as Kubernetes
 * 1.31+ does ({@code SuccessCriteriaMet} then {@code Complete}; {@code FailureTarget} then {@code
 * Failed} with reason {@code BackoffLimitExceeded} or {@code DeadlineExceeded}).
 */
public final class JobController implements Controller {
  private static final String COMPONENT = "job-controller";

  private final Cluster cluster;
  private final ResourceType jobs = Cluster.type("batch", "jobs");
  private final ResourceType pods = Cluster.type("", "pods");

  public JobController(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public String name() {
    return "job";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (type.equals(jobs)) {
      return deleted ? List.of() : List.of(Key.of(object));
    }
    if (type.equals(pods)) {
      return Cluster.controllerOfKind(object, "Job");
    }
    return List.of();
  }

  @Override
  public List<Key> resyncKeys() {
    return cluster.list(jobs, null).stream().filter(j -> !finished(j)).map(Key::of).toList();
  }

  private static boolean finished(JsonNode job) {
    for (JsonNode c : job.path("status").path("conditions")) {
      String type = c.path("type").asText();
      if ((type.equals("Complete") || type.equals("Failed"))
          && "True".equals(c.path("status").asText())) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void reconcile(Key key, Requeue requeue) {
    ObjectNode job = cluster.get(jobs, key.namespace(), key.name()).orElse(null);
    if (job == null || finished(job) || job.path("metadata").has("deletionTimestamp")) {
      return;
    }
    String uid = job.path("metadata").path("uid").asText();
    JsonNode spec = job.path("spec");
    List<ObjectNode> owned = new ArrayList<>();
    for (ObjectNode pod : cluster.owned(pods, key.namespace(), uid)) {
      if (Selectors.matches(spec.path("selector"), Cluster.labels(pod))) {
        owned.add(pod);
      }
    }
    int succeeded = 0;
    int failed = 0;
    int ready = 0;
    List<ObjectNode> active = new ArrayList<>();
    for (ObjectNode pod : owned) {
      String phase = pod.path("status").path("phase").asText("");
      if (phase.equals("Succeeded")) {
        succeeded++;
      } else if (phase.equals("Failed")) {
        failed++;
      } else if (!pod.path("metadata").has("deletionTimestamp")) {
        active.add(pod);
        if (StatefulSetController.runningAndReady(pod)) {
          ready++;
        }
      }
    }
    int completions = spec.path("completions").asInt(1);
    int parallelism = spec.path("parallelism").asInt(1);
    int backoffLimit = spec.path("backoffLimit").asInt(6);
    Instant now = Instant.now();
    ObjectNode status =
        job.path("status").isObject()
            ? (ObjectNode) job.get("status").deepCopy()
            : Cluster.JSON.createObjectNode();
    if (!status.has("startTime")) {
      status.put("startTime", timestamp(now));
    }
    Instant started = Instant.parse(status.path("startTime").asText());
    String failReason = null;
    String failMessage = null;
    if (failed > backoffLimit) {
      failReason = "BackoffLimitExceeded";
      failMessage = "Job has reached the specified backoff limit";
    } else if (spec.has("activeDeadlineSeconds")
        && !started.plusSeconds(spec.path("activeDeadlineSeconds").asLong()).isAfter(now)) {
      failReason = "DeadlineExceeded";
      failMessage = "Job was active longer than specified deadline";
    }
    if (failReason != null) {
      for (ObjectNode pod : active) {
        cluster.delete(pods, key.namespace(), pod.path("metadata").path("name").asText());
      }
      active.clear();
      ArrayNode conditions = status.putArray("conditions");
      condition(conditions, "FailureTarget", failReason, failMessage, now);
      condition(conditions, "Failed", failReason, failMessage, now);
      cluster.event(jobs, job, "Warning", failReason, failMessage, COMPONENT);
    } else if (succeeded >= completions) {
      ArrayNode conditions = status.putArray("conditions");
      condition(
          conditions,
          "SuccessCriteriaMet",
          "CompletionsReached",
          "Reached expected number of succeeded pods",
          now);
      condition(
          conditions,
          "Complete",
          "CompletionsReached",
          "Reached expected number of succeeded pods",
          now);
      status.put("completionTime", timestamp(now));
      cluster.event(jobs, job, "Normal", "Completed", "Job completed", COMPONENT);
    } else {
      int wanted = Math.min(parallelism, completions - succeeded) - active.size();
      for (int i = 0; i < wanted; i++) {
        active.add(createPod(job));
      }
      if (spec.has("activeDeadlineSeconds")) {
        requeue.after(
            Duration.between(now, started.plusSeconds(spec.path("activeDeadlineSeconds").asLong()))
                .plusMillis(10));
      }
    }
    status.put("active", active.size());
    status.put("succeeded", succeeded);
    status.put("failed", failed);
    status.put("ready", ready);
    status.put("terminating", 0);
    status.putObject("uncountedTerminatedPods");
    if (!status.equals(job.path("status"))) {
      ObjectNode updated = job.deepCopy();
      updated.set("status", status);
      cluster.updateStatus(jobs, updated);
    }
  }

  private ObjectNode createPod(ObjectNode job) {
    JsonNode template = job.path("spec").path("template");
    ObjectNode pod = Cluster.JSON.createObjectNode();
    ObjectNode metadata = pod.putObject("metadata");
    String jobName = job.path("metadata").path("name").asText();
    metadata.put("generateName", jobName + "-");
    metadata.put("namespace", job.path("metadata").path("namespace").asText());
    metadata.set("labels", template.path("metadata").path("labels").deepCopy());
    if (template.path("metadata").has("annotations")) {
      metadata.set("annotations", template.path("metadata").path("annotations").deepCopy());
    }
    Cluster.setOwner(pod, jobs, job);
    pod.set("spec", template.path("spec").deepCopy());
    ObjectNode created = cluster.create(pods, job.path("metadata").path("namespace").asText(), pod);
    cluster.event(
        jobs,
        job,
        "Normal",
        "SuccessfulCreate",
        "Created pod: " + created.path("metadata").path("name").asText(),
        COMPONENT);
    return created;
  }

  private static void condition(
      ArrayNode conditions, String type, String reason, String message, Instant now) {
    ObjectNode c = conditions.addObject();
    c.put("type", type);
    c.put("status", "True");
    c.put("reason", reason);
    c.put("message", message);
    c.put("lastProbeTime", timestamp(now));
    c.put("lastTransitionTime", timestamp(now));
  }

  private static String timestamp(Instant instant) {
    return instant.truncatedTo(ChronoUnit.SECONDS).toString();
  }
}
