package dev.lockstep.kubesim;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * {@code java -jar kubesim.jar [--port 16443] [--kubeconfig FILE] [--pod-startup 1s] [--nodes 3]
 * [--node-cpu 4] [--node-memory 16Gi] [--watch-history 10000] [--bookmark-interval 1m]}: serves a
 * simulated cluster until stopped, printing {@code ready} once it serves. {@code java -jar
 * kubesim.jar nodes --kubeconfig FILE ...} plays the nodes of a real control plane instead (see
 * {@link HollowNodesMain}).
 */
public final class KubesimMain {
  private KubesimMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("nodes")) {
      HollowNodesMain.main(java.util.Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    Kubesim.Builder builder = Kubesim.builder().port(16443);
    Path kubeconfig = null;
    try {
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        if (arg.equals("--help") || arg.equals("-h")) {
          System.out.println(usage());
          return;
        }
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(arg + " needs a value");
        }
        String value = args[++i];
        switch (arg) {
          case "--port" -> builder.port(Integer.parseInt(value));
          case "--kubeconfig" -> kubeconfig = Path.of(value);
          case "--pod-startup" -> builder.podStartup(ImageBehaviour.parseDuration(value));
          case "--nodes" -> builder.nodes(Integer.parseInt(value));
          case "--node-cpu" -> builder.nodeCpu(value);
          case "--node-memory" -> builder.nodeMemory(value);
          case "--watch-history" -> builder.watchHistory(Integer.parseInt(value));
          case "--bookmark-interval" ->
              builder.bookmarkInterval(ImageBehaviour.parseDuration(value));
          default -> throw new IllegalArgumentException("unknown option " + arg);
        }
      }
    } catch (IllegalArgumentException e) {
      System.err.println("kubesim: " + e.getMessage() + "\n" + usage());
      System.exit(2);
      return;
    }
    Kubesim sim;
    try {
      sim = builder.start();
    } catch (IllegalStateException e) {
      System.err.println("kubesim: " + e.getMessage());
      System.exit(1);
      return;
    }
    if (kubeconfig != null) {
      sim.writeKubeconfig(kubeconfig);
      System.out.println("kubeconfig " + kubeconfig.toAbsolutePath());
    }
    System.out.println("serving " + sim.url());
    System.out.println("ready");
    System.out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  sim.close();
                  stopped.countDown();
                }));
    stopped.await();
  }

  private static String usage() {
    return "usage: java -jar kubesim.jar [--port 16443] [--kubeconfig FILE] [--pod-startup 1s]"
        + " [--nodes 3] [--node-cpu 4] [--node-memory 16Gi] [--watch-history 10000]"
        + " [--bookmark-interval 1m]\n"
        + "       java -jar kubesim.jar nodes --kubeconfig FILE [--nodes 3] ... (--help for more)";
  }
}
