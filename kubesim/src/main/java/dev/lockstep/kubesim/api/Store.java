package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
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
 * changed and the generation when anything outside metadata and status changed; a delete takes a
 * resourceVersion too, which the DELETED event's object carries (as etcd's delete revision).
 *
 * <p>Like etcd and the API server's watch cache, it keeps a bounded history of changes per type
 * ({@code historyLimit} events each): a watch from a resourceVersion replays what changed after it,
 * and a list can be read as it was at a past resourceVersion (a paged list's later pages read the
 * first page's snapshot). A version older than the retained window is answered 410 Expired, as a
 * real server answers once its watch cache or etcd compaction has dropped it.
 */
public final class Store {
  static final ObjectMapper JSON = new ObjectMapper();

  /** A watch event: the change, the object as it is now (or was, when deleted). */
  public record Event(String type, ObjectNode object) {}

  private record Watcher(ResourceType type, String namespace, Consumer<Event> sink) {}

  private record Key(String namespace, String name) {}

  /** One stored change: the object after it ({@code null} previous for a creation), and before. */
  private record Change(long version, String type, ObjectNode object, ObjectNode previous) {}

  /** The default number of changes kept per type. */
  public static final int DEFAULT_HISTORY_LIMIT = 10_000;

  /** type → namespace ("" when cluster-scoped) → name → object. */
  private final Map<
          ResourceType, ConcurrentSkipListMap<String, ConcurrentSkipListMap<String, ObjectNode>>>
      objects = new ConcurrentHashMap<>();

  /** type → owner uid → keys of the objects that name it in their ownerReferences. */
  private final Map<ResourceType, Map<String, Set<Key>>> owners = new ConcurrentHashMap<>();

  private final List<Watcher> watchers = new CopyOnWriteArrayList<>();
  private final ReentrantLock writes = new ReentrantLock();
  private volatile long resourceVersion;

  /** type → its latest changes, oldest first; guarded by {@link #writes}. */
  private final Map<ResourceType, ArrayDeque<Change>> history = new HashMap<>();

  /** type → the newest version dropped from its history; guarded by {@link #writes}. */
  private final Map<ResourceType, Long> compacted = new HashMap<>();

  private final int historyLimit;

  /** The version up to which {@link #compact()} last dropped every type's history. */
  private long compactedAll;

  /** A store keeping {@link #DEFAULT_HISTORY_LIMIT} changes per type. */
  public Store() {
    this(DEFAULT_HISTORY_LIMIT);
  }

  /** A store keeping the last {@code historyLimit} changes of each type (at least 1). */
  public Store(int historyLimit) {
    if (historyLimit < 1) {
      throw new IllegalArgumentException("historyLimit must be at least 1, not " + historyLimit);
    }
    this.historyLimit = historyLimit;
  }

  /** The store's current resourceVersion: that of its latest write. */
  public long resourceVersion() {
    return resourceVersion;
  }

  /**
   * The oldest version of a type that a watch can start from or a list can be read at: every change
   * after it is still in the history.
   */
  public long oldestVersion(ResourceType type) {
    writes.lock();
    try {
      return oldest(type);
    } finally {
      writes.unlock();
    }
  }

  private long oldest(ResourceType type) {
    return Math.max(compacted.getOrDefault(type, 0L), compactedAll);
  }

  /**
   * Drops the history of every type up to now, as etcd's compaction (every 5 minutes behind a real
   * API server) does: a watch from an earlier version, or a paged list continued from one, is then
   * answered 410.
   */
  public void compact() {
    writes.lock();
    try {
      history.clear();
      compactedAll = resourceVersion;
    } finally {
      writes.unlock();
    }
  }

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
      record(type, "ADDED", created, null);
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
      record(type, "MODIFIED", updated, current);
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
      // As etcd: the delete is a revision of its own, and watchers see the object at it.
      ObjectNode deleted = current.deepCopy();
      deleted.with("metadata").put("resourceVersion", String.valueOf(++resourceVersion));
      record(type, "DELETED", deleted, current);
      publish(type, "DELETED", deleted);
      return true;
    } finally {
      writes.unlock();
    }
  }

  /**
   * Watches a type (in one namespace, or in all when null). From version 0, {@code sink} first gets
   * an ADDED event for every object there is; from another version, every change after it, as it
   * happened (ADDED, MODIFIED, DELETED), replayed from the history. Then every change as it is
   * stored, in order. The returned handle ends the watch.
   *
   * @throws ApiException 410 Expired when {@code sinceVersion} is older than the history kept
   */
  public Runnable watch(
      ResourceType type, String namespace, long sinceVersion, Consumer<Event> sink) {
    Watcher watcher = new Watcher(type, namespace, sink);
    writes.lock();
    try {
      if (sinceVersion == 0) {
        forEach(type, namespace, o -> sink.accept(new Event("ADDED", (ObjectNode) o)));
      } else {
        long oldest = oldest(type);
        if (sinceVersion < oldest) {
          throw tooOld(sinceVersion, oldest);
        }
        for (Change change : history.getOrDefault(type, new ArrayDeque<>())) {
          if (change.version() > sinceVersion && inNamespace(type, namespace, change.object())) {
            sink.accept(new Event(change.type(), change.object()));
          }
        }
      }
      watchers.add(watcher);
    } finally {
      writes.unlock();
    }
    return () -> watchers.remove(watcher);
  }

  /** The 410 a real API server answers for a watch from a version its watch cache has dropped. */
  static ApiException tooOld(long version, long oldest) {
    return new ApiException(
        410, "Expired", "too old resource version: " + version + " (" + oldest + ")");
  }

  /**
   * A bookmark for a watch on {@code type}: sent through {@code sink} under the write lock, so that
   * every change up to its version has been sent before it and none after.
   */
  public void bookmark(ResourceType type, Consumer<Event> sink) {
    writes.lock();
    try {
      ObjectNode object = JSON.createObjectNode();
      object.put("kind", type.kind());
      object.put("apiVersion", type.apiVersion());
      ObjectNode metadata = object.putObject("metadata");
      metadata.put("resourceVersion", String.valueOf(resourceVersion));
      metadata.putNull("creationTimestamp");
      sink.accept(new Event("BOOKMARK", object));
    } finally {
      writes.unlock();
    }
  }

  /** Objects by key, in key order, as they were at a version. */
  record Snapshot(NavigableMap<String, ObjectNode> items, long version) {}

  /**
   * The objects of a type passing {@code filter} as they were at {@code version} (the latest when
   * negative), in one namespace or in all when null, keyed as etcd keys them under the list's
   * prefix ({@code name}, or {@code namespace/name} for a list across namespaces): the current
   * objects with every later change undone.
   *
   * @throws ApiException 410 when {@code version} is older than the history kept
   */
  Snapshot snapshot(ResourceType type, String namespace, Predicate<JsonNode> filter, long version) {
    TreeMap<String, ObjectNode> state = new TreeMap<>();
    boolean acrossNamespaces = namespace == null && type.namespaced();
    java.util.function.Function<JsonNode, String> key =
        o ->
            acrossNamespaces
                ? o.path("metadata").path("namespace").asText("")
                    + "/"
                    + o.path("metadata").path("name").asText("")
                : o.path("metadata").path("name").asText("");
    long at;
    writes.lock();
    try {
      at = version < 0 ? resourceVersion : version;
      long oldest = oldest(type);
      if (at < oldest) {
        throw new ApiException(
            410, "Gone", "The resourceVersion for the provided list is too old.");
      }
      forEach(type, namespace, o -> state.put(key.apply(o), (ObjectNode) o));
      var changes = history.getOrDefault(type, new ArrayDeque<>()).descendingIterator();
      while (changes.hasNext()) {
        Change change = changes.next();
        if (change.version() <= at) {
          break;
        }
        if (!inNamespace(type, namespace, change.object())) {
          continue;
        }
        if (change.previous() == null) {
          state.remove(key.apply(change.object()));
        } else {
          state.put(key.apply(change.previous()), change.previous());
        }
      }
    } finally {
      writes.unlock();
    }
    TreeMap<String, ObjectNode> selected = new TreeMap<>();
    state.forEach(
        (k, o) -> {
          if (filter.test(o)) {
            selected.put(k, o.deepCopy());
          }
        });
    return new Snapshot(selected, at);
  }

  private static boolean inNamespace(ResourceType type, String namespace, JsonNode object) {
    return namespace == null
        || !type.namespaced()
        || namespace.equals(object.path("metadata").path("namespace").asText(null));
  }

  private void record(ResourceType type, String change, ObjectNode object, ObjectNode previous) {
    ArrayDeque<Change> changes = history.computeIfAbsent(type, t -> new ArrayDeque<>());
    changes.addLast(new Change(version(object), change, object, previous));
    while (changes.size() > historyLimit) {
      compacted.put(type, changes.removeFirst().version());
    }
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
