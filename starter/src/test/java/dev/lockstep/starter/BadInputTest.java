package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micronaut.context.ApplicationContext;
import io.micronaut.context.env.Environment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bad-input corpus: invalid command lines and plan files, each answered with one {@code
 * lockstep:} line and exit 2 before anything connects anywhere (no Temporal listens on the address
 * used: a command that tried would exit 4), so nothing can have been written. What only the worker
 * can find (a target that does not exist, an unknown container) is in the end-to-end tests.
 */
class BadInputTest {
  @TempDir static Path dir;

  static Stream<Arguments> commandLines() {
    String longName = "a".repeat(53);
    String longNamespace = "n".repeat(64);
    return Stream.of(
        bad(
            "a blue-green of a StatefulSet",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=postgres:15",
            "--strategy",
            "blue-green"),
        bad(
            "scale-up of a Deployment",
            "upgrade",
            "demo/deployment/web",
            "--image",
            "nginx:1.27",
            "--scale-up"),
        bad("unsupported kind", "upgrade", "demo/daemonset/agent", "--image", "agent:1"),
        bad("bad image reference", "upgrade", "demo/sts/pg", "--image", "pg=Not An Image"),
        bad("image with uppercase path", "upgrade", "demo/sts/pg", "--image", "pg=Postgres:15"),
        bad(
            "negative unit timeout",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=postgres:15",
            "--unit-timeout",
            "-1m"),
        bad(
            "zero unit timeout",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=postgres:15",
            "--unit-timeout",
            "0s"),
        bad(
            "unit timeout not a duration",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=postgres:15",
            "--unit-timeout",
            "soon"),
        bad(
            "unknown gate",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=postgres:15",
            "--gate",
            "later"),
        bad(
            "unknown failure policy",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=postgres:15",
            "--on-failure",
            "explode"),
        bad(
            "image without container before =",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "=postgres:15"),
        bad("image with empty reference", "upgrade", "demo/sts/pg", "--image", "pg="),
        bad("missing target", "upgrade", "--image", "postgres:15"),
        bad("no change", "upgrade", "demo/sts/pg"),
        bad("target with too many parts", "upgrade", "a/b/c/d", "--image", "x:1"),
        bad("target without a name", "upgrade", "demo/sts/", "--image", "x:1"),
        bad("namespace not a DNS label", "upgrade", "Demo/sts/pg", "--image", "x:1"),
        bad("name over 52 characters", "upgrade", "demo/sts/" + longName, "--image", "x:1"),
        bad("namespace over 63 characters", "upgrade", longNamespace + "/sts/pg", "--image", "x:1"),
        bad("invalid container name", "upgrade", "demo/sts/pg", "--image", "Bad_Container=x:1"),
        bad(
            "two images without container",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "x:1",
            "--image",
            "y:2"),
        bad(
            "unknown check to force",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=x:1",
            "--force",
            "speed"),
        bad(
            "a check that cannot be forced",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=x:1",
            "--force",
            "dry-run"),
        bad("unknown option", "upgrade", "demo/sts/pg", "--image", "pg=x:1", "--colour", "blue"),
        bad(
            "invalid cluster name",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=x:1",
            "--cluster",
            "Bad Cluster"),
        bad(
            "zero heartbeat timeout",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=x:1",
            "--heartbeat-timeout",
            "0s"),
        bad(
            "negative verdict timeout",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=x:1",
            "--verdict-timeout",
            "-5s"),
        bad(
            "boolean flag with a value",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=x:1",
            "--scale-up=maybe"),
        bad("unknown output format", "status", "demo/sts/pg", "-o", "xml"),
        bad("malformed target to steer", "resume", "a/b/c/d"),
        bad("option of another command", "retry", "demo/sts/pg", "--to-revision", "3"),
        bad("repair without a choice", "repair", "demo/sts/pg"),
        bad("repair with both choices", "repair", "demo/sts/pg", "--continue", "--restore"),
        bad("gate with a restore repair", "repair", "demo/sts/pg", "--restore", "--gate", "none"),
        bad(
            "data risk with a continuing repair",
            "repair",
            "demo/sts/pg",
            "--continue",
            "--accept-data-risk"),
        bad("empty revision", "rollback", "demo/sts/pg", "--to-revision", ""),
        bad("plan output format", "plan", "demo/sts/pg", "--image", "pg=x:1", "-o", "xml"),
        bad("audit output format", "audit", "demo/sts/pg", "-o", "xml"),
        bad("list namespace not a DNS label", "list", "-n", "Bad_NS"),
        bad("history output format", "history", "demo/sts/pg", "-o", "xml"),
        bad("unknown command", "upgrad", "demo/sts/pg"));
  }

  static Stream<Arguments> planFiles() {
    return Stream.of(
        plan("malformed YAML", "target: [unclosed\n"),
        plan("unknown field", "target: demo/sts/pg\ngates: first\n"),
        plan("wrong type", "target: demo/sts/pg\nchange: {images: {pg: x:1}}\nretries: many\n"),
        plan("images as a list", "target: demo/sts/pg\nchange: {images: [a, b]}\n"),
        plan("retries over 10", "target: demo/sts/pg\nchange: {images: {pg: x:1}}\nretries: 11\n"),
        plan(
            "crashLoopRestarts 0",
            "target: demo/sts/pg\nchange: {images: {pg: x:1}}\ncrashLoopRestarts: 0\n"),
        plan(
            "hook with neither image nor job",
            "target: demo/sts/pg\nchange: {images: {pg: x:1}}\nhooks: {backup: {command: [dump]}}\n"),
        plan(
            "health port out of range",
            "target: demo/sts/pg\nchange: {images: {pg: x:1}}\nhealth: {port: 70000}\n"),
        plan(
            "immutable field in the template",
            "target: demo/sts/pg\nchange: {template: {spec: {volumeClaimTemplates: []}}}\n"),
        plan(
            "repair with a change",
            "target: demo/sts/pg\nrepair: continue\nchange: {images: {pg: x:1}}\n"),
        plan("empty file", ""),
        plan(
            "onGateTimeout without gateTimeout",
            "target: demo/sts/pg\nchange: {images: {pg: x:1}}\nonGateTimeout: rollback\n"),
        plan(
            "approvals out of range",
            "target: demo/sts/pg\nchange: {images: {pg: x:1}}\napprovals: 0\n"),
        plan("invalid target in the file", "target: x/y/z/w\nchange: {images: {pg: x:1}}\n"),
        plan(
            "restore hook with a reversible migration",
            "target: demo/sts/pg\nchange: {images: {pg: x:1}}\nhooks: {restore: {image: pg:14, command: [r]}}\n"));
  }

  private static Arguments bad(String why, String... args) {
    return Arguments.of(why, List.of(args));
  }

  private static Arguments plan(String why, String yaml) {
    return Arguments.of(why, yaml);
  }

  private record Run(int exit, String out, String err) {}

  private static Run run(List<String> args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try (ApplicationContext ctx = ApplicationContext.run(Environment.CLI, Environment.TEST)) {
      int exit = LockstepCommand.commandLine(ctx).execute(args.toArray(String[]::new));
      return new Run(
          exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("commandLines")
  void aBadCommandLineIsOneLineAndExit2(String why, List<String> args) {
    Run r = run(args);
    assertEquals(2, r.exit(), why + ": " + args + " -> " + r.err());
    assertThat(r.err()).as(why).startsWith("lockstep: ").hasLineCount(1);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("planFiles")
  void aBadPlanFileIsOneLineAndExit2(String why, String yaml) throws Exception {
    Path file = Files.createTempFile(dir, "plan", ".yaml");
    Files.writeString(file, yaml);
    List<String> args = new ArrayList<>(List.of("upgrade", "-f", file.toString()));
    Run r = run(args);
    assertEquals(2, r.exit(), why + " -> " + r.err());
    assertThat(r.err()).as(why).startsWith("lockstep: ").hasLineCount(1);
  }

  @org.junit.jupiter.api.Test
  void aPlanFileThatDoesNotExistIsOneLineAndExit2() {
    Run r = run(List.of("upgrade", "-f", dir.resolve("nope.yaml").toString()));
    assertEquals(2, r.exit(), r.err());
    assertThat(r.err()).startsWith("lockstep: ").hasLineCount(1);
  }
}
