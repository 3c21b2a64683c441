package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The help page the build stores is the page picocli prints, and only help prints it. */
class HelpTextTest {

  /**
   * What picocli prints for {@code args}, through the whole command tree: on the command line's out
   * (help) and on System.out (no command: {@link LockstepCommand#run} prints there).
   */
  private static String picocli(String... args) {
    StringWriter out = new StringWriter();
    PrintStream old = System.out;
    ByteArrayOutputStream system = new ByteArrayOutputStream();
    System.setOut(new PrintStream(system, true, StandardCharsets.UTF_8));
    try {
      CommandLine line = LockstepCommand.commandLine(CommandLine.defaultFactory());
      line.setOut(new PrintWriter(out, true));
      assertEquals(0, line.execute(args));
    } finally {
      System.setOut(old);
    }
    return out + system.toString(StandardCharsets.UTF_8);
  }

  /** What the fast path prints for {@code args}, or null when it leaves them to picocli. */
  private static String fast(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      return HelpText.printed(args) ? out.toString(StandardCharsets.UTF_8) : null;
    } finally {
      System.setOut(old);
    }
  }

  @Test
  void theStoredPagesArePicoclisPages() {
    assertEquals(
        HelpText.render(CommandLine.Help.Ansi.OFF),
        HelpText.stored(HelpText.PLAIN),
        "lockstep-help.txt is rendered at process-classes (starter/pom.xml): rebuild");
    assertEquals(HelpText.render(CommandLine.Help.Ansi.ON), HelpText.stored(HelpText.COLOURED));
    assertThat(HelpText.stored(HelpText.COLOURED)).contains("\u001B[");
  }

  @Test
  void helpPrintsWhatPicocliPrints() {
    // Not a terminal here: picocli prints without colours, and so does the stored page.
    assertEquals(picocli("--help"), fast("--help"));
    assertEquals(picocli("-h"), fast("-h"));
    assertEquals(picocli(), fast());
  }

  /**
   * What the CLI prints for {@code args}, through the path its main takes without the stored page
   * (one command built when one is named), with picocli's colours as on a terminal or without.
   */
  private static String cli(boolean colours, String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    System.setProperty("picocli.ansi", Boolean.toString(colours));
    try {
      assertEquals(0, LockstepCommand.execute(args), String.join(" ", args));
    } finally {
      System.clearProperty("picocli.ansi");
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
    assertEquals("", err.toString(StandardCharsets.UTF_8));
    return out.toString(StandardCharsets.UTF_8);
  }

  /**
   * Every page ./lockstep prints without a JVM (target/help, rendered at process-classes) is, byte
   * for byte, what the CLI prints: every command and alias, --help and -h, with colours and
   * without. ASCII only: the launcher prints the file's bytes, the JVM encodes in the locale's
   * charset, the same bytes only for ASCII.
   */
  @Test
  void theLaunchersPagesAreWhatTheCliPrintsForEveryCommand() throws IOException {
    Path dir = Path.of("target", "help");
    List<String> expected = new ArrayList<>();
    Map<String, List<String[]>> lines = new LinkedHashMap<>();
    lines.put("lockstep", List.of(new String[] {}, new String[] {"--help"}, new String[] {"-h"}));
    for (Class<?> sub : LockstepCommand.class.getAnnotation(Command.class).subcommands()) {
      Command command = sub.getAnnotation(Command.class);
      List<String> names = new ArrayList<>(List.of(command.name()));
      names.addAll(List.of(command.aliases()));
      for (String name : names) {
        lines.put(
            "lockstep-" + name, List.of(new String[] {name, "--help"}, new String[] {name, "-h"}));
      }
    }
    for (Map.Entry<String, List<String[]>> page : lines.entrySet()) {
      for (boolean colours : new boolean[] {false, true}) {
        String file = page.getKey() + (colours ? ".ansi" : ".txt");
        expected.add(file);
        String stored = Files.readString(dir.resolve(file), StandardCharsets.UTF_8);
        assertThat(stored).as(file).matches("\\p{ASCII}+");
        for (String[] args : page.getValue()) {
          assertEquals(
              cli(colours, args), stored, file + " for lockstep " + String.join(" ", args));
        }
      }
    }
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(f -> f.getFileName().toString()))
          .containsExactlyInAnyOrderElementsOf(expected);
    }
  }

  @Test
  void everythingElseGoesThroughPicocli() {
    for (String[] args :
        new String[][] {{"--version"}, {"--help", "status"}, {"status", "--help"}, {"-hV"}}) {
      assertEquals(null, fast(args), String.join(" ", args));
    }
  }
}
