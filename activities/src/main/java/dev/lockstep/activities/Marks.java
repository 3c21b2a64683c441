package dev.lockstep.activities;

import static dev.lockstep.activities.StatefulSets.nonRetryable;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_CHANGED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_LOCKED;
import static dev.lockstep.workflows.ClusterActivities.ORIGIN_ANNOTATION;
import static dev.lockstep.workflows.ClusterActivities.RUN_ANNOTATION;

import dev.lockstep.workflows.ClusterActivities.Origin;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mark a run leaves on its target: the run annotation (which run is changing it) and the origin
 * annotation (what the target was before). Every step that writes checks the mark first, so two
 * runs never change one StatefulSet and a run never acts on a target someone else took.
 */
final class Marks {
  private static final Logger LOG = LoggerFactory.getLogger(Marks.class);

  /** A merge patch that removes both annotations. */
  static final String UNMARK =
      "{\"metadata\":{\"annotations\":{\""
          + RUN_ANNOTATION
          + "\":null,\""
          + ORIGIN_ANNOTATION
          + "\":null}}}";

  private Marks() {}

  /** The run that marked the target, or null. */
  static String annotation(HasMetadata sts) {
    Map<String, String> annotations = sts.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(RUN_ANNOTATION);
  }

  /** What the origin annotation records, or null when it is missing or unreadable. */
  static Origin origin(HasMetadata sts) {
    Map<String, String> annotations = sts.getMetadata().getAnnotations();
    String text = annotations == null ? null : annotations.get(ORIGIN_ANNOTATION);
    if (text == null) {
      return null;
    }
    try {
      return Serialization.jsonMapper().readValue(text, Origin.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      LOG.warn(
          "ignoring an unreadable {} annotation on {}",
          ORIGIN_ANNOTATION,
          sts.getMetadata().getName());
      return null;
    }
  }

  static String json(Origin origin) {
    try {
      return Serialization.jsonMapper().writeValueAsString(origin);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static void checkNotLocked(HasMetadata sts, String runId, Target target) {
    String holder = annotation(sts);
    if (holder != null && !holder.equals(runId)) {
      throw nonRetryable(
          FAILURE_TARGET_LOCKED, target + " is marked as being changed by Lockstep run " + holder);
    }
  }

  static void checkOurs(HasMetadata sts, String runId, Target target) {
    String holder = annotation(sts);
    if (!runId.equals(holder)) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          target
              + " is no longer marked by this run ("
              + RUN_ANNOTATION
              + "="
              + (holder == null ? "none" : holder)
              + "): someone else changed it");
    }
  }
}
