package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which way {@code lockstep list} finds upgrades: the one decision, both ways. */
class ListingTest {
  private static final List<Listing.Found> VISIBLE =
      List.of(new Listing.Found("lockstep/default/demo/statefulset/pg", "r1", true, Instant.EPOCH));
  private static final List<Listing.Found> LISTED =
      List.of(new Listing.Found("lockstep/default/demo/statefulset/kv", "r2", true, Instant.EPOCH));

  @Test
  void aServerWithVisibilityIsAskedWithTheSearchAttributes() {
    Listing.Executions found = Listing.find(() -> VISIBLE, () -> LISTED);
    assertEquals(Listing.Source.VISIBILITY, found.source());
    assertThat(found.found()).isEqualTo(VISIBLE);
    assertEquals(
        "WorkflowType = 'UpgradeWorkflow' AND LockstepCluster = 'prod-eu' AND ExecutionStatus ="
            + " 'Running'",
        Listing.query("prod-eu", false));
    assertEquals(
        "WorkflowType = 'UpgradeWorkflow' AND LockstepCluster = 'prod-eu'",
        Listing.query("prod-eu", true));
  }

  @Test
  void theTestServerWithoutVisibilityQueriesIsListedByWorkflowType() {
    Listing.Executions found =
        Listing.find(
            () -> {
              throw new StatusRuntimeException(Status.UNIMPLEMENTED);
            },
            () -> LISTED);
    assertEquals(Listing.Source.OPEN_AND_CLOSED, found.source());
    assertThat(found.found()).isEqualTo(LISTED);
  }

  @Test
  void anyOtherErrorIsNotHiddenByTheFallback() {
    assertThrows(
        StatusRuntimeException.class,
        () ->
            Listing.find(
                () -> {
                  throw new StatusRuntimeException(Status.PERMISSION_DENIED);
                },
                () -> LISTED));
  }
}
