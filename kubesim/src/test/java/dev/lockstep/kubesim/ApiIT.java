package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.APIGroup;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.Eviction;
import io.fabric8.kubernetes.api.model.policy.v1.EvictionBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The API semantics kubesim adds to the CRUD store, seen through real clients. */
class ApiIT {
  private static Kubesim sim;
  private static KubernetesClient client;
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() {
    sim = Kubesim.builder().podStartup(Duration.ofMillis(100)).start();
    client = sim.client();
  }

  @AfterAll
  static void stop() {
    sim.close();
  }

  private static String namespace(String name) {
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
    return name;
  }

  private static StatefulSet readySet(String ns, String name, int replicas) {
    client
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .resource(Workloads.statefulSet(name, replicas, "nginx:1.25"))
        .create();
    await()
        .atMost(20, SECONDS)
        .until(
            () -> {
              StatefulSet s = client.apps().statefulSets().inNamespace(ns).withName(name).get();
              return s.getStatus() != null
                  && s.getStatus().getReadyReplicas() != null
                  && s.getStatus().getReadyReplicas() == replicas;
            });
    return client.apps().statefulSets().inNamespace(ns).withName(name).get();
  }

  private static HttpResponse<String> http(String method, String path, String body, String type)
      throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(sim.url() + path));
    if (type != null) {
      request.header("Content-Type", type);
    }
    request.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void discoveryDescribesWhatIsServed() {
    assertEquals("1", client.getKubernetesVersion().getMajor());
    assertThat(client.getApiGroups().getGroups())
        .extracting(APIGroup::getName)
        .contains("apps", "batch", "policy");
    assertThat(client.getApiResources("apps/v1").getResources())
        .extracting(APIResource::getName)
        .contains(
            "statefulsets", "statefulsets/status", "statefulsets/scale", "controllerrevisions");
    assertThat(client.getApiResources("v1").getResources())
        .filteredOn(r -> r.getName().equals("pods"))
        .singleElement()
        .satisfies(r -> assertThat(r.getShortNames()).containsExactly("po"));
    assertThat(client.getApiResources("v1").getResources())
        .extracting(APIResource::getName)
        .contains("pods/log", "pods/eviction", "pods/proxy", "events", "nodes");
    assertTrue(client.supports(StatefulSet.class));
  }

  @Test
  void seedsNodesWithAllocatableResources() {
    assertThat(client.nodes().list().getItems())
        .hasSize(3)
        .allSatisfy(
            n -> {
              assertEquals(new Quantity("4"), n.getStatus().getAllocatable().get("cpu"));
              assertEquals(new Quantity("16Gi"), n.getStatus().getAllocatable().get("memory"));
            });
  }

  @Test
  void aPodThatFitsNoNodeStaysPendingWithAFailedSchedulingEvent() {
    String ns = namespace("huge");
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("huge")
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName("app")
            .withImage("nginx:1.25")
            .withNewResources()
            .addToRequests("cpu", new Quantity("64"))
            .endResources()
            .endContainer()
            .endSpec()
            .build();
    client.pods().inNamespace(ns).resource(pod).create();
    await()
        .atMost(10, SECONDS)
        .until(
            () ->
                client
                    .v1()
                    .events()
                    .inNamespace(ns)
                    .withField("involvedObject.name", "huge")
                    .list()
                    .getItems()
                    .stream()
                    .anyMatch(e -> e.getReason().equals("FailedScheduling")));
    Event event =
        client
            .v1()
            .events()
            .inNamespace(ns)
            .withField("involvedObject.name", "huge")
            .list()
            .getItems()
            .stream()
            .filter(e -> e.getReason().equals("FailedScheduling"))
            .findFirst()
            .orElseThrow();
    assertEquals("0/3 nodes are available: 3 Insufficient cpu.", event.getMessage());
    Pod stored = client.pods().inNamespace(ns).withName("huge").get();
    assertEquals("Pending", stored.getStatus().getPhase());
    assertThat(stored.getSpec().getNodeName()).isNull();
  }

  @Test
  void eventsAreSelectedByInvolvedObjectAndUnknownFieldsAreRefused() {
    String ns = namespace("events");
    readySet(ns, "web", 2);
    List<Event> events =
        client
            .v1()
            .events()
            .inNamespace(ns)
            .withField("involvedObject.name", "web")
            .list()
            .getItems();
    assertThat(events)
        .isNotEmpty()
        .allSatisfy(e -> assertEquals("web", e.getInvolvedObject().getName()));
    assertThat(events)
        .extracting(Event::getMessage)
        .contains("create Pod web-0 in StatefulSet web successful");
    KubernetesClientException e =
        assertThrows(
            KubernetesClientException.class,
            () -> client.pods().inNamespace(ns).withField("foo.bar", "x").list());
    assertEquals(400, e.getCode());
    assertThat(e.getMessage()).contains("\"foo.bar\" is not a known field selector");
  }

  @Test
  void strategicMergePatchChangesOneContainerAndKeepsTheRest() {
    String ns = namespace("smp");
    readySet(ns, "web", 1);
    String patch =
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
            + "\"image\":\"nginx:1.26\"}]}}}}";
    StatefulSet patched =
        client
            .apps()
            .statefulSets()
            .inNamespace(ns)
            .withName("web")
            .patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch);
    var container = patched.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertEquals("nginx:1.26", container.getImage());
    assertEquals(8080, container.getPorts().get(0).getContainerPort());
    assertEquals(2L, patched.getMetadata().getGeneration());
  }

  @Test
  void serverSideApplyIsRefusedWith415AndAFailedJsonPatchTestWith422() throws Exception {
    String ns = namespace("patches");
    readySet(ns, "web", 1);
    String path = "/apis/apps/v1/namespaces/" + ns + "/statefulsets/web";
    HttpResponse<String> apply =
        http("PATCH", path + "?fieldManager=me", "{}", "application/apply-patch+yaml");
    assertEquals(415, apply.statusCode());
    assertThat(apply.body()).contains("server-side apply is not supported by kubesim");
    HttpResponse<String> test =
        http(
            "PATCH",
            path,
            "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":5}]",
            "application/json-patch+json");
    assertEquals(422, test.statusCode());
    assertThat(test.body()).contains("test operation failed");
  }

  @Test
  void dryRunValidatesWithoutStoringAndTheLogShowsNoWrite() throws Exception {
    String ns = namespace("dryrun");
    readySet(ns, "web", 1);
    long mark = sim.requestLog().mark();
    String path = "/apis/apps/v1/namespaces/" + ns + "/statefulsets/web?dryRun=All";
    HttpResponse<String> dry =
        http(
            "PATCH",
            path,
            "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
                + "\"image\":\"nginx:9\"}]}}}}",
            "application/strategic-merge-patch+json");
    assertEquals(200, dry.statusCode());
    assertThat(dry.body()).contains("nginx:9");
    HttpResponse<String> invalid =
        http(
            "PATCH",
            path,
            "{\"spec\":{\"serviceName\":\"other\"}}",
            "application/merge-patch+json");
    assertEquals(422, invalid.statusCode());
    assertEquals(
        "nginx:1.25",
        client
            .apps()
            .statefulSets()
            .inNamespace(ns)
            .withName("web")
            .get()
            .getSpec()
            .getTemplate()
            .getSpec()
            .getContainers()
            .get(0)
            .getImage());
    assertThat(sim.requestLog().writesSince(mark)).isEmpty();
    assertThat(sim.requestLog().since(mark))
        .extracting(RequestRecord::verb, RequestRecord::dryRun)
        .contains(org.assertj.core.groups.Tuple.tuple("patch", true));

    client
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .withName("web")
        .edit(
            s -> {
              s.getMetadata().getLabels().put("tier", "web");
              return s;
            });
    assertThat(sim.requestLog().writesSince(mark))
        .singleElement()
        .satisfies(
            r -> {
              assertEquals("statefulsets", r.resource());
              assertEquals(ns, r.namespace());
              assertEquals("web", r.name());
              assertEquals(200, r.status());
            });
  }

  @Test
  void faultsAreInjectedAtTheConfiguredRateAndCanBeSwitchedOff() throws Exception {
    String ns = namespace("faults");
    sim.faults().seed(1).add(new FaultRule("get", "configmaps", 0.3, List.of(500, 429), 0));
    try {
      client
          .configMaps()
          .inNamespace(ns)
          .resource(new ConfigMapBuilder().withNewMetadata().withName("c").endMetadata().build())
          .create();
      int failures = 0;
      for (int i = 0; i < 200; i++) {
        HttpResponse<String> r =
            http("GET", "/api/v1/namespaces/" + ns + "/configmaps/c", null, null);
        if (r.statusCode() != 200) {
          assertThat(r.statusCode()).isIn(500, 429);
          assertThat(r.body()).contains("kubesim: injected fault");
          failures++;
        }
      }
      assertThat(failures).isBetween(40, 80);
      assertThat(sim.requestLog().matching(RequestRecord::injected)).hasSize(failures);
      // Other verbs and resources are untouched by the rule.
      for (int i = 0; i < 20; i++) {
        assertEquals(
            200, http("GET", "/api/v1/namespaces/" + ns + "/pods", null, null).statusCode());
      }
    } finally {
      sim.faults().clear();
    }
    for (int i = 0; i < 20; i++) {
      assertEquals(
          200, http("GET", "/api/v1/namespaces/" + ns + "/configmaps/c", null, null).statusCode());
    }
  }

  @Test
  void faultsAndTheRequestLogHaveHttpEndpoints() throws Exception {
    HttpResponse<String> put =
        http(
            "PUT",
            "/kubesim/faults",
            "[{\"verb\":\"list\",\"resource\":\"secrets\",\"rate\":1.0,\"codes\":[503],"
                + "\"latencyMillis\":0}]",
            "application/json");
    assertEquals(200, put.statusCode());
    try {
      assertEquals(503, http("GET", "/api/v1/namespaces/default/secrets", null, null).statusCode());
    } finally {
      assertEquals(200, http("DELETE", "/kubesim/faults", null, null).statusCode());
    }
    assertEquals(200, http("GET", "/api/v1/namespaces/default/secrets", null, null).statusCode());
    long mark = sim.requestLog().mark();
    http("GET", "/api/v1/namespaces/default/configmaps", null, null);
    HttpResponse<String> log = http("GET", "/kubesim/requests?since=" + mark, null, null);
    assertEquals(200, log.statusCode());
    assertThat(log.body()).contains("\"verb\":\"list\"").contains("\"resource\":\"configmaps\"");
  }

  @Test
  void evictionRespectsThePodDisruptionBudget() throws Exception {
    String ns = namespace("pdb");
    readySet(ns, "db", 3);
    PodDisruptionBudget pdb =
        new PodDisruptionBudgetBuilder()
            .withNewMetadata()
            .withName("db")
            .endMetadata()
            .withNewSpec()
            .withNewMaxUnavailable(1)
            .withNewSelector()
            .addToMatchLabels("app", "db")
            .endSelector()
            .endSpec()
            .build();
    client.policy().v1().podDisruptionBudget().inNamespace(ns).resource(pdb).create();
    await()
        .atMost(10, SECONDS)
        .until(
            () -> {
              var s =
                  client
                      .policy()
                      .v1()
                      .podDisruptionBudget()
                      .inNamespace(ns)
                      .withName("db")
                      .get()
                      .getStatus();
              return s != null
                  && s.getDisruptionsAllowed() != null
                  && s.getDisruptionsAllowed() == 1
                  && s.getExpectedPods() == 3;
            });
    // The replacement of an evicted pod takes 2 s to be Ready: long enough to see the budget spent.
    sim.behaviours().image("nginx:1.25", ImageBehaviour.startingIn(Duration.ofSeconds(2)));
    try {
      evictOneThenSeeTheBudgetSpent(ns);
    } finally {
      sim.behaviours().clear();
    }
    await()
        .atMost(10, SECONDS)
        .until(() -> client.pods().inNamespace(ns).withName("db-1").evict(eviction(ns, "db-1")));
  }

  private void evictOneThenSeeTheBudgetSpent(String ns) throws Exception {
    Eviction first = eviction(ns, "db-2");
    assertTrue(client.pods().inNamespace(ns).withName("db-2").evict(first));
    // The budget is spent until db-2 is back and Ready: fabric8 reports the 429 as false.
    assertThat(client.pods().inNamespace(ns).withName("db-1").evict(eviction(ns, "db-1")))
        .isFalse();
    HttpResponse<String> refused =
        http(
            "POST",
            "/api/v1/namespaces/" + ns + "/pods/db-1/eviction",
            "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\","
                + "\"metadata\":{\"name\":\"db-1\",\"namespace\":\""
                + ns
                + "\"}}",
            "application/json");
    assertEquals(429, refused.statusCode());
    assertThat(refused.body())
        .contains("Cannot evict pod as it would violate the pod's disruption budget.")
        .contains("needs 2 healthy pods and has 2 currently");
    assertThat(client.pods().inNamespace(ns).withName("db-1").get()).isNotNull();
  }

  private static Eviction eviction(String ns, String pod) {
    return new EvictionBuilder()
        .withNewMetadata()
        .withName(pod)
        .withNamespace(ns)
        .endMetadata()
        .build();
  }

  @Test
  void podLogsAndTheProxyComeFromTheEmulatedContainer() throws Exception {
    String ns = namespace("logs");
    readySet(ns, "web", 1);
    String log = client.pods().inNamespace(ns).withName("web-0").getLog();
    assertThat(log).contains("app: starting image nginx:1.25").contains("app: ready");
    HttpResponse<String> health =
        http("GET", "/api/v1/namespaces/" + ns + "/pods/web-0:8080/proxy/health", null, null);
    assertEquals(200, health.statusCode());
    sim.behaviours().image("nginx:1.25", ImageBehaviour.UNHEALTHY);
    try {
      assertEquals(
          503,
          http("GET", "/api/v1/namespaces/" + ns + "/pods/web-0/proxy/health", null, null)
              .statusCode());
    } finally {
      sim.behaviours().clear();
    }
  }

  @Test
  void theBehaviourConfigMapSteersARunningSimulator() {
    String ns = namespace("steer");
    client
        .configMaps()
        .inNamespace("kube-system")
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("kubesim-behaviour")
                .endMetadata()
                .addToData("rules", "# bad release\nexample/api:2.* crashloop\n")
                .build())
        .create();
    try {
      client
          .apps()
          .statefulSets()
          .inNamespace(ns)
          .resource(Workloads.statefulSet("api", 1, "example/api:2.0"))
          .create();
      await()
          .atMost(10, SECONDS)
          .until(
              () -> {
                Pod pod = client.pods().inNamespace(ns).withName("api-0").get();
                return pod != null
                    && !pod.getStatus().getContainerStatuses().isEmpty()
                    && pod.getStatus().getContainerStatuses().get(0).getRestartCount() >= 1;
              });
      // Fix the image "in the registry": the crash-looping pod comes up at its next restart.
      client
          .configMaps()
          .inNamespace("kube-system")
          .withName("kubesim-behaviour")
          .edit(
              c -> {
                c.setData(Map.of("rules", "example/api:2.* ok"));
                return c;
              });
      await()
          .atMost(10, SECONDS)
          .until(() -> Workloads.ready(client.pods().inNamespace(ns).withName("api-0").get()));
    } finally {
      client.configMaps().inNamespace("kube-system").withName("kubesim-behaviour").delete();
    }
  }

  @Test
  void plainHttpWatchStreamsEventsAsKubectlReadsThem() throws Exception {
    String ns = namespace("watch");
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create(
                    sim.url()
                        + "/api/v1/namespaces/"
                        + ns
                        + "/configmaps?watch=1&timeoutSeconds=3"))
            .build();
    HttpResponse<java.io.InputStream> response =
        HTTP.send(request, HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, response.statusCode());
    client
        .configMaps()
        .inNamespace(ns)
        .resource(new ConfigMapBuilder().withNewMetadata().withName("one").endMetadata().build())
        .create();
    List<String> lines = new ArrayList<>();
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        lines.add(line);
      }
    }
    // The stream ended by itself after timeoutSeconds, and carried the event.
    assertThat(lines).anySatisfy(l -> assertThat(l).contains("\"ADDED\"").contains("\"one\""));
  }

  @Test
  void creatingInAMissingNamespaceIs404AndUnknownPathsAre404() throws Exception {
    KubernetesClientException e =
        assertThrows(
            KubernetesClientException.class,
            () ->
                client
                    .configMaps()
                    .inNamespace("nowhere")
                    .resource(
                        new ConfigMapBuilder()
                            .withNewMetadata()
                            .withName("c")
                            .endMetadata()
                            .build())
                    .create());
    assertEquals(404, e.getCode());
    assertThat(e.getMessage()).contains("namespaces \"nowhere\" not found");
    assertEquals(404, http("GET", "/apis/example.com/v1/widgets", null, null).statusCode());
    HttpResponse<String> missing = http("GET", "/api/v1/namespaces/default/pods/none", null, null);
    assertEquals(404, missing.statusCode());
    assertThat(missing.body()).contains("pods \\\"none\\\" not found");
  }
}
