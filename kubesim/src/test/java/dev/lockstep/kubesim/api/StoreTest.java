package dev.lockstep.kubesim.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StoreTest {
  private static final ResourceType PODS = ResourceTypes.of("", "pods");
  private static final ResourceType NODES = ResourceTypes.of("", "nodes");

  private final Store store = new Store();

  private static ObjectNode object(String name) {
    ObjectNode o = Store.JSON.createObjectNode();
    o.putObject("metadata").put("name", name);
    o.putObject("spec").put("image", "app:1");
    return o;
  }

  private static ObjectNode ownedBy(String name, String ownerUid) {
    ObjectNode o = object(name);
    o.with("metadata")
        .putArray("ownerReferences")
        .addObject()
        .put("uid", ownerUid)
        .put("controller", true);
    return o;
  }

  private static String rv(ObjectNode o) {
    return o.path("metadata").path("resourceVersion").asText();
  }

  private static List<String> names(List<ObjectNode> objects) {
    return objects.stream().map(o -> o.path("metadata").path("name").asText()).toList();
  }

  @Test
  void createSetsWhatTheRegistrySetsAndRefusesADuplicate() {
    ObjectNode created = store.create(PODS, "a", object("db-0"));
    assertThat(created.path("metadata").path("uid").asText()).hasSize(36);
    assertThat(created.path("metadata").path("namespace").asText()).isEqualTo("a");
    assertThat(created.path("metadata").path("generation").asLong()).isEqualTo(1);
    assertThat(created.path("metadata").path("creationTimestamp").asText()).endsWith("Z");
    assertThat(
            store
                .create(PODS, "a", object("db-1"))
                .path("metadata")
                .path("resourceVersion")
                .asLong())
        .isGreaterThan(Long.parseLong(rv(created)));
    assertThatThrownBy(() -> store.create(PODS, "a", object("db-0")))
        .isInstanceOf(ApiException.class)
        .hasMessageContaining("already exists");
    // The same name in another namespace is another object.
    store.create(PODS, "b", object("db-0"));
    assertThat(names(store.list(PODS, "a"))).containsExactly("db-0", "db-1");
  }

  @Test
  void generationMovesWithTheSpecAndResourceVersionWithAnyChange() {
    ObjectNode created = store.create(PODS, "a", object("db-0"));

    ObjectNode same = store.update(PODS, "a", "db-0", created.deepCopy());
    assertThat(rv(same)).as("a write that changes nothing").isEqualTo(rv(created));

    ObjectNode labelled = created.deepCopy();
    labelled.with("metadata").putObject("labels").put("app", "db");
    ObjectNode afterLabel = store.update(PODS, "a", "db-0", labelled);
    assertThat(rv(afterLabel)).isNotEqualTo(rv(created));
    assertThat(afterLabel.path("metadata").path("generation").asLong()).isEqualTo(1);

    ObjectNode changed = afterLabel.deepCopy();
    changed.with("spec").put("image", "app:2");
    ObjectNode afterSpec = store.update(PODS, "a", "db-0", changed);
    assertThat(afterSpec.path("metadata").path("generation").asLong()).isEqualTo(2);

    ObjectNode status = afterSpec.deepCopy();
    status.putObject("status").put("phase", "Running");
    ObjectNode afterStatus = store.updateStatus(PODS, "a", "db-0", status);
    assertThat(afterStatus.path("metadata").path("generation").asLong()).isEqualTo(2);
    assertThat(afterStatus.path("status").path("phase").asText()).isEqualTo("Running");
    assertThat(afterStatus.path("metadata").path("uid"))
        .isEqualTo(created.path("metadata").path("uid"));
  }

  @Test
  void anUpdateFromAnOldVersionConflicts() {
    ObjectNode created = store.create(PODS, "a", object("db-0"));
    ObjectNode first = created.deepCopy();
    first.with("spec").put("image", "app:2");
    store.update(PODS, "a", "db-0", first);
    ObjectNode stale = created.deepCopy();
    stale.with("spec").put("image", "app:3");
    assertThatThrownBy(() -> store.update(PODS, "a", "db-0", stale))
        .isInstanceOf(ApiException.class)
        .extracting(e -> ((ApiException) e).code())
        .isEqualTo(409);
    assertThat(store.get(PODS, "a", "db-0").orElseThrow().path("spec").path("image").asText())
        .isEqualTo("app:2");
  }

  @Test
  void readsHandOutCopies() {
    store.create(PODS, "a", object("db-0"));
    store.get(PODS, "a", "db-0").orElseThrow().with("spec").put("image", "changed");
    store.list(PODS, null).get(0).with("spec").put("image", "changed");
    assertThat(store.get(PODS, "a", "db-0").orElseThrow().path("spec").path("image").asText())
        .isEqualTo("app:1");
  }

  @Test
  void listsAreInKeyOrderPerNamespaceOrAcrossAll() {
    store.create(PODS, "b", object("x"));
    store.create(PODS, "a", object("z"));
    store.create(PODS, "a", object("y"));
    store.create(NODES, null, object("node-1"));
    assertThat(names(store.list(PODS, null))).containsExactly("y", "z", "x");
    assertThat(names(store.list(PODS, "a"))).containsExactly("y", "z");
    assertThat(names(store.list(PODS, "c"))).isEmpty();
    assertThat(names(store.list(NODES, "ignored-for-cluster-scoped"))).containsExactly("node-1");
  }

  @Test
  void theOwnerIndexFollowsCreatesUpdatesAndDeletes() {
    store.create(PODS, "a", ownedBy("db-0", "sts-1"));
    ObjectNode orphan = store.create(PODS, "a", ownedBy("db-1", "sts-1"));
    store.create(PODS, "b", ownedBy("db-0", "sts-1"));
    store.create(PODS, "a", object("other"));
    assertThat(names(store.ownedBy(PODS, "a", "sts-1"))).containsExactly("db-0", "db-1");
    assertThat(store.ownedBy(PODS, null, "sts-1")).hasSize(3);

    // Released (as an orphaning delete does): no longer found under the old owner.
    orphan.with("metadata").putArray("ownerReferences").addObject().put("uid", "sts-2");
    store.update(PODS, "a", "db-1", orphan);
    assertThat(names(store.ownedBy(PODS, "a", "sts-1"))).containsExactly("db-0");
    assertThat(names(store.ownedBy(PODS, "a", "sts-2"))).containsExactly("db-1");

    assertThat(store.delete(PODS, "a", "db-0")).isTrue();
    assertThat(store.delete(PODS, "a", "db-0")).isFalse();
    assertThat(store.ownedBy(PODS, "a", "sts-1")).isEmpty();
  }

  @Test
  void aWatchSeesWhatChangedSinceItsVersionThenEveryChangeInOrder() {
    ObjectNode old = store.create(PODS, "a", object("old"));
    store.create(PODS, "a", object("newer"));
    store.create(PODS, "b", object("elsewhere"));
    List<String> seen = new ArrayList<>();
    Runnable stop =
        store.watch(
            PODS,
            "a",
            Long.parseLong(rv(old)),
            e -> seen.add(e.type() + " " + e.object().path("metadata").path("name").asText()));
    ObjectNode changed = store.get(PODS, "a", "old").orElseThrow();
    changed.with("spec").put("image", "app:2");
    store.update(PODS, "a", "old", changed);
    store.create(PODS, "b", object("not-watched"));
    store.delete(PODS, "a", "newer");
    stop.run();
    store.create(PODS, "a", object("after-the-end"));

    assertThat(seen).containsExactly("ADDED newer", "MODIFIED old", "DELETED newer");
  }
}
