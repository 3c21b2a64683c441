package dev.lockstep.starter;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A target that does not exist gets the same sentence from every command, with a close name. */
class NotFoundTest {
  private static FakeTemporal temporal;

  @BeforeAll
  static void start() {
    temporal = FakeTemporal.start();
    // Lockstep knows demo/statefulset/postgresql; demo/postgres does not exist.
    FakeTemporal.STATUS.put(
        "lockstep/default/demo/statefulset/postgresql",
        FakeTemporal.status("demo/statefulset/postgresql", "UPGRADING", "upgrading", "pg-0"));
    assertEquals(
        0,
        FakeTemporal.cli(
                "upgrade",
                "demo/sts/postgresql",
                "--image",
                "pg=postgres:14.9",
                "--temporal-address=" + temporal.address())
            .exit());
    FakeTemporal.MISSING.add("demo/postgres");
  }

  @AfterAll
  static void stop() {
    temporal.close();
  }

  private static FakeTemporal.Run lockstep(String... args) {
    String[] all = java.util.Arrays.copyOf(args, args.length + 1);
    all[args.length] = "--temporal-address=" + temporal.address();
    return FakeTemporal.cli(all);
  }

  @Test
  void everyCommandSaysTheSameForATargetThatDoesNotExistWithTheCloseName() {
    String sentence =
        "lockstep: statefulset demo/postgres not found in cluster default; did you mean"
            + " demo/statefulset/postgresql?\n";
    for (String command : new String[] {"status", "resume", "pause", "audit", "history"}) {
      FakeTemporal.Run r = lockstep(command, "demo/sts/postgres");
      assertEquals(2, r.exit(), command + ": " + r.err());
      assertEquals(sentence, r.err(), command);
    }
  }

  @Test
  void aTargetThatExistsButNeverRanUnderLockstepSaysSo() {
    FakeTemporal.Run r = lockstep("status", "demo/sts/redis");
    assertEquals(1, r.exit(), r.err());
    assertEquals(
        "lockstep: no Lockstep run of demo/statefulset/redis in cluster default\n", r.err());
  }

  @Test
  void aMistypedCommandOrFlagGetsPicoclisSuggestions() {
    FakeTemporal.Run command = FakeTemporal.cli("statsu", "demo/sts/postgresql");
    assertEquals(2, command.exit());
    assertEquals(
        "lockstep: unknown command 'statsu' (did you mean `lockstep status`?); see `lockstep"
            + " --help`\n",
        command.err());

    FakeTemporal.Run flag = FakeTemporal.cli("status", "demo/sts/postgresql", "--wacth");
    assertEquals(2, flag.exit());
    assertEquals(
        "lockstep: Unknown option: '--wacth' (did you mean `--watch` or `--wait`?); see `lockstep status"
            + " --help`\n",
        flag.err());
  }

  @Test
  void everyCommandsHelpHasExamples() {
    for (String command :
        new String[] {
          "upgrade",
          "plan",
          "status",
          "resume",
          "pause",
          "cancel",
          "rollback",
          "retry",
          "abandon",
          "repair",
          "audit",
          "history",
          "list"
        }) {
      FakeTemporal.Run help = FakeTemporal.cli(command, "--help");
      assertEquals(0, help.exit(), command);
      org.assertj.core.api.Assertions.assertThat(help.out())
          .as(command)
          .contains("Examples:\n  lockstep " + command);
    }
  }
}
