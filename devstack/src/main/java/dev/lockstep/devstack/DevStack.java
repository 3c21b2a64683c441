package dev.lockstep.devstack;

import dev.lockstep.activities.helm.ChartRenderer;
import dev.lockstep.activities.helm.HelmCalls;
import dev.lockstep.activities.helm.HelmInstall;
import dev.lockstep.kubesim.Kubesim;
import dev.lockstep.worker.WorkerRuntime;
import dev.lockstep.worker.WorkerSettings;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.testserver.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The embedded stack: the Temporal test server bound to a loopback port (a real gRPC server that
 * workers and the CLI use as they would a Temporal cluster), kubesim with a kubeconfig on disk, the
 * example workloads in namespace {@code demo}, and (unless told not to) a worker.
 */
public final class DevStack implements AutoCloseable {
  /** Namespace of the seeded example workloads. */
  public static final String DEMO_NAMESPACE = "demo";

  /**
   * Namespace of the seeded Helm release: not {@link #DEMO_NAMESPACE}, where the plain StatefulSet
   * {@code ghostwire} is seeded, because the chart names its objects after the release and selects
   * its pods by {@code app.kubernetes.io/name: ghostwire}, as that StatefulSet does.
   */
  public static final String HELM_NAMESPACE = "demo-helm";

  /** The seeded Helm release, installed at the example chart's first version. */
  public static final String HELM_RELEASE = "ghostwire";

  /** Where the example chart is in the jar (devstack/pom.xml copies it there). */
  static final String HELM_CHART = "/charts/ghostwire/0.2.0";

  /** Settings of a stack. Port 0 picks a free one. */
  public record Settings(
      int temporalPort,
      int kubePort,
      Duration podStartup,
      boolean seed,
      boolean worker,
      Path kubeconfig) {}

  private final TestServer.PortBoundTestServer temporal;
  private final Kubesim sim;
  private final WorkerRuntime worker;
  private final int temporalPort;
  private final Path kubeconfig;

  private DevStack(
      TestServer.PortBoundTestServer temporal,
      int temporalPort,
      Kubesim sim,
      Path kubeconfig,
      WorkerRuntime worker) {
    this.temporal = temporal;
    this.temporalPort = temporalPort;
    this.sim = sim;
    this.kubeconfig = kubeconfig;
    this.worker = worker;
  }

  public static DevStack start(Settings settings) throws IOException {
    int temporalPort = settings.temporalPort() == 0 ? freePort() : settings.temporalPort();
    TestServer.PortBoundTestServer temporal;
    try {
      // true locks time skipping: a gate must wait in real time, not jump ten years ahead.
      temporal = TestServer.createPortBoundServer(temporalPort, true);
    } catch (RuntimeException e) {
      throw new IOException(
          "cannot start Temporal on port " + temporalPort + " (in use? pick --temporal-port)", e);
    }
    Kubesim sim;
    try {
      sim = Kubesim.builder().port(settings.kubePort()).podStartup(settings.podStartup()).start();
    } catch (RuntimeException e) {
      temporal.close();
      throw new IOException(
          "cannot start kubesim on port " + settings.kubePort() + " (in use? pick --kube-port)", e);
    }
    sim.writeKubeconfig(settings.kubeconfig());
    if (settings.seed()) {
      seed(sim.client());
    }
    WorkerRuntime worker = null;
    if (settings.worker()) {
      try {
        worker =
            WorkerRuntime.start(
                new WorkerSettings(
                    "default",
                    "localhost:" + temporalPort,
                    "default",
                    settings.kubeconfig().toString(),
                    null,
                    "off",
                    Duration.ofSeconds(5)));
      } catch (RuntimeException e) {
        sim.close();
        temporal.close();
        throw e;
      }
    }
    return new DevStack(temporal, temporalPort, sim, settings.kubeconfig(), worker);
  }

  /** The example workloads: what the demo and a newcomer's first upgrades act on. */
  static void seed(KubernetesClient client) {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(DEMO_NAMESPACE).endMetadata().build())
        .create();
    create(client, statefulSet("postgresql", 3, "postgres:14.8", 5432, null));
    create(client, statefulSet("discourse", 2, "discourse/discourse:3.2.1", 3000, null));
    create(client, statefulSet("ghostwire", 1, "ghcr.io/example/ghostwire:1.4.0", 8080, "data"));
    client.apps().deployments().inNamespace(DEMO_NAMESPACE).resource(aeterna()).create();
    client.services().inNamespace(DEMO_NAMESPACE).resource(service("aeterna", "http")).create();
    seedRelease(client);
  }

  /**
   * {@code helm install ghostwire examples/charts/ghostwire/0.2.0 -n demo-helm}, as Helm would
   * leave it (Helm renders it in process; its objects and its release Secret v1 {@code deployed}),
   * without a Helm client or a real control plane: {@code lockstep plan demo-helm/helm/ghostwire
   * --chart examples/charts/ghostwire} has a release to plan.
   */
  static void seedRelease(KubernetesClient client) {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(HELM_NAMESPACE).endMetadata().build())
        .create();
    Path chart = null;
    try {
      chart = Files.createTempDirectory("lockstep-dev-chart-");
      copyChart(chart);
      HelmInstall.install(
          client,
          new ChartRenderer(HelmCalls.DEFAULT_TIMEOUT),
          chart,
          HELM_RELEASE,
          HELM_NAMESPACE,
          Map.of(),
          Instant.now());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot unpack the example chart: " + e.getMessage(), e);
    } finally {
      if (chart != null) {
        try (Stream<Path> files = Files.walk(chart)) {
          files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
          // A temporary directory left behind is harmless.
        }
      }
    }
  }

  /** The example chart's files, from the jar (or the classes directory), under {@code dir}. */
  private static void copyChart(Path dir) throws IOException {
    URL chartYaml = DevStack.class.getResource(HELM_CHART + "/Chart.yaml");
    if (chartYaml == null) {
      throw new IOException(HELM_CHART + " is not in the dev stack's jar");
    }
    URI uri;
    try {
      uri = chartYaml.toURI();
    } catch (URISyntaxException e) {
      throw new IOException(e);
    }
    FileSystem jar = null;
    try {
      Path root;
      if (uri.getScheme().equals("jar")) {
        try {
          jar = FileSystems.newFileSystem(uri, Map.of());
        } catch (FileSystemAlreadyExistsException e) {
          // Someone else's view of the same jar: use it, and leave it open.
        }
        root = (jar != null ? jar : FileSystems.getFileSystem(uri)).provider().getPath(uri);
      } else {
        root = Path.of(uri);
      }
      Path source = root.getParent();
      try (Stream<Path> files = Files.walk(source)) {
        for (Path file : files.filter(Files::isRegularFile).toList()) {
          Path target = dir.resolve(source.relativize(file).toString());
          Files.createDirectories(target.getParent());
          Files.copy(file, target);
        }
      }
    } finally {
      if (jar != null) {
        jar.close();
      }
    }
  }

  /**
   * The Deployment of the Aeterna procedure: 4 replicas of aeterna:1.4.0 whose readiness is checked
   * on its {@code http} port (8080, {@code /healthz}), behind the Service {@code aeterna}.
   */
  static Deployment aeterna() {
    String name = "aeterna";
    return new DeploymentBuilder()
        .withNewMetadata()
        .withName(name)
        .addToLabels("app.kubernetes.io/name", name)
        .endMetadata()
        .withNewSpec()
        .withReplicas(4)
        .withNewSelector()
        .addToMatchLabels("app.kubernetes.io/name", name)
        .endSelector()
        .withNewTemplate()
        .withNewMetadata()
        .addToLabels("app.kubernetes.io/name", name)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName(name)
        .withImage("aeterna:1.4.0")
        .addNewPort()
        .withName("http")
        .withContainerPort(8080)
        .endPort()
        .withNewReadinessProbe()
        .withNewHttpGet()
        .withPath("/healthz")
        .withPort(new IntOrString("http"))
        .endHttpGet()
        .endReadinessProbe()
        .withNewResources()
        .addToRequests("cpu", new Quantity("100m"))
        .addToRequests("memory", new Quantity("128Mi"))
        .endResources()
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  /** A Service selecting the workload {@code name}, port 80 to the pods' named port. */
  static Service service(String name, String targetPort) {
    return new ServiceBuilder()
        .withNewMetadata()
        .withName(name)
        .addToLabels("app.kubernetes.io/name", name)
        .endMetadata()
        .withNewSpec()
        .addToSelector("app.kubernetes.io/name", name)
        .addNewPort()
        .withName("http")
        .withPort(80)
        .withTargetPort(new IntOrString(targetPort))
        .endPort()
        .endSpec()
        .build();
  }

  private static void create(KubernetesClient client, StatefulSet sts) {
    client.apps().statefulSets().inNamespace(DEMO_NAMESPACE).resource(sts).create();
  }

  static StatefulSet statefulSet(String name, int replicas, String image, int port, String claim) {
    StatefulSetBuilder builder =
        new StatefulSetBuilder()
            .withNewMetadata()
            .withName(name)
            .addToLabels("app.kubernetes.io/name", name)
            .endMetadata()
            .withNewSpec()
            .withReplicas(replicas)
            .withServiceName(name)
            .withNewSelector()
            .addToMatchLabels("app.kubernetes.io/name", name)
            .endSelector()
            .withNewTemplate()
            .withNewMetadata()
            .addToLabels("app.kubernetes.io/name", name)
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName(name)
            .withImage(image)
            .addNewPort()
            .withContainerPort(port)
            .endPort()
            .withNewResources()
            .addToRequests("cpu", new Quantity("250m"))
            .addToRequests("memory", new Quantity("256Mi"))
            .endResources()
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec();
    if (claim != null) {
      builder
          .editSpec()
          .addNewVolumeClaimTemplate()
          .withNewMetadata()
          .withName(claim)
          .endMetadata()
          .withNewSpec()
          .withAccessModes("ReadWriteOnce")
          .withNewResources()
          .addToRequests("storage", new Quantity("1Gi"))
          .endResources()
          .endSpec()
          .endVolumeClaimTemplate()
          .editTemplate()
          .editSpec()
          .editFirstContainer()
          .addNewVolumeMount()
          .withName(claim)
          .withMountPath("/var/lib/" + name)
          .endVolumeMount()
          .endContainer()
          .endSpec()
          .endTemplate()
          .endSpec();
    }
    return builder.build();
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  public String temporalAddress() {
    return "localhost:" + temporalPort;
  }

  public Path kubeconfig() {
    return kubeconfig;
  }

  public Kubesim kubesim() {
    return sim;
  }

  @Override
  public void close() {
    if (worker != null) {
      worker.close();
    }
    sim.close();
    temporal.close();
  }
}
