package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.kubesim.lane.ControlPlaneKit;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * kubesim's API half against a real v1.20 API server (the kit's control plane with hollow nodes):
 * the same requests to both, and what Lockstep relies on in the answers compared. Skipped with one
 * line where the kit is absent.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@EnabledIf(
    value = "dev.lockstep.kubesim.lane.ControlPlaneKit#available",
    disabledReason = "no real control plane here (../shared/tools/k8s/control-plane not found)")
class ConformanceIT {
  private static final String NS = "conformance";

  private ControlPlaneKit plane;
  private HollowNodes nodes;
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
    nodes =
        HollowNodes.builder(config)
            .nodes(2)
            .podStartup(Duration.ofMillis(200))
            .gatewayPort(gatewayPort)
            .start();
    real =
        new KubernetesClientBuilder()
            .withConfig(new ConfigBuilder(config).withRequestRetryBackoffLimit(0).build())
            .build();
    sim = Kubesim.builder().podStartup(Duration.ofMillis(200)).start();
    for (KubernetesClient client : List.of(real, sim.client())) {
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
          .create();
    }
    // A real namespace's pods are refused until its default ServiceAccount has a token.
    real.serviceAccounts()
        .inNamespace(NS)
        .withName("default")
        .waitUntilCondition(
            sa -> sa != null && sa.getSecrets() != null && !sa.getSecrets().isEmpty(), 30, SECONDS);
  }

  @AfterAll
  void stop() {
    for (AutoCloseable part : new AutoCloseable[] {real, sim, nodes, plane}) {
      if (part != null) {
        try {
          part.close();
        } catch (Exception e) {
          // the rest still stop
        }
      }
    }
  }

  private static StatefulSet web(String name, String image) {
    StatefulSet sts = Workloads.statefulSet(name, 2, image);
    sts.getSpec()
        .getTemplate()
        .getSpec()
        .getContainers()
        .get(0)
        .setPorts(List.of(new ContainerPortBuilder().withContainerPort(8080).build()));
    return sts;
  }

  /** Both answers to the same request, kubesim's first. */
  private <T> List<T> both(Function<KubernetesClient, T> request) {
    return List.of(request.apply(sim.client()), request.apply(real));
  }

  @Test
  void aTemplateReadBackIsDefaultedAlike() {
    // prepare's "was my write already applied?" compares a template read back with one computed
    // from it: both servers must fill in the same fields.
    List<JsonNode> templates =
        both(
            client ->
                Serialization.jsonMapper()
                    .valueToTree(
                        client
                            .apps()
                            .statefulSets()
                            .inNamespace(NS)
                            .resource(web("defaults", "nginx:1.25"))
                            .create()
                            .getSpec()
                            .getTemplate()));
    assertThat(templates.get(0)).isEqualTo(templates.get(1));
  }

  @Test
  void anInvalidStatefulSetIsRefusedAlikeWith422() {
    // A refusal no retry changes: Lockstep fails the step at once with the server's own message.
    List<String> refusals =
        both(
            client -> {
              StatefulSet negative = web("negative", "nginx:1.25");
              negative
                  .getSpec()
                  .setUpdateStrategy(
                      new io.fabric8.kubernetes.api.model.apps.StatefulSetUpdateStrategyBuilder()
                          .withType("RollingUpdate")
                          .withNewRollingUpdate()
                          .withPartition(-1)
                          .endRollingUpdate()
                          .build());
              try {
                client.apps().statefulSets().inNamespace(NS).resource(negative).create();
                return "accepted";
              } catch (KubernetesClientException e) {
                return e.getCode() + " " + e.getStatus().getMessage();
              }
            });
    assertThat(refusals.get(0))
        .startsWith("422 ")
        .contains("spec.updateStrategy.rollingUpdate.partition: Invalid value");
    assertThat(refusals.get(0)).isEqualTo(refusals.get(1));
  }

  @Test
  void aDeletedPodIsGoneForWatchersAndReplacedWithANewUid() {
    // Finishing deletes units stuck on a bad revision and waits for their replacement: the old
    // uid must be DELETED for watchers, then a new pod of the same name must come Ready.
    assertThat(
            both(
                client -> {
                  client
                      .apps()
                      .statefulSets()
                      .inNamespace(NS)
                      .resource(web("del", "nginx:1.25"))
                      .create();
                  await()
                      .atMost(60, SECONDS)
                      .until(() -> ready(client.pods().inNamespace(NS).withName("del-1").get()));
                  String uid =
                      client.pods().inNamespace(NS).withName("del-1").get().getMetadata().getUid();
                  List<String> deleted = new CopyOnWriteArrayList<>();
                  Watch watch =
                      client
                          .pods()
                          .inNamespace(NS)
                          .withName("del-1")
                          .watch(
                              new Watcher<>() {
                                @Override
                                public void eventReceived(Action action, Pod pod) {
                                  if (action == Action.DELETED) {
                                    deleted.add(pod.getMetadata().getUid());
                                  }
                                }

                                @Override
                                public void onClose(WatcherException cause) {}
                              });
                  try {
                    client.pods().inNamespace(NS).withName("del-1").delete();
                    await().atMost(60, SECONDS).until(() -> deleted.contains(uid));
                    await()
                        .atMost(60, SECONDS)
                        .until(
                            () -> {
                              Pod pod = client.pods().inNamespace(NS).withName("del-1").get();
                              return ready(pod) && !pod.getMetadata().getUid().equals(uid);
                            });
                  } finally {
                    watch.close();
                  }
                  return "replaced";
                }))
        .containsOnly("replaced");
  }

  @Test
  void aDeleteWithAnotherUidIsRefusedWith409() {
    // Finishing deletes a stuck pod with its uid as precondition: never its replacement.
    List<String> answers =
        both(
            client -> {
              client
                  .configMaps()
                  .inNamespace(NS)
                  .resource(
                      new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                          .withNewMetadata()
                          .withName("precondition")
                          .endMetadata()
                          .build())
                  .create();
              String url =
                  client.getMasterUrl().toString().replaceFirst("/$", "")
                      + "/api/v1/namespaces/"
                      + NS
                      + "/configmaps/precondition";
              try {
                client.raw(
                    url,
                    "DELETE",
                    java.util.Map.of(
                        "apiVersion",
                        "v1",
                        "kind",
                        "DeleteOptions",
                        "preconditions",
                        java.util.Map.of("uid", "not-its-uid")));
                return "deleted";
              } catch (KubernetesClientException e) {
                return e.getCode()
                    + (client.configMaps().inNamespace(NS).withName("precondition").get() != null
                        ? " kept"
                        : " gone");
              }
            });
    assertThat(answers).containsOnly("409 kept");
  }

  @Test
  void aListIsPagedAlike() {
    // The capacity check reads every pod of the cluster 500 at a time.
    List<List<List<String>>> pages =
        both(
            client -> {
              for (String name : List.of("page-c", "page-a", "page-b")) {
                client
                    .configMaps()
                    .inNamespace(NS)
                    .resource(
                        new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                            .withNewMetadata()
                            .withName(name)
                            .addToLabels("paged", "yes")
                            .endMetadata()
                            .build())
                    .create();
              }
              List<List<String>> seen = new java.util.ArrayList<>();
              String next = null;
              do {
                var list =
                    client
                        .configMaps()
                        .inNamespace(NS)
                        .withLabel("paged", "yes")
                        .list(
                            new io.fabric8.kubernetes.api.model.ListOptionsBuilder()
                                .withLimit(2L)
                                .withContinue(next)
                                .build());
                seen.add(list.getItems().stream().map(c -> c.getMetadata().getName()).toList());
                next = list.getMetadata().getContinue();
              } while (next != null && !next.isEmpty());
              return seen;
            });
    assertThat(pages.get(0))
        .isEqualTo(pages.get(1))
        .isEqualTo(List.of(List.of("page-a", "page-b"), List.of("page-c")));
  }

  private static boolean ready(Pod pod) {
    return pod != null
        && pod.getMetadata().getDeletionTimestamp() == null
        && pod.getStatus() != null
        && pod.getStatus().getConditions() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }
}
