package dev.lockstep.kubesim.lane;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The worker's identity in the real lane: a ServiceAccount {@code lockstep/lockstep-worker} bound
 * to exactly the Role and ClusterRole(s) that docs/worker.md publishes under "## RBAC" (read from
 * that file, never a copy), the Role in every namespace a test creates.
 */
final class WorkerRbac {
  static final String NAMESPACE = "lockstep";
  static final String ACCOUNT = "lockstep-worker";

  private final KubernetesClient admin;
  private final List<Role> roles = new ArrayList<>();
  private final List<ClusterRole> clusterRoles = new ArrayList<>();

  WorkerRbac(KubernetesClient admin) {
    this.admin = admin;
    for (HasMetadata object :
        admin
            .load(new ByteArrayInputStream(publishedYaml().getBytes(StandardCharsets.UTF_8)))
            .items()) {
      if (object instanceof Role role) {
        roles.add(role);
      } else if (object instanceof ClusterRole clusterRole) {
        clusterRoles.add(clusterRole);
      } else {
        throw new IllegalStateException(
            "docs/worker.md's RBAC has a " + object.getKind() + ": only Roles and ClusterRoles");
      }
    }
    if (roles.isEmpty()) {
      throw new IllegalStateException("docs/worker.md's RBAC has no Role");
    }
  }

  /**
   * Creates the ServiceAccount and the cluster-wide bindings (again, if a previous run left them);
   * returns a kubeconfig that authenticates with its token.
   */
  String install() {
    admin
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    admin
        .serviceAccounts()
        .inNamespace(NAMESPACE)
        .resource(
            new ServiceAccountBuilder()
                .withNewMetadata()
                .withName(ACCOUNT)
                .withNamespace(NAMESPACE)
                .endMetadata()
                .build())
        .serverSideApply();
    for (ClusterRole role : clusterRoles) {
      admin.rbac().clusterRoles().resource(role).serverSideApply();
      admin
          .rbac()
          .clusterRoleBindings()
          .resource(
              new ClusterRoleBindingBuilder()
                  .withNewMetadata()
                  .withName(role.getMetadata().getName())
                  .endMetadata()
                  .withNewRoleRef(
                      "rbac.authorization.k8s.io", "ClusterRole", role.getMetadata().getName())
                  .addNewSubject()
                  .withKind("ServiceAccount")
                  .withName(ACCOUNT)
                  .withNamespace(NAMESPACE)
                  .endSubject()
                  .build())
          .serverSideApply();
    }
    Secret secret;
    if (tokenSecrets(admin)) {
      ServiceAccount account =
          admin
              .serviceAccounts()
              .inNamespace(NAMESPACE)
              .withName(ACCOUNT)
              .waitUntilCondition(
                  sa -> sa != null && sa.getSecrets() != null && !sa.getSecrets().isEmpty(),
                  30,
                  TimeUnit.SECONDS);
      secret = tokenOf(account.getSecrets().get(0).getName());
    } else {
      // From 1.24 a ServiceAccount gets no token Secret by itself: ask for one, as upstream's
      // docs say to for a long-lived token; the token controller fills it in.
      admin
          .secrets()
          .inNamespace(NAMESPACE)
          .resource(
              new SecretBuilder()
                  .withNewMetadata()
                  .withName(ACCOUNT + "-token")
                  .withNamespace(NAMESPACE)
                  .addToAnnotations("kubernetes.io/service-account.name", ACCOUNT)
                  .endMetadata()
                  .withType("kubernetes.io/service-account-token")
                  .build())
          .serverSideApply();
      secret = tokenOf(ACCOUNT + "-token");
    }
    String token =
        new String(
            Base64.getDecoder().decode(secret.getData().get("token")), StandardCharsets.UTF_8);
    String ca = secret.getData().get("ca.crt");
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: real
          cluster:
            server: %s
            certificate-authority-data: %s
        contexts:
        - name: lockstep-worker
          context: {cluster: real, user: lockstep-worker, namespace: default}
        current-context: lockstep-worker
        users:
        - name: lockstep-worker
          user:
            token: %s
        """
        .formatted(admin.getConfiguration().getMasterUrl(), ca, token);
  }

  private Secret tokenOf(String secretName) {
    return admin
        .secrets()
        .inNamespace(NAMESPACE)
        .withName(secretName)
        .waitUntilCondition(
            s -> s != null && s.getData() != null && s.getData().containsKey("token"),
            30,
            TimeUnit.SECONDS);
  }

  /**
   * Whether the server gives every ServiceAccount a token Secret by itself (before 1.24), and so
   * refuses a namespace's pods until its default ServiceAccount has one.
   */
  static boolean tokenSecrets(KubernetesClient admin) {
    String minor = admin.getKubernetesVersion().getMinor().replaceAll("[^0-9]", "");
    String major = admin.getKubernetesVersion().getMajor().replaceAll("[^0-9]", "");
    return major.equals("1") && !minor.isEmpty() && Integer.parseInt(minor) < 24;
  }

  /** Puts the published Role(s) in {@code namespace} and binds them to the worker's account. */
  void bind(String namespace) {
    for (Role published : roles) {
      Role role =
          new io.fabric8.kubernetes.api.model.rbac.RoleBuilder(published)
              .editMetadata()
              .withNamespace(namespace)
              .endMetadata()
              .build();
      admin.rbac().roles().inNamespace(namespace).resource(role).create();
      admin
          .rbac()
          .roleBindings()
          .inNamespace(namespace)
          .resource(
              new RoleBindingBuilder()
                  .withNewMetadata()
                  .withName(role.getMetadata().getName())
                  .withNamespace(namespace)
                  .endMetadata()
                  .withNewRoleRef("rbac.authorization.k8s.io", "Role", role.getMetadata().getName())
                  .addNewSubject()
                  .withKind("ServiceAccount")
                  .withName(ACCOUNT)
                  .withNamespace(NAMESPACE)
                  .endSubject()
                  .build())
          .create();
    }
  }

  /** The first {@code yaml} block after docs/worker.md's "## RBAC" heading. */
  static String publishedYaml() {
    Path doc = docs().resolve("worker.md");
    String text;
    try {
      text = Files.readString(doc);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + doc, e);
    }
    int section = text.indexOf("\n## RBAC");
    int start = section < 0 ? -1 : text.indexOf("```yaml\n", section);
    int end = start < 0 ? -1 : text.indexOf("\n```", start + 8);
    if (end < 0) {
      throw new IllegalStateException(doc + " has no ```yaml block under ## RBAC");
    }
    return text.substring(start + 8, end + 1);
  }

  private static Path docs() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("docs/worker.md"))) {
        return dir.resolve("docs");
      }
    }
    throw new IllegalStateException("no docs/worker.md above " + Path.of("").toAbsolutePath());
  }
}
