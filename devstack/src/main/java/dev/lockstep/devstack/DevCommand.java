package dev.lockstep.devstack;

import dev.lockstep.kubesim.lane.ControlPlaneKit;
import dev.lockstep.workflows.Durations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lockstep dev}: the embedded stack, until stopped. */
@Command(
    name = "dev",
    mixinStandardHelpOptions = true,
    description = {
      "Runs Temporal (the Java test server), kubesim and a worker on loopback, with example",
      "workloads in namespace demo, until Ctrl-C."
    })
class DevCommand implements Callable<Integer> {
  @Option(
      names = "--temporal-port",
      defaultValue = "7233",
      description = "Temporal's port (default 7233).")
  int temporalPort;

  @Option(
      names = "--kube-port",
      defaultValue = "6443",
      description = "kubesim's port (default 6443).")
  int kubePort;

  @Option(
      names = "--pod-startup",
      defaultValue = "1s",
      description = "How long a simulated pod takes to be Ready (default 1s).")
  String podStartup;

  @Option(names = "--no-seed", description = "Do not create the example workloads.")
  boolean noSeed;

  @Option(
      names = "--no-worker",
      description =
          "Start no worker: run `lockstep worker --kubeconfig .lockstep/dev/kubeconfig` yourself.")
  boolean noWorker;

  @Option(
      names = "--console-port",
      defaultValue = "8080",
      description = "The web console's port (default 8080; 0 picks a free one).")
  int consolePort;

  @Option(names = "--no-console", description = "Do not start the web console.")
  boolean noConsole;

  @Option(
      names = "--kubeconfig",
      defaultValue = ".lockstep/dev/kubeconfig",
      description =
          "Where to write the worker's kubeconfig (kubesim's; or, on a real cluster, its"
              + " ServiceAccount's).")
  Path kubeconfig;

  @Option(
      names = "--cluster-kubeconfig",
      paramLabel = "FILE",
      description =
          "Use the cluster of this kubeconfig (kind, minikube, a test cluster) instead of kubesim:"
              + " its identity sets up the worker's ServiceAccount and seeds namespace demo.")
  Path clusterKubeconfig;

  @Option(
      names = "--control-plane",
      description =
          "Use a real Kubernetes v1.20 control plane from the offline kit (LOCKSTEP_K8S_TOOLS, by"
              + " default shared/tools/k8s beside the checkout) instead of kubesim.")
  boolean controlPlane;

  @Option(
      names = "--hollow-nodes",
      paramLabel = "N",
      description =
          "With a real cluster: kubesim's hollow nodes to play its nodes (default 3 with"
              + " --control-plane, 0 with --cluster-kubeconfig).")
  Integer hollowNodes;

  @Override
  public Integer call() throws Exception {
    if (consolePort < 0 || consolePort > 65535) {
      System.err.println(
          "lockstep: --console-port must be between 0 and 65535, was " + consolePort);
      return 2;
    }
    Duration startup;
    try {
      startup = Durations.parse(podStartup);
    } catch (IllegalArgumentException e) {
      System.err.println("lockstep: --pod-startup: " + e.getMessage());
      return 2;
    }
    DevStack.RealSettings real;
    try {
      real = realCluster();
    } catch (IllegalArgumentException e) {
      System.err.println("lockstep: " + e.getMessage());
      return 2;
    }
    DevStack stack;
    try {
      if (real != null && real.kubeconfig() != null && !noSeed) {
        var refused = DevStack.refuseToSeed(real.kubeconfig());
        if (refused.isPresent()) {
          System.err.println("lockstep: " + refused.get());
          return 2;
        }
      }
      DevStack.Settings settings =
          new DevStack.Settings(
              temporalPort, kubePort, startup, !noSeed, !noWorker, kubeconfig.toAbsolutePath());
      stack = real == null ? DevStack.start(settings) : DevStack.start(settings, real);
    } catch (java.io.IOException | RuntimeException e) {
      System.err.println("lockstep: " + e.getMessage());
      return 4;
    }
    System.out.println("temporal   " + stack.temporalAddress());
    System.out.println("kubernetes " + stack.kubernetesUrl() + describe(stack));
    System.out.println("kubeconfig " + stack.kubeconfig());
    stack
        .realCluster()
        .ifPresent(
            c ->
                System.out.println(
                    "admin      "
                        + c.adminKubeconfig()
                        + " (kubeconfig above: the worker's ServiceAccount, docs/worker.md's"
                        + " RBAC)"));
    System.out.println("worker     " + (noWorker ? "none (--no-worker)" : "cluster default"));
    DevConsole console = noConsole ? null : DevConsole.start(stack.temporalAddress(), consolePort);
    System.out.println("console    " + (noConsole ? "none (--no-console)" : console.describe()));
    System.out.println("ready");
    System.out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  if (console != null) {
                    console.close();
                  }
                  stack.close();
                  stopped.countDown();
                }));
    stopped.await();
    return 0;
  }

  /** The real cluster the options ask for, null for kubesim; a bad combination is refused. */
  private DevStack.RealSettings realCluster() {
    if (clusterKubeconfig != null && controlPlane) {
      throw new IllegalArgumentException(
          "--cluster-kubeconfig and --control-plane: pick one (a cluster of yours, or the kit's)");
    }
    if (clusterKubeconfig == null && !controlPlane) {
      if (hollowNodes != null) {
        throw new IllegalArgumentException(
            "--hollow-nodes needs a real cluster: --control-plane or --cluster-kubeconfig FILE");
      }
      return null;
    }
    int nodes = hollowNodes != null ? hollowNodes : controlPlane ? 3 : 0;
    if (nodes < 0 || nodes > 254) {
      throw new IllegalArgumentException("--hollow-nodes must be between 0 and 254, was " + nodes);
    }
    if (clusterKubeconfig != null) {
      Path file = clusterKubeconfig.toAbsolutePath();
      if (!Files.isReadable(file)) {
        throw new IllegalArgumentException("--cluster-kubeconfig: cannot read " + file);
      }
      return new DevStack.RealSettings(file, null, nodes);
    }
    Path script =
        ControlPlaneKit.script()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "--control-plane: no control-plane kit here (LOCKSTEP_K8S_TOOLS, or"
                            + " shared/tools/k8s beside the checkout); or use"
                            + " --cluster-kubeconfig FILE"));
    return new DevStack.RealSettings(null, script, nodes);
  }

  private static String describe(DevStack stack) {
    return stack
        .realCluster()
        .map(
            c ->
                " ("
                    + (c.startedHere() ? "v1.20 control plane from the kit" : "your cluster")
                    + c.nodes().map(n -> ", " + n.nodeNames().size() + " hollow nodes").orElse("")
                    + ")")
        .orElse("");
  }
}
