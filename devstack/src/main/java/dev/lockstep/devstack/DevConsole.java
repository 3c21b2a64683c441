package dev.lockstep.devstack;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The web console of the dev stack: {@code lockstep console} run from its own jar as a child
 * process (its HTTP server wants another Netty than the worker's Kubernetes client), pointed at the
 * stack's Temporal, everyone steering as the person who ran {@code lockstep dev}.
 */
final class DevConsole implements AutoCloseable {
  private final Process process;
  private final String url;
  private final String problem;

  private DevConsole(Process process, String url, String problem) {
    this.process = process;
    this.url = url;
    this.problem = problem;
  }

  /** Starts the console on {@code port}; never fails the stack: a problem is said instead. */
  static DevConsole start(String temporalAddress, int port) {
    Path jar = jar();
    if (jar == null || !Files.isRegularFile(jar)) {
      return new DevConsole(null, null, "not started: its jar is not built (" + jar + ")");
    }
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-jar");
    command.add(jar.toString());
    command.addAll(
        List.of(
            "--port",
            String.valueOf(port),
            "--temporal-address",
            temporalAddress,
            "--dev-user",
            identity()));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    // The dev stack's Temporal is plain and local, whatever the shell points other tools at.
    builder.environment().keySet().removeIf(k -> k.startsWith("TEMPORAL_"));
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      return new DevConsole(null, null, "not started: " + e.getMessage());
    }
    BufferedReader out =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    CompletableFuture<String> first =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                String line;
                String last = "it ended";
                while ((line = out.readLine()) != null) {
                  if (line.startsWith("console ")) {
                    return line;
                  }
                  last = line;
                }
                return last;
              } catch (IOException e) {
                return e.getMessage();
              }
            });
    String line;
    try {
      line = first.get(90, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroy();
      return new DevConsole(null, null, "not started: interrupted");
    } catch (ExecutionException | TimeoutException e) {
      process.destroy();
      return new DevConsole(null, null, "not started: no answer within 90s");
    }
    if (!line.startsWith("console ")) {
      process.destroy();
      return new DevConsole(null, null, "not started: " + line.replaceFirst("^lockstep: ", ""));
    }
    // Keep reading what it says, so that a full pipe never stops it.
    Thread drain =
        new Thread(
            () -> {
              try {
                while (out.readLine() != null) {
                  // nothing to do with it: the console's own log
                }
              } catch (IOException e) {
                // it ended
              }
            },
            "console-output");
    drain.setDaemon(true);
    drain.start();
    return new DevConsole(process, line.substring("console ".length()).trim(), null);
  }

  /** The console's jar: {@code -Dlockstep.console.jar}, else beside this jar in the checkout. */
  private static Path jar() {
    String configured = System.getProperty("lockstep.console.jar");
    if (configured != null) {
      return Path.of(configured);
    }
    try {
      Path self =
          Path.of(DevConsole.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      // devstack/target/lockstep-devstack.jar (or devstack/target/classes) -> the checkout
      Path root = self.getParent().getParent().getParent();
      return root.resolve("console/target/lockstep-console.jar");
    } catch (URISyntaxException | RuntimeException e) {
      return null;
    }
  }

  /** Who steers from the dev console: {@code $USER@hostname}, as the CLI names its user. */
  static String identity() {
    String user = System.getenv("USER");
    if (user == null || user.isBlank()) {
      user = System.getProperty("user.name", "unknown");
    }
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      host = "localhost";
    }
    return user + "@" + host;
  }

  /** What {@code lockstep dev} prints for it. */
  String describe() {
    return url != null ? url + " (everyone steers as " + identity() + ")" : problem;
  }

  String url() {
    return url;
  }

  @Override
  public void close() {
    if (process == null) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
