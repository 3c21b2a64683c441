package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * One steering request as the upgrade recorded it.
 *
 * @param at when, as epoch millis of workflow time
 * @param action resume, pause, cancel, ...
 * @param identity who asked
 * @param reason why they said they asked
 * @param via {@code update} or {@code signal}
 * @param accepted whether it was acted on
 * @param outcome what it did, or why it was refused or ignored
 */
/* A CLI or console older than the worker reads a status with fields it does not know yet. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Steering(
    long at,
    String action,
    String identity,
    String reason,
    String via,
    boolean accepted,
    String outcome) {}
