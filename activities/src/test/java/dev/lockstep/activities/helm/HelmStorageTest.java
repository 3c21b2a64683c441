package dev.lockstep.activities.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Helm's storage encoding against records Helm itself wrote: {@code helm install} of the example
 * ghostwire chart 0.2.0 with {@code --set logLevel=debug}, then {@code helm upgrade} to 0.3.0
 * (helm-java 0.0.21, Helm 3.21, against a v1.20 API server; the Secrets as {@code kubectl get -o
 * json} printed them).
 */
class HelmStorageTest {

  static Secret fixture(int version) throws IOException {
    try (InputStream in =
        HelmStorageTest.class.getResourceAsStream(
            "/helm/sh.helm.release.v1.ghostwire.v" + version + ".json")) {
      return Serialization.unmarshal(in, Secret.class);
    }
  }

  @Test
  void readsWhatHelmWrote() throws IOException {
    HelmRelease v1 = HelmStorage.decode(fixture(1));
    HelmRelease v2 = HelmStorage.decode(fixture(2));

    assertThat(v1.name()).isEqualTo("ghostwire");
    assertThat(v1.namespace()).isEqualTo("default");
    assertThat(v1.version()).isEqualTo(1);
    assertThat(v1.status()).isEqualTo(HelmRelease.SUPERSEDED);
    assertThat(v1.chartVersion()).isEqualTo("0.2.0");
    assertThat(v1.description()).isEqualTo("Install complete");
    assertThat(v2.version()).isEqualTo(2);
    assertThat(v2.status()).isEqualTo(HelmRelease.DEPLOYED);
    assertThat(v2.chartName()).isEqualTo("ghostwire");
    assertThat(v2.chartVersion()).isEqualTo("0.3.0");
    assertThat(v2.appVersion()).isEqualTo("1.19.0");
    assertThat(v2.description()).isEqualTo("Upgrade complete");
    // helm upgrade without values reuses the last release's (what helm get values prints)
    assertThat(v2.config().toString()).isEqualTo("{\"logLevel\":\"debug\"}");
    assertThat(v2.manifest())
        .startsWith("---\n# Source: ghostwire/templates/service.yaml\n")
        .contains("image: \"ghcr.io/example/ghostwire:1.19.0\"");
    assertThat(v2.hooks())
        .singleElement()
        .satisfies(
            hook -> {
              assertThat(hook.name()).isEqualTo("ghostwire-test-connection");
              assertThat(hook.kind()).isEqualTo("Job");
              assertThat(hook.events()).containsExactly("test");
              assertThat(hook.deletePolicies()).containsExactly("before-hook-creation");
            });
  }

  @Test
  void writesWhatHelmReads() throws IOException {
    Secret helmWrote = fixture(2);
    HelmRelease v2 = HelmStorage.decode(helmWrote);

    Secret lockstepWrites = HelmStorage.encode(v2, Instant.ofEpochSecond(1795807343));

    assertThat(lockstepWrites.getMetadata().getName()).isEqualTo("sh.helm.release.v1.ghostwire.v2");
    assertThat(lockstepWrites.getType()).isEqualTo("helm.sh/release.v1");
    assertThat(lockstepWrites.getMetadata().getLabels())
        .isEqualTo(helmWrote.getMetadata().getLabels());
    // The same release JSON, gzipped and base64 as Helm's driver does (Helm's decoder checks the
    // gzip magic number), so helm reads it back.
    String helmText =
        new String(
            java.util.Base64.getDecoder().decode(lockstepWrites.getData().get("release")),
            java.nio.charset.StandardCharsets.US_ASCII);
    assertThat(java.util.Base64.getDecoder().decode(helmText))
        .startsWith((byte) 0x1f, (byte) 0x8b, (byte) 0x08);
    assertThat(HelmStorage.decode(lockstepWrites)).isEqualTo(v2);
    assertThat(ReleaseCodec.decode(helmText)).isEqualTo(v2.json());
  }

  @Test
  void theNextRevisionHasTheFieldsHelmWrites() throws IOException {
    HelmRelease v1 = HelmStorage.decode(fixture(1));
    HelmRelease v2 = HelmStorage.decode(fixture(2));

    HelmRelease ours =
        v1.next(
            v2.chart(),
            v2.config(),
            v2.manifest(),
            v2.hooks(),
            HelmRelease.DEPLOYED,
            "Upgrade complete",
            Instant.parse("2026-11-27T19:22:23.526180126Z"));

    // Helm's own v2 differs from ours only in what it could not know: nothing.
    assertThat(ours.json()).isEqualTo(v2.json());
    assertThat(v1.withStatus(HelmRelease.SUPERSEDED, null)).isEqualTo(v1);
  }

  @Test
  void goTimesAsGoWritesThem() {
    assertThat(HelmRelease.goTime(Instant.parse("2026-11-27T19:22:23.027403395Z")))
        .isEqualTo("2026-11-27T19:22:23.027403395Z");
    assertThat(HelmRelease.goTime(Instant.parse("2026-11-27T19:22:23.500Z")))
        .isEqualTo("2026-11-27T19:22:23.5Z");
    assertThat(HelmRelease.goTime(Instant.parse("2026-11-27T19:22:23Z")))
        .isEqualTo("2026-11-27T19:22:23Z");
  }

  @Test
  void somethingElseIsRefusedInOneLine() {
    Secret notHelm =
        new io.fabric8.kubernetes.api.model.SecretBuilder()
            .withNewMetadata()
            .withName("sh.helm.release.v1.x.v1")
            .endMetadata()
            .withData(java.util.Map.of("release", "bm90IGhlbG0="))
            .build();
    assertThatThrownBy(() -> HelmStorage.decode(notHelm))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("not a Helm release record");
  }
}
