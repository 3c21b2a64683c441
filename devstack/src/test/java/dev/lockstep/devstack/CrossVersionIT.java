package dev.lockstep.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs that survive Lockstep's own upgrade: a worker built from an older version starts an upgrade
 * and is SIGKILLed while the run waits at its gate; this build's worker takes the run over,
 * replaying the old worker's history, and finishes it.
 *
 * <p>The older version is {@code -Dlockstep.crossversion.version} (default {@code v0.2.0}): that
 * git tag or commit, else the commit written in {@code
 * src/test/resources/cross-version/VERSION.commit} (a clone without the tag). Its worker jar is
 * built once, offline, into {@code target/cross-version/SHA}. A clone that holds neither (a shallow
 * one) skips the test and says why.
 */
class CrossVersionIT {
  private static final String VERSION =
      System.getProperty("lockstep.crossversion.version", "v0.2.0");
  private static final Path COMMIT_FILE =
      Processes.ROOT.resolve("devstack/src/test/resources/cross-version/" + VERSION + ".commit");
  private static final Path CACHE = Processes.ROOT.resolve("devstack/target/cross-version");
  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(15);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> NON_DETERMINISM = List.of("NonDeterministic", "TMPRL1100");

  @TempDir static Path dir;
  private static Path oldWorker;
  private static String skipped;

  @BeforeAll
  static void buildTheOldWorker() throws Exception {
    String sha = commit();
    if (sha != null) {
      oldWorker = build(sha);
      return;
    }
    skipped =
        "CrossVersionIT skipped: "
            + VERSION
            + " is neither a tag nor a commit of this clone, nor is the commit named in "
            + Processes.ROOT.relativize(COMMIT_FILE)
            + " (a shallow clone? git fetch --unshallow --tags)";
    System.err.println(skipped);
  }

  @Test
  void aRunStartedByTheOldWorkerAndLeftAtTheGateIsFinishedByTheCurrentOne() throws Exception {
    // Here rather than in @BeforeAll, so that the report counts the test as skipped.
    Assumptions.assumeTrue(skipped == null, skipped);
    String target = "demo/statefulset/postgresql";
    try (Processes.Stack stack = Processes.devStack(dir)) {
      Map<String, String> env = stack.env();
      JsonNode gate;
      try (Processes.Running old = stack.worker(oldWorker)) {
        Processes.Result started =
            Processes.cli(
                env,
                "upgrade",
                target,
                "--image",
                "postgresql=postgres:14.9",
                "--gate",
                "first",
                "--as",
                "alice",
                "--reason",
                "cross-version");
        assertEquals(0, started.exit(), started.err());
        gate = Processes.awaitPhase(env, target, "WAITING_FOR_RESUME");
        // The gate is Temporal's: the old worker holds nothing of the run when it dies.
        old.kill();
      }
      try (Processes.Running current = stack.worker(Processes.WORKER)) {
        Processes.Result resumed =
            Processes.cli(
                env, "resume", target, "--as", "bob", "--reason", "old worker gone, new one here");
        assertEquals(0, resumed.exit(), resumed.err() + nonDeterminism(current));
        JsonNode done = Processes.awaitPhase(env, target, "COMPLETED");

        assertEquals(gate.path("runId").asText(), done.path("runId").asText(), "the same run");
        String to = done.path("toRevision").asText();
        assertThat(to).isNotEmpty().isNotEqualTo(done.path("fromRevision").asText());
        Map<String, String> revisions = new TreeMap<>();
        done.path("units")
            .forEach(u -> revisions.put(u.path("name").asText(), u.path("revision").asText()));
        assertThat(revisions)
            .hasSize(3)
            .allSatisfy((unit, revision) -> assertThat(revision).as(unit).isEqualTo(to));
        Processes.Result audit = Processes.cli(env, "audit", target, "-o", "json");
        assertEquals(0, audit.exit(), audit.err());
        assertThat(JSON.readTree(audit.out()).path("entries"))
            .anySatisfy(
                e -> {
                  assertEquals("resume", e.path("what").asText());
                  assertEquals("bob", e.path("who").asText());
                  assertEquals("old worker gone, new one here", e.path("reason").asText());
                });
        // It completed, so the current worker replayed the old one's history; a non-determinism
        // error it survived by retrying would still show here.
        assertThat(nonDeterminism(current)).isEmpty();
      }
    }
  }

  /** The lines in which {@code worker} told of a non-deterministic replay. */
  private static List<String> nonDeterminism(Processes.Running worker) {
    synchronized (worker.lines) {
      return worker.lines.stream()
          .filter(line -> NON_DETERMINISM.stream().anyMatch(line::contains))
          .limit(3)
          .toList();
    }
  }

  /** The tag or commit {@link #VERSION}, else the commit its file names; null if none is here. */
  private static String commit() throws Exception {
    String sha = revParse(VERSION);
    if (sha == null && Files.isRegularFile(COMMIT_FILE)) {
      sha = revParse(Files.readString(COMMIT_FILE).trim());
    }
    return sha;
  }

  private static String revParse(String rev) throws Exception {
    Path out = Files.createTempFile(dir, "rev-parse", ".txt");
    int exit;
    try {
      exit =
          run(
              Processes.ROOT,
              out,
              Duration.ofSeconds(30),
              "git",
              "rev-parse",
              "--verify",
              "--quiet",
              rev + "^{commit}");
    } catch (IOException noGit) {
      return null;
    }
    // The sha alone: git may add a warning on stderr, which shares the file.
    return exit != 0
        ? null
        : Files.readAllLines(out).stream()
            .filter(line -> line.matches("[0-9a-f]{40}"))
            .findFirst()
            .orElse(null);
  }

  /**
   * The worker jar of commit {@code sha}, built the first time into {@code
   * target/cross-version/SHA} (in a temporary directory moved there once complete, so an
   * interrupted build is never taken for a finished one).
   */
  private static Path build(String sha) throws Exception {
    Path tree = CACHE.resolve(sha);
    Path jar = Path.of("worker", "target", "lockstep-worker.jar");
    if (Files.isRegularFile(tree.resolve(jar))) {
      return tree.resolve(jar);
    }
    Files.createDirectories(CACHE);
    Path building = Files.createTempDirectory(CACHE, sha + ".");
    Path log = building.resolveSibling(building.getFileName() + ".log");
    Path archive = building.resolveSibling(building.getFileName() + ".tar");
    long start = System.nanoTime();
    succeeded(
        run(Processes.ROOT, log, Duration.ofMinutes(1), "git", "archive", "-o", archive + "", sha),
        "git archive " + sha,
        log);
    succeeded(run(building, log, Duration.ofMinutes(1), "tar", "-xf", archive + ""), "tar", log);
    Files.delete(archive);
    List<String> mvn =
        new ArrayList<>(
            List.of(
                maven(),
                "-o",
                "-q",
                "-B",
                "-pl",
                "worker",
                "-am",
                "package",
                "-Dmaven.test.skip=true",
                "-Dspotless.check.skip=true"));
    String repository = System.getProperty("lockstep.maven.repo", "");
    if (!repository.isEmpty()) {
      mvn.add("-Dmaven.repo.local=" + repository);
    }
    String what = "building the worker of " + VERSION + " (" + sha + ") in " + building;
    succeeded(run(building, log, BUILD_TIMEOUT, mvn.toArray(String[]::new)), what, log);
    if (!Files.isRegularFile(building.resolve(jar))) {
      throw new AssertionError(what + " made no " + jar + " (was it renamed in that version?)");
    }
    System.err.printf(
        "CrossVersionIT: built the worker of %s (%s) in %d s%n",
        VERSION, sha, TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start));
    try {
      Files.move(building, tree, StandardCopyOption.ATOMIC_MOVE);
    } catch (FileAlreadyExistsException | DirectoryNotEmptyException builtMeanwhile) {
      return tree.resolve(jar);
    }
    Files.delete(log);
    return tree.resolve(jar);
  }

  /** The Maven running this build (failsafe passes its home), else {@code mvn} on the PATH. */
  private static String maven() {
    String home = System.getProperty("lockstep.maven.home", "");
    Path mvn = Path.of(home, "bin", "mvn");
    return !home.isEmpty() && Files.isExecutable(mvn) ? mvn.toString() : "mvn";
  }

  /**
   * Runs {@code command} in {@code workDir}, its output added to {@code log}; its exit code, or -1
   * when it had not ended within {@code timeout} (then it is killed).
   */
  private static int run(Path workDir, Path log, Duration timeout, String... command)
      throws IOException, InterruptedException {
    Process process =
        new ProcessBuilder(command)
            .directory(workDir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      return -1;
    }
    return process.exitValue();
  }

  private static void succeeded(int exit, String what, Path log) throws IOException {
    if (exit == 0) {
      return;
    }
    List<String> lines = Files.readAllLines(log);
    throw new AssertionError(
        what
            + (exit == -1 ? " did not end in time" : " failed (exit " + exit + ")")
            + "; the last lines of "
            + log
            + ":\n"
            + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())));
  }
}
