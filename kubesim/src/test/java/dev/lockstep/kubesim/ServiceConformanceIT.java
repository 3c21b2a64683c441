package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * A Service's EndpointSlices read as a v1.20 client reads them ({@code discovery.k8s.io/v1beta1}),
 * on kubesim and on a real v1.20.2 control plane (its endpointslice controller, kubesim's hollow
 * nodes running the pods): the same labels, address type, ports and endpoints, each ready exactly
 * when its pod is. The real lane is skipped where the kit is absent.
 */
class ServiceConformanceIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Web (2 Ready replicas on port 8080) behind a Service; returns what its slices say. */
  static List<String> scenario(KubernetesClient client, String ns) throws Exception {
    client
        .services()
        .inNamespace(ns)
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName("conform")
                .endMetadata()
                .withNewSpec()
                .addToSelector("app", "conform")
                .addNewPort()
                .withName("http")
                .withPort(80)
                .withTargetPort(new IntOrString(8080))
                .endPort()
                .endSpec()
                .build())
        .create();
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .resource(Workloads.deployment("conform", 2, "conform:1"))
        .create();
    String path =
        client.getMasterUrl().toString().replaceAll("/$", "")
            + "/apis/discovery.k8s.io/v1beta1/namespaces/"
            + ns
            + "/endpointslices?labelSelector=kubernetes.io/service-name%3Dconform";
    await()
        .atMost(60, SECONDS)
        .until(
            () -> {
              int ready = 0;
              for (JsonNode slice : JSON.readTree(client.raw(path)).path("items")) {
                for (JsonNode e : slice.path("endpoints")) {
                  if (e.path("conditions").path("ready").asBoolean(false)) {
                    ready++;
                  }
                }
              }
              return ready == 2;
            });
    JsonNode list = JSON.readTree(client.raw(path));
    List<String> facts = new ArrayList<>();
    facts.add("list " + list.path("apiVersion").asText());
    for (JsonNode slice : list.path("items")) {
      JsonNode labels = slice.path("metadata").path("labels");
      // Items of a real list carry no apiVersion: read the slice itself for it.
      String one =
          path.substring(0, path.indexOf('?')) + "/" + slice.path("metadata").path("name").asText();
      facts.add(
          "slice "
              + JSON.readTree(client.raw(one)).path("apiVersion").asText()
              + " "
              + slice.path("addressType"));
      facts.add("managed-by " + labels.path("endpointslice.kubernetes.io/managed-by").asText());
      facts.add(
          "owner "
              + slice.path("metadata").path("ownerReferences").path(0).path("kind").asText()
              + " "
              + slice.path("metadata").path("ownerReferences").path(0).path("name").asText());
      facts.add("ports " + slice.path("ports"));
      TreeSet<String> endpoints = new TreeSet<>();
      for (JsonNode e : slice.path("endpoints")) {
        endpoints.add(
            "addresses="
                + e.path("addresses").size()
                + " conditions="
                + e.path("conditions")
                + " topology="
                + (e.path("topology").has("kubernetes.io/hostname") ? "hostname" : "none")
                + " target="
                + e.path("targetRef").path("kind").asText()
                + " nodeName="
                + e.has("nodeName"));
      }
      facts.add("endpoints " + endpoints);
    }
    return facts;
  }

  /** What the real v1.20 endpointslice controller writes. */
  static final List<String> EXPECTED =
      List.of(
          "list discovery.k8s.io/v1beta1",
          "slice discovery.k8s.io/v1beta1 \"IPv4\"",
          "managed-by endpointslice-controller.k8s.io",
          "owner Service conform",
          "ports [{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}]",
          "endpoints [addresses=1 conditions={\"ready\":true} topology=hostname target=Pod"
              + " nodeName=false]");

  @Test
  void onKubesim() throws Exception {
    try (Kubesim sim = Kubesim.builder().podStartup(Duration.ofMillis(150)).start()) {
      assertEquals(EXPECTED, scenario(sim.client(), "default"));
    }
  }

  @Test
  @EnabledIf(
      value = "dev.lockstep.kubesim.lane.ControlPlaneKit#available",
      disabledReason = "no real control plane here (../shared/tools/k8s/control-plane not found)")
  void onARealV120ControlPlane() throws Exception {
    try (RealServer real = RealServer.start()) {
      assertEquals(EXPECTED, scenario(real.client, "default"));
    }
  }
}
