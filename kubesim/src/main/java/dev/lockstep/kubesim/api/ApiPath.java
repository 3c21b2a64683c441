package dev.lockstep.kubesim.api;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A resource request's path taken apart: {@code /api/v1/namespaces/demo/pods/web-0/log} is type
 * pods, namespace demo, name web-0, subresource log.
 *
 * @param type the resource type
 * @param namespace the namespace, or null (cluster-scoped type, or a list across namespaces)
 * @param name the object name, or null for the collection
 * @param subresource e.g. status, scale, log, eviction, proxy; or null
 * @param rest what follows the subresource (the proxied path), or ""
 * @param version the API version the client asked in, which may be an older one the type is also
 *     served as (e.g. {@code discovery.k8s.io/v1beta1} EndpointSlices, as a v1.20 server serves
 *     them)
 */
public record ApiPath(
    ResourceType type,
    String namespace,
    String name,
    String subresource,
    String rest,
    String version) {

  /** A path in the type's own (storage) version. */
  public ApiPath(
      ResourceType type, String namespace, String name, String subresource, String rest) {
    this(type, namespace, name, subresource, rest, type.version());
  }

  /** Whether the client asked in a version other than the one objects are stored in. */
  public boolean converted() {
    return !version.equals(type.version());
  }

  /** Parses a path (without query); empty when it names no served resource. */
  public static Optional<ApiPath> parse(String path) {
    List<String> parts = Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toList();
    int i;
    String group;
    String version;
    if (parts.size() >= 3 && parts.get(0).equals("api")) {
      group = "";
      version = parts.get(1);
      i = 2;
    } else if (parts.size() >= 4 && parts.get(0).equals("apis")) {
      group = parts.get(1);
      version = parts.get(2);
      i = 3;
    } else {
      return Optional.empty();
    }
    String namespace = null;
    // namespaces/<ns>/<plural>... is a namespaced resource; namespaces/<ns>[/status] is the
    // namespace object itself.
    if (parts.get(i).equals("namespaces")
        && parts.size() >= i + 3
        && !parts.get(i + 2).equals("status")
        && !parts.get(i + 2).equals("finalize")) {
      namespace = parts.get(i + 1);
      i += 2;
    }
    Optional<ResourceType> type = ResourceTypes.find(group, parts.get(i));
    if (type.isEmpty() || !ResourceTypes.servedVersions(type.get()).contains(version)) {
      return Optional.empty();
    }
    if (namespace != null && !type.get().namespaced()) {
      return Optional.empty();
    }
    String name = parts.size() > i + 1 ? parts.get(i + 1) : null;
    String subresource = parts.size() > i + 2 ? parts.get(i + 2) : null;
    String rest = parts.size() > i + 3 ? String.join("/", parts.subList(i + 3, parts.size())) : "";
    if (subresource != null && !type.get().subresources().contains(subresource)) {
      return Optional.empty();
    }
    if (rest.length() > 0 && !"proxy".equals(subresource)) {
      return Optional.empty();
    }
    if (path.endsWith("/") && "proxy".equals(subresource)) {
      rest = rest + "/";
    }
    return Optional.of(new ApiPath(type.get(), namespace, name, subresource, rest, version));
  }

  /** The resource as RBAC and the request log name it, e.g. {@code pods/log}. */
  public String resource() {
    return subresource == null ? type.plural() : type.plural() + "/" + subresource;
  }

  /** The Kubernetes verb of a request with this path and HTTP method. */
  public String verb(String method, boolean watch) {
    return switch (method) {
      case "GET", "HEAD" -> name == null ? (watch ? "watch" : "list") : "get";
      case "POST" -> "create";
      case "PUT" -> "update";
      case "PATCH" -> "patch";
      case "DELETE" -> name == null ? "deletecollection" : "delete";
      default -> method.toLowerCase(java.util.Locale.ROOT);
    };
  }
}
