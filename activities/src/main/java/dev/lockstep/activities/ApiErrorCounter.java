package dev.lockstep.activities;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.common.interceptors.ActivityInboundCallsInterceptor;
import io.temporal.common.interceptors.ActivityInboundCallsInterceptorBase;
import io.temporal.common.interceptors.WorkerInterceptorBase;

/**
 * Counts, in {@code lockstep_kubernetes_api_errors_total} (docs/worker.md#metrics), every error of
 * the Kubernetes API that leaves an activity as it is (a {@link KubernetesClientException}, or a
 * failure caused by one) rather than through {@link ApiErrors#failure}: whatever the activity and
 * the line it came from, in one place. Register it on every worker ({@code
 * WorkerFactoryOptions.setWorkerInterceptors}). It changes nothing else: the exception goes on to
 * Temporal as it was.
 */
public final class ApiErrorCounter extends WorkerInterceptorBase {
  @Override
  public ActivityInboundCallsInterceptor interceptActivity(ActivityInboundCallsInterceptor next) {
    return new ActivityInboundCallsInterceptorBase(next) {
      // Kept from init: the activity's context is no longer current once its method has thrown.
      private ActivityExecutionContext context;

      @Override
      public void init(ActivityExecutionContext context) {
        this.context = context;
        super.init(context);
      }

      @Override
      public ActivityOutput execute(ActivityInput input) {
        try {
          return super.execute(input);
        } catch (RuntimeException | Error e) {
          ApiErrors.countCause(e, context.getMetricsScope());
          throw e;
        }
      }
    };
  }

  /**
   * Counts an error that a step of another package handles itself (passes over, or turns into a
   * failure of its own), in the running activity's metrics; once, however often it is passed.
   */
  public static void count(KubernetesClientException e) {
    ApiErrors.count(e);
  }
}
