package dev.lockstep.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Worker and CLI processes for the benchmarks, with their memory read from the OS. */
final class Processes {
  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");

  private Processes() {}

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
                    if (lines.size() < 10_000) {
                      lines.add(line);
                    }
                  }
                } catch (IOException e) {
                  // the process ended
                }
              });
      reader.setDaemon(true);
      reader.start();
    }

    void awaitLine(String prefix, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        synchronized (lines) {
          if (lines.stream().anyMatch(l -> l.startsWith(prefix))) {
            return;
          }
        }
        if (!process.isAlive()) {
          throw new IllegalStateException("process ended: " + lines);
        }
        process.waitFor(50, TimeUnit.MILLISECONDS);
      }
      throw new IllegalStateException("no line '" + prefix + "' within " + timeout + ": " + lines);
    }

    /** Resident set size from /proc, or -1. */
    long rss() {
      try {
        for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
          if (line.startsWith("VmRSS:")) {
            return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
          }
        }
      } catch (IOException | RuntimeException e) {
        // gone, or not Linux
      }
      return -1;
    }

    /** Live threads, from /proc, or -1. */
    long threads() {
      try {
        for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
          if (line.startsWith("Threads:")) {
            return Long.parseLong(line.replaceAll("[^0-9]", ""));
          }
        }
      } catch (IOException | RuntimeException e) {
        // gone, or not Linux
      }
      return -1;
    }

    /** Heap in use after a full collection in the process ({@code jcmd}), or "n/a". */
    String liveHeap() {
      jcmd("GC.run");
      return heapUsed();
    }

    private void jcmd(String command) {
      Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
      if (!Files.isExecutable(jcmd)) {
        return;
      }
      try {
        Process p =
            new ProcessBuilder(jcmd.toString(), String.valueOf(process.pid()), command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        p.waitFor(60, TimeUnit.SECONDS);
      } catch (IOException e) {
        // no jcmd
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** Heap in use, from {@code jcmd PID GC.heap_info}, or "n/a". */
    String heapUsed() {
      Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
      if (!Files.isExecutable(jcmd)) {
        return "n/a";
      }
      try {
        Process p =
            new ProcessBuilder(jcmd.toString(), String.valueOf(process.pid()), "GC.heap_info")
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(30, TimeUnit.SECONDS);
        Matcher m = HEAP_USED.matcher(out);
        return m.find() ? Long.parseLong(m.group(1)) / 1024 + " MiB" : "n/a";
      } catch (IOException e) {
        return "n/a";
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return "n/a";
      }
    }

    void kill() throws InterruptedException {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        kill();
      }
    }
  }

  static Running start(Path jar, List<String> args) throws IOException {
    List<String> command = new ArrayList<>(List.of(java(), "-jar", jar.toString()));
    command.addAll(args);
    return new Running(new ProcessBuilder(command).redirectErrorStream(true).start());
  }

  /**
   * Seconds one CLI call takes, start to exit, as a person runs it: {@code ./lockstep ARGS} (the
   * launcher, with its JVM flags, its class-data archive and, for the short commands, its CLI
   * daemon unless {@code LOCKSTEP_CLI_DAEMON=off} is in {@code env}). It must exit 0.
   */
  static double time(Path launcher, Map<String, String> env, String... args) throws Exception {
    long began = System.nanoTime();
    int exit = launch(launcher, env, args);
    double seconds = (System.nanoTime() - began) / 1e9;
    if (exit != 0) {
      throw new IllegalStateException("lockstep " + String.join(" ", args) + " exited " + exit);
    }
    return seconds;
  }

  /** Runs {@code ./lockstep ARGS} with {@code env} added, output discarded; its exit code. */
  static int launch(Path launcher, Map<String, String> env, String... args) {
    List<String> command = new ArrayList<>(List.of("bash", launcher.toString()));
    command.addAll(List.of(args));
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD);
    builder.environment().putAll(env);
    try {
      Process p = builder.start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("lockstep " + String.join(" ", args) + " hung");
      }
      return p.exitValue();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + launcher + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
