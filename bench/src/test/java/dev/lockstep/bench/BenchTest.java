package dev.lockstep.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The arithmetic and the report of the benchmarks (the measurements run with `lockstep bench`). */
class BenchTest {
  @Test
  void mediansAndPercentilesAreTheUsualOnes() {
    assertEquals(2.0, Bench.median(List.of(3.0, 1.0, 2.0)));
    assertEquals(2.5, Bench.median(List.of(4.0, 1.0, 2.0, 3.0)));
    List<Double> hundred = new java.util.ArrayList<>();
    for (int i = 1; i <= 100; i++) {
      hundred.add((double) i);
    }
    assertEquals(50.0, Bench.percentile(hundred, 0.5));
    assertEquals(95.0, Bench.percentile(hundred, 0.95));
    assertEquals(100.0, Bench.percentile(hundred, 1.0));
  }

  @Test
  void aTableIsMarkdownForTheDocsAndTextForTheTerminal() {
    Bench.Table t =
        new Bench.Table("B9", "example", List.of("a", "b"), List.of(List.of("1", "2")), "a note");
    assertThat(t.markdown())
        .isEqualTo("### B9 example\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\na note\n");
    assertThat(t.text()).startsWith("B9 example\na  b  \n1  2  \n");
  }

  @Test
  void aTableSaysWhatItWasMeasuredOnAndWhatRan() {
    Bench.Measured measured =
        new Bench.Measured(
            "commit abc1234-dirty",
            Instant.parse("2026-11-27T16:40:03.5Z"),
            Instant.parse("2026-11-27T16:52:10Z"),
            "1 run per size",
            "--full");
    Bench.Table t =
        new Bench.Table(
            "B9",
            "example",
            List.of("a", "b"),
            List.of(Bench.failedRow("1", 2)),
            "a note." + Bench.failedNote(List.of("run 2: the floor settled: not within 5 min")),
            measured);
    assertThat(t.markdown())
        .isEqualTo(
            "### B9 example\n\nMeasured on commit abc1234-dirty from 2026-11-27T16:40:03Z to"
                + " 2026-11-27T16:52:10Z; 1 run per size; options --full.\n\n| a | b |\n|---|---|\n"
                + "| 1 | FAILED |\n\na note. FAILED: run 2: the floor settled: not within 5 min.\n");
    assertThat(t.text()).contains("Measured on commit abc1234-dirty from");
  }

  @Test
  void aWaitThatNeverSeesItsConditionSaysSoInsteadOfMeasuring() throws Exception {
    AtomicInteger asked = new AtomicInteger();
    assertEquals(
        "yes",
        Bench.await(
            "third time",
            Duration.ofSeconds(5),
            Duration.ofMillis(1),
            () -> asked.incrementAndGet() == 3 ? "yes" : null));
    assertThatThrownBy(
            () -> Bench.await("never", Duration.ofMillis(30), Duration.ofMillis(5), () -> null))
        .isInstanceOf(Bench.NotMeasured.class)
        .hasMessage("never: not within 30 ms");
  }

  @Test
  void theCommitIsMarkedDirtyWhenTheTreeDiffersButNotForTheResultsFile(@TempDir Path repo)
      throws Exception {
    git(repo, "init", "-q");
    Files.writeString(repo.resolve("code.java"), "class A {}");
    Files.writeString(repo.resolve("results.md"), "## Results");
    git(repo, "add", ".");
    git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "one");
    String head = git(repo, "rev-parse", "--short", "HEAD").strip();

    assertEquals("commit " + head, Bench.commit(repo, repo.resolve("results.md")));
    Files.writeString(repo.resolve("results.md"), "## Results\nnew");
    assertEquals("commit " + head, Bench.commit(repo, repo.resolve("results.md")));
    assertEquals("commit " + head + "-dirty", Bench.commit(repo, null));
    Files.writeString(repo.resolve("code.java"), "class B {}");
    assertEquals("commit " + head + "-dirty", Bench.commit(repo, repo.resolve("results.md")));
    assertEquals("unknown commit", Bench.commit(repo.resolve("nowhere"), null));
    Path outside = Files.createTempFile("results", ".md");
    assertEquals("commit " + head + "-dirty", Bench.commit(repo, outside));
    Files.delete(outside);
  }

  @Test
  void writingResultsReplacesTheTablesThatRanAndKeepsTheOthers(@TempDir Path dir) throws Exception {
    Path doc = dir.resolve("benchmarks.md");
    Files.writeString(
        doc,
        "# Benchmarks\n\nintro\n\n## Results\n\nMachine: old.\n\n### B1 old one\n\nold B1\n\n"
            + "### B2 kept\n\nold B2\n");
    Bench.write(
        doc, List.of(new Bench.Table("B1", "new one", List.of("a"), List.of(List.of("1")), "")));
    String written = Files.readString(doc);
    assertThat(written).startsWith("# Benchmarks\n\nintro\n\n## Results\n\nMachine: ");
    assertThat(written).contains("### B1 new one\n\n| a |").doesNotContain("old B1");
    assertThat(written).contains("### B2 kept\n\nold B2\n");
    assertThat(written.indexOf("### B1")).isLessThan(written.indexOf("### B2"));
  }

  private static Deployment deployment(String image, int updated, int available, int total) {
    return new DeploymentBuilder()
        .withNewMetadata()
        .withName("web")
        .withUid("d-1")
        .withGeneration(2L)
        .endMetadata()
        .withNewSpec()
        .withReplicas(8)
        .withNewTemplate()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(image)
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .withNewStatus()
        .withObservedGeneration(2L)
        .withReplicas(total)
        .withUpdatedReplicas(updated)
        .withAvailableReplicas(available)
        .endStatus()
        .build();
  }

  private static ReplicaSet replicaSet(String owner, String image, int spec, int status) {
    return new ReplicaSetBuilder()
        .withNewMetadata()
        .addNewOwnerReference()
        .withUid(owner)
        .endOwnerReference()
        .endMetadata()
        .withNewSpec()
        .withReplicas(spec)
        .withNewTemplate()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(image)
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .withNewStatus()
        .withReplicas(status)
        .endStatus()
        .build();
  }

  @Test
  void theFloorEndsWhenEveryReplicaIsUpdatedAndAvailableAndTheOldReplicaSetIsAtZero() {
    String to = "example/app:2.0";
    ReplicaSet fresh = replicaSet("d-1", to, 8, 8);
    assertThat(
            Bench.rolledOut(
                deployment(to, 8, 8, 8), List.of(fresh, replicaSet("d-1", "old", 0, 0)), to))
        .isTrue();
    // The old ReplicaSet scaled to 0 but its pods not gone yet: not done.
    assertThat(
            Bench.rolledOut(
                deployment(to, 8, 8, 8), List.of(fresh, replicaSet("d-1", "old", 0, 2)), to))
        .isFalse();
    assertThat(Bench.rolledOut(deployment(to, 8, 6, 10), List.of(fresh), to)).isFalse();
    assertThat(Bench.rolledOut(deployment("old", 8, 8, 8), List.of(fresh), to)).isFalse();
    // A canary's or a preview's ReplicaSet (another owner) is not the Deployment's old one.
    assertThat(
            Bench.rolledOut(
                deployment(to, 8, 8, 8), List.of(fresh, replicaSet("canary", "old", 2, 2)), to))
        .isTrue();
  }

  @Test
  void b7SaysPerStrategyTheRatioToTheFloorOfTheSameRepetitionAndWhetherTheCanaryMetItsTarget() {
    Bench bench = new Bench(false, 2);
    Bench.StrategyRuns floor = new Bench.StrategyRuns();
    floor.seconds.addAll(List.of(2.0, 4.0));
    floor.pods.addAll(List.of(1.0, 1.0));
    Map<String, Bench.StrategyRuns> runs = new LinkedHashMap<>();
    for (String strategy : Bench.B7_STRATEGIES) {
      Bench.StrategyRuns x = new Bench.StrategyRuns();
      x.seconds.addAll(List.of(3.0, 5.0));
      x.ratios.addAll(List.of(1.5, 1.25));
      x.events.addAll(List.of(4.0, 4.0));
      x.requests.addAll(List.of(10.0, 12.0));
      x.writes.addAll(List.of(1.0, 1.0));
      x.pods.addAll(List.of(1.5, 1.5));
      runs.put(strategy, x);
    }
    runs.get("blue-green").failures.add("run 2: the upgrade ended FAILED (x)");

    Bench.Table t = bench.b7Table(floor, runs, null);

    assertThat(t.rows().get(0))
        .containsExactly(
            "Deployment RollingUpdate, no Lockstep (the floor)",
            "3.00 s",
            "3.00 s",
            "1.00",
            "1.00",
            "-",
            "-",
            "1.00");
    assertThat(t.rows().get(2))
        .containsExactly(
            "Lockstep canary, gate none",
            "4.00 s",
            "4.00 s",
            "1.375",
            "1.375",
            "4.0",
            "11.0 (1.0)",
            "1.50");
    assertThat(t.rows().get(3)).startsWith("Lockstep blue-green, gate none", "FAILED");
    assertThat(t.note())
        .startsWith("Target (issue 15): canary ratio (median) <= 1.05: not met (1.375).")
        .endsWith("FAILED: blue-green, run 2: the upgrade ended FAILED (x).");
  }

  private static String git(Path dir, String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of("git", "-C", dir.toString()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void aBadCommandLineIsOneLineSayingWhatIsWrong() {
    assertThatThrownBy(() -> Bench.parse("B6", "--write"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--write needs a value: B1..B7");
    assertThatThrownBy(() -> Bench.parse("--repeat", "many"))
        .hasMessageStartingWith("--repeat takes whole numbers, not 'many'");
    assertThatThrownBy(() -> Bench.parse("B9")).hasMessageStartingWith("unknown argument 'B9'");
    Bench.Args args = Bench.parse("B1", "B6", "--repeat", "7", "--write", "docs/benchmarks.md");
    assertEquals(java.util.List.of("B1", "B6"), args.which());
    assertEquals(7, args.repeat());
    assertEquals(Path.of("docs/benchmarks.md"), args.write());
  }
}
