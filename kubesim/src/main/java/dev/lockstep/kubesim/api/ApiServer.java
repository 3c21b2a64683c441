package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

/**
 * The API semantics kubesim adds on top of the CRUD store: admission (defaults, validation,
 * immutable fields), every patch type, status and scale subresources, label and field selectors,
 * dry runs, evictions, logs and the pod proxy, namespace checks, and Kubernetes {@code Status}
 * errors. It knows nothing of HTTP; {@link HttpFront} carries requests to it.
 */
public final class ApiServer {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private final Store store;
  private final List<ChangeListener> listeners = new CopyOnWriteArrayList<>();
  private final java.util.Set<WatchHandle> watches =
      java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.atomic.AtomicLong expiredWatches =
      new java.util.concurrent.atomic.AtomicLong();
  private volatile PodRuntime podRuntime;

  public ApiServer(Store store) {
    this.store = store;
  }

  public Store store() {
    return store;
  }

  public void addListener(ChangeListener listener) {
    listeners.add(listener);
  }

  public void setPodRuntime(PodRuntime podRuntime) {
    this.podRuntime = podRuntime;
  }

  /** An answer to a resource request. */
  public record Answer(int code, String contentType, String body) {
    static Answer json(int code, JsonNode body) {
      return new Answer(code, "application/json", body.toString());
    }
  }

  /** One resource request. {@code query} holds the decoded query parameters. */
  public record Call(
      String method, ApiPath path, Map<String, String> query, String contentType, String body) {
    boolean dryRun() {
      return query.containsKey("dryRun");
    }
  }

  /** Serves one non-watch resource request; never throws. */
  public Answer serve(Call call) {
    try {
      String dryRun = call.query().get("dryRun");
      if (dryRun != null && !dryRun.equals("All")) {
        throw new ApiException(
            422,
            "Invalid",
            "dryRun: Unsupported value: \"" + dryRun + "\": supported values: \"All\"");
      }
      if (call.path().converted()) {
        Call stored =
            new Call(
                call.method(),
                call.path(),
                call.query(),
                call.contentType(),
                Conversions.in(call.path(), call.body()));
        Answer answer = route(stored);
        if (!answer.contentType().equals("application/json")) {
          return answer;
        }
        return Answer.json(
            answer.code(), Conversions.out(call.path(), Store.JSON.readTree(answer.body())));
      }
      return route(call);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return Answer.json(
          500, status(500, "InternalError", "Internal error occurred: " + e.getMessage()));
    } catch (ApiException e) {
      return Answer.json(e.code(), status(e.code(), e.reason(), e.getMessage()));
    } catch (Patches.PatchException e) {
      return Answer.json(e.code(), status(e.code(), reasonFor(e.code()), e.getMessage()));
    } catch (RuntimeException e) {
      return Answer.json(
          500, status(500, "InternalError", "Internal error occurred: " + e.getMessage()));
    }
  }

  private Answer route(Call call) {
    ApiPath p = call.path();
    String sub = p.subresource();
    if (sub == null) {
      return switch (call.method()) {
        case "GET", "HEAD" -> p.name() == null ? list(call) : get(p);
        case "POST" -> {
          if (p.name() != null) {
            throw methodNotAllowed(call);
          }
          yield create(call);
        }
        case "PUT" -> update(call, p.name() == null ? null : parseBody(call));
        case "PATCH" -> patch(call);
        case "DELETE" -> p.name() == null ? deleteCollection(call) : delete(call);
        default -> throw methodNotAllowed(call);
      };
    }
    if (p.name() == null) {
      throw notFoundPath();
    }
    return switch (sub) {
      case "status" -> statusSubresource(call);
      case "scale" -> scale(call);
      case "log" -> log(call);
      case "eviction" -> evict(call);
      case "proxy" -> proxy(call);
      default -> throw notFoundPath();
    };
  }

  // ---- objects -------------------------------------------------------------------------------

  private Answer get(ApiPath p) {
    return Answer.json(200, require(p.type(), p.namespace(), p.name()));
  }

  private ObjectNode require(ResourceType type, String namespace, String name) {
    return store.get(type, namespace, name).orElseThrow(() -> ApiException.notFound(type, name));
  }

  private Answer list(Call call) {
    ApiPath p = call.path();
    Map<String, String> q = call.query();
    String rv = q.getOrDefault("resourceVersion", "");
    String match = q.getOrDefault("resourceVersionMatch", "");
    String token = q.getOrDefault("continue", "");
    checkListOptions(rv, match, token);
    long limit = limit(q.get("limit"));
    // Only what the selectors select is copied.
    Predicate<JsonNode> filter = selectorFilter(call);
    boolean selectors =
        !q.getOrDefault("labelSelector", "").isBlank()
            || !q.getOrDefault("fieldSelector", "").isBlank();
    long current = store.resourceVersion();
    long at = -1; // the latest
    String start = "";
    if (!token.isEmpty()) {
      Continue from = Continue.decode(token);
      start = from.start();
      if (from.version() == -1) {
        at = -1;
      } else if (from.version() > current) {
        throw futureRevision();
      } else if (from.version() < store.oldestVersion(p.type())) {
        ObjectNode status = status(410, "Expired", INCONSISTENT_CONTINUE);
        status.with("metadata").put("continue", new Continue(-1, from.start()).encode());
        return Answer.json(410, status);
      } else {
        at = from.version();
      }
    } else if (!rv.isEmpty()) {
      long version = version(rv);
      boolean exact = match.equals("Exact") || (match.isEmpty() && limit > 0 && version != 0);
      if (exact) {
        if (version > current) {
          throw futureRevision();
        }
        at = version;
      } else {
        // Served from the watch cache, as the real server does: not older than the version asked,
        // whole (a limit is ignored for version 0, and the version cannot be waited for here).
        if (version > current) {
          throw new ApiException(
              504,
              "Timeout",
              "Timeout: Too large resource version: " + version + ", current: " + current);
        }
        if (version == 0) {
          limit = 0;
        }
      }
    }
    // The latest state is read under the store's lock, with the version it is at.
    Store.Snapshot read = store.snapshot(p.type(), p.namespace(), filter, at);
    java.util.NavigableMap<String, ObjectNode> snapshot = read.items();
    at = read.version();
    ObjectNode list = NODES.objectNode();
    list.put("apiVersion", p.type().apiVersion());
    list.put("kind", p.type().kind() + "List");
    ObjectNode metadata = list.putObject("metadata");
    metadata.put("resourceVersion", String.valueOf(at));
    java.util.NavigableMap<String, ObjectNode> rest =
        start.isEmpty() ? snapshot : snapshot.tailMap(start, true);
    ArrayNode items = NODES.arrayNode();
    String last = null;
    for (var entry : rest.entrySet()) {
      if (limit > 0 && items.size() == limit) {
        break;
      }
      items.add(entry.getValue());
      last = entry.getKey();
    }
    if (limit > 0 && rest.size() > limit) {
      metadata.put("continue", new Continue(at, last + "\u0000").encode());
      if (!selectors) {
        metadata.put("remainingItemCount", rest.size() - limit);
      }
    }
    list.set("items", items);
    return Answer.json(200, list);
  }

  private static final String INCONSISTENT_CONTINUE =
      "The provided continue parameter is too old to display a consistent list result. You can"
          + " start a new list without the continue parameter, or use the continue token in this"
          + " response to retrieve the remainder of the results. Continuing with the provided token"
          + " results in an inconsistent list - objects that were created, modified, or deleted"
          + " between the time the first chunk was returned and now may show up in the list.";

  private static ApiException futureRevision() {
    return new ApiException(
        500, "InternalError", "etcdserver: mvcc: required revision is a future revision");
  }

  /** ListOptions' resourceVersion rules, with a v1.20 API server's refusals. */
  private static void checkListOptions(String rv, String match, String token) {
    List<String> forbidden = new ArrayList<>();
    if (!match.isEmpty()) {
      if (!match.equals("Exact") && !match.equals("NotOlderThan")) {
        forbidden.add(
            "resourceVersionMatch: Unsupported value: \""
                + match
                + "\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
      } else if (rv.isEmpty()) {
        forbidden.add(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless"
                + " resourceVersion is provided");
      } else if (match.equals("Exact") && rv.equals("0")) {
        forbidden.add(
            "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for"
                + " resourceVersion \"0\"");
      }
      if (!token.isEmpty()) {
        forbidden.add(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is"
                + " provided");
      }
    }
    if (!forbidden.isEmpty()) {
      throw new ApiException(
          422,
          "Invalid",
          "ListOptions.meta.k8s.io \"\" is invalid: "
              + (forbidden.size() == 1
                  ? forbidden.get(0)
                  : "[" + String.join(", ", forbidden) + "]"));
    }
    if (!token.isEmpty() && !rv.isEmpty() && !rv.equals("0")) {
      throw ApiException.badRequest(
          "specifying resource version is not allowed when using continue");
    }
  }

  private static long limit(String text) {
    try {
      return text == null || text.isBlank() ? 0 : Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw ApiException.badRequest("limit: invalid value " + text);
    }
  }

  /** A list's resourceVersion parameter, refused as the real server refuses it. */
  private static long version(String rv) {
    try {
      long version = Long.parseUnsignedLong(rv);
      if (version < 0) {
        throw new NumberFormatException("out of range");
      }
      return version;
    } catch (NumberFormatException e) {
      throw new ApiException(
          500,
          "InternalError",
          "resourceVersion: Invalid value: \""
              + rv
              + "\": strconv.ParseUint: parsing \""
              + rv
              + "\": invalid syntax");
    }
  }

  /**
   * A continue token as a real API server writes it: base64 (URL alphabet, unpadded) of {@code
   * {"v":"meta.k8s.io/v1","rv":N,"start":"KEY"}}, where N is the version of the first page's
   * snapshot (-1: continue at the latest) and KEY the last key returned followed by a NUL (the next
   * key there can be). Clients treat it as opaque.
   */
  record Continue(long version, String start) {
    String encode() {
      ObjectNode token = NODES.objectNode();
      token.put("v", "meta.k8s.io/v1");
      token.put("rv", version);
      token.put("start", start);
      return java.util.Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(token.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    static Continue decode(String token) {
      JsonNode json;
      try {
        byte[] bytes = java.util.Base64.getUrlDecoder().decode(token.replace("=", ""));
        json = Store.JSON.readTree(bytes);
      } catch (IllegalArgumentException | java.io.IOException e) {
        throw invalid(e.getMessage() == null ? "malformed" : e.getMessage().split("\n")[0]);
      }
      if (json == null || !json.isObject()) {
        throw invalid("not an object");
      }
      String v = json.path("v").asText("");
      if (!v.equals("meta.k8s.io/v1")) {
        throw invalid("server does not recognize this encoded version \"" + v + "\"");
      }
      if (!json.path("rv").canConvertToLong() || json.path("rv").asLong() == 0) {
        throw invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
      }
      String start = json.path("start").asText("");
      if (start.isEmpty()) {
        throw invalid("encoded start key is empty (version meta.k8s.io/v1)");
      }
      return new Continue(json.path("rv").asLong(), start);
    }

    private static ApiException invalid(String why) {
      return ApiException.badRequest("invalid continue token: continue key is not valid: " + why);
    }
  }

  /** The label and field selectors of a list or watch, as one filter over whole objects. */
  Predicate<JsonNode> selectorFilter(Call call) {
    Predicate<JsonNode> filter = o -> true;
    String labels = call.query().get("labelSelector");
    if (labels != null && !labels.isBlank()) {
      Predicate<Map<String, String>> labelFilter;
      try {
        labelFilter = Selectors.parseLabelSelector(labels);
      } catch (IllegalArgumentException e) {
        throw ApiException.badRequest(e.getMessage());
      }
      filter = filter.and(o -> labelFilter.test(labels(o)));
    }
    String fields = call.query().get("fieldSelector");
    if (fields != null && !fields.isBlank()) {
      try {
        filter = filter.and(Selectors.parseFieldSelector(call.path().type().plural(), fields));
      } catch (IllegalArgumentException e) {
        throw ApiException.badRequest(e.getMessage());
      }
    }
    return filter;
  }

  /** The labels of an object, empty when it has none. */
  public static Map<String, String> labels(JsonNode object) {
    Map<String, String> labels = new HashMap<>();
    object
        .path("metadata")
        .path("labels")
        .fields()
        .forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
    return labels;
  }

  private Answer create(Call call) {
    ApiPath p = call.path();
    ResourceType type = p.type();
    if (type.namespaced() && p.namespace() == null) {
      throw notFoundPath();
    }
    ObjectNode object = parseBody(call);
    ObjectNode metadata = object.with("metadata");
    String bodyNamespace = metadata.path("namespace").asText("");
    if (type.namespaced()) {
      if (!bodyNamespace.isEmpty() && !bodyNamespace.equals(p.namespace())) {
        throw ApiException.badRequest(
            "the namespace of the provided object does not match the namespace sent on the"
                + " request");
      }
      metadata.put("namespace", p.namespace());
      requireNamespace(p.namespace());
    } else {
      metadata.remove("namespace");
    }
    String name = Admission.admitCreate(type, object);
    if (store.get(type, p.namespace(), name).isPresent()) {
      throw ApiException.alreadyExists(type, name);
    }
    if (call.dryRun()) {
      metadata.put("creationTimestamp", now());
      metadata.put("generation", 1);
      return Answer.json(201, object);
    }
    metadata.remove("resourceVersion");
    ObjectNode created = store.create(type, p.namespace(), object);
    if (type.kind().equals("Job") && Admission.labelJob(created)) {
      created = store.update(type, p.namespace(), name, created);
    }
    notifyChange(type, created, false);
    return Answer.json(201, created);
  }

  private void requireNamespace(String namespace) {
    ResourceType namespaces = ResourceTypes.of("", "namespaces");
    ObjectNode ns =
        store
            .get(namespaces, null, namespace)
            .orElseThrow(() -> ApiException.notFound(namespaces, namespace));
    if (ns.path("metadata").has("deletionTimestamp")) {
      throw new ApiException(
          403,
          "Forbidden",
          "unable to create new content in namespace "
              + namespace
              + " because it is being terminated");
    }
  }

  private Answer update(Call call, ObjectNode body) {
    ApiPath p = call.path();
    if (p.name() == null) {
      throw methodNotAllowed(call);
    }
    ObjectNode current = require(p.type(), p.namespace(), p.name());
    return Answer.json(200, replace(p, current, body, call.dryRun()));
  }

  /** Stores {@code updated} in place of {@code current}: the one path for PUT and PATCH. */
  private ObjectNode replace(ApiPath p, ObjectNode current, ObjectNode updated, boolean dryRun) {
    ResourceType type = p.type();
    String rv = updated.path("metadata").path("resourceVersion").asText("");
    if (!rv.isEmpty() && !rv.equals(current.path("metadata").path("resourceVersion").asText())) {
      throw ApiException.conflict(type, p.name());
    }
    String bodyNamespace = updated.path("metadata").path("namespace").asText("");
    if (type.namespaced() && !bodyNamespace.isEmpty() && !bodyNamespace.equals(p.namespace())) {
      throw ApiException.badRequest(
          "the namespace of the provided object does not match the namespace sent on the"
              + " request");
    }
    // The main resource ignores status changes; only the status subresource writes status.
    if (type.hasStatus()) {
      if (current.has("status")) {
        updated.set("status", current.get("status").deepCopy());
      } else {
        updated.remove("status");
      }
    }
    Admission.admitUpdate(type, current, updated);
    keepSystemMetadata(current, updated);
    if (dryRun) {
      return updated;
    }
    ObjectNode stored = store.update(type, p.namespace(), p.name(), updated);
    if (!stored.equals(current)) {
      notifyChange(type, stored, false);
    }
    finishDeletionIfDone(p, stored);
    return stored;
  }

  private static void keepSystemMetadata(ObjectNode current, ObjectNode updated) {
    ObjectNode metadata = updated.with("metadata");
    JsonNode old = current.path("metadata");
    for (String field : new String[] {"uid", "creationTimestamp", "deletionTimestamp"}) {
      if (old.has(field)) {
        metadata.set(field, old.get(field));
      } else {
        metadata.remove(field);
      }
    }
    metadata.put("resourceVersion", old.path("resourceVersion").asText());
    if (old.has("namespace")) {
      metadata.set("namespace", old.get("namespace"));
    }
  }

  private Answer patch(Call call) {
    ApiPath p = call.path();
    if (p.name() == null) {
      throw methodNotAllowed(call);
    }
    ObjectNode current = require(p.type(), p.namespace(), p.name());
    ObjectNode patched = Patches.apply(call.contentType(), current, call.body());
    // A patch that does not name a resourceVersion is unconditional.
    if (!hasResourceVersion(call.body())) {
      patched
          .with("metadata")
          .put("resourceVersion", current.path("metadata").path("resourceVersion").asText());
    }
    return Answer.json(200, replace(p, current, patched, call.dryRun()));
  }

  private static boolean hasResourceVersion(String body) {
    return body != null && body.contains("\"resourceVersion\"");
  }

  private Answer delete(Call call) {
    ApiPath p = call.path();
    ObjectNode current = require(p.type(), p.namespace(), p.name());
    checkPreconditions(call, p, current);
    if (call.dryRun()) {
      return Answer.json(200, current);
    }
    return Answer.json(200, deleteObject(p.type(), current));
  }

  /**
   * DeleteOptions' {@code preconditions} ({@code uid}, {@code resourceVersion}): a delete meant for
   * one object never deletes another of the same name; 409 as a real API server answers.
   */
  private static void checkPreconditions(Call call, ApiPath p, ObjectNode current) {
    if (call.body() == null || call.body().isBlank()) {
      return;
    }
    JsonNode preconditions;
    try {
      preconditions = NODES_READER.readTree(call.body()).path("preconditions");
    } catch (java.io.IOException e) {
      throw ApiException.badRequest("the body of a delete is not DeleteOptions: " + e.getMessage());
    }
    for (String field : new String[] {"uid", "resourceVersion"}) {
      String wanted = preconditions.path(field).asText("");
      String actual = current.path("metadata").path(field).asText("");
      if (!wanted.isEmpty() && !wanted.equals(actual)) {
        String label = field.equals("uid") ? "UID" : "ResourceVersion";
        throw new ApiException(
            409,
            "Conflict",
            "Operation cannot be fulfilled on "
                + ApiException.qualified(p.type())
                + " \""
                + p.name()
                + "\": Precondition failed: "
                + label
                + " in precondition: "
                + wanted
                + ", "
                + label
                + " in object meta: "
                + actual);
      }
    }
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper NODES_READER =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /**
   * Deletes an object: at once when it has no finalizers, else marks it with a deletionTimestamp. A
   * namespace takes its content with it.
   */
  ObjectNode deleteObject(ResourceType type, ObjectNode current) {
    String namespace = current.path("metadata").path("namespace").asText(null);
    String name = current.path("metadata").path("name").asText();
    if (type.kind().equals("Namespace")) {
      for (ResourceType t : ResourceTypes.ALL) {
        if (t.namespaced()) {
          for (ObjectNode o : store.list(t, name)) {
            if (store.delete(t, name, o.path("metadata").path("name").asText())) {
              notifyChange(t, o, true);
            }
          }
        }
      }
    }
    JsonNode finalizers = current.path("metadata").path("finalizers");
    if (finalizers.isArray() && !finalizers.isEmpty()) {
      if (current.path("metadata").has("deletionTimestamp")) {
        return current;
      }
      ObjectNode marked = current.deepCopy();
      marked.with("metadata").put("deletionTimestamp", now());
      ObjectNode stored = store.update(type, namespace, name, marked);
      notifyChange(type, stored, false);
      return stored;
    }
    if (store.delete(type, namespace, name)) {
      notifyChange(type, current, true);
    }
    return current;
  }

  private void finishDeletionIfDone(ApiPath p, ObjectNode stored) {
    JsonNode metadata = stored.path("metadata");
    if (metadata.has("deletionTimestamp")
        && (!metadata.path("finalizers").isArray() || metadata.path("finalizers").isEmpty())) {
      if (store.delete(p.type(), p.namespace(), p.name())) {
        notifyChange(p.type(), stored, true);
      }
    }
  }

  private Answer deleteCollection(Call call) {
    ApiPath p = call.path();
    Predicate<JsonNode> filter = selectorFilter(call);
    ArrayNode items = NODES.arrayNode();
    for (ObjectNode o : store.list(p.type(), p.namespace())) {
      if (filter.test(o)) {
        items.add(call.dryRun() ? o : deleteObject(p.type(), o));
      }
    }
    ObjectNode list = NODES.objectNode();
    list.put("apiVersion", p.type().apiVersion());
    list.put("kind", p.type().kind() + "List");
    list.putObject("metadata");
    list.set("items", items);
    return Answer.json(200, list);
  }

  // ---- subresources --------------------------------------------------------------------------

  private Answer statusSubresource(Call call) {
    ApiPath p = call.path();
    ObjectNode current = require(p.type(), p.namespace(), p.name());
    JsonNode newStatus;
    switch (call.method()) {
      case "GET" -> {
        return Answer.json(200, current);
      }
      case "PUT" -> {
        ObjectNode body = parseBody(call);
        checkResourceVersion(p, current, body);
        newStatus = body.path("status");
      }
      case "PATCH" -> {
        ObjectNode patched = Patches.apply(call.contentType(), current, call.body());
        if (hasResourceVersion(call.body())) {
          checkResourceVersion(p, current, patched);
        }
        newStatus = patched.path("status");
      }
      default -> throw methodNotAllowed(call);
    }
    ObjectNode updated = current.deepCopy();
    if (newStatus.isMissingNode() || newStatus.isNull()) {
      updated.remove("status");
    } else {
      updated.set("status", newStatus.deepCopy());
    }
    if (call.dryRun()) {
      return Answer.json(200, updated);
    }
    if (updated.equals(current)) {
      return Answer.json(200, current);
    }
    ObjectNode stored = store.updateStatus(p.type(), p.namespace(), p.name(), updated);
    notifyChange(p.type(), stored, false);
    return Answer.json(200, stored);
  }

  private static void checkResourceVersion(ApiPath p, ObjectNode current, ObjectNode body) {
    String rv = body.path("metadata").path("resourceVersion").asText("");
    if (!rv.isEmpty() && !rv.equals(current.path("metadata").path("resourceVersion").asText())) {
      throw ApiException.conflict(p.type(), p.name());
    }
  }

  private Answer scale(Call call) {
    ApiPath p = call.path();
    ObjectNode current = require(p.type(), p.namespace(), p.name());
    ObjectNode scale = scaleOf(current);
    switch (call.method()) {
      case "GET" -> {
        return Answer.json(200, scale);
      }
      case "PUT", "PATCH" -> {
        ObjectNode requested =
            call.method().equals("PUT")
                ? parseBody(call)
                : Patches.apply(call.contentType(), scale, call.body());
        checkResourceVersion(p, current, requested);
        JsonNode replicas = requested.path("spec").path("replicas");
        if (!replicas.canConvertToInt() || replicas.asInt() < 0) {
          throw new ApiException(
              422,
              "Invalid",
              "Scale.autoscaling \""
                  + p.name()
                  + "\" is invalid: spec.replicas: Invalid value: "
                  + replicas
                  + ": must be greater than or equal to 0");
        }
        ObjectNode updated = current.deepCopy();
        updated.with("spec").put("replicas", replicas.asInt());
        ApiPath main = new ApiPath(p.type(), p.namespace(), p.name(), null, "");
        ObjectNode stored = replace(main, current, updated, call.dryRun());
        return Answer.json(200, scaleOf(stored));
      }
      default -> throw methodNotAllowed(call);
    }
  }

  private static ObjectNode scaleOf(ObjectNode object) {
    ObjectNode scale = NODES.objectNode();
    scale.put("apiVersion", "autoscaling/v1");
    scale.put("kind", "Scale");
    ObjectNode metadata = scale.putObject("metadata");
    JsonNode m = object.path("metadata");
    for (String field : new String[] {"name", "namespace", "uid", "resourceVersion"}) {
      if (m.has(field)) {
        metadata.set(field, m.get(field));
      }
    }
    scale.putObject("spec").put("replicas", object.path("spec").path("replicas").asInt(1));
    ObjectNode status = scale.putObject("status");
    status.put("replicas", object.path("status").path("replicas").asInt(0));
    List<String> selector = new ArrayList<>();
    object
        .path("spec")
        .path("selector")
        .path("matchLabels")
        .fields()
        .forEachRemaining(e -> selector.add(e.getKey() + "=" + e.getValue().asText()));
    status.put("selector", String.join(",", selector));
    return scale;
  }

  private Answer log(Call call) {
    ApiPath p = call.path();
    if (!call.method().equals("GET")) {
      throw methodNotAllowed(call);
    }
    ObjectNode pod = require(p.type(), p.namespace(), p.name());
    List<String> containers = new ArrayList<>();
    pod.path("spec").path("containers").forEach(c -> containers.add(c.path("name").asText()));
    String container = call.query().get("container");
    if (container == null) {
      if (containers.size() != 1) {
        throw ApiException.badRequest(
            "a container name must be specified for pod "
                + p.name()
                + ", choose one of: "
                + containers);
      }
      container = containers.get(0);
    } else if (!containers.contains(container)) {
      throw ApiException.badRequest("container " + container + " is not valid for pod " + p.name());
    }
    int tail = -1;
    if (call.query().containsKey("tailLines")) {
      try {
        tail = Integer.parseInt(call.query().get("tailLines"));
      } catch (NumberFormatException e) {
        throw ApiException.badRequest("tailLines must be a number");
      }
    }
    PodRuntime runtime = podRuntime;
    String text = runtime == null ? "" : runtime.log(pod, container, tail);
    return new Answer(200, "text/plain", text);
  }

  private Answer evict(Call call) {
    ApiPath p = call.path();
    if (!call.method().equals("POST")) {
      throw methodNotAllowed(call);
    }
    ObjectNode body = parseBody(call);
    String bodyName = body.path("metadata").path("name").asText("");
    if (!bodyName.equals(p.name())) {
      throw ApiException.badRequest("name in URL does not match name in Eviction object");
    }
    ObjectNode pod = require(p.type(), p.namespace(), p.name());
    String phase = pod.path("status").path("phase").asText("");
    boolean terminal =
        phase.equals("Pending") || phase.equals("Succeeded") || phase.equals("Failed");
    ResourceType pdbs = ResourceTypes.of("policy", "poddisruptionbudgets");
    List<ObjectNode> spent = new java.util.ArrayList<>();
    if (!terminal && !pod.path("metadata").has("deletionTimestamp")) {
      Map<String, String> podLabels = labels(pod);
      List<ObjectNode> matching =
          store.list(pdbs, p.namespace()).stream()
              .filter(pdb -> Selectors.matches(pdb.path("spec").path("selector"), podLabels))
              .filter(pdb -> !pdb.path("spec").path("selector").isEmpty())
              .toList();
      if (matching.size() > 1) {
        throw new ApiException(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does"
                + " not support.");
      }
      if (matching.size() == 1) {
        ObjectNode pdb = matching.get(0);
        JsonNode status = pdb.path("status");
        String pdbName = pdb.path("metadata").path("name").asText();
        if (status.path("observedGeneration").asLong(0)
            < pdb.path("metadata").path("generation").asLong(1)) {
          throw new ApiException(
              429,
              "TooManyRequests",
              "Cannot evict pod as it would violate the pod's disruption budget. The disruption"
                  + " budget "
                  + pdbName
                  + " is still being processed by the server.");
        }
        int allowed = status.path("disruptionsAllowed").asInt(0);
        if (allowed <= 0) {
          throw new ApiException(
              429,
              "TooManyRequests",
              "Cannot evict pod as it would violate the pod's disruption budget. The disruption"
                  + " budget "
                  + pdbName
                  + " needs "
                  + status.path("desiredHealthy").asInt()
                  + " healthy pods and has "
                  + status.path("currentHealthy").asInt()
                  + " currently");
        }
        if (!call.dryRun()) {
          ObjectNode updated = pdb.deepCopy();
          ObjectNode newStatus = updated.with("status");
          newStatus.put("disruptionsAllowed", allowed - 1);
          newStatus.with("disruptedPods").put(p.name(), now());
          spent.add(updated);
        }
      }
    }
    if (!call.dryRun()) {
      // The pod goes first: the disruption controller, woken by the budget's new status, must
      // not count the evicted pod as healthy (its creation second can equal the eviction's).
      deleteObject(p.type(), pod);
      for (ObjectNode updated : spent) {
        ObjectNode stored =
            store.updateStatus(
                pdbs, p.namespace(), updated.path("metadata").path("name").asText(), updated);
        notifyChange(pdbs, stored, false);
      }
    }
    ObjectNode success = NODES.objectNode();
    success.put("kind", "Status");
    success.put("apiVersion", "v1");
    success.putObject("metadata");
    success.put("status", "Success");
    success.put("code", 201);
    return Answer.json(201, success);
  }

  private Answer proxy(Call call) {
    if (call.path().type().kind().equals("Service")) {
      return serviceProxy(call);
    }
    ApiPath p = call.path();
    String id = p.name();
    // The name segment may be name, name:port or scheme:name:port.
    String[] parts = id.split(":");
    String name;
    String portText = null;
    if (parts.length == 1) {
      name = parts[0];
    } else if (parts.length == 2) {
      name = parts[0];
      portText = parts[1];
    } else if (parts.length == 3 && (parts[0].equals("http") || parts[0].equals("https"))) {
      name = parts[1];
      portText = parts[2];
    } else {
      throw ApiException.badRequest("invalid pod request \"" + id + "\"");
    }
    ObjectNode pod = require(p.type(), p.namespace(), name);
    int port;
    if (portText == null || portText.isEmpty()) {
      port = firstContainerPort(pod);
    } else {
      try {
        port = Integer.parseInt(portText);
      } catch (NumberFormatException e) {
        port = namedPort(pod, portText);
      }
    }
    if (pod.path("status").path("podIP").asText("").isEmpty()) {
      throw new ApiException(
          503,
          "ServiceUnavailable",
          "error trying to reach service: pod " + name + " has no IP address");
    }
    PodRuntime runtime = podRuntime;
    if (runtime == null) {
      throw new ApiException(503, "ServiceUnavailable", "error trying to reach service");
    }
    PodRuntime.ProxyAnswer answer = runtime.proxy(pod, port, call.method(), "/" + p.rest());
    return new Answer(answer.code(), answer.contentType(), answer.body());
  }

  private final java.util.Random endpointPicker = new java.util.Random();

  /**
   * {@code services/[scheme:]NAME[:PORT]/proxy/PATH}, as upstream's service ResourceLocation: the
   * port is a Service port's name or number (or the only one), and the request goes to a random
   * ready address of the Service's Endpoints for that port; none is 503 {@code no endpoints
   * available for service "NAME"}. The pod answers as it would through the pod proxy.
   */
  private Answer serviceProxy(Call call) {
    ApiPath p = call.path();
    String id = p.name();
    String[] parts = id.split(":");
    String name;
    String portText = "";
    if (parts.length == 1) {
      name = parts[0];
    } else if (parts.length == 2) {
      name = parts[0];
      portText = parts[1];
    } else if (parts.length == 3 && (parts[0].equals("http") || parts[0].equals("https"))) {
      name = parts[1];
      portText = parts[2];
    } else {
      throw ApiException.badRequest("invalid service request \"" + id + "\"");
    }
    ObjectNode service = require(p.type(), p.namespace(), name);
    ResourceType endpointsType = ResourceTypes.of("", "endpoints");
    ResourceType pods = ResourceTypes.of("", "pods");
    ObjectNode endpoints = store.get(endpointsType, p.namespace(), name).orElse(null);
    for (JsonNode servicePort : service.path("spec").path("ports")) {
      String portName = servicePort.path("name").asText("");
      if (!(portText.isEmpty()
          || portText.equals(portName)
          || portText.equals(servicePort.path("port").asText()))) {
        continue;
      }
      if (endpoints == null) {
        break;
      }
      List<JsonNode> subsets = new ArrayList<>();
      endpoints.path("subsets").forEach(subsets::add);
      java.util.Collections.shuffle(subsets, endpointPicker);
      for (JsonNode subset : subsets) {
        if (subset.path("addresses").isEmpty()) {
          continue;
        }
        for (JsonNode port : subset.path("ports")) {
          if (!port.path("name").asText("").equals(portName)) {
            continue;
          }
          JsonNode address =
              subset.path("addresses").get(endpointPicker.nextInt(subset.path("addresses").size()));
          JsonNode ref = address.path("targetRef");
          ObjectNode pod = store.get(pods, p.namespace(), ref.path("name").asText()).orElse(null);
          PodRuntime runtime = podRuntime;
          if (pod == null || runtime == null) {
            throw new ApiException(503, "ServiceUnavailable", "error trying to reach service");
          }
          PodRuntime.ProxyAnswer answer =
              runtime.proxy(pod, port.path("port").asInt(), call.method(), "/" + p.rest());
          return new Answer(answer.code(), answer.contentType(), answer.body());
        }
      }
    }
    throw new ApiException(
        503, "ServiceUnavailable", "no endpoints available for service \"" + id + "\"");
  }

  private static int firstContainerPort(ObjectNode pod) {
    for (JsonNode container : pod.path("spec").path("containers")) {
      for (JsonNode port : container.path("ports")) {
        if (port.has("containerPort")) {
          return port.path("containerPort").asInt();
        }
      }
    }
    return 80;
  }

  private static int namedPort(ObjectNode pod, String portName) {
    for (JsonNode container : pod.path("spec").path("containers")) {
      for (JsonNode port : container.path("ports")) {
        if (portName.equals(port.path("name").asText())) {
          return port.path("containerPort").asInt();
        }
      }
    }
    throw ApiException.badRequest("invalid pod request: no port named \"" + portName + "\"");
  }

  // ---- watch ---------------------------------------------------------------------------------

  /** How many watches were refused with a 410 ERROR event (too old a resourceVersion). */
  public long expiredWatches() {
    return expiredWatches.get();
  }

  /** An open watch; {@link #close()} ends it. */
  public interface WatchHandle {
    void close();

    /**
     * Sends a BOOKMARK event carrying the store's current resourceVersion, in order with the
     * changes, when anything changed since the watch began (as a real server's watch cache does).
     */
    default void bookmark() {}
  }

  /**
   * Opens a watch on a collection: every event whose object passes the selectors is written to
   * {@code sink} as one JSON line ({@code {"type":..., "object":...}}). Without a resourceVersion
   * (or "0") it starts with an ADDED event per object; from a resourceVersion, it replays every
   * change after it. A resourceVersion older than the store's history gets one ERROR event (a 410
   * Expired {@code Status}) and the watch ends, as a real API server answers from its watch cache:
   * the client must list again.
   */
  public WatchHandle watch(Call call, java.util.function.Consumer<String> sink, Runnable onEnd) {
    ApiPath p = call.path();
    Predicate<JsonNode> filter = selectorFilter(call);
    long since = parseVersion(call.query().get("resourceVersion"));
    AtomicBoolean open = new AtomicBoolean(true);
    // As the watch cache: a bookmark goes out only once something changed since the watch began.
    long begun = since == 0 ? store.resourceVersion() : since;
    java.util.function.Consumer<Store.Event> events =
        event -> {
          if (!open.get()) {
            return;
          }
          long version =
              parseVersion(event.object().path("metadata").path("resourceVersion").asText());
          if (event.type().equals("BOOKMARK") ? version <= begun : !filter.test(event.object())) {
            return;
          }
          ObjectNode line = NODES.objectNode();
          line.put("type", event.type());
          line.set(
              "object",
              p.converted() ? Conversions.out(p, event.object().deepCopy()) : event.object());
          sink.accept(line.toString());
        };
    Runnable stop;
    try {
      stop = store.watch(p.type(), p.namespace(), since, events);
    } catch (ApiException e) {
      if (e.code() != 410) {
        throw e;
      }
      ObjectNode line = NODES.objectNode();
      line.put("type", "ERROR");
      line.set("object", status(e.code(), e.reason(), e.getMessage()));
      sink.accept(line.toString());
      expiredWatches.incrementAndGet();
      open.set(false);
      onEnd.run();
      return () -> {};
    }
    WatchHandle handle =
        new WatchHandle() {
          @Override
          public void close() {
            if (open.compareAndSet(true, false)) {
              stop.run();
              onEnd.run();
            }
          }

          @Override
          public void bookmark() {
            if (open.get()) {
              store.bookmark(p.type(), events);
            }
          }
        };
    return handle;
  }

  private static long parseVersion(String rv) {
    if (rv == null || rv.isEmpty()) {
      return 0;
    }
    try {
      return Long.parseLong(rv);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Writes through the API's own rules on behalf of kubesim itself (controllers, seeding). */
  public void notifyChange(ResourceType type, ObjectNode object, boolean deleted) {
    for (ChangeListener listener : listeners) {
      listener.changed(type, object, deleted);
    }
  }

  private static ObjectNode parseBody(Call call) {
    if (call.body() == null || call.body().isBlank()) {
      throw ApiException.badRequest("the request body is empty");
    }
    try {
      JsonNode node = Store.JSON.readTree(call.body());
      if (!node.isObject()) {
        throw ApiException.badRequest("the request body must be a JSON object");
      }
      return (ObjectNode) node;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw ApiException.badRequest(
          "the request body is not valid JSON: " + e.getOriginalMessage());
    }
  }

  private static ApiException methodNotAllowed(Call call) {
    return new ApiException(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }

  static ApiException notFoundPath() {
    return new ApiException(404, "NotFound", "the server could not find the requested resource");
  }

  static String now() {
    return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** A Kubernetes {@code Status} failure body. */
  public static ObjectNode status(int code, String reason, String message) {
    ObjectNode status = NODES.objectNode();
    status.put("kind", "Status");
    status.put("apiVersion", "v1");
    status.putObject("metadata");
    status.put("status", "Failure");
    status.put("message", message);
    status.put("reason", reason);
    status.put("code", code);
    return status;
  }

  /** The Status reason Kubernetes gives with an HTTP code. */
  public static String reasonFor(int code) {
    return switch (code) {
      case 400 -> "BadRequest";
      case 404 -> "NotFound";
      case 405 -> "MethodNotAllowed";
      case 409 -> "Conflict";
      case 415 -> "UnsupportedMediaType";
      case 422 -> "Invalid";
      case 429 -> "TooManyRequests";
      case 503 -> "ServiceUnavailable";
      case 504 -> "Timeout";
      default -> code >= 500 ? "InternalError" : "BadRequest";
    };
  }
}
