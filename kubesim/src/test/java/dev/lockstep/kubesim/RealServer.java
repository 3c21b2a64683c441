package dev.lockstep.kubesim;

import dev.lockstep.kubesim.lane.ControlPlaneKit;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.time.Duration;

/**
 * The kit's real v1.20 control plane with two hollow nodes and an admin client, for the conformance
 * tests that run one scenario on kubesim and on a real server; closed in reverse order.
 */
final class RealServer implements AutoCloseable {
  private final ControlPlaneKit plane;
  private final HollowNodes nodes;
  final KubernetesClient client;

  private RealServer(ControlPlaneKit plane, HollowNodes nodes, KubernetesClient client) {
    this.plane = plane;
    this.nodes = nodes;
    this.client = client;
  }

  static RealServer start() {
    int gatewayPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      gatewayPort = socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    ControlPlaneKit plane =
        ControlPlaneKit.start(ControlPlaneKit.script().orElseThrow(), gatewayPort);
    try {
      Config config = Config.fromKubeconfig(plane.kubeconfig());
      HollowNodes nodes =
          HollowNodes.builder(config)
              .nodes(2)
              .podStartup(Duration.ofMillis(300))
              .gatewayPort(gatewayPort)
              .start();
      return new RealServer(plane, nodes, new KubernetesClientBuilder().withConfig(config).build());
    } catch (RuntimeException e) {
      plane.close();
      throw e;
    }
  }

  @Override
  public void close() {
    try (plane;
        nodes;
        client) {
      // each closed, the client first
    }
  }
}
