package dev.lockstep.kubesim.lane;

import dev.lockstep.kubesim.HollowNodes;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A real Kubernetes cluster made ready for Lockstep's worker: a user's (its kubeconfig) or the
 * v1.20 control plane of the offline kit ({@link ControlPlaneKit}, started here and stopped by
 * {@link #close()}), with kubesim's hollow nodes playing its nodes when asked, a volume provisioner
 * (the kit has none), and the worker's identity: a ServiceAccount bound to exactly docs/worker.md's
 * RBAC ({@link WorkerRbac}). Shared by the tests' real lane ({@link TestCluster}) and {@code
 * lockstep dev --control-plane / --cluster-kubeconfig}.
 */
public final class RealCluster implements AutoCloseable {
  private final ControlPlaneKit plane;
  private final HollowNodes nodes;
  private final KubernetesClient admin;
  private final Path adminKubeconfig;
  private final WorkerRbac rbac;
  private final String workerKubeconfig;
  private final ClaimProvisioner provisioner;

  private RealCluster(
      ControlPlaneKit plane, HollowNodes nodes, KubernetesClient admin, Path adminKubeconfig) {
    this.plane = plane;
    this.nodes = nodes;
    this.admin = admin;
    this.adminKubeconfig = adminKubeconfig;
    this.rbac = new WorkerRbac(admin);
    this.workerKubeconfig = rbac.install();
    this.provisioner = new ClaimProvisioner(admin);
  }

  /**
   * The cluster of {@code kubeconfig}, or (when empty) a control plane from the kit's {@code
   * script} with its state under {@code stateRoot}; with {@code hollowNodes} hollow nodes (0: none,
   * for a cluster with nodes of its own) whose pods start in {@code podStartup}.
   */
  public static RealCluster start(
      Optional<Path> kubeconfig,
      Path script,
      Path stateRoot,
      int hollowNodes,
      Duration podStartup) {
    ControlPlaneKit plane = null;
    HollowNodes nodes = null;
    try {
      int gatewayPort = freePort();
      String text;
      Path adminFile;
      if (kubeconfig.isPresent()) {
        adminFile = kubeconfig.get().toAbsolutePath();
        text = Files.readString(adminFile);
      } else {
        plane = ControlPlaneKit.start(script, gatewayPort, stateRoot);
        adminFile = plane.kubeconfigFile();
        text = plane.kubeconfig();
      }
      Config config = Config.fromKubeconfig(text);
      if (hollowNodes > 0) {
        nodes =
            HollowNodes.builder(config)
                .nodes(hollowNodes)
                .podStartup(podStartup)
                .gatewayPort(gatewayPort)
                .start();
      }
      KubernetesClient admin =
          new KubernetesClientBuilder()
              .withConfig(new ConfigBuilder(config).withRequestRetryBackoffLimit(0).build())
              .build();
      try {
        return new RealCluster(plane, nodes, admin, adminFile);
      } catch (RuntimeException | Error e) {
        admin.close();
        throw e;
      }
    } catch (IOException e) {
      close(nodes, plane);
      throw new UncheckedIOException(e);
    } catch (RuntimeException | Error e) {
      close(nodes, plane);
      throw e;
    }
  }

  /** A client with every right (the kubeconfig's identity), for setup and assertions. */
  public KubernetesClient admin() {
    return admin;
  }

  /** The admin kubeconfig: the user's file, or the kit's {@code admin.kubeconfig}. */
  public Path adminKubeconfig() {
    return adminKubeconfig;
  }

  /** The API server's URL. */
  public String url() {
    return admin.getConfiguration().getMasterUrl();
  }

  /** Whether the control plane was started here (from the kit). */
  public boolean startedHere() {
    return plane != null;
  }

  /** The hollow nodes, when there are any. */
  public Optional<HollowNodes> nodes() {
    return Optional.ofNullable(nodes);
  }

  /** A kubeconfig that authenticates as the worker's ServiceAccount, with its token. */
  public String workerKubeconfig() {
    return workerKubeconfig;
  }

  /** The worker's client settings: its ServiceAccount, fabric8's retries off as the worker has. */
  public Config workerConfig() {
    return new ConfigBuilder(Config.fromKubeconfig(workerKubeconfig))
        .withRequestRetryBackoffLimit(0)
        .withConnectionTimeout(10_000)
        .withRequestTimeout(30_000)
        .build();
  }

  /**
   * Makes an existing namespace one the worker may work in: docs/worker.md's Role bound to the
   * worker there, and (where the server needs it, as 1.20 does) its default ServiceAccount's token
   * there, without which its pods are refused.
   */
  public void prepareNamespace(String namespace) {
    prepare(admin, rbac, namespace);
  }

  /**
   * {@link #prepareNamespace} on a real cluster that another process set up (e.g. {@code lockstep
   * dev --control-plane}), with that cluster's {@code admin} client.
   */
  public static void prepareNamespace(KubernetesClient admin, String namespace) {
    prepare(admin, new WorkerRbac(admin), namespace);
  }

  private static void prepare(KubernetesClient admin, WorkerRbac rbac, String namespace) {
    rbac.bind(namespace);
    // Asked here, not in the condition: that runs on the client's event loop, which must not block.
    boolean tokenSecrets = WorkerRbac.tokenSecrets(admin);
    admin
        .serviceAccounts()
        .inNamespace(namespace)
        .withName("default")
        .waitUntilCondition(
            sa ->
                sa != null
                    && (!tokenSecrets || (sa.getSecrets() != null && !sa.getSecrets().isEmpty())),
            30,
            TimeUnit.SECONDS);
  }

  /** Stops the hollow nodes and the control plane started here; a user's cluster stays. */
  @Override
  public void close() {
    provisioner.close();
    admin.close();
    close(nodes, plane);
  }

  private static void close(HollowNodes nodes, ControlPlaneKit plane) {
    if (nodes != null) {
      nodes.close();
    }
    if (plane != null) {
      plane.close();
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
