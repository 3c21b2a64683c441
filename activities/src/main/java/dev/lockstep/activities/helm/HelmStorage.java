package dev.lockstep.activities.helm;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Helm 3's release storage in Secrets ({@code sh.helm.release.v1.NAME.vN}, type {@code
 * helm.sh/release.v1}, labels {@code owner=helm}, {@code name}, {@code status}, {@code version},
 * {@code modifiedAt}), read and written as Helm's Secrets driver does, so that {@code helm list},
 * {@code history}, {@code get values} and {@code rollback} read what Lockstep wrote and the
 * reverse.
 */
public final class HelmStorage {
  /** The Secret type of Helm 3's release records. */
  public static final String TYPE = "helm.sh/release.v1";

  private final KubernetesClient client;

  public HelmStorage(KubernetesClient client) {
    this.client = client;
  }

  /** The Secret name of a revision: {@code sh.helm.release.v1.NAME.vN}. */
  public static String secretName(String release, int version) {
    return "sh.helm.release.v1." + release + ".v" + version;
  }

  /** Every stored revision of the release, oldest first; empty when Helm knows no such release. */
  public List<HelmRelease> history(String namespace, String release) {
    return client
        .secrets()
        .inNamespace(namespace)
        .withLabels(Map.of("owner", "helm", "name", release))
        .list()
        .getItems()
        .stream()
        .filter(s -> TYPE.equals(s.getType()))
        .map(HelmStorage::decode)
        .sorted(Comparator.comparingInt(HelmRelease::version))
        .toList();
  }

  /** The highest revision, whatever its status. */
  public Optional<HelmRelease> latest(String namespace, String release) {
    List<HelmRelease> all = history(namespace, release);
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
  }

  /** One revision. */
  public Optional<HelmRelease> get(String namespace, String release, int version) {
    Secret secret =
        client.secrets().inNamespace(namespace).withName(secretName(release, version)).get();
    return secret == null ? Optional.empty() : Optional.of(decode(secret));
  }

  /** The release stored in one of Helm's Secrets. */
  public static HelmRelease decode(Secret secret) {
    String data = secret.getData() == null ? null : secret.getData().get("release");
    if (data == null) {
      throw new IllegalArgumentException(
          "Secret " + secret.getMetadata().getName() + " holds no Helm release");
    }
    return HelmRelease.of(ReleaseCodec.decodeSecretData(data));
  }

  /** The Secret Helm's driver would write for this revision at {@code now}. */
  public static Secret encode(HelmRelease release, Instant now) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("modifiedAt", String.valueOf(now.getEpochSecond()));
    labels.put("name", release.name());
    labels.put("owner", "helm");
    labels.put("status", release.status());
    labels.put("version", String.valueOf(release.version()));
    return new SecretBuilder()
        .withNewMetadata()
        .withName(secretName(release.name(), release.version()))
        .withNamespace(release.namespace())
        .withLabels(labels)
        .endMetadata()
        .withType(TYPE)
        .withData(Map.of("release", ReleaseCodec.encodeSecretData(release.json())))
        .build();
  }

  /**
   * Stores the revision: creates its Secret, or replaces it when it holds another state of the same
   * revision (a status change). Idempotent: a revision already stored as given is not written
   * again, so a retried activity writes nothing twice.
   */
  public void write(HelmRelease release, Instant now) {
    String namespace = release.namespace();
    String name = secretName(release.name(), release.version());
    Secret existing = client.secrets().inNamespace(namespace).withName(name).get();
    if (existing == null) {
      try {
        client.secrets().inNamespace(namespace).resource(encode(release, now)).create();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        existing = client.secrets().inNamespace(namespace).withName(name).get();
      }
    }
    if (decode(existing).equals(release)) {
      return;
    }
    Secret wanted = encode(release, now);
    wanted.getMetadata().setResourceVersion(existing.getMetadata().getResourceVersion());
    client.secrets().inNamespace(namespace).resource(wanted).update();
  }

  /**
   * Stores a new revision only if no revision of that number exists: what marks a release as held,
   * so that of two writers racing for the same revision exactly one wins.
   *
   * @return false when the revision already existed (nothing was written)
   */
  public boolean create(HelmRelease release, Instant now) {
    try {
      client.secrets().inNamespace(release.namespace()).resource(encode(release, now)).create();
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return false;
      }
      throw e;
    }
  }
}
