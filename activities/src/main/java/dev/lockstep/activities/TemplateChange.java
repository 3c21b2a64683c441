package dev.lockstep.activities;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.UpgradePlan;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A plan's change applied to a pod template: images and resources per container, then the template
 * patch. The patch is a JSON merge patch in which lists of named items (containers, env, volumes,
 * volumeMounts, ports with names) merge by name, so that {@code containers: [{name: db, env:
 * [...]}]} adds env to container {@code db} instead of replacing every container; every other list
 * is replaced, and null deletes.
 */
final class TemplateChange {
  private static final ObjectMapper JSON = Serialization.jsonMapper();

  /** The changed template and what stands in the way of applying it. */
  record Result(PodTemplateSpec template, Map<String, String> images, List<String> problems) {}

  private TemplateChange() {}

  static Map<String, String> images(PodTemplateSpec template) {
    Map<String, String> images = new LinkedHashMap<>();
    template.getSpec().getContainers().forEach(c -> images.put(c.getName(), c.getImage()));
    return images;
  }

  static Result apply(PodTemplateSpec current, UpgradePlan.Change change, String targetText) {
    List<String> problems = new ArrayList<>();
    ObjectNode template = JSON.valueToTree(current);
    ArrayNode containers = template.with("spec").withArray("containers");
    List<String> names = new ArrayList<>();
    containers.forEach(c -> names.add(c.path("name").asText()));
    for (Map.Entry<String, String> image : change.images().entrySet()) {
      String name = image.getKey();
      if (name.equals(UpgradePlan.Change.ONLY_CONTAINER)) {
        if (names.size() != 1) {
          problems.add(
              targetText
                  + " has containers "
                  + names
                  + ": say which one, e.g. --image "
                  + names.get(0)
                  + "="
                  + image.getValue());
          continue;
        }
        name = names.get(0);
      }
      ObjectNode container = container(containers, name);
      if (container == null) {
        problems.add("no container '" + name + "' in " + targetText + ": containers are " + names);
        continue;
      }
      container.put("image", image.getValue());
    }
    for (Map.Entry<String, Map<String, Map<String, String>>> r : change.resources().entrySet()) {
      ObjectNode container = container(containers, r.getKey());
      if (container == null) {
        problems.add(
            "no container '" + r.getKey() + "' in " + targetText + ": containers are " + names);
        continue;
      }
      ObjectNode resources = container.with("resources");
      for (Map.Entry<String, Map<String, String>> kind : r.getValue().entrySet()) {
        ObjectNode values = resources.with(kind.getKey());
        kind.getValue().forEach(values::put);
      }
    }
    if (!change.template().isEmpty()) {
      merge(template, JSON.valueToTree(change.template()));
    }
    PodTemplateSpec result = JSON.convertValue(template, PodTemplateSpec.class);
    for (var c : result.getSpec().getContainers()) {
      if (c.getImage() == null || c.getImage().isBlank()) {
        problems.add("the change leaves container '" + c.getName() + "' without an image");
      }
    }
    return new Result(result, images(result), problems);
  }

  /** Whether two templates are the same, field for field. */
  static boolean same(PodTemplateSpec a, PodTemplateSpec b) {
    return JSON.valueToTree(a).equals(JSON.valueToTree(b));
  }

  private static ObjectNode container(ArrayNode containers, String name) {
    for (JsonNode c : containers) {
      if (name.equals(c.path("name").asText())) {
        return (ObjectNode) c;
      }
    }
    return null;
  }

  private static void merge(ObjectNode target, JsonNode patch) {
    for (Iterator<Map.Entry<String, JsonNode>> it = patch.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      JsonNode value = field.getValue();
      JsonNode existing = target.get(field.getKey());
      if (value.isNull()) {
        target.remove(field.getKey());
      } else if (value.isObject() && existing != null && existing.isObject()) {
        merge((ObjectNode) existing, value);
      } else if (value.isArray()
          && existing != null
          && existing.isArray()
          && named(value)
          && named(existing)) {
        mergeByName((ArrayNode) existing, (ArrayNode) value);
      } else {
        target.set(field.getKey(), value.deepCopy());
      }
    }
  }

  private static boolean named(JsonNode array) {
    for (JsonNode element : array) {
      if (!element.isObject() || !element.hasNonNull("name")) {
        return false;
      }
    }
    return true;
  }

  private static void mergeByName(ArrayNode existing, ArrayNode patch) {
    for (JsonNode element : patch) {
      ObjectNode match = container(existing, element.path("name").asText());
      if (match == null) {
        existing.add(element.deepCopy());
      } else {
        merge(match, element);
      }
    }
  }

  /**
   * What changes from {@code a} to {@code b}, one line per changed field ({@code
   * spec.containers[db].image: postgres:14.8 -> postgres:14.9}); items of named lists are keyed by
   * name. The value of an env variable is never shown, since it may be a secret written literally.
   */
  static List<String> diff(PodTemplateSpec a, PodTemplateSpec b) {
    List<String> lines = new ArrayList<>();
    diff("", JSON.valueToTree(a), JSON.valueToTree(b), lines);
    return lines;
  }

  private static void diff(String path, JsonNode a, JsonNode b, List<String> lines) {
    if (a != null && a.equals(b)) {
      return;
    }
    if (a != null && b != null && a.isObject() && b.isObject()) {
      java.util.Set<String> keys = new java.util.LinkedHashSet<>();
      a.fieldNames().forEachRemaining(keys::add);
      b.fieldNames().forEachRemaining(keys::add);
      for (String key : keys) {
        diff(path.isEmpty() ? key : path + "." + key, a.get(key), b.get(key), lines);
      }
      return;
    }
    if (a != null && b != null && a.isArray() && b.isArray() && named(a) && named(b)) {
      java.util.Set<String> names = new java.util.LinkedHashSet<>();
      a.forEach(e -> names.add(e.path("name").asText()));
      b.forEach(e -> names.add(e.path("name").asText()));
      for (String name : names) {
        diff(path + "[" + name + "]", byName(a, name), byName(b, name), lines);
      }
      return;
    }
    boolean secret = path.contains(".env[") || path.endsWith(".env");
    lines.add(path + ": " + shown(a, secret) + " -> " + shown(b, secret));
  }

  private static JsonNode byName(JsonNode array, String name) {
    for (JsonNode e : array) {
      if (name.equals(e.path("name").asText())) {
        return e;
      }
    }
    return null;
  }

  private static String shown(JsonNode value, boolean secret) {
    if (value == null || value.isNull()) {
      return "(none)";
    }
    if (secret) {
      return "(set, not shown)";
    }
    return value.isTextual() ? value.asText() : value.toString();
  }
}
