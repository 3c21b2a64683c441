package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Applies the bodies of PATCH requests the way the Kubernetes API server does for built-in types:
 * JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch. Server-side apply
 * is rejected with 415.
 */
public final class Patches {

  /** RFC 6902 JSON patch. */
  public static final String JSON_PATCH = "application/json-patch+json";

  /** RFC 7386 JSON merge patch. */
  public static final String MERGE_PATCH = "application/merge-patch+json";

  /** Kubernetes strategic merge patch. */
  public static final String STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";

  private static final String APPLY_PATCH_PREFIX = "application/apply-patch+";

  private static final ObjectMapper MAPPER =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private Patches() {}

  /**
   * A patch that cannot be applied: an HTTP status code (400, 415 or 422) and a one-line message as
   * the Kubernetes API server would say it.
   */
  public static final class PatchException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;

    /**
     * Creates the exception.
     *
     * @param code the HTTP status code to answer with
     * @param message a one-line message for the Status object
     */
    public PatchException(int code, String message) {
      super(message);
      this.code = code;
    }

    /** Returns the HTTP status code to answer with. */
    public int code() {
      return code;
    }
  }

  /**
   * Applies a PATCH request body of the given Content-Type to a copy of {@code current} and returns
   * the patched copy; {@code current} is never mutated.
   *
   * @param contentType the request's Content-Type, parameters such as {@code ; charset=utf-8}
   *     allowed; null means none was sent
   * @param current the stored object
   * @param body the request body
   * @return the patched copy
   * @throws PatchException 415 for server-side apply or an unknown media type, 400 for a malformed
   *     body, 422 for a patch that does not apply to {@code current}
   */
  public static ObjectNode apply(String contentType, ObjectNode current, String body) {
    Objects.requireNonNull(current, "current");
    // The media type is checked before the body so that an unsupported type is always a 415.
    String mediaType = mediaType(contentType);
    if (mediaType.startsWith(APPLY_PATCH_PREFIX)) {
      throw new PatchException(
          415,
          "server-side apply is not supported by kubesim; use kubectl apply without"
              + " --server-side, or a merge patch");
    }
    switch (mediaType) {
      case JSON_PATCH:
        return JsonPatch.apply(current, parse(body));
      case MERGE_PATCH:
        return (ObjectNode) mergePatch(current.deepCopy(), requireObject(parse(body)));
      case STRATEGIC_MERGE_PATCH:
        ObjectNode merged =
            StrategicMerge.mergeMap(current.deepCopy(), requireObject(parse(body)), null);
        if (merged == null) {
          throw new PatchException(
              422,
              "a strategic merge patch cannot delete the whole object with \"$patch\": delete");
        }
        return merged;
      default:
        throw new PatchException(
            415,
            "the body of the request was in an unknown format - accepted media types include: "
                + JSON_PATCH
                + ", "
                + MERGE_PATCH
                + ", "
                + STRATEGIC_MERGE_PATCH);
    }
  }

  /** Strips parameters and case from a Content-Type header; null becomes "". */
  private static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semicolon = contentType.indexOf(';');
    String type = semicolon < 0 ? contentType : contentType.substring(0, semicolon);
    return type.trim().toLowerCase(Locale.ROOT);
  }

  private static JsonNode parse(String body) {
    if (body == null || body.isBlank()) {
      throw new PatchException(400, "the request body is empty; expected a patch document");
    }
    try {
      return MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      // Jackson appends the source location on further lines; the Status message is one line.
      String message = Objects.requireNonNullElse(e.getMessage(), "malformed JSON");
      throw new PatchException(400, message.lines().findFirst().orElse("malformed JSON"));
    }
  }

  private static ObjectNode requireObject(JsonNode patch) {
    if (!patch.isObject()) {
      throw new PatchException(
          400, "a merge patch must be a JSON object, got " + describeType(patch));
    }
    return (ObjectNode) patch;
  }

  private static String describeType(JsonNode node) {
    return node.getNodeType().name().toLowerCase(Locale.ROOT);
  }

  /**
   * Compares JSON values the way Go's encoding/json sees them: all numbers are float64 there, so 1
   * and 1.0 are the same value.
   */
  private static boolean sameValue(JsonNode a, JsonNode b) {
    if (a.isNumber() && b.isNumber()) {
      return a.decimalValue().compareTo(b.decimalValue()) == 0;
    }
    if (a.isObject() && b.isObject()) {
      if (a.size() != b.size()) {
        return false;
      }
      for (Map.Entry<String, JsonNode> field : a.properties()) {
        JsonNode other = b.get(field.getKey());
        if (other == null || !sameValue(field.getValue(), other)) {
          return false;
        }
      }
      return true;
    }
    if (a.isArray() && b.isArray()) {
      if (a.size() != b.size()) {
        return false;
      }
      for (int i = 0; i < a.size(); i++) {
        if (!sameValue(a.get(i), b.get(i))) {
          return false;
        }
      }
      return true;
    }
    return a.equals(b);
  }

  /** RFC 7386: null deletes, objects merge recursively, everything else replaces. */
  private static JsonNode mergePatch(JsonNode target, JsonNode patch) {
    if (!patch.isObject()) {
      return patch;
    }
    ObjectNode result =
        target != null && target.isObject() ? (ObjectNode) target : NODES.objectNode();
    for (Map.Entry<String, JsonNode> field : patch.properties()) {
      if (field.getValue().isNull()) {
        result.remove(field.getKey());
      } else {
        result.set(field.getKey(), mergePatch(result.get(field.getKey()), field.getValue()));
      }
    }
    return result;
  }

  /**
   * RFC 6902 JSON patch. Implemented here rather than with zjsonpatch because zjsonpatch lets
   * unchecked exceptions other than its own escape, silently ignores {@code remove /list/-}, and
   * compares 1 and 1.0 as different in {@code test}, all unlike the API server
   * (evanphx/json-patch).
   */
  private static final class JsonPatch {
    private JsonPatch() {}

    static ObjectNode apply(ObjectNode current, JsonNode patch) {
      if (!patch.isArray()) {
        throw new PatchException(
            400, "a JSON patch must be a JSON array of operations, got " + describeType(patch));
      }
      for (int i = 0; i < patch.size(); i++) {
        if (!patch.get(i).isObject()) {
          throw new PatchException(
              400,
              "JSON patch operation "
                  + i
                  + " must be a JSON object, got "
                  + describeType(patch.get(i)));
        }
      }
      JsonNode doc = current.deepCopy();
      for (JsonNode op : patch) {
        doc = applyOperation(doc, op);
      }
      if (!doc.isObject()) {
        throw new PatchException(
            422, "the JSON patch must leave an object, but it leaves " + describeType(doc));
      }
      return (ObjectNode) doc;
    }

    /** Applies one operation, mutating {@code doc} where it can; returns the (new) document. */
    private static JsonNode applyOperation(JsonNode doc, JsonNode op) {
      String kind = requiredText(op, "op");
      String pathText = requiredText(op, "path");
      List<String> path = pointer(pathText, kind);
      switch (kind) {
        case "add":
          return add(doc, path, requiredValue(op, kind, pathText).deepCopy(), kind, pathText);
        case "remove":
          if (path.isEmpty()) {
            throw failed(kind, pathText, "the whole document cannot be removed");
          }
          remove(doc, path, kind, pathText);
          return doc;
        case "replace":
          return replace(doc, path, requiredValue(op, kind, pathText).deepCopy(), kind, pathText);
        case "move":
          String fromText = requiredText(op, "from");
          List<String> from = pointer(fromText, kind);
          if (from.equals(path)) {
            return doc;
          }
          if (path.size() > from.size() && path.subList(0, from.size()).equals(from)) {
            throw failed(
                kind, pathText, "a value cannot be moved into itself (from " + fromText + ")");
          }
          if (from.isEmpty()) {
            throw failed(kind, pathText, "the whole document cannot be moved");
          }
          JsonNode moved = remove(doc, from, kind, fromText);
          return add(doc, path, moved, kind, pathText);
        case "copy":
          String sourceText = requiredText(op, "from");
          JsonNode source = resolve(doc, pointer(sourceText, kind));
          if (source == null) {
            throw failed(kind, sourceText, "path does not exist");
          }
          return add(doc, path, source.deepCopy(), kind, pathText);
        case "test":
          JsonNode expected = requiredValue(op, kind, pathText);
          JsonNode actual = resolve(doc, path);
          if (actual == null) {
            throw failed(kind, pathText, "path does not exist");
          }
          if (!sameValue(expected, actual)) {
            throw failed(kind, pathText, "value is " + actual + ", expected " + expected);
          }
          return doc;
        default:
          throw new PatchException(422, "unknown JSON patch operation \"" + kind + "\"");
      }
    }

    private static PatchException failed(String kind, String path, String reason) {
      return new PatchException(422, kind + " operation failed at " + path + ": " + reason);
    }

    private static String requiredText(JsonNode op, String field) {
      JsonNode value = op.get(field);
      if (value == null || !value.isTextual()) {
        throw new PatchException(
            422, "JSON patch operation " + op + " needs a string \"" + field + "\"");
      }
      return value.asText();
    }

    private static JsonNode requiredValue(JsonNode op, String kind, String path) {
      // "value": null is a legitimate value, so only an absent field is an error.
      JsonNode value = op.get("value");
      if (value == null) {
        throw failed(kind, path, "the operation has no \"value\"");
      }
      return value;
    }

    /** Splits an RFC 6901 JSON pointer into unescaped reference tokens. */
    private static List<String> pointer(String text, String kind) {
      List<String> tokens = new ArrayList<>();
      if (text.isEmpty()) {
        return tokens;
      }
      if (!text.startsWith("/")) {
        throw failed(kind, text, "a JSON pointer must be empty or start with /");
      }
      for (String raw : text.substring(1).split("/", -1)) {
        if (raw.replace("~0", "").replace("~1", "").contains("~")) {
          throw failed(kind, text, "invalid escape in JSON pointer (only ~0 and ~1 are allowed)");
        }
        tokens.add(raw.replace("~1", "/").replace("~0", "~"));
      }
      return tokens;
    }

    /** Returns the node at {@code path}, or null if there is none. */
    private static JsonNode resolve(JsonNode doc, List<String> path) {
      JsonNode node = doc;
      for (String token : path) {
        if (node.isObject()) {
          node = node.get(token);
        } else if (node.isArray()) {
          int index = arrayIndex(token);
          node = index >= 0 && index < node.size() ? node.get(index) : null;
        } else {
          return null;
        }
        if (node == null) {
          return null;
        }
      }
      return node;
    }

    /** Parses an array index token; -1 for "-", leading zeros, non-digits or overflow. */
    private static int arrayIndex(String token) {
      if (token.isEmpty()
          || token.length() > 9
          || (token.length() > 1 && token.charAt(0) == '0')
          || !token.chars().allMatch(c -> c >= '0' && c <= '9')) {
        return -1;
      }
      return Integer.parseInt(token);
    }

    private static JsonNode parentOf(
        JsonNode doc, List<String> path, String kind, String pathText) {
      JsonNode parent = resolve(doc, path.subList(0, path.size() - 1));
      if (parent == null) {
        throw failed(kind, pathText, "path does not exist");
      }
      if (!parent.isContainerNode()) {
        throw failed(
            kind, pathText, "the parent is a " + describeType(parent) + ", not a container");
      }
      return parent;
    }

    private static JsonNode add(
        JsonNode doc, List<String> path, JsonNode value, String kind, String pathText) {
      if (path.isEmpty()) {
        return value;
      }
      JsonNode parent = parentOf(doc, path, kind, pathText);
      String last = path.get(path.size() - 1);
      if (parent.isObject()) {
        ((ObjectNode) parent).set(last, value);
        return doc;
      }
      ArrayNode array = (ArrayNode) parent;
      if (last.equals("-")) {
        array.add(value);
        return doc;
      }
      int index = arrayIndex(last);
      if (index < 0 || index > array.size()) {
        throw failed(kind, pathText, "array index " + last + " is out of bounds");
      }
      array.insert(index, value);
      return doc;
    }

    private static JsonNode replace(
        JsonNode doc, List<String> path, JsonNode value, String kind, String pathText) {
      if (path.isEmpty()) {
        return value;
      }
      JsonNode parent = parentOf(doc, path, kind, pathText);
      String last = path.get(path.size() - 1);
      if (parent.isObject() && parent.has(last)) {
        // set() keeps the field where it is, so replacing does not reorder the object.
        ((ObjectNode) parent).set(last, value);
        return doc;
      }
      int index = arrayIndex(last);
      if (parent.isArray() && index >= 0 && index < parent.size()) {
        ((ArrayNode) parent).set(index, value);
        return doc;
      }
      throw failed(kind, pathText, "path does not exist");
    }

    /** Removes and returns the node at a non-root {@code path}. */
    private static JsonNode remove(JsonNode doc, List<String> path, String kind, String pathText) {
      JsonNode parent = parentOf(doc, path, kind, pathText);
      String last = path.get(path.size() - 1);
      JsonNode removed;
      if (parent.isObject()) {
        removed = ((ObjectNode) parent).remove(last);
      } else {
        int index = arrayIndex(last);
        removed = index >= 0 && index < parent.size() ? ((ArrayNode) parent).remove(index) : null;
      }
      if (removed == null) {
        throw failed(kind, pathText, "path does not exist");
      }
      return removed;
    }
  }

  /**
   * Kubernetes strategic merge patch for the built-in types. Works like a merge patch, except that
   * some lists are merged element by element using a merge key taken from the Go struct tags
   * ({@code patchMergeKey}), and the {@code $patch}, {@code $retainKeys}, {@code
   * $deleteFromPrimitiveList/} and {@code $setElementOrder/} directives are understood.
   */
  private static final class StrategicMerge {
    private static final String DIRECTIVE = "$patch";
    private static final String RETAIN_KEYS = "$retainKeys";
    private static final String SET_ELEMENT_ORDER = "$setElementOrder/";
    private static final String DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/";

    /** Lists of scalars with {@code patchStrategy:"merge"}: the patch adds to the set. */
    private static final Set<String> MERGED_PRIMITIVE_LISTS = Set.of("finalizers");

    private static final Set<String> CONTAINER_LISTS =
        Set.of("containers", "initContainers", "ephemeralContainers");

    private StrategicMerge() {}

    /**
     * Merges {@code patch} into {@code target} in place.
     *
     * @param path the field names from the root to {@code target}, without list indices; null for
     *     the root
     * @return the merged map, or null if the patch deletes it
     */
    static ObjectNode mergeMap(ObjectNode target, ObjectNode patch, FieldPath path) {
      JsonNode directive = patch.get(DIRECTIVE);
      if (directive != null) {
        switch (directive.asText()) {
          case "replace":
            ObjectNode replacement = patch.deepCopy();
            replacement.remove(DIRECTIVE);
            return mergeMap(NODES.objectNode(), replacement, path);
          case "delete":
            return null;
          default:
            throw unknownDirective(directive, patch);
        }
      }
      JsonNode retainKeys = patch.get(RETAIN_KEYS);
      if (retainKeys != null) {
        retainKeys(target, retainKeys);
      }
      // Deletions run before additions so that a value both deleted and added ends up present.
      for (Map.Entry<String, JsonNode> field : patch.properties()) {
        if (field.getKey().startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
          String list = field.getKey().substring(DELETE_FROM_PRIMITIVE_LIST.length());
          deleteFromPrimitiveList(target, list, field.getValue());
        }
      }
      for (Map.Entry<String, JsonNode> field : patch.properties()) {
        String key = field.getKey();
        if (key.equals(RETAIN_KEYS)
            || key.startsWith(DELETE_FROM_PRIMITIVE_LIST)
            // Only an ordering hint; merged lists keep existing order and append new elements.
            || key.startsWith(SET_ELEMENT_ORDER)) {
          continue;
        }
        JsonNode merged = mergeValue(target.get(key), field.getValue(), new FieldPath(path, key));
        if (merged == null) {
          target.remove(key);
        } else {
          target.set(key, merged);
        }
      }
      return target;
    }

    /** Returns the merged value of one field, or null to remove the field. */
    private static JsonNode mergeValue(JsonNode original, JsonNode patch, FieldPath path) {
      if (patch.isNull()) {
        return null;
      }
      if (patch.isObject()) {
        ObjectNode base =
            original != null && original.isObject() ? (ObjectNode) original : NODES.objectNode();
        return mergeMap(base, (ObjectNode) patch, path);
      }
      if (patch.isArray()) {
        ArrayNode base = original != null && original.isArray() ? (ArrayNode) original : null;
        return mergeList(base, (ArrayNode) patch, path);
      }
      return patch;
    }

    private static ArrayNode mergeList(ArrayNode original, ArrayNode patch, FieldPath path) {
      if (MERGED_PRIMITIVE_LISTS.contains(path.name()) && allScalars(patch)) {
        ArrayNode result = original == null ? NODES.arrayNode() : original;
        for (JsonNode value : patch) {
          if (indexOf(result, value) < 0) {
            result.add(value);
          }
        }
        return result;
      }
      String mergeKey = mergeKey(path);
      return mergeKey == null
          ? replaceList(patch, path)
          : mergeListByKey(original, patch, mergeKey, path);
    }

    /**
     * The {@code patchMergeKey} of a list with {@code patchStrategy:"merge"} in the built-in types,
     * or null for lists that a patch replaces. Mostly decided by the field name; {@code ports} and
     * {@code addresses} also need their place in the object.
     */
    private static String mergeKey(FieldPath path) {
      switch (path.name()) {
        case "containers":
        case "initContainers":
        case "ephemeralContainers":
        case "env":
        case "volumes":
        case "imagePullSecrets":
        case "schedulingGates":
          return "name";
        case "volumeMounts":
          return "mountPath";
        case "volumeDevices":
          return "devicePath";
        case "conditions":
          return "type";
        case "ownerReferences":
          return "uid";
        case "hostAliases":
        case "podIPs":
        case "hostIPs":
          return "ip";
        case "topologySpreadConstraints":
          return "topologyKey";
        case "ports":
          if (path.parent() != null && CONTAINER_LISTS.contains(path.parent().name())) {
            return "containerPort";
          }
          // Service spec.ports; other "ports" lists (e.g. NetworkPolicy's) have no strategy.
          return path.is("spec", "ports") ? "port" : null;
        case "addresses":
          // Node status.addresses; Endpoints subsets' addresses have no strategy.
          return path.is("status", "addresses") ? "type" : null;
        default:
          return null;
      }
    }

    private static ArrayNode mergeListByKey(
        ArrayNode original, ArrayNode patch, String mergeKey, FieldPath path) {
      ArrayNode result = original == null ? NODES.arrayNode() : original;
      List<ObjectNode> elements = new ArrayList<>();
      boolean replace = false;
      for (JsonNode element : patch) {
        if (!element.isObject()) {
          throw new PatchException(
              400,
              "the list \""
                  + path
                  + "\" is merged by \""
                  + mergeKey
                  + "\", but the patch has a "
                  + describeType(element)
                  + " element: "
                  + element);
        }
        JsonNode directive = element.get(DIRECTIVE);
        if (directive == null) {
          elements.add((ObjectNode) element);
          continue;
        }
        switch (directive.asText()) {
          case "delete":
            JsonNode key = requireMergeKey(element, mergeKey);
            for (int i = result.size() - 1; i >= 0; i--) {
              if (hasKey(result.get(i), mergeKey, key)) {
                result.remove(i);
              }
            }
            break;
          case "replace":
            // Keep scanning so that the other directive elements are dropped too.
            replace = true;
            break;
          case "merge":
            throw new PatchException(400, "merging lists cannot yet be specified in the patch");
          default:
            throw unknownDirective(directive, element);
        }
      }
      if (replace) {
        ArrayNode replacement = NODES.arrayNode();
        elements.forEach(e -> replacement.add(mergeMap(NODES.objectNode(), e, path)));
        return replacement;
      }
      for (ObjectNode element : elements) {
        JsonNode key = requireMergeKey(element, mergeKey);
        int index = indexOfKey(result, mergeKey, key);
        if (index < 0) {
          // Merging into an empty map drops nulls and directives nested in the new element.
          result.add(mergeMap(NODES.objectNode(), element, path));
        } else {
          result.set(index, mergeMap((ObjectNode) result.get(index), element, path));
        }
      }
      return result;
    }

    /** A list without a merge strategy is replaced by the patch's list, minus nulls in maps. */
    private static ArrayNode replaceList(ArrayNode patch, FieldPath path) {
      ArrayNode result = NODES.arrayNode();
      for (JsonNode element : patch) {
        JsonNode cleaned =
            element.isObject() ? mergeMap(NODES.objectNode(), (ObjectNode) element, path) : element;
        if (cleaned != null) {
          result.add(cleaned);
        }
      }
      return result;
    }

    private static void retainKeys(ObjectNode target, JsonNode retainKeys) {
      if (!retainKeys.isArray() || !allTextual(retainKeys)) {
        throw new PatchException(400, "invalid patch format of retainKeys: " + retainKeys);
      }
      Set<String> keep = new HashSet<>();
      retainKeys.forEach(k -> keep.add(k.asText()));
      for (Iterator<String> names = target.fieldNames(); names.hasNext(); ) {
        if (!keep.contains(names.next())) {
          names.remove();
        }
      }
    }

    private static void deleteFromPrimitiveList(ObjectNode target, String list, JsonNode values) {
      if (!values.isArray() || !allScalars(values)) {
        throw new PatchException(
            400, "invalid patch format of primitive list " + list + ": " + values);
      }
      JsonNode current = target.get(list);
      if (current == null || !current.isArray()) {
        return;
      }
      ArrayNode array = (ArrayNode) current;
      for (int i = array.size() - 1; i >= 0; i--) {
        if (indexOf((ArrayNode) values, array.get(i)) >= 0) {
          array.remove(i);
        }
      }
    }

    private static JsonNode requireMergeKey(JsonNode element, String mergeKey) {
      JsonNode key = element.get(mergeKey);
      if (key == null || key.isNull()) {
        throw new PatchException(
            400, "map: " + element + " does not contain declared merge key: " + mergeKey);
      }
      return key;
    }

    private static PatchException unknownDirective(JsonNode directive, JsonNode where) {
      return new PatchException(
          400, "Unknown patch type: " + directive.asText() + " in map: " + where);
    }

    private static boolean hasKey(JsonNode element, String mergeKey, JsonNode key) {
      JsonNode value = element.get(mergeKey);
      return value != null && sameValue(value, key);
    }

    private static int indexOfKey(ArrayNode list, String mergeKey, JsonNode key) {
      for (int i = 0; i < list.size(); i++) {
        if (list.get(i).isObject() && hasKey(list.get(i), mergeKey, key)) {
          return i;
        }
      }
      return -1;
    }

    private static int indexOf(ArrayNode list, JsonNode value) {
      for (int i = 0; i < list.size(); i++) {
        if (sameValue(list.get(i), value)) {
          return i;
        }
      }
      return -1;
    }

    private static boolean allScalars(JsonNode array) {
      for (JsonNode element : array) {
        if (element.isContainerNode()) {
          return false;
        }
      }
      return true;
    }

    private static boolean allTextual(JsonNode array) {
      for (JsonNode element : array) {
        if (!element.isTextual()) {
          return false;
        }
      }
      return true;
    }
  }

  /**
   * Where a value sits in the patched object: the field names from the root, without list indices.
   * The root itself is a null FieldPath.
   */
  private record FieldPath(FieldPath parent, String name) {
    /** Whether this path is exactly {@code names} from the root. */
    boolean is(String... names) {
      FieldPath node = this;
      for (int i = names.length - 1; i >= 0; i--) {
        if (node == null || !node.name.equals(names[i])) {
          return false;
        }
        node = node.parent;
      }
      return node == null;
    }

    @Override
    public String toString() {
      return parent == null ? name : parent + "." + name;
    }
  }
}
