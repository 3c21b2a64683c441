package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The objects of a release that are not workloads, moved from one rendering to another as {@code
 * helm upgrade} moves them: created when new, patched with the difference between the two
 * renderings when both have them (so a field the chart dropped is removed and a field someone else
 * set is kept, Helm's three-way merge), deleted when the new rendering lost them (unless annotated
 * {@code helm.sh/resource-policy: keep}), each carrying Helm's ownership metadata so that {@code
 * helm} adopts them later. The same call with the renderings swapped restores them. Idempotent:
 * every step compares with what exists first, so a retried activity does nothing twice.
 */
public final class ReleaseObjects {
  private final KubernetesClient client;

  public ReleaseObjects(KubernetesClient client) {
    this.client = client;
  }

  /** What was done to one object, for the run's story. */
  public record Applied(String key, String action) {}

  /**
   * Moves the release's objects that are not workloads from {@code before} to {@code after}.
   *
   * @return one entry per object acted on, in order
   */
  public List<Applied> apply(
      String release,
      String namespace,
      List<ChartRenderer.RenderedObject> before,
      List<ChartRenderer.RenderedObject> after) {
    Map<String, ChartRenderer.RenderedObject> old = byKey(before);
    Map<String, ChartRenderer.RenderedObject> next = byKey(after);
    List<Applied> applied = new ArrayList<>();
    for (ChartRenderer.RenderedObject o : next.values()) {
      Resource<GenericKubernetesResource> resource = resource(namespace, o);
      GenericKubernetesResource live = resource.get();
      ObjectNode wanted = owned(o.object(), release, namespace);
      if (live == null) {
        resource.create(
            Serialization.jsonMapper().convertValue(wanted, GenericKubernetesResource.class));
        applied.add(new Applied(o.key(), "created"));
        continue;
      }
      ChartRenderer.RenderedObject was = old.get(o.key());
      ObjectNode patch =
          mergePatch(
              was == null
                  ? JsonNodeFactory.instance.objectNode()
                  : owned(was.object(), release, namespace),
              wanted);
      if (patch.isEmpty() || contains(Serialization.jsonMapper().valueToTree(live), patch)) {
        continue;
      }
      resource.patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
      applied.add(new Applied(o.key(), "updated"));
    }
    for (ChartRenderer.RenderedObject o : old.values()) {
      if (next.containsKey(o.key())
          || "keep"
              .equals(
                  o.object()
                      .path("metadata")
                      .path("annotations")
                      .path("helm.sh/resource-policy")
                      .asText())) {
        continue;
      }
      Resource<GenericKubernetesResource> resource = resource(namespace, o);
      if (resource.get() != null) {
        try {
          resource.delete();
        } catch (KubernetesClientException e) {
          if (e.getCode() != 404) {
            throw e;
          }
        }
        applied.add(new Applied(o.key(), "deleted"));
      }
    }
    return applied;
  }

  private Resource<GenericKubernetesResource> resource(
      String namespace, ChartRenderer.RenderedObject o) {
    String ns = o.object().path("metadata").path("namespace").asText(namespace);
    return client
        .genericKubernetesResources(o.apiVersion(), o.kind())
        .inNamespace(ns)
        .withName(o.name());
  }

  private static Map<String, ChartRenderer.RenderedObject> byKey(
      List<ChartRenderer.RenderedObject> objects) {
    Map<String, ChartRenderer.RenderedObject> map = new LinkedHashMap<>();
    objects.stream().filter(o -> !o.workload()).forEach(o -> map.put(o.key(), o));
    return map;
  }

  /** The object with the metadata Helm 3 puts on what it manages. */
  static ObjectNode owned(JsonNode object, String release, String namespace) {
    ObjectNode copy = (ObjectNode) object.deepCopy();
    ObjectNode metadata = copy.with("metadata");
    metadata.with("labels").put("app.kubernetes.io/managed-by", "Helm");
    ObjectNode annotations = metadata.with("annotations");
    annotations.put("meta.helm.sh/release-name", release);
    annotations.put("meta.helm.sh/release-namespace", namespace);
    return copy;
  }

  /** The JSON merge patch (RFC 7386) that turns {@code from} into {@code to}. */
  static ObjectNode mergePatch(ObjectNode from, ObjectNode to) {
    ObjectNode patch = JsonNodeFactory.instance.objectNode();
    Iterator<Map.Entry<String, JsonNode>> fields = from.fields();
    while (fields.hasNext()) {
      String key = fields.next().getKey();
      if (!to.has(key)) {
        patch.putNull(key);
      }
    }
    to.fields()
        .forEachRemaining(
            f -> {
              JsonNode was = from.get(f.getKey());
              if (was instanceof ObjectNode w && f.getValue() instanceof ObjectNode n) {
                ObjectNode sub = mergePatch(w, n);
                if (!sub.isEmpty()) {
                  patch.set(f.getKey(), sub);
                }
              } else if (!f.getValue().equals(was)) {
                patch.set(f.getKey(), f.getValue());
              }
            });
    return patch;
  }

  /** Whether applying {@code patch} to {@code live} would change nothing. */
  static boolean contains(JsonNode live, ObjectNode patch) {
    Iterator<Map.Entry<String, JsonNode>> fields = patch.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> f = fields.next();
      JsonNode value = live.get(f.getKey());
      if (f.getValue().isNull()) {
        if (value != null && !value.isNull()) {
          return false;
        }
      } else if (f.getValue() instanceof ObjectNode sub) {
        if (value == null || !contains(value, sub)) {
          return false;
        }
      } else if (!f.getValue().equals(value)) {
        return false;
      }
    }
    return true;
  }
}
