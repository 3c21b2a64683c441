package dev.lockstep.activities;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.ClusterActivities;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster side of an upgrade, with fabric8. Every write is computed from what the cluster holds
 * now and made only when it differs, so a retry after a crash at any line is safe; waits run on
 * {@link ClusterWatch}'s shared informers and heartbeat their progress.
 */
public final class ClusterActivitiesImpl implements ClusterActivities {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterActivitiesImpl.class);

  private final KubernetesClient client;
  private final ClusterWatch watch;

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

  public ClusterActivitiesImpl(KubernetesClient client, ClusterWatch watch) {
    this.client = client;
    this.watch = watch;
  }

  private TargetChecks checks() {
    return new TargetChecks(client);
  }

  // ---- inspect -------------------------------------------------------------------------------

  @Override
  public TargetSnapshot inspect(InspectRequest request) {
    Target target = request.target();
    StatefulSet sts = read(target);
    if (sts == null) {
      return new TargetSnapshot(
          false,
          List.of(
              "statefulset "
                  + target.namespace()
                  + "/"
                  + target.name()
                  + " not found in cluster "
                  + request.cluster()),
          0,
          null,
          null,
          null,
          null,
          0,
          0,
          Map.of(),
          Map.of(),
          false,
          null,
          null,
          List.of(),
          List.of(),
          List.of());
    }
    PodTemplateSpec template = sts.getSpec().getTemplate();
    TemplateChange.Result changed;
    try {
      changed = desired(sts, request.change(), target);
    } catch (IllegalArgumentException e) {
      changed =
          new TemplateChange.Result(
              template, TemplateChange.images(template), List.of(e.getMessage()));
    }
    String strategyType =
        sts.getSpec().getUpdateStrategy() == null
            ? "RollingUpdate"
            : Objects.requireNonNullElse(
                sts.getSpec().getUpdateStrategy().getType(), "RollingUpdate");
    Integer partition =
        strategyType.equals("RollingUpdate")
                && sts.getSpec().getUpdateStrategy() != null
                && sts.getSpec().getUpdateStrategy().getRollingUpdate() != null
            ? sts.getSpec().getUpdateStrategy().getRollingUpdate().getPartition()
            : null;
    StatefulSetStatus status =
        Optional.ofNullable(sts.getStatus()).orElseGet(StatefulSetStatus::new);
    // Its pods by its selector, as its controller finds them, not every pod of the namespace.
    List<Pod> pods =
        client
            .pods()
            .inNamespace(target.namespace())
            .withLabelSelector(sts.getSpec().getSelector())
            .list()
            .getItems();
    boolean changes = !TemplateChange.same(template, changed.template());
    List<CheckResult> checks = List.of();
    List<String> diff = List.of();
    if (changed.problems().isEmpty() && changes) {
      StatefulSet pinned = Serialization.jsonMapper().convertValue(sts, StatefulSet.class);
      if (pinned.getMetadata().getAnnotations() == null) {
        pinned.getMetadata().setAnnotations(new java.util.HashMap<>());
      }
      pinned.getMetadata().getAnnotations().put(RUN_ANNOTATION, "dry-run");
      pinned
          .getSpec()
          .setUpdateStrategy(
              new io.fabric8.kubernetes.api.model.apps.StatefulSetUpdateStrategyBuilder()
                  .withType("RollingUpdate")
                  .withNewRollingUpdate()
                  .withPartition(replicas(sts))
                  .endRollingUpdate()
                  .build());
      pinned.getSpec().setTemplate(changed.template());
      pinned.setStatus(null);
      checks = checks().run(sts, changed.template(), pods, request.scaleUp(), pinned);
      diff = TemplateChange.diff(template, changed.template());
    }
    return new TargetSnapshot(
        true,
        changed.problems(),
        replicas(sts),
        strategyType,
        partition,
        status.getCurrentRevision(),
        status.getUpdateRevision(),
        Optional.ofNullable(sts.getMetadata().getGeneration()).orElse(0L),
        Optional.ofNullable(status.getObservedGeneration()).orElse(0L),
        TemplateChange.images(template),
        changed.images(),
        changes,
        annotation(sts),
        origin(sts),
        units(sts, pods),
        checks,
        diff);
  }

  // ---- prepare -------------------------------------------------------------------------------

  @Override
  public PrepareResult prepare(PrepareRequest request) {
    Target target = request.target();
    StatefulSet sts = require(target);
    checkNotLocked(sts, request.runId(), target);
    PodTemplateSpec current = sts.getSpec().getTemplate();
    TemplateChange.Result changed;
    try {
      changed = desired(sts, request.change(), target);
    } catch (IllegalArgumentException e) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, e.getMessage());
    }
    if (!changed.problems().isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", changed.problems()));
    }
    int replicas = replicas(sts);
    boolean ours = request.runId().equals(annotation(sts));
    boolean applied = TemplateChange.same(current, changed.template());
    String updateRevision = sts.getStatus() == null ? null : sts.getStatus().getUpdateRevision();
    // Until this write is made the template is still the one inspect saw; any other revision is
    // someone else's change (a retry after the write finds the change applied).
    if (!applied && !Objects.equals(updateRevision, request.fromRevision())) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          target
              + " changed since it was inspected: its revision is now "
              + updateRevision
              + ", not "
              + request.fromRevision());
    }
    boolean pinned = pinnedAt(sts) != null && pinnedAt(sts) >= replicas;
    boolean recorded = !ours || request.origin() == null || origin(sts) != null;
    if (!ours || !pinned || !applied || !recorded) {
      // Partition and template in one write: there is no moment when the change could roll out.
      sts.getMetadata().getAnnotations().put(RUN_ANNOTATION, request.runId());
      if (request.origin() != null && (!ours || origin(sts) == null)) {
        sts.getMetadata().getAnnotations().put(ORIGIN_ANNOTATION, json(request.origin()));
      }
      sts.getSpec()
          .setUpdateStrategy(
              new io.fabric8.kubernetes.api.model.apps.StatefulSetUpdateStrategyBuilder()
                  .withType("RollingUpdate")
                  .withNewRollingUpdate()
                  .withPartition(replicas)
                  .endRollingUpdate()
                  .build());
      sts.getSpec().setTemplate(changed.template());
      sts.setStatus(null);
      try {
        sts = client.apps().statefulSets().inNamespace(target.namespace()).resource(sts).update();
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not apply the change to " + target);
      }
      LOG.info("prepared {}: partition {}, template changed", target, replicas);
    }
    long generation = sts.getMetadata().getGeneration();
    String toRevision =
        awaitQuietly(
            target,
            Instant.now().plus(Duration.ofMinutes(2)),
            view ->
                view.statefulSet(target.name())
                    .filter(s -> s.getStatus() != null)
                    .filter(
                        s ->
                            Optional.ofNullable(s.getStatus().getObservedGeneration()).orElse(0L)
                                >= generation)
                    .map(s -> s.getStatus().getUpdateRevision()),
            "the StatefulSet controller to observe the change");
    boolean told =
        request.events() == null
            || request.events().isEmpty()
            || tell(
                sts.getMetadata().getUid(),
                new RecordRequest(request.cluster(), target, request.events(), null, Map.of()));
    return new PrepareResult(toRevision, replicas, told);
  }

  /**
   * The template the change asks for: the current one changed, or, for a rollback, the template of
   * the named ControllerRevision.
   *
   * @throws IllegalArgumentException when the revision to restore does not exist
   */
  private TemplateChange.Result desired(
      StatefulSet sts, dev.lockstep.workflows.UpgradePlan.Change change, Target target) {
    if (change.restore() == null) {
      return TemplateChange.apply(sts.getSpec().getTemplate(), change, target.toString());
    }
    List<ControllerRevision> owned = owned(sts);
    ControllerRevision found =
        owned.stream()
            .filter(
                r ->
                    r.getMetadata().getName().equals(change.restore())
                        || String.valueOf(r.getRevision()).equals(change.restore()))
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "revision "
                            + change.restore()
                            + " of "
                            + target
                            + " not found: its revisions are "
                            + owned.stream()
                                .map(r -> r.getRevision() + " (" + r.getMetadata().getName() + ")")
                                .toList()));
    PodTemplateSpec template = templateOf(found);
    return new TemplateChange.Result(template, TemplateChange.images(template), List.of());
  }

  // ---- one unit ------------------------------------------------------------------------------

  /**
   * What an attempt at one unit keeps in its heartbeat, so that a retry after a worker dies keeps
   * the same deadline and the same restart baseline.
   */
  public record UnitProgress(long startedAt, String podUid, int baselineRestarts) {}

  @Override
  public UnitResult upgradeUnit(UnitRequest request) {
    Target target = request.target();
    String podName = target.name() + "-" + request.ordinal();
    ActivityExecutionContext context = Activity.getExecutionContext();
    UnitProgress[] progress = {
      context
          .getHeartbeatDetails(UnitProgress.class)
          .orElse(new UnitProgress(System.currentTimeMillis(), null, 0))
    };
    context.heartbeat(progress[0]);
    StatefulSet sts = require(target);
    checkOurs(sts, request.runId(), target);
    checkDrift(sts, request, request.partitionBefore());
    Integer partition = pinnedAt(sts);
    if (partition == null || partition > request.ordinal()) {
      patch(
          target,
          "{\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
              + "{\"partition\":"
              + request.ordinal()
              + "}}}}");
    }
    Instant deadline =
        Instant.ofEpochMilli(progress[0].startedAt()).plusSeconds(request.unitTimeoutSeconds());
    UnitResult done;
    try {
      done =
          watch.await(
              target.namespace(),
              target.name(),
              deadline,
              view -> {
                view.statefulSet(target.name())
                    .ifPresent(s -> checkDrift(s, request, request.partitionBefore()));
                Optional<Pod> pod = view.pod(podName);
                if (pod.isEmpty() || !request.toRevision().equals(revision(pod.get()))) {
                  return Optional.empty();
                }
                int restarts = restarts(pod.get());
                String uid = pod.get().getMetadata().getUid();
                if (!uid.equals(progress[0].podUid())) {
                  // A retry counts only the restarts of its own attempt.
                  progress[0] =
                      new UnitProgress(
                          progress[0].startedAt(), uid, request.retry() ? restarts : 0);
                  context.heartbeat(progress[0]);
                }
                int attemptRestarts = restarts - progress[0].baselineRestarts();
                if (attemptRestarts >= request.crashLoopRestarts()) {
                  throw nonRetryable(
                      FAILURE_UNIT_FAILED,
                      podName
                          + " is crash-looping on "
                          + request.toRevision()
                          + " ("
                          + attemptRestarts
                          + " restarts"
                          + waitingReason(pod.get())
                          + ")");
                }
                if (!ready(pod.get()) || pod.get().getMetadata().getDeletionTimestamp() != null) {
                  return Optional.empty();
                }
                return Optional.of(
                    new UnitResult(podName, uid, request.toRevision(), true, restarts));
              },
              waited -> context.heartbeat(progress[0]),
              beatEvery(context));
    } catch (TimeoutException e) {
      Pod pod = client.pods().inNamespace(target.namespace()).withName(podName).get();
      throw nonRetryable(
          FAILURE_UNIT_FAILED,
          podName
              + " was not Ready on "
              + request.toRevision()
              + " within "
              + request.unitTimeoutSeconds()
              + "s"
              + (pod == null ? " (no pod)" : waitingReason(pod)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure(
          "interrupted while waiting for " + podName, "Interrupted");
    }
    if (request.eventName() != null) {
      // Told off the unit's critical path: the next unit need not wait for this unit's story.
      tellLater(
          sts.getMetadata().getUid(),
          new RecordRequest(
              request.cluster(),
              target,
              List.of(
                  new ClusterEvent(
                      request.eventName(),
                      "UnitUpgraded",
                      "Normal",
                      podName + " is Ready on " + request.toRevision())),
              null,
              Map.of()));
    }
    return done;
  }

  /**
   * Records an Event after this step returns, best effort, on a small pool of its own. The Event is
   * named by the step, so an attempt that tells it again (a retried step) adds nothing.
   */
  private void tellLater(String uid, RecordRequest request) {
    try {
      tellers.execute(
          () -> {
            try {
              recordOn(uid, request);
            } catch (RuntimeException e) {
              LOG.warn("could not record on {}: {}", request.target(), e.getMessage());
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      LOG.warn("not recording on {}: too many Events waiting", request.target());
    }
  }

  /**
   * Records Events and notes on behalf of another step, best effort: telling the story never fails
   * the step that acted. Returns whether all of it was recorded.
   */
  private boolean tell(String uid, RecordRequest request) {
    try {
      recordOn(uid, request);
      return true;
    } catch (RuntimeException e) {
      LOG.warn("could not record on {}: {}", request.target(), e.getMessage());
      return false;
    }
  }

  @Override
  public void record(RecordRequest request) {
    Target target = request.target();
    StatefulSet sts = read(target);
    if (sts == null) {
      LOG.info("not recording on {}: it no longer exists", target);
      return;
    }
    recordOn(sts.getMetadata().getUid(), request);
  }

  /** Records on the StatefulSet with this uid, without reading it again. */
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
              .withKind("StatefulSet")
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
    if (request.revision() != null && !request.notes().isEmpty()) {
      ControllerRevision revision =
          client
              .apps()
              .controllerRevisions()
              .inNamespace(target.namespace())
              .withName(request.revision())
              .get();
      if (revision == null) {
        LOG.info("not annotating revision {}: it is gone", request.revision());
        return;
      }
      ObjectNode body = Serialization.jsonMapper().createObjectNode();
      ObjectNode annotations = body.putObject("metadata").putObject("annotations");
      request.notes().forEach(annotations::put);
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

  @Override
  public RevisionList revisions(RevisionsRequest request) {
    StatefulSet sts = read(request.target());
    if (sts == null) {
      return new RevisionList(false, null, null, List.of());
    }
    List<RevisionInfo> revisions = new ArrayList<>();
    for (ControllerRevision r : owned(sts)) {
      Map<String, String> notes = new java.util.TreeMap<>();
      Optional.ofNullable(r.getMetadata().getAnnotations())
          .orElse(Map.of())
          .forEach(
              (k, v) -> {
                if (k.startsWith("lockstep.dev/")) {
                  notes.put(k, v);
                }
              });
      revisions.add(
          new RevisionInfo(
              r.getRevision(),
              r.getMetadata().getName(),
              r.getMetadata().getCreationTimestamp(),
              TemplateChange.images(templateOf(r)),
              notes));
    }
    StatefulSetStatus status =
        Optional.ofNullable(sts.getStatus()).orElseGet(StatefulSetStatus::new);
    return new RevisionList(
        true, status.getUpdateRevision(), status.getCurrentRevision(), revisions);
  }

  /** The StatefulSet's ControllerRevisions, by revision number. */
  private List<ControllerRevision> owned(StatefulSet sts) {
    return client
        .apps()
        .controllerRevisions()
        .inNamespace(sts.getMetadata().getNamespace())
        .withLabelSelector(sts.getSpec().getSelector())
        .list()
        .getItems()
        .stream()
        .filter(
            r ->
                r.getMetadata().getOwnerReferences() != null
                    && r.getMetadata().getOwnerReferences().stream()
                        .anyMatch(o -> sts.getMetadata().getUid().equals(o.getUid())))
        .sorted(Comparator.comparingLong(ControllerRevision::getRevision))
        .toList();
  }

  @Override
  public HookResult runHook(HookRequest request) {
    return new HookJobs(client).run(request);
  }

  /** What a health check keeps in its heartbeat: when it started, so a retry keeps the deadline. */
  public record HealthProgress(long startedAt) {}

  @Override
  public void checkHealth(HealthRequest request) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    HealthProgress progress =
        context
            .getHeartbeatDetails(HealthProgress.class)
            .orElse(new HealthProgress(System.currentTimeMillis()));
    context.heartbeat(progress);
    UpgradePlan.Health health = request.health();
    String where = ":" + health.port() + health.effectivePath();
    String url =
        client.getMasterUrl().toString().replaceAll("/+$", "")
            + "/api/v1/namespaces/"
            + request.target().namespace()
            + "/pods/"
            + request.pod()
            + ":"
            + health.port()
            + "/proxy"
            + health.effectivePath();
    long deadline = progress.startedAt() + request.timeoutSeconds() * 1000;
    int inARow = 0;
    String last = "no answer yet";
    var http = client.getHttpClient();
    while (true) {
      try {
        var answer =
            http.sendAsync(
                    http.newHttpRequestBuilder().uri(url).timeout(10, TimeUnit.SECONDS).build(),
                    String.class)
                .get(15, TimeUnit.SECONDS);
        int code = answer.code();
        boolean ok =
            health.expectStatus() == null
                ? code >= 200 && code < 300
                : code == health.expectStatus();
        inARow = ok ? inARow + 1 : 0;
        last = String.valueOf(code);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "interrupted checking the health of " + request.pod(), "Interrupted");
      } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
        inARow = 0;
        last =
            "no answer ("
                + (e.getCause() == null ? e : e.getCause()).getClass().getSimpleName()
                + ")";
      }
      if (inARow >= health.effectiveSuccesses()) {
        LOG.info("{} healthy: GET {} answered {} {} times", request.pod(), where, last, inARow);
        return;
      }
      if (System.currentTimeMillis() >= deadline) {
        throw nonRetryable(
            FAILURE_UNIT_FAILED,
            request.pod()
                + " failed its health check: GET "
                + where
                + " last answered "
                + last
                + " ("
                + inARow
                + " of "
                + health.effectiveSuccesses()
                + " successes in a row needed, expected "
                + (health.expectStatus() == null ? "2xx" : health.expectStatus())
                + ") within "
                + request.timeoutSeconds()
                + "s");
      }
      context.heartbeat(progress);
      try {
        Thread.sleep(request.intervalMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "interrupted checking the health of " + request.pod(), "Interrupted");
      }
    }
  }

  @Override
  public FinishResult scale(ScaleRequest request) {
    Target target = request.target();
    StatefulSet sts = require(target);
    checkNotLocked(sts, request.runId(), target);
    boolean ours = request.runId().equals(annotation(sts));
    if (replicas(sts) != request.replicas() || !ours) {
      ObjectNode body = Serialization.jsonMapper().createObjectNode();
      ObjectNode annotations = body.putObject("metadata").putObject("annotations");
      annotations.put(RUN_ANNOTATION, request.runId());
      if (!ours && request.origin() != null) {
        annotations.put(ORIGIN_ANNOTATION, json(request.origin()));
      }
      body.putObject("spec").put("replicas", request.replicas());
      patch(target, body.toString());
    }
    return awaitQuietly(
        target,
        Instant.now().plus(Duration.ofMinutes(10)),
        view -> {
          Optional<StatefulSet> now = view.statefulSet(target.name());
          if (now.isEmpty() || now.get().getStatus() == null) {
            return Optional.empty();
          }
          List<UnitSnapshot> units = units(now.get(), view.pods());
          boolean settled =
              units.size() == request.replicas()
                  && units.stream().allMatch(UnitSnapshot::ready)
                  && units.stream().allMatch(u -> u.ordinal() < request.replicas())
                  && (request.revision() == null
                      || units.stream().allMatch(u -> request.revision().equals(u.revision())));
          return settled
              ? Optional.of(
                  new FinishResult(now.get().getStatus().getCurrentRevision(), units, false))
              : Optional.empty();
        },
        request.replicas() + " Ready units of " + target);
  }

  @Override
  public void release(ReleaseRequest request) {
    StatefulSet sts = require(request.target());
    if (request.runId().equals(annotation(sts))) {
      patch(request.target(), UNMARK);
    }
  }

  @Override
  public void adopt(AdoptRequest request) {
    Target target = request.target();
    StatefulSet sts = require(target);
    String holder = annotation(sts);
    if (request.runId().equals(holder)) {
      return;
    }
    if (!request.deadRunId().equals(holder)) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          target
              + " is no longer marked by run "
              + request.deadRunId()
              + " ("
              + RUN_ANNOTATION
              + "="
              + (holder == null ? "none" : holder)
              + "): someone else changed it");
    }
    sts.getMetadata().getAnnotations().put(RUN_ANNOTATION, request.runId());
    sts.setStatus(null);
    try {
      // An update carries the resourceVersion read above: a change made in between is a conflict,
      // and the retry reads again.
      client.apps().statefulSets().inNamespace(target.namespace()).resource(sts).update();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not take over " + target);
    }
    LOG.info("took over {} from dead run {}", target, request.deadRunId());
  }

  // ---- finish and revert ---------------------------------------------------------------------

  @Override
  public FinishResult finish(FinishRequest request) {
    Target target = request.target();
    StatefulSet sts = require(target);
    if (annotation(sts) != null) {
      checkOurs(sts, request.runId(), target);
    }
    FinishResult settled = awaitSettled(target, request.toRevision(), Duration.ofMinutes(10), null);
    restoreStrategy(target, request.strategy(), request.runId());
    boolean told = request.end() != null && tell(sts.getMetadata().getUid(), request.end());
    return new FinishResult(settled.currentRevision(), settled.units(), told);
  }

  @Override
  public FinishResult revert(RevertRequest request) {
    Target target = request.target();
    StatefulSet sts = require(target);
    if (annotation(sts) != null) {
      checkOurs(sts, request.runId(), target);
    }
    ControllerRevision revision =
        client
            .apps()
            .controllerRevisions()
            .inNamespace(target.namespace())
            .withName(request.fromRevision())
            .get();
    if (revision == null) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          "revision " + request.fromRevision() + " of " + target + " is gone: cannot restore it");
    }
    PodTemplateSpec original = templateOf(revision);
    if (!TemplateChange.same(sts.getSpec().getTemplate(), original)) {
      sts.getSpec().setTemplate(original);
      sts.setStatus(null);
      try {
        client.apps().statefulSets().inNamespace(target.namespace()).resource(sts).update();
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not restore the template of " + target);
      }
      LOG.info("restored the template of {} from {}", target, request.fromRevision());
    }
    Set<String> deleted = new HashSet<>();
    FinishResult settled =
        awaitSettled(
            target,
            request.fromRevision(),
            Duration.ofSeconds(Math.max(60, request.timeoutSeconds())),
            deleted);
    restoreStrategy(target, request.strategy(), request.runId());
    return settled;
  }

  /**
   * Waits until every unit is Ready on {@code revision} and the controller made it current. With
   * {@code unstick} non-null, a unit stuck not Ready on another revision is deleted (once) so the
   * controller can replace it: a StatefulSet never replaces such a pod by itself
   * (kubernetes#67250).
   */
  private FinishResult awaitSettled(
      Target target, String revision, Duration timeout, Set<String> unstick) {
    return awaitQuietly(
        target,
        Instant.now().plus(timeout),
        view -> {
          Optional<StatefulSet> sts = view.statefulSet(target.name());
          if (sts.isEmpty() || sts.get().getStatus() == null) {
            return Optional.empty();
          }
          List<UnitSnapshot> units = units(sts.get(), view.pods());
          if (unstick != null) {
            for (Pod pod : view.pods()) {
              if (ownedBy(pod, sts.get())
                  && !revision.equals(revision(pod))
                  && !ready(pod)
                  && pod.getMetadata().getDeletionTimestamp() == null
                  && unstick.add(pod.getMetadata().getUid())) {
                LOG.info(
                    "deleting {}: stuck not Ready on {}",
                    pod.getMetadata().getName(),
                    revision(pod));
                client
                    .pods()
                    .inNamespace(target.namespace())
                    .withName(pod.getMetadata().getName())
                    .delete();
              }
            }
          }
          StatefulSetStatus status = sts.get().getStatus();
          boolean settled =
              units.size() == replicas(sts.get())
                  && units.stream().allMatch(u -> u.ready() && revision.equals(u.revision()))
                  && revision.equals(status.getUpdateRevision())
                  && revision.equals(status.getCurrentRevision())
                  && Optional.ofNullable(status.getObservedGeneration()).orElse(0L)
                      >= sts.get().getMetadata().getGeneration();
          return settled ? Optional.of(new FinishResult(revision, units, false)) : Optional.empty();
        },
        "every unit of " + target + " Ready on " + revision);
  }

  private void restoreStrategy(Target target, Strategy strategy, String runId) {
    StatefulSet sts = require(target);
    boolean ours = runId.equals(annotation(sts));
    String wantedType = strategy.type() == null ? "RollingUpdate" : strategy.type();
    Integer wantedPartition =
        wantedType.equals("RollingUpdate")
            ? Optional.ofNullable(strategy.partition()).orElse(0)
            : null;
    String type =
        sts.getSpec().getUpdateStrategy() == null
            ? "RollingUpdate"
            : sts.getSpec().getUpdateStrategy().getType();
    if (!ours && wantedType.equals(type) && Objects.equals(wantedPartition, pinnedAt(sts))) {
      return;
    }
    String strategyJson =
        wantedType.equals("OnDelete")
            ? "{\"type\":\"OnDelete\",\"rollingUpdate\":null}"
            : "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":"
                + wantedPartition
                + "}}";
    patch(
        target,
        "{\"metadata\":{\"annotations\":{\""
            + RUN_ANNOTATION
            + "\":null,\""
            + ORIGIN_ANNOTATION
            + "\":null}},"
            + "\"spec\":{\"updateStrategy\":"
            + strategyJson
            + "}}");
  }

  // ---- helpers -------------------------------------------------------------------------------

  private StatefulSet read(Target target) {
    try {
      return client
          .apps()
          .statefulSets()
          .inNamespace(target.namespace())
          .withName(target.name())
          .get();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not read " + target);
    }
  }

  private StatefulSet require(Target target) {
    StatefulSet sts = read(target);
    if (sts == null) {
      throw nonRetryable(FAILURE_TARGET_NOT_FOUND, target + " no longer exists");
    }
    if (sts.getMetadata().getAnnotations() == null) {
      sts.getMetadata().setAnnotations(new java.util.HashMap<>());
    }
    return sts;
  }

  private void patch(Target target, String mergePatch) {
    try {
      client
          .apps()
          .statefulSets()
          .inNamespace(target.namespace())
          .withName(target.name())
          .patch(PatchContext.of(PatchType.JSON_MERGE), mergePatch);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        throw nonRetryable(FAILURE_TARGET_NOT_FOUND, target + " no longer exists");
      }
      throw retryable(e, "could not update " + target);
    }
  }

  private static void checkNotLocked(StatefulSet sts, String runId, Target target) {
    String holder = annotation(sts);
    if (holder != null && !holder.equals(runId)) {
      throw nonRetryable(
          FAILURE_TARGET_LOCKED, target + " is marked as being changed by Lockstep run " + holder);
    }
  }

  private static void checkOurs(StatefulSet sts, String runId, Target target) {
    String holder = annotation(sts);
    if (!runId.equals(holder)) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          target
              + " is no longer marked by this run ("
              + RUN_ANNOTATION
              + "="
              + (holder == null ? "none" : holder)
              + "): someone else changed it");
    }
  }

  /**
   * Compares the target with what Lockstep last set: the template (its revision), the replica count
   * and the update strategy with its partition. Any difference is someone else's change.
   */
  private void checkDrift(StatefulSet sts, UnitRequest request, int expectedPartition) {
    Target target = request.target();
    List<String> differences = new ArrayList<>();
    String updateRevision = sts.getStatus() == null ? null : sts.getStatus().getUpdateRevision();
    boolean observed =
        sts.getStatus() != null
            && Optional.ofNullable(sts.getStatus().getObservedGeneration()).orElse(0L)
                >= sts.getMetadata().getGeneration();
    if (observed && updateRevision != null && !updateRevision.equals(request.toRevision())) {
      differences.add(
          "template: "
              + imageDifference(sts, request.toRevision())
              + " (revision "
              + updateRevision
              + ", not "
              + request.toRevision()
              + ")");
    }
    if (replicas(sts) != request.replicas()) {
      differences.add("replicas: " + request.replicas() + " -> " + replicas(sts));
    }
    // Lockstep itself moves the partition from partitionBefore to the unit's ordinal; the shared
    // informer may show either value for a moment.
    Integer partition = pinnedAt(sts);
    if (partition == null) {
      differences.add(
          "update strategy: RollingUpdate -> " + sts.getSpec().getUpdateStrategy().getType());
    } else if (partition != expectedPartition && partition != request.ordinal()) {
      differences.add("partition: " + expectedPartition + " -> " + partition);
    }
    if (!differences.isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", differences));
    }
  }

  /** The images that differ between the target's template and a revision's, as a -> b. */
  private String imageDifference(StatefulSet sts, String revisionName) {
    ControllerRevision revision =
        client
            .apps()
            .controllerRevisions()
            .inNamespace(sts.getMetadata().getNamespace())
            .withName(revisionName)
            .get();
    if (revision == null) {
      return "changed";
    }
    Map<String, String> expected = TemplateChange.images(templateOf(revision));
    Map<String, String> now = TemplateChange.images(sts.getSpec().getTemplate());
    List<String> changed = new ArrayList<>();
    now.forEach(
        (container, image) -> {
          if (!image.equals(expected.get(container))) {
            changed.add(container + " " + expected.get(container) + " -> " + image);
          }
        });
    return changed.isEmpty() ? "changed (not the images)" : String.join(", ", changed);
  }

  private <T> T awaitQuietly(
      Target target, Instant deadline, ClusterWatch.Step<T> step, String what) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    try {
      return watch.await(
          target.namespace(),
          target.name(),
          deadline,
          step,
          waited -> context.heartbeat(null),
          beatEvery(context));
    } catch (TimeoutException e) {
      throw ApplicationFailure.newFailure("timed out waiting for " + what, "Timeout");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted waiting for " + what, "Interrupted");
    }
  }

  private static PodTemplateSpec templateOf(ControllerRevision revision) {
    JsonNode data = Serialization.jsonMapper().valueToTree(revision.getData());
    ObjectNode template = data.path("spec").path("template").deepCopy();
    template.remove("$patch");
    return Serialization.jsonMapper().convertValue(template, PodTemplateSpec.class);
  }

  static Integer pinnedAt(StatefulSet sts) {
    var strategy = sts.getSpec().getUpdateStrategy();
    if (strategy == null || !"RollingUpdate".equals(strategy.getType())) {
      return null;
    }
    return strategy.getRollingUpdate() == null
        ? Integer.valueOf(0)
        : Optional.ofNullable(strategy.getRollingUpdate().getPartition()).orElse(0);
  }

  private static int replicas(StatefulSet sts) {
    return Optional.ofNullable(sts.getSpec().getReplicas()).orElse(1);
  }

  private static final String UNMARK =
      "{\"metadata\":{\"annotations\":{\""
          + RUN_ANNOTATION
          + "\":null,\""
          + ORIGIN_ANNOTATION
          + "\":null}}}";

  /** What the origin annotation records, or null when it is missing or unreadable. */
  static Origin origin(StatefulSet sts) {
    Map<String, String> annotations = sts.getMetadata().getAnnotations();
    String text = annotations == null ? null : annotations.get(ORIGIN_ANNOTATION);
    if (text == null) {
      return null;
    }
    try {
      return Serialization.jsonMapper().readValue(text, Origin.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      LOG.warn(
          "ignoring an unreadable {} annotation on {}",
          ORIGIN_ANNOTATION,
          sts.getMetadata().getName());
      return null;
    }
  }

  private static String json(Origin origin) {
    try {
      return Serialization.jsonMapper().writeValueAsString(origin);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static String annotation(StatefulSet sts) {
    Map<String, String> annotations = sts.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(RUN_ANNOTATION);
  }

  private static boolean ownedBy(Pod pod, StatefulSet sts) {
    List<OwnerReference> refs = pod.getMetadata().getOwnerReferences();
    return refs != null
        && refs.stream().anyMatch(r -> sts.getMetadata().getUid().equals(r.getUid()));
  }

  private static List<UnitSnapshot> units(StatefulSet sts, List<Pod> pods) {
    List<UnitSnapshot> units = new ArrayList<>();
    for (Pod pod : pods) {
      if (!ownedBy(pod, sts)) {
        continue;
      }
      Matcher m = ClusterWatch.ORDINAL.matcher(pod.getMetadata().getName());
      if (!m.matches() || !m.group(1).equals(sts.getMetadata().getName())) {
        continue;
      }
      units.add(
          new UnitSnapshot(
              pod.getMetadata().getName(),
              Integer.parseInt(m.group(2)),
              revision(pod),
              ready(pod),
              restarts(pod)));
    }
    units.sort(Comparator.comparingInt(UnitSnapshot::ordinal).reversed());
    return units;
  }

  static String revision(Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    return labels == null ? null : labels.get("controller-revision-hash");
  }

  static boolean ready(Pod pod) {
    if (pod.getStatus() == null || !"Running".equals(pod.getStatus().getPhase())) {
      return false;
    }
    for (PodCondition c : pod.getStatus().getConditions()) {
      if ("Ready".equals(c.getType())) {
        return "True".equals(c.getStatus());
      }
    }
    return false;
  }

  private static int restarts(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return 0;
    }
    return pod.getStatus().getContainerStatuses().stream()
        .mapToInt(c -> Optional.ofNullable(c.getRestartCount()).orElse(0))
        .max()
        .orElse(0);
  }

  private static String waitingReason(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return "";
    }
    for (ContainerStatus c : pod.getStatus().getContainerStatuses()) {
      if (c.getState() != null && c.getState().getWaiting() != null) {
        return ": " + c.getName() + " " + c.getState().getWaiting().getReason();
      }
    }
    return "";
  }

  /** A third of the heartbeat timeout, so that two beats can be late before Temporal gives up. */
  private static Duration beatEvery(ActivityExecutionContext context) {
    Duration timeout = context.getInfo().getHeartbeatTimeout();
    return timeout == null || timeout.isZero()
        ? Duration.ofSeconds(10)
        : timeout.dividedBy(3).plusMillis(1);
  }

  private static ApplicationFailure nonRetryable(String type, String message) {
    return ApplicationFailure.newNonRetryableFailure(message, type);
  }

  private static RuntimeException retryable(KubernetesClientException e, String what) {
    return ApiErrors.failure(e, what);
  }
}
