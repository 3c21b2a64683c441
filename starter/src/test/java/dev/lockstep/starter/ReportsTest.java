package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What the reading commands print: the real run id in the audit, YAML wherever JSON is. */
class ReportsTest {
  private static FakeTemporal temporal;

  @BeforeAll
  static void start() {
    temporal = FakeTemporal.start();
  }

  @AfterAll
  static void stop() {
    temporal.close();
  }

  private static FakeTemporal.Run lockstep(String... args) {
    String[] all = new String[args.length + 2];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--temporal-address";
    all[args.length + 1] = temporal.address();
    return FakeTemporal.cli(all);
  }

  /** Starts an upgrade of {@code demo/statefulset/NAME}; returns its run id as printed. */
  private static String upgrade(String name) {
    FakeTemporal.STATUS.put(
        "lockstep/default/demo/statefulset/" + name,
        FakeTemporal.status("demo/statefulset/" + name, "UPGRADING", "upgrading pg-0", "pg-0"));
    FakeTemporal.Run r =
        lockstep("upgrade", "demo/sts/" + name, "--image", "pg=postgres:14.9", "--as", "alice");
    assertEquals(0, r.exit(), r.err());
    Matcher run = Pattern.compile("started \\(run ([0-9a-f-]+)\\)").matcher(r.out());
    assertThat(run.find()).as(r.out()).isTrue();
    return run.group(1);
  }

  @Test
  void auditPrintsTheRealRunIdNotTheReplayPlaceholder() {
    String runId = upgrade("audited");
    FakeTemporal.Run r = lockstep("audit", "demo/sts/audited");
    assertEquals(0, r.exit(), r.err());
    assertEquals(
        "Audit of demo/statefulset/audited, run " + runId + " (cluster default)",
        r.out().lines().findFirst().orElse(""));
    assertThat(r.out()).doesNotContain("run_id_in_replay");
    FakeTemporal.Run byRun = lockstep("audit", "demo/sts/audited", "--run", runId, "-o", "json");
    assertThat(byRun.out()).contains("\"runId\" : \"" + runId + "\"");
  }

  @Test
  void yamlWhereverJsonIs() {
    String runId = upgrade("yaml");
    FakeTemporal.Run status = lockstep("status", "demo/sts/yaml", "-o", "yaml");
    assertEquals(0, status.exit(), status.err());
    assertThat(status.out())
        .startsWith("target: \"demo/statefulset/yaml\"\n")
        .contains("runId: \"" + runId + "\"\n")
        .contains("phase: \"UPGRADING\"\n");
    FakeTemporal.Run audit = lockstep("audit", "demo/sts/yaml", "-o", "yaml");
    assertEquals(0, audit.exit(), audit.err());
    assertThat(audit.out())
        .startsWith("target: \"demo/statefulset/yaml\"\n")
        .contains("runId: \"" + runId + "\"\n")
        .contains("startedBy: \"alice\"\n");
    FakeTemporal.Run list = lockstep("list", "-o", "yaml");
    assertEquals(0, list.exit(), list.err());
    assertThat(list.out()).startsWith("- target: ").contains("target: \"demo/statefulset/yaml\"");
  }

  @Test
  void whoActedIsTheOsUserWhenUserIsUnset() {
    String host = Common.identity(null, "alice").substring("alice@".length());
    String os = System.getProperty("user.name");
    assertEquals(os + "@" + host, Common.identity(null, null));
    assertEquals(os + "@" + host, Common.identity(null, " "));
    assertEquals("bob", Common.identity("bob", null));
  }
}
