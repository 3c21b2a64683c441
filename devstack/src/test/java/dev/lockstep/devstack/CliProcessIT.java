package dev.lockstep.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI as a separate process, as a user runs it, against the embedded stack (Temporal test
 * server, kubesim, a worker) in this JVM: Ctrl-C while following, who acted without {@code $USER},
 * and how fast an unreachable Temporal is reported.
 */
class CliProcessIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  private static DevStack stack;
  private static Map<String, String> env;

  @BeforeAll
  static void start() throws Exception {
    stack =
        DevStack.start(
            new DevStack.Settings(
                0, 0, Duration.ofMillis(300), true, true, dir.resolve("kubeconfig")));
    env = Map.of("TEMPORAL_ADDRESS", stack.temporalAddress());
  }

  @AfterAll
  static void stop() {
    if (stack != null) {
      stack.close();
    }
  }

  private static JsonNode status(String target) throws Exception {
    Processes.Result r = Processes.cli(env, "status", target, "-o", "json");
    assertEquals(0, r.exit(), r.err());
    return JSON.readTree(r.out());
  }

  @Test
  void ctrlCWhileFollowingSaysTheUpgradeGoesOnAndHowToFollowIt() throws Exception {
    String target = "demo/statefulset/postgresql";
    Processes.Result started =
        Processes.cli(env, "upgrade", target, "--image", "postgresql=postgres:14.9");
    assertEquals(0, started.exit(), started.err());
    await()
        .atMost(120, TimeUnit.SECONDS)
        .until(() -> status(target).path("phase").asText().equals("WAITING_FOR_RESUME"));
    for (String follow : List.of("--watch", "--wait")) {
      Processes.Cli watching = Processes.startCli(env, dir, "status", target, follow);
      await()
          .atMost(60, TimeUnit.SECONDS)
          .until(() -> watching.out().contains("WAITING_FOR_RESUME"));
      watching.interrupt();
      assertThat(watching.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertEquals(130, watching.process().exitValue(), follow);
      assertEquals(
          "lockstep: stopped following; the upgrade of "
              + target
              + " goes on: follow it with `lockstep status "
              + target
              + " --watch`\n",
          watching.err(),
          follow);
    }
    // It did go on: still at its gate, and steerable.
    assertEquals("WAITING_FOR_RESUME", status(target).path("phase").asText());

    // Who acted, without $USER: the OS user, not "unknown".
    Processes.Result cancelled =
        Processes.cli(env, List.of("USER"), "cancel", target, "--reason", "test over");
    assertEquals(0, cancelled.exit(), cancelled.err());
    await()
        .atMost(120, TimeUnit.SECONDS)
        .until(() -> status(target).path("phase").asText().equals("CANCELLED"));
    Processes.Result audit = Processes.cli(env, "audit", target, "-o", "json");
    assertEquals(0, audit.exit(), audit.err());
    String host = InetAddress.getLocalHost().getHostName();
    assertThat(JSON.readTree(audit.out()).path("entries"))
        .anySatisfy(
            e -> {
              assertEquals("cancel", e.path("what").asText());
              assertEquals(System.getProperty("user.name") + "@" + host, e.path("who").asText());
            });
  }

  @Test
  void temporalUnreachableIsOneLineAndExit4() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    long start = System.nanoTime();
    Processes.Result r =
        Processes.cli(
            Map.of("TEMPORAL_ADDRESS", "localhost:" + closed), "status", "demo/sts/postgresql");
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(4, r.exit(), r.err());
    assertEquals(
        "lockstep: cannot reach Temporal at localhost:"
            + closed
            + ": start it (./lockstep dev) or set TEMPORAL_ADDRESS\n",
        r.err());
    // How long it took is measured by the benchmarks (B6), not asserted here.
    System.out.println(
        "lockstep status, Temporal unreachable: " + millis + " ms (JVM start included)");
  }
}
