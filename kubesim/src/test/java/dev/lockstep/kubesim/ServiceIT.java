package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Services: EndpointSlices and Endpoints that follow the selected Ready pods, and the proxy. */
class ServiceIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static Kubesim sim;
  private static KubernetesClient client;

  @BeforeAll
  static void start() {
    sim = Kubesim.builder().podStartup(Duration.ofMillis(150)).start();
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

  private static Service service(String name) {
    return new ServiceBuilder()
        .withNewMetadata()
        .withName(name)
        .addToLabels("team", "shop")
        .endMetadata()
        .withNewSpec()
        .addToSelector("app", name)
        .addNewPort()
        .withName("http")
        .withPort(80)
        .withTargetPort(new IntOrString(8080))
        .endPort()
        .endSpec()
        .build();
  }

  private static List<EndpointSlice> slices(String ns, String service) {
    return client
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace(ns)
        .withLabel("kubernetes.io/service-name", service)
        .list()
        .getItems();
  }

  /** Pod name to the ready condition of its endpoint, across the Service's slices. */
  private static Map<String, Boolean> endpoints(String ns, String service) {
    return slices(ns, service).stream()
        .flatMap(s -> s.getEndpoints().stream())
        .collect(
            Collectors.toMap(
                (Endpoint e) -> e.getTargetRef().getName(), e -> e.getConditions().getReady()));
  }

  private static Set<String> readyPods(String ns, String app) {
    return Workloads.pods(client, ns, app).stream()
        .filter(Workloads::ready)
        .map(p -> p.getMetadata().getName())
        .collect(Collectors.toSet());
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(sim.url() + path)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void slicesAndEndpointsFollowTheSelectedPodsReadyOnlyWhenThePodIsReady() {
    String ns = namespace("svcfollow");
    Service created = client.services().inNamespace(ns).resource(service("web")).create();
    assertThat(created.getSpec().getClusterIP()).startsWith("10.96.");
    assertEquals("ClusterIP", created.getSpec().getType());
    assertEquals("TCP", created.getSpec().getPorts().get(0).getProtocol());

    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(Workloads.deployment("web", 3, "web:1"))
        .create();
    await()
        .atMost(30, SECONDS)
        .until(() -> readyPods(ns, "web").size() == 3 && endpoints(ns, "web").size() == 3);
    assertThat(endpoints(ns, "web"))
        .containsOnlyKeys(readyPods(ns, "web"))
        .doesNotContainValue(false);
    EndpointSlice slice = slices(ns, "web").get(0);
    assertThat(slice.getMetadata().getName()).startsWith("web-");
    assertEquals(
        "endpointslice-controller.k8s.io",
        slice.getMetadata().getLabels().get("endpointslice.kubernetes.io/managed-by"));
    assertEquals("shop", slice.getMetadata().getLabels().get("team"));
    assertEquals("Service", slice.getMetadata().getOwnerReferences().get(0).getKind());
    assertEquals("IPv4", slice.getAddressType());
    assertEquals(8080, slice.getPorts().get(0).getPort());
    assertEquals("http", slice.getPorts().get(0).getName());
    Pod pod = Workloads.pods(client, ns, "web").get(0);
    Endpoint endpoint =
        slice.getEndpoints().stream()
            .filter(e -> e.getTargetRef().getName().equals(pod.getMetadata().getName()))
            .findFirst()
            .orElseThrow();
    assertEquals(List.of(pod.getStatus().getPodIP()), endpoint.getAddresses());
    assertEquals(pod.getSpec().getNodeName(), endpoint.getNodeName());

    Endpoints legacy = client.endpoints().inNamespace(ns).withName("web").get();
    assertThat(legacy.getSubsets().get(0).getAddresses()).hasSize(3);
    assertEquals(8080, legacy.getSubsets().get(0).getPorts().get(0).getPort());

    // A new version that never becomes Ready: its pod is an endpoint, not a ready one.
    sim.behaviours().image("web:2", ImageBehaviour.startingIn(Duration.ofHours(1)));
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName("web")
        .edit(
            d -> {
              d.getSpec().getTemplate().getSpec().getContainers().get(0).setImage("web:2");
              return d;
            });
    await().atMost(30, SECONDS).until(() -> endpoints(ns, "web").containsValue(false));
    Map<String, Boolean> during = endpoints(ns, "web");
    Set<String> ready = readyPods(ns, "web");
    during.forEach((name, isReady) -> assertEquals(ready.contains(name), isReady, name + " ready"));
    assertThat(
            client
                .endpoints()
                .inNamespace(ns)
                .withName("web")
                .get()
                .getSubsets()
                .get(0)
                .getNotReadyAddresses())
        .hasSize(1);

    client.services().inNamespace(ns).withName("web").delete();
    await()
        .atMost(10, SECONDS)
        .until(
            () ->
                slices(ns, "web").isEmpty()
                    && client.endpoints().inNamespace(ns).withName("web").get() == null);
  }

  @Test
  void theServiceProxyReachesAReadySelectedPodOnly() throws Exception {
    String ns = namespace("svcproxy");
    client.services().inNamespace(ns).resource(service("api")).create();
    sim.behaviours().image("api:slow", ImageBehaviour.startingIn(Duration.ofHours(1)));
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(Workloads.deployment("api", 2, "api:slow"))
        .create();
    await().atMost(10, SECONDS).until(() -> endpoints(ns, "api").size() == 2);
    HttpResponse<String> none =
        get("/api/v1/namespaces/" + ns + "/services/api:http/proxy/healthz");
    assertEquals(503, none.statusCode());
    assertEquals(
        "no endpoints available for service \"api:http\"",
        JSON.readTree(none.body()).path("message").asText());

    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName("api")
        .edit(
            d -> {
              d.getSpec().getTemplate().getSpec().getContainers().get(0).setImage("api:1");
              return d;
            });
    await().atMost(30, SECONDS).until(() -> endpoints(ns, "api").containsValue(true));
    for (String id : List.of("api", "api:http", "api:80", "http:api:80")) {
      for (int i = 0; i < 5; i++) {
        HttpResponse<String> ok = get("/api/v1/namespaces/" + ns + "/services/" + id + "/proxy/");
        assertEquals(200, ok.statusCode(), id);
        assertEquals("ok\n", ok.body());
      }
    }
    assertEquals(404, get("/api/v1/namespaces/" + ns + "/services/nothing/proxy/").statusCode());

    // The pod answers as the image rules say, as through the pod proxy.
    sim.behaviours().image("api:1", ImageBehaviour.UNHEALTHY);
    await()
        .atMost(30, SECONDS)
        .until(
            () ->
                get("/api/v1/namespaces/" + ns + "/services/api/proxy/healthz").statusCode()
                    == 503);
  }

  @Test
  void aV120ClientReadsTheSlicesAsDiscoveryV1beta1() throws Exception {
    String ns = namespace("svcbeta");
    client.services().inNamespace(ns).resource(service("db")).create();
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(Workloads.deployment("db", 1, "db:1"))
        .create();
    await().atMost(30, SECONDS).until(() -> endpoints(ns, "db").containsValue(true));

    JsonNode groups = JSON.readTree(get("/apis").body());
    JsonNode discovery = null;
    for (JsonNode g : groups.path("groups")) {
      if (g.path("name").asText().equals("discovery.k8s.io")) {
        discovery = g;
      }
    }
    assertThat(discovery).isNotNull();
    assertThat(discovery.path("versions").findValuesAsText("version"))
        .containsExactly("v1", "v1beta1");
    assertThat(
            JSON.readTree(get("/apis/discovery.k8s.io/v1beta1").body())
                .path("resources")
                .findValuesAsText("name"))
        .contains("endpointslices");

    JsonNode list =
        JSON.readTree(
            get("/apis/discovery.k8s.io/v1beta1/namespaces/" + ns + "/endpointslices").body());
    assertEquals("discovery.k8s.io/v1beta1", list.path("apiVersion").asText());
    JsonNode slice = list.path("items").get(0);
    assertEquals("discovery.k8s.io/v1beta1", slice.path("apiVersion").asText());
    JsonNode endpoint = slice.path("endpoints").get(0);
    Pod pod = Workloads.pods(client, ns, "db").get(0);
    assertEquals(
        pod.getSpec().getNodeName(),
        endpoint.path("topology").path("kubernetes.io/hostname").asText());
    assertThat(endpoint.has("nodeName")).isFalse();
    assertThat(endpoint.path("conditions").path("ready").asBoolean()).isTrue();
    assertThat(endpoint.path("conditions").has("serving")).isFalse();

    JsonNode one =
        JSON.readTree(
            get("/apis/discovery.k8s.io/v1beta1/namespaces/"
                    + ns
                    + "/endpointslices/"
                    + slice.path("metadata").path("name").asText())
                .body());
    assertEquals("discovery.k8s.io/v1beta1", one.path("apiVersion").asText());
  }
}
