package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The discovery documents ({@code /version}, {@code /api}, {@code /apis}, {@code /api/v1}, {@code
 * /apis/<group>/<version>}) that kubectl and client libraries read before anything else.
 */
public final class Discovery {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  static final String VERSION = "v1.35.0-kubesim";

  private Discovery() {}

  /** The document served at a discovery path, if it is one. */
  public static Optional<ObjectNode> document(String path) {
    String p =
        path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
    if (p.equals("/version")) {
      return Optional.of(version());
    }
    if (p.equals("/api")) {
      ObjectNode versions = NODES.objectNode();
      versions.put("kind", "APIVersions");
      versions.putArray("versions").add("v1");
      ArrayNode addresses = versions.putArray("serverAddressByClientCIDRs");
      addresses.addObject().put("clientCIDR", "0.0.0.0/0").put("serverAddress", "127.0.0.1");
      return Optional.of(versions);
    }
    if (p.equals("/apis")) {
      return Optional.of(groups());
    }
    if (p.equals("/api/v1")) {
      return Optional.of(resources("", "v1"));
    }
    String[] parts = p.split("/");
    if (parts.length == 4 && parts[1].equals("apis")) {
      String group = parts[2];
      String version = parts[3];
      boolean served =
          ResourceTypes.ALL.stream()
              .anyMatch(
                  t ->
                      t.group().equals(group) && ResourceTypes.servedVersions(t).contains(version));
      return served ? Optional.of(resources(group, version)) : Optional.empty();
    }
    if (parts.length == 3 && parts[1].equals("apis")) {
      return groups()
          .withArray("groups")
          .valueStream()
          .filter(g -> g.path("name").asText().equals(parts[2]))
          .findFirst()
          .map(
              g -> {
                ObjectNode group = ((ObjectNode) g).deepCopy();
                group.put("kind", "APIGroup");
                group.put("apiVersion", "v1");
                return group;
              });
    }
    return Optional.empty();
  }

  private static ObjectNode version() {
    ObjectNode version = NODES.objectNode();
    version.put("major", "1");
    version.put("minor", "35");
    version.put("gitVersion", VERSION);
    version.put("gitCommit", "kubesim");
    version.put("gitTreeState", "clean");
    version.put("buildDate", "2026-11-22T00:00:00Z");
    version.put("goVersion", "go1.25");
    version.put("compiler", "gc");
    version.put("platform", "linux/amd64");
    return version;
  }

  private static ObjectNode groups() {
    Set<String> names = new LinkedHashSet<>();
    ResourceTypes.ALL.stream().filter(t -> !t.group().isEmpty()).forEach(t -> names.add(t.group()));
    ObjectNode list = NODES.objectNode();
    list.put("kind", "APIGroupList");
    list.put("apiVersion", "v1");
    ArrayNode groups = list.putArray("groups");
    for (String name : names) {
      Set<String> versions = new LinkedHashSet<>();
      ResourceTypes.ALL.stream()
          .filter(t -> t.group().equals(name))
          .forEach(t -> versions.addAll(ResourceTypes.servedVersions(t)));
      ObjectNode group = groups.addObject();
      group.put("name", name);
      ArrayNode served = group.putArray("versions");
      for (String version : versions) {
        ObjectNode gv = served.addObject();
        gv.put("groupVersion", name + "/" + version);
        gv.put("version", version);
      }
      group.set("preferredVersion", served.get(0).deepCopy());
    }
    return list;
  }

  private static ObjectNode resources(String group, String version) {
    ObjectNode list = NODES.objectNode();
    list.put("kind", "APIResourceList");
    list.put("apiVersion", "v1");
    list.put("groupVersion", group.isEmpty() ? version : group + "/" + version);
    ArrayNode resources = list.putArray("resources");
    for (ResourceType type : ResourceTypes.ALL) {
      if (!type.group().equals(group) || !ResourceTypes.servedVersions(type).contains(version)) {
        continue;
      }
      ObjectNode resource = resources.addObject();
      resource.put("name", type.plural());
      resource.put("singularName", type.singular());
      resource.put("namespaced", type.namespaced());
      resource.put("kind", type.kind());
      ArrayNode verbs = resource.putArray("verbs");
      List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
          .forEach(verbs::add);
      if (!type.shortNames().isEmpty()) {
        ArrayNode shortNames = resource.putArray("shortNames");
        type.shortNames().forEach(shortNames::add);
      }
      for (String sub : type.subresources()) {
        ObjectNode subresource = resources.addObject();
        subresource.put("name", type.plural() + "/" + sub);
        subresource.put("singularName", "");
        subresource.put("namespaced", type.namespaced());
        ArrayNode subVerbs = subresource.putArray("verbs");
        switch (sub) {
          case "status", "scale" -> {
            subresource.put("kind", sub.equals("scale") ? "Scale" : type.kind());
            if (sub.equals("scale")) {
              subresource.put("group", "autoscaling");
              subresource.put("version", "v1");
            }
            List.of("get", "patch", "update").forEach(subVerbs::add);
          }
          case "log" -> {
            subresource.put("kind", "Pod");
            subVerbs.add("get");
          }
          case "eviction" -> {
            subresource.put("kind", "Eviction");
            subresource.put("group", "policy");
            subresource.put("version", "v1");
            subVerbs.add("create");
          }
          case "proxy" -> {
            subresource.put(
                "kind", type.kind().equals("Service") ? "ServiceProxyOptions" : "PodProxyOptions");
            List.of("create", "delete", "get", "patch", "update").forEach(subVerbs::add);
          }
          default -> subresource.put("kind", type.kind());
        }
      }
    }
    return list;
  }
}
