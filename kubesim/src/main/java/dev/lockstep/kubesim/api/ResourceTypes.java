package dev.lockstep.kubesim.api;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The resource types kubesim serves, and the discovery documents that describe them. */
public final class ResourceTypes {

  private static final List<String> NONE = List.of();

  /** Every served type, in discovery order. */
  public static final List<ResourceType> ALL =
      List.of(
          core("namespaces", "Namespace", false, List.of("ns"), List.of("status")),
          core("nodes", "Node", false, List.of("no"), List.of("status")),
          core("pods", "Pod", true, List.of("po"), List.of("status", "log", "eviction", "proxy")),
          core("services", "Service", true, List.of("svc"), List.of("status", "proxy")),
          core("endpoints", "Endpoints", true, List.of("ep"), NONE),
          core("configmaps", "ConfigMap", true, List.of("cm"), NONE),
          core("secrets", "Secret", true, NONE, NONE),
          core("serviceaccounts", "ServiceAccount", true, List.of("sa"), NONE),
          core(
              "persistentvolumeclaims",
              "PersistentVolumeClaim",
              true,
              List.of("pvc"),
              List.of("status")),
          core("persistentvolumes", "PersistentVolume", false, List.of("pv"), List.of("status")),
          core("events", "Event", true, List.of("ev"), NONE),
          new ResourceType(
              "apps",
              "v1",
              "statefulsets",
              "StatefulSet",
              true,
              List.of("sts"),
              List.of("status", "scale")),
          new ResourceType(
              "apps",
              "v1",
              "deployments",
              "Deployment",
              true,
              List.of("deploy"),
              List.of("status", "scale")),
          new ResourceType(
              "apps",
              "v1",
              "replicasets",
              "ReplicaSet",
              true,
              List.of("rs"),
              List.of("status", "scale")),
          new ResourceType(
              "apps", "v1", "controllerrevisions", "ControllerRevision", true, NONE, NONE),
          new ResourceType("batch", "v1", "jobs", "Job", true, NONE, List.of("status")),
          new ResourceType(
              "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, NONE, NONE),
          new ResourceType(
              "policy",
              "v1",
              "poddisruptionbudgets",
              "PodDisruptionBudget",
              true,
              List.of("pdb"),
              List.of("status")));

  /**
   * Older versions a type is also served in, converted on the way in and out: a v1.20 API server
   * serves EndpointSlices only as {@code discovery.k8s.io/v1beta1}, newer ones only as v1.
   */
  private static final Map<String, List<String>> OLDER_VERSIONS =
      Map.of("discovery.k8s.io/endpointslices", List.of("v1beta1"));

  private static final Map<String, ResourceType> BY_KEY =
      ALL.stream().collect(Collectors.toMap(t -> key(t.group(), t.plural()), Function.identity()));

  private ResourceTypes() {}

  private static ResourceType core(
      String plural, String kind, boolean namespaced, List<String> shortNames, List<String> sub) {
    return new ResourceType("", "v1", plural, kind, namespaced, shortNames, sub);
  }

  private static String key(String group, String plural) {
    return group + "/" + plural;
  }

  /** Every version a type is served in: its own first, then older ones. */
  public static List<String> servedVersions(ResourceType type) {
    List<String> versions = new java.util.ArrayList<>();
    versions.add(type.version());
    versions.addAll(OLDER_VERSIONS.getOrDefault(key(type.group(), type.plural()), List.of()));
    return versions;
  }

  /** The type served at {@code group}/{@code plural}, if any. */
  public static Optional<ResourceType> find(String group, String plural) {
    return Optional.ofNullable(BY_KEY.get(key(group, plural)));
  }

  /** The type of the given kind, if served. */
  public static Optional<ResourceType> byKind(String kind) {
    return ALL.stream().filter(t -> t.kind().equals(kind)).findFirst();
  }

  /** The type of the given plural in the given group; fails when it is not served. */
  public static ResourceType of(String group, String plural) {
    return find(group, plural)
        .orElseThrow(() -> new IllegalArgumentException("not served: " + key(group, plural)));
  }
}
