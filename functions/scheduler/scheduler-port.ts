/**
 * The scheduler port: one-shot schedules that deliver an event to a target at a given time. Two adapters:
 * EventBridge Scheduler on AWS (`at(...)` schedules, flexible window off, retry policy, dead-letter queue,
 * deleted after completion) and a local one (schedules kept in the lifecycle table, fired by a timer of the
 * local stack, or by a test's clock).
 *
 * Delivery is at least once and may be late: every target must be idempotent, check that its work is still
 * due, and a sweeper must catch what a lost schedule would have done.
 */

import { registerHttpError } from '../shared/error-catalogue';
import { SCHEDULE_TARGETS, type ScheduleTarget } from '../workflows/registry';
import { wholeSeconds } from './firing-times';

export { MINIMUM_LEAD_SECONDS, soonestFiring, wholeSeconds } from './firing-times';

/**
 * Who a schedule fires: the schedule targets of the workflow registry's entries. Each target is one Lambda on
 * AWS and one handler module locally.
 */
export { SCHEDULE_TARGETS, type ScheduleTarget };

/**
 * The environment variable that carries a target's Lambda ARN on AWS: the CDK stack sets it, the
 * configuration reads it (`<workflow>.period-end` → SCHEDULE_TARGET_<WORKFLOW>_PERIOD_END_ARN).
 */
export function scheduleTargetVariable(target: ScheduleTarget): string {
  return `SCHEDULE_TARGET_${target.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_ARN`;
}

/** EventBridge Scheduler's rule for names: 1-64 of letters, digits, `-`, `_` and `.`. */
export const SCHEDULE_NAME_PATTERN = /^[0-9A-Za-z_.-]{1,64}$/;

export type SchedulePayload = Readonly<Record<string, string | number | boolean>>;

export interface OneShotSchedule {
  /** Deterministic, so asking twice for the same schedule makes one (see SCHEDULE_NAME_PATTERN). */
  readonly name: string;
  /** When it fires (UTC, whole seconds; sub-second parts are dropped). */
  readonly at: Date;
  readonly target: ScheduleTarget;
  /** Ids only, never payloads. */
  readonly payload: SchedulePayload;
}

/** What a target receives when its schedule fires (the Lambda event on AWS, the handler argument locally). */
export interface ScheduledEvent {
  readonly schedule: string;
  readonly target: ScheduleTarget;
  /** The time the schedule was set for (ISO 8601); the delivery may be later. */
  readonly scheduledAt: string;
  readonly payload: SchedulePayload;
}

export interface SchedulerPort {
  readonly name: 'eventbridge-scheduler' | 'local';
  /**
   * Create the schedule, or make the existing one of that name fire at this time with this payload:
   * idempotent, so a retried caller never makes two.
   */
  scheduleOnce(schedule: OneShotSchedule): Promise<void>;
  /** Delete the schedule; one that does not exist (already fired, or never made) is not an error. */
  cancel(name: string): Promise<void>;
  /** The schedule if it is still pending. */
  find(name: string): Promise<OneShotSchedule | undefined>;
}

/**
 * A scheduler built on first use (`resolve`, e.g. from onFirstUse): its SDK loaded only when a call needs it,
 * so a function's cold start does not pay for it. `resolve`'s errors are the call's.
 */
export class DeferredScheduler implements SchedulerPort {
  readonly name: SchedulerPort['name'];
  readonly #resolve: () => Promise<SchedulerPort>;

  constructor(name: SchedulerPort['name'], resolve: () => Promise<SchedulerPort>) {
    this.name = name;
    this.#resolve = resolve;
  }

  async scheduleOnce(schedule: OneShotSchedule): Promise<void> {
    return (await this.#resolve()).scheduleOnce(schedule);
  }

  async cancel(name: string): Promise<void> {
    return (await this.#resolve()).cancel(name);
  }

  async find(name: string): Promise<OneShotSchedule | undefined> {
    return (await this.#resolve()).find(name);
  }
}

/** The scheduler service failed in a way worth retrying (throttling, 5xx, network). */
export class SchedulerTransientError extends Error {
  /** The stable code the API answers with. */
  readonly code = 'SCHEDULING_UNAVAILABLE' as const;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SchedulerTransientError';
  }
}

registerHttpError(SchedulerTransientError, { status: 503, message: () => 'The scheduler did not answer; the change will be finished by the sweeper. Retry later.' });

/** The event a schedule delivers, built the same way by both adapters. */
export function scheduledEvent(schedule: OneShotSchedule): ScheduledEvent {
  return { schedule: schedule.name, target: schedule.target, scheduledAt: wholeSeconds(schedule.at).toISOString(), payload: schedule.payload };
}

/** Refuse a name EventBridge Scheduler would refuse, in both adapters, so local runs catch it. */
export function assertScheduleName(name: string): void {
  if (!SCHEDULE_NAME_PATTERN.test(name)) {
    throw new RangeError(`Schedule name '${name}' is invalid: use 1-64 letters, digits, '-', '_' or '.'.`);
  }
}
