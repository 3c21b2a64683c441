package dev.lockstep.starter;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;

/**
 * {@code lockstep --help} as picocli renders it, rendered once at build time (issue 19). Reading
 * every command's annotations to print the same page on every call was most of {@code --help}'s
 * time: picocli's classes (compiled for Java 5, so no class-data archive takes them), each command
 * class and the types of its fields (Temporal's, Jackson's). The build writes the page beside the
 * classes ({@code process-classes}, starter/pom.xml), plain and with picocli's colours; {@link
 * LockstepCommand#main} prints it when the command line is only {@code --help}, {@code -h} or
 * nothing. Anything else, or a jar without the page, goes through picocli as before.
 */
final class HelpText {
  private HelpText() {}

  /** The page without colours, as picocli prints it when its output is not a terminal. */
  static final String PLAIN = "lockstep-help.txt";

  /** The page with picocli's colours, as it prints it on a terminal. */
  static final String COLOURED = "lockstep-help-ansi.txt";

  /** Writes both pages into the directory of the compiled classes ({@code args[0]}). */
  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0], "dev", "lockstep", "starter");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(PLAIN), render(CommandLine.Help.Ansi.OFF));
    Files.writeString(dir.resolve(COLOURED), render(CommandLine.Help.Ansi.ON));
  }

  /** The whole tree's usage, as {@code lockstep --help} prints it with {@code ansi}. */
  static String render(CommandLine.Help.Ansi ansi) {
    StringWriter page = new StringWriter();
    LockstepCommand.commandLine(CommandLine.defaultFactory()).usage(new PrintWriter(page), ansi);
    return page.toString();
  }

  /**
   * Prints the stored page when {@code args} only ask for it and nothing changes how picocli would
   * print it (its width setting); returns false, having printed nothing, otherwise.
   */
  static boolean printed(String[] args) {
    boolean help =
        args.length == 0
            || (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h")));
    if (!help || System.getProperty("picocli.usage.width") != null) {
      return false;
    }
    String page = stored(CommandLine.Help.Ansi.AUTO.enabled() ? COLOURED : PLAIN);
    if (page == null) {
      return false;
    }
    System.out.print(page);
    System.out.flush();
    return true;
  }

  /** A stored page, or null when the jar has none. */
  static String stored(String name) {
    try (InputStream in = HelpText.class.getResourceAsStream(name)) {
      return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return null;
    }
  }
}
