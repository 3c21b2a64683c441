package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./lockstep} launcher's own decisions (issue 19), its functions run by bash against a
 * copy in a temporary tree, with a stand-in {@code mvn} that writes the six jars: when it builds (a
 * developer's edits, added and removed files, a build that failed or was stopped, jars built by
 * hand) and which help page it prints instead of starting a JVM.
 */
class LauncherTest {

  private static final List<String> JARS =
      List.of(
          "starter/target/lockstep-cli.jar",
          "starter/target/lockstep-client.jar",
          "worker/target/lockstep-worker.jar",
          "devstack/target/lockstep-devstack.jar",
          "bench/target/lockstep-bench.jar",
          "console/target/lockstep-console.jar");

  @TempDir Path tree;

  @BeforeEach
  void aTree() throws IOException {
    Files.copy(
        Path.of("..", "lockstep"), tree.resolve("lockstep"), StandardCopyOption.COPY_ATTRIBUTES);
    write("pom.xml", "<project/>");
    write("worker/pom.xml", "<project/>");
    write("worker/src/main/java/dev/Worker.java", "class Worker {}");
    write("worker/src/main/resources/rules.yaml", "rules: []");
    write("examples/charts/ghostwire/Chart.yaml", "name: ghostwire");
    // Maven, as the launcher calls it: the jars, after $FAKE_MVN_DURING if set.
    StringBuilder mvn = new StringBuilder("#!/usr/bin/env bash\nset -e\n");
    mvn.append("if [[ -n ${FAKE_MVN_DURING-} ]]; then eval \"$FAKE_MVN_DURING\"; fi\n");
    for (String jar : JARS) {
      mvn.append("mkdir -p ").append(Path.of(jar).getParent()).append(" && echo jar >").append(jar);
      mvn.append('\n');
    }
    write("bin/mvn", mvn.toString());
    tree.resolve("bin/mvn").toFile().setExecutable(true);
  }

  private void write(String path, String text) throws IOException {
    Path file = tree.resolve(path);
    Files.createDirectories(file.getParent());
    Files.writeString(file, text);
  }

  /** Runs {@code script} in bash with the launcher's functions; its stdout, or fails. */
  private String bash(String script, String... env) throws Exception {
    Result result = run(List.of("bash", "-c", "source ./lockstep\n" + script), env);
    assertEquals(0, result.code, result.err);
    return result.out.strip();
  }

  private record Result(int code, String out, String err) {}

  private Result run(List<String> command, String... env) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(command).directory(tree.toFile());
    Map<String, String> environment = builder.environment();
    environment.keySet().removeIf(k -> k.equals("NO_COLOR") || k.startsWith("CLICOLOR"));
    environment.keySet().removeIf(k -> k.endsWith("JAVA_OPTIONS") || k.equals("ConEmuANSI"));
    environment.put("PATH", tree.resolve("bin") + ":" + System.getenv("PATH"));
    for (int i = 0; i < env.length; i += 2) {
      environment.put(env[i], env[i + 1]);
    }
    Path out = Files.createTempFile(tree, "out", ".txt");
    Path err = Files.createTempFile(tree, "err", ".txt");
    Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("%s ends", command).isTrue();
    Result result = new Result(process.exitValue(), Files.readString(out), Files.readString(err));
    Files.delete(out);
    Files.delete(err);
    return result;
  }

  private boolean stale() throws Exception {
    return bash("if stale; then echo stale; else echo fresh; fi").equals("stale");
  }

  private void build() throws Exception {
    bash("build");
  }

  @Test
  void aFreshCloneIsBuiltOnceThenTheJarsAreUsedAsTheyAre() throws Exception {
    assertThat(stale()).as("no jars").isTrue();
    build();
    assertThat(stale()).as("just built").isFalse();
    for (String jar : JARS) {
      assertThat(tree.resolve(jar)).exists();
    }
    assertThat(stale()).as("nothing changed").isFalse();
  }

  @Test
  void anEditedSourceOrPomIsBuilt() throws Exception {
    for (String source :
        List.of(
            "worker/src/main/java/dev/Worker.java",
            "worker/src/main/resources/rules.yaml",
            "worker/pom.xml",
            "pom.xml",
            "examples/charts/ghostwire/Chart.yaml")) {
      build();
      assertThat(stale()).isFalse();
      Files.writeString(
          tree.resolve(source), "\n// edited", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
      assertThat(stale()).as("%s edited", source).isTrue();
    }
  }

  @Test
  void anAddedRemovedOrRenamedFileIsBuiltButNotAnEditorsSwapFile() throws Exception {
    Path dir = tree.resolve("worker/src/main/java/dev");
    build();
    // An editor's files beside the source, and a module's target/, are no sources.
    Files.writeString(dir.resolve(".Worker.java.swp"), "swap");
    Files.writeString(dir.resolve("Worker.java~"), "backup");
    Files.createDirectories(tree.resolve("worker/target/classes"));
    assertThat(stale()).as("swap and backup files").isFalse();

    Files.writeString(dir.resolve("Other.java"), "class Other {}");
    assertThat(stale()).as("a file added").isTrue();
    build();
    Files.delete(dir.resolve("Other.java"));
    assertThat(stale()).as("a file removed").isTrue();
    build();
    Files.move(dir.resolve("Worker.java"), dir.resolve("Renamed.java"));
    assertThat(stale()).as("a file renamed").isTrue();
    build();
    Files.createDirectories(dir.resolve("sub"));
    assertThat(stale()).as("a package added").isTrue();
  }

  @Test
  void aSourceRestoredWithAnOldTimeIsBuiltWhenItsNameChanged() throws Exception {
    // A tool that puts a file back with its old time (tar, cp -p, rsync -t) writes a new name into
    // its directory: the directory's time says so.
    Path dir = tree.resolve("worker/src/main/java/dev");
    Files.writeString(dir.resolve("Kept.java"), "class Kept {}");
    build();
    Files.delete(dir.resolve("Kept.java"));
    build();
    Files.writeString(dir.resolve("Kept.java"), "class Kept {}");
    Files.setLastModifiedTime(dir.resolve("Kept.java"), FileTime.fromMillis(0));
    assertThat(stale()).isTrue();
  }

  @Test
  void anEditWhileTheBuildRunsIsBuiltOnTheNextCall() throws Exception {
    bash("build", "FAKE_MVN_DURING", "echo '// edited' >> worker/src/main/java/dev/Worker.java");
    assertThat(stale()).isTrue();
    build();
    assertThat(stale()).isFalse();
  }

  @Test
  void aBuildThatFailedOrWasStoppedIsBuiltAgain() throws Exception {
    build();
    Result failed =
        run(List.of("bash", "-c", "source ./lockstep\nbuild"), "FAKE_MVN_DURING", "exit 1");
    assertThat(failed.code).isNotZero();
    // The jars are all there, and newer than every source: the build did not end.
    assertThat(stale()).isTrue();
    build();
    assertThat(stale()).isFalse();
  }

  @Test
  void jarsBuiltByHandAreComparedWithTheSourcesAsBefore() throws Exception {
    // mvn package without the launcher: no manifest yet, jars newer than every source.
    bash("mvn");
    assertThat(stale()).as("built by hand after the last edit").isFalse();
    assertThat(tree.resolve(".lockstep/build/sources")).exists();
    assertThat(stale()).isFalse();

    // Again by hand, after the launcher's files were written: the jars are newer than `built`.
    Files.writeString(tree.resolve("worker/src/main/java/dev/Worker.java"), "class Worker { }");
    bash("mvn");
    assertThat(stale()).as("rebuilt by hand after the edit").isFalse();

    // A jar made by hand before an edit (mvn package -pl starter): the edit is newer than the
    // oldest jar.
    Files.writeString(tree.resolve("worker/src/main/java/dev/Worker.java"), "class Worker {  }");
    bash("touch starter/target/lockstep-cli.jar");
    assertThat(stale()).isTrue();
  }

  /** The launcher's help page for {@code args}, or "none" when it leaves them to the CLI. */
  private String page(List<String> args, String... env) throws Exception {
    String quoted = String.join(" ", args.stream().map(a -> "'" + a + "'").toList());
    return bash(
        "if help_page " + quoted + "; then echo \"${REPLY#$root/}\"; else echo none; fi", env);
  }

  @Test
  void helpIsPrintedFromThePagesTheBuildRendered() throws Exception {
    for (String name : List.of("lockstep", "lockstep-status", "lockstep-codec-server")) {
      write("starter/target/help/" + name + ".txt", "plain");
      write("starter/target/help/" + name + ".ansi", "coloured");
    }
    String dir = "starter/target/help/";
    assertEquals(dir + "lockstep.txt", page(List.of()));
    assertEquals(dir + "lockstep.txt", page(List.of("--help")));
    assertEquals(dir + "lockstep.txt", page(List.of("-h")));
    assertEquals(dir + "lockstep-status.txt", page(List.of("status", "--help")));
    assertEquals(dir + "lockstep-codec-server.txt", page(List.of("codec-server", "-h")));
    // Not on a terminal: colours only when forced, as picocli does.
    assertEquals(dir + "lockstep.ansi", page(List.of("--help"), "CLICOLOR_FORCE", "1"));
    assertEquals(dir + "lockstep.txt", page(List.of("--help"), "CLICOLOR_FORCE", "0"));
    assertEquals(
        dir + "lockstep.txt", page(List.of("--help"), "CLICOLOR_FORCE", "1", "NO_COLOR", ""));

    // Anything else is the CLI's: other arguments, a command without a page, Java options.
    for (List<String> args :
        List.of(
            List.of("--help", "status"),
            List.of("status", "--help", "--verbose"),
            List.of("status", "demo/sts/web"),
            List.of("--version"),
            List.of("statsu", "--help"),
            List.of("lockstep", "--help"),
            List.of("../help/lockstep", "--help"),
            List.of("dev", "--help"))) {
      assertEquals("none", page(args), String.join(" ", args));
    }
    assertEquals("none", page(List.of("--help"), "JAVA_TOOL_OPTIONS", "-Dpicocli.ansi=true"));
    assertEquals("none", page(List.of("--help"), "JDK_JAVA_OPTIONS", "-Dpicocli.usage.width=120"));
  }

  /**
   * On a terminal (a pseudo-terminal from util-linux's {@code script}), the launcher's choice of
   * the coloured page is picocli's: {@code Ansi.AUTO.enabled()} in a JVM with the same environment.
   */
  @Test
  void onATerminalTheColoursAreThoseThePicocliWouldChoose() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "util-linux script for a terminal");
    write("starter/target/help/lockstep.txt", "plain");
    write("starter/target/help/lockstep.ansi", "coloured");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String classpath = System.getProperty("java.class.path");
    List<String[]> environments =
        List.of(
            new String[] {},
            new String[] {"NO_COLOR", ""},
            new String[] {"CLICOLOR", "0"},
            new String[] {"CLICOLOR", "1"},
            new String[] {"ConEmuANSI", "OFF"},
            new String[] {"CLICOLOR_FORCE", "0"},
            new String[] {"CLICOLOR_FORCE", "1", "NO_COLOR", "1"});
    List<String> seen = new ArrayList<>();
    for (String[] env : environments) {
      Map<String, String> named = new HashMap<>();
      for (int i = 0; i < env.length; i += 2) {
        named.put(env[i], env[i + 1]);
      }
      String launcher = terminal("source ./lockstep; help_page --help; echo \"${REPLY##*.}\"", env);
      String picocli =
          terminal(
              "'"
                  + java
                  + "' -cp '"
                  + classpath
                  + "' dev.lockstep.starter.LauncherTest\\$AnsiProbe",
              env);
      assertEquals(picocli.equals("true") ? "ansi" : "txt", launcher, named.toString());
      seen.add(launcher);
    }
    assertThat(seen).contains("ansi", "txt");
  }

  /** The last line {@code script} prints, run in bash on a pseudo-terminal. */
  private String terminal(String script, String... env) throws Exception {
    Result result = run(List.of("script", "-qec", "bash -c " + quote(script), "/dev/null"), env);
    assertEquals(0, result.code, result.err);
    String[] lines = result.out.strip().split("\r?\n");
    return lines[lines.length - 1].strip();
  }

  private static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  /** Prints whether picocli would print its help with colours here. */
  public static final class AnsiProbe {
    public static void main(String[] args) {
      System.out.println(picocli.CommandLine.Help.Ansi.AUTO.enabled());
    }
  }
}
