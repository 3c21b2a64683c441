package dev.lockstep.starter;

import dev.lockstep.workflows.StatusTable;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradeStatus;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How {@code --watch} prints each change: on a terminal the table is redrawn in place under a line
 * with the time, states in colour (as {@code kubectl get -w} and {@code watch} show it); otherwise
 * (a file, a pipe, CI logs) each change is appended as a plain frame after its time. With {@code -o
 * json} each change is one JSON document on one line, with {@code -o yaml} one YAML document.
 */
final class Frames {
  private static final String CLEAR = "\033[H\033[2J";
  private static final String RESET = "\033[0m";
  private static final Pattern STATES =
      Pattern.compile(
          "\\b(COMPLETED|UPGRADED|FAILED|ROLLED_BACK|ROLLING_BACK|HELD|CANCELLED|ABANDONED"
              + "|WAITING_FOR_RESUME|PAUSED|UPGRADING|VERIFYING|MIGRATING|TESTING)\\b");

  private final String output;
  private final Target target;
  private final boolean terminal;
  private final boolean colour;

  Frames(String output, Target target, boolean terminal, boolean colour) {
    this.output = output;
    this.target = target;
    this.terminal = terminal;
    this.colour = colour;
  }

  /**
   * Frames for this process's standard output: in place and in colour only on a terminal, colour
   * off with {@code --no-color} or {@code NO_COLOR} (no-color.org).
   */
  static Frames of(String output, Target target, boolean noColorFlag) {
    boolean terminal = Invocation.console();
    String noColor = Invocation.getenv("NO_COLOR");
    return new Frames(
        output,
        target,
        terminal,
        terminal && !noColorFlag && (noColor == null || noColor.isEmpty()));
  }

  /** What a change is compared by: the table, or the document, without the time. */
  String content(UpgradeStatus status) {
    try {
      return switch (output) {
        case "json" ->
            Common.JSON
                    .copy()
                    .disable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(status)
                + "\n";
        case "yaml" -> "---\n" + Common.yaml().writeValueAsString(status);
        default -> StatusTable.render(status);
      };
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new CliFailure(CliFailure.FAILED, "cannot print the answer: " + e.getOriginalMessage());
    }
  }

  /** The text to print for a change seen at {@code now}. */
  String frame(String content, Instant now) {
    if (!output.equals("table")) {
      return content;
    }
    String time = now.truncatedTo(ChronoUnit.SECONDS).toString();
    String table = colour ? coloured(content) : content;
    if (terminal) {
      return CLEAR
          + target
          + " at "
          + time
          + " (Ctrl-C stops following, not the upgrade)\n\n"
          + table
          + (table.endsWith("\n") ? "" : "\n");
    }
    return "--- " + time + "\n" + table + (table.endsWith("\n") ? "\n" : "\n\n");
  }

  /** The states in a table, in colour: done green, gone wrong red, waiting yellow, moving cyan. */
  static String coloured(String table) {
    Matcher m = STATES.matcher(table);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String code =
          switch (m.group(1)) {
            case "COMPLETED", "UPGRADED" -> "\033[32m";
            case "FAILED", "ROLLED_BACK", "ROLLING_BACK", "HELD", "CANCELLED", "ABANDONED" ->
                "\033[31m";
            case "WAITING_FOR_RESUME", "PAUSED" -> "\033[33m";
            default -> "\033[36m";
          };
      m.appendReplacement(out, Matcher.quoteReplacement(code + m.group(1) + RESET));
    }
    m.appendTail(out);
    return out.toString();
  }
}
