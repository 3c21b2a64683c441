package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What kubectl reads from kubesim beside objects: the server-side Table behind {@code kubectl get}
 * (its columns and cells as the real API server prints them) and the OpenAPI download behind {@code
 * kubectl apply}'s validation. Over HTTP, with kubectl's own Accept headers.
 */
class KubectlViewIT {
  /** The Accept header {@code kubectl get} sends. */
  private static final String TABLE =
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static Kubesim sim;
  private static KubernetesClient client;

  @BeforeAll
  static void start() {
    sim = Kubesim.builder().podStartup(Duration.ofMillis(150)).start();
    client = sim.client();
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName("view").endMetadata().build())
        .create();
  }

  @AfterAll
  static void stop() {
    sim.close();
  }

  private static HttpResponse<byte[]> get(String path, String accept) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(sim.url() + path)).header("Accept", accept).GET().build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  private static JsonNode table(String path) throws Exception {
    HttpResponse<byte[]> response = get(path, TABLE);
    assertEquals(200, response.statusCode(), new String(response.body()));
    JsonNode table = JSON.readTree(response.body());
    assertEquals("Table", table.path("kind").asText());
    assertEquals("meta.k8s.io/v1", table.path("apiVersion").asText());
    return table;
  }

  private static List<String> columns(JsonNode table, boolean wide) {
    List<String> names = new ArrayList<>();
    for (JsonNode c : table.path("columnDefinitions")) {
      if (wide || c.path("priority").asInt() == 0) {
        names.add(c.path("name").asText());
      }
    }
    return names;
  }

  /** The row of an object, as kubectl prints it (cells as text). */
  private static List<String> row(JsonNode table, String name) {
    for (JsonNode row : table.path("rows")) {
      if (row.path("cells").get(0).asText().equals(name)) {
        List<String> cells = new ArrayList<>();
        row.path("cells").forEach(c -> cells.add(c.asText()));
        return cells;
      }
    }
    throw new AssertionError("no row " + name + " in " + table);
  }

  private static Pod pod(String name, String image) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .addToLabels("view", "pod")
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(image)
        .endContainer()
        .endSpec()
        .build();
  }

  @Test
  void podsPrintReadyStatusRestartsAndAgeAsKubectlShowsThem() throws Exception {
    sim.behaviours().image("view:starting", ImageBehaviour.startingIn(Duration.ofHours(1)));
    client.pods().inNamespace("view").resource(pod("running", "view:1")).create();
    client.pods().inNamespace("view").resource(pod("crashing", "view:2-broken")).create();
    client.pods().inNamespace("view").resource(pod("creating", "view:starting")).create();
    await()
        .atMost(30, SECONDS)
        .until(
            () -> {
              JsonNode t = table("/api/v1/namespaces/view/pods?labelSelector=view%3Dpod");
              return row(t, "running").get(2).equals("Running")
                  && row(t, "crashing").get(3).startsWith("2 (");
            });
    JsonNode t = table("/api/v1/namespaces/view/pods?labelSelector=view%3Dpod");
    assertEquals(List.of("Name", "Ready", "Status", "Restarts", "Age"), columns(t, false));
    assertEquals(
        List.of(
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"),
        columns(t, true));
    List<String> running = row(t, "running");
    assertEquals(List.of("running", "1/1", "Running", "0"), running.subList(0, 4));
    assertThat(running.get(4)).matches("[0-9]+s");
    assertThat(running.get(5)).startsWith("10.");
    assertThat(running.get(6)).startsWith("kubesim-node-");
    List<String> crashing = row(t, "crashing");
    assertEquals(List.of("crashing", "0/1", "CrashLoopBackOff"), crashing.subList(0, 3));
    assertThat(crashing.get(3)).matches("[0-9]+ \\([0-9]+s ago\\)");
    assertEquals(
        List.of("creating", "0/1", "ContainerCreating", "0"), row(t, "creating").subList(0, 4));
    // Rows carry the object's metadata, as kubectl asks by default.
    JsonNode object = t.path("rows").get(0).path("object");
    assertEquals("PartialObjectMetadata", object.path("kind").asText());
    assertThat(object.path("metadata").path("uid").asText()).isNotEmpty();

    // One object is a one-row Table; includeObject=Object carries the whole pod.
    JsonNode one = table("/api/v1/namespaces/view/pods/running?includeObject=Object");
    assertEquals(1, one.path("rows").size());
    assertEquals("Pod", one.path("rows").get(0).path("object").path("kind").asText());
    // Without the Table media type, the list is the list.
    JsonNode plain = JSON.readTree(get("/api/v1/namespaces/view/pods", "application/json").body());
    assertEquals("PodList", plain.path("kind").asText());
  }

  @Test
  void workloadsPrintTheirReplicaCountsAndJobsTheirCompletionsAndDuration() throws Exception {
    client
        .apps()
        .deployments()
        .inNamespace("view")
        .resource(Workloads.deployment("web", 2, "web:1"))
        .create();
    client
        .apps()
        .statefulSets()
        .inNamespace("view")
        .resource(Workloads.statefulSet("db", 1, "db:1"))
        .create();
    client
        .batch()
        .v1()
        .jobs()
        .inNamespace("view")
        .resource(
            new JobBuilder()
                .withNewMetadata()
                .withName("migrate")
                .endMetadata()
                .withNewSpec()
                .withNewTemplate()
                .withNewSpec()
                .withRestartPolicy("Never")
                .addNewContainer()
                .withName("migrate")
                .withImage("migrate:1")
                .endContainer()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build())
        .create();
    await()
        .atMost(30, SECONDS)
        .until(
            () ->
                row(table("/apis/apps/v1/namespaces/view/deployments"), "web").get(1).equals("2/2")
                    && row(table("/apis/apps/v1/namespaces/view/statefulsets"), "db")
                        .get(1)
                        .equals("1/1")
                    && row(table("/apis/batch/v1/namespaces/view/jobs"), "migrate")
                        .get(1)
                        .equals("1/1"));

    JsonNode deployments = table("/apis/apps/v1/namespaces/view/deployments");
    assertEquals(
        List.of("Name", "Ready", "Up-to-date", "Available", "Age"), columns(deployments, false));
    List<String> web = row(deployments, "web");
    assertEquals(List.of("web", "2/2", "2", "2"), web.subList(0, 4));
    assertEquals(List.of("app", "web:1", "app=web"), web.subList(5, 8));

    JsonNode statefulSets = table("/apis/apps/v1/namespaces/view/statefulsets");
    assertEquals(List.of("Name", "Ready", "Age"), columns(statefulSets, false));
    assertThat(row(statefulSets, "db").get(2)).matches("[0-9]+s");

    JsonNode replicaSets = table("/apis/apps/v1/namespaces/view/replicasets");
    assertEquals(
        List.of("Name", "Desired", "Current", "Ready", "Age"), columns(replicaSets, false));
    JsonNode rs = replicaSets.path("rows").get(0).path("cells");
    assertThat(rs.get(0).asText()).startsWith("web-");
    assertEquals(
        List.of(2, 2, 2), List.of(rs.get(1).asInt(), rs.get(2).asInt(), rs.get(3).asInt()));

    JsonNode jobs = table("/apis/batch/v1/namespaces/view/jobs");
    assertEquals(List.of("Name", "Completions", "Duration", "Age"), columns(jobs, false));
    List<String> migrate = row(jobs, "migrate");
    assertEquals("1/1", migrate.get(1));
    assertThat(migrate.get(2)).matches("[0-9]+s");
  }

  @Test
  void aWatchOfTablesSendsTheColumnsWithTheFirstEventOnly() throws Exception {
    client.pods().inNamespace("view").resource(pod("watched-1", "view:1")).create();
    client.pods().inNamespace("view").resource(pod("watched-2", "view:1")).create();
    HttpResponse<Stream<String>> response =
        HTTP.send(
            HttpRequest.newBuilder(
                    URI.create(sim.url() + "/api/v1/namespaces/view/pods?watch=1&timeoutSeconds=1"))
                .header("Accept", TABLE)
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    List<JsonNode> events = new ArrayList<>();
    try (Stream<String> lines = response.body()) {
      Iterator<String> it = lines.iterator();
      while (events.size() < 2 && it.hasNext()) {
        events.add(JSON.readTree(it.next()));
      }
    }
    assertEquals("ADDED", events.get(0).path("type").asText());
    JsonNode first = events.get(0).path("object");
    assertEquals("Table", first.path("kind").asText());
    assertEquals(1, first.path("rows").size());
    assertThat(first.path("columnDefinitions").size()).isEqualTo(9);
    assertThat(events.get(1).path("object").path("columnDefinitions").isNull()).isTrue();
  }

  @Test
  void kubectlsOpenApiDownloadIsAnswered() throws Exception {
    HttpResponse<byte[]> protobuf =
        get(
            "/openapi/v2",
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json");
    assertEquals(200, protobuf.statusCode());
    assertEquals(
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        protobuf.headers().firstValue("Content-Type").orElse(""));
    // Field 1 (swagger), length-delimited, "2.0": a gnostic openapi_v2.Document.
    byte[] body = protobuf.body();
    assertEquals(
        List.of(0x0a, 3, (int) '2', (int) '.', (int) '0'),
        List.of(body[0] & 0xff, (int) body[1], (int) body[2], (int) body[3], (int) body[4]));

    JsonNode json = JSON.readTree(get("/openapi/v2", "application/json").body());
    assertEquals("2.0", json.path("swagger").asText());
    assertThat(json.path("definitions").isObject()).isTrue();
    JsonNode v3 = JSON.readTree(get("/openapi/v3", "application/json").body());
    assertThat(v3.path("paths").isObject()).isTrue();
  }
}
