package dev.lockstep.kubesim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BehavioursTest {
  private final Behaviours behaviours = new Behaviours(Duration.ofSeconds(1));

  @Test
  void defaultsMakeBrokenTagsCrashAndSlowTagsTakeTenTimesLonger() {
    assertEquals(ImageBehaviour.CRASHLOOP, behaviours.of("postgres:14.9-broken"));
    assertEquals(ImageBehaviour.OK, behaviours.of("postgres:14.9"));
    assertEquals(ImageBehaviour.OK, behaviours.of("registry:5000/broken"));
    ImageBehaviour slow = behaviours.of("ghcr.io/acme/app:2.0-slow");
    assertEquals(Duration.ofSeconds(10), slow.startupTime(behaviours.podStartup()));
  }

  @Test
  void apiRulesWinOverConfigMapRulesWhichWinOverDefaults() {
    // In the ConfigMap, as everywhere, the first matching line wins.
    behaviours.loadConfigMap(Map.of("rules", "postgres:14.9-broken ok\npostgres:* slow 3s"));
    assertEquals(ImageBehaviour.OK, behaviours.of("postgres:14.9-broken"));
    assertEquals(
        Duration.ofSeconds(3), behaviours.of("postgres:15").startupTime(Duration.ofSeconds(1)));
    behaviours.image("postgres:15", ImageBehaviour.PULL_ERROR);
    assertEquals(ImageBehaviour.PULL_ERROR, behaviours.of("postgres:15"));
    behaviours.clear();
    behaviours.loadConfigMap(null);
    assertEquals(ImageBehaviour.CRASHLOOP, behaviours.of("postgres:14.9-broken"));
  }

  @Test
  void aBadConfigMapLineIsReportedAndTheOthersStillApply() {
    List<String> problems =
        behaviours.loadConfigMap(
            Map.of("rules", "app:1 explode\napp:2 flaky 0.25\n# comment\n", "podStartup", "2s"));
    assertThat(problems).singleElement().asString().startsWith("rules line 1: unknown behaviour");
    assertEquals(ImageBehaviour.flaky(0.25), behaviours.of("app:2"));
    assertEquals(Duration.ofSeconds(2), behaviours.podStartup());
  }

  @Test
  void durationsAreParsedAsOperatorsWriteThem() {
    assertEquals(Duration.ofMillis(250), ImageBehaviour.parseDuration("250ms"));
    assertEquals(Duration.ofMinutes(2), ImageBehaviour.parseDuration("2m"));
    assertEquals(Duration.ofSeconds(90), ImageBehaviour.parseDuration("PT90S"));
    assertThrows(IllegalArgumentException.class, () -> ImageBehaviour.parseDuration("soon"));
  }
}
