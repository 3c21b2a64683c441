package dev.lockstep.kubesim.lane;

import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A volume provisioner for a real control plane without one (the kit has no storage): every
 * PersistentVolumeClaim left unbound gets a PersistentVolume of its size, pre-bound to it, which
 * the controller manager's binder then binds, as a dynamic provisioner's volume would be. Without
 * it a StatefulSet with {@code volumeClaimTemplates} never gets a pod scheduled (kubesim binds
 * claims at once itself).
 */
final class ClaimProvisioner implements AutoCloseable {
  private final KubernetesClient admin;
  private final SharedIndexInformer<PersistentVolumeClaim> claims;

  ClaimProvisioner(KubernetesClient admin) {
    this.admin = admin;
    this.claims =
        admin
            .persistentVolumeClaims()
            .inAnyNamespace()
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(PersistentVolumeClaim claim) {
                    provision(claim);
                  }

                  @Override
                  public void onUpdate(PersistentVolumeClaim before, PersistentVolumeClaim claim) {
                    provision(claim);
                  }

                  @Override
                  public void onDelete(PersistentVolumeClaim claim, boolean unknown) {}
                });
  }

  private void provision(PersistentVolumeClaim claim) {
    if (claim.getSpec().getVolumeName() != null && !claim.getSpec().getVolumeName().isEmpty()) {
      return;
    }
    String name = "pv-" + claim.getMetadata().getUid();
    Quantity size =
        Optional.ofNullable(claim.getSpec().getResources())
            .map(r -> r.getRequests())
            .map(r -> r.get("storage"))
            .orElse(new Quantity("1Gi"));
    try {
      admin
          .persistentVolumes()
          .resource(
              new PersistentVolumeBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .addToLabels("kubesim.lockstep.dev/provisioned", "true")
                  .endMetadata()
                  .withNewSpec()
                  .withCapacity(Map.of("storage", size))
                  .withAccessModes(
                      Optional.ofNullable(claim.getSpec().getAccessModes())
                          .filter(modes -> !modes.isEmpty())
                          .orElse(List.of("ReadWriteOnce")))
                  .withStorageClassName(
                      Optional.ofNullable(claim.getSpec().getStorageClassName()).orElse(""))
                  .withPersistentVolumeReclaimPolicy("Retain")
                  .withNewHostPath()
                  .withPath("/tmp/" + name)
                  .endHostPath()
                  .withNewClaimRef()
                  .withNamespace(claim.getMetadata().getNamespace())
                  .withName(claim.getMetadata().getName())
                  .withUid(claim.getMetadata().getUid())
                  .endClaimRef()
                  .endSpec()
                  .build())
          .create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
    }
  }

  @Override
  public void close() {
    claims.stop();
  }
}
