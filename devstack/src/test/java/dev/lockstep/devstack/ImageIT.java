package dev.lockstep.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker and CLI images as a cluster would run them: unpacked from the tarballs the build
 * wrote, their entrypoints run as their configs say (user, working directory, environment), the
 * worker image doing an upgrade on the dev stack and the CLI image reading it back.
 *
 * <p>The images are built where the base image is (images/base/build-base.sh, as CI does first);
 * without it this test is skipped with one line saying so. With it, a missing image fails.
 */
class ImageIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final Path BASE =
      Path.of(System.getProperty("user.home"), ".cache/lockstep/images/lockstep-base-jre17.tar");
  static final Path WORKER_IMAGE =
      Processes.ROOT.resolve("worker/target/lockstep-worker-image.tar");
  static final Path CLI_IMAGE = Processes.ROOT.resolve("starter/target/lockstep-cli-image.tar");

  @TempDir static Path dir;
  private static String skipped;
  private static ImageRunner worker;
  private static ImageRunner cli;

  @BeforeAll
  static void unpack() throws Exception {
    if (!Files.exists(BASE)) {
      skipped =
          "no base image at " + BASE + " (images/base/build-base.sh builds it): images not built";
    } else {
      skipped = ImageRunner.cannotRun();
    }
    if (skipped != null) {
      System.err.println("ImageIT skipped: " + skipped);
      return;
    }
    assertThat(WORKER_IMAGE)
        .as("the base image is here, so the build made the worker image")
        .exists();
    assertThat(CLI_IMAGE).as("the base image is here, so the build made the CLI image").exists();
    worker = ImageRunner.unpack(WORKER_IMAGE, dir.resolve("worker"));
    cli = ImageRunner.unpack(CLI_IMAGE, dir.resolve("cli"));
  }

  @Test
  void bothImagesRunAsANonRootUserFromAJreBase() {
    Assumptions.assumeTrue(skipped == null, skipped);
    for (ImageRunner image : List.of(worker, cli)) {
      assertThat(image.config.path("User").asText()).isEqualTo("10001:10001");
      assertThat(image.config.path("Entrypoint").get(0).asText()).isEqualTo("java");
      assertThat(image.rootfs.resolve("usr/lib/jvm")).isDirectory();
      assertThat(image.rootfs.resolve("usr/lib/jvm/java-17-openjdk-amd64/bin/javac"))
          .doesNotExist();
    }
    assertThat(worker.config.path("ExposedPorts").has("8081/tcp")).as("the health port").isTrue();
    assertThat(worker.config.path("ExposedPorts").has("9464/tcp"))
        .as("the metrics port, the chart's metrics.port")
        .isTrue();
    // The CLI starts as ./lockstep starts it: a command line lives for a second.
    assertThat(JSON.convertValue(cli.config.path("Entrypoint"), List.class))
        .contains("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");
  }

  @Test
  void theEntrypointsAnswerHelp() throws Exception {
    Assumptions.assumeTrue(skipped == null, skipped);
    Processes.Result w = worker.runToEnd(Map.of(), "--help");
    assertEquals(0, w.exit(), w.out() + w.err());
    assertThat(w.out()).contains("Usage: lockstep worker", "--cluster", "--shutdown-grace");
    Processes.Result c = cli.runToEnd(Map.of(), "--help");
    assertEquals(0, c.exit(), c.out() + c.err());
    assertThat(c.out()).contains("Usage: lockstep", "upgrade", "resume", "rollback");
  }

  @Test
  void theWorkerImageUpgradesOnTheDevStackAndTheCliImageReadsIt() throws Exception {
    Assumptions.assumeTrue(skipped == null, skipped);
    String target = "demo/statefulset/postgresql";
    try (Processes.Stack stack = Processes.devStack(dir)) {
      worker.copyIn(stack.kubeconfig(), "/tmp/kubeconfig");
      int health = DevStack.freePort();
      Map<String, String> env = new TreeMap<>(stack.env());
      env.put("LOCKSTEP_WORKER_HEALTH_PORT", String.valueOf(health));
      env.put("KUBECONFIG", "/tmp/kubeconfig");
      Processes.Running running = worker.start(env);
      try {
        running.awaitLine("worker ready", Duration.ofSeconds(120));
        HttpResponse<String> up =
            HttpClient.newHttpClient()
                .send(
                    HttpRequest.newBuilder(URI.create("http://localhost:" + health + "/health"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString());
        assertEquals(200, up.statusCode(), up.body());

        Processes.Result started =
            cli.runToEnd(
                stack.env(),
                "upgrade",
                target,
                "--image",
                "postgresql=postgres:14.9",
                "--gate",
                "none",
                "--as",
                "image-it",
                "--wait");
        assertEquals(0, started.exit(), started.out() + started.err() + running.lines);

        Processes.Result status = cli.runToEnd(stack.env(), "status", target, "-o", "json");
        assertEquals(0, status.exit(), status.err());
        JsonNode done = JSON.readTree(status.out());
        assertEquals("COMPLETED", done.path("phase").asText());
        String to = done.path("toRevision").asText();
        assertThat(to).isNotEmpty().isNotEqualTo(done.path("fromRevision").asText());
        List<String> revisions = new ArrayList<>();
        done.path("units").forEach(u -> revisions.add(u.path("revision").asText()));
        assertThat(revisions).hasSize(3).containsOnly(to);
      } finally {
        // The worker is a descendant of unshare and chroot: SIGTERM it as a runtime would.
        running.process.descendants().forEach(ProcessHandle::destroy);
        running.close();
      }
    }
  }
}
