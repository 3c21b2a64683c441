package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ApiException;
import dev.lockstep.kubesim.api.ApiPath;
import dev.lockstep.kubesim.api.ApiServer;
import dev.lockstep.kubesim.api.ResourceType;
import dev.lockstep.kubesim.api.ResourceTypes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * How controllers read and write: in process, through the same {@link ApiServer} rules as every
 * client (admission, conflicts, status subresource), without HTTP. Their calls are not in the
 * request log, which records what clients did.
 */
public final class Cluster {
  public static final ObjectMapper JSON = new ObjectMapper();

  private final ApiServer api;

  public Cluster(ApiServer api) {
    this.api = api;
  }

  public static ResourceType type(String group, String plural) {
    return ResourceTypes.of(group, plural);
  }

  public Optional<ObjectNode> get(ResourceType type, String namespace, String name) {
    return api.store().get(type, namespace, name);
  }

  public List<ObjectNode> list(ResourceType type, String namespace) {
    return api.store().list(type, namespace);
  }

  /**
   * Walks objects without copying them, for reads that only look: {@code reader} must not change or
   * keep what it is given.
   */
  public void forEach(ResourceType type, String namespace, Consumer<JsonNode> reader) {
    api.store().forEach(type, namespace, reader);
  }

  public ObjectNode create(ResourceType type, String namespace, ObjectNode object) {
    return call("POST", new ApiPath(type, namespace, null, null, ""), object);
  }

  public ObjectNode update(ResourceType type, ObjectNode object) {
    return call("PUT", path(type, object, null), object);
  }

  public ObjectNode updateStatus(ResourceType type, ObjectNode object) {
    return call("PUT", path(type, object, "status"), object);
  }

  /** Deletes an object; gone already is fine. */
  public void delete(ResourceType type, String namespace, String name) {
    try {
      call("DELETE", new ApiPath(type, namespace, name, null, ""), null);
    } catch (ApiException e) {
      if (e.code() != 404) {
        throw e;
      }
    }
  }

  /** Records a Kubernetes Event about an object, as client-go's recorder names it. */
  public void event(
      ResourceType type,
      ObjectNode about,
      String eventType,
      String reason,
      String message,
      String component) {
    ObjectNode event = eventFor(type, about, eventType, reason, message, component);
    try {
      create(type("", "events"), event.path("metadata").path("namespace").asText(), event);
    } catch (ApiException e) {
      // Events are best effort, as in Kubernetes.
    }
  }

  /** A core/v1 Event about an object, named as client-go's recorder names it. */
  public static ObjectNode eventFor(
      ResourceType type,
      JsonNode about,
      String eventType,
      String reason,
      String message,
      String component) {
    String namespace = about.path("metadata").path("namespace").asText("default");
    String name = about.path("metadata").path("name").asText();
    Instant now = Instant.now();
    ObjectNode event = JSON.createObjectNode();
    event.put("apiVersion", "v1");
    event.put("kind", "Event");
    ObjectNode metadata = event.putObject("metadata");
    long nanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
    metadata.put("name", name + "." + HexFormat.of().toHexDigits(nanos).replaceFirst("^0+", ""));
    metadata.put("namespace", namespace);
    ObjectNode involved = event.putObject("involvedObject");
    involved.put("apiVersion", type.apiVersion());
    involved.put("kind", type.kind());
    involved.put("name", name);
    involved.put("namespace", namespace);
    involved.put("uid", about.path("metadata").path("uid").asText());
    involved.put("resourceVersion", about.path("metadata").path("resourceVersion").asText());
    event.put("reason", reason);
    event.put("message", message);
    event.put("type", eventType);
    event.putObject("source").put("component", component);
    event.put("count", 1);
    String time = now.truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
    event.put("firstTimestamp", time);
    event.put("lastTimestamp", time);
    event.put("reportingComponent", component);
    event.put("reportingInstance", component + "-kubesim");
    return event;
  }

  private static ApiPath path(ResourceType type, ObjectNode object, String subresource) {
    JsonNode metadata = object.path("metadata");
    return new ApiPath(
        type,
        type.namespaced() ? metadata.path("namespace").asText(null) : null,
        metadata.path("name").asText(),
        subresource,
        "");
  }

  private ObjectNode call(String method, ApiPath path, ObjectNode body) {
    ApiServer.Answer answer =
        api.serve(
            new ApiServer.Call(
                method, path, Map.of(), "application/json", body == null ? null : body.toString()));
    ObjectNode result = parse(answer.body());
    if (answer.code() >= 300) {
      throw new ApiException(
          answer.code(), result.path("reason").asText(), result.path("message").asText());
    }
    return result;
  }

  static ObjectNode parse(String json) {
    try {
      return (ObjectNode) JSON.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The labels of an object. */
  public static Map<String, String> labels(JsonNode object) {
    return ApiServer.labels(object);
  }

  /** Whether {@code object} has a controller owner reference to the given uid. */
  public static boolean ownedBy(JsonNode object, String uid) {
    for (JsonNode ref : object.path("metadata").path("ownerReferences")) {
      if (uid.equals(ref.path("uid").asText()) && ref.path("controller").asBoolean(false)) {
        return true;
      }
    }
    return false;
  }

  /** The key of the object's controller owner if it is of the given kind, as a list of 0 or 1. */
  public static List<Controller.Key> controllerOfKind(JsonNode object, String kind) {
    for (JsonNode ref : object.path("metadata").path("ownerReferences")) {
      if (kind.equals(ref.path("kind").asText()) && ref.path("controller").asBoolean(false)) {
        return List.of(
            new Controller.Key(
                object.path("metadata").path("namespace").asText(), ref.path("name").asText()));
      }
    }
    return List.of();
  }

  /** Adds a controller owner reference to {@code owner} to {@code object}'s metadata. */
  public static void setOwner(ObjectNode object, ResourceType ownerType, JsonNode owner) {
    ObjectNode ref = object.with("metadata").withArray("ownerReferences").addObject();
    ref.put("apiVersion", ownerType.apiVersion());
    ref.put("kind", ownerType.kind());
    ref.put("name", owner.path("metadata").path("name").asText());
    ref.put("uid", owner.path("metadata").path("uid").asText());
    ref.put("controller", true);
    ref.put("blockOwnerDeletion", true);
  }

  /** Lists objects of a type in a namespace, keeping those with a controller ref to {@code uid}. */
  public List<ObjectNode> owned(ResourceType type, String namespace, String uid) {
    List<ObjectNode> result = new ArrayList<>();
    for (ObjectNode o : api.store().ownedBy(type, namespace, uid)) {
      if (ownedBy(o, uid)) {
        result.add(o);
      }
    }
    return result;
  }

  /** Objects of a type in a namespace with any owner reference to {@code uid}. */
  public List<ObjectNode> dependents(ResourceType type, String namespace, String uid) {
    return api.store().ownedBy(type, namespace, uid);
  }
}
