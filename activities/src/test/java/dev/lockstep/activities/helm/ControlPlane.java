package dev.lockstep.activities.helm;

import static java.util.concurrent.TimeUnit.SECONDS;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;

/**
 * The real v1.20 control plane of the kit named by {@code LOCKSTEP_K8S_TOOLS} (default {@code
 * ../shared/tools/k8s}), on free ports with its state under {@code target/}, stopped by {@link
 * #close()}. The same pattern as kubesim's {@code RealControlPlane} (which lives in kubesim's
 * tests, not a dependency of this module); Helm needs only the API server, so no node plays here.
 */
final class ControlPlane implements AutoCloseable {
  private final Path script;
  private final Map<String, String> env;
  private final Path state;

  private ControlPlane(Path script, Map<String, String> env, Path state) {
    this.script = script;
    this.env = env;
    this.state = state;
  }

  static Optional<Path> script() {
    String override = System.getenv("LOCKSTEP_K8S_TOOLS");
    Path tools =
        override != null
            ? Path.of(override)
            : Path.of("").toAbsolutePath().getParent().resolve("../shared/tools/k8s").normalize();
    Path script = tools.resolve("control-plane");
    return Files.isExecutable(script) ? Optional.of(script) : Optional.empty();
  }

  /** For {@code @EnabledIf}: says in one line why the lane is skipped. */
  static boolean available() {
    boolean available = script().isPresent();
    if (!available) {
      System.err.println(
          "Helm interop against a real control plane skipped: no ../shared/tools/k8s/control-plane"
              + " (or LOCKSTEP_K8S_TOOLS) on this machine");
    }
    return available;
  }

  static ControlPlane start() {
    int api = freePort();
    Path state = Path.of("target", "k8s-cp-" + api).toAbsolutePath();
    Map<String, String> env =
        Map.of(
            "API_PORT", String.valueOf(api),
            "ETCD_PORT", String.valueOf(freePort()),
            "ETCD_PEER_PORT", String.valueOf(freePort()),
            "KCM_PORT", String.valueOf(freePort()),
            "SCHED_PORT", String.valueOf(freePort()),
            "STATE", state.toString(),
            "ETCD_DATA", "/dev/shm/k8s-etcd-" + api);
    ControlPlane plane = new ControlPlane(script().orElseThrow(), env, state);
    try {
      plane.run("start");
    } catch (RuntimeException e) {
      plane.close();
      throw e;
    }
    return plane;
  }

  Path kubeconfigFile() {
    return state.resolve("admin.kubeconfig");
  }

  String kubeconfig() {
    try {
      return Files.readString(kubeconfigFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void run(String command) {
    Path log = state.resolveSibling(state.getFileName() + "-" + command + ".log");
    try {
      Files.createDirectories(state.getParent());
      ProcessBuilder builder =
          new ProcessBuilder(script.toString(), command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile());
      builder.environment().putAll(env);
      Process process = builder.start();
      if (!process.waitFor(120, SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("control-plane " + command + " took over 120 s");
      }
      if (process.exitValue() != 0) {
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

  @Override
  public void close() {
    run("stop");
    try (var files = Files.walk(Path.of(env.get("ETCD_DATA")))) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // Nothing was written there, or it is gone already.
    }
  }
}
