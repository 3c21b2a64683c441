package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A rollback with no upgrade running is one ungated step, as helm rollback is; unless asked. */
class RollbackTest {
  private static FakeTemporal temporal;

  @BeforeAll
  static void start() {
    temporal = FakeTemporal.start();
  }

  @AfterAll
  static void stop() {
    temporal.close();
  }

  @SuppressWarnings("unchecked")
  private static Object gateOfTheRunStarted(String name, String... extra) {
    String[] args = new String[5 + extra.length];
    args[0] = "rollback";
    args[1] = "demo/sts/" + name;
    args[2] = "--to-revision";
    args[3] = "3";
    args[4] = "--temporal-address=" + temporal.address();
    System.arraycopy(extra, 0, args, 5, extra.length);
    FakeTemporal.Run r = FakeTemporal.cli(args);
    assertEquals(0, r.exit(), r.err());
    Map<String, Object> request =
        FakeTemporal.STARTED.get("lockstep/default/demo/statefulset/" + name);
    Map<String, Object> plan = (Map<String, Object>) request.get("plan");
    assertThat((Map<String, Object>) plan.get("change")).containsEntry("restore", "3");
    return plan.get("gate");
  }

  @Test
  void aRollbackWithNoUpgradeRunningIsNotGatedByDefault() {
    assertEquals("none", gateOfTheRunStarted("web"));
  }

  @Test
  void gateFirstGatesIt() {
    assertEquals("first", gateOfTheRunStarted("api", "--gate", "first"));
  }

  @Test
  void aRunThatIsItselfARollbackIsNotRolledBackAgain() {
    gateOfTheRunStarted("kv");
    Map<String, Object> status =
        new java.util.LinkedHashMap<>(
            FakeTemporal.status("demo/statefulset/kv", "UPGRADING", "upgrading kv-1", "kv-1"));
    status.put("kind", "rollback");
    status.put("toImages", Map.of("kv", "example/kv:1.0"));
    FakeTemporal.STATUS.put("lockstep/default/demo/statefulset/kv", status);

    FakeTemporal.Run again =
        FakeTemporal.cli("rollback", "demo/sts/kv", "--temporal-address=" + temporal.address());

    assertEquals(3, again.exit(), again.err());
    assertEquals(
        "lockstep: rollback refused: the run of demo/statefulset/kv is itself a rollback (to"
            + " kv=example/kv:1.0), already going back; rolling it back would return the version"
            + " it is leaving. Follow it with `lockstep status demo/statefulset/kv --watch`;"
            + " `lockstep pause demo/statefulset/kv` holds it before its next unit\n",
        again.err());
  }
}
