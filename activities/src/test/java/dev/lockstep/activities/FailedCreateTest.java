package dev.lockstep.activities;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which FailedCreate messages fail a unit at once, and which the controller's retries outlast. */
class FailedCreateTest {
  @Test
  void aQuotaAnAdmissionDenialOrAnInvalidPodIsARefusal() {
    assertTrue(
        UnitUpgrade.refused(
            "create Pod db-2 in StatefulSet db failed error: pods \"db-2\" is forbidden: exceeded"
                + " quota: pods, requested: pods=1, used: pods=2, limited: pods=2"));
    assertTrue(
        UnitUpgrade.refused(
            "create Pod db-2 in StatefulSet db failed error: admission webhook \"x\" denied the"
                + " request"));
    assertTrue(
        UnitUpgrade.refused(
            "create Pod db-2 in StatefulSet db failed error: Pod \"db-2\" is invalid:"
                + " spec.containers[0].name: Required value"));
  }

  @Test
  void aFailureThatSaysTryAgainOrAServiceAccountNotReadyIsNot() {
    assertFalse(
        UnitUpgrade.refused(
            "create Pod mq-2 in StatefulSet mq failed error: The POST operation against Pod could"
                + " not be completed at this time, please try again."));
    assertFalse(
        UnitUpgrade.refused(
            "create Pod mq-2 in StatefulSet mq failed error: pods \"mq-2\" is forbidden: error"
                + " looking up service account ns/default: serviceaccount \"default\" not found"));
  }
}
