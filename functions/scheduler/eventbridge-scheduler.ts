/**
 * The scheduler port on AWS: one EventBridge Scheduler `at(...)` schedule per OneShotSchedule, in the
 * configured group, firing the target's Lambda through the scheduler's role. Flexible window off, the
 * service's retry policy, a dead-letter queue for what it could not deliver, and deleted by the service once
 * it has fired (`ActionAfterCompletion: DELETE`), so `find` answers only for schedules still pending.
 */
import * as clock from '../shared/clock';
import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  InternalServerException,
  ResourceNotFoundException,
  ThrottlingException,
  UpdateScheduleCommand,
  type GetScheduleCommandOutput,
  type SchedulerClient,
  type UpdateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { ConfigurationError } from '../shared/config';
import {
  SCHEDULE_TARGETS,
  MINIMUM_LEAD_SECONDS,
  SchedulerTransientError,
  assertScheduleName,
  scheduledEvent,
  wholeSeconds,
  type OneShotSchedule,
  type SchedulePayload,
  type ScheduleTarget,
  type SchedulerPort,
} from './scheduler-port';

/** The retry policy used unless configured: the service maxima (24 h, 185 attempts), so a target's outage is ridden out. */
export const DEFAULT_SCHEDULE_RETRY = { maximumEventAgeSeconds: 86_400, maximumRetryAttempts: 185 } as const;

/** How often scheduleOnce retries create → get → update when the schedule vanishes in between (it fired, or was cancelled). */
const MAX_UPSERT_ROUNDS = 3;

const AT_EXPRESSION = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/;

/** Socket-level failures of the HTTP handler once the SDK's own retries are spent: worth a retry later. */
const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);
const TRANSIENT_ERROR_NAMES = new Set(['ThrottlingException', 'InternalServerException', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

export interface EventBridgeSchedulerOptions {
  readonly client: SchedulerClient;
  /** The schedule group every schedule goes in (its own group, so IAM can be scoped to it). */
  readonly groupName: string;
  /** The role EventBridge Scheduler assumes to invoke the targets. */
  readonly roleArn: string;
  /** SQS queue for events the service could not deliver after its retries. */
  readonly deadLetterArn: string;
  /** The Lambda ARN of each target; a schedule for a target without one is a configuration error. */
  readonly targetArns: Readonly<Partial<Record<ScheduleTarget, string>>>;
  readonly retry?: { readonly maximumEventAgeSeconds: number; readonly maximumRetryAttempts: number };
  /** Injected for tests; defaults to the clock (functions/shared/clock.ts: the wall clock when deployed). */
  readonly now?: () => Date;
}

/** The `at()` expression EventBridge Scheduler wants: UTC (with ScheduleExpressionTimezone 'UTC'), whole seconds, no zone suffix. */
export function atExpression(at: Date): string {
  return `at(${wholeSeconds(at).toISOString().slice(0, 19)})`;
}

/** The time of an `at()` expression evaluated in UTC; undefined for anything else (rate, cron, malformed). */
export function parseAtExpression(expression: string | undefined): Date | undefined {
  const match = AT_EXPRESSION.exec(expression ?? '');
  if (!match) return undefined;
  const at = new Date(`${match[1]}Z`);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** Throttling, server faults and network failures are worth a retry; everything else is a bug or a refusal. */
export function isTransientSchedulerError(error: unknown): boolean {
  if (error instanceof ThrottlingException || error instanceof InternalServerException) return true;
  if (typeof error !== 'object' || error === null) return false;
  const fault = error as { $fault?: unknown; $retryable?: unknown; name?: unknown; code?: unknown };
  if (fault.$fault === 'server' || fault.$retryable) return true;
  if (typeof fault.name === 'string' && TRANSIENT_ERROR_NAMES.has(fault.name)) return true;
  return typeof fault.code === 'string' && NETWORK_ERROR_CODES.has(fault.code);
}

/** Everything of a schedule except its name and group: what Update replaces and what decides "same schedule". */
type ScheduleDefinition = Omit<UpdateScheduleCommandInput, 'Name' | 'GroupName' | 'ClientToken'>;

function isSchedulePayload(value: unknown): value is SchedulePayload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean');
}

function isScheduleTarget(value: unknown): value is ScheduleTarget {
  return typeof value === 'string' && (SCHEDULE_TARGETS as readonly string[]).includes(value);
}

/** JSON with object keys sorted, so two inputs that differ only in key order compare equal. */
function canonicalJson(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sort);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sort((value as Record<string, unknown>)[key])]));
    }
    return value;
  };
  try {
    return JSON.stringify(sort(JSON.parse(text)));
  } catch {
    return text;
  }
}

export class EventBridgeScheduler implements SchedulerPort {
  readonly name = 'eventbridge-scheduler' as const;
  readonly #client: SchedulerClient;
  readonly #groupName: string;
  readonly #roleArn: string;
  readonly #deadLetterArn: string;
  readonly #targetArns: Readonly<Partial<Record<ScheduleTarget, string>>>;
  readonly #retry: { readonly maximumEventAgeSeconds: number; readonly maximumRetryAttempts: number };
  readonly #now: () => Date;

  constructor(options: EventBridgeSchedulerOptions) {
    this.#client = options.client;
    this.#groupName = options.groupName;
    this.#roleArn = options.roleArn;
    this.#deadLetterArn = options.deadLetterArn;
    this.#targetArns = options.targetArns;
    this.#retry = options.retry ?? DEFAULT_SCHEDULE_RETRY;
    this.#now = options.now ?? clock.now;
  }

  /**
   * Create the schedule; if one of that name exists, leave it when it already says the same, else replace
   * its whole definition (Update replaces everything, nothing is merged).
   */
  async scheduleOnce(schedule: OneShotSchedule): Promise<void> {
    assertScheduleName(schedule.name);
    const targetArn = this.#targetArns[schedule.target];
    if (!targetArn) throw new ConfigurationError(`No target ARN configured for schedule target '${schedule.target}'.`);

    const now = this.#now();
    const requested = wholeSeconds(schedule.at);
    // Past or within the next minute: made for now + 60 s (see MINIMUM_LEAD_SECONDS). The event still carries
    // the time asked for as scheduledAt, so the target knows how late it runs.
    const earliest = new Date(Math.ceil((now.getTime() + MINIMUM_LEAD_SECONDS * 1000) / 1000) * 1000);
    const clamped = requested.getTime() < earliest.getTime();
    const fireAt = clamped ? earliest : requested;
    const definition = this.#definition(schedule, fireAt, targetArn);
    const clientToken = createHash('sha256')
      .update(JSON.stringify([schedule.name, definition.ScheduleExpression, targetArn, definition.Target?.Input]))
      .digest('hex')
      .slice(0, 64);

    for (let round = 0; round < MAX_UPSERT_ROUNDS; round += 1) {
      try {
        await this.#call(() => this.#client.send(new CreateScheduleCommand({ Name: schedule.name, GroupName: this.#groupName, ClientToken: clientToken, ...definition })));
        return;
      } catch (error) {
        if (!(error instanceof ConflictException)) throw error;
      }
      const existing = await this.#get(schedule.name);
      if (!existing) continue; // fired (and deleted) or cancelled since: create it again
      if (this.#sameDefinition(existing, definition, clamped ? { now, fireAt } : undefined)) return;
      try {
        await this.#call(() => this.#client.send(new UpdateScheduleCommand({ Name: schedule.name, GroupName: this.#groupName, ...definition })));
        return;
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
    }
    throw new SchedulerTransientError(`Schedule '${schedule.name}' kept disappearing while being created or updated; try again.`);
  }

  /** Delete the schedule; one already gone (fired and deleted, or never made) is fine. */
  async cancel(name: string): Promise<void> {
    assertScheduleName(name);
    try {
      await this.#call(() => this.#client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.#groupName })));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }

  /** The pending schedule read back from the service: time from its `at()` expression, target and payload from its input. */
  async find(name: string): Promise<OneShotSchedule | undefined> {
    assertScheduleName(name);
    const existing = await this.#get(name);
    if (!existing) return undefined;
    const at = existing.ScheduleExpressionTimezone === undefined || existing.ScheduleExpressionTimezone === 'UTC' ? parseAtExpression(existing.ScheduleExpression) : undefined;
    let input: { target?: unknown; payload?: unknown } = {};
    try {
      input = JSON.parse(existing.Target?.Input ?? 'null') ?? {};
    } catch {
      input = {};
    }
    if (!at || !isScheduleTarget(input.target) || !isSchedulePayload(input.payload)) {
      throw new Error(`Schedule '${name}' in group '${this.#groupName}' is not a one-shot schedule made by this adapter (${existing.ScheduleExpression ?? 'no expression'}).`);
    }
    return { name, at, target: input.target, payload: input.payload };
  }

  #definition(schedule: OneShotSchedule, fireAt: Date, targetArn: string): ScheduleDefinition {
    return {
      ScheduleExpression: atExpression(fireAt),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Target: {
        Arn: targetArn,
        RoleArn: this.#roleArn,
        Input: JSON.stringify(scheduledEvent(schedule)),
        RetryPolicy: { MaximumEventAgeInSeconds: this.#retry.maximumEventAgeSeconds, MaximumRetryAttempts: this.#retry.maximumRetryAttempts },
        DeadLetterConfig: { Arn: this.#deadLetterArn },
      },
    };
  }

  /**
   * Whether the existing schedule already does what is wanted. For a time that was clamped (asked for in the
   * past), an existing schedule that is still to fire, no later than the clamped time, is as good: a retried
   * call a few seconds later must not push it back each time.
   */
  #sameDefinition(existing: GetScheduleCommandOutput, wanted: ScheduleDefinition, clamp: { now: Date; fireAt: Date } | undefined): boolean {
    let sameTime = existing.ScheduleExpression === wanted.ScheduleExpression;
    if (!sameTime && clamp) {
      const existingAt = parseAtExpression(existing.ScheduleExpression);
      sameTime = existingAt !== undefined && existingAt.getTime() > clamp.now.getTime() && existingAt.getTime() <= clamp.fireAt.getTime();
    }
    const target = existing.Target;
    return (
      sameTime &&
      existing.ScheduleExpressionTimezone === wanted.ScheduleExpressionTimezone &&
      existing.State === wanted.State &&
      existing.ActionAfterCompletion === wanted.ActionAfterCompletion &&
      existing.FlexibleTimeWindow?.Mode === wanted.FlexibleTimeWindow?.Mode &&
      target?.Arn === wanted.Target?.Arn &&
      target?.RoleArn === wanted.Target?.RoleArn &&
      canonicalJson(target?.Input) === canonicalJson(wanted.Target?.Input) &&
      target?.DeadLetterConfig?.Arn === wanted.Target?.DeadLetterConfig?.Arn &&
      target?.RetryPolicy?.MaximumEventAgeInSeconds === wanted.Target?.RetryPolicy?.MaximumEventAgeInSeconds &&
      target?.RetryPolicy?.MaximumRetryAttempts === wanted.Target?.RetryPolicy?.MaximumRetryAttempts
    );
  }

  async #get(name: string): Promise<GetScheduleCommandOutput | undefined> {
    try {
      return await this.#call(() => this.#client.send(new GetScheduleCommand({ Name: name, GroupName: this.#groupName })));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /** Run one request, with the transient failures turned into SchedulerTransientError (the caller's retry decides). */
  async #call<Output>(request: () => Promise<Output>): Promise<Output> {
    try {
      return await request();
    } catch (error) {
      if (!isTransientSchedulerError(error)) throw error;
      const fault = error as { name?: string; message?: string };
      throw new SchedulerTransientError(`EventBridge Scheduler is unavailable: ${fault.name ?? 'Error'}: ${fault.message ?? ''}`, { cause: error });
    }
  }
}
