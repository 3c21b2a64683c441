package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A release installed as {@code helm install RELEASE CHART -n NAMESPACE -f values} leaves it,
 * without Helm's client: the chart rendered by Helm (helm-java, in process), every object that is
 * not a hook created with Helm's ownership metadata, and revision 1 {@code deployed} in Helm's
 * storage. For the dev stack's seeded release and for tests that need a release Helm could have
 * written (Helm's own install is proven equivalent in HelmInteropIT). Install hooks are not run
 * (the example charts have none). Idempotent: what exists already is left as it is.
 */
public final class HelmInstall {
  private HelmInstall() {}

  /**
   * Installs {@code chart} (a chart directory) as {@code release} in {@code namespace}, which must
   * exist, with the user-supplied {@code values} (Helm's {@code -f}).
   *
   * @return the release's first revision as stored
   * @throws IllegalArgumentException values the chart refuses, a template that does not render
   */
  public static HelmRelease install(
      KubernetesClient client,
      ChartRenderer renderer,
      Path chart,
      String release,
      String namespace,
      Map<String, String> values,
      Instant now) {
    HelmStorage storage = new HelmStorage(client);
    Optional<HelmRelease> installed = storage.latest(namespace, release);
    if (installed.isPresent()) {
      return installed.get();
    }
    ObjectNode config =
        HelmValues.merge(
            HelmValues.JSON.createObjectNode(), values, List.of(), HelmValues.Reuse.RESET_VALUES);
    ChartRenderer.Rendered rendered = renderer.render(chart, release, namespace, config);
    for (ChartRenderer.RenderedObject o : rendered.objects()) {
      ObjectNode owned = ReleaseObjects.owned(o.object(), release, namespace);
      try {
        client
            .genericKubernetesResources(o.apiVersion(), o.kind())
            .inNamespace(o.object().path("metadata").path("namespace").asText(namespace))
            .resource(
                Serialization.jsonMapper().convertValue(owned, GenericKubernetesResource.class))
            .create();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
    }
    HelmRelease first =
        HelmRelease.first(
            release,
            namespace,
            rendered.chart(),
            rendered.config(),
            rendered.manifest(),
            rendered.hooks(),
            HelmRelease.DEPLOYED,
            "Install complete",
            now);
    storage.write(first, now);
    return first;
  }
}
