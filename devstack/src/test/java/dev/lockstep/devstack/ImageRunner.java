package dev.lockstep.devstack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs an image tarball ({@code jib:buildTar}, the {@code docker save} format) without a container
 * runtime, as its config says: its layers unpacked in order into a root file system, then its
 * Entrypoint and Cmd (and the given arguments) exec'd there under chroot, as its User, in its
 * WorkingDir, with exactly its Env (and the given variables). Like a runtime, it provides {@code
 * /dev}, {@code /proc} and {@code /etc/hosts} (bind mounts in a private mount namespace). The
 * network is the host's, so the image reaches a stack on loopback. Needs root.
 */
final class ImageRunner {
  private static final ObjectMapper JSON = new ObjectMapper();

  final Path rootfs;
  final JsonNode config;

  private ImageRunner(Path rootfs, JsonNode config) {
    this.rootfs = rootfs;
    this.config = config;
  }

  /** Whether this process may chroot and mount (root, with unshare and chroot on the PATH). */
  static String cannotRun() {
    if (!"root".equals(System.getProperty("user.name"))) {
      return "running an image without a runtime needs root (chroot, mount namespaces)";
    }
    return null;
  }

  /** Unpacks {@code tarball} into {@code dir}: its layers in order into {@code dir/rootfs}. */
  static ImageRunner unpack(Path tarball, Path dir) throws IOException, InterruptedException {
    Path image = Files.createDirectories(dir.resolve("image"));
    Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
    run(List.of("tar", "-xf", tarball.toString(), "-C", image.toString()));
    JsonNode manifest = JSON.readTree(image.resolve("manifest.json").toFile()).get(0);
    for (JsonNode layer : manifest.get("Layers")) {
      // Jib's layers add files only (no whiteouts), so unpacking them in order is the image.
      run(
          List.of(
              "tar",
              "--warning=no-unknown-keyword",
              "-xzf",
              image.resolve(layer.asText()).toString(),
              "-C",
              rootfs.toString()));
    }
    JsonNode config = JSON.readTree(image.resolve(manifest.get("Config").asText()).toFile());
    return new ImageRunner(rootfs, config.get("config"));
  }

  /** Copies {@code file} into the image's file system at {@code path}, readable by all. */
  void copyIn(Path file, String path) throws IOException {
    Path target = rootfs.resolve(path.substring(1));
    Files.createDirectories(target.getParent());
    Files.copy(file, target);
    target.toFile().setReadable(true, false);
  }

  /** The command that runs the image's Entrypoint + Cmd + {@code args} as its config says. */
  List<String> command(Map<String, String> env, String... args) throws IOException {
    for (String mountPoint : List.of("dev", "proc")) {
      Files.createDirectories(rootfs.resolve(mountPoint));
    }
    Path hosts = rootfs.resolve("etc/hosts");
    if (!Files.exists(hosts)) {
      Files.createFile(hosts);
    }
    String script =
        "r=$1; u=$2; w=$3; shift 3; "
            + "mount --bind /dev \"$r/dev\" && mount -t proc proc \"$r/proc\" "
            + "&& mount --bind /etc/hosts \"$r/etc/hosts\" "
            + "&& exec chroot --userspec=\"$u\" \"$r\" /usr/bin/env -i -C \"$w\" \"$@\"";
    List<String> command =
        new ArrayList<>(List.of("unshare", "--mount", "--pid", "--fork", "sh", "-c", script));
    command.add("sh");
    command.add(rootfs.toString());
    command.add(config.path("User").asText("0:0"));
    command.add(config.path("WorkingDir").asText("/"));
    config.path("Env").forEach(e -> command.add(e.asText()));
    env.forEach((k, v) -> command.add(k + "=" + v));
    config.path("Entrypoint").forEach(e -> command.add(e.asText()));
    config.path("Cmd").forEach(e -> command.add(e.asText()));
    command.addAll(List.of(args));
    return command;
  }

  /** Runs the image to its end: what it printed (stdout and stderr) and how it exited. */
  Processes.Result runToEnd(Map<String, String> env, String... args) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(command(env, args));
    Path out = Files.createTempFile("image-out", ".txt");
    Path err = Files.createTempFile("image-err", ".txt");
    builder.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process process = builder.start();
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("the image did not end in 120s: " + String.join(" ", args));
    }
    Processes.Result result =
        new Processes.Result(process.exitValue(), Files.readString(out), Files.readString(err));
    Files.delete(out);
    Files.delete(err);
    return result;
  }

  /** Starts the image, its output lines collected. */
  Processes.Running start(Map<String, String> env, String... args) throws IOException {
    return new Processes.Running(
        new ProcessBuilder(command(env, args)).redirectErrorStream(true).start());
  }

  private static void run(List<String> command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", command) + " failed: " + output);
    }
  }
}
