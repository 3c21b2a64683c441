package dev.lockstep.worker;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;
import io.temporal.api.workflowservice.v1.RespondWorkflowTaskCompletedRequest;

/**
 * Turns off sticky execution by removing the sticky attributes from every completed workflow task,
 * so the server never routes a workflow's next task to this worker's own queue.
 *
 * <p>Why: the Temporal Java test server (the dev stack's embedded Temporal) never expires a sticky
 * task queue, so after a worker dies its workflows would wait forever for it. With sticky execution
 * off, any live worker of the cluster picks them up. Production Temporal expires sticky queues on
 * its own, so production workers keep sticky execution (it saves replaying history).
 */
public final class StickyExecutionDisabled implements ClientInterceptor {
  private static final String COMPLETE_TASK = "RespondWorkflowTaskCompleted";

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(
      MethodDescriptor<Q, R> method, CallOptions callOptions, Channel next) {
    ClientCall<Q, R> call = next.newCall(method, callOptions);
    if (!COMPLETE_TASK.equals(method.getBareMethodName())) {
      return call;
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      @SuppressWarnings("unchecked")
      public void sendMessage(Q message) {
        if (message instanceof RespondWorkflowTaskCompletedRequest request
            && request.hasStickyAttributes()) {
          message = (Q) request.toBuilder().clearStickyAttributes().build();
        }
        super.sendMessage(message);
      }
    };
  }
}
