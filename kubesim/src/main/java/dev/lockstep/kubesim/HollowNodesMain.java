package dev.lockstep.kubesim;

import io.fabric8.kubernetes.client.Config;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * {@code java -jar kubesim.jar nodes --kubeconfig FILE [--nodes 3] [--name-prefix hollow-node]
 * [--pod-startup 1s] [--node-cpu 4] [--node-memory 16Gi] [--gateway-port 0]}: plays the nodes of
 * the cluster FILE points at until stopped, printing {@code ready} once they are Ready and
 * schedulable.
 */
final class HollowNodesMain {
  private HollowNodesMain() {}

  static void main(String[] args) throws Exception {
    HollowNodes.Builder builder;
    Config config;
    try {
      Map<String, String> options = new LinkedHashMap<>();
      for (int i = 0; i < args.length; i++) {
        if (args[i].equals("--help") || args[i].equals("-h")) {
          System.out.println(usage());
          return;
        }
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(args[i] + " needs a value");
        }
        options.put(args[i], args[++i]);
      }
      String kubeconfig = options.remove("--kubeconfig");
      if (kubeconfig == null) {
        throw new IllegalArgumentException("--kubeconfig is required");
      }
      config = Config.fromKubeconfig(read(Path.of(kubeconfig)));
      builder = HollowNodes.builder(config);
      for (Map.Entry<String, String> option : options.entrySet()) {
        String value = option.getValue();
        switch (option.getKey()) {
          case "--nodes" -> builder.nodes(Integer.parseInt(value));
          case "--name-prefix" -> builder.namePrefix(value);
          case "--pod-startup" -> builder.podStartup(ImageBehaviour.parseDuration(value));
          case "--node-cpu" -> builder.nodeCpu(value);
          case "--node-memory" -> builder.nodeMemory(value);
          case "--gateway-port" -> builder.gatewayPort(Integer.parseInt(value));
          default -> throw new IllegalArgumentException("unknown option " + option.getKey());
        }
      }
    } catch (IllegalArgumentException e) {
      System.err.println("kubesim: " + e.getMessage() + "\n" + usage());
      System.exit(2);
      return;
    }
    HollowNodes nodes;
    try {
      nodes = builder.start();
    } catch (RuntimeException e) {
      System.err.println("kubesim: " + e.getMessage());
      System.exit(1);
      return;
    }
    System.out.println(
        "nodes " + String.join(" ", nodes.nodeNames()) + " of " + config.getMasterUrl());
    System.out.println(
        "gateway http://127.0.0.1:"
            + nodes.gatewayPort()
            + " (start the API server with HTTP_PROXY and HTTPS_PROXY=http://127.0.0.1:"
            + nodes.gatewayPort()
            + " and NO_PROXY=127.0.0.1,localhost for its pod proxy and pod logs to reach the"
            + " nodes)");
    System.out.println("ready");
    System.out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  nodes.close();
                  stopped.countDown();
                }));
    stopped.await();
  }

  private static String read(Path kubeconfig) {
    try {
      return Files.readString(kubeconfig);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + kubeconfig + ": " + e.getMessage());
    }
  }

  static String usage() {
    return "usage: java -jar kubesim.jar nodes --kubeconfig FILE [--nodes 3]"
        + " [--name-prefix hollow-node] [--pod-startup 1s] [--node-cpu 4] [--node-memory 16Gi]"
        + " [--gateway-port 0]";
  }
}
