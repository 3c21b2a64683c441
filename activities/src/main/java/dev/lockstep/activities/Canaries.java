package dev.lockstep.activities;

import static dev.lockstep.activities.StatefulSets.nonRetryable;
import static dev.lockstep.activities.StatefulSets.retryable;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_REJECTED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_CHANGED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_LOCKED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_UNIT_FAILED;
import static dev.lockstep.workflows.ClusterActivities.ORIGIN_ANNOTATION;
import static dev.lockstep.workflows.ClusterActivities.RUN_ANNOTATION;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.CanaryActivities;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.DeploymentActivities.Expected;
import dev.lockstep.workflows.DeploymentActivities.Prepared;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategy;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Deployment's canary, with fabric8 (DESIGN.md, "Deployments", canary): a second Deployment
 * {@code <name>-canary} with the new template and the labels the Service selects, plus {@link
 * CanaryActivities#RUN_LABEL} (on it, in its selector and on its pods, so that the user's
 * ReplicaSets never count its pods); the user's Deployment (the stable one) is scaled to the rest.
 * Every write is to an absolute number or creates what is absent, so a retry after a crash at any
 * line acts at most once. The user's Deployment and the canary select overlapping pods; Kubernetes
 * keeps them apart by owner references, and so does this class.
 */
final class Canaries {
  private static final Logger LOG = LoggerFactory.getLogger(Canaries.class);
  static final String CANARY_OF = "lockstep.dev/canary-of";
  private static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

  private final KubernetesClient client;
  private final Deployments deployments;

  Canaries(KubernetesClient client, Deployments deployments) {
    this.client = client;
    this.deployments = deployments;
  }

  // ---- reading --------------------------------------------------------------------------------

  private Deployment canary(Target target) {
    try {
      return client
          .apps()
          .deployments()
          .inNamespace(target.namespace())
          .withName(CanaryActivities.canaryName(target.name()))
          .get();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not read the canary of " + target);
    }
  }

  /** The canary of this run, or null; someone else's Deployment of that name fails the step. */
  private Deployment ourCanary(Target target, String runId) {
    Deployment c = canary(target);
    if (c == null) {
      return null;
    }
    String label =
        c.getMetadata().getLabels() == null
            ? null
            : c.getMetadata().getLabels().get(CanaryActivities.RUN_LABEL);
    if (!runId.equals(label)) {
      throw nonRetryable(
          FAILURE_TARGET_LOCKED,
          "deployment "
              + target.namespace()
              + "/"
              + c.getMetadata().getName()
              + " exists and is not this run's canary ("
              + CanaryActivities.RUN_LABEL
              + "="
              + label
              + "): remove it, or run `lockstep repair "
              + target
              + "` if a dead run left it");
    }
    return c;
  }

  /**
   * Whether a pod is the canary's: owned by one of its ReplicaSets, or by one named after it (the
   * canary's ReplicaSets are {@code <name>-canary-<hash>}; a stable one's hash never spells
   * "canary"), so that pods of a deleted canary still count as the canary's until they are gone.
   */
  private static boolean isCanary(UnitSnapshot pod, Target target, Set<String> canarySets) {
    return pod.revision() != null
        && (canarySets.contains(pod.revision())
            || pod.revision().startsWith(CanaryActivities.canaryName(target.name()) + "-"));
  }

  private static Set<String> names(List<ReplicaSet> sets) {
    Set<String> names = new HashSet<>();
    sets.forEach(rs -> names.add(rs.getMetadata().getName()));
    return names;
  }

  /** Both Deployments' pods, the canary's first, each with its ReplicaSet as its revision. */
  private List<UnitSnapshot> units(Deployment stable, Set<String> canarySets) {
    List<UnitSnapshot> all =
        Deployments.units(deployments.pods(stable), canarySets.stream().findFirst().orElse(null));
    return all;
  }

  /** Where the Service that selects the stable pods sends traffic, per version; null if none. */
  CanaryActivities.Traffic traffic(
      Deployment stable, Set<String> stableSets, Set<String> canarySets, List<UnitSnapshot> pods) {
    String namespace = stable.getMetadata().getNamespace();
    Map<String, String> labels =
        stable.getSpec().getTemplate().getMetadata() == null
                || stable.getSpec().getTemplate().getMetadata().getLabels() == null
            ? Map.of()
            : stable.getSpec().getTemplate().getMetadata().getLabels();
    Service service;
    try {
      service =
          client.services().inNamespace(namespace).list().getItems().stream()
              .filter(
                  s ->
                      s.getSpec() != null
                          && s.getSpec().getSelector() != null
                          && !s.getSpec().getSelector().isEmpty()
                          && s.getSpec().getSelector().entrySet().stream()
                              .allMatch(e -> e.getValue().equals(labels.get(e.getKey()))))
              .min(Comparator.comparing(s -> s.getMetadata().getName()))
              .orElse(null);
    } catch (KubernetesClientException e) {
      ApiErrors.count(e);
      LOG.warn("could not list the Services of {}: {}", namespace, e.getMessage());
      return null;
    }
    if (service == null) {
      return null;
    }
    Map<String, String> setOf = new HashMap<>();
    pods.forEach(u -> setOf.put(u.name(), u.revision()));
    int onStable = 0;
    int onCanary = 0;
    Map<String, Boolean> endpoints;
    try {
      endpoints = readyEndpoints(namespace, service.getMetadata().getName());
    } catch (KubernetesClientException e) {
      ApiErrors.count(e);
      LOG.warn("could not list the EndpointSlices of {}: {}", namespace, e.getMessage());
      return null;
    }
    for (Map.Entry<String, Boolean> endpoint : endpoints.entrySet()) {
      if (!endpoint.getValue()) {
        continue;
      }
      String set = setOf.get(endpoint.getKey());
      if (set != null && canarySets.contains(set)) {
        onCanary++;
      } else if (set != null && stableSets.contains(set)) {
        onStable++;
      }
    }
    return new CanaryActivities.Traffic(service.getMetadata().getName(), onStable, onCanary);
  }

  /**
   * The Service's endpoints by pod name, and whether each is ready: discovery.k8s.io/v1, or v1beta1
   * on a cluster before 1.21.
   */
  Map<String, Boolean> readyEndpoints(String namespace, String service) {
    Map<String, Boolean> pods = new LinkedHashMap<>();
    try {
      for (EndpointSlice slice :
          client
              .discovery()
              .v1()
              .endpointSlices()
              .inNamespace(namespace)
              .withLabel(SERVICE_NAME_LABEL, service)
              .list()
              .getItems()) {
        if (slice.getEndpoints() != null) {
          for (Endpoint e : slice.getEndpoints()) {
            if (e.getTargetRef() != null) {
              // A nil ready condition means ready (discovery/v1 EndpointConditions).
              pods.merge(
                  e.getTargetRef().getName(),
                  e.getConditions() == null || !Boolean.FALSE.equals(e.getConditions().getReady()),
                  Boolean::logicalOr);
            }
          }
        }
      }
      return pods;
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
    for (io.fabric8.kubernetes.api.model.discovery.v1beta1.EndpointSlice slice :
        client
            .discovery()
            .v1beta1()
            .endpointSlices()
            .inNamespace(namespace)
            .withLabel(SERVICE_NAME_LABEL, service)
            .list()
            .getItems()) {
      if (slice.getEndpoints() != null) {
        for (var e : slice.getEndpoints()) {
          if (e.getTargetRef() != null) {
            pods.merge(
                e.getTargetRef().getName(),
                e.getConditions() == null || !Boolean.FALSE.equals(e.getConditions().getReady()),
                Boolean::logicalOr);
          }
        }
      }
    }
    return pods;
  }

  private static int available(Deployment d) {
    if (d == null || d.getStatus() == null) {
      return 0;
    }
    long observed =
        d.getStatus().getObservedGeneration() == null ? 0 : d.getStatus().getObservedGeneration();
    long generation = d.getMetadata().getGeneration() == null ? 0 : d.getMetadata().getGeneration();
    if (observed < generation) {
      return 0;
    }
    return d.getStatus().getAvailableReplicas() == null ? 0 : d.getStatus().getAvailableReplicas();
  }

  // ---- writes ---------------------------------------------------------------------------------

  Prepared prepare(CanaryActivities.PrepareRequest request) {
    Target target = request.target();
    Deployment d = deployments.require(target);
    Marks.checkNotLocked(d, request.runId(), target);
    ourCanaryOrAbsent(target, request.runId());
    List<ReplicaSet> sets = deployments.replicaSets(d);
    TemplateChange.Result changed;
    try {
      changed = Deployments.desired(d, sets, request.change(), target);
    } catch (IllegalArgumentException e) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, e.getMessage());
    }
    if (!changed.problems().isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", changed.problems()));
    }
    if (!request.runId().equals(Marks.annotation(d))) {
      ReplicaSet now = Deployments.current(d, sets);
      String nowName = now == null ? null : now.getMetadata().getName();
      if (!Objects.equals(nowName, request.fromRevision())) {
        throw nonRetryable(
            FAILURE_TARGET_CHANGED,
            target
                + " changed since it was inspected: its template is now "
                + (nowName == null ? "one not rolled out yet" : "that of " + nowName)
                + ", not that of "
                + request.fromRevision());
      }
      deployments.mark(target, d, request.runId(), request.origin());
      LOG.info("marked {} for a canary", target);
    }
    Expected expected = Deployments.expected(d);
    boolean told = deployments.toldStart(d, request.cluster(), target, request.events());
    return new Prepared(expected, told);
  }

  private void ourCanaryOrAbsent(Target target, String runId) {
    ourCanary(target, runId);
  }

  /**
   * The stable Deployment is what the run left it: its mark, strategy and template as expected, its
   * replicas one of {@code allowed} (what the run set before, or what this step sets).
   */
  static void checkStable(
      Deployment d, String runId, Expected expected, Set<Integer> allowed, Target target) {
    Marks.checkOurs(d, runId, target);
    List<String> diff = new ArrayList<>();
    if (!allowed.contains(Deployments.replicas(d))) {
      diff.add("spec.replicas " + expected.replicas() + " -> " + Deployments.replicas(d));
    }
    if (!Objects.equals(Deployments.strategyJson(d), expected.strategy())) {
      diff.add("spec.strategy " + expected.strategy() + " -> " + Deployments.strategyJson(d));
    }
    if (!Deployments.hash(d.getSpec().getTemplate()).equals(expected.templateHash())) {
      diff.add(
          "spec.template is not the one the run found (images now "
              + TemplateChange.images(d.getSpec().getTemplate())
              + ")");
    }
    if (Boolean.TRUE.equals(d.getSpec().getPaused())) {
      diff.add("spec.paused true: someone paused it");
    }
    if (!diff.isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", diff));
    }
  }

  /** The canary Deployment: the stable one's new template, selector and labels, plus the run's. */
  private Deployment newCanary(
      Deployment stable, TemplateChange.Result changed, String runId, int replicas) {
    Map<String, String> labels = new LinkedHashMap<>();
    if (stable.getMetadata().getLabels() != null) {
      labels.putAll(stable.getMetadata().getLabels());
    }
    labels.put(CanaryActivities.RUN_LABEL, runId);
    PodTemplateSpec template =
        Serialization.jsonMapper().convertValue(changed.template(), PodTemplateSpec.class);
    Map<String, String> podLabels = new LinkedHashMap<>(template.getMetadata().getLabels());
    podLabels.put(CanaryActivities.RUN_LABEL, runId);
    template.getMetadata().setLabels(podLabels);
    LabelSelector selector =
        Serialization.jsonMapper()
            .convertValue(stable.getSpec().getSelector(), LabelSelector.class);
    Map<String, String> match =
        new LinkedHashMap<>(
            selector.getMatchLabels() == null ? Map.of() : selector.getMatchLabels());
    match.put(CanaryActivities.RUN_LABEL, runId);
    selector.setMatchLabels(match);
    Deployment c = new Deployment();
    c.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMeta());
    c.getMetadata().setName(CanaryActivities.canaryName(stable.getMetadata().getName()));
    c.getMetadata().setNamespace(stable.getMetadata().getNamespace());
    c.getMetadata().setLabels(labels);
    c.getMetadata().setAnnotations(Map.of(CANARY_OF, stable.getMetadata().getName()));
    c.setSpec(new io.fabric8.kubernetes.api.model.apps.DeploymentSpec());
    c.getSpec().setReplicas(replicas);
    c.getSpec().setSelector(selector);
    c.getSpec().setTemplate(template);
    c.getSpec().setMinReadySeconds(stable.getSpec().getMinReadySeconds());
    c.getSpec().setProgressDeadlineSeconds(stable.getSpec().getProgressDeadlineSeconds());
    c.getSpec().setRevisionHistoryLimit(1);
    if (stable.getSpec().getStrategy() != null) {
      c.getSpec()
          .setStrategy(
              Serialization.jsonMapper()
                  .convertValue(stable.getSpec().getStrategy(), DeploymentStrategy.class));
    }
    return c;
  }

  void scale(Target target, String name, Deployment d, int replicas) {
    ObjectNode body = Serialization.jsonMapper().createObjectNode();
    body.putObject("metadata").put("resourceVersion", d.getMetadata().getResourceVersion());
    body.putObject("spec").put("replicas", replicas);
    try {
      client
          .apps()
          .deployments()
          .inNamespace(target.namespace())
          .withName(name)
          .patch(
              io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                  io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
              body.toString());
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not scale " + target.namespace() + "/" + name);
    }
    LOG.info("scaled {}/{} to {}", target.namespace(), name, replicas);
  }

  CanaryActivities.Weighted setWeight(CanaryActivities.WeightRequest request) {
    Target target = request.target();
    String canaryName = CanaryActivities.canaryName(target.name());
    ActivityExecutionContext context = Activity.getExecutionContext();
    Deployments.WaitProgress started = Deployments.progress(context, request.retry());
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt()).plusSeconds(request.timeoutSeconds());
    Map<String, Integer> baseline = new HashMap<>();
    int wantCanary = request.canaryReplicas();
    int wantStable = request.stableReplicas();
    try (ClusterWatch.Changes changes = deployments.changes(target)) {
      while (true) {
        Deployment d = deployments.require(target);
        checkStable(
            d,
            request.runId(),
            request.stable(),
            Set.copyOf(List.of(request.stable().replicas(), wantStable)),
            target);
        Deployment c = ourCanary(target, request.runId());
        if (c == null) {
          TemplateChange.Result changed;
          try {
            changed = Deployments.desired(d, deployments.replicaSets(d), request.change(), target);
          } catch (IllegalArgumentException e) {
            throw nonRetryable(FAILURE_REJECTED, e.getMessage());
          }
          try {
            client
                .apps()
                .deployments()
                .inNamespace(target.namespace())
                .resource(newCanary(d, changed, request.runId(), wantCanary))
                .create();
            LOG.info("created {}/{} with {} replicas", target.namespace(), canaryName, wantCanary);
          } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
              throw retryable(e, "could not create the canary of " + target);
            }
          }
          continue;
        }
        // Grow first: the Ready pods behind the Service never drop below the user's replicas.
        if (Deployments.replicas(c) < wantCanary) {
          scale(target, canaryName, c, wantCanary);
          continue;
        }
        if (Deployments.replicas(d) < wantStable) {
          scale(target, target.name(), d, wantStable);
          continue;
        }
        List<ReplicaSet> canarySets = deployments.replicaSets(c);
        Set<String> canaryNames = names(canarySets);
        List<UnitSnapshot> units = units(d, canaryNames);
        Deployments.failIfCrashLooping(
            units.stream().filter(u -> isCanary(u, target, canaryNames)).toList(),
            started,
            baseline,
            request.crashLoopRestarts(),
            "canary pod ",
            "");
        DeploymentCondition late = Deployments.deadlinePassed(c);
        if (late != null) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "deployment \"" + canaryName + "\" exceeded its progress deadline");
        }
        if (available(c) >= wantCanary && available(d) >= wantStable) {
          if (Deployments.replicas(c) > wantCanary) {
            scale(target, canaryName, c, wantCanary);
            continue;
          }
          if (Deployments.replicas(d) > wantStable) {
            scale(target, target.name(), d, wantStable);
            continue;
          }
        }
        long canaryPods = units.stream().filter(u -> isCanary(u, target, canaryNames)).count();
        long stablePods = units.size() - canaryPods;
        if (Deployments.replicas(c) == wantCanary
            && Deployments.replicas(d) == wantStable
            && Deployments.complete(c)
            && Deployments.complete(d)
            && canaryPods == wantCanary
            && stablePods == wantStable
            && units.stream().allMatch(UnitSnapshot::ready)) {
          ReplicaSet stableSet = Deployments.current(d, deployments.replicaSets(d));
          ReplicaSet canarySet = Deployments.current(c, canarySets);
          Set<String> stableNames = names(deployments.replicaSets(d));
          return new CanaryActivities.Weighted(
              new Expected(
                  request.stable().templateHash(),
                  Deployments.replicas(d),
                  Deployments.strategyJson(d)),
              stableSet == null ? null : stableSet.getMetadata().getName(),
              canarySet == null ? null : canarySet.getMetadata().getName(),
              units,
              traffic(d, stableNames, canaryNames, units));
        }
        if (Instant.now().isAfter(deadline)) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "the canary did not reach "
                  + wantCanary
                  + " Ready pods (and the stable Deployment "
                  + wantStable
                  + ") after "
                  + request.timeoutSeconds()
                  + "s");
        }
        context.heartbeat(started);
        deployments.await(changes, context, started, deadline);
      }
    }
  }

  CanaryActivities.Weighted promote(CanaryActivities.PromoteRequest request) {
    Target target = request.target();
    ActivityExecutionContext context = Activity.getExecutionContext();
    Deployments.WaitProgress started = Deployments.progress(context, request.retry());
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt()).plusSeconds(request.timeoutSeconds());
    Map<String, Integer> baseline = new HashMap<>();
    try (ClusterWatch.Changes changes = deployments.changes(target)) {
      while (true) {
        Deployment d = deployments.require(target);
        Marks.checkOurs(d, request.runId(), target);
        List<ReplicaSet> sets = deployments.replicaSets(d);
        TemplateChange.Result changed;
        try {
          changed = Deployments.desired(d, sets, request.change(), target);
        } catch (IllegalArgumentException e) {
          throw nonRetryable(FAILURE_REJECTED, e.getMessage());
        }
        boolean onOld =
            Deployments.hash(d.getSpec().getTemplate()).equals(request.stable().templateHash());
        if (onOld) {
          checkStable(
              d,
              request.runId(),
              request.stable(),
              Set.copyOf(List.of(request.stable().replicas(), request.replicas())),
              target);
          d.getSpec().setTemplate(changed.template());
          // The new template and the replicas in one write would be a scaling event first for the
          // Deployment controller (an active ReplicaSet's desired-replicas differ): it would scale
          // the old ReplicaSet back up to the full count, then roll. So while an old ReplicaSet
          // has pods, the template goes alone, with a strategy that starts all its new pods at
          // once and stops no old one before they are available; the replicas (and the user's
          // strategy) come back once the old ReplicaSets are at 0, when only the new one scales.
          boolean scalesOld =
              Deployments.replicas(d) != request.replicas()
                  && sets.stream().anyMatch(rs -> specReplicas(rs) > 0);
          if (scalesOld) {
            d.getSpec().setStrategy(promoting());
          } else {
            d.getSpec().setReplicas(request.replicas());
          }
          d.setStatus(null);
          try {
            client.apps().deployments().inNamespace(target.namespace()).resource(d).update();
          } catch (KubernetesClientException e) {
            throw retryable(e, "could not promote the canary of " + target);
          }
          LOG.info(
              scalesOld
                  ? "promoting {}: new template at {} replicas, then {}"
                  : "promoting {}: new template{}, {} replicas",
              target,
              scalesOld ? Deployments.replicas(d) : "",
              request.replicas());
          continue;
        }
        // Between the two writes: the new template at the stable share, the promoting strategy.
        boolean between =
            promoting(d)
                && Deployments.replicas(d) == request.stable().replicas()
                && Deployments.replicas(d) != request.replicas();
        List<String> diff = new ArrayList<>();
        if (!TemplateChange.same(d.getSpec().getTemplate(), changed.template())) {
          diff.add(
              "spec.template is neither the one the run found nor the new one (images now "
                  + TemplateChange.images(d.getSpec().getTemplate())
                  + ")");
        }
        if (!between && Deployments.replicas(d) != request.replicas()) {
          diff.add("spec.replicas " + request.replicas() + " -> " + Deployments.replicas(d));
        }
        if (!between && !Objects.equals(Deployments.strategyJson(d), request.stable().strategy())) {
          diff.add(
              "spec.strategy "
                  + request.stable().strategy()
                  + " -> "
                  + Deployments.strategyJson(d));
        }
        if (!diff.isEmpty()) {
          throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", diff));
        }
        ReplicaSet fresh = Deployments.current(d, sets);
        String name = fresh == null ? null : fresh.getMetadata().getName();
        Set<String> stableNames = names(sets);
        Deployment c = ourCanary(target, request.runId());
        Set<String> canaryNames = c == null ? Set.of() : names(deployments.replicaSets(c));
        List<UnitSnapshot> all = Deployments.units(deployments.pods(d), name);
        List<UnitSnapshot> stablePods =
            all.stream().filter(u -> !isCanary(u, target, canaryNames)).toList();
        Deployments.failIfCrashLooping(
            stablePods.stream().filter(u -> name != null && name.equals(u.revision())).toList(),
            started,
            baseline,
            request.crashLoopRestarts(),
            "pod ",
            " on " + name);
        DeploymentCondition late = Deployments.deadlinePassed(d);
        if (late != null) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "deployment \"" + target.name() + "\" exceeded its progress deadline");
        }
        if (between
            && Deployments.complete(d)
            && sets.stream()
                .filter(rs -> !rs.getMetadata().getName().equals(name))
                .allMatch(rs -> specReplicas(rs) == 0)) {
          // Only the new ReplicaSet is active: the controller scales it alone to the replicas.
          ObjectNode body = Serialization.jsonMapper().createObjectNode();
          body.putObject("metadata").put("resourceVersion", d.getMetadata().getResourceVersion());
          ObjectNode spec = body.putObject("spec");
          spec.put("replicas", request.replicas());
          spec.set("strategy", strategyPatch(request.stable().strategy()));
          deployments.patch(target, body.toString());
          LOG.info("promoting {}: {} replicas on the new template", target, request.replicas());
          continue;
        }
        boolean rolled =
            name != null
                && Deployments.complete(d)
                && stablePods.size() == request.replicas()
                && stablePods.stream().allMatch(u -> name.equals(u.revision()) && u.ready());
        if (rolled) {
          if (c != null) {
            deleteCanary(target);
            continue;
          }
          // The canary's pods go with it: wait them out, so nothing of the run is left.
          if (all.size() == stablePods.size() && !canaryPodsLeft(target, request.runId())) {
            return new CanaryActivities.Weighted(
                Deployments.expected(d),
                name,
                null,
                stablePods,
                traffic(d, stableNames, Set.of(), stablePods));
          }
        }
        if (Instant.now().isAfter(deadline)) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "the promotion of "
                  + target
                  + " did not complete after "
                  + request.timeoutSeconds()
                  + "s");
        }
        context.heartbeat(started);
        deployments.await(changes, context, started, deadline);
      }
    }
  }

  private static int specReplicas(ReplicaSet rs) {
    return rs.getSpec() == null || rs.getSpec().getReplicas() == null
        ? 0
        : rs.getSpec().getReplicas();
  }

  /**
   * The strategy of the stable Deployment between the promotion's two writes: every new pod at
   * once, no old one stopped before they are available (the canary serves meanwhile).
   */
  static DeploymentStrategy promoting() {
    return new io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder()
        .withType("RollingUpdate")
        .withNewRollingUpdate()
        .withMaxSurge(new io.fabric8.kubernetes.api.model.IntOrString("100%"))
        .withMaxUnavailable(new io.fabric8.kubernetes.api.model.IntOrString(0))
        .endRollingUpdate()
        .build();
  }

  static boolean promoting(Deployment d) {
    DeploymentStrategy s = d.getSpec().getStrategy();
    return s != null
        && "RollingUpdate".equals(s.getType())
        && s.getRollingUpdate() != null
        && s.getRollingUpdate().getMaxSurge() != null
        && "100%".equals(s.getRollingUpdate().getMaxSurge().getStrVal())
        && s.getRollingUpdate().getMaxUnavailable() != null
        && Integer.valueOf(0).equals(s.getRollingUpdate().getMaxUnavailable().getIntVal());
  }

  /** A merge patch's {@code spec.strategy} that makes it {@code strategyJson} exactly. */
  static ObjectNode strategyPatch(String strategyJson) {
    ObjectNode strategy =
        (ObjectNode)
            Serialization.jsonMapper()
                .valueToTree(Serialization.unmarshal(strategyJson, DeploymentStrategy.class));
    if (!strategy.hasNonNull("rollingUpdate")) {
      strategy.putNull("rollingUpdate");
    } else {
      ObjectNode rolling = (ObjectNode) strategy.get("rollingUpdate");
      for (String field : List.of("maxSurge", "maxUnavailable")) {
        if (!rolling.hasNonNull(field)) {
          rolling.putNull(field);
        }
      }
    }
    return strategy;
  }

  private void deleteCanary(Target target) {
    try {
      client
          .apps()
          .deployments()
          .inNamespace(target.namespace())
          .withName(CanaryActivities.canaryName(target.name()))
          .delete();
      LOG.info("deleted the canary of {}", target);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw retryable(e, "could not delete the canary of " + target);
      }
    }
  }

  private boolean canaryPodsLeft(Target target, String runId) {
    try {
      return !client
          .pods()
          .inNamespace(target.namespace())
          .withLabel(CanaryActivities.RUN_LABEL, runId)
          .list()
          .getItems()
          .isEmpty();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not list the canary's pods of " + target);
    }
  }

  CanaryActivities.Weighted revert(CanaryActivities.RevertRequest request) {
    Target target = request.target();
    ActivityExecutionContext context = Activity.getExecutionContext();
    Deployments.WaitProgress started = Deployments.progress(context, false);
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt())
            .plusSeconds(Math.max(60, request.timeoutSeconds()));
    Deployment d = deployments.require(target);
    String holder = Marks.annotation(d);
    if (holder != null && !holder.equals(request.runId())) {
      throw nonRetryable(
          FAILURE_TARGET_LOCKED, target + " is marked as being changed by Lockstep run " + holder);
    }
    ReplicaSet back = deployments.restoring(d, request.fromRevision(), target);
    if (holder != null) {
      // One write returns the stable Deployment as found; the canary goes once it is back.
      d.getMetadata().getAnnotations().remove(RUN_ANNOTATION);
      d.getMetadata().getAnnotations().remove(ORIGIN_ANNOTATION);
      if (!TemplateChange.same(d.getSpec().getTemplate(), Deployments.templateOf(back))) {
        d.getSpec().setTemplate(Deployments.templateOf(back));
      }
      d.getSpec().setReplicas(request.replicas());
      if (request.strategy() != null) {
        d.getSpec()
            .setStrategy(Serialization.unmarshal(request.strategy(), DeploymentStrategy.class));
      }
      d.getSpec().setPaused(null);
      d.setStatus(null);
      try {
        client.apps().deployments().inNamespace(target.namespace()).resource(d).update();
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not return " + target + " to " + request.fromRevision());
      }
      LOG.info(
          "returned {} to {} with {} replicas", target, request.fromRevision(), request.replicas());
    }
    try (ClusterWatch.Changes changes = deployments.changes(target)) {
      while (true) {
        d = deployments.require(target);
        String name = request.fromRevision();
        Deployment c = ourCanary(target, request.runId());
        Set<String> canaryNames = c == null ? Set.of() : names(deployments.replicaSets(c));
        List<UnitSnapshot> all = Deployments.units(deployments.pods(d), name);
        List<UnitSnapshot> stablePods =
            all.stream().filter(u -> !isCanary(u, target, canaryNames)).toList();
        boolean back0 =
            Deployments.complete(d)
                && stablePods.size() == request.replicas()
                && stablePods.stream().allMatch(u -> name.equals(u.revision()) && u.ready());
        if (back0) {
          if (c != null) {
            deleteCanary(target);
            continue;
          }
          if (!canaryPodsLeft(target, request.runId())) {
            return new CanaryActivities.Weighted(
                Deployments.expected(d),
                name,
                null,
                stablePods,
                traffic(d, names(deployments.replicaSets(d)), Set.of(), stablePods));
          }
        }
        if (Instant.now().isAfter(deadline)) {
          throw ApplicationFailure.newFailure(
              "timed out waiting for every pod of " + target + " Ready on " + name + ", no canary",
              "Timeout");
        }
        context.heartbeat(started);
        deployments.await(changes, context, started, deadline);
      }
    }
  }

  void release(CanaryActivities.ReleaseRequest request) {
    Target target = request.target();
    Deployment d = deployments.require(target);
    if (request.runId().equals(Marks.annotation(d))) {
      ObjectNode body = Serialization.jsonMapper().createObjectNode();
      ObjectNode meta = body.putObject("metadata");
      meta.put("resourceVersion", d.getMetadata().getResourceVersion());
      ObjectNode annotations = meta.putObject("annotations");
      annotations.putNull(RUN_ANNOTATION);
      annotations.putNull(ORIGIN_ANNOTATION);
      // The user's replicas back, unless someone else changed them since; and the user's
      // strategy, if a promotion stopped between its two writes.
      if (request.stable() != null && Deployments.replicas(d) == request.stable().replicas()) {
        body.putObject("spec").put("replicas", request.replicas());
      }
      if (request.stable() != null && request.stable().strategy() != null && promoting(d)) {
        body.with("spec").set("strategy", strategyPatch(request.stable().strategy()));
      }
      deployments.patch(target, body.toString());
    }
    if (ourCanary(target, request.runId()) != null) {
      deleteCanary(target);
    }
  }
}
