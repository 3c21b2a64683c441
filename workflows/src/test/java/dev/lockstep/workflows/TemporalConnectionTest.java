package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.temporal.serviceclient.GrpcMetadataProvider;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The connection settings: the temporal CLI's variables, flags over them, the API key kept out. */
class TemporalConnectionTest {
  private static final TemporalConnection NO_FLAGS =
      new TemporalConnection(null, null, null, null, null, null, null, null);

  @Test
  void theEnvironmentUsesTheTemporalCliNamesAndFlagsWin() {
    TemporalConnection env =
        TemporalConnection.fromEnvironment(
            Map.of(
                "TEMPORAL_ADDRESS", "temporal.example.com:7233",
                "TEMPORAL_NAMESPACE", "platform",
                "TEMPORAL_TLS_CA", "/etc/ca.pem",
                "TEMPORAL_TLS_SERVER_NAME", "frontend.temporal"));
    assertEquals("temporal.example.com:7233", env.address());
    assertEquals("platform", env.namespace());
    assertTrue(env.usesTls(), "a CA implies TLS");
    TemporalConnection both =
        env.overriddenBy(
            new TemporalConnection("other:7233", null, null, null, null, null, "other", null));
    assertEquals("other:7233", both.address());
    assertEquals("platform", both.namespace());
    assertEquals("/etc/ca.pem", both.tlsCa());
    assertEquals("other", both.tlsServerName());
    TemporalConnection none = TemporalConnection.fromEnvironment(Map.of()).overriddenBy(NO_FLAGS);
    assertEquals("localhost:7233", none.address());
    assertEquals("default", none.namespace());
    assertFalse(none.usesTls());
  }

  @Test
  void anApiKeyIsSentAsABearerTokenOverTlsAndNeverPrinted() {
    TemporalConnection cloud =
        TemporalConnection.fromEnvironment(
            Map.of(
                "TEMPORAL_ADDRESS", "ns.acct.tmprl.cloud:7233",
                "TEMPORAL_NAMESPACE", "ns.acct",
                "TEMPORAL_API_KEY", "secret-key-123"));
    assertTrue(cloud.usesTls(), "an API key implies TLS");
    WorkflowServiceStubsOptions options = cloud.options().build();
    assertTrue(options.getEnableHttps());
    Metadata sent = new Metadata();
    for (GrpcMetadataProvider provider : options.getGrpcMetadataProviders()) {
      sent.merge(provider.getMetadata());
    }
    assertEquals(
        "Bearer secret-key-123",
        sent.get(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER)));
    assertThat(cloud.toString()).doesNotContain("secret-key-123").contains("apiKey=(set)");
  }

  @Test
  void aCertificateWithoutItsKeyOrAnUnreadableFileIsSaidBeforeConnecting() {
    TemporalConnection half =
        TemporalConnection.fromEnvironment(Map.of("TEMPORAL_TLS_CERT", "/nonexistent/client.pem"));
    assertThat(half.problems())
        .containsExactly(
            "a client certificate needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"
                + " (--tls-cert-path and --tls-key-path)",
            "cannot read TEMPORAL_TLS_CERT (--tls-cert-path) file /nonexistent/client.pem");
    TemporalConnection off = TemporalConnection.fromEnvironment(Map.of("TEMPORAL_TLS", "false"));
    assertFalse(off.usesTls());
    assertThat(off.problems()).isEmpty();
  }
}
