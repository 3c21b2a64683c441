package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

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

  @Test
  void everythingElseGoesThroughPicocli() {
    for (String[] args :
        new String[][] {{"--version"}, {"--help", "status"}, {"status", "--help"}, {"-hV"}}) {
      assertEquals(null, fast(args), String.join(" ", args));
    }
  }
}
