package dev.lockstep.starter;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code lockstep --help} as picocli renders it, rendered once at build time (issue 19). Reading
 * every command's annotations to print the same page on every call was most of {@code --help}'s
 * time: picocli's classes (compiled for Java 5, so no class-data archive takes them), each command
 * class and the types of its fields (Temporal's, Jackson's). The build writes the page beside the
 * classes ({@code process-classes}, starter/pom.xml), plain and with picocli's colours; {@link
 * LockstepCommand#main} prints it when the command line is only {@code --help}, {@code -h} or
 * nothing. Anything else, or a jar without the page, goes through picocli as before.
 *
 * <p>The build also writes every page beside the jar, in {@code starter/target/help/}: {@code
 * lockstep.txt} and for each command (and alias) {@code lockstep-COMMAND.txt}, what {@code lockstep
 * COMMAND --help} prints, each with its coloured twin ({@code .ansi}). The {@code ./lockstep}
 * launcher prints those itself, without a JVM (docs/cli.md#how-fast-it-answers).
 */
final class HelpText {
  private HelpText() {}

  /** The page without colours, as picocli prints it when its output is not a terminal. */
  static final String PLAIN = "lockstep-help.txt";

  /** The page with picocli's colours, as it prints it on a terminal. */
  static final String COLOURED = "lockstep-help-ansi.txt";

  /**
   * Writes both pages into the directory of the compiled classes ({@code args[0]}) and, when given,
   * every page for the launcher into {@code args[1]}.
   */
  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0], "dev", "lockstep", "starter");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(PLAIN), render(CommandLine.Help.Ansi.OFF));
    Files.writeString(dir.resolve(COLOURED), render(CommandLine.Help.Ansi.ON));
    if (args.length > 1) {
      Path pages = Path.of(args[1]);
      Files.createDirectories(pages);
      for (Map.Entry<String, String[]> page : launcherPages().entrySet()) {
        for (boolean colours : new boolean[] {false, true}) {
          String text = printed(colours, page.getValue());
          if (text == null) {
            throw new IllegalStateException(
                "lockstep " + String.join(" ", page.getValue()) + " printed no help");
          }
          Files.writeString(
              pages.resolve(page.getKey() + (colours ? ".ansi" : ".txt")),
              text,
              StandardCharsets.UTF_8);
        }
      }
    }
  }

  /**
   * The launcher's pages: each file's name (without {@code .txt} or {@code .ansi}) and the command
   * line whose help it holds. {@code lockstep} for the command alone, {@code lockstep-NAME} for
   * {@code lockstep NAME --help}, for every command and alias that takes {@code --help}.
   */
  static Map<String, String[]> launcherPages() {
    Map<String, String[]> pages = new LinkedHashMap<>();
    pages.put("lockstep", new String[] {"--help"});
    for (Class<?> sub : LockstepCommand.class.getAnnotation(Command.class).subcommands()) {
      Command command = sub.getAnnotation(Command.class);
      List<String> names = new ArrayList<>(List.of(command.name()));
      names.addAll(List.of(command.aliases()));
      for (String name : names) {
        if (printed(false, name, "--help") != null) {
          pages.put("lockstep-" + name, new String[] {name, "--help"});
        }
      }
    }
    return pages;
  }

  /**
   * What the CLI ({@link LockstepCommand#main}, through picocli) prints on stdout for {@code args}
   * with picocli's colours or without, as it decides them on a terminal or elsewhere; null unless
   * it exits 0 having printed nothing on stderr.
   */
  static String printed(boolean colours, String... args) {
    String old = System.getProperty("picocli.ansi");
    System.setProperty("picocli.ansi", Boolean.toString(colours));
    try {
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      int code =
          LockstepCommand.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
      return code == 0 && err.toString().isEmpty() ? out.toString() : null;
    } finally {
      if (old == null) {
        System.clearProperty("picocli.ansi");
      } else {
        System.setProperty("picocli.ansi", old);
      }
    }
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
