package dev.lockstep.activities;

import dev.lockstep.workflows.ClusterActivities;
import dev.lockstep.workflows.ClusterActivities.HookRequest;
import dev.lockstep.workflows.ClusterActivities.HookResult;
import dev.lockstep.workflows.UpgradePlan;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.api.model.batch.v1.JobSpec;
import io.fabric8.kubernetes.api.model.batch.v1.JobSpecBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hooks as Kubernetes Jobs. A hook's Job is named by the workflow ({@code Names.hookJob}), so an
 * activity retried after a crash finds the Job it created and waits for it instead of starting a
 * second one. Waits poll the Job every {@link #POLL} (hooks are few and long; units use watches).
 */
public final class HookJobs {
  private static final Logger LOG = LoggerFactory.getLogger(HookJobs.class);
  static final String RUN_LABEL = "lockstep.dev/run";
  static final String HOOK_LABEL = "lockstep.dev/hook";
  private static final Duration POLL = Duration.ofSeconds(1);
  private static final int LOG_LINES = 20;

  /** What a hook's attempt keeps in its heartbeat: when it started, for the timeout. */
  public record HookProgress(long startedAt) {}

  private final KubernetesClient client;

  public HookJobs(KubernetesClient client) {
    this.client = client;
  }

  /** Runs the hook's Job (or adopts this run's Job of that name) and waits for its end. */
  public HookResult run(HookRequest request) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    HookProgress progress =
        context
            .getHeartbeatDetails(HookProgress.class)
            .orElse(new HookProgress(System.currentTimeMillis()));
    context.heartbeat(progress);
    String ns = request.target().namespace();
    String name = request.jobName();
    Job job = adoptOrCreate(request);
    long deadline = progress.startedAt() + request.spec().effectiveTimeout().toMillis();
    while (true) {
      JobCondition ended = ended(job);
      if (ended != null && ended.getType().equals("Complete")) {
        long seconds = (System.currentTimeMillis() - progress.startedAt()) / 1000;
        LOG.info("{} hook of {} completed (Job {})", request.hook(), request.target(), name);
        return new HookResult(name, seconds);
      }
      if (ended != null) {
        throw failure(
            request,
            "Job "
                + name
                + " failed ("
                + Optional.ofNullable(ended.getReason()).orElse("Failed")
                + ")"
                + logTail(ns, name));
      }
      if (System.currentTimeMillis() >= deadline) {
        delete(ns, name);
        throw failure(
            request,
            "Job "
                + name
                + " did not finish within "
                + request.spec().effectiveTimeout().toSeconds()
                + "s and was deleted"
                + logTail(ns, name));
      }
      context.heartbeat(progress);
      try {
        Thread.sleep(POLL.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure("interrupted waiting for Job " + name, "Interrupted");
      }
      job = get(ns, name);
      if (job == null) {
        throw failure(request, "Job " + name + " was deleted while it ran");
      }
    }
  }

  private Job adoptOrCreate(HookRequest request) {
    String ns = request.target().namespace();
    Job existing = get(ns, request.jobName());
    if (existing == null) {
      try {
        Job created = client.batch().v1().jobs().inNamespace(ns).resource(job(request)).create();
        LOG.info(
            "{} hook of {}: created Job {}", request.hook(), request.target(), request.jobName());
        return created;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          // A Job the API refuses (invalid, forbidden, denied by a webhook) fails the hook now.
          if (ApiErrors.isFinal(e)) {
            ApiErrors.count(e);
          }
          throw ApiErrors.isFinal(e)
              ? failure(
                  request,
                  "the API server refused Job " + request.jobName() + ": " + ApiErrors.message(e))
              : ApiErrors.failure(e, "could not create Job " + request.jobName());
        }
        existing = get(ns, request.jobName());
        if (existing == null) {
          throw new IllegalStateException("Job " + request.jobName() + " vanished; trying again");
        }
      }
    }
    Map<String, String> labels =
        Optional.ofNullable(existing.getMetadata().getLabels()).orElse(Map.of());
    if (!request.runId().equals(labels.get(RUN_LABEL))) {
      throw failure(
          request,
          "a Job named "
              + request.jobName()
              + " exists and is not this run's (label "
              + RUN_LABEL
              + "="
              + labels.get(RUN_LABEL)
              + ")");
    }
    LOG.info("{} hook of {}: adopted Job {}", request.hook(), request.target(), request.jobName());
    return existing;
  }

  /** The Job the hook describes, labelled with the run and the hook, its pods told who they are. */
  static Job job(HookRequest request) {
    UpgradePlan.Hook hook = request.spec();
    JobSpec spec;
    Map<String, String> labels = new HashMap<>();
    Map<String, String> annotations = new HashMap<>();
    if (hook.job() != null) {
      Map<String, Object> given = hook.job();
      Object specPart = given.containsKey("spec") ? given.get("spec") : given;
      spec = Serialization.jsonMapper().convertValue(specPart, JobSpec.class);
      if (given.get("metadata") instanceof Map<?, ?> metadata) {
        if (metadata.get("labels") instanceof Map<?, ?> l) {
          l.forEach((k, v) -> labels.put(String.valueOf(k), String.valueOf(v)));
        }
        if (metadata.get("annotations") instanceof Map<?, ?> a) {
          a.forEach((k, v) -> annotations.put(String.valueOf(k), String.valueOf(v)));
        }
      }
      if (spec.getTemplate().getSpec().getRestartPolicy() == null) {
        spec.getTemplate().getSpec().setRestartPolicy("Never");
      }
    } else {
      spec =
          new JobSpecBuilder()
              .withBackoffLimit(0)
              .withNewTemplate()
              .withNewSpec()
              .withRestartPolicy("Never")
              .addNewContainer()
              .withName(request.hook())
              .withImage(hook.image())
              .withCommand(hook.command())
              .endContainer()
              .endSpec()
              .endTemplate()
              .build();
    }
    if (spec.getTtlSecondsAfterFinished() == null) {
      // Kept a week for the audit, then collected.
      spec.setTtlSecondsAfterFinished(7 * 24 * 3600);
    }
    labels.put(RUN_LABEL, request.runId());
    labels.put(HOOK_LABEL, request.hook());
    List<EnvVar> env =
        new ArrayList<>(
            List.of(
                new EnvVar("LOCKSTEP_TARGET", request.target().toString(), null),
                new EnvVar("LOCKSTEP_HOOK", request.hook(), null),
                new EnvVar("LOCKSTEP_RUN", request.runId(), null)));
    if (request.service() != null) {
      // A blue-green's test hook reaches the preview at http://$LOCKSTEP_SERVICE.
      env.add(new EnvVar("LOCKSTEP_SERVICE", request.service(), null));
    }
    for (Container c : spec.getTemplate().getSpec().getContainers()) {
      List<EnvVar> merged = new ArrayList<>(Optional.ofNullable(c.getEnv()).orElse(List.of()));
      for (EnvVar e : env) {
        if (merged.stream().noneMatch(m -> m.getName().equals(e.getName()))) {
          merged.add(e);
        }
      }
      c.setEnv(merged);
    }
    return new JobBuilder()
        .withNewMetadata()
        .withName(request.jobName())
        .withNamespace(request.target().namespace())
        .withLabels(labels)
        .withAnnotations(annotations.isEmpty() ? null : annotations)
        .endMetadata()
        .withSpec(spec)
        .build();
  }

  private static JobCondition ended(Job job) {
    if (job.getStatus() == null || job.getStatus().getConditions() == null) {
      return null;
    }
    for (JobCondition c : job.getStatus().getConditions()) {
      if ((c.getType().equals("Complete") || c.getType().equals("Failed"))
          && "True".equals(c.getStatus())) {
        return c;
      }
    }
    return null;
  }

  private Job get(String ns, String name) {
    try {
      return client.batch().v1().jobs().inNamespace(ns).withName(name).get();
    } catch (KubernetesClientException e) {
      throw ApiErrors.failure(e, "could not read Job " + name);
    }
  }

  private void delete(String ns, String name) {
    try {
      client
          .batch()
          .v1()
          .jobs()
          .inNamespace(ns)
          .withName(name)
          .withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.BACKGROUND)
          .delete();
    } catch (KubernetesClientException e) {
      ApiErrors.count(e);
      LOG.warn("could not delete Job {}: {}", name, e.getMessage());
    }
  }

  /** The last lines of the Job's newest pod's log, as ": ... | ..." or "" when there is none. */
  private String logTail(String ns, String job) {
    try {
      List<Pod> pods =
          client.pods().inNamespace(ns).withLabel("job-name", job).list().getItems().stream()
              .sorted(
                  Comparator.comparing(
                      (Pod p) ->
                          Optional.ofNullable(p.getMetadata().getCreationTimestamp()).orElse("")))
              .toList();
      if (pods.isEmpty()) {
        return "";
      }
      Pod newest = pods.get(pods.size() - 1);
      String log =
          client
              .pods()
              .inNamespace(ns)
              .withName(newest.getMetadata().getName())
              .tailingLines(LOG_LINES)
              .getLog();
      if (log == null || log.isBlank()) {
        return "";
      }
      String oneLine = String.join(" | ", log.strip().split("\\R"));
      return "; log of " + newest.getMetadata().getName() + ": " + tail(oneLine, 1500);
    } catch (KubernetesClientException e) {
      ApiErrors.count(e);
      return " (its log could not be read: " + e.getCode() + ")";
    }
  }

  private static String tail(String text, int max) {
    return text.length() <= max ? text : "..." + text.substring(text.length() - max);
  }

  private static ApplicationFailure failure(HookRequest request, String why) {
    return ApplicationFailure.newNonRetryableFailure(
        request.hook() + " hook failed: " + why, ClusterActivities.FAILURE_HOOK_FAILED);
  }
}
