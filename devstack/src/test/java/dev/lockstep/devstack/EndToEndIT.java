package dev.lockstep.devstack;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Separate processes on loopback, as a user runs them: the dev stack without its worker, worker
 * processes (killed with SIGKILL and replaced), and the {@code lockstep} CLI.
 */
class EndToEndIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path dir;
  private static Processes.Stack stack;
  private static Processes.Running worker;
  private static Map<String, String> env;
  private static KubernetesClient kube;
  private static String kubeUrl;

  @BeforeAll
  static void start() throws Exception {
    stack = Processes.devStack(dir);
    env = stack.env();
    kube =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(stack.adminKubeconfig())))
            .build();
    kubeUrl = kube.getConfiguration().getMasterUrl().replaceAll("/$", "");
    worker = startWorker();
  }

  private static Processes.Running startWorker() throws Exception {
    Processes.Running w = stack.worker(Processes.WORKER);
    assertThat(String.join("\n", w.lines)).contains("sticky execution off");
    return w;
  }

  @AfterAll
  static void stop() throws Exception {
    if (worker != null) {
      worker.close();
    }
    if (kube != null) {
      kube.close();
    }
    if (stack != null) {
      stack.close();
    }
  }

  /** SIGKILLs the worker process and starts another, as a crashed pod's replacement. */
  private static void killWorker() throws Exception {
    worker.kill();
    worker = startWorker();
  }

  private static Processes.Result lockstep(String... args) throws Exception {
    return Processes.cli(env, args);
  }

  private static JsonNode status(String target) throws Exception {
    return Processes.status(env, target);
  }

  private static JsonNode awaitPhase(String target, String phase) {
    return Processes.awaitPhase(env, target, phase);
  }

  /**
   * Where the count of writes starts: on kubesim, its request log's sequence number; in the real
   * lane, where no request log can be read (the API server keeps none a test can see, and the
   * worker is another process), the uid and resourceVersion of every object of every kind the
   * worker's Role lets it write, in the only namespace it is bound in: any write the worker makes
   * changes one of them (and the cluster-wide ClusterRole only reads).
   */
  private record Mark(long seq, Map<String, String> objects) {}

  private static Mark requestMark() throws Exception {
    if (stack.real()) {
      return new Mark(0, writableObjects());
    }
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(kubeUrl + "/kubesim/requests")).build(),
                HttpResponse.BodyHandlers.ofString());
    long mark = 0;
    for (JsonNode record : JSON.readTree(r.body())) {
      mark = Math.max(mark, record.path("seq").asLong());
    }
    return new Mark(mark, null);
  }

  private static long writesSince(Mark mark) throws Exception {
    if (stack.real()) {
      Map<String, String> now = writableObjects();
      List<String> changed = new ArrayList<>();
      now.forEach(
          (key, version) -> {
            if (!version.equals(mark.objects().get(key))) {
              changed.add(key);
            }
          });
      mark.objects().keySet().stream().filter(k -> !now.containsKey(k)).forEach(changed::add);
      if (!changed.isEmpty()) {
        System.err.println("written since the mark: " + changed);
      }
      return changed.size();
    }
    HttpResponse<String> r =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(kubeUrl + "/kubesim/requests?since=" + mark.seq()))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    long writes = 0;
    for (JsonNode record : JSON.readTree(r.body())) {
      String verb = record.path("verb").asText();
      int code = record.path("status").asInt();
      boolean write =
          List.of("create", "update", "patch", "delete", "deletecollection").contains(verb);
      if (write && code >= 200 && code < 300 && !record.path("dryRun").asBoolean()) {
        writes++;
      }
    }
    return writes;
  }

  /** kind/name/uid to resourceVersion of what docs/worker.md's Role may write in demo. */
  private static Map<String, String> writableObjects() {
    Map<String, String> objects = new java.util.TreeMap<>();
    List<List<? extends io.fabric8.kubernetes.api.model.HasMetadata>> lists =
        List.of(
            kube.apps().statefulSets().inNamespace("demo").list().getItems(),
            kube.apps().controllerRevisions().inNamespace("demo").list().getItems(),
            kube.apps().deployments().inNamespace("demo").list().getItems(),
            kube.apps().replicaSets().inNamespace("demo").list().getItems(),
            kube.pods().inNamespace("demo").list().getItems(),
            kube.batch().v1().jobs().inNamespace("demo").list().getItems(),
            kube.v1().events().inNamespace("demo").list().getItems());
    for (var list : lists) {
      for (var object : list) {
        objects.put(
            object.getKind()
                + "/"
                + object.getMetadata().getName()
                + "/"
                + object.getMetadata().getUid(),
            object.getMetadata().getResourceVersion());
      }
    }
    return objects;
  }

  @Test
  void upgradeWaitsAtTheGateWithOneUnitUpgradedThenResumeCompletesIt() throws Exception {
    String target = "demo/statefulset/postgresql";
    Processes.Result started =
        lockstep(
            "upgrade",
            target,
            "--image",
            "postgresql=postgres:14.9",
            "--as",
            "alice",
            "--reason",
            "minor upgrade");
    assertEquals(0, started.exit(), started.err());
    assertThat(started.out())
        .contains("upgrade of " + target + " started")
        .contains("rollback: lockstep rollback " + target);

    JsonNode gate = awaitPhase(target, "WAITING_FOR_RESUME");
    List<String> states = new ArrayList<>();
    gate.path("units")
        .forEach(u -> states.add(u.path("name").asText() + "=" + u.path("state").asText()));
    assertThat(states)
        .containsExactly("postgresql-2=UPGRADED", "postgresql-1=WAITING", "postgresql-0=WAITING");
    Processes.Result table = lockstep("status", target);
    assertThat(table.out())
        .contains("Target")
        .contains("WAITING_FOR_RESUME")
        .contains("postgres:14.8")
        .contains("postgres:14.9")
        .contains("1/3")
        .contains("waits for `lockstep resume` at the gate");

    Processes.Result resumed = lockstep("resume", target, "--as", "bob", "--reason", "healthy");
    assertEquals(0, resumed.exit(), resumed.err());
    assertThat(resumed.out()).contains("resumed at the gate");
    JsonNode done = awaitPhase(target, "COMPLETED");
    String to = done.path("toRevision").asText();
    for (Pod pod :
        kube.pods()
            .inNamespace("demo")
            .withLabel("app.kubernetes.io/name", "postgresql")
            .list()
            .getItems()) {
      assertEquals(to, pod.getMetadata().getLabels().get("controller-revision-hash"));
    }
    Processes.Result again = lockstep("resume", target);
    assertEquals(3, again.exit());
    assertThat(again.err()).startsWith("lockstep: resume refused: the upgrade has ended");

    Processes.Result audit = lockstep("audit", target, "-o", "json");
    assertEquals(0, audit.exit(), audit.err());
    JsonNode report = JSON.readTree(audit.out());
    assertEquals("alice", report.path("startedBy").asText());
    assertEquals("COMPLETED", report.path("outcome").asText());
    List<String> facts = new ArrayList<>();
    report
        .path("entries")
        .forEach(
            e ->
                facts.add(
                    e.path("what").asText()
                        + " "
                        + e.path("subject").asText()
                        + " "
                        + e.path("who").asText()
                        + " "
                        + e.path("reason").asText()));
    assertThat(facts)
        .containsSubsequence(
            "started  alice minor upgrade",
            "unit postgresql-2  ",
            "gate   ",
            "resume  bob healthy",
            "unit postgresql-1  ",
            "unit postgresql-0  ",
            "outcome   ");
    assertThat(lockstep("audit", target).out()).contains("Audit of " + target);
  }

  @Test
  void aSecondUpgradeOfTheSameTargetExits3NamingTheRunningOne() throws Exception {
    String target = "demo/statefulset/discourse";
    assertEquals(0, lockstep("upgrade", target, "--image", "discourse/discourse:3.3.0").exit());
    JsonNode gate = awaitPhase(target, "WAITING_FOR_RESUME");
    Mark mark = requestMark();
    Processes.Result second = lockstep("upgrade", target, "--image", "discourse/discourse:3.4.0");
    assertEquals(3, second.exit());
    assertThat(second.err())
        .startsWith("lockstep: refused: another upgrade of " + target)
        .contains(gate.path("runId").asText());
    Processes.Result plan = lockstep("plan", target, "--image", "discourse/discourse:3.4.0");
    assertEquals(1, plan.exit(), plan.err());
    assertThat(plan.out())
        .contains("another upgrade of " + target + " is running")
        .doesNotContain("ended without finishing");
    assertEquals(0, writesSince(mark));
    Processes.Result list = lockstep("list", "-n", "demo", "-o", "json");
    assertEquals(0, list.exit(), list.err());
    assertThat(JSON.readTree(list.out()))
        .anySatisfy(
            row -> {
              assertEquals(target, row.path("target").asText());
              assertEquals("WAITING_FOR_RESUME", row.path("phase").asText());
              assertEquals("lockstep resume", row.path("waitingFor").asText());
            });
    Processes.Result cancel = lockstep("cancel", target, "--reason", "test over");
    assertEquals(0, cancel.exit(), cancel.err());
    awaitPhase(target, "CANCELLED");
  }

  @Test
  void planPrintsWhatTheUpgradeWouldDoAndWritesNothing() throws Exception {
    String target = "demo/statefulset/ghostwire";
    Mark mark = requestMark();
    Processes.Result plan =
        lockstep(
            "plan", target, "--image", "ghostwire=ghcr.io/acme/ghostwire:2.1", "--gate", "none");
    assertEquals(0, plan.exit(), plan.err());
    assertThat(plan.out())
        .contains("Plan for " + target)
        .containsPattern(
            "spec\\.containers\\[ghostwire\\]\\.image: \\S+ -> ghcr.io/acme/ghostwire:2.1")
        .contains("1. ghostwire-0")
        .containsPattern("dry-run +ok")
        .contains("Rollback once started: lockstep rollback " + target)
        .contains("The upgrade could start. Nothing was changed.");
    Processes.Result refused =
        lockstep(
            "plan",
            target,
            "--image",
            "ghostwire=ghcr.io/acme/ghostwire:2.1",
            "--scale-up",
            "-f",
            writePlan(
                "target: demo/statefulset/ghostwire\n"
                    + "change:\n  resources: {ghostwire: {requests: {cpu: \"500\"}}}\n"));
    assertEquals(1, refused.exit(), refused.err());
    assertThat(refused.out()).containsPattern("capacity +FAILED +no node has room");
    assertEquals(0, writesSince(mark));
  }

  private static String writePlan(String yaml) throws Exception {
    Path file = Files.createTempFile(dir, "plan", ".yaml");
    Files.writeString(file, yaml);
    return file.toString();
  }

  @Test
  void badInputExits2WithOneLineAndWritesNothing() throws Exception {
    Path badPlan = dir.resolve("bad.yaml");
    Files.writeString(badPlan, "target: demo/statefulset/postgresql\ngates: first\n");
    Mark mark = requestMark();
    List<List<String>> cases =
        List.of(
            List.of("upgrade", "demo/deployment/web", "--image", "nginx:1.27"),
            List.of("upgrade", "demo/statefulset/postgresql", "--image", "postgresql=Postgres 15"),
            List.of(
                "upgrade",
                "demo/statefulset/postgresql",
                "--image",
                "postgresql=postgres:15",
                "--unit-timeout",
                "0s"),
            List.of(
                "upgrade",
                "demo/statefulset/postgresql",
                "--image",
                "postgresql=postgres:15",
                "--gate",
                "sometimes"),
            List.of("upgrade", "demo/statefulset/postgresql"),
            List.of("upgrade", "-f", badPlan.toString()),
            List.of("upgrade", "demo/statefulset/nothere", "--image", "x=postgres:15"),
            List.of("upgrade", "demo/statefulset/ghostwire", "--image", "sidecar=busybox:1.36"),
            List.of("status", "demo/daemonset/x"));
    for (List<String> args : cases) {
      Processes.Result r = lockstep(args.toArray(String[]::new));
      assertEquals(2, r.exit(), args + " -> " + r.err());
      assertThat(r.err()).as(args.toString()).startsWith("lockstep: ").hasLineCount(1);
    }
    assertThat(lockstep("upgrade", "-f", badPlan.toString()).err())
        .contains("line 2: unknown field 'gates'");
    assertEquals(0, writesSince(mark));
  }

  @Test
  void aKilledWorkerIsReplacedMidUnitAndAtTheGateAndNoPodIsReplacedTwice() throws Exception {
    kube.apps()
        .statefulSets()
        .inNamespace("demo")
        .resource(DevStack.statefulSet("ledger", 3, "example/ledger:1.0", 8080, null))
        .create();
    await()
        .atMost(60, SECONDS)
        .until(
            () -> {
              var s =
                  kube.apps()
                      .statefulSets()
                      .inNamespace("demo")
                      .withName("ledger")
                      .get()
                      .getStatus();
              return s != null && s.getReadyReplicas() != null && s.getReadyReplicas() == 3;
            });
    List<String[]> events = Collections.synchronizedList(new ArrayList<>());
    try (AutoCloseable rules = slowStart("example/ledger:2.0", "4s");
        Watch watch =
            kube.pods()
                .inNamespace("demo")
                .watch(
                    new Watcher<Pod>() {
                      @Override
                      public void eventReceived(Action action, Pod pod) {
                        events.add(
                            new String[] {
                              pod.getMetadata().getName(),
                              pod.getMetadata().getUid(),
                              pod.getSpec().getContainers().get(0).getImage()
                            });
                      }

                      @Override
                      public void onClose(WatcherException cause) {}
                    })) {
      String target = "demo/statefulset/ledger";
      Processes.Result started =
          lockstep("upgrade", target, "--image", "example/ledger:2.0", "--heartbeat-timeout", "3s");
      assertEquals(0, started.exit(), started.err());
      // SIGKILL while the first unit is being replaced.
      await()
          .atMost(60, SECONDS)
          .until(
              () ->
                  events.stream()
                      .anyMatch(e -> e[0].equals("ledger-2") && e[2].equals("example/ledger:2.0")));
      killWorker();
      awaitPhase(target, "WAITING_FOR_RESUME");
      // SIGKILL while it waits at the gate; the gate is Temporal's, not the worker's.
      killWorker();
      Processes.Result resumed = lockstep("resume", target);
      assertEquals(0, resumed.exit(), resumed.err());
      awaitPhase(target, "COMPLETED");
      for (String pod : List.of("ledger-0", "ledger-1", "ledger-2")) {
        long incarnations =
            events.stream()
                .filter(e -> e[0].equals(pod) && e[2].equals("example/ledger:2.0"))
                .map(e -> e[1])
                .distinct()
                .count();
        assertEquals(1, incarnations, pod + " was replaced more than once");
      }
    }
  }

  /** A Deployment like the demo's aeterna, named {@code name}, with its Service. */
  private static void deploymentWithService(String name, int replicas) {
    io.fabric8.kubernetes.api.model.apps.Deployment d =
        new io.fabric8.kubernetes.api.model.apps.DeploymentBuilder(DevStack.aeterna())
            .editMetadata()
            .withName(name)
            .withLabels(Map.of("app.kubernetes.io/name", name))
            .endMetadata()
            .editSpec()
            .withReplicas(replicas)
            .editSelector()
            .withMatchLabels(Map.of("app.kubernetes.io/name", name))
            .endSelector()
            .editTemplate()
            .editMetadata()
            .withLabels(Map.of("app.kubernetes.io/name", name))
            .endMetadata()
            .editSpec()
            .editFirstContainer()
            .withName(name)
            .withImage("example/" + name + ":1.0")
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    kube.apps().deployments().inNamespace("demo").resource(d).create();
    kube.services().inNamespace("demo").resource(DevStack.service(name, "http")).create();
    await()
        .atMost(60, SECONDS)
        .until(
            () -> {
              var status =
                  kube.apps().deployments().inNamespace("demo").withName(name).get().getStatus();
              return status != null
                  && status.getReadyReplicas() != null
                  && status.getReadyReplicas() == replicas;
            });
  }

  /** Every pod of the namespace the watch saw: uid to image. */
  private static final class PodsSeen implements Watcher<Pod> {
    final Map<String, String> images = new java.util.concurrent.ConcurrentHashMap<>();

    @Override
    public void eventReceived(Action action, Pod pod) {
      images.put(pod.getMetadata().getUid(), pod.getSpec().getContainers().get(0).getImage());
    }

    @Override
    public void onClose(WatcherException cause) {}

    long on(String image) {
      return images.values().stream().filter(image::equals).count();
    }
  }

  /**
   * The new version starts in {@code startup}, so that a kill lands while its pods come up; until
   * the returned rules are closed.
   */
  private static AutoCloseable slowStart(String image, String startup) {
    kube.configMaps()
        .inNamespace("kube-system")
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("kubesim-behaviour")
                .endMetadata()
                .addToData("rules", image + " startup " + startup + "\n")
                .build())
        .createOr(io.fabric8.kubernetes.client.dsl.NonDeletingOperation::update);
    return () ->
        kube.configMaps().inNamespace("kube-system").withName("kubesim-behaviour").delete();
  }

  /**
   * The end state every Deployment strategy promises: COMPLETED, the user's Deployment on the new
   * image at its replicas with every pod Ready on it, its Service selecting it as before, and
   * nothing of Lockstep's left (no object labelled with a run, no run annotation).
   */
  private static void assertFinished(String name, int replicas, String image) {
    var d = kube.apps().deployments().inNamespace("demo").withName(name).get();
    assertEquals(image, d.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    assertEquals(replicas, d.getSpec().getReplicas());
    assertThat(d.getMetadata().getAnnotations().keySet())
        .noneMatch(k -> k.equals("lockstep.dev/run"));
    assertEquals(
        Map.of("app.kubernetes.io/name", name),
        kube.services().inNamespace("demo").withName(name).get().getSpec().getSelector());
    await()
        .atMost(60, SECONDS)
        .untilAsserted(
            () -> {
              assertThat(
                      kube.apps().deployments().inNamespace("demo").list().getItems().stream()
                          .map(x -> x.getMetadata().getName()))
                  .as("Deployments of Lockstep's left in demo")
                  .noneMatch(n -> n.startsWith(name + "-"));
              String run = "lockstep.dev/run";
              assertThat(
                      List.of(
                          kube.apps().deployments().inNamespace("demo").withLabel(run).list(),
                          kube.services().inNamespace("demo").withLabel(run).list(),
                          kube.pods().inNamespace("demo").withLabel(run).list()))
                  .as("objects labelled with a run")
                  .allMatch(list -> list.getItems().isEmpty());
              List<Pod> pods =
                  kube.pods()
                      .inNamespace("demo")
                      .withLabel("app.kubernetes.io/name", name)
                      .list()
                      .getItems();
              assertThat(pods).hasSize(replicas);
              assertThat(pods)
                  .allMatch(p -> image.equals(p.getSpec().getContainers().get(0).getImage()));
            });
  }

  @Test
  void aCanaryKilledMidWeightAndAtItsGateEndsPromotedWithEveryNewPodStartedOnce() throws Exception {
    deploymentWithService("cart", 4);
    Path plan = dir.resolve("cart-canary.yaml");
    Files.writeString(
        plan,
        "target: demo/deployment/cart\n"
            + "change:\n"
            + "  images: {cart: example/cart:2.0}\n"
            + "strategy:\n"
            + "  canary:\n"
            + "    steps:\n"
            + "    - setWeight: 50\n"
            + "    - pause: {}\n");
    PodsSeen seen = new PodsSeen();
    String target = "demo/deployment/cart";
    try (AutoCloseable rules = slowStart("example/cart:2.0", "2s");
        Watch watch = kube.pods().inNamespace("demo").watch(seen)) {
      Processes.Result started =
          lockstep("upgrade", "-f", plan.toString(), "--heartbeat-timeout", "3s");
      assertEquals(0, started.exit(), started.err());
      // SIGKILL while the canary's pods come up (mid-weight), then again at its gate.
      await().atMost(60, SECONDS).until(() -> seen.on("example/cart:2.0") > 0);
      killWorker();
      awaitPhase(target, "WAITING_FOR_RESUME");
      killWorker();
      Processes.Result resumed = lockstep("resume", target);
      assertEquals(0, resumed.exit(), resumed.err());
      awaitPhase(target, "COMPLETED");
      assertFinished("cart", 4, "example/cart:2.0");
      // The canary's 2 (50% of 4) and the promotion's 4: none started twice.
      assertEquals(6, seen.on("example/cart:2.0"), "pods started on the new version");
    }
  }

  @Test
  void aBlueGreenKilledAfterTheSwitchAndInItsScaleDownDelayEndsWithEveryPodStartedOnce()
      throws Exception {
    deploymentWithService("pay", 2);
    Path plan = dir.resolve("pay-bg.yaml");
    Files.writeString(
        plan,
        "target: demo/deployment/pay\n"
            + "change:\n"
            + "  images: {pay: example/pay:2.0}\n"
            + "strategy:\n"
            + "  blueGreen:\n"
            + "    scaleDownDelay: 5s\n");
    PodsSeen seen = new PodsSeen();
    String target = "demo/deployment/pay";
    java.util.function.Supplier<Map<String, String>> selector =
        () -> kube.services().inNamespace("demo").withName("pay").get().getSpec().getSelector();
    Map<String, String> own = selector.get();
    try (AutoCloseable rules = slowStart("example/pay:2.0", "2s");
        Watch watch = kube.pods().inNamespace("demo").watch(seen)) {
      Processes.Result started =
          lockstep("upgrade", "-f", plan.toString(), "--heartbeat-timeout", "3s");
      assertEquals(0, started.exit(), started.err());
      awaitPhase(target, "WAITING_FOR_RESUME");
      assertEquals(0, lockstep("resume", target).exit());
      // SIGKILL once the Service points at the preview (between the switch and the way back).
      await().atMost(60, SECONDS).until(() -> !own.equals(selector.get()));
      killWorker();
      // Again once it points back at the user's pods: the preview waits out its scale-down delay.
      await().atMost(90, SECONDS).until(() -> own.equals(selector.get()));
      killWorker();
      awaitPhase(target, "COMPLETED");
      assertFinished("pay", 2, "example/pay:2.0");
      // The preview's 2 and the Deployment's own 2: none started twice.
      assertEquals(4, seen.on("example/pay:2.0"), "pods started on the new version");
    }
  }

  @Test
  void aRollingUpdateKilledMidWaveAndAtItsGateEndsWithEveryPodStartedOnce() throws Exception {
    deploymentWithService("feed", 2);
    PodsSeen seen = new PodsSeen();
    String target = "demo/deployment/feed";
    try (AutoCloseable rules = slowStart("example/feed:2.0", "2s");
        Watch watch = kube.pods().inNamespace("demo").watch(seen)) {
      Processes.Result started =
          lockstep(
              "upgrade",
              target,
              "--image",
              "example/feed:2.0",
              "--gate",
              "first",
              "--heartbeat-timeout",
              "3s");
      assertEquals(0, started.exit(), started.err());
      await().atMost(60, SECONDS).until(() -> seen.on("example/feed:2.0") > 0);
      killWorker();
      awaitPhase(target, "WAITING_FOR_RESUME");
      killWorker();
      assertEquals(0, lockstep("resume", target).exit());
      awaitPhase(target, "COMPLETED");
      assertFinished("feed", 2, "example/feed:2.0");
      assertEquals(2, seen.on("example/feed:2.0"), "pods started on the new version");
    }
  }

  @Test
  void theWorkersKubeconfigHoldsOnlyThePublishedRbac() throws Exception {
    if (!stack.real()) {
      String why =
          "EndToEndIT.theWorkersKubeconfigHoldsOnlyThePublishedRbac: real lane only (kubesim has"
              + " no RBAC)";
      System.err.println(why);
      Assumptions.abort(why);
    }
    try (KubernetesClient asWorker =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(stack.kubeconfig())))
            .build()) {
      assertThat(asWorker.apps().statefulSets().inNamespace("demo").list().getItems()).isNotEmpty();
      // The Role names no ServiceAccounts, and binds nothing outside demo.
      KubernetesClientException refused =
          assertThrows(
              KubernetesClientException.class,
              () ->
                  asWorker
                      .serviceAccounts()
                      .inNamespace("demo")
                      .resource(
                          new io.fabric8.kubernetes.api.model.ServiceAccountBuilder()
                              .withNewMetadata()
                              .withName("x")
                              .endMetadata()
                              .build())
                      .create());
      assertEquals(403, refused.getCode());
      assertEquals(
          403,
          assertThrows(
                  KubernetesClientException.class,
                  () -> asWorker.apps().statefulSets().inNamespace("kube-system").list())
              .getCode());
    }
  }

  @Test
  void rollbackWithNoUpgradeRunningRestoresTheRevisionTheLastRunStartedFrom() throws Exception {
    String target = "demo/statefulset/ghostwire";
    Processes.Result upgraded =
        lockstep("upgrade", target, "--image", "ghcr.io/example/ghostwire:1.5.0", "--wait");
    assertEquals(0, upgraded.exit(), upgraded.err());
    String from = status(target).path("fromRevision").asText();
    Processes.Result rolledBack = lockstep("rollback", target, "--wait", "--reason", "1.5 is slow");
    assertEquals(0, rolledBack.exit(), rolledBack.err());
    assertThat(rolledBack.out()).contains("rollback to revision " + from + " of " + target);
    JsonNode done = status(target);
    assertEquals("COMPLETED", done.path("phase").asText());
    assertEquals(
        "ghcr.io/example/ghostwire:1.4.0", done.path("toImages").path("ghostwire").asText());
    assertEquals(
        "ghcr.io/example/ghostwire:1.4.0",
        kube.apps()
            .statefulSets()
            .inNamespace("demo")
            .withName("ghostwire")
            .get()
            .getSpec()
            .getTemplate()
            .getSpec()
            .getContainers()
            .get(0)
            .getImage());
    Processes.Result missing = lockstep("rollback", target, "--to-revision", "99");
    assertEquals(2, missing.exit());
    assertThat(missing.err())
        .startsWith("lockstep: invalid plan: revision 99 of " + target + " not found");
  }
}
