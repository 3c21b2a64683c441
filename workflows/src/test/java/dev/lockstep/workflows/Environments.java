package dev.lockstep.workflows;

import io.temporal.testing.TestWorkflowEnvironment;

/** The shared setup of in-process workflow tests: Lockstep's search attributes registered. */
final class Environments {
  private Environments() {}

  static TestWorkflowEnvironment withSearchAttributes(TestWorkflowEnvironment env) {
    SearchAttributes.ALL.forEach(env::registerSearchAttribute);
    return env;
  }
}
