package dev.lockstep.devstack;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example workloads `lockstep dev` seeds, as a newcomer finds them. */
class DevStackSeedIT {
  @TempDir Path dir;

  @Test
  void seedsTheStatefulSetsAndTheAeternaDeploymentWithItsServiceAllReady() throws Exception {
    try (DevStack stack =
        DevStack.start(
            new DevStack.Settings(
                0, 0, Duration.ofMillis(100), true, false, dir.resolve("kubeconfig")))) {
      KubernetesClient client = stack.kubesim().client();
      String ns = DevStack.DEMO_NAMESPACE;
      assertThat(
              client.apps().statefulSets().inNamespace(ns).list().getItems().stream()
                  .map(s -> s.getMetadata().getName()))
          .containsExactlyInAnyOrder("postgresql", "discourse", "ghostwire");
      // The Helm release, in its own namespace: installed as Helm writes it, revision 1 deployed.
      assertThat(
              client.secrets().inNamespace(DevStack.HELM_NAMESPACE).list().getItems().stream()
                  .map(s -> s.getMetadata().getName() + " " + s.getMetadata().getLabels()))
          .singleElement()
          .asString()
          .startsWith("sh.helm.release.v1.ghostwire.v1 ")
          .contains("status=deployed", "owner=helm");
      assertThat(
              client
                  .apps()
                  .statefulSets()
                  .inNamespace(DevStack.HELM_NAMESPACE)
                  .withName("ghostwire")
                  .get()
                  .getMetadata()
                  .getAnnotations())
          .containsEntry("meta.helm.sh/release-name", "ghostwire");
      await()
          .atMost(30, SECONDS)
          .until(
              () -> {
                Deployment d =
                    client.apps().deployments().inNamespace(ns).withName("aeterna").get();
                return d.getStatus() != null
                    && Integer.valueOf(4).equals(d.getStatus().getAvailableReplicas());
              });
      Deployment aeterna = client.apps().deployments().inNamespace(ns).withName("aeterna").get();
      assertEquals(
          "aeterna:1.4.0",
          aeterna.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
      assertEquals(
          "1", aeterna.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision"));
      // The Service sends traffic to the 4 Ready pods, on their readiness port.
      await()
          .atMost(30, SECONDS)
          .until(
              () -> {
                List<EndpointSlice> slices =
                    client
                        .discovery()
                        .v1()
                        .endpointSlices()
                        .inNamespace(ns)
                        .withLabel("kubernetes.io/service-name", "aeterna")
                        .list()
                        .getItems();
                return slices.size() == 1
                    && slices.get(0).getEndpoints().size() == 4
                    && slices.get(0).getEndpoints().stream()
                        .allMatch(e -> e.getConditions().getReady());
              });
      EndpointSlice slice =
          client
              .discovery()
              .v1()
              .endpointSlices()
              .inNamespace(ns)
              .withLabel("kubernetes.io/service-name", "aeterna")
              .list()
              .getItems()
              .get(0);
      assertEquals(8080, slice.getPorts().get(0).getPort());
    }
  }
}
