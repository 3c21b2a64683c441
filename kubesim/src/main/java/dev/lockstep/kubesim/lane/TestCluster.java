package dev.lockstep.kubesim.lane;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.NANOSECONDS;

import dev.lockstep.kubesim.Behaviours;
import dev.lockstep.kubesim.ClientRequestLog;
import dev.lockstep.kubesim.Kubesim;
import dev.lockstep.kubesim.RequestLog;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The cluster an integration test runs against, in one of two lanes chosen by configuration, not by
 * the test:
 *
 * <ul>
 *   <li><b>kubesim</b> (the default): a fresh {@link Kubesim} per cluster;
 *   <li><b>real</b> ({@code -Dlockstep.lane=real}; or no lane named and a kubeconfig named by
 *       {@code -Dlockstep.kubeconfig} / {@code LOCKSTEP_KUBECONFIG}): that cluster, or else the
 *       v1.20 control plane from the offline kit ({@link ControlPlaneKit}), started once per JVM
 *       and stopped when it exits; with kubesim's hollow nodes playing its nodes (in this JVM, so
 *       their image behaviours are set from Java as kubesim's are). The worker's client there is a
 *       ServiceAccount bound to exactly the RBAC that docs/worker.md publishes ({@link
 *       WorkerRbac}), so a call it lacks fails with the 403.
 * </ul>
 *
 * A test that needs what only kubesim has (fault injection) asks {@link #sim()} and is skipped when
 * it is empty. Where the real lane is asked for but no cluster can be had, {@link #unavailable()}
 * says why in one line.
 */
public final class TestCluster implements AutoCloseable {
  /** The system property that chooses the lane: {@code kubesim} (default) or {@code real}. */
  public static final String LANE = "lockstep.lane";

  /** The system property (or, upper-cased with underscores, environment) naming a kubeconfig. */
  public static final String KUBECONFIG = "lockstep.kubeconfig";

  private static RealCluster shared;
  private static String sharedFailure;
  private static boolean unavailableSaid;

  private final Kubesim sim;
  private final RealCluster real;
  private final KubernetesClient worker;
  private final RequestLog requests;

  private TestCluster(Kubesim sim, RealCluster real, KubernetesClient worker, RequestLog requests) {
    this.sim = sim;
    this.real = real;
    this.worker = worker;
    this.requests = requests;
  }

  /** Whether this JVM's tests run in the real lane. */
  public static boolean realLane() {
    String lane = System.getProperty(LANE, "");
    return lane.equals("real") || (lane.isEmpty() && kubeconfigFile().isPresent());
  }

  /**
   * Why the real lane cannot run here (no kubeconfig named and no kit), printed once per JVM; empty
   * in the kubesim lane or when a cluster can be had.
   */
  public static synchronized Optional<String> unavailable() {
    if (!realLane() || kubeconfigFile().isPresent() || ControlPlaneKit.script().isPresent()) {
      return Optional.empty();
    }
    String reason =
        "real lane skipped: no kubeconfig (-D"
            + KUBECONFIG
            + " or LOCKSTEP_KUBECONFIG) and no control-plane kit"
            + " (LOCKSTEP_K8S_TOOLS, default ../shared/tools/k8s) on this machine";
    if (!unavailableSaid) {
      unavailableSaid = true;
      System.err.println(reason);
    }
    return Optional.of(reason);
  }

  /** The name of the lane, for messages: {@code kubesim} or {@code real}. */
  public String lane() {
    return real == null ? "kubesim" : "real";
  }

  /**
   * A cluster in this JVM's lane whose pods start in {@code podStartup}. In the real lane the
   * cluster is shared by every test of the JVM; each test works in namespaces of its own.
   */
  public static TestCluster start(Duration podStartup) {
    if (!realLane()) {
      Kubesim sim = Kubesim.builder().podStartup(podStartup).start();
      return new TestCluster(sim, null, sim.client(), sim.requestLog());
    }
    RealCluster lane = sharedRealLane();
    lane.nodes().orElseThrow().behaviours().clear().podStartup(podStartup);
    ClientRequestLog log = new ClientRequestLog(100_000);
    KubernetesClient worker =
        new KubernetesClientBuilder()
            .withConfig(lane.workerConfig())
            .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("request-log", log))
            .build();
    return new TestCluster(null, lane, worker, log.log());
  }

  private static synchronized RealCluster sharedRealLane() {
    if (sharedFailure != null) {
      throw new IllegalStateException("the real lane did not start: " + sharedFailure);
    }
    if (shared == null) {
      try {
        long begin = System.nanoTime();
        Optional<Path> named = kubeconfigFile();
        shared =
            RealCluster.start(
                named,
                named.isPresent() ? null : ControlPlaneKit.script().orElseThrow(),
                Path.of("target"),
                3,
                Duration.ofSeconds(1));
        System.err.printf(
            "real lane: %s with %d hollow nodes, ready in %d ms%n",
            named
                .map(p -> "cluster of " + p)
                .orElse("v1.20 control plane from the kit at " + shared.url()),
            shared.nodes().orElseThrow().nodeNames().size(),
            MILLISECONDS.convert(System.nanoTime() - begin, NANOSECONDS));
      } catch (RuntimeException e) {
        sharedFailure = e.getMessage();
        throw e;
      }
      Runtime.getRuntime().addShutdownHook(new Thread(shared::close, "real-lane-stop"));
    }
    return shared;
  }

  /** The kubesim behind this cluster, in the kubesim lane: for what only kubesim can do. */
  public Optional<Kubesim> sim() {
    return Optional.ofNullable(sim);
  }

  /** A client with every right, for the test's own setup and assertions. */
  public KubernetesClient admin() {
    return sim != null ? sim.client() : real.admin();
  }

  /**
   * The client the worker under test uses: in the real lane, the ServiceAccount bound to
   * docs/worker.md's RBAC, with fabric8's retries off as the worker has them.
   */
  public KubernetesClient worker() {
    return worker;
  }

  /**
   * The worker's kubeconfig (kubesim's, or the ServiceAccount's token kubeconfig), for a worker in
   * another process.
   */
  public String workerKubeconfig() {
    return sim != null ? sim.kubeconfig() : real.workerKubeconfig();
  }

  /**
   * Requests sent to the API server: kubesim's own log (every client) in the kubesim lane, the
   * worker client's requests in the real lane.
   */
  public RequestLog requests() {
    return requests;
  }

  /** Image behaviours of the nodes (kubesim's, or the hollow nodes'). */
  public Behaviours behaviours() {
    return sim != null ? sim.behaviours() : real.nodes().orElseThrow().behaviours();
  }

  /**
   * Creates a namespace the worker may work in: in the real lane, once its default ServiceAccount
   * exists (pods are refused before) and with docs/worker.md's Role bound to the worker there.
   */
  public void createNamespace(String name) {
    admin()
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
    if (real != null) {
      real.prepareNamespace(name);
    }
  }

  /** Closes this test's clients; a kubesim is stopped, the shared real lane stays up. */
  @Override
  public void close() {
    if (sim != null) {
      sim.close();
    } else {
      worker.close();
      real.nodes().orElseThrow().behaviours().clear();
    }
  }

  private static Optional<Path> kubeconfigFile() {
    String named = System.getProperty(KUBECONFIG);
    if (named == null || named.isBlank()) {
      named = System.getenv("LOCKSTEP_KUBECONFIG");
    }
    return named == null || named.isBlank() ? Optional.empty() : Optional.of(Path.of(named));
  }
}
