package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.workflows.Target;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What {@code status --watch} prints: in place and in colour on a terminal, plain otherwise. */
class WatchTest {
  private static final Target PG = Target.parse("demo/sts/pg", "default");
  private static final Instant AT = Instant.parse("2026-11-27T10:00:00.500Z");
  private static final String TABLE = "Unit  State\npg-2  UPGRADED\npg-1  WAITING\n";

  private static FakeTemporal temporal;

  @BeforeAll
  static void start() {
    temporal = FakeTemporal.start();
  }

  @AfterAll
  static void stop() {
    temporal.close();
  }

  @Test
  void notOnATerminalEachChangeIsAppendedAsAPlainFrameAfterItsTime() {
    assertEquals(
        "--- 2026-11-27T10:00:00Z\n" + TABLE + "\n",
        new Frames("table", PG, false, false).frame(TABLE, AT));
  }

  @Test
  void onATerminalTheTableIsRedrawnInPlaceUnderTheTimeWithStatesInColour() {
    assertEquals(
        "\033[H\033[2Jdemo/statefulset/pg at 2026-11-27T10:00:00Z (Ctrl-C stops following, not the"
            + " upgrade)\n\nUnit  State\npg-2  \033[32mUPGRADED\033[0m\npg-1  WAITING\n",
        new Frames("table", PG, true, true).frame(TABLE, AT));
  }

  @Test
  void withoutColourATerminalStillRedrawsInPlaceButPrintsNoColourCodes() {
    String frame = new Frames("table", PG, true, false).frame(TABLE, AT);
    assertThat(frame).startsWith("\033[H\033[2J").doesNotContain("\033[32m").contains("UPGRADED");
  }

  @Test
  void watchWithJsonPrintsOneDocumentPerChangeEachOnOneLine() throws Exception {
    String id = "lockstep/default/demo/statefulset/watched";
    FakeTemporal.STATUS.put(
        id, FakeTemporal.status("demo/statefulset/watched", "COMPLETED", "done", "pg-0"));
    assertEquals(
        0,
        FakeTemporal.cli(
                "upgrade",
                "demo/sts/watched",
                "--image",
                "pg=postgres:14.9",
                "--temporal-address=" + temporal.address())
            .exit());

    FakeTemporal.Run r =
        FakeTemporal.cli(
            "status",
            "demo/sts/watched",
            "--watch",
            "-o",
            "json",
            "--temporal-address=" + temporal.address());

    assertEquals(0, r.exit(), r.err());
    assertThat(r.out().lines()).hasSize(1);
    assertEquals("COMPLETED", new ObjectMapper().readTree(r.out()).get("phase").asText());
  }
}
