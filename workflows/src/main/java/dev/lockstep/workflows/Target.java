package dev.lockstep.workflows;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One workload: {@code namespace/kind/name}, kind normalised to {@code statefulset} or {@code
 * deployment}; or, for the commands that take one ({@link #parseWithReleases}), a Helm release
 * {@code namespace/helm/release}.
 */
public record Target(String namespace, String kind, String name) {
  public static final String STATEFULSET = "statefulset";
  public static final String DEPLOYMENT = "deployment";

  /** A Helm release, {@code NAMESPACE/helm/RELEASE}: only where a command says it takes one. */
  public static final String HELM = "helm";

  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  /**
   * Parses {@code [NAMESPACE/]KIND/NAME}; kind may be {@code statefulset}, {@code sts}, {@code
   * deployment} or {@code deploy}.
   *
   * @throws IllegalArgumentException with a message a user can act on
   */
  public static Target parse(String text, String defaultNamespace) {
    return parse(text, defaultNamespace, false);
  }

  /**
   * As {@link #parse(String, String)}, and also {@code [NAMESPACE/]helm/RELEASE} (kind {@code
   * helm}, {@code release} or {@code releases}): for the commands that work on Helm releases.
   *
   * @throws IllegalArgumentException with a message a user can act on
   */
  public static Target parseWithReleases(String text, String defaultNamespace) {
    return parse(text, defaultNamespace, true);
  }

  private static Target parse(String text, String defaultNamespace, boolean releases) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException(
          "no target: give [NAMESPACE/]KIND/NAME, e.g. demo/statefulset/postgresql");
    }
    String[] parts = text.trim().split("/", -1);
    String namespace;
    String kind;
    String name;
    if (parts.length == 2) {
      namespace = defaultNamespace;
      kind = parts[0];
      name = parts[1];
    } else if (parts.length == 3) {
      namespace = parts[0];
      kind = parts[1];
      name = parts[2];
    } else {
      throw new IllegalArgumentException(
          "target '" + text + "' is not [NAMESPACE/]KIND/NAME, e.g. demo/statefulset/postgresql");
    }
    String normalised =
        releases && isReleaseKind(kind) ? HELM : normaliseKind(kind, text.trim(), namespace, name);
    Target target = new Target(namespace, normalised, name);
    target.validate();
    return target;
  }

  /** {@code statefulset} for sts/statefulset(s), {@code deployment} for deploy/deployment(s). */
  public static String normaliseKind(String kind) {
    return normaliseKind(kind, null, null, null);
  }

  private static String normaliseKind(String kind, String text, String namespace, String name) {
    String k = kind.toLowerCase(Locale.ROOT);
    return switch (k) {
      case "sts", "statefulset", "statefulsets" -> STATEFULSET;
      case "deploy", "deployment", "deployments" -> DEPLOYMENT;
      default ->
          throw new IllegalArgumentException(
              isReleaseKind(kind) && text != null
                  ? "this command does not take a Helm release ('"
                      + text
                      + "') yet: only `lockstep plan "
                      + namespace
                      + "/helm/"
                      + name
                      + " --chart DIR` does"
                  : "unsupported kind '"
                      + kind
                      + "': use statefulset (sts) or deployment (deploy)");
    };
  }

  /** Whether {@code kind} names a Helm release: {@code helm}, {@code release(s)}. */
  public static boolean isReleaseKind(String kind) {
    String k = kind.toLowerCase(Locale.ROOT);
    return k.equals(HELM) || k.equals("release") || k.equals("releases");
  }

  /** Checks the names against Kubernetes' rules. */
  public void validate() {
    if (namespace == null || namespace.length() > 63 || !DNS_LABEL.matcher(namespace).matches()) {
      throw new IllegalArgumentException(
          "namespace '"
              + namespace
              + "' is not a valid Kubernetes namespace (lower case letters, digits and '-', at"
              + " most 63 characters)");
    }
    if (name == null || name.length() > 253 || !DNS_SUBDOMAIN.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "name '"
              + name
              + "' is not a valid Kubernetes object name (lower case letters, digits, '-' and"
              + " '.', at most 253 characters)");
    }
    if (HELM.equals(kind) && name.length() > 53) {
      // Helm's own limit on release names (its objects are named after them).
      throw new IllegalArgumentException(
          "Helm release name '" + name + "' is longer than 53 characters");
    }
    if (STATEFULSET.equals(kind) && name.length() > 52) {
      // Pods are <name>-<ordinal> and carry a controller-revision-hash label of
      // <name>-<hash>: upstream limits StatefulSet names so that these fit 63 characters.
      throw new IllegalArgumentException(
          "StatefulSet name '" + name + "' is longer than 52 characters");
    }
  }

  @Override
  public String toString() {
    return namespace + "/" + kind + "/" + name;
  }
}
