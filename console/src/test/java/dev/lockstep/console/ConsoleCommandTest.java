package dev.lockstep.console;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Bad flags of {@code lockstep console}: one {@code lockstep:} line, exit 2, nothing started. */
class ConsoleCommandTest {
  record Run(int exit, String err) {}

  private static Run console(String... args) {
    CommandLine line = ConsoleCommand.commandLine();
    StringWriter err = new StringWriter();
    line.setErr(new PrintWriter(err));
    line.setOut(new PrintWriter(new StringWriter()));
    int exit = line.execute(args);
    return new Run(exit, err.toString());
  }

  private static void badInput(Run run, String says) {
    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.err().lines().toList()).hasSize(1);
    assertThat(run.err()).startsWith("lockstep: ").contains(says);
  }

  @Test
  void aPortThatIsNotANumberOrOutOfRangeIsBadInput() {
    badInput(console("--port", "http"), "--port");
    badInput(console("--port", "70000"), "--port must be between 0 and 65535, was 70000");
  }

  @Test
  void anUnknownFlagIsBadInputAndPointsAtHelp() {
    badInput(console("--prot", "8080"), "see `lockstep console --help`");
  }

  @Test
  void headerNamesClusterNamesAndContradictionsAreCheckedBeforeAnythingStarts() {
    badInput(console("--user-header", "X Forwarded User"), "is not an HTTP header name");
    badInput(console("--cluster", "Prod EU"), "is not a cluster name");
    badInput(console("--dev-user", " "), "--dev-user needs a name");
    badInput(console("--read-only", "--dev-user", "me"), "--read-only and --dev-user");
  }

  @Test
  void helpSaysWhoMaySteer() {
    CommandLine line = ConsoleCommand.commandLine();
    StringWriter out = new StringWriter();
    line.setOut(new PrintWriter(out));
    assertThat(line.execute("--help")).isZero();
    assertThat(out.toString()).contains("--read-only").contains("X-Forwarded-User");
  }
}
