package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.Optional;

/**
 * A workload a chart upgrade adds or removes, created or deleted as {@code helm upgrade} would, one
 * at a time in the release's order, and waited for: created, until every replica is Ready; deleted,
 * until the API server no longer has it. Waits read the workload every {@link #POLL} (the worker's
 * Role has no {@code watch} on Deployments, and a workload is created or deleted once per upgrade);
 * each read heartbeats, and the heartbeat keeps when the first attempt started, so a retried
 * activity keeps the same deadline.
 */
final class ReleaseWorkloads {
  private static final Duration POLL = Duration.ofSeconds(1);

  /** What an attempt keeps in its heartbeat: when the first one started, for the deadline. */
  record Progress(long startedAt) {}

  private final KubernetesClient client;

  ReleaseWorkloads(KubernetesClient client) {
    this.client = client;
  }

  /**
   * Whether a workload of that name exists in the cluster without being this release's (Helm's
   * ownership annotations): then Helm would refuse to create it, and so does Lockstep.
   */
  Optional<String> foreign(String release, String namespace, ChartRenderer.RenderedObject o) {
    GenericKubernetesResource live = resource(namespace, o).get();
    if (live == null || owned(live, release, namespace)) {
      return Optional.empty();
    }
    return Optional.of(
        o.key()
            + " exists in "
            + namespace
            + " and is not release "
            + release
            + "'s (no meta.helm.sh/release-name: "
            + release
            + "): the upgrade would create it; delete or rename it first");
  }

  /** Creates the workload as rendered (unless there) and waits until all its replicas are Ready. */
  String create(
      String release, String namespace, ChartRenderer.RenderedObject o, long readySeconds) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    Progress progress = progress(context);
    Resource<GenericKubernetesResource> resource = resource(namespace, o);
    GenericKubernetesResource live = resource.get();
    if (live != null && !owned(live, release, namespace)) {
      throw ApplicationFailure.newNonRetryableFailure(
          foreign(release, namespace, o).orElse(o.key() + " is not this release's"),
          "WorkloadNotOurs");
    }
    if (live == null) {
      ObjectNode wanted = ReleaseObjects.owned(o.object(), release, namespace);
      try {
        resource.create(
            Serialization.jsonMapper().convertValue(wanted, GenericKubernetesResource.class));
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
    }
    int replicas = o.object().path("spec").path("replicas").asInt(1);
    long deadline =
        progress.startedAt() + Duration.ofSeconds(readySeconds).toMillis() * Math.max(1, replicas);
    while (true) {
      JsonNode now = json(resource.get());
      if (now == null) {
        throw ApplicationFailure.newNonRetryableFailure(
            o.key() + " was deleted while it was being created", "WorkloadGone");
      }
      if (ready(now)) {
        return o.key() + " created, " + replicas + "/" + replicas + " Ready";
      }
      if (System.currentTimeMillis() >= deadline) {
        throw ApplicationFailure.newNonRetryableFailure(
            o.key()
                + " created but not Ready within "
                + readySeconds * Math.max(1, replicas)
                + "s ("
                + now.path("status").path("readyReplicas").asInt(0)
                + "/"
                + replicas
                + " Ready)",
            "WorkloadNotReady");
      }
      context.heartbeat(progress);
      pause(o.key());
    }
  }

  /**
   * Deletes the workload (its pods go with it, as Kubernetes' garbage collector removes them)
   * unless already gone or kept by {@code helm.sh/resource-policy: keep}, and waits until it is
   * gone.
   */
  String delete(String release, String namespace, ChartRenderer.RenderedObject o) {
    if ("keep"
        .equals(
            o.object()
                .path("metadata")
                .path("annotations")
                .path("helm.sh/resource-policy")
                .asText())) {
      return o.key() + " kept (helm.sh/resource-policy: keep)";
    }
    ActivityExecutionContext context = Activity.getExecutionContext();
    Progress progress = progress(context);
    Resource<GenericKubernetesResource> resource = resource(namespace, o);
    GenericKubernetesResource live = resource.get();
    if (live == null) {
      return o.key() + " deleted";
    }
    if (!owned(live, release, namespace)) {
      // Never delete what someone else made under the same name since.
      throw ApplicationFailure.newNonRetryableFailure(
          o.key() + " in " + namespace + " is not release " + release + "'s: not deleted",
          "WorkloadNotOurs");
    }
    try {
      resource.delete();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
    while (resource.get() != null) {
      context.heartbeat(progress);
      pause(o.key());
    }
    return o.key() + " deleted";
  }

  private static Progress progress(ActivityExecutionContext context) {
    Progress progress =
        context
            .getHeartbeatDetails(Progress.class)
            .orElse(new Progress(System.currentTimeMillis()));
    context.heartbeat(progress);
    return progress;
  }

  /** Every replica Ready on the template as created (the controller has seen it). */
  static boolean ready(JsonNode workload) {
    JsonNode status = workload.path("status");
    int replicas = workload.path("spec").path("replicas").asInt(1);
    long generation = workload.path("metadata").path("generation").asLong(1);
    return status.path("observedGeneration").asLong(0) >= generation
        && status.path("readyReplicas").asInt(0) == replicas
        && status.path("updatedReplicas").asInt(0) == replicas;
  }

  private static boolean owned(GenericKubernetesResource live, String release, String namespace) {
    var annotations = live.getMetadata().getAnnotations();
    return annotations != null
        && release.equals(annotations.get("meta.helm.sh/release-name"))
        && namespace.equals(annotations.get("meta.helm.sh/release-namespace"));
  }

  private static JsonNode json(GenericKubernetesResource live) {
    return live == null ? null : Serialization.jsonMapper().valueToTree(live);
  }

  private Resource<GenericKubernetesResource> resource(
      String namespace, ChartRenderer.RenderedObject o) {
    return client
        .genericKubernetesResources(o.apiVersion(), o.kind())
        .inNamespace(o.object().path("metadata").path("namespace").asText(namespace))
        .withName(o.name());
  }

  private static void pause(String what) {
    try {
      Thread.sleep(POLL.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted waiting for " + what, "Interrupted");
    }
  }
}
