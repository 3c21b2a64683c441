package dev.lockstep.activities;

import dev.lockstep.workflows.ClusterActivities.CheckResult;
import dev.lockstep.workflows.PreChecks;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The pre-upgrade checks that need the cluster: capacity, disruption budgets, compatibility,
 * immutable fields and a server-side dry run of the change. Each reads what it needs and reports
 * one line; none writes (the dry run is {@code dryRun=All}). Never reports a value of an env
 * variable: only names and kinds.
 */
final class TargetChecks {
  private final KubernetesClient client;

  TargetChecks(KubernetesClient client) {
    this.client = client;
  }

  /**
   * Every check of the change from {@code sts}'s template to {@code next}.
   *
   * @param pods the target's pods (by its selector)
   * @param scaleUp whether one unit is added (on the current template) before the change
   * @param pinned the StatefulSet as prepare would write it, for the dry run
   */
  List<CheckResult> run(
      StatefulSet sts, PodTemplateSpec next, List<Pod> pods, boolean scaleUp, StatefulSet pinned) {
    List<CheckResult> results = new ArrayList<>();
    CheckResult immutable = immutableFields(sts, next);
    results.add(capacity(sts, next, pods, scaleUp));
    Heartbeats.beat();
    results.add(disruption(sts));
    results.add(compatibility(sts, next));
    Heartbeats.beat();
    results.add(immutable);
    results.add(
        immutable.passed()
            ? dryRun(pinned)
            : new CheckResult(PreChecks.DRY_RUN, false, "not run: " + PreChecks.IMMUTABLE));
    return results;
  }

  // ---- capacity ------------------------------------------------------------------------------

  /** CPU millicores and memory bytes. */
  record Need(long cpu, long memory) {
    static final Need ZERO = new Need(0, 0);

    Need plus(Need o) {
      return new Need(cpu + o.cpu, memory + o.memory);
    }

    Need minus(Need o) {
      return new Need(cpu - o.cpu, memory - o.memory);
    }

    boolean fits(Need o) {
      return o.cpu <= cpu && o.memory <= memory;
    }

    @Override
    public String toString() {
      return "cpu " + cpu + "m, memory " + mib(memory);
    }

    private static String mib(long bytes) {
      return bytes % (1024 * 1024) == 0 ? bytes / (1024 * 1024) + "Mi" : bytes + "B";
    }
  }

  /**
   * Replays the upgrade on paper: each unit, highest first, frees its pod's requests and needs room
   * for the new template's requests on some node (the extra unit of a scale-up first needs room for
   * the current template's). Fails naming the first unit that would stay Pending.
   */
  CheckResult capacity(StatefulSet sts, PodTemplateSpec next, List<Pod> pods, boolean scaleUp) {
    Need before = requests(sts.getSpec().getTemplate().getSpec());
    Need after = requests(next.getSpec());
    if (after.cpu() == 0 && after.memory() == 0 && (!scaleUp || before.equals(after))) {
      return new CheckResult(PreChecks.CAPACITY, true, "the new template requests no resources");
    }
    List<Node> nodes;
    try {
      nodes = paginated(options -> client.nodes().list(options));
    } catch (KubernetesClientException e) {
      passIfTransient(e);
      return new CheckResult(
          PreChecks.CAPACITY,
          false,
          "cannot list nodes ("
              + e.getCode()
              + "): capacity unknown; grant the worker `list nodes` or force "
              + PreChecks.CAPACITY);
    }
    Map<String, Need> free = new LinkedHashMap<>();
    for (Node node : nodes) {
      if (Boolean.TRUE.equals(node.getSpec() == null ? null : node.getSpec().getUnschedulable())) {
        continue;
      }
      Map<String, Quantity> allocatable =
          node.getStatus() == null || node.getStatus().getAllocatable() == null
              ? Map.of()
              : node.getStatus().getAllocatable();
      free.put(
          node.getMetadata().getName(),
          new Need(millis(allocatable.get("cpu")), bytes(allocatable.get("memory"))));
    }
    List<Pod> everywhere;
    try {
      everywhere = paginated(options -> client.pods().inAnyNamespace().list(options));
    } catch (KubernetesClientException e) {
      passIfTransient(e);
      everywhere = pods;
    }
    for (Pod pod : everywhere) {
      String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
      String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
      if (node != null
          && free.containsKey(node)
          && !"Succeeded".equals(phase)
          && !"Failed".equals(phase)) {
        free.put(node, free.get(node).minus(requests(pod.getSpec())));
      }
    }
    int replicas = Optional.ofNullable(sts.getSpec().getReplicas()).orElse(1);
    String name = sts.getMetadata().getName();
    String extraOn = scaleUp ? place(free, before) : null;
    if (scaleUp && extraOn == null) {
      return new CheckResult(
          PreChecks.CAPACITY,
          false,
          "no node has room for the extra unit "
              + name
              + "-"
              + replicas
              + " (needs "
              + before
              + "; most room: "
              + mostRoom(free)
              + ")");
    }
    Map<String, Pod> byName =
        pods.stream()
            .collect(Collectors.toMap(p -> p.getMetadata().getName(), p -> p, (a, b) -> a));
    int highest = scaleUp ? replicas : replicas - 1;
    for (int ordinal = highest; ordinal >= 0; ordinal--) {
      String unit = name + "-" + ordinal;
      Pod old = byName.get(unit);
      String node =
          ordinal == replicas
              ? extraOn
              : old == null || old.getSpec() == null ? null : old.getSpec().getNodeName();
      Need freed = ordinal == replicas ? before : old == null ? null : requests(old.getSpec());
      if (node != null && freed != null && free.containsKey(node)) {
        free.put(node, free.get(node).plus(freed));
      }
      if (place(free, after) == null) {
        return new CheckResult(
            PreChecks.CAPACITY,
            false,
            "no node has room for "
                + unit
                + " on the new template (needs "
                + after
                + "; most room: "
                + mostRoom(free)
                + "): it would stay Pending");
      }
    }
    return new CheckResult(
        PreChecks.CAPACITY,
        true,
        "every replacement unit fits (needs " + after + " each, " + free.size() + " nodes)");
  }

  /** Takes room for {@code need} on the node with the most CPU left; its name, or null. */
  private static String place(Map<String, Need> free, Need need) {
    Optional<Map.Entry<String, Need>> best =
        free.entrySet().stream()
            .filter(e -> e.getValue().fits(need))
            .max(Comparator.comparingLong(e -> e.getValue().cpu()));
    best.ifPresent(e -> e.setValue(e.getValue().minus(need)));
    return best.map(Map.Entry::getKey).orElse(null);
  }

  private static String mostRoom(Map<String, Need> free) {
    return free.entrySet().stream()
        .max(Comparator.comparingLong(e -> e.getValue().cpu()))
        .map(e -> e.getKey() + " with " + e.getValue())
        .orElse("no schedulable node");
  }

  /** A pod's effective requests: the sum over its containers, at least any init container's. */
  static Need requests(PodSpec spec) {
    Need sum = Need.ZERO;
    for (Container c : spec.getContainers()) {
      sum = sum.plus(requests(c));
    }
    if (spec.getInitContainers() != null) {
      for (Container c : spec.getInitContainers()) {
        Need init = requests(c);
        sum = new Need(Math.max(sum.cpu(), init.cpu()), Math.max(sum.memory(), init.memory()));
      }
    }
    return sum;
  }

  private static Need requests(Container c) {
    if (c.getResources() == null || c.getResources().getRequests() == null) {
      return Need.ZERO;
    }
    Map<String, Quantity> r = c.getResources().getRequests();
    return new Need(millis(r.get("cpu")), bytes(r.get("memory")));
  }

  private static long millis(Quantity q) {
    return q == null
        ? 0
        : Quantity.getAmountInBytes(q).multiply(BigDecimal.valueOf(1000)).longValue();
  }

  private static long bytes(Quantity q) {
    return q == null ? 0 : Quantity.getAmountInBytes(q).longValue();
  }

  /**
   * Every item of a cluster-wide list, {@value #PAGE} at a time: a large cluster's pods in one
   * answer would cost the API server (and this worker) a burst of memory.
   */
  static <T extends io.fabric8.kubernetes.api.model.HasMetadata> List<T> paginated(
      java.util.function.Function<
              io.fabric8.kubernetes.api.model.ListOptions,
              ? extends io.fabric8.kubernetes.api.model.KubernetesResourceList<T>>
          page) {
    List<T> all = new ArrayList<>();
    String next = null;
    do {
      var list =
          page.apply(
              new io.fabric8.kubernetes.api.model.ListOptionsBuilder()
                  .withLimit(PAGE)
                  .withContinue(next)
                  .build());
      all.addAll(list.getItems());
      Heartbeats.beat();
      next = list.getMetadata() == null ? null : list.getMetadata().getContinue();
    } while (next != null && !next.isEmpty());
    return all;
  }

  private static final long PAGE = 500;

  // ---- disruption ----------------------------------------------------------------------------

  /** Every PodDisruptionBudget selecting the target's pods allows one of them down. */
  CheckResult disruption(StatefulSet sts) {
    String ns = sts.getMetadata().getNamespace();
    Map<String, String> labels = labels(sts.getSpec().getTemplate());
    List<Budget> budgets;
    try {
      budgets = budgets(ns);
    } catch (KubernetesClientException e) {
      passIfTransient(e);
      return new CheckResult(
          PreChecks.DISRUPTION,
          false,
          "cannot list PodDisruptionBudgets ("
              + e.getCode()
              + "); grant the worker `list poddisruptionbudgets` or force "
              + PreChecks.DISRUPTION);
    }
    List<String> blocking = new ArrayList<>();
    List<String> selecting = new ArrayList<>();
    for (Budget pdb : budgets) {
      if (!pdb.selects(labels)) {
        continue;
      }
      selecting.add(pdb.name());
      if (!pdb.hasStatus() || pdb.observedGeneration() < pdb.generation()) {
        blocking.add(pdb.name() + " has no up-to-date status yet");
      } else if (pdb.disruptionsAllowed() < 1) {
        blocking.add(
            pdb.name()
                + " allows "
                + pdb.disruptionsAllowed()
                + " disruptions (currentHealthy "
                + pdb.currentHealthy()
                + ", desiredHealthy "
                + pdb.desiredHealthy()
                + ")");
      }
    }
    if (!blocking.isEmpty()) {
      return new CheckResult(
          PreChecks.DISRUPTION,
          false,
          "taking a unit down would break its disruption budget: " + String.join("; ", blocking));
    }
    return new CheckResult(
        PreChecks.DISRUPTION,
        true,
        selecting.isEmpty()
            ? "no PodDisruptionBudget selects the units"
            : "one unit may go down (" + String.join(", ", selecting) + ")");
  }

  /** What the disruption check reads of a PodDisruptionBudget, whichever API version served it. */
  private record Budget(
      String name,
      LabelSelector selector,
      boolean emptySelectsAll,
      boolean hasStatus,
      long generation,
      long observedGeneration,
      int disruptionsAllowed,
      Integer currentHealthy,
      Integer desiredHealthy) {

    boolean selects(Map<String, String> labels) {
      if (selector != null
          && Optional.ofNullable(selector.getMatchLabels()).map(Map::isEmpty).orElse(true)
          && Optional.ofNullable(selector.getMatchExpressions()).map(List::isEmpty).orElse(true)) {
        // policy/v1: an empty selector selects every pod of the namespace; v1beta1: none.
        return emptySelectsAll;
      }
      return matches(selector, labels);
    }
  }

  /**
   * The namespace's budgets through policy/v1, or through policy/v1beta1 on servers that do not
   * serve v1 (before Kubernetes 1.21): the check is never skipped for want of the newer API.
   */
  private List<Budget> budgets(String ns) {
    try {
      return client.policy().v1().podDisruptionBudget().inNamespace(ns).list().getItems().stream()
          .map(
              pdb ->
                  new Budget(
                      pdb.getMetadata().getName(),
                      pdb.getSpec().getSelector(),
                      true,
                      pdb.getStatus() != null,
                      Optional.ofNullable(pdb.getMetadata().getGeneration()).orElse(0L),
                      pdb.getStatus() == null
                          ? 0L
                          : Optional.ofNullable(pdb.getStatus().getObservedGeneration()).orElse(0L),
                      pdb.getStatus() == null
                          ? 0
                          : Optional.ofNullable(pdb.getStatus().getDisruptionsAllowed()).orElse(0),
                      pdb.getStatus() == null ? null : pdb.getStatus().getCurrentHealthy(),
                      pdb.getStatus() == null ? null : pdb.getStatus().getDesiredHealthy()))
          .toList();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
    return client
        .policy()
        .v1beta1()
        .podDisruptionBudget()
        .inNamespace(ns)
        .list()
        .getItems()
        .stream()
        .map(
            pdb ->
                new Budget(
                    pdb.getMetadata().getName(),
                    pdb.getSpec().getSelector(),
                    false,
                    pdb.getStatus() != null,
                    Optional.ofNullable(pdb.getMetadata().getGeneration()).orElse(0L),
                    pdb.getStatus() == null
                        ? 0L
                        : Optional.ofNullable(pdb.getStatus().getObservedGeneration()).orElse(0L),
                    pdb.getStatus() == null
                        ? 0
                        : Optional.ofNullable(pdb.getStatus().getDisruptionsAllowed()).orElse(0),
                    pdb.getStatus() == null ? null : pdb.getStatus().getCurrentHealthy(),
                    pdb.getStatus() == null ? null : pdb.getStatus().getDesiredHealthy()))
        .toList();
  }

  /** Whether a label selector (matchLabels and matchExpressions) selects these labels. */
  static boolean matches(LabelSelector selector, Map<String, String> labels) {
    if (selector == null) {
      return false;
    }
    if (selector.getMatchLabels() != null) {
      for (Map.Entry<String, String> e : selector.getMatchLabels().entrySet()) {
        if (!e.getValue().equals(labels.get(e.getKey()))) {
          return false;
        }
      }
    }
    if (selector.getMatchExpressions() != null) {
      for (LabelSelectorRequirement r : selector.getMatchExpressions()) {
        String value = labels.get(r.getKey());
        List<String> values = r.getValues() == null ? List.of() : r.getValues();
        boolean ok =
            switch (r.getOperator()) {
              case "In" -> value != null && values.contains(value);
              case "NotIn" -> value == null || !values.contains(value);
              case "Exists" -> value != null;
              case "DoesNotExist" -> value == null;
              default -> false;
            };
        if (!ok) {
          return false;
        }
      }
    }
    return true;
  }

  // ---- compatibility -------------------------------------------------------------------------

  /**
   * Juju's crossgrade rules mapped to pods: every port a Service targets, every mount of a claim
   * template, and the kind of every env variable present in both templates survive the change.
   */
  CheckResult compatibility(StatefulSet sts, PodTemplateSpec next) {
    PodTemplateSpec current = sts.getSpec().getTemplate();
    List<String> broken = new ArrayList<>();
    Map<String, String> labels = labels(current);
    List<Service> services;
    try {
      services = client.services().inNamespace(sts.getMetadata().getNamespace()).list().getItems();
    } catch (KubernetesClientException e) {
      passIfTransient(e);
      return new CheckResult(
          PreChecks.COMPATIBILITY,
          false,
          "cannot list Services ("
              + e.getCode()
              + "); grant the worker `list services` or force "
              + PreChecks.COMPATIBILITY);
    }
    for (Service service : services) {
      Map<String, String> selector = service.getSpec().getSelector();
      if (selector == null
          || selector.isEmpty()
          || !labels.entrySet().containsAll(selector.entrySet())) {
        continue;
      }
      for (ServicePort port : service.getSpec().getPorts()) {
        IntOrString target =
            port.getTargetPort() != null ? port.getTargetPort() : new IntOrString(port.getPort());
        if (declares(current, target) && !declares(next, target)) {
          broken.add(
              "Service "
                  + service.getMetadata().getName()
                  + " targets port "
                  + text(target)
                  + ", which the new template no longer declares");
        }
      }
    }
    Set<String> claims =
        sts.getSpec().getVolumeClaimTemplates() == null
            ? Set.of()
            : sts.getSpec().getVolumeClaimTemplates().stream()
                .map(PersistentVolumeClaim::getMetadata)
                .map(m -> m.getName())
                .collect(Collectors.toSet());
    Map<String, Container> nextContainers = containers(next);
    for (Container c : current.getSpec().getContainers()) {
      Container n = nextContainers.get(c.getName());
      if (n == null) {
        if (c.getVolumeMounts() != null
            && c.getVolumeMounts().stream().anyMatch(m -> claims.contains(m.getName()))) {
          broken.add("container " + c.getName() + " mounts a claim and is gone");
        }
        continue;
      }
      for (VolumeMount m : Optional.ofNullable(c.getVolumeMounts()).orElse(List.of())) {
        if (claims.contains(m.getName())
            && Optional.ofNullable(n.getVolumeMounts()).orElse(List.of()).stream()
                .noneMatch(
                    x ->
                        x.getName().equals(m.getName())
                            && Objects.equals(x.getMountPath(), m.getMountPath()))) {
          broken.add(
              "container "
                  + c.getName()
                  + " no longer mounts claim "
                  + m.getName()
                  + " at "
                  + m.getMountPath());
        }
      }
      Map<String, String> kinds = envKinds(c);
      envKinds(n)
          .forEach(
              (env, kind) -> {
                String was = kinds.get(env);
                if (was != null && !was.equals(kind)) {
                  broken.add(
                      "env "
                          + env
                          + " of container "
                          + c.getName()
                          + " changes from "
                          + was
                          + " to "
                          + kind);
                }
              });
    }
    if (!broken.isEmpty()) {
      return new CheckResult(PreChecks.COMPATIBILITY, false, String.join("; ", broken));
    }
    return new CheckResult(
        PreChecks.COMPATIBILITY, true, "Service ports, claim mounts and env kinds are kept");
  }

  private static boolean declares(PodTemplateSpec template, IntOrString port) {
    for (Container c : template.getSpec().getContainers()) {
      for (ContainerPort p : Optional.ofNullable(c.getPorts()).orElse(List.of())) {
        if (port.getStrVal() != null
            ? port.getStrVal().equals(p.getName())
            : Objects.equals(port.getIntVal(), p.getContainerPort())) {
          return true;
        }
      }
    }
    return false;
  }

  private static String text(IntOrString port) {
    return port.getStrVal() != null
        ? "'" + port.getStrVal() + "'"
        : String.valueOf(port.getIntVal());
  }

  private static Map<String, String> envKinds(Container c) {
    Map<String, String> kinds = new LinkedHashMap<>();
    for (EnvVar env : Optional.ofNullable(c.getEnv()).orElse(List.of())) {
      var from = env.getValueFrom();
      String kind =
          from == null
              ? "a literal value"
              : from.getSecretKeyRef() != null
                  ? "secretKeyRef"
                  : from.getConfigMapKeyRef() != null
                      ? "configMapKeyRef"
                      : from.getFieldRef() != null ? "fieldRef" : "resourceFieldRef";
      kinds.put(env.getName(), kind);
    }
    return kinds;
  }

  private static Map<String, Container> containers(PodTemplateSpec template) {
    Map<String, Container> byName = new LinkedHashMap<>();
    template.getSpec().getContainers().forEach(c -> byName.put(c.getName(), c));
    return byName;
  }

  private static Map<String, String> labels(PodTemplateSpec template) {
    return template.getMetadata() == null || template.getMetadata().getLabels() == null
        ? Map.of()
        : template.getMetadata().getLabels();
  }

  // ---- immutable fields and dry run ----------------------------------------------------------

  /**
   * What the API server would refuse mid-upgrade, refused now with the way out: a template whose
   * labels no longer match the (immutable) selector. Changes to volumeClaimTemplates, selector or
   * serviceName cannot be expressed in a plan at all; PlanValidation refuses attempts.
   */
  CheckResult immutableFields(StatefulSet sts, PodTemplateSpec next) {
    if (!matches(sts.getSpec().getSelector(), labels(next))) {
      return new CheckResult(
          PreChecks.IMMUTABLE,
          false,
          "the new template's labels "
              + labels(next)
              + " no longer match spec.selector, which cannot change in place: keep the labels,"
              + " or recreate the StatefulSet (kubectl delete --cascade=orphan, then apply) with"
              + " a new selector");
    }
    return new CheckResult(
        PreChecks.IMMUTABLE, true, "selector, serviceName and volumeClaimTemplates unchanged");
  }

  /** The write prepare would make, sent with {@code dryRun=All}: the API server's own answer. */
  CheckResult dryRun(StatefulSet pinned) {
    try {
      client
          .apps()
          .statefulSets()
          .inNamespace(pinned.getMetadata().getNamespace())
          .resource(pinned)
          .dryRun()
          .update();
      return new CheckResult(PreChecks.DRY_RUN, true, "the API server accepts the change");
    } catch (KubernetesClientException e) {
      passIfTransient(e);
      String why =
          e.getStatus() != null && e.getStatus().getMessage() != null
              ? e.getStatus().getMessage()
              : e.getMessage();
      return new CheckResult(
          PreChecks.DRY_RUN,
          false,
          "the API server refuses the change (" + e.getCode() + "): " + why);
    }
  }

  /**
   * A transient answer of the API server (5xx, 429, 409, no answer) says nothing about the check:
   * it is thrown on, and the activity is retried. Only a real answer (403, 422...) fails a check.
   */
  private static void passIfTransient(KubernetesClientException e) {
    int code = e.getCode();
    if (code == 0 || code == 409 || code == 429 || code >= 500) {
      throw e;
    }
    // The check fails with it (e.g. a right the worker lacks): an API error all the same.
    ApiErrors.count(e);
  }
}
