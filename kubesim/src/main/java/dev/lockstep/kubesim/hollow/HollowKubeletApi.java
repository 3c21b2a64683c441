package dev.lockstep.kubesim.hollow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ChangeListener;
import dev.lockstep.kubesim.api.ResourceType;
import dev.lockstep.kubesim.api.ResourceTypes;
import dev.lockstep.kubesim.controller.Cluster;
import dev.lockstep.kubesim.controller.KubeletApi;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link KubeletApi} of hollow nodes: any API server, through fabric8. Each node watches the
 * pods bound to it ({@code spec.nodeName=NODE}, as a kubelet does) and reads them from that
 * informer's cache; status goes through {@code pods/status} as a JSON merge patch carrying the
 * pod's uid (the kubelet's status manager does the same, so a new pod of the same name is never
 * written); deletions are finished with grace period 0 and a uid precondition.
 */
public final class HollowKubeletApi implements KubeletApi, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HollowKubeletApi.class);
  private static final ResourceType PODS = ResourceTypes.of("", "pods");

  private final KubernetesClient client;
  private final Set<String> nodeNames;
  private final List<SharedIndexInformer<Pod>> informers = new ArrayList<>();

  public HollowKubeletApi(KubernetesClient client, Set<String> nodeNames) {
    this.client = client;
    this.nodeNames = Set.copyOf(nodeNames);
  }

  /** Starts watching the nodes' pods; every change goes to {@code listener}. */
  public void start(ChangeListener listener) {
    for (String node : nodeNames) {
      informers.add(
          client
              .pods()
              .inAnyNamespace()
              .withField("spec.nodeName", node)
              .inform(
                  new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(Pod pod) {
                      listener.changed(PODS, json(pod), false);
                    }

                    @Override
                    public void onUpdate(Pod before, Pod pod) {
                      listener.changed(PODS, json(pod), false);
                    }

                    @Override
                    public void onDelete(Pod pod, boolean finalStateUnknown) {
                      listener.changed(PODS, json(pod), true);
                    }
                  }));
    }
  }

  private ObjectNode json(Pod pod) {
    return client.getKubernetesSerialization().convertValue(pod, ObjectNode.class);
  }

  @Override
  public boolean runsNode(String nodeName) {
    return nodeNames.contains(nodeName);
  }

  @Override
  public Optional<ObjectNode> pod(String namespace, String name) {
    for (SharedIndexInformer<Pod> informer : informers) {
      Pod pod = informer.getStore().getByKey(namespace + "/" + name);
      if (pod != null) {
        return Optional.of(json(pod));
      }
    }
    return Optional.empty();
  }

  @Override
  public void forEachPod(Consumer<JsonNode> reader) {
    for (SharedIndexInformer<Pod> informer : informers) {
      informer.getStore().list().forEach(pod -> reader.accept(json(pod)));
    }
  }

  @Override
  public void writeStatus(ObjectNode pod, ObjectNode status) {
    ObjectNode patch = Cluster.JSON.createObjectNode();
    patch.putObject("metadata").put("uid", pod.path("metadata").path("uid").asText());
    patch.set("status", status);
    client
        .pods()
        .inNamespace(pod.path("metadata").path("namespace").asText())
        .withName(pod.path("metadata").path("name").asText())
        .subresource("status")
        .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
  }

  @Override
  public void finishDeletion(ObjectNode pod) {
    // fabric8's delete carries no uid precondition, so the request is written out here.
    String url =
        client.getMasterUrl().toString().replaceFirst("/$", "")
            + "/api/v1/namespaces/"
            + pod.path("metadata").path("namespace").asText()
            + "/pods/"
            + pod.path("metadata").path("name").asText();
    Map<String, Object> options =
        Map.of(
            "apiVersion",
            "v1",
            "kind",
            "DeleteOptions",
            "gracePeriodSeconds",
            0,
            "preconditions",
            Map.of("uid", pod.path("metadata").path("uid").asText()));
    try {
      client.raw(url, "DELETE", options);
    } catch (KubernetesClientException e) {
      // Gone already (404), or a newer pod of that name (409): either way not ours to delete.
      if (e.getCode() != 404 && e.getCode() != 409) {
        throw e;
      }
    }
  }

  @Override
  public void event(ObjectNode pod, String type, String reason, String message) {
    ObjectNode event = Cluster.eventFor(PODS, pod, type, reason, message, "kubelet");
    try {
      client
          .v1()
          .events()
          .inNamespace(pod.path("metadata").path("namespace").asText())
          .resource(client.getKubernetesSerialization().convertValue(event, Event.class))
          .create();
    } catch (KubernetesClientException e) {
      LOG.debug("event {} not recorded: {}", reason, e.getMessage());
    }
  }

  @Override
  public void close() {
    informers.forEach(SharedIndexInformer::close);
  }
}
