package dev.lockstep.activities;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The bounded steps of a gated rolling update: against upstream's rolling arithmetic with no new
 * pod available (the controller's resting point for each step's settings), every step ends at
 * exactly the gate's count of new pods, never takes the user below replicas - maxUnavailable Ready
 * pods nor above replicas + maxSurge pods, and reaches the gate with the old pods scaled down.
 */
class RollingStepsTest {
  private static String strategy(Object surge, Object unavailable) {
    DeploymentStrategyBuilder b = new DeploymentStrategyBuilder().withType("RollingUpdate");
    var r = b.withNewRollingUpdate();
    r = surge instanceof Integer i ? r.withNewMaxSurge(i) : r.withNewMaxSurge((String) surge);
    r =
        unavailable instanceof Integer i
            ? r.withNewMaxUnavailable(i)
            : r.withNewMaxUnavailable((String) unavailable);
    return Serialization.asJson(r.endRollingUpdate().build());
  }

  private static Deployment deployment(int replicas) {
    return new DeploymentBuilder()
        .withNewSpec()
        .withReplicas(replicas)
        .withMinReadySeconds(5)
        .withProgressDeadlineSeconds(600)
        .endSpec()
        .build();
  }

  @Test
  void fencepostsRoundAsUpstream() {
    assertThat(Deployments.fenceposts(strategy("25%", "25%"), 4)).containsExactly(1, 1);
    assertThat(Deployments.fenceposts(strategy("25%", "25%"), 3)).containsExactly(1, 0);
    assertThat(Deployments.fenceposts(strategy(0, "10%"), 3)).containsExactly(0, 1);
    assertThat(Deployments.fenceposts(null, 10)).containsExactly(3, 2);
    assertThat(
            Deployments.fenceposts(
                Serialization.asJson(new DeploymentStrategyBuilder().withType("Recreate").build()),
                3))
        .isNull();
  }

  @Test
  void theFirstGateOfFourWithOneSurgeIsOneNewPodThenOneOldPodLess() {
    String user = strategy(1, 0);
    Deployment d = deployment(4);
    Deployments.Held first = Deployments.nextStep(null, user, d, 4, 0, 4, 1);
    assertThat(List.of(first.maxSurge(), first.maxUnavailable())).containsExactly(1, 0);
    assertThat(first.minReadySeconds()).isEqualTo(5);
    assertThat(first.progressDeadlineSeconds()).isEqualTo(600);
    assertThat(first.strategy()).isEqualTo(user);
    // Not Ready yet: the same step.
    assertThat(Deployments.nextStep(first, user, d, 4, 0, 4, 1)).isEqualTo(first);
    Deployments.Held second = Deployments.nextStep(first, user, d, 4, 1, 4, 1);
    assertThat(List.of(second.maxSurge(), second.maxUnavailable())).containsExactly(0, 1);
  }

  @Test
  void everyStepStaysWithinTheUsersLimitsAndEndsExactlyAtTheGate() {
    List<Object> values = List.of(0, 1, 2, "25%", "50%", "100%");
    for (int replicas = 1; replicas <= 9; replicas++) {
      for (Object surge : values) {
        for (Object unavailable : values) {
          String user = strategy(surge, unavailable);
          int[] limits = Deployments.fenceposts(user, replicas);
          if (surge.equals(0) && unavailable.equals(0)) {
            continue; // refused by the API server
          }
          for (int gate = 1; gate < replicas; gate++) {
            walk(replicas, user, limits, gate);
          }
        }
      }
    }
  }

  /**
   * Moves from nothing new to {@code gate} as the controller would, checking each resting point.
   */
  private static void walk(int replicas, String user, int[] limits, int gate) {
    Deployment d = deployment(replicas);
    int ready = 0;
    int old = replicas;
    Deployments.Held step = null;
    String where = replicas + " replicas, " + user + ", gate " + gate;
    for (int moves = 0; moves < 4 * replicas + 4; moves++) {
      if (ready >= gate && old <= replicas - gate) {
        assertThat(ready).as(where).isEqualTo(gate);
        assertThat(old).as(where).isEqualTo(replicas - gate);
        return;
      }
      step = Deployments.nextStep(step, user, d, replicas, ready, old, gate);
      assertThat(step.count()).as(where).isBetween(1, gate);
      // Upstream with no new pod available: the old ones down to replicas - maxUnavailable (the
      // new pods Ready so far still serve), then the new ones up to replicas + maxSurge in all.
      int oldAfter = Math.min(old, replicas - step.maxUnavailable());
      assertThat(oldAfter + ready)
          .as(where + ": Ready pods")
          .isGreaterThanOrEqualTo(replicas - limits[1]);
      int newAfter = Math.max(ready, replicas + step.maxSurge() - oldAfter);
      assertThat(newAfter).as(where).isEqualTo(step.count());
      assertThat(oldAfter + newAfter).as(where).isLessThanOrEqualTo(replicas + limits[0]);
      old = oldAfter;
      ready = newAfter;
    }
    throw new AssertionError(where + ": did not reach the gate");
  }
}
