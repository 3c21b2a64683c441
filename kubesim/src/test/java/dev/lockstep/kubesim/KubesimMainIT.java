package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The standalone command: {@code java -jar kubesim.jar --port N --kubeconfig FILE}. */
class KubesimMainIT {
  private static final Path JAR = Path.of("target", "kubesim.jar");

  private static Process launch(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(javaBin(), "-jar", JAR.toString()));
    command.addAll(List.of(args));
    return new ProcessBuilder(command).redirectErrorStream(false).start();
  }

  private static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  @Test
  void servesAClusterWhereAStatefulSetRollsOutHighestToLowest(@TempDir Path dir) throws Exception {
    Path kubeconfig = dir.resolve("k.yaml");
    Process sim =
        launch("--port", "0", "--kubeconfig", kubeconfig.toString(), "--pod-startup", "200ms");
    try {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(sim.getInputStream(), StandardCharsets.UTF_8));
      List<String> lines = Collections.synchronizedList(new ArrayList<>());
      CompletableFuture<Void> ready =
          CompletableFuture.runAsync(
              () -> {
                try {
                  String line;
                  while ((line = out.readLine()) != null) {
                    lines.add(line);
                    if (line.equals("ready")) {
                      return;
                    }
                  }
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      ready.get(60, SECONDS);
      assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("serving http://127.0.0.1:"));
      assertTrue(Files.exists(kubeconfig));

      try (KubernetesClient client =
          new KubernetesClientBuilder()
              .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
              .build()) {
        client
            .apps()
            .statefulSets()
            .resource(Workloads.statefulSet("pg", 3, "postgres:14.8"))
            .create();
        await()
            .atMost(30, SECONDS)
            .until(
                () -> {
                  StatefulSetStatus s =
                      client.apps().statefulSets().withName("pg").get().getStatus();
                  return s != null && s.getReadyReplicas() != null && s.getReadyReplicas() == 3;
                });
        List<Pod> pods = Workloads.pods(client, "default", "pg");
        assertThat(pods).hasSize(3).allSatisfy(p -> assertTrue(Workloads.ready(p)));
        assertThat(pods.stream().map(Workloads::revision).distinct()).hasSize(1);
        String oldRevision = Workloads.revision(pods.get(0));

        List<String> added = Collections.synchronizedList(new ArrayList<>());
        try (Watch watch =
            client
                .pods()
                .watch(
                    new Watcher<Pod>() {
                      @Override
                      public void eventReceived(Action action, Pod pod) {
                        if (action == Action.ADDED
                            && !oldRevision.equals(Workloads.revision(pod))) {
                          added.add(pod.getMetadata().getName());
                        }
                      }

                      @Override
                      public void onClose(WatcherException cause) {}
                    })) {
          client
              .apps()
              .statefulSets()
              .withName("pg")
              .edit(
                  s -> {
                    s.getSpec()
                        .getTemplate()
                        .getSpec()
                        .getContainers()
                        .get(0)
                        .setImage("postgres:14.9");
                    return s;
                  });
          await()
              .atMost(30, SECONDS)
              .until(
                  () -> {
                    StatefulSet s = client.apps().statefulSets().withName("pg").get();
                    return s.getStatus().getUpdatedReplicas() == 3
                        && s.getStatus().getReadyReplicas() == 3
                        && s.getStatus()
                            .getCurrentRevision()
                            .equals(s.getStatus().getUpdateRevision());
                  });
          await().atMost(5, SECONDS).until(() -> added.size() == 3);
          assertThat(added).containsExactly("pg-2", "pg-1", "pg-0");
        }
      }
    } finally {
      sim.destroy();
      assertTrue(sim.waitFor(30, SECONDS), "kubesim did not stop on SIGTERM");
    }
  }

  @Test
  void aBadOptionIsOneClearErrorAndExitCode2() throws Exception {
    Process sim = launch("--colour", "blue");
    assertTrue(sim.waitFor(60, SECONDS));
    assertEquals(2, sim.exitValue());
    String err = new String(sim.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(err).startsWith("kubesim: unknown option --colour");
  }
}
