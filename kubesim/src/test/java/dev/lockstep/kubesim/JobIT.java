package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Pins kubesim's Job controller: pods run, then the Job completes or fails as Kubernetes says. */
class JobIT {
  private static Kubesim sim;
  private static KubernetesClient client;

  @BeforeAll
  static void start() {
    sim = Kubesim.builder().podStartup(Duration.ofMillis(100)).start();
    client = sim.client();
  }

  @AfterAll
  static void stop() {
    sim.close();
  }

  private static Job job(String name, String image, int backoffLimit) {
    return new JobBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withBackoffLimit(backoffLimit)
        .withNewTemplate()
        .withNewSpec()
        .withRestartPolicy("Never")
        .addNewContainer()
        .withName("hook")
        .withImage(image)
        .withCommand("sh", "-c", "pg_dumpall > /backup/all.sql")
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  private static Job awaitFinished(String name) {
    await()
        .atMost(20, SECONDS)
        .until(
            () -> {
              Job j = client.batch().v1().jobs().withName(name).get();
              return j.getStatus() != null
                  && j.getStatus().getConditions().stream()
                      .anyMatch(
                          c -> c.getType().equals("Complete") || c.getType().equals("Failed"));
            });
    return client.batch().v1().jobs().withName(name).get();
  }

  @Test
  void aJobWhosePodSucceedsCompletes() {
    Job created = client.batch().v1().jobs().resource(job("backup", "postgres:14.8", 6)).create();
    String uid = created.getMetadata().getUid();
    assertThat(created.getSpec().getSelector().getMatchLabels())
        .containsEntry("batch.kubernetes.io/controller-uid", uid);
    assertThat(created.getSpec().getTemplate().getMetadata().getLabels())
        .containsEntry("batch.kubernetes.io/job-name", "backup")
        .containsEntry("job-name", "backup");

    Job done = awaitFinished("backup");
    assertThat(done.getStatus().getConditions())
        .extracting(JobCondition::getType)
        .containsExactly("SuccessCriteriaMet", "Complete");
    assertEquals(1, done.getStatus().getSucceeded());
    assertEquals(0, done.getStatus().getFailed());
    assertEquals(0, done.getStatus().getActive());
    assertThat(done.getStatus().getCompletionTime()).isNotNull();
    List<Pod> pods = client.pods().withLabel("job-name", "backup").list().getItems();
    assertThat(pods).hasSize(1);
    assertEquals("Succeeded", pods.get(0).getStatus().getPhase());
    assertEquals(
        0,
        pods.get(0)
            .getStatus()
            .getContainerStatuses()
            .get(0)
            .getState()
            .getTerminated()
            .getExitCode());
  }

  @Test
  void aJobWhosePodsFailFailsAfterTheBackoffLimit() {
    client.batch().v1().jobs().resource(job("migrate", "discourse:3.3-broken", 1)).create();

    Job failed = awaitFinished("migrate");
    JobCondition condition =
        failed.getStatus().getConditions().stream()
            .filter(c -> c.getType().equals("Failed"))
            .findFirst()
            .orElseThrow();
    assertEquals("BackoffLimitExceeded", condition.getReason());
    assertEquals("Job has reached the specified backoff limit", condition.getMessage());
    assertThat(failed.getStatus().getConditions())
        .extracting(JobCondition::getType)
        .containsExactly("FailureTarget", "Failed");
    assertEquals(2, failed.getStatus().getFailed());
    assertThat(failed.getStatus().getCompletionTime()).isNull();
    List<Pod> pods = client.pods().withLabel("job-name", "migrate").list().getItems();
    assertThat(pods).hasSize(2).allSatisfy(p -> assertEquals("Failed", p.getStatus().getPhase()));
    String log = client.pods().withName(pods.get(0).getMetadata().getName()).getLog();
    assertThat(log).contains("exited with code 1");
  }

  @Test
  void behaviourSetThroughTheJavaApiDecidesTheOutcome() {
    sim.behaviours().image("example/tests:*", ImageBehaviour.FAIL);
    try {
      client.batch().v1().jobs().resource(job("smoke", "example/tests:2.0", 0)).create();
      Job failed = awaitFinished("smoke");
      assertThat(failed.getStatus().getConditions())
          .extracting(JobCondition::getType)
          .contains("Failed");
    } finally {
      sim.behaviours().clear();
    }
  }
}
