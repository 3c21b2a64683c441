package dev.lockstep.activities;

import static dev.lockstep.activities.StatefulSets.retryable;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.ClusterActivities.ClusterEvent;
import dev.lockstep.workflows.ClusterActivities.RecordRequest;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The story of a run as the cluster keeps it: Kubernetes Events on the StatefulSet and notes
 * (annotations) on its ControllerRevisions, so that {@code kubectl describe} and {@code lockstep
 * history} tell it without Temporal. Events are named by the step that tells them, so a retried
 * step adds nothing; steps that act tell their story best effort, never failing for it.
 */
final class Records {
  private static final Logger LOG = LoggerFactory.getLogger(Records.class);

  private final KubernetesClient client;
  private final StatefulSets sets;
  private Deployments deployments;

  /** Tells Events that no step waits for (see {@link #tellLater}); daemon threads, bounded. */
  private final java.util.concurrent.ExecutorService tellers =
      new java.util.concurrent.ThreadPoolExecutor(
          2,
          2,
          30,
          java.util.concurrent.TimeUnit.SECONDS,
          new java.util.concurrent.LinkedBlockingQueue<>(10_000),
          r -> {
            Thread t = new Thread(r, "lockstep-events");
            t.setDaemon(true);
            return t;
          });

  /** Events handed to {@link #tellers} and not yet told (or given up on). */
  private int waiting;

  Records(KubernetesClient client, StatefulSets sets) {
    this.client = client;
    this.sets = sets;
  }

  /** Deployments' reads, for records on a Deployment and its ReplicaSets. */
  void deployments(Deployments value) {
    deployments = value;
  }

  /**
   * Records an Event after this step returns, best effort, on a small pool of its own. The Event is
   * named by the step, so an attempt that tells it again (a retried step) adds nothing.
   */
  void tellLater(String uid, RecordRequest request) {
    synchronized (this) {
      waiting++;
    }
    try {
      tellers.execute(
          () -> {
            try {
              recordOn(uid, request);
            } catch (RuntimeException e) {
              LOG.warn("could not record on {}: {}", request.target(), e.getMessage());
            } finally {
              told();
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      told();
      LOG.warn("not recording on {}: too many Events waiting", request.target());
    }
  }

  private synchronized void told() {
    waiting--;
    notifyAll();
  }

  /**
   * Waits until every Event handed to {@link #tellLater} so far has been told (or given up on), at
   * most {@code timeout}; returns whether none is left waiting.
   */
  synchronized boolean awaitTold(java.time.Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (waiting > 0) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  /**
   * Records Events and notes on behalf of another step, best effort: telling the story never fails
   * the step that acted. Returns whether all of it was recorded.
   */
  boolean tell(String uid, RecordRequest request) {
    try {
      recordOn(uid, request);
      return true;
    } catch (RuntimeException e) {
      LOG.warn("could not record on {}: {}", request.target(), e.getMessage());
      return false;
    }
  }

  void record(RecordRequest request) {
    Target target = request.target();
    io.fabric8.kubernetes.api.model.HasMetadata found =
        isDeployment(target) ? deployments.read(target) : sets.read(target);
    if (found == null) {
      LOG.info("not recording on {}: it no longer exists", target);
      return;
    }
    recordOn(found.getMetadata().getUid(), request);
  }

  private static boolean isDeployment(Target target) {
    return Target.DEPLOYMENT.equals(target.kind());
  }

  /** Records on the target with this uid, without reading it again. */
  private void recordOn(String uid, RecordRequest request) {
    Target target = request.target();
    String now = Instant.now().toString();
    for (ClusterEvent e : request.events()) {
      io.fabric8.kubernetes.api.model.Event event =
          new io.fabric8.kubernetes.api.model.EventBuilder()
              .withNewMetadata()
              .withName(e.name())
              .withNamespace(target.namespace())
              .endMetadata()
              .withNewInvolvedObject()
              .withApiVersion("apps/v1")
              .withKind(isDeployment(target) ? "Deployment" : "StatefulSet")
              .withName(target.name())
              .withNamespace(target.namespace())
              .withUid(uid)
              .endInvolvedObject()
              .withReason(e.reason())
              .withType(e.type())
              .withMessage(e.message())
              .withNewSource()
              .withComponent("lockstep")
              .endSource()
              .withReportingComponent("lockstep.dev/worker")
              .withReportingInstance(request.cluster())
              .withFirstTimestamp(now)
              .withLastTimestamp(now)
              .withCount(1)
              .build();
      try {
        client.v1().events().inNamespace(target.namespace()).resource(event).create();
      } catch (KubernetesClientException ex) {
        if (ex.getCode() != 409) {
          throw retryable(ex, "could not record event " + e.reason() + " on " + target);
        }
        // Already recorded by an earlier attempt of this step.
      }
    }
    if (request.revision() != null && !request.notes().isEmpty() && isDeployment(target)) {
      // A Deployment's revisions are its ReplicaSets.
      ObjectNode body = Serialization.jsonMapper().createObjectNode();
      ObjectNode annotations = body.putObject("metadata").putObject("annotations");
      request.notes().forEach(annotations::put);
      try {
        client
            .apps()
            .replicaSets()
            .inNamespace(target.namespace())
            .withName(request.revision())
            .patch(PatchContext.of(PatchType.JSON_MERGE), body.toString());
      } catch (KubernetesClientException ex) {
        if (ex.getCode() == 404) {
          LOG.info("not annotating ReplicaSet {}: it is gone", request.revision());
          return;
        }
        throw retryable(ex, "could not annotate ReplicaSet " + request.revision());
      }
      return;
    }
    if (request.revision() != null && !request.notes().isEmpty()) {
      recordNotes(target, request);
    }
  }

  /**
   * The revision's earlier runs with the run whose notes are on it now appended, when a different
   * run is about to write its own (a reused revision): the notes are appended, never overwritten.
   * Null when nothing is to be kept (no run's notes yet, or the same run writing again).
   */
  static String earlierRuns(ControllerRevision revision, java.util.Map<String, String> notes) {
    java.util.Map<String, String> now =
        revision.getMetadata().getAnnotations() == null
            ? java.util.Map.of()
            : revision.getMetadata().getAnnotations();
    String previousRun = now.get(dev.lockstep.workflows.ClusterActivities.NOTE_RUN);
    String newRun = notes.get(dev.lockstep.workflows.ClusterActivities.NOTE_RUN);
    if (previousRun == null || previousRun.equals(newRun)) {
      return null;
    }
    com.fasterxml.jackson.databind.ObjectMapper json = Serialization.jsonMapper();
    com.fasterxml.jackson.databind.node.ArrayNode runs = json.createArrayNode();
    String kept = now.get(dev.lockstep.workflows.ClusterActivities.NOTE_EARLIER_RUNS);
    if (kept != null) {
      try {
        com.fasterxml.jackson.databind.JsonNode read = json.readTree(kept);
        if (read.isArray()) {
          runs.addAll((com.fasterxml.jackson.databind.node.ArrayNode) read);
        }
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        LOG.info("unreadable {} on {}: started anew", kept, revision.getMetadata().getName());
      }
    }
    ObjectNode previous = runs.addObject();
    now.forEach(
        (k, v) -> {
          if (k.startsWith("lockstep.dev/")
              && !k.equals(dev.lockstep.workflows.ClusterActivities.NOTE_EARLIER_RUNS)) {
            previous.put(k, v);
          }
        });
    while (runs.size() > dev.lockstep.workflows.ClusterActivities.EARLIER_RUNS_KEPT) {
      runs.remove(0);
    }
    return runs.toString();
  }

  private void recordNotes(Target target, RecordRequest request) {
    ControllerRevision revision = sets.revisionNamed(target.namespace(), request.revision());
    if (revision == null) {
      LOG.info("not annotating revision {}: it is gone", request.revision());
      return;
    }
    ObjectNode body = Serialization.jsonMapper().createObjectNode();
    ObjectNode metadata = body.putObject("metadata");
    ObjectNode annotations = metadata.putObject("annotations");
    request.notes().forEach(annotations::put);
    String earlier = earlierRuns(revision, request.notes());
    if (earlier != null) {
      annotations.put(dev.lockstep.workflows.ClusterActivities.NOTE_EARLIER_RUNS, earlier);
      // Conditional on what was read: another writer in between is a conflict, and the retry
      // reads again, so no run's notes are lost.
      metadata.put("resourceVersion", revision.getMetadata().getResourceVersion());
    }
    try {
      client
          .apps()
          .controllerRevisions()
          .inNamespace(target.namespace())
          .withName(request.revision())
          .patch(PatchContext.of(PatchType.JSON_MERGE), body.toString());
    } catch (KubernetesClientException ex) {
      throw retryable(ex, "could not annotate revision " + request.revision());
    }
  }
}
