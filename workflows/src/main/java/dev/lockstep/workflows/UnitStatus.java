package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * One unit as {@code lockstep status} shows it.
 *
 * @param name pod name
 * @param ordinal the pod's ordinal
 * @param state where it is in the upgrade
 * @param revision the revision it was last seen on
 * @param ready whether it was last seen Ready
 * @param message what is happening to it, as {@code juju status} says it
 */
/* A CLI or console older than the worker reads a status with fields it does not know yet. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record UnitStatus(
    String name, int ordinal, UnitState state, String revision, boolean ready, String message) {

  UnitStatus with(UnitState newState, String newRevision, boolean newReady, String newMessage) {
    return new UnitStatus(name, ordinal, newState, newRevision, newReady, newMessage);
  }
}
