package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code --wait} ends when the upgrade does or when it is HELD, saying how on stderr; Temporal
 * unreachable or gone mid-command is one {@code lockstep:} line and exit 4, never a stack trace.
 */
class WaitTest {
  private static FakeTemporal temporal;

  @BeforeAll
  static void start() {
    temporal = FakeTemporal.start();
  }

  @AfterAll
  static void stop() {
    temporal.close();
  }

  private static String id(String name) {
    return "lockstep/default/demo/statefulset/" + name;
  }

  private static FakeTemporal.Run lockstep(String... args) {
    String[] all = new String[args.length + 2];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--temporal-address";
    all[args.length + 1] = temporal.address();
    return FakeTemporal.cli(all);
  }

  @Test
  void upgradeWaitEndsWithExit1WhenTheUpgradeIsHeldPrintingThePhaseAndTheMessage() {
    String held =
        "pg-2 failed: CrashLoopBackOff; held: run `lockstep retry demo/statefulset/held`,"
            + " `lockstep rollback demo/statefulset/held` or `lockstep abandon"
            + " demo/statefulset/held`";
    FakeTemporal.STATUS.put(
        id("held"),
        FakeTemporal.status("demo/statefulset/held", "HELD", held, "pg-2", "pg-1", "pg-0"));
    FakeTemporal.Run r =
        lockstep("upgrade", "demo/sts/held", "--image", "pg=postgres:14.9", "--wait");
    assertEquals(1, r.exit(), r.err());
    assertThat(r.out()).contains("upgrade of demo/statefulset/held started").contains("HELD");
    assertEquals("lockstep: demo/statefulset/held is HELD: " + held + "\n", r.err());

    FakeTemporal.Run status = lockstep("status", "demo/sts/held", "--wait");
    assertEquals(1, status.exit(), status.err());
    assertEquals("lockstep: demo/statefulset/held is HELD: " + held + "\n", status.err());
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource(
      delimiter = '|',
      value = {
        "ROLLED_BACK | pg-2 not Ready within 10m (CrashLoopBackOff); units returned to pg-5d8f",
        "FAILED      | pre-checks failed, nothing was changed: capacity: no node has room",
        "CANCELLED   | cancelled; units returned to pg-5d8f",
        "ABANDONED   | abandoned as alice asked; the target was left as it is"
      })
  void waitThatEndsOtherwiseThanCompletedPrintsTheOutcomeAndTheReasonAndExits1(
      String phase, String message) {
    String name = "end-" + phase.toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    FakeTemporal.STATUS.put(
        id(name), FakeTemporal.status("demo/statefulset/" + name, phase, message, "pg-0"));
    FakeTemporal.Run r =
        lockstep("upgrade", "demo/sts/" + name, "--image", "pg=postgres:14.9", "--wait");
    assertEquals(1, r.exit(), r.err());
    assertEquals(
        "lockstep: demo/statefulset/" + name + " ended " + phase + ": " + message + "\n", r.err());
  }

  @Test
  void statusWaitExits0OnlyWhenTheUpgradeCompleted() {
    FakeTemporal.STATUS.put(
        id("done"), FakeTemporal.status("demo/statefulset/done", "COMPLETED", "completed", "pg-0"));
    assertEquals(0, lockstep("upgrade", "demo/sts/done", "--image", "pg=postgres:14.9").exit());
    FakeTemporal.Run r = lockstep("status", "demo/sts/done", "--wait");
    assertEquals(0, r.exit(), r.err());
    assertEquals("", r.err());
    assertThat(r.out()).contains("COMPLETED");
  }

  @Test
  void temporalUnreachableIsOneLineAndExit4WithinTwoSeconds() {
    int closed = FakeTemporal.freePort();
    long start = System.nanoTime();
    FakeTemporal.Run r =
        FakeTemporal.cli("status", "demo/sts/pg", "--temporal-address", "localhost:" + closed);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(4, r.exit(), r.err());
    assertEquals(
        "lockstep: cannot reach Temporal at localhost:"
            + closed
            + ": start it (./lockstep dev) or set TEMPORAL_ADDRESS\n",
        r.err());
    assertThat(millis).as("time to the lockstep: line").isLessThan(2000);
  }

  @Test
  void temporalGoneDuringWaitIsOneLineAndExit4NotAStackTrace() {
    try (FakeTemporal gone = FakeTemporal.start()) {
      String address = gone.address();
      FakeTemporal.STATUS.put(
          id("gone"),
          FakeTemporal.status("demo/statefulset/gone", "UPGRADING", "upgrading pg-1", "pg-1"));
      FakeTemporal.Run started =
          FakeTemporal.cli(
              "upgrade",
              "demo/sts/gone",
              "--image",
              "pg=postgres:14.9",
              "--temporal-address",
              address);
      assertEquals(0, started.exit(), started.err());
      CompletableFuture<FakeTemporal.Run> waiting =
          CompletableFuture.supplyAsync(
              () ->
                  FakeTemporal.cli(
                      "status", "demo/sts/gone", "--wait", "--temporal-address", address));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> FakeTemporal.QUERIES.containsKey(id("gone")));
      gone.close();
      FakeTemporal.Run r = waiting.orTimeout(60, TimeUnit.SECONDS).join();
      assertEquals(4, r.exit(), r.err());
      assertEquals(
          "lockstep: Temporal at "
              + address
              + " stopped answering (UNAVAILABLE); the upgrade, if any, goes on: check Temporal and"
              + " run the command again\n",
          r.err());
    }
  }
}
