package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micronaut.configuration.picocli.PicocliRunner;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * {@code lockstep worker} refuses bad metrics and notification settings with one line and exit 2,
 * before it connects to anything (the Temporal address here has nothing listening).
 */
class WorkerCommandTest {
  private record Run(int exit, String err) {}

  private static Run run(String... args) {
    PrintStream oldErr = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int exit = PicocliRunner.execute(WorkerCommand.class, args);
      return new Run(exit, err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setErr(oldErr);
    }
  }

  private static final String NOWHERE = "--temporal-address=127.0.0.1:1";

  @Test
  void aBadDefaultWebhookIsOneLineWithoutItsUrlAndExit2() {
    Run r = run(NOWHERE, "--notify-webhooks", "slack=ftp://hooks.example.com/T0/secret");
    assertEquals(2, r.exit(), r.err());
    assertThat(r.err())
        .isEqualTo(
            "lockstep: LOCKSTEP_NOTIFY_WEBHOOKS: webhook 1 is not an http(s) URL with a host\n");
  }

  @Test
  void remindersTooOftenAreOneLineAndExit2() {
    Run r =
        run(
            NOWHERE,
            "--notify-webhooks",
            "https://hooks.example.com/x",
            "--notify-remind-every=1m");
    assertEquals(2, r.exit(), r.err());
    assertThat(r.err())
        .startsWith("lockstep: LOCKSTEP_NOTIFY_REMIND_EVERY must be at least 10m")
        .hasLineCount(1);
  }

  @Test
  void aMetricsPortInUseIsOneLineAndExit2() throws Exception {
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress(0));
      Run r = run(NOWHERE, "--metrics-port=" + taken.getLocalPort());
      assertEquals(2, r.exit(), r.err());
      assertThat(r.err())
          .startsWith("lockstep: cannot serve /metrics on port " + taken.getLocalPort() + ": ")
          .endsWith("; use --metrics-port\n")
          .hasLineCount(1);
    }
  }
}
