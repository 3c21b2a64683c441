package dev.lockstep.workflows;

import io.grpc.StatusRuntimeException;
import io.temporal.api.enums.v1.IndexedValueType;
import io.temporal.api.operatorservice.v1.AddSearchAttributesRequest;
import io.temporal.api.operatorservice.v1.ListSearchAttributesRequest;
import io.temporal.common.SearchAttributeKey;
import io.temporal.serviceclient.OperatorServiceStubs;
import io.temporal.serviceclient.OperatorServiceStubsOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The custom search attributes an upgrade upserts, so that {@code lockstep list} can find upgrades
 * through Temporal visibility: its target, its cluster, its phase. A namespace must have them
 * registered before a workflow upserts them; {@link #ensure} does it, or says how.
 */
public final class SearchAttributes {
  /** {@code NAMESPACE/KIND/NAME}. */
  public static final SearchAttributeKey<String> TARGET =
      SearchAttributeKey.forKeyword("LockstepTarget");

  /** The cluster name (the workers' {@code --cluster}). */
  public static final SearchAttributeKey<String> CLUSTER =
      SearchAttributeKey.forKeyword("LockstepCluster");

  /** The phase, updated as it changes. */
  public static final SearchAttributeKey<String> PHASE =
      SearchAttributeKey.forKeyword("LockstepPhase");

  /** Every attribute, by name, with its type. */
  public static final Map<String, IndexedValueType> ALL;

  static {
    Map<String, IndexedValueType> all = new LinkedHashMap<>();
    for (SearchAttributeKey<?> key : new SearchAttributeKey<?>[] {TARGET, CLUSTER, PHASE}) {
      all.put(key.getName(), IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    }
    ALL = Map.copyOf(all);
  }

  private SearchAttributes() {}

  /**
   * Registers the attributes the namespace lacks.
   *
   * @throws IllegalStateException with the commands an operator can run, when they are missing and
   *     cannot be registered from here (no permission)
   */
  public static void ensure(WorkflowServiceStubs service, String namespace) {
    OperatorServiceStubs operator =
        OperatorServiceStubs.newServiceStubs(
            OperatorServiceStubsOptions.newBuilder()
                .setChannel(service.getRawChannel())
                .validateAndBuildWithDefaults());
    Map<String, IndexedValueType> missing = new LinkedHashMap<>(ALL);
    try {
      try {
        var present =
            operator
                .blockingStub()
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .listSearchAttributes(
                    ListSearchAttributesRequest.newBuilder().setNamespace(namespace).build());
        missing.keySet().removeAll(present.getCustomAttributesMap().keySet());
      } catch (StatusRuntimeException e) {
        // The Java test server (the dev stack) adds search attributes but cannot list them.
        if (e.getStatus().getCode() != io.grpc.Status.Code.UNIMPLEMENTED) {
          throw e;
        }
      }
      if (missing.isEmpty()) {
        return;
      }
      operator
          .blockingStub()
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .addSearchAttributes(
              AddSearchAttributesRequest.newBuilder()
                  .setNamespace(namespace)
                  .putAllSearchAttributes(missing)
                  .build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.ALREADY_EXISTS) {
        return;
      }
      StringBuilder commands = new StringBuilder();
      for (String name : missing.keySet()) {
        commands
            .append(commands.length() == 0 ? "" : "; ")
            .append("temporal operator search-attribute create --namespace ")
            .append(namespace)
            .append(" --name ")
            .append(name)
            .append(" --type Keyword");
      }
      throw new IllegalStateException(
          "the search attributes "
              + missing.keySet()
              + " are not registered in Temporal namespace "
              + namespace
              + " and could not be registered from here ("
              + e.getStatus().getCode()
              + "): run "
              + commands,
          e);
    } finally {
      operator.shutdown();
    }
  }
}
