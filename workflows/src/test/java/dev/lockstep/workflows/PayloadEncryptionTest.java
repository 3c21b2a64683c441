package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.temporal.api.common.v1.Payload;
import io.temporal.api.history.v1.History;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.common.converter.DataConverter;
import io.temporal.payload.codec.PayloadCodecException;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactoryOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Payloads encrypted with AES-256-GCM: Temporal stores no plan text, rotation keeps runs going. */
@Timeout(60)
class PayloadEncryptionTest {
  @TempDir Path keys;

  private static byte[] key(int seed) {
    byte[] k = new byte[32];
    for (int i = 0; i < k.length; i++) {
      k[i] = (byte) (seed * 31 + i);
    }
    return k;
  }

  private void writeKey(String id, int seed) throws Exception {
    Files.writeString(keys.resolve(id), Base64.getEncoder().encodeToString(key(seed)) + "\n");
  }

  private static UpgradePlan plan() {
    return UpgradeWorkflowTest.plan(UpgradePlan.Gate.FIRST).toBuilder()
        .hooks(
            new UpgradePlan.Hooks(
                new UpgradePlan.Hook("busybox:1.36", List.of("sh", "-c", "dump-secret-db")),
                null,
                null,
                null))
        .build();
  }

  private static TestWorkflowEnvironment environment(DataConverter converter) {
    return Environments.withSearchAttributes(
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder()
                .setWorkflowClientOptions(
                    WorkflowClientOptions.newBuilder().setDataConverter(converter).build())
                // No sticky queue: the worker after the rotation takes over at once.
                .setWorkerFactoryOptions(
                    WorkerFactoryOptions.newBuilder().setWorkflowCacheSize(0).build())
                .build()));
  }

  private static String rawText(History history) {
    StringBuilder all = new StringBuilder();
    history
        .getEventsList()
        .forEach(
            e ->
                all.append(e.toString())
                    .append(new String(e.toByteArray(), StandardCharsets.ISO_8859_1)));
    return all.toString();
  }

  @Test
  void theRawHistoryHoldsNoPlanTextIdentityOrReasonAndTheKeyReadsItAll() throws Exception {
    writeKey("2026-11", 1);
    DataConverter converter = PayloadEncryption.dataConverter(keys.toString(), null);
    try (TestWorkflowEnvironment env = environment(converter)) {
      Worker worker = env.newWorker(Names.taskQueue("default"));
      worker.registerWorkflowImplementationTypes(UpgradeWorkflowImpl.class);
      FakeCluster cluster = new FakeCluster(3);
      worker.registerActivitiesImplementations(cluster);
      env.start();
      WorkflowClient client = env.getWorkflowClient();
      Upgrades.start(client, new UpgradeRequest(plan(), "alice@laptop", "CVE-2026-9999", 0));
      env.sleep(Duration.ofMinutes(10));
      Scenarios.stub(client).resume(new SteerRequest("bob@desk", "first unit looks healthy"));
      UpgradeResult result = Scenarios.result(client);
      assertEquals(Phase.COMPLETED, result.phase());

      History raw =
          client
              .fetchHistory(
                  Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")))
              .getHistory();
      String text = rawText(raw);
      assertThat(text)
          .doesNotContain("nginx:1.26")
          .doesNotContain("dump-secret-db")
          .doesNotContain("alice@laptop")
          .doesNotContain("CVE-2026-9999")
          .doesNotContain("bob@desk")
          .doesNotContain("first unit looks healthy")
          .contains(PayloadEncryption.ENCODING)
          .contains("2026-11");

      // The audit, with the key, reads the same history.
      Audit.Report audit = Audit.of(null, raw.getEventsList(), converter, null);
      assertEquals("alice@laptop", audit.startedBy());
      assertEquals("CVE-2026-9999", audit.reason());
      assertThat(audit.entries()).anySatisfy(e -> assertThat(e.who()).isEqualTo("bob@desk"));
    }
  }

  /**
   * The codec of a worker and a CLI restarted with a new key: the one process of the test
   * environment switches from the keys before the rotation to the keys after it. With no workflow
   * cache, every task after the switch replays the run's history through the new keys.
   */
  private static final class Rotating implements io.temporal.payload.codec.PayloadCodec {
    volatile PayloadEncryption keys;

    @Override
    public List<Payload> encode(List<Payload> payloads) {
      return keys.encode(payloads);
    }

    @Override
    public List<Payload> decode(List<Payload> payloads) {
      return keys.decode(payloads);
    }
  }

  @Test
  void aRunStartedBeforeAKeyRotationFinishesAfterIt() throws Exception {
    writeKey("2026-11", 1);
    Rotating codec = new Rotating();
    codec.keys = PayloadEncryption.fromFiles(keys.toString(), null);
    DataConverter converter =
        new io.temporal.common.converter.CodecDataConverter(
            io.temporal.common.converter.DefaultDataConverter.STANDARD_INSTANCE, List.of(codec));
    try (TestWorkflowEnvironment env = environment(converter)) {
      Worker worker = env.newWorker(Names.taskQueue("default"));
      worker.registerWorkflowImplementationTypes(UpgradeWorkflowImpl.class);
      FakeCluster cluster = new FakeCluster(3);
      worker.registerActivitiesImplementations(cluster);
      env.start();
      WorkflowClient client = env.getWorkflowClient();
      Upgrades.start(client, new UpgradeRequest(plan(), "alice", "minor upgrade", 0));
      env.sleep(Duration.ofMinutes(10));
      assertEquals(Phase.WAITING_FOR_RESUME, Scenarios.stub(client).status().phase());

      // Rotation: a key is added; new payloads are encrypted with it.
      writeKey("2026-12", 2);
      codec.keys = PayloadEncryption.fromFiles(keys.toString(), null);
      assertEquals("2026-12", codec.keys.currentKeyId());

      Scenarios.stub(client).resume(new SteerRequest("bob", "after the rotation"));
      UpgradeResult result = Scenarios.result(client);
      assertEquals(Phase.COMPLETED, result.phase());
      assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-2");
      String text =
          rawText(
              client
                  .fetchHistory(
                      Names.workflowId(
                          "default", Target.parse(UpgradeWorkflowTest.TARGET, "default")))
                  .getHistory());
      assertThat(text).contains("2026-11").contains("2026-12");
    }
  }

  @Test
  void aPayloadDecryptsOnlyWithItsKeyAndClearPayloadsPassThrough() {
    PayloadEncryption old = new PayloadEncryption(Map.of("a", key(1)), null);
    PayloadEncryption both = new PayloadEncryption(Map.of("a", key(1), "b", key(2)), null);
    PayloadEncryption other = new PayloadEncryption(Map.of("b", key(2)), null);
    Payload clear =
        Payload.newBuilder()
            .putMetadata("encoding", com.google.protobuf.ByteString.copyFromUtf8("json/plain"))
            .setData(com.google.protobuf.ByteString.copyFromUtf8("{\"reason\":\"secret\"}"))
            .build();

    List<Payload> sealed = old.encode(List.of(clear));
    assertThat(sealed.get(0).getData().toStringUtf8()).doesNotContain("secret");
    assertThat(both.decode(sealed)).containsExactly(clear);
    assertThat(both.decode(List.of(clear))).containsExactly(clear);
    PayloadCodecException missing =
        assertThrows(PayloadCodecException.class, () -> other.decode(sealed));
    assertThat(missing.getMessage()).contains("codec key 'a', which is not among the keys given");
    assertEquals("b", both.currentKeyId());
    assertEquals("a", new PayloadEncryption(Map.of("a", key(1), "b", key(2)), "a").currentKeyId());
  }

  @Test
  void badKeysAreOneLineAndNeverEchoTheKey() throws Exception {
    Files.writeString(keys.resolve("short"), "c2hvcnQ=");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> PayloadEncryption.fromFiles(keys.toString(), null));
    assertThat(e.getMessage())
        .contains("codec key " + keys.resolve("short"))
        .contains("openssl rand -base64 32")
        .doesNotContain("c2hvcnQ=");
    assertThat(
            assertThrows(
                    IllegalArgumentException.class,
                    () -> PayloadEncryption.fromFiles(keys.resolve("none").toString(), null))
                .getMessage())
        .startsWith("codec keys: no file or directory");
  }
}
