package dev.lockstep.devstack;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.kubesim.lane.TestCluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Separate processes for end-to-end tests: the dev stack, workers, CLI invocations. */
final class Processes {
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  static final Path DEVSTACK = ROOT.resolve("devstack/target/lockstep-devstack.jar");
  static final Path WORKER = ROOT.resolve("worker/target/lockstep-worker.jar");
  static final Path CLI = ROOT.resolve("starter/target/lockstep-cli.jar");

  private Processes() {}

  /** A long-running process whose output lines are collected as they come. */
  static final class Running implements AutoCloseable {
    final Process process;
    final List<String> lines = Collections.synchronizedList(new ArrayList<>());

    Running(Process process) {
      this.process = process;
      Thread reader =
          new Thread(
              () -> {
                try (BufferedReader in =
                    new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                  String line;
                  while ((line = in.readLine()) != null) {
                    lines.add(line);
                  }
                } catch (IOException e) {
                  // the process ended
                }
              });
      reader.setDaemon(true);
      reader.start();
    }

    /** Waits until a line starting with {@code prefix} was printed. */
    void awaitLine(String prefix, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        synchronized (lines) {
          if (lines.stream().anyMatch(l -> l.startsWith(prefix))) {
            return;
          }
        }
        if (!process.isAlive()) {
          throw new AssertionError("process ended (" + process.exitValue() + "): " + lines);
        }
        // Waiting on the process's own output: there is no event to block on but its pipe.
        process.waitFor(50, TimeUnit.MILLISECONDS);
      }
      throw new AssertionError("no line '" + prefix + "' within " + timeout + ": " + lines);
    }

    /** SIGKILL, of the process and anything it started: no shutdown hook, no graceful anything. */
    void kill() throws InterruptedException {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      // A dev stack on the kit's control plane stops it (etcd, three servers) before it ends.
      if (!process.waitFor(90, TimeUnit.SECONDS)) {
        kill();
      }
    }
  }

  /**
   * {@code lockstep dev --no-worker} on a free Temporal port, once ready, with the environment that
   * points workers and the CLI at it, the worker's kubeconfig ({@code kubeconfig}) and one with
   * every right for the test's own setup and assertions ({@code adminKubeconfig}: the same file on
   * kubesim; in the real lane the cluster's admin, while the worker is the ServiceAccount bound to
   * docs/worker.md's RBAC).
   */
  record Stack(Running process, Map<String, String> env, Path kubeconfig, Path adminKubeconfig)
      implements AutoCloseable {
    /** Whether this stack runs on a real cluster (the real lane). */
    boolean real() {
      return !kubeconfig.equals(adminKubeconfig);
    }

    /** A worker process from {@code jar} (this build's or another version's), once ready. */
    Running worker(Path jar) throws Exception {
      Running w = start(env, jar, "--kubeconfig", kubeconfig.toString(), "--health-port", "0");
      w.awaitLine("worker ready", Duration.ofSeconds(90));
      return w;
    }

    @Override
    public void close() throws InterruptedException {
      process.close();
    }
  }

  /**
   * Starts the dev stack without its worker, its kubeconfig in {@code dir}; {@code extra} options.
   * In the real lane ({@link TestCluster#realLane()}) on a real cluster: the kit's control plane
   * ({@code --control-plane}) or the one {@code -Dlockstep.kubeconfig} / {@code
   * LOCKSTEP_KUBECONFIG} names, with three hollow nodes; the test is skipped (one line says why)
   * where neither can be had.
   */
  static Stack devStack(Path dir, String... extra) throws IOException, InterruptedException {
    boolean real = TestCluster.realLane();
    if (real) {
      Optional<String> unavailable = TestCluster.unavailable();
      Assumptions.assumeTrue(unavailable.isEmpty(), unavailable.orElse(""));
    }
    int temporalPort = DevStack.freePort();
    Path kubeconfig = dir.resolve("kubeconfig");
    List<String> args =
        new ArrayList<>(
            List.of(
                "dev",
                "--no-worker",
                "--temporal-port",
                String.valueOf(temporalPort),
                "--kube-port",
                "0",
                "--pod-startup",
                "300ms",
                "--kubeconfig",
                kubeconfig.toString()));
    if (real) {
      String named = System.getProperty(TestCluster.KUBECONFIG, "");
      if (named.isBlank()) {
        named = Optional.ofNullable(System.getenv("LOCKSTEP_KUBECONFIG")).orElse("");
      }
      args.addAll(
          named.isBlank()
              ? List.of("--control-plane")
              : List.of("--cluster-kubeconfig", named, "--hollow-nodes", "3"));
    }
    args.addAll(List.of(extra));
    if (!args.contains("--console-port")) {
      // Only the tests of the console start one: it is a JVM of its own on two busy cores.
      args.add("--no-console");
    }
    Running stack = start(Map.of(), DEVSTACK, args.toArray(String[]::new));
    try {
      stack.awaitLine("ready", Duration.ofSeconds(real ? 180 : 90));
    } catch (AssertionError | InterruptedException e) {
      stack.close();
      throw e;
    }
    Path admin = kubeconfig;
    if (real) {
      // "admin      PATH (kubeconfig above: ...)"
      String line;
      synchronized (stack.lines) {
        line = stack.lines.stream().filter(l -> l.startsWith("admin ")).findFirst().orElseThrow();
      }
      admin = Path.of(line.substring("admin".length()).trim().split(" ")[0]);
      synchronized (stack.lines) {
        // Which cluster this lane ran on, in the test's report.
        stack.lines.stream()
            .filter(l -> l.startsWith("kubernetes "))
            .forEach(l -> System.err.println("real lane: dev stack on " + l.substring(11)));
      }
    }
    return new Stack(
        stack, Map.of("TEMPORAL_ADDRESS", "localhost:" + temporalPort), kubeconfig, admin);
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  /** {@code lockstep status TARGET -o json}, which must succeed. */
  static JsonNode status(Map<String, String> env, String target) throws Exception {
    Result r = cli(env, "status", target, "-o", "json");
    assertEquals(0, r.exit(), r.err());
    return JSON.readTree(r.out());
  }

  /** Polls {@code lockstep status} until the upgrade of {@code target} is in {@code phase}. */
  static JsonNode awaitPhase(Map<String, String> env, String target, String phase) {
    await()
        .atMost(120, SECONDS)
        .pollInterval(Duration.ofMillis(200))
        .until(() -> status(env, target).path("phase").asText().equals(phase));
    try {
      return status(env, target);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static Running start(Map<String, String> env, Path jar, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(java(), "-jar", jar.toString()));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(env);
    return new Running(builder.start());
  }

  /** What one CLI invocation printed and how it exited. */
  record Result(int exit, String out, String err) {}

  static Result cli(Map<String, String> env, String... args) throws Exception {
    return cli(env, List.of(), args);
  }

  /** As {@link #cli(Map, String...)}, with the variables {@code unset} removed. */
  static Result cli(Map<String, String> env, List<String> unset, String... args) throws Exception {
    List<String> command = cliCommand();
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().putAll(env);
    unset.forEach(builder.environment()::remove);
    java.io.File out = java.io.File.createTempFile("lockstep-out", ".txt");
    java.io.File err = java.io.File.createTempFile("lockstep-err", ".txt");
    builder.redirectOutput(out).redirectError(err);
    Process process = builder.start();
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("lockstep " + String.join(" ", args) + " did not end in 120s");
    }
    Result result =
        new Result(
            process.exitValue(),
            java.nio.file.Files.readString(out.toPath()),
            java.nio.file.Files.readString(err.toPath()));
    out.delete();
    err.delete();
    return result;
  }

  /** A CLI process left running, its output going to files, e.g. to interrupt it. */
  record Cli(Process process, Path outFile, Path errFile) {
    String out() throws IOException {
      return java.nio.file.Files.readString(outFile);
    }

    String err() throws IOException {
      return java.nio.file.Files.readString(errFile);
    }

    /** What Ctrl-C does: SIGINT to the process. */
    void interrupt() throws IOException, InterruptedException {
      new ProcessBuilder("kill", "-INT", String.valueOf(process.pid())).start().waitFor();
    }
  }

  static Cli startCli(Map<String, String> env, Path dir, String... args) throws IOException {
    List<String> command = cliCommand();
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().putAll(env);
    Path out = java.nio.file.Files.createTempFile(dir, "cli", ".out");
    Path err = java.nio.file.Files.createTempFile(dir, "cli", ".err");
    builder.redirectOutput(out.toFile()).redirectError(err.toFile());
    return new Cli(builder.start(), out, err);
  }

  /** The CLI's command, with the JVM options the {@code ./lockstep} launcher gives it. */
  private static List<String> cliCommand() {
    return new ArrayList<>(
        List.of(java(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", CLI.toString()));
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
