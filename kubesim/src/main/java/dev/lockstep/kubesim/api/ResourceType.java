package dev.lockstep.kubesim.api;

import java.util.List;

/**
 * One kind of object the simulated API server serves: where it lives in the URL space and what
 * discovery says about it.
 *
 * @param group API group, "" for the core group
 * @param version API version within the group
 * @param plural resource name in URLs, e.g. {@code statefulsets}
 * @param kind object kind, e.g. {@code StatefulSet}
 * @param namespaced whether objects live in a namespace
 * @param shortNames kubectl short names
 * @param subresources subresources served, e.g. {@code status}, {@code scale}
 */
public record ResourceType(
    String group,
    String version,
    String plural,
    String kind,
    boolean namespaced,
    List<String> shortNames,
    List<String> subresources) {

  /** The {@code apiVersion} of objects of this type, e.g. {@code apps/v1} or {@code v1}. */
  public String apiVersion() {
    return group.isEmpty() ? version : group + "/" + version;
  }

  /** Singular name as discovery reports it. */
  public String singular() {
    return kind.toLowerCase(java.util.Locale.ROOT);
  }

  /** Whether a write to the main resource keeps the stored status (the status subresource). */
  public boolean hasStatus() {
    return subresources.contains("status");
  }
}
