package dev.lockstep.activities;

import static dev.lockstep.activities.StatefulSets.nonRetryable;
import static dev.lockstep.activities.StatefulSets.retryable;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_REJECTED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_CHANGED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_LOCKED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_UNIT_FAILED;
import static dev.lockstep.workflows.ClusterActivities.ORIGIN_ANNOTATION;
import static dev.lockstep.workflows.ClusterActivities.RUN_ANNOTATION;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.BlueGreenActivities;
import dev.lockstep.workflows.BlueGreenActivities.Active;
import dev.lockstep.workflows.BlueGreenActivities.Switched;
import dev.lockstep.workflows.CanaryActivities;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.DeploymentActivities.Expected;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.DeploymentSpec;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategy;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
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
 * A Deployment's blue-green, with fabric8 (DESIGN.md, "Deployments", blueGreen). The active Service
 * takes four selectors in turn, each written whole with the Service's resourceVersion: as found
 * ({@code S}); {@code S} plus the user's pods' {@code pod-template-hash} while the preview starts
 * (the same pods, but not the preview's, whose pods carry every label of {@code S}); {@code S} plus
 * {@link BlueGreenActivities#PREVIEW_LABEL} at the switch; {@code S} plus the user's new {@code
 * pod-template-hash} once the user's Deployment is rolled; and {@code S} again once the preview's
 * pods are gone. Each is written only when every pod it selects is Ready, so the Service never
 * selects a pod that is not Ready (a pod starting or terminating) and never selects nothing. The
 * selector as found is kept in an annotation on the Service ({@link #SELECTOR_ANNOTATION}) beside
 * the run's mark, so that a retry, a return and {@code repair} can put it back.
 */
final class BlueGreens {
  private static final Logger LOG = LoggerFactory.getLogger(BlueGreens.class);
  static final String SELECTOR_ANNOTATION = "lockstep.dev/selector";
  static final String PREVIEW_OF = "lockstep.dev/preview-of";

  private final KubernetesClient client;
  private final Deployments deployments;
  private final Canaries canaries;

  BlueGreens(KubernetesClient client, Deployments deployments, Canaries canaries) {
    this.client = client;
    this.deployments = deployments;
    this.canaries = canaries;
  }

  // ---- selectors ------------------------------------------------------------------------------

  private static Map<String, String> plus(Map<String, String> found, String key, String value) {
    Map<String, String> m = new LinkedHashMap<>(found);
    m.put(key, value);
    return m;
  }

  private static Map<String, String> fenced(Active a) {
    return plus(a.selector(), Deployments.HASH_LABEL, a.oldHash());
  }

  private static Map<String, String> toPreview(Active a, String runId) {
    return plus(a.selector(), BlueGreenActivities.PREVIEW_LABEL, runId);
  }

  private static Map<String, String> onHash(Active a, String hash) {
    return plus(a.selector(), Deployments.HASH_LABEL, hash);
  }

  private static Map<String, String> selector(Service s) {
    return s.getSpec() == null || s.getSpec().getSelector() == null
        ? Map.of()
        : s.getSpec().getSelector();
  }

  private static String ports(Service s) {
    return s.getSpec() == null || s.getSpec().getPorts() == null
        ? "[]"
        : Serialization.asJson(s.getSpec().getPorts());
  }

  private static String hashOf(ReplicaSet rs) {
    return rs == null || rs.getMetadata().getLabels() == null
        ? null
        : rs.getMetadata().getLabels().get(Deployments.HASH_LABEL);
  }

  // ---- reading --------------------------------------------------------------------------------

  private Service service(String namespace, String name) {
    try {
      return client.services().inNamespace(namespace).withName(name).get();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not read service " + namespace + "/" + name);
    }
  }

  /** The active Service: checked against what the run wrote, else someone else changed it. */
  private Service active(Target target, Active a, String runId, List<Map<String, String>> allowed) {
    Service s = service(target.namespace(), a.service());
    if (s == null) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED, "service " + a.service() + " was deleted during the run");
    }
    List<String> diff = new ArrayList<>();
    if (!runId.equals(Marks.annotation(s))) {
      diff.add(
          "service "
              + a.service()
              + " is no longer marked by this run ("
              + RUN_ANNOTATION
              + "="
              + Marks.annotation(s)
              + ")");
    }
    if (!allowed.contains(selector(s))) {
      diff.add(
          "service "
              + a.service()
              + ": spec.selector "
              + allowed.get(allowed.size() - 1)
              + " -> "
              + selector(s));
    }
    if (!Objects.equals(ports(s), a.ports())) {
      diff.add("service " + a.service() + ": spec.ports " + a.ports() + " -> " + ports(s));
    }
    if (!diff.isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", diff));
    }
    return s;
  }

  /** The Service that selects the Deployment's pods (not a preview Service), by name; or null. */
  private Service findActive(Deployment d) {
    Map<String, String> labels =
        d.getSpec().getTemplate().getMetadata() == null
                || d.getSpec().getTemplate().getMetadata().getLabels() == null
            ? Map.of()
            : d.getSpec().getTemplate().getMetadata().getLabels();
    try {
      return client
          .services()
          .inNamespace(d.getMetadata().getNamespace())
          .list()
          .getItems()
          .stream()
          .filter(
              s ->
                  s.getMetadata().getLabels() == null
                      || !s.getMetadata().getLabels().containsKey(CanaryActivities.RUN_LABEL))
          .filter(
              s -> {
                // A Service this run already narrowed matches on its selector as found.
                Map<String, String> sel = foundSelector(s);
                return !sel.isEmpty()
                    && sel.entrySet().stream()
                        .allMatch(e -> e.getValue().equals(labels.get(e.getKey())));
              })
          .min(Comparator.comparing(s -> s.getMetadata().getName()))
          .orElse(null);
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not list the Services of " + d.getMetadata().getNamespace());
    }
  }

  /** The Service's selector as found: the run's annotation when it has one, else its selector. */
  private static Map<String, String> foundSelector(Service s) {
    String kept =
        s.getMetadata().getAnnotations() == null
            ? null
            : s.getMetadata().getAnnotations().get(SELECTOR_ANNOTATION);
    if (kept != null) {
      try {
        return Serialization.jsonMapper()
            .readValue(kept, new TypeReference<Map<String, String>>() {});
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        LOG.warn("ignoring an unreadable {} on {}", SELECTOR_ANNOTATION, s.getMetadata().getName());
      }
    }
    return selector(s);
  }

  private Deployment preview(Target target) {
    try {
      return client
          .apps()
          .deployments()
          .inNamespace(target.namespace())
          .withName(BlueGreenActivities.previewName(target.name()))
          .get();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not read the preview of " + target);
    }
  }

  private static String runLabel(io.fabric8.kubernetes.api.model.HasMetadata o) {
    return o.getMetadata().getLabels() == null
        ? null
        : o.getMetadata().getLabels().get(CanaryActivities.RUN_LABEL);
  }

  private static ApplicationFailure notOurs(Target target, String kind, String name, String label) {
    return nonRetryable(
        FAILURE_TARGET_LOCKED,
        kind
            + " "
            + target.namespace()
            + "/"
            + name
            + " exists and is not this run's preview ("
            + CanaryActivities.RUN_LABEL
            + "="
            + label
            + "): remove it, or run `lockstep repair "
            + target
            + "` if a dead run left it");
  }

  /** The preview of this run, or null; someone else's Deployment of that name fails the step. */
  private Deployment ourPreview(Target target, String runId) {
    Deployment p = preview(target);
    if (p != null && !runId.equals(runLabel(p))) {
      throw notOurs(target, "deployment", p.getMetadata().getName(), runLabel(p));
    }
    return p;
  }

  /** The preview Service of this run, or null; someone else's of that name fails the step. */
  private Service ourPreviewService(Target target, String name, String runId) {
    Service s = service(target.namespace(), name);
    if (s != null && !runId.equals(runLabel(s))) {
      throw notOurs(target, "service", name, runLabel(s));
    }
    return s;
  }

  private static Set<String> names(List<ReplicaSet> sets) {
    Set<String> names = new HashSet<>();
    sets.forEach(rs -> names.add(rs.getMetadata().getName()));
    return names;
  }

  /**
   * Whether a pod is the preview's: owned by one of its ReplicaSets or by one named after it, so
   * that pods of a deleted preview still count as the preview's until they are gone.
   */
  private static boolean isPreview(UnitSnapshot pod, Target target, Set<String> previewSets) {
    return pod.revision() != null
        && (previewSets.contains(pod.revision())
            || pod.revision().startsWith(BlueGreenActivities.previewName(target.name()) + "-"));
  }

  private boolean previewPodsLeft(Target target, String runId) {
    try {
      return !client
          .pods()
          .inNamespace(target.namespace())
          .withLabel(BlueGreenActivities.PREVIEW_LABEL, runId)
          .list()
          .getItems()
          .isEmpty();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not list the preview's pods of " + target);
    }
  }

  /** Where the active Service sends traffic: its Ready endpoints on each side. */
  private BlueGreenActivities.ServiceTraffic traffic(
      Target target, String service, Set<String> previewSets, List<UnitSnapshot> pods) {
    Map<String, Boolean> endpoints;
    try {
      endpoints = canaries.readyEndpoints(target.namespace(), service);
    } catch (KubernetesClientException e) {
      LOG.warn("could not list the EndpointSlices of {}: {}", service, e.getMessage());
      return null;
    }
    Map<String, UnitSnapshot> byName = new HashMap<>();
    pods.forEach(u -> byName.put(u.name(), u));
    int active = 0;
    int preview = 0;
    for (Map.Entry<String, Boolean> e : endpoints.entrySet()) {
      UnitSnapshot u = byName.get(e.getKey());
      if (!e.getValue() || u == null) {
        continue;
      }
      if (isPreview(u, target, previewSets)) {
        preview++;
      } else {
        active++;
      }
    }
    return new BlueGreenActivities.ServiceTraffic(service, active, preview);
  }

  /** Both Deployments' pods (the preview's first) and the Service's traffic, as seen now. */
  private Switched seen(Target target, Deployment d, Deployment p, String service) {
    List<ReplicaSet> sets = deployments.replicaSets(d);
    List<ReplicaSet> previewSets = p == null ? List.of() : deployments.replicaSets(p);
    ReplicaSet stableSet = Deployments.current(d, sets);
    ReplicaSet previewSet = p == null ? null : Deployments.current(p, previewSets);
    String previewName = previewSet == null ? null : previewSet.getMetadata().getName();
    List<UnitSnapshot> units = Deployments.units(deployments.pods(d), previewName);
    return new Switched(
        Deployments.expected(d),
        stableSet == null ? null : stableSet.getMetadata().getName(),
        previewName,
        units,
        service == null ? null : traffic(target, service, names(previewSets), units));
  }

  // ---- writes ---------------------------------------------------------------------------------

  private void setSelector(Service s, Map<String, String> selector, boolean unmark) {
    // A merge patch with the Service's resourceVersion: the whole selector (keys it no longer has
    // set to null), refused when someone else wrote the Service since it was read.
    ObjectNode body = Serialization.jsonMapper().createObjectNode();
    ObjectNode meta = body.putObject("metadata");
    meta.put("resourceVersion", s.getMetadata().getResourceVersion());
    if (unmark) {
      ObjectNode annotations = meta.putObject("annotations");
      annotations.putNull(RUN_ANNOTATION);
      annotations.putNull(SELECTOR_ANNOTATION);
    }
    ObjectNode sel = body.putObject("spec").putObject("selector");
    selector(s).keySet().forEach(k -> sel.putNull(k));
    selector.forEach(sel::put);
    try {
      client
          .services()
          .inNamespace(s.getMetadata().getNamespace())
          .withName(s.getMetadata().getName())
          .patch(
              io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                  io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
              body.toString());
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not write the selector of service " + s.getMetadata().getName());
    }
    LOG.info("service {}: selector {}", s.getMetadata().getName(), selector);
  }

  private void delete(Target target, boolean deployment, String name) {
    try {
      if (deployment) {
        client.apps().deployments().inNamespace(target.namespace()).withName(name).delete();
      } else {
        client.services().inNamespace(target.namespace()).withName(name).delete();
      }
      LOG.info("deleted {} {}/{}", deployment ? "deployment" : "service", target.namespace(), name);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw retryable(e, "could not delete " + target.namespace() + "/" + name);
      }
    }
  }

  BlueGreenActivities.Marked prepare(BlueGreenActivities.PrepareRequest request) {
    Target target = request.target();
    Deployment d = deployments.require(target);
    Marks.checkNotLocked(d, request.runId(), target);
    ourPreview(target, request.runId());
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
    Service s = findActive(d);
    if (s == null) {
      throw nonRetryable(
          FAILURE_REJECTED,
          "a blue-green needs a Service that selects the pods of "
              + target
              + ", and none in namespace "
              + target.namespace()
              + " does: use --strategy rolling or canary");
    }
    Marks.checkNotLocked(s, request.runId(), target);
    String previewService =
        request.previewService() != null
            ? request.previewService()
            : s.getMetadata().getName() + "-preview";
    ourPreviewService(target, previewService, request.runId());
    ReplicaSet from = deployments.restoring(d, request.fromRevision(), target);
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
    }
    Map<String, String> found = foundSelector(s);
    if (!request.runId().equals(Marks.annotation(s))) {
      ObjectNode body = Serialization.jsonMapper().createObjectNode();
      ObjectNode meta = body.putObject("metadata");
      meta.put("resourceVersion", s.getMetadata().getResourceVersion());
      ObjectNode annotations = meta.putObject("annotations");
      annotations.put(RUN_ANNOTATION, request.runId());
      annotations.put(SELECTOR_ANNOTATION, Serialization.asJson(found));
      try {
        client
            .services()
            .inNamespace(target.namespace())
            .withName(s.getMetadata().getName())
            .patch(
                io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                    io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
                body.toString());
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not mark service " + s.getMetadata().getName());
      }
      LOG.info("marked service {} for a blue-green of {}", s.getMetadata().getName(), target);
    }
    if (!request.runId().equals(Marks.annotation(d))) {
      deployments.mark(target, d, request.runId(), request.origin());
      LOG.info("marked {} for a blue-green", target);
    }
    Expected expected = Deployments.expected(d);
    boolean told = deployments.toldStart(d, request.cluster(), target, request.events());
    return new BlueGreenActivities.Marked(
        expected,
        new Active(s.getMetadata().getName(), found, ports(s), previewService, hashOf(from)),
        told);
  }

  /** The preview Deployment: the user's new template, selector and labels, plus the run's. */
  private static Deployment newPreview(
      Deployment user, TemplateChange.Result changed, String runId, int replicas) {
    Map<String, String> labels = new LinkedHashMap<>();
    if (user.getMetadata().getLabels() != null) {
      labels.putAll(user.getMetadata().getLabels());
    }
    labels.put(CanaryActivities.RUN_LABEL, runId);
    PodTemplateSpec template =
        Serialization.jsonMapper().convertValue(changed.template(), PodTemplateSpec.class);
    Map<String, String> podLabels = new LinkedHashMap<>(template.getMetadata().getLabels());
    podLabels.put(CanaryActivities.RUN_LABEL, runId);
    podLabels.put(BlueGreenActivities.PREVIEW_LABEL, runId);
    template.getMetadata().setLabels(podLabels);
    LabelSelector selector =
        Serialization.jsonMapper().convertValue(user.getSpec().getSelector(), LabelSelector.class);
    Map<String, String> match =
        new LinkedHashMap<>(
            selector.getMatchLabels() == null ? Map.of() : selector.getMatchLabels());
    match.put(CanaryActivities.RUN_LABEL, runId);
    match.put(BlueGreenActivities.PREVIEW_LABEL, runId);
    selector.setMatchLabels(match);
    Deployment p = new Deployment();
    p.setMetadata(new ObjectMeta());
    p.getMetadata().setName(BlueGreenActivities.previewName(user.getMetadata().getName()));
    p.getMetadata().setNamespace(user.getMetadata().getNamespace());
    p.getMetadata().setLabels(labels);
    p.getMetadata().setAnnotations(Map.of(PREVIEW_OF, user.getMetadata().getName()));
    p.setSpec(new DeploymentSpec());
    p.getSpec().setReplicas(replicas);
    p.getSpec().setSelector(selector);
    p.getSpec().setTemplate(template);
    p.getSpec().setMinReadySeconds(user.getSpec().getMinReadySeconds());
    p.getSpec().setProgressDeadlineSeconds(user.getSpec().getProgressDeadlineSeconds());
    p.getSpec().setRevisionHistoryLimit(1);
    if (user.getSpec().getStrategy() != null) {
      p.getSpec()
          .setStrategy(
              Serialization.jsonMapper()
                  .convertValue(user.getSpec().getStrategy(), DeploymentStrategy.class));
    }
    return p;
  }

  /** The preview Service: the active one's ports, selecting only the preview's pods. */
  private static Service newPreviewService(Service active, Active a, String runId) {
    Service s = new Service();
    s.setMetadata(new ObjectMeta());
    s.getMetadata().setName(a.previewService());
    s.getMetadata().setNamespace(active.getMetadata().getNamespace());
    s.getMetadata().setLabels(Map.of(CanaryActivities.RUN_LABEL, runId));
    s.getMetadata().setAnnotations(Map.of(PREVIEW_OF, a.service()));
    s.setSpec(new ServiceSpec());
    s.getSpec().setSelector(toPreview(a, runId));
    List<ServicePort> ports = new ArrayList<>();
    if (active.getSpec().getPorts() != null) {
      for (ServicePort p : active.getSpec().getPorts()) {
        ServicePort copy = new ServicePort();
        copy.setName(p.getName());
        copy.setPort(p.getPort());
        copy.setProtocol(p.getProtocol());
        copy.setTargetPort(p.getTargetPort());
        copy.setAppProtocol(p.getAppProtocol());
        ports.add(copy);
      }
    }
    s.getSpec().setPorts(ports);
    return s;
  }

  private void checkCrashLoops(
      List<UnitSnapshot> pods,
      Deployments.WaitProgress started,
      Map<String, Integer> baseline,
      int threshold,
      String what) {
    Deployments.failIfCrashLooping(pods, started, baseline, threshold, what + " pod ", "");
  }

  Switched preview(BlueGreenActivities.StepRequest request) {
    Target target = request.target();
    Active a = request.active();
    String previewName = BlueGreenActivities.previewName(target.name());
    ActivityExecutionContext context = Activity.getExecutionContext();
    Deployments.WaitProgress started = Deployments.progress(context, request.retry());
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt()).plusSeconds(request.timeoutSeconds());
    Map<String, Integer> baseline = new HashMap<>();
    try (ClusterWatch.Changes changes = deployments.changes(target)) {
      while (true) {
        Deployment d = deployments.require(target);
        Canaries.checkStable(
            d, request.runId(), request.stable(), Set.of(request.stable().replicas()), target);
        Service s = active(target, a, request.runId(), List.of(a.selector(), fenced(a)));
        if (!selector(s).equals(fenced(a))) {
          // The user's pods only, before any preview pod (which carries every label of S) exists.
          setSelector(s, fenced(a), false);
          continue;
        }
        if (ourPreviewService(target, a.previewService(), request.runId()) == null) {
          try {
            client
                .services()
                .inNamespace(target.namespace())
                .resource(newPreviewService(s, a, request.runId()))
                .create();
            LOG.info("created service {}/{}", target.namespace(), a.previewService());
          } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
              throw retryable(e, "could not create the preview Service of " + target);
            }
          }
          continue;
        }
        Deployment p = ourPreview(target, request.runId());
        if (p == null) {
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
                .resource(newPreview(d, changed, request.runId(), request.replicas()))
                .create();
            LOG.info(
                "created {}/{} with {} replicas",
                target.namespace(),
                previewName,
                request.replicas());
          } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
              throw retryable(e, "could not create the preview of " + target);
            }
          }
          continue;
        }
        if (Deployments.replicas(p) != request.replicas()) {
          canaries.scale(target, previewName, p, request.replicas());
          continue;
        }
        Switched now = seen(target, d, p, a.service());
        Set<String> previewSets = names(deployments.replicaSets(p));
        List<UnitSnapshot> previewPods =
            now.units().stream().filter(u -> isPreview(u, target, previewSets)).toList();
        checkCrashLoops(previewPods, started, baseline, request.crashLoopRestarts(), "preview");
        DeploymentCondition late = Deployments.deadlinePassed(p);
        if (late != null) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "deployment \"" + previewName + "\" exceeded its progress deadline");
        }
        if (Deployments.complete(p)
            && previewPods.size() == request.replicas()
            && previewPods.stream()
                .allMatch(u -> u.ready() && Objects.equals(u.revision(), now.previewRevision()))) {
          return now;
        }
        if (Instant.now().isAfter(deadline)) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "the preview did not reach "
                  + request.replicas()
                  + " Ready pods after "
                  + request.timeoutSeconds()
                  + "s");
        }
        context.heartbeat(started);
        deployments.await(changes, context, started, deadline);
      }
    }
  }

  Switched switchTraffic(BlueGreenActivities.SwitchRequest request) {
    Target target = request.target();
    Active a = request.active();
    ActivityExecutionContext context = Activity.getExecutionContext();
    Deployments.WaitProgress started = Deployments.progress(context, false);
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt()).plusSeconds(request.timeoutSeconds());
    while (true) {
      Deployment d = deployments.require(target);
      Canaries.checkStable(
          d, request.runId(), request.stable(), Set.of(request.stable().replicas()), target);
      Deployment p = ourPreview(target, request.runId());
      String newHash = hashOf(Deployments.current(d, deployments.replicaSets(d)));
      Map<String, String> want =
          request.toPreview() ? toPreview(a, request.runId()) : onHash(a, newHash);
      Service s =
          active(
              target,
              a,
              request.runId(),
              request.toPreview()
                  ? List.of(fenced(a), want)
                  : List.of(toPreview(a, request.runId()), want));
      Switched now = seen(target, d, p, a.service());
      Set<String> previewSets = p == null ? Set.of() : names(deployments.replicaSets(p));
      List<UnitSnapshot> to =
          now.units().stream()
              .filter(
                  u ->
                      request.toPreview()
                          ? isPreview(u, target, previewSets)
                          : Objects.equals(u.revision(), now.stableRevision()))
              .toList();
      if (!selector(s).equals(want)) {
        if (to.size() != request.stable().replicas()
            || !to.stream().allMatch(UnitSnapshot::ready)) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "not switching service "
                  + a.service()
                  + ": "
                  + to.stream().filter(UnitSnapshot::ready).count()
                  + " of "
                  + request.stable().replicas()
                  + " pods it would select are Ready");
        }
        setSelector(s, want, false);
        continue;
      }
      // Done once the Service's EndpointSlices list exactly those pods, each Ready.
      Map<String, Boolean> endpoints = canaries.readyEndpoints(target.namespace(), a.service());
      Set<String> names = new HashSet<>();
      to.forEach(u -> names.add(u.name()));
      if (endpoints.keySet().equals(names) && endpoints.values().stream().allMatch(r -> r)) {
        return now;
      }
      if (Instant.now().isAfter(deadline)) {
        throw nonRetryable(
            FAILURE_UNIT_FAILED,
            "the EndpointSlices of service "
                + a.service()
                + " did not follow its selector after "
                + request.timeoutSeconds()
                + "s");
      }
      context.heartbeat(started);
      Deployments.sleep();
    }
  }

  Switched promote(BlueGreenActivities.StepRequest request) {
    Target target = request.target();
    Active a = request.active();
    ActivityExecutionContext context = Activity.getExecutionContext();
    Deployments.WaitProgress started = Deployments.progress(context, request.retry());
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt()).plusSeconds(request.timeoutSeconds());
    Map<String, Integer> baseline = new HashMap<>();
    try (ClusterWatch.Changes changes = deployments.changes(target)) {
      while (true) {
        Deployment d = deployments.require(target);
        Marks.checkOurs(d, request.runId(), target);
        active(target, a, request.runId(), List.of(toPreview(a, request.runId())));
        List<ReplicaSet> sets = deployments.replicaSets(d);
        TemplateChange.Result changed;
        try {
          changed = Deployments.desired(d, sets, request.change(), target);
        } catch (IllegalArgumentException e) {
          throw nonRetryable(FAILURE_REJECTED, e.getMessage());
        }
        if (Deployments.hash(d.getSpec().getTemplate()).equals(request.stable().templateHash())) {
          Canaries.checkStable(
              d, request.runId(), request.stable(), Set.of(request.stable().replicas()), target);
          // The new template in one write: the user's own strategy rolls it, with no traffic on it.
          d.getSpec().setTemplate(changed.template());
          d.setStatus(null);
          try {
            client.apps().deployments().inNamespace(target.namespace()).resource(d).update();
          } catch (KubernetesClientException e) {
            throw retryable(e, "could not roll " + target + " to the new template");
          }
          LOG.info("rolling {} to the new template behind the preview", target);
          continue;
        }
        List<String> diff = new ArrayList<>();
        if (!TemplateChange.same(d.getSpec().getTemplate(), changed.template())) {
          diff.add(
              "spec.template is neither the one the run found nor the new one (images now "
                  + TemplateChange.images(d.getSpec().getTemplate())
                  + ")");
        }
        if (Deployments.replicas(d) != request.replicas()) {
          diff.add("spec.replicas " + request.replicas() + " -> " + Deployments.replicas(d));
        }
        if (!Objects.equals(Deployments.strategyJson(d), request.stable().strategy())) {
          diff.add(
              "spec.strategy "
                  + request.stable().strategy()
                  + " -> "
                  + Deployments.strategyJson(d));
        }
        if (!diff.isEmpty()) {
          throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", diff));
        }
        Deployment p = ourPreview(target, request.runId());
        Switched now = seen(target, d, p, a.service());
        Set<String> previewSets = p == null ? Set.of() : names(deployments.replicaSets(p));
        List<UnitSnapshot> userPods =
            now.units().stream().filter(u -> !isPreview(u, target, previewSets)).toList();
        checkCrashLoops(
            userPods.stream()
                .filter(u -> Objects.equals(u.revision(), now.stableRevision()))
                .toList(),
            started,
            baseline,
            request.crashLoopRestarts(),
            "new");
        if (Deployments.deadlinePassed(d) != null) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "deployment \"" + target.name() + "\" exceeded its progress deadline");
        }
        if (now.stableRevision() != null
            && Deployments.complete(d)
            && userPods.size() == request.replicas()
            && userPods.stream()
                .allMatch(u -> u.ready() && now.stableRevision().equals(u.revision()))) {
          return now;
        }
        if (Instant.now().isAfter(deadline)) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "the rollout of "
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

  Switched scaleDown(BlueGreenActivities.StepRequest request) {
    Target target = request.target();
    Active a = request.active();
    ActivityExecutionContext context = Activity.getExecutionContext();
    Deployments.WaitProgress started = Deployments.progress(context, false);
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt())
            .plusSeconds(Math.max(60, request.timeoutSeconds()));
    try (ClusterWatch.Changes changes = deployments.changes(target)) {
      while (true) {
        Deployment d = deployments.require(target);
        Canaries.checkStable(
            d, request.runId(), request.stable(), Set.of(request.stable().replicas()), target);
        String newHash = hashOf(Deployments.current(d, deployments.replicaSets(d)));
        Service s = service(target.namespace(), a.service());
        boolean marked = s != null && request.runId().equals(Marks.annotation(s));
        if (marked) {
          s = active(target, a, request.runId(), List.of(a.selector(), onHash(a, newHash)));
        } else if (s == null || !selector(s).equals(a.selector())) {
          // Unmarked: done before, unless someone else changed it since.
          s = active(target, a, request.runId(), List.of(a.selector()));
        }
        Deployment p = ourPreview(target, request.runId());
        if (p != null) {
          delete(target, true, p.getMetadata().getName());
          continue;
        }
        if (ourPreviewService(target, a.previewService(), request.runId()) != null) {
          delete(target, false, a.previewService());
          continue;
        }
        if (!previewPodsLeft(target, request.runId())) {
          if (marked) {
            // The preview's pods are gone: S selects exactly the user's pods now.
            setSelector(s, a.selector(), true);
            continue;
          }
          return seen(target, d, null, a.service());
        }
        if (Instant.now().isAfter(deadline)) {
          throw ApplicationFailure.newFailure(
              "timed out waiting for the preview's pods of " + target + " to go", "Timeout");
        }
        context.heartbeat(started);
        deployments.await(changes, context, started, deadline);
      }
    }
  }

  /** The Service this run marked when the workflow never learnt of it (prepare's retry). */
  private Active markedActive(Target target, String runId, String oldHash) {
    try {
      for (Service s : client.services().inNamespace(target.namespace()).list().getItems()) {
        if (runId.equals(Marks.annotation(s))) {
          return new Active(
              s.getMetadata().getName(),
              foundSelector(s),
              ports(s),
              s.getMetadata().getName() + "-preview",
              oldHash);
        }
      }
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not list the Services of " + target.namespace());
    }
    return null;
  }

  Switched revert(BlueGreenActivities.RevertRequest request) {
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
    String oldHash = hashOf(back);
    Active a =
        request.active() != null
            ? request.active()
            : markedActive(target, request.runId(), oldHash);
    String name = request.fromRevision();
    try (ClusterWatch.Changes changes = deployments.changes(target)) {
      while (true) {
        d = deployments.require(target);
        Deployment p = ourPreview(target, request.runId());
        Service s = a == null ? null : service(target.namespace(), a.service());
        boolean serviceOurs = s != null && request.runId().equals(Marks.annotation(s));
        if (serviceOurs && !Objects.equals(ports(s), a.ports())) {
          throw nonRetryable(
              FAILURE_TARGET_CHANGED,
              "service " + a.service() + ": spec.ports " + a.ports() + " -> " + ports(s));
        }
        Switched now = seen(target, d, p, serviceOurs ? a.service() : null);
        Set<String> previewSets = p == null ? Set.of() : names(deployments.replicaSets(p));
        List<UnitSnapshot> previewPods =
            now.units().stream().filter(u -> isPreview(u, target, previewSets)).toList();
        List<UnitSnapshot> userPods =
            now.units().stream().filter(u -> !isPreview(u, target, previewSets)).toList();
        boolean templateBack =
            TemplateChange.same(d.getSpec().getTemplate(), Deployments.templateOf(back));
        if (request.runId().equals(Marks.annotation(d))) {
          if (!templateBack
              && serviceOurs
              && p != null
              && !selector(s).equals(toPreview(a, request.runId()))
              && previewPods.size() == Deployments.replicas(p)
              && !previewPods.isEmpty()
              && previewPods.stream().allMatch(UnitSnapshot::ready)) {
            // The user's Deployment goes back while the preview's Ready pods take the traffic.
            setSelector(s, toPreview(a, request.runId()), false);
            continue;
          }
          // One write returns the user's Deployment as found: template, replicas, strategy, mark.
          d.getMetadata().getAnnotations().remove(RUN_ANNOTATION);
          d.getMetadata().getAnnotations().remove(ORIGIN_ANNOTATION);
          if (!templateBack) {
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
            throw retryable(e, "could not return " + target + " to " + name);
          }
          LOG.info("returned {} to {} with {} replicas", target, name, request.replicas());
          continue;
        }
        boolean userBack =
            Deployments.complete(d)
                && userPods.size() == request.replicas()
                && userPods.stream().allMatch(u -> name.equals(u.revision()) && u.ready());
        if (userBack) {
          if (serviceOurs) {
            Map<String, String> fence = onHash(a, oldHash);
            if (p != null || !previewPods.isEmpty() || previewPodsLeft(target, request.runId())) {
              if (!selector(s).equals(fence)) {
                // Switch back at once: the user's Ready pods only, before the preview's go.
                setSelector(s, fence, false);
                continue;
              }
            } else {
              setSelector(s, a.selector(), true);
              continue;
            }
          }
          if (p != null) {
            delete(target, true, p.getMetadata().getName());
            continue;
          }
          if (a != null && ourPreviewService(target, a.previewService(), request.runId()) != null) {
            delete(target, false, a.previewService());
            continue;
          }
          if (!previewPodsLeft(target, request.runId()) && !serviceOurs) {
            return now;
          }
        }
        if (Instant.now().isAfter(deadline)) {
          throw ApplicationFailure.newFailure(
              "timed out waiting for every pod of "
                  + target
                  + " Ready on "
                  + name
                  + ", no preview, its Service as found",
              "Timeout");
        }
        context.heartbeat(started);
        deployments.await(changes, context, started, deadline);
      }
    }
  }

  void release(BlueGreenActivities.ReleaseRequest request) {
    Target target = request.target();
    Deployment d = deployments.require(target);
    if (request.runId().equals(Marks.annotation(d))) {
      deployments.patch(target, Marks.UNMARK);
    }
    Active a = request.active();
    if (a == null) {
      return;
    }
    Service s = service(target.namespace(), a.service());
    if (s == null || !request.runId().equals(Marks.annotation(s))) {
      return;
    }
    List<UnitSnapshot> userPods =
        Deployments.units(deployments.pods(d), null).stream()
            .filter(u -> !isPreview(u, target, Set.of()))
            .toList();
    boolean ready =
        Deployments.complete(d)
            && userPods.size() == Deployments.replicas(d)
            && userPods.stream().allMatch(UnitSnapshot::ready);
    if (!ready) {
      // The Service keeps its Ready pods: only the mark goes (repair finds the preview by label).
      ObjectNode body = Serialization.jsonMapper().createObjectNode();
      ObjectNode annotations = body.putObject("metadata").putObject("annotations");
      annotations.putNull(RUN_ANNOTATION);
      annotations.putNull(SELECTOR_ANNOTATION);
      try {
        client
            .services()
            .inNamespace(target.namespace())
            .withName(a.service())
            .patch(
                io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                    io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
                body.toString());
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not unmark service " + a.service());
      }
      return;
    }
    setSelector(s, a.selector(), true);
    Deployment p = ourPreview(target, request.runId());
    if (p != null) {
      delete(target, true, p.getMetadata().getName());
    }
    if (ourPreviewService(target, a.previewService(), request.runId()) != null) {
      delete(target, false, a.previewService());
    }
  }
}
