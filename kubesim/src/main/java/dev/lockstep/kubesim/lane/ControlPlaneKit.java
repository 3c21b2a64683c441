package dev.lockstep.kubesim.lane;

import static java.util.concurrent.TimeUnit.SECONDS;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * A real Kubernetes control plane (kube-apiserver, controller manager and scheduler of v1.20.2 with
 * etcd) from the offline kit ({@code LOCKSTEP_K8S_TOOLS}, by default {@code shared/tools/k8s}
 * beside the checkout), started on free ports with its state under {@code target/}, and removed by
 * {@link #close()}. Its API server's {@code HTTP_PROXY} and {@code HTTPS_PROXY} point at a hollow
 * nodes' pod network gateway, so that its pod proxy reaches hollow pods and its {@code pods/log}
 * their nodes' kubelet API. For tests only.
 */
public final class ControlPlaneKit implements AutoCloseable {
  private final Path script;
  private final Map<String, String> env;
  private final Path state;
  private final Path etcdData;
  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();
  // Processes of its own must never outlive this JVM, even one stopped while still starting.
  private final Thread stopAtExit = new Thread(this::close, "control-plane-stop");

  private ControlPlaneKit(Path script, Map<String, String> env, Path state) {
    this.script = script;
    this.env = env;
    this.state = state;
    this.etcdData = Path.of(env.get("ETCD_DATA"));
  }

  /**
   * The {@code control-plane} script, if this machine has the tools ({@code LOCKSTEP_K8S_TOOLS}).
   */
  public static Optional<Path> script() {
    String override = System.getenv("LOCKSTEP_K8S_TOOLS");
    if (override != null && !override.isBlank()) {
      Path script = Path.of(override).resolve("control-plane");
      return Files.isExecutable(script) ? Optional.of(script) : Optional.empty();
    }
    // Beside the checkout: tests run in a module's folder, `lockstep dev` in the checkout's.
    for (Path dir = Path.of("").toAbsolutePath().getParent(); dir != null; dir = dir.getParent()) {
      Path script = dir.resolve("shared/tools/k8s/control-plane");
      if (Files.isExecutable(script)) {
        return Optional.of(script);
      }
    }
    return Optional.empty();
  }

  /**
   * Whether this machine has the tools, for {@code @EnabledIf}; when it has not, says so in one
   * line, because Maven's console shows how many tests were skipped but not why.
   */
  public static boolean available() {
    boolean available = script().isPresent();
    if (!available) {
      System.err.println(
          "real control plane skipped: no ../shared/tools/k8s/control-plane"
              + " (or LOCKSTEP_K8S_TOOLS) on this machine");
    }
    return available;
  }

  /** Starts one; returns once the API server serves and the default ServiceAccount can be used. */
  public static ControlPlaneKit start(Path script, int gatewayPort) {
    return start(script, gatewayPort, Path.of("target"));
  }

  /** As {@link #start(Path, int)}, with its state (certificates, logs) under {@code stateRoot}. */
  public static ControlPlaneKit start(Path script, int gatewayPort, Path stateRoot) {
    int api = freePort();
    Path state = stateRoot.resolve("k8s-cp-" + api).toAbsolutePath();
    Map<String, String> env =
        Map.of(
            "API_PORT", String.valueOf(api),
            "ETCD_PORT", String.valueOf(freePort()),
            "ETCD_PEER_PORT", String.valueOf(freePort()),
            "KCM_PORT", String.valueOf(freePort()),
            "SCHED_PORT", String.valueOf(freePort()),
            "STATE", state.toString(),
            // etcd in memory, as the script's default; removed by close()
            "ETCD_DATA", "/dev/shm/k8s-etcd-" + api,
            "HTTP_PROXY", "http://127.0.0.1:" + gatewayPort,
            // pods/log: the API server dials the nodes' kubelet API over https, which only
            // HTTPS_PROXY sends through the gateway; NO_PROXY keeps the script's own curl
            // (which honours HTTPS_PROXY, unlike HTTP_PROXY) off it.
            "HTTPS_PROXY", "http://127.0.0.1:" + gatewayPort,
            "NO_PROXY", "127.0.0.1,localhost");
    ControlPlaneKit plane = new ControlPlaneKit(script, env, state);
    Runtime.getRuntime().addShutdownHook(plane.stopAtExit);
    try {
      plane.run("start");
    } catch (RuntimeException e) {
      plane.close();
      throw e;
    }
    return plane;
  }

  /** The admin kubeconfig ({@code system:masters}). */
  public String kubeconfig() {
    try {
      return Files.readString(state.resolve("admin.kubeconfig"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Path kubeconfigFile() {
    return state.resolve("admin.kubeconfig");
  }

  private void run(String command) {
    try {
      ProcessBuilder builder =
          new ProcessBuilder(script.toString(), command)
              .redirectErrorStream(true)
              .redirectOutput(
                  state.resolveSibling(state.getFileName() + "-" + command + ".log").toFile());
      builder.environment().putAll(env);
      Files.createDirectories(state.getParent());
      Process process = builder.start();
      if (!process.waitFor(120, SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("control-plane " + command + " took over 120 s");
      }
      if (process.exitValue() != 0) {
        Path log = state.resolveSibling(state.getFileName() + "-" + command + ".log");
        throw new IllegalStateException(
            "control-plane "
                + command
                + " failed: "
                + Files.readString(log, StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Stops every process it started and removes etcd's data; the logs stay under target/. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (Thread.currentThread() != stopAtExit) {
      try {
        Runtime.getRuntime().removeShutdownHook(stopAtExit);
      } catch (IllegalStateException e) {
        // The JVM is stopping: the hook runs, and finds this one closed.
      }
    }
    run("stop");
    try (var files = Files.walk(etcdData)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // Nothing was written there, or it is gone already.
    }
  }
}
