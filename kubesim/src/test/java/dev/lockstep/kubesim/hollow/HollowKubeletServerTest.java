package dev.lockstep.kubesim.hollow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a hollow node's kubelet API answers for each query, as a kubelet picks the lines. */
class HollowKubeletServerTest {
  private static final Instant NOW = Instant.now();
  private static final List<String> LOG =
      List.of(
          line(NOW.minusSeconds(600), "starting image app:1-broken"),
          line(NOW.minusSeconds(300), "exited with code 1 (kubesim: this image is set to crash)"),
          line(NOW.minusSeconds(5), "ready"));

  private static String line(Instant at, String message) {
    return at + " [kubesim] app: " + message;
  }

  private static String select(Map<String, String> query) {
    return HollowKubeletServer.select(LOG, query::get, "app", "web-0");
  }

  @Test
  void withoutParametersEveryLineComesInOrder() {
    assertThat(select(Map.of())).isEqualTo(String.join("\n", LOG) + "\n");
  }

  @Test
  void tailLinesSinceSecondsAndLimitBytesNarrowItAsTheKubeletDoes() {
    assertThat(select(Map.of("tailLines", "1"))).isEqualTo(LOG.get(2) + "\n");
    assertThat(select(Map.of("tailLines", "0"))).isEmpty();
    assertThat(select(Map.of("sinceSeconds", "60"))).isEqualTo(LOG.get(2) + "\n");
    assertThat(select(Map.of("sinceTime", NOW.minusSeconds(400).toString())))
        .isEqualTo(LOG.get(1) + "\n" + LOG.get(2) + "\n");
    // limitBytes counts from the start of what the other parameters picked.
    assertThat(select(Map.of("tailLines", "1", "limitBytes", "4")))
        .isEqualTo(LOG.get(2).substring(0, 4));
  }

  @Test
  void timestampsPutEachLinesTimeFirst() {
    assertThat(select(Map.of("timestamps", "true", "tailLines", "1")))
        .isEqualTo(NOW.minusSeconds(5) + " " + LOG.get(2) + "\n");
  }

  @Test
  void previousIsTheLogUpToTheLastExitAndRefusedWhenTheContainerNeverExited() {
    assertThat(select(Map.of("previous", "true"))).isEqualTo(LOG.get(0) + "\n" + LOG.get(1) + "\n");
    assertThatThrownBy(
            () ->
                HollowKubeletServer.select(
                    List.of(LOG.get(0)), Map.of("previous", "true")::get, "app", "web-0"))
        .hasMessage("previous terminated container \"app\" in pod \"web-0\" not found");
  }

  @Test
  void aBadNumberIsRefusedWithOneLine() {
    assertThatThrownBy(() -> select(Map.of("tailLines", "x")))
        .hasMessage("tailLines must be a number at or above 0, was x");
    assertThatThrownBy(() -> select(Map.of("limitBytes", "-1")))
        .hasMessage("limitBytes must be a number at or above 0, was -1");
  }

  @Test
  void theServingCertificateIsAnX509CertificateForItsKey() throws Exception {
    ServingCertificate certificate = ServingCertificate.create("hollow-node");
    X509Certificate parsed =
        (X509Certificate)
            CertificateFactory.getInstance("X.509")
                .generateCertificate(
                    new ByteArrayInputStream(
                        certificate.certificatePem().getBytes(StandardCharsets.US_ASCII)));
    assertThat(parsed.getSubjectX500Principal().getName()).isEqualTo("CN=hollow-node");
    parsed.checkValidity();
    parsed.verify(parsed.getPublicKey());
    assertThat(certificate.privateKeyPem()).startsWith("-----BEGIN PRIVATE KEY-----\n");
  }
}
