package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Told of every stored change, after it is stored: how kubesim's controllers learn of work. */
@FunctionalInterface
public interface ChangeListener {
  /**
   * @param type the type of the changed object
   * @param object the object as stored, or as it was last stored when deleted
   * @param deleted whether the object is gone
   */
  void changed(ResourceType type, ObjectNode object, boolean deleted);
}
