package dev.lockstep.kubesim.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * List and watch semantics as a real v1.20 API server has them: paged lists on a snapshot with
 * continue tokens, resourceVersion and resourceVersionMatch, watches replaying what changed after a
 * resourceVersion, 410 Expired once the history has dropped it, and bookmarks.
 * ListWatchConformanceIT checks the same against the real server where it can be provoked cheaply.
 */
class ListWatchTest {
  private static final String CONFIGMAPS = "/api/v1/namespaces/ns/configmaps";

  /** Five changes per type kept: small, so that a test can make a version too old. */
  private final Store store = new Store(5);

  private final ApiServer api = new ApiServer(store);

  @BeforeEach
  void namespace() {
    ObjectNode ns = Store.JSON.createObjectNode();
    ns.putObject("metadata").put("name", "ns");
    store.create(ResourceTypes.of("", "namespaces"), null, ns);
  }

  @Test
  void aPagedListReturnsAtMostLimitItemsThenContinuesOnTheFirstPagesSnapshot() {
    for (String name : List.of("c", "a", "b")) {
      create(name);
    }
    JsonNode first = list(Map.of("limit", "2"));
    assertThat(names(first)).containsExactly("a", "b");
    assertThat(first.path("metadata").path("remainingItemCount").asLong()).isEqualTo(1);
    String token = first.path("metadata").path("continue").asText();
    assertThat(token).isNotEmpty();

    // Changes after the first page are not in the later ones: they read the same snapshot.
    create("d");
    delete("c");
    JsonNode second = list(Map.of("limit", "2", "continue", token));
    assertThat(names(second)).containsExactly("c");
    assertThat(second.path("metadata").has("continue")).isFalse();
    assertThat(second.path("metadata").path("resourceVersion").asText())
        .isEqualTo(first.path("metadata").path("resourceVersion").asText());
  }

  @Test
  void aSelectedPageHasNoRemainingItemCount() {
    for (String name : List.of("a", "b", "c")) {
      create(name);
    }
    JsonNode page = list(Map.of("limit", "1", "fieldSelector", "metadata.name!=zz"));
    assertThat(names(page)).containsExactly("a");
    assertThat(page.path("metadata").has("continue")).isTrue();
    assertThat(page.path("metadata").has("remainingItemCount")).isFalse();
  }

  @Test
  void aContinueTokenWhoseSnapshotWasDroppedIs410ExpiredWithATokenToGoOnInconsistently() {
    for (String name : List.of("a", "b", "c")) {
      create(name);
    }
    String token = list(Map.of("limit", "1")).path("metadata").path("continue").asText();
    create("a2");
    store.compact();
    ApiServer.Answer expired = get(CONFIGMAPS, Map.of("limit", "1", "continue", token));
    JsonNode status = json(expired);
    assertThat(expired.code()).isEqualTo(410);
    assertThat(status.path("reason").asText()).isEqualTo("Expired");
    assertThat(status.path("message").asText())
        .startsWith("The provided continue parameter is too old");
    // The token in the answer goes on at the latest state, after the key the old one stopped at.
    JsonNode rest =
        list(Map.of("limit", "5", "continue", status.path("metadata").path("continue").asText()));
    assertThat(names(rest)).containsExactly("a2", "b", "c");
  }

  @Test
  void anInvalidContinueTokenOrAVersionBesideOneIs400() {
    ApiServer.Answer garbage = get(CONFIGMAPS, Map.of("limit", "1", "continue", "garbage"));
    assertThat(garbage.code()).isEqualTo(400);
    assertThat(json(garbage).path("message").asText())
        .startsWith("invalid continue token: continue key is not valid: ");
    create("a");
    create("b");
    String token = list(Map.of("limit", "1")).path("metadata").path("continue").asText();
    ApiServer.Answer both =
        get(CONFIGMAPS, Map.of("limit", "1", "continue", token, "resourceVersion", "3"));
    assertThat(both.code()).isEqualTo(400);
    assertThat(json(both).path("message").asText())
        .isEqualTo("specifying resource version is not allowed when using continue");
    // "0" is as good as none.
    assertThat(names(list(Map.of("limit", "1", "continue", token, "resourceVersion", "0"))))
        .containsExactly("b");
  }

  @Test
  void versionZeroIsServedWholeAsFromTheWatchCacheIgnoringTheLimit() {
    for (String name : List.of("a", "b", "c")) {
      create(name);
    }
    JsonNode all = list(Map.of("limit", "1", "resourceVersion", "0"));
    assertThat(names(all)).containsExactly("a", "b", "c");
    assertThat(all.path("metadata").has("continue")).isFalse();
  }

  @Test
  void anExactVersionListsTheStateThenAndAnOlderOneThanTheHistoryIs410() {
    create("a");
    String then = rv(create("b"));
    ObjectNode changed = store.get(type(), "ns", "a").orElseThrow();
    changed.putObject("data").put("k", "v");
    store.update(type(), "ns", "a", changed);
    delete("b");
    create("c");

    JsonNode past = list(Map.of("resourceVersion", then, "resourceVersionMatch", "Exact"));
    assertThat(names(past)).containsExactly("a", "b");
    assertThat(past.path("items").get(0).has("data")).isFalse();
    assertThat(past.path("metadata").path("resourceVersion").asText()).isEqualTo(then);
    // With a limit and no match, a version is exact too (the legacy paging rule).
    assertThat(names(list(Map.of("resourceVersion", then, "limit", "5"))))
        .containsExactly("a", "b");
    // Without either, it is "not older than": the latest state.
    assertThat(names(list(Map.of("resourceVersion", then)))).containsExactly("a", "c");

    for (int i = 0; i < 5; i++) {
      create("more-" + i);
    }
    ApiServer.Answer gone =
        get(CONFIGMAPS, Map.of("resourceVersion", then, "resourceVersionMatch", "Exact"));
    assertThat(gone.code()).isEqualTo(410);
  }

  @Test
  void aVersionNewerThanTheServersIsRefusedAsTheRealServerRefusesIt() {
    String future = String.valueOf(store.resourceVersion() + 100);
    ApiServer.Answer notOlder =
        get(CONFIGMAPS, Map.of("resourceVersion", future, "resourceVersionMatch", "NotOlderThan"));
    assertThat(notOlder.code()).isEqualTo(504);
    assertThat(json(notOlder).path("message").asText())
        .startsWith("Timeout: Too large resource version: " + future + ", current: ");
    ApiServer.Answer exact =
        get(CONFIGMAPS, Map.of("resourceVersion", future, "resourceVersionMatch", "Exact"));
    assertThat(exact.code()).isEqualTo(500);
    assertThat(json(exact).path("message").asText())
        .isEqualTo("etcdserver: mvcc: required revision is a future revision");
  }

  @Test
  void resourceVersionMatchIsValidatedAsListOptions() {
    assertThat(message(Map.of("resourceVersionMatch", "NotOlderThan")))
        .isEqualTo(
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden:"
                + " resourceVersionMatch is forbidden unless resourceVersion is provided");
    assertThat(message(Map.of("resourceVersion", "0", "resourceVersionMatch", "Exact")))
        .isEqualTo(
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden:"
                + " resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
    assertThat(message(Map.of("resourceVersion", "1", "resourceVersionMatch", "Foo")))
        .isEqualTo(
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value:"
                + " \"Foo\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
  }

  @Test
  void aWatchFromAVersionReplaysEachChangeAfterItAsItHappened() {
    String from = rv(create("a"));
    ObjectNode changed = store.get(type(), "ns", "a").orElseThrow();
    changed.putObject("data").put("k", "v");
    store.update(type(), "ns", "a", changed);
    create("b");
    delete("b");
    List<JsonNode> events = new CopyOnWriteArrayList<>();
    ApiServer.WatchHandle handle = watch(Map.of("resourceVersion", from), events);
    handle.close();

    assertThat(events)
        .extracting(e -> e.path("type").asText() + " " + name(e.path("object")))
        .containsExactly("MODIFIED a", "ADDED b", "DELETED b");
    // A delete is a version of its own, which the DELETED event's object carries.
    long added = Long.parseLong(rv(events.get(1).path("object")));
    assertThat(Long.parseLong(rv(events.get(2).path("object")))).isGreaterThan(added);
  }

  @Test
  void aWatchFromAVersionTheHistoryDroppedGetsOne410ErrorEventAndEnds() {
    String from = rv(create("a"));
    for (int i = 0; i < 6; i++) {
      create("more-" + i);
    }
    List<JsonNode> events = new CopyOnWriteArrayList<>();
    boolean[] ended = {false};
    api.watch(
        call(Map.of("resourceVersion", from)),
        line -> events.add(parse(line)),
        () -> ended[0] = true);

    assertThat(ended[0]).isTrue();
    assertThat(events).hasSize(1);
    JsonNode status = events.get(0).path("object");
    assertThat(events.get(0).path("type").asText()).isEqualTo("ERROR");
    assertThat(status.path("code").asInt()).isEqualTo(410);
    assertThat(status.path("reason").asText()).isEqualTo("Expired");
    assertThat(status.path("message").asText())
        .matches("too old resource version: " + from + " \\(\\d+\\)");
    assertThat(api.expiredWatches()).isEqualTo(1);
  }

  @Test
  void aBookmarkCarriesTheCurrentVersionOnlyOnceSomethingChangedSinceTheWatchBegan() {
    create("a");
    List<JsonNode> events = new CopyOnWriteArrayList<>();
    ApiServer.WatchHandle handle =
        watch(Map.of("resourceVersion", String.valueOf(store.resourceVersion())), events);
    handle.bookmark();
    assertThat(events).isEmpty();
    // A change elsewhere moves the version on: the bookmark says so, and nothing else.
    ObjectNode other = Store.JSON.createObjectNode();
    other.putObject("metadata").put("name", "other");
    store.create(ResourceTypes.of("", "namespaces"), null, other);
    handle.bookmark();
    handle.close();

    assertThat(events).hasSize(1);
    JsonNode bookmark = events.get(0);
    assertThat(bookmark.path("type").asText()).isEqualTo("BOOKMARK");
    assertThat(bookmark.path("object").path("kind").asText()).isEqualTo("ConfigMap");
    assertThat(rv(bookmark.path("object"))).isEqualTo(String.valueOf(store.resourceVersion()));
  }

  @Test
  void aBookmarkIsInTheVersionTheWatchAskedFor() {
    ApiServer.Call call =
        new ApiServer.Call(
            "GET",
            ApiPath.parse("/apis/discovery.k8s.io/v1beta1/namespaces/ns/endpointslices")
                .orElseThrow(),
            new HashMap<>(Map.of("resourceVersion", "1")),
            null,
            null);
    List<JsonNode> events = new CopyOnWriteArrayList<>();
    ApiServer.WatchHandle handle = api.watch(call, line -> events.add(parse(line)), () -> {});
    create("moves-the-version-on");
    handle.bookmark();
    handle.close();

    assertThat(events).hasSize(1);
    assertThat(events.get(0).path("object").path("apiVersion").asText())
        .isEqualTo("discovery.k8s.io/v1beta1");
    assertThat(events.get(0).path("object").path("kind").asText()).isEqualTo("EndpointSlice");
  }

  // ---- helpers -------------------------------------------------------------------------------

  private static ResourceType type() {
    return ResourceTypes.of("", "configmaps");
  }

  private ObjectNode create(String name) {
    ObjectNode cm = Store.JSON.createObjectNode();
    cm.putObject("metadata").put("name", name);
    return store.create(type(), "ns", cm);
  }

  private void delete(String name) {
    assertThat(store.delete(type(), "ns", name)).isTrue();
  }

  private ApiServer.WatchHandle watch(Map<String, String> query, List<JsonNode> events) {
    return api.watch(call(query), line -> events.add(parse(line)), () -> {});
  }

  private static ApiServer.Call call(Map<String, String> query) {
    return new ApiServer.Call(
        "GET", ApiPath.parse(CONFIGMAPS).orElseThrow(), new HashMap<>(query), null, null);
  }

  private ApiServer.Answer get(String path, Map<String, String> query) {
    return api.serve(
        new ApiServer.Call(
            "GET", ApiPath.parse(path).orElseThrow(), new HashMap<>(query), null, null));
  }

  private JsonNode list(Map<String, String> query) {
    ApiServer.Answer answer = get(CONFIGMAPS, query);
    assertThat(answer.code()).as(answer.body()).isEqualTo(200);
    return json(answer);
  }

  private String message(Map<String, String> query) {
    ApiServer.Answer answer = get(CONFIGMAPS, query);
    assertThat(answer.code()).isEqualTo(422);
    return json(answer).path("message").asText();
  }

  private static JsonNode json(ApiServer.Answer answer) {
    return parse(answer.body());
  }

  private static JsonNode parse(String text) {
    return Store.parse(text);
  }

  private static List<String> names(JsonNode list) {
    List<String> names = new ArrayList<>();
    list.path("items").forEach(i -> names.add(name(i)));
    return names;
  }

  private static String name(JsonNode object) {
    return object.path("metadata").path("name").asText();
  }

  private static String rv(JsonNode object) {
    return object.path("metadata").path("resourceVersion").asText();
  }
}
