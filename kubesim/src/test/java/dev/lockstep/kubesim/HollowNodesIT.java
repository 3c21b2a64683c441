package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.lockstep.kubesim.lane.ControlPlaneKit;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * kubesim's nodes as hollow nodes of a real Kubernetes v1.20.2 control plane (from {@code
 * ../shared/tools/k8s}; skipped where that is absent): the real scheduler, StatefulSet controller
 * and pod proxy work with pods that only kubesim's kubelet runs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@EnabledIf(
    value = "dev.lockstep.kubesim.lane.ControlPlaneKit#available",
    disabledReason = "no real control plane here (../shared/tools/k8s/control-plane not found)")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HollowNodesIT {
  private static final String NS = "default";

  private ControlPlaneKit plane;
  private HollowNodes nodes;
  private KubernetesClient client;

  @BeforeAll
  void startControlPlaneAndNodes() throws Exception {
    Optional<Path> script = ControlPlaneKit.script();
    int gatewayPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      gatewayPort = socket.getLocalPort();
    }
    plane = ControlPlaneKit.start(script.orElseThrow(), gatewayPort);
    Config config = Config.fromKubeconfig(plane.kubeconfig());
    nodes =
        HollowNodes.builder(config)
            .nodes(3)
            .podStartup(Duration.ofMillis(300))
            .gatewayPort(gatewayPort)
            .start();
    Config testConfig = Config.fromKubeconfig(plane.kubeconfig());
    // fabric8 would retry a 5xx answer, and the answers are what the tests look at.
    testConfig.setRequestRetryBackoffLimit(0);
    client = new KubernetesClientBuilder().withConfig(testConfig).build();
    // Behaviours steered from the real server, as a user would steer a running kubesim.
    client
        .configMaps()
        .inNamespace("kube-system")
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(Behaviours.CONFIG_MAP)
                .endMetadata()
                .addToData("rules", "registry.local/sick:*  unhealthy\n")
                .build())
        .create();
  }

  @AfterAll
  void stopEverything() {
    if (client != null) {
      client.close();
    }
    if (nodes != null) {
      nodes.close();
    }
    if (plane != null) {
      plane.close();
    }
  }

  @Test
  @Order(1)
  void hollowNodesAreRegisteredReadyAndSchedulable() {
    List<Node> registered =
        client.nodes().withLabel("kubesim.lockstep.dev/hollow").list().getItems();
    assertThat(registered)
        .extracting(n -> n.getMetadata().getName())
        .containsExactlyInAnyOrder("hollow-node-1", "hollow-node-2", "hollow-node-3");
    assertThat(registered)
        .allSatisfy(
            n -> {
              assertThat(n.getStatus().getConditions())
                  .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
              assertThat(Optional.ofNullable(n.getSpec().getTaints()).orElse(List.of()))
                  .noneMatch(t -> t.getKey().startsWith("node.kubernetes.io/"));
              assertThat(n.getStatus().getAllocatable().get("cpu").toString()).isEqualTo("4");
            });
    assertThat(client.leases().inNamespace("kube-node-lease").list().getItems())
        .extracting(l -> l.getSpec().getHolderIdentity())
        .contains("hollow-node-1", "hollow-node-2", "hollow-node-3");
  }

  @Test
  @Order(2)
  void aPartitionedUpdateMovesOnlyOrdinalsAtOrAboveThePartitionHighestFirstEachAfterTheLastIsReady()
      throws Exception {
    client
        .apps()
        .statefulSets()
        .inNamespace(NS)
        .resource(Workloads.statefulSet("web", 3, "registry.local/web:1"))
        .create();
    await().atMost(60, SECONDS).until(() -> readyReplicas("web") == 3);
    String oldRevision = Workloads.revision(Workloads.pods(client, NS, "web").get(0));

    // What happened to pods on the new revision, in order: "created web-2", "ready web-2", ...
    List<String> story = Collections.synchronizedList(new ArrayList<>());
    try (Watch watch =
        client.pods().inNamespace(NS).withLabel("app", "web").watch(storyOf(story, oldRevision))) {
      client
          .apps()
          .statefulSets()
          .inNamespace(NS)
          .withName("web")
          .edit(
              s -> {
                s.getSpec().getUpdateStrategy().getRollingUpdate().setPartition(1);
                s.getSpec()
                    .getTemplate()
                    .getSpec()
                    .getContainers()
                    .get(0)
                    .setImage("registry.local/web:2");
                return s;
              });
      await()
          .atMost(60, SECONDS)
          .until(
              () -> {
                StatefulSet s = client.apps().statefulSets().inNamespace(NS).withName("web").get();
                return s.getStatus().getUpdatedReplicas() != null
                    && s.getStatus().getUpdatedReplicas() == 2
                    && readyReplicas("web") == 3;
              });
      await().atMost(10, SECONDS).until(() -> story.contains("ready web-1"));
    }
    assertThat(story.stream().filter(e -> e.startsWith("created")).distinct())
        .containsExactly("created web-2", "created web-1");
    assertThat(story.indexOf("ready web-2")).isLessThan(story.indexOf("created web-1"));
    assertThat(Workloads.revisions(client, NS, "web").get("web-0")).isEqualTo(oldRevision);
  }

  @Test
  @Order(3)
  void aBrokenImageCrashLoopsWithAClimbingRestartCount() {
    client.pods().inNamespace(NS).resource(pod("broken", "registry.local/app:1-broken")).create();
    await()
        .atMost(30, SECONDS)
        .until(
            () -> {
              ContainerStatus c = containerStatus("broken");
              return c != null
                  && c.getRestartCount() >= 3
                  && !c.getReady()
                  && c.getState().getWaiting() != null
                  && "CrashLoopBackOff".equals(c.getState().getWaiting().getReason());
            });
    Pod pod = client.pods().inNamespace(NS).withName("broken").get();
    assertThat(pod.getStatus().getPhase()).isEqualTo("Running");
    assertThat(pod.getStatus().getConditions())
        .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("False"));
  }

  @Test
  @Order(4)
  void thePodProxyOfTheRealApiServerReachesHollowPods() throws Exception {
    client.pods().inNamespace(NS).resource(pod("healthy", "registry.local/api:1")).create();
    client.pods().inNamespace(NS).resource(pod("sick", "registry.local/sick:1")).create();
    await()
        .atMost(30, SECONDS)
        .until(
            () ->
                Workloads.ready(client.pods().inNamespace(NS).withName("healthy").get())
                    && Workloads.ready(client.pods().inNamespace(NS).withName("sick").get()));

    HttpResponse<String> healthy = proxyGet("healthy:8080", "/healthz");
    assertThat(healthy.code()).isEqualTo(200);
    assertThat(healthy.body()).isEqualTo("ok\n");
    // Without a port, the API server picks the first declared one.
    assertThat(proxyGet("healthy", "/").code()).isEqualTo(200);
    assertThat(proxyGet("sick:8080", "/healthz").code()).isEqualTo(503);
    // Nothing listens on an undeclared port: the API server cannot reach it.
    HttpResponse<String> undeclared = proxyGet("healthy:9999", "/healthz");
    assertThat(undeclared.code()).isEqualTo(500);
    assertThat(undeclared.body()).contains("error trying to reach service");
  }

  @Test
  @Order(5)
  void deletingAPodCompletesOnceItsNodeHasStoppedIt() {
    client.pods().inNamespace(NS).resource(pod("doomed", "registry.local/api:1")).create();
    await()
        .atMost(30, SECONDS)
        .until(() -> Workloads.ready(client.pods().inNamespace(NS).withName("doomed").get()));
    // The default grace period is 30 s: only the node finishing the deletion makes it quick.
    client.pods().inNamespace(NS).withName("doomed").delete();
    await()
        .atMost(10, SECONDS)
        .until(() -> client.pods().inNamespace(NS).withName("doomed").get() == null);
  }

  @Test
  @Order(6)
  void theNodesCommandRegistersNodesAndSaysReady() throws Exception {
    Process cli =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                Path.of("target", "kubesim.jar").toString(),
                "nodes",
                "--kubeconfig",
                plane.kubeconfigFile().toString(),
                "--nodes",
                "1",
                "--name-prefix",
                "cli-node")
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(cli.getInputStream(), StandardCharsets.UTF_8));
      List<String> lines = Collections.synchronizedList(new ArrayList<>());
      CompletableFuture.runAsync(
              () -> {
                try {
                  for (String line = out.readLine(); line != null; line = out.readLine()) {
                    lines.add(line);
                    if (line.equals("ready")) {
                      return;
                    }
                  }
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              })
          .get(60, SECONDS);
      assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("nodes cli-node-1 of https://"));
      Node node = client.nodes().withName("cli-node-1").get();
      assertThat(node.getStatus().getConditions())
          .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
    } finally {
      cli.destroy();
      cli.waitFor(30, SECONDS);
      // Its pods would wait for a node that is gone; the Node goes with the process.
      client.nodes().withName("cli-node-1").delete();
    }
  }

  @Test
  @Order(7)
  void podLogsAreReadThroughTheRealApiServerFromTheHollowNodesKubeletApi() {
    assertThat(client.nodes().withName("hollow-node-1").get().getStatus().getDaemonEndpoints())
        .satisfies(d -> assertThat(d.getKubeletEndpoint().getPort()).isPositive());
    Pod job = pod("failed-job", "registry.local/backup:1-broken");
    job.getSpec().setRestartPolicy("Never");
    client.pods().inNamespace(NS).resource(job).create();
    client.pods().inNamespace(NS).resource(pod("looping", "registry.local/app:2-broken")).create();
    await()
        .atMost(30, SECONDS)
        .until(
            () ->
                "Failed"
                        .equals(
                            client
                                .pods()
                                .inNamespace(NS)
                                .withName("failed-job")
                                .get()
                                .getStatus()
                                .getPhase())
                    && containerStatus("looping") != null
                    && containerStatus("looping").getRestartCount() >= 2);

    // What a failed hook's message carries: the tail of its pod's log.
    assertThat(client.pods().inNamespace(NS).withName("failed-job").tailingLines(5).getLog())
        .matches(
            "\\S+ \\[kubesim\\] app: starting image registry.local/backup:1-broken\n"
                + "\\S+ \\[kubesim\\] app: exited with code 1\n");
    assertThat(client.pods().inNamespace(NS).withName("failed-job").tailingLines(1).getLog())
        .endsWith(" [kubesim] app: exited with code 1\n");
    var looping = client.pods().inNamespace(NS).withName("looping");
    String[] tail = looping.tailingLines(2).getLog().split("\n");
    assertThat(tail)
        .hasSize(2)
        .allSatisfy(
            l ->
                assertThat(l)
                    .endsWith("app: exited with code 1 (kubesim: this image is set to crash)"));
    assertThat(looping.getLog().split("\n")).hasSizeGreaterThanOrEqualTo(2);
    assertThat(looping.inContainer("app").limitBytes(10).getLog()).hasSize(10);
    assertThat(looping.usingTimestamps().tailingLines(1).getLog())
        .matches("(\\S+) \\1 \\[kubesim\\] app: exited .*\n");
    assertThat(looping.terminated().tailingLines(1).getLog())
        .endsWith("app: exited with code 1 (kubesim: this image is set to crash)\n");
    // A container that never exited has no previous log: the kubelet's 400, relayed.
    client.pods().inNamespace(NS).resource(pod("steady", "registry.local/app:3")).create();
    await()
        .atMost(30, SECONDS)
        .until(() -> Workloads.ready(client.pods().inNamespace(NS).withName("steady").get()));
    assertThat(client.pods().inNamespace(NS).withName("steady").getLog()).endsWith("app: ready\n");
    assertThatThrownBy(() -> client.pods().inNamespace(NS).withName("steady").terminated().getLog())
        .hasMessageContaining("previous terminated container \"app\" in pod \"steady\" not found");
  }

  private int readyReplicas(String name) {
    StatefulSet s = client.apps().statefulSets().inNamespace(NS).withName(name).get();
    Integer ready = s == null || s.getStatus() == null ? null : s.getStatus().getReadyReplicas();
    return ready == null ? 0 : ready;
  }

  private ContainerStatus containerStatus(String pod) {
    Pod p = client.pods().inNamespace(NS).withName(pod).get();
    return p == null || p.getStatus() == null || p.getStatus().getContainerStatuses().isEmpty()
        ? null
        : p.getStatus().getContainerStatuses().get(0);
  }

  private HttpResponse<String> proxyGet(String podId, String path) throws Exception {
    String url =
        client.getMasterUrl().toString().replaceFirst("/$", "")
            + "/api/v1/namespaces/"
            + NS
            + "/pods/"
            + podId
            + "/proxy"
            + path;
    return client
        .getHttpClient()
        .sendAsync(client.getHttpClient().newHttpRequestBuilder().uri(url).build(), String.class)
        .get(30, SECONDS);
  }

  private static Pod pod(String name, String image) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .addToLabels("test", "hollow")
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(image)
        .addNewPort()
        .withContainerPort(8080)
        .endPort()
        .endContainer()
        .endSpec()
        .build();
  }

  private static Watcher<Pod> storyOf(List<String> story, String oldRevision) {
    return new Watcher<>() {
      private final Map<String, Boolean> ready = new java.util.concurrent.ConcurrentHashMap<>();

      @Override
      public void eventReceived(Action action, Pod pod) {
        if (oldRevision.equals(Workloads.revision(pod))) {
          return;
        }
        String name = pod.getMetadata().getName();
        if (action == Action.ADDED) {
          story.add("created " + name);
        }
        if (action != Action.DELETED
            && Workloads.ready(pod)
            && ready.put(pod.getMetadata().getUid(), true) == null) {
          story.add("ready " + name);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }
}
