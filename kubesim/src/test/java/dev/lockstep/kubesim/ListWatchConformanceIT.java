package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.kubesim.lane.ControlPlaneKit;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * List and watch semantics, the same requests and assertions against kubesim and the kit's real
 * v1.20.2 API server (no nodes needed): paged lists on a snapshot, continue tokens, remaining item
 * counts, resourceVersion and resourceVersionMatch, a watch replaying the changes after a version,
 * and bookmarks. What a real server does only after minutes (a watch or a continue token older than
 * its watch cache or etcd compaction: 410 Expired) is {@code ListWatchTest}'s, on kubesim alone.
 * Skipped with one line where the kit is absent.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@EnabledIf(
    value = "dev.lockstep.kubesim.lane.ControlPlaneKit#available",
    disabledReason = "no real control plane here (../shared/tools/k8s/control-plane not found)")
class ListWatchConformanceIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Endpoints: a type no controller of either server writes into a namespace by itself. */
  private static final String ENDPOINTS = "/api/v1/namespaces/listwatch/endpoints";

  private ControlPlaneKit plane;
  private Kubesim sim;
  private KubernetesClient real;

  @BeforeAll
  void start() throws Exception {
    int gatewayPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      gatewayPort = socket.getLocalPort();
    }
    plane = ControlPlaneKit.start(ControlPlaneKit.script().orElseThrow(), gatewayPort);
    Config config = Config.fromKubeconfig(plane.kubeconfig());
    real =
        new KubernetesClientBuilder()
            .withConfig(new ConfigBuilder(config).withRequestRetryBackoffLimit(0).build())
            .build();
    sim = Kubesim.builder().start();
  }

  @AfterAll
  void stop() {
    for (AutoCloseable part : new AutoCloseable[] {real, sim, plane}) {
      if (part != null) {
        try {
          part.close();
        } catch (Exception e) {
          // the rest still stop
        }
      }
    }
  }

  Stream<Named<KubernetesClient>> lanes() {
    return Stream.of(Named.of("kubesim", sim.client()), Named.of("real v1.20.2", real));
  }

  /** An answer: the HTTP code and the body as JSON. */
  private record Answer(int code, JsonNode body) {
    String message() {
      return body.path("message").asText();
    }
  }

  @ParameterizedTest(name = "{0}", autoCloseArguments = false)
  @MethodSource("lanes")
  void aPagedListPagesOneSnapshotAndRefusesBadTokens(KubernetesClient client) throws Exception {
    String ns = fresh(client, "paged");
    for (String name : List.of("c", "a", "b")) {
      create(client, ns, name);
    }
    Answer first = get(client, path(ns) + "?limit=2");
    assertThat(names(first.body())).containsExactly("a", "b");
    JsonNode meta = first.body().path("metadata");
    assertThat(meta.path("remainingItemCount").asLong()).isEqualTo(1);
    String token = meta.path("continue").asText();
    assertThat(token).isNotEmpty();

    // What changes after the first page is not in the next: it reads the first page's snapshot.
    create(client, ns, "d");
    delete(client, ns, "c");
    Answer second = get(client, path(ns) + "?limit=2&continue=" + token);
    assertThat(names(second.body())).containsExactly("c");
    assertThat(second.body().path("metadata").has("continue")).isFalse();
    assertThat(second.body().path("metadata").path("resourceVersion").asText())
        .isEqualTo(meta.path("resourceVersion").asText());

    // With a selector, a page says there is more but not how much.
    Answer selected = get(client, path(ns) + "?limit=1&fieldSelector=metadata.name!=zz");
    assertThat(selected.body().path("metadata").has("continue")).isTrue();
    assertThat(selected.body().path("metadata").has("remainingItemCount")).isFalse();

    Answer garbage = get(client, path(ns) + "?limit=2&continue=garbage");
    assertThat(garbage.code()).isEqualTo(400);
    assertThat(garbage.message()).startsWith("invalid continue token: continue key is not valid: ");
    Answer both =
        get(
            client,
            path(ns)
                + "?limit=2&continue="
                + token
                + "&resourceVersion="
                + meta.path("resourceVersion").asText());
    assertThat(both.code()).isEqualTo(400);
    assertThat(both.message())
        .isEqualTo("specifying resource version is not allowed when using continue");
  }

  @ParameterizedTest(name = "{0}", autoCloseArguments = false)
  @MethodSource("lanes")
  void aListsResourceVersionSaysWhichStateItReads(KubernetesClient client) throws Exception {
    String ns = fresh(client, "versions");
    create(client, ns, "a");
    create(client, ns, "b");
    String then = get(client, path(ns)).body().path("metadata").path("resourceVersion").asText();
    delete(client, ns, "b");
    create(client, ns, "c");

    // "0": whatever the server has at hand, whole; a limit is not honoured.
    Answer any = get(client, path(ns) + "?resourceVersion=0&limit=1");
    assertThat(names(any.body())).containsExactlyInAnyOrder("a", "c");
    assertThat(any.body().path("metadata").has("continue")).isFalse();
    // Exact: the state at that version, also with a limit and no match (the legacy paging rule).
    Answer exact =
        get(client, path(ns) + "?resourceVersion=" + then + "&resourceVersionMatch=Exact");
    assertThat(names(exact.body())).containsExactlyInAnyOrder("a", "b");
    assertThat(exact.body().path("metadata").path("resourceVersion").asText()).isEqualTo(then);
    assertThat(names(get(client, path(ns) + "?resourceVersion=" + then + "&limit=5").body()))
        .containsExactly("a", "b");
    // Not older than: the latest.
    assertThat(names(get(client, path(ns) + "?resourceVersion=" + then).body()))
        .containsExactlyInAnyOrder("a", "c");

    assertThat(get(client, path(ns) + "?resourceVersionMatch=NotOlderThan").message())
        .isEqualTo(
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden:"
                + " resourceVersionMatch is forbidden unless resourceVersion is provided");
    assertThat(get(client, path(ns) + "?resourceVersion=0&resourceVersionMatch=Exact").message())
        .isEqualTo(
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden:"
                + " resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");

    long future = Long.parseLong(then) + 1_000_000;
    Answer tooNew = get(client, path(ns) + "?resourceVersion=" + future);
    assertThat(tooNew.code()).isEqualTo(504);
    assertThat(tooNew.message()).startsWith("Timeout: Too large resource version: " + future);
    Answer exactTooNew =
        get(client, path(ns) + "?resourceVersion=" + future + "&resourceVersionMatch=Exact");
    assertThat(exactTooNew.code()).isEqualTo(500);
    assertThat(exactTooNew.message())
        .isEqualTo("etcdserver: mvcc: required revision is a future revision");
  }

  @ParameterizedTest(name = "{0}", autoCloseArguments = false)
  @MethodSource("lanes")
  void aWatchReplaysTheChangesAfterItsVersionAndBookmarksWhenAllowed(KubernetesClient client)
      throws Exception {
    String ns = fresh(client, "watched");
    create(client, ns, "a");
    String from = get(client, path(ns)).body().path("metadata").path("resourceVersion").asText();
    client
        .endpoints()
        .inNamespace(ns)
        .withName("a")
        .edit(
            e -> {
              e.getMetadata().setLabels(java.util.Map.of("touched", "yes"));
              return e;
            });
    create(client, ns, "b");
    delete(client, ns, "b");

    // Both watches end after 4 s; a real server bookmarks 2 s before a watch's end, once the type
    // changed after the watch began (its replay included).
    Stream<Watching> watches =
        Stream.of("&allowWatchBookmarks=true", "")
            .map(
                extra ->
                    watch(
                        client,
                        path(ns)
                            + "?watch=1&resourceVersion="
                            + from
                            + "&timeoutSeconds=4"
                            + extra));
    List<Watching> open = watches.toList();
    for (Watching watching : open) {
      watching.open().get(30, SECONDS);
    }
    create(client, ns, "c");
    List<JsonNode> withBookmarks = open.get(0).events();
    List<JsonNode> events = open.get(1).events();

    assertThat(events)
        .extracting(e -> e.path("type").asText() + " " + name(e.path("object")))
        .containsExactly("MODIFIED a", "ADDED b", "DELETED b", "ADDED c");
    // A delete is a version of its own, which the DELETED event's object carries.
    assertThat(version(events.get(2).path("object")))
        .isGreaterThan(version(events.get(1).path("object")));

    assertThat(withBookmarks.subList(0, 4)).isEqualTo(events);
    List<JsonNode> bookmarks = withBookmarks.subList(4, withBookmarks.size());
    assertThat(bookmarks).isNotEmpty();
    for (JsonNode bookmark : bookmarks) {
      assertThat(bookmark.path("type").asText()).isEqualTo("BOOKMARK");
      JsonNode object = bookmark.path("object");
      assertThat(object.path("kind").asText()).isEqualTo("Endpoints");
      assertThat(version(object)).isGreaterThanOrEqualTo(version(events.get(3).path("object")));
      assertThat(object.path("metadata").has("name")).isFalse();
    }
  }

  /** A watch being read: {@link #open()} completes once the server answered, then its events. */
  private record Watching(
      CompletableFuture<HttpResponse<io.fabric8.kubernetes.client.http.AsyncBody>> open,
      StringBuffer text) {
    List<JsonNode> events() throws Exception {
      open.get(30, SECONDS).body().done().get(30, SECONDS);
      List<JsonNode> events = new ArrayList<>();
      for (String line : text.toString().split("\n")) {
        if (!line.isBlank()) {
          events.add(JSON.readTree(line));
        }
      }
      return events;
    }
  }

  private static Watching watch(KubernetesClient client, String path) {
    HttpClient http = client.getHttpClient();
    String base = client.getMasterUrl().toString().replaceAll("/$", "");
    StringBuffer text = new StringBuffer();
    CompletableFuture<HttpResponse<io.fabric8.kubernetes.client.http.AsyncBody>> open =
        http.consumeBytes(
            http.newHttpRequestBuilder().uri(base + path).build(),
            (buffers, body) -> {
              for (java.nio.ByteBuffer buffer : buffers) {
                text.append(java.nio.charset.StandardCharsets.UTF_8.decode(buffer));
              }
              body.consume();
            });
    open.thenAccept(response -> response.body().consume());
    return new Watching(open, text);
  }

  // ---- helpers -------------------------------------------------------------------------------

  private static int namespaces;

  /** A namespace of its own for each test, on the client's server. */
  private static String fresh(KubernetesClient client, String prefix) {
    String ns = prefix + "-" + (++namespaces);
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .create();
    return ns;
  }

  private static String path(String ns) {
    return ENDPOINTS.replace("listwatch", ns);
  }

  private static void create(KubernetesClient client, String ns, String name) {
    client
        .endpoints()
        .inNamespace(ns)
        .resource(
            new io.fabric8.kubernetes.api.model.EndpointsBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .build())
        .create();
  }

  private static void delete(KubernetesClient client, String ns, String name) {
    client.endpoints().inNamespace(ns).withName(name).withGracePeriod(0).delete();
  }

  private static Answer get(KubernetesClient client, String path) throws Exception {
    HttpResponse<String> response = send(client, path).get(30, SECONDS);
    return new Answer(response.code(), JSON.readTree(response.body()));
  }

  private static CompletableFuture<HttpResponse<String>> send(
      KubernetesClient client, String path) {
    HttpClient http = client.getHttpClient();
    String base = client.getMasterUrl().toString().replaceAll("/$", "");
    HttpRequest request = http.newHttpRequestBuilder().uri(base + path).build();
    return http.sendAsync(request, String.class);
  }

  private static List<String> names(JsonNode list) {
    List<String> names = new ArrayList<>();
    list.path("items").forEach(i -> names.add(name(i)));
    return names;
  }

  private static String name(JsonNode object) {
    return object.path("metadata").path("name").asText();
  }

  private static long version(JsonNode object) {
    return Long.parseLong(object.path("metadata").path("resourceVersion").asText());
  }
}
