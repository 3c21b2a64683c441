package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The object store, as etcd behind the API server: objects by type, namespace and name, one
 * resourceVersion counter for the whole store, and watches fed from every write in order.
 *
 * <p>Reads cost what they return: a get is a map lookup, a list walks one namespace (in key order,
 * as etcd lists), and objects owned by a uid are found through an index, as a controller's informer
 * indexer finds them. Stored objects are never changed in place: a write stores a new copy, and
 * reads hand out copies, so readers need no lock. Writes and the watch events they cause are
 * serialized by one lock, so every watcher sees every change in resourceVersion order.
 *
 * <p>What the store itself sets, as the API server's registry does: on create the uid,
 * creationTimestamp, resourceVersion and generation 1; on update the resourceVersion when anything
 * changed and the generation when anything outside metadata and status changed.
 */
public final class Store {
  static final ObjectMapper JSON = new ObjectMapper();

  /** A watch event: the change, the object as it is now (or was, when deleted). */
  public record Event(String type, ObjectNode object) {}

  private record Watcher(ResourceType type, String namespace, Consumer<Event> sink) {}

  private record Key(String namespace, String name) {}

  /** type → namespace ("" when cluster-scoped) → name → object. */
  private final Map<
          ResourceType, ConcurrentSkipListMap<String, ConcurrentSkipListMap<String, ObjectNode>>>
      objects = new ConcurrentHashMap<>();

  /** type → owner uid → keys of the objects that name it in their ownerReferences. */
  private final Map<ResourceType, Map<String, Set<Key>>> owners = new ConcurrentHashMap<>();

  private final List<Watcher> watchers = new CopyOnWriteArrayList<>();
  private final ReentrantLock writes = new ReentrantLock();
  private volatile long resourceVersion;

  /** The canonical path of an object, or of the collection when {@code name} is null. */
  public static String path(ResourceType type, String namespace, String name) {
    StringBuilder path = new StringBuilder();
    path.append(type.group().isEmpty() ? "/api/" : "/apis/" + type.group() + "/");
    path.append(type.version());
    if (type.namespaced() && namespace != null) {
      path.append("/namespaces/").append(namespace);
    }
    path.append('/').append(type.plural());
    if (name != null) {
      path.append('/').append(name);
    }
    return path.toString();
  }

  public Optional<ObjectNode> get(ResourceType type, String namespace, String name) {
    ObjectNode stored = stored(type, namespace, name);
    return stored == null ? Optional.empty() : Optional.of(stored.deepCopy());
  }

  /** All objects of a type, in one namespace or (namespace null) in all. */
  public List<ObjectNode> list(ResourceType type, String namespace) {
    return list(type, namespace, o -> true);
  }

  /** The objects of a type (in one namespace, or in all when null) that pass {@code filter}. */
  public List<ObjectNode> list(ResourceType type, String namespace, Predicate<JsonNode> filter) {
    List<ObjectNode> result = new ArrayList<>();
    forEach(
        type,
        namespace,
        o -> {
          if (filter.test(o)) {
            result.add(o.deepCopy());
          }
        });
    return result;
  }

  /**
   * Walks the objects of a type without copying them: {@code reader} must not change or keep what
   * it is given.
   */
  public void forEach(ResourceType type, String namespace, Consumer<JsonNode> reader) {
    var byNamespace = objects.get(type);
    if (byNamespace == null) {
      return;
    }
    if (namespace != null && type.namespaced()) {
      var names = byNamespace.get(namespace);
      if (names != null) {
        names.values().forEach(reader);
      }
      return;
    }
    byNamespace.values().forEach(names -> names.values().forEach(reader));
  }

  /** Objects of a type in a namespace whose ownerReferences name {@code ownerUid}. */
  public List<ObjectNode> ownedBy(ResourceType type, String namespace, String ownerUid) {
    Set<Key> keys = owners.getOrDefault(type, Map.of()).get(ownerUid);
    List<ObjectNode> result = new ArrayList<>();
    if (keys == null) {
      return result;
    }
    for (Key key : List.copyOf(keys)) {
      if (namespace == null || namespaceKey(type, namespace).equals(key.namespace())) {
        ObjectNode stored = stored(type, key.namespace(), key.name());
        if (stored != null) {
          result.add(stored.deepCopy());
        }
      }
    }
    result.sort(
        (a, b) ->
            a.path("metadata")
                .path("name")
                .asText()
                .compareTo(b.path("metadata").path("name").asText()));
    return result;
  }

  /** A list and the store's resourceVersion at the time it was read. */
  public record Listing(List<ObjectNode> items, String resourceVersion) {}

  /** The objects passing {@code filter}, copied, and the version they were read at. */
  Listing listWithVersion(ResourceType type, String namespace, Predicate<JsonNode> filter) {
    String version = String.valueOf(resourceVersion);
    return new Listing(list(type, namespace, filter), version);
  }

  ObjectNode create(ResourceType type, String namespace, ObjectNode object) {
    writes.lock();
    try {
      ObjectNode created = object.deepCopy();
      ObjectNode metadata = created.with("metadata");
      String name = metadata.path("name").asText("");
      String uid = UUID.randomUUID().toString();
      if (name.isEmpty()) {
        name = metadata.path("generateName").asText("") + uid.substring(0, 5);
        metadata.put("name", name);
      }
      if (stored(type, namespace, name) != null) {
        throw ApiException.alreadyExists(type, name);
      }
      if (type.namespaced()) {
        metadata.put("namespace", namespace);
      } else {
        metadata.remove("namespace");
      }
      metadata.remove("deletionTimestamp");
      metadata.put("uid", uid);
      metadata.put("creationTimestamp", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
      metadata.put("resourceVersion", String.valueOf(++resourceVersion));
      metadata.put("generation", 1);
      put(type, null, created);
      publish(type, "ADDED", created);
      return created.deepCopy();
    } finally {
      writes.unlock();
    }
  }

  ObjectNode update(ResourceType type, String namespace, String name, ObjectNode object) {
    return write(type, namespace, name, object, false);
  }

  ObjectNode updateStatus(ResourceType type, String namespace, String name, ObjectNode object) {
    return write(type, namespace, name, object, true);
  }

  private ObjectNode write(
      ResourceType type, String namespace, String name, ObjectNode object, boolean status) {
    writes.lock();
    try {
      ObjectNode current = stored(type, namespace, name);
      if (current == null) {
        throw ApiException.notFound(type, name);
      }
      JsonNode currentMeta = current.path("metadata");
      // An update names the version it was made from; a status write was checked by the caller
      // against what it read, and changes nothing but status.
      String rv = object.path("metadata").path("resourceVersion").asText("");
      if (!status && !rv.isEmpty() && !rv.equals(currentMeta.path("resourceVersion").asText())) {
        throw ApiException.conflict(type, name);
      }
      ObjectNode updated = object.deepCopy();
      if (status) {
        JsonNode newStatus = updated.path("status");
        updated = current.deepCopy();
        if (newStatus.isMissingNode()) {
          updated.remove("status");
        } else {
          updated.set("status", newStatus);
        }
      }
      ObjectNode metadata = updated.with("metadata");
      metadata.put("name", name);
      if (type.namespaced()) {
        metadata.put("namespace", namespace);
      }
      for (String field : new String[] {"uid", "creationTimestamp", "resourceVersion"}) {
        metadata.set(field, currentMeta.get(field));
      }
      metadata.set("generation", currentMeta.get("generation"));
      if (updated.equals(current)) {
        return current.deepCopy();
      }
      if (!status && !withoutMetadataAndStatus(updated).equals(withoutMetadataAndStatus(current))) {
        metadata.put("generation", currentMeta.path("generation").asLong(0) + 1);
      }
      metadata.put("resourceVersion", String.valueOf(++resourceVersion));
      put(type, current, updated);
      publish(type, "MODIFIED", updated);
      return updated.deepCopy();
    } finally {
      writes.unlock();
    }
  }

  private static ObjectNode withoutMetadataAndStatus(ObjectNode object) {
    ObjectNode copy = object.deepCopy();
    copy.remove("metadata");
    copy.remove("status");
    return copy;
  }

  /** Removes an object; returns false when it was not there. */
  boolean delete(ResourceType type, String namespace, String name) {
    writes.lock();
    try {
      ObjectNode current = stored(type, namespace, name);
      if (current == null) {
        return false;
      }
      remove(type, current);
      publish(type, "DELETED", current);
      return true;
    } finally {
      writes.unlock();
    }
  }

  /**
   * Watches a type (in one namespace, or in all when null): {@code sink} gets an ADDED event for
   * every object changed after {@code sinceVersion} (every object when 0), then every change as it
   * is stored, in order. The returned handle ends the watch.
   */
  public Runnable watch(
      ResourceType type, String namespace, long sinceVersion, Consumer<Event> sink) {
    Watcher watcher = new Watcher(type, namespace, sink);
    writes.lock();
    try {
      forEach(
          type,
          namespace,
          o -> {
            if (version(o) > sinceVersion) {
              sink.accept(new Event("ADDED", (ObjectNode) o));
            }
          });
      watchers.add(watcher);
    } finally {
      writes.unlock();
    }
    return () -> watchers.remove(watcher);
  }

  private void publish(ResourceType type, String change, ObjectNode object) {
    String namespace = object.path("metadata").path("namespace").asText(null);
    for (Watcher watcher : watchers) {
      if (watcher.type().equals(type)
          && (watcher.namespace() == null || watcher.namespace().equals(namespace))) {
        watcher.sink().accept(new Event(change, object));
      }
    }
  }

  private ObjectNode stored(ResourceType type, String namespace, String name) {
    var byNamespace = objects.get(type);
    if (byNamespace == null) {
      return null;
    }
    var names = byNamespace.get(namespaceKey(type, namespace));
    return names == null ? null : names.get(name);
  }

  private void put(ResourceType type, ObjectNode previous, ObjectNode object) {
    String namespace = namespaceKey(type, object.path("metadata").path("namespace").asText(null));
    String name = object.path("metadata").path("name").asText();
    objects
        .computeIfAbsent(type, t -> new ConcurrentSkipListMap<>())
        .computeIfAbsent(namespace, n -> new ConcurrentSkipListMap<>())
        .put(name, object);
    // Add the new owners before dropping the old ones: a reader never misses an owned object.
    Set<String> before = previous == null ? Set.of() : ownerUids(previous);
    Set<String> after = ownerUids(object);
    Map<String, Set<Key>> byOwner = owners.computeIfAbsent(type, t -> new ConcurrentHashMap<>());
    Key key = new Key(namespace, name);
    for (String uid : after) {
      byOwner.computeIfAbsent(uid, u -> ConcurrentHashMap.newKeySet()).add(key);
    }
    for (String uid : before) {
      if (!after.contains(uid)) {
        unindex(byOwner, uid, key);
      }
    }
  }

  private void remove(ResourceType type, ObjectNode current) {
    String namespace = namespaceKey(type, current.path("metadata").path("namespace").asText(null));
    String name = current.path("metadata").path("name").asText();
    objects.get(type).get(namespace).remove(name);
    Map<String, Set<Key>> byOwner = owners.computeIfAbsent(type, t -> new ConcurrentHashMap<>());
    for (String uid : ownerUids(current)) {
      unindex(byOwner, uid, new Key(namespace, name));
    }
  }

  private static void unindex(Map<String, Set<Key>> byOwner, String uid, Key key) {
    Set<Key> keys = byOwner.get(uid);
    if (keys != null) {
      keys.remove(key);
      if (keys.isEmpty()) {
        byOwner.remove(uid);
      }
    }
  }

  private static Set<String> ownerUids(JsonNode object) {
    Set<String> uids = new HashSet<>();
    for (JsonNode ref : object.path("metadata").path("ownerReferences")) {
      String uid = ref.path("uid").asText("");
      if (!uid.isEmpty()) {
        uids.add(uid);
      }
    }
    return uids;
  }

  private static String namespaceKey(ResourceType type, String namespace) {
    return type.namespaced() && namespace != null ? namespace : "";
  }

  private static long version(JsonNode object) {
    try {
      return Long.parseLong(object.path("metadata").path("resourceVersion").asText("0"));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  static ObjectNode parse(String json) {
    try {
      return (ObjectNode) JSON.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
