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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's own checks: they answer without Temporal (nothing listens on the address used). */
class LockstepCommandTest {
  record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try (ApplicationContext ctx = ApplicationContext.run(Environment.CLI, Environment.TEST)) {
      int exit = LockstepCommand.commandLine(ctx).execute(args);
      return new Run(
          exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  /** What one command line answers: its exit code, then what it printed on out and on err. */
  private static String answer(picocli.CommandLine line, String... args) {
    java.io.StringWriter out = new java.io.StringWriter();
    java.io.StringWriter err = new java.io.StringWriter();
    line.setOut(new java.io.PrintWriter(out, true));
    line.setErr(new java.io.PrintWriter(err, true));
    int exit = line.execute(args);
    return exit + "\n" + out + "\n" + err;
  }

  @Test
  void buildingOnlyTheCommandAskedForAnswersAsTheWholeTreeDoes() {
    for (String[] args :
        new String[][] {
          {"status", "--help"},
          {"upgrade", "--help"},
          {"rollback", "--help"},
          {"status", "a/b/c/d"},
          {"status", "demo/sts/pg", "--wacth"},
          {"upgrade", "demo/sts/pg", "--image", "pg=Not An Image"},
          {"statsu"},
          {"--help"}
        }) {
      assertEquals(
          answer(LockstepCommand.commandLine(picocli.CommandLine.defaultFactory()), args),
          answer(LockstepCommand.commandLine(picocli.CommandLine.defaultFactory(), args), args),
          String.join(" ", args));
    }
  }

  @Test
  void helpListsTheCommandsAndTouchesNoNetwork() {
    Run r = run("--help");
    assertEquals(0, r.exit());
    assertThat(r.out())
        .contains(
            "upgrade", "plan", "status", "resume", "pause", "cancel", "repair", "worker", "demo");
  }

  @Test
  void badInputIsExit2WithOneLockstepLine() {
    for (String[] args :
        new String[][] {
          {"upgrade", "demo/sts/pg", "--image", "pg=postgres:15", "--strategy", "blue-green"},
          {"upgrade", "demo/sts/pg", "--image", "pg=Not An Image"},
          {"upgrade", "demo/sts/pg", "--image", "pg=postgres:15", "--unit-timeout", "-1m"},
          {"upgrade", "demo/sts/pg", "--image", "pg=postgres:15", "--gate", "later"},
          {"upgrade", "demo/sts/pg", "--image", "=postgres:15"},
          {"upgrade", "--image", "postgres:15"},
          {"status", "demo/sts/pg", "-o", "xml"},
          {"resume", "a/b/c/d"},
          {"upgrade", "demo/sts/pg", "--colour", "blue"},
          {"retry", "demo/sts/pg", "--to-revision", "3"},
          {"repair", "demo/sts/pg"},
          {"repair", "demo/sts/pg", "--continue", "--restore"},
          {"repair", "demo/sts/pg", "--restore", "--gate", "none"},
          {"repair", "demo/sts/pg", "--continue", "--gate", "later"},
          {"repair", "demo/deployment/web", "--continue"},
          {"repair", "demo/sts/pg", "--continue", "--accept-data-risk"},
          {"plan", "demo/sts/pg", "--image", "pg=postgres:15", "-o", "xml"},
          {"plan", "demo/sts/pg"},
          {"codec-server"},
          {"codec-server", "--codec-keys", "/nonexistent/keys"},
          {"status", "demo/sts/pg", "--codec-keys", "/nonexistent/keys"},
        }) {
      Run r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
      assertThat(r.err()).startsWith("lockstep: ").hasLineCount(1);
    }
  }

  @Test
  void acceptingTheDataRiskGoesWithARestoringRepairOnly() {
    Run r = run("repair", "demo/sts/pg", "--continue", "--accept-data-risk");
    assertEquals(2, r.exit());
    assertThat(r.err()).isEqualTo("lockstep: --accept-data-risk goes with --restore\n");
  }

  @Test
  void repairWithoutAChoiceSaysWhatTheChoicesAre() {
    Run r = run("repair", "demo/sts/pg");
    assertThat(r.err())
        .isEqualTo(
            "lockstep: choose one: --continue (finish the dead run's change) or --restore"
                + " (return to the revision it started from)\n");
  }

  @Test
  void aPlanFileWithAnUnknownFieldNamesTheFieldAndItsLine(@TempDir Path dir) throws Exception {
    Path plan = dir.resolve("plan.yaml");
    Files.writeString(
        plan, "target: demo/sts/pg\nchange:\n  images: {pg: postgres:15}\n  imagez: {}\n");
    Run r = run("upgrade", "-f", plan.toString());
    assertEquals(2, r.exit());
    assertThat(r.err()).contains("line 4: unknown field 'imagez'");
  }

  @Test
  void flagsOverrideThePlanFile(@TempDir Path dir) throws Exception {
    Path plan = dir.resolve("plan.yaml");
    Files.writeString(
        plan, "target: demo/sts/pg\nchange: {images: {pg: postgres:14.9}}\ngate: each\n");
    UpgradeCommand command = new UpgradeCommand();
    command.planFile = plan;
    command.gate = "none";
    command.images.add("pg=postgres:15.1");
    var built = command.plan();
    assertEquals("postgres:15.1", built.change().images().get("pg"));
    assertEquals(dev.lockstep.workflows.UpgradePlan.Gate.NONE, built.gate());
    assertEquals("demo/statefulset/pg", built.target());
  }
}
