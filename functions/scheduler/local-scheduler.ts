/**
 * The scheduler port without AWS: schedules kept in the lifecycle table, fired by `fireDue` (the local stack's
 * timer, or a test with its own clock). One item per schedule:
 *   pk=SCHEDULE#<name>  sk=SCHEDULE  type=schedule  name target payload at attempts
 * and in the byState index under `schedule:pending`, sorted by when it is next due, so the due ones are one
 * Query. Delivery behaves like EventBridge Scheduler's, at least once: a schedule is claimed for a while (a
 * visibility timeout) before its handler runs and deleted after; a crash in between fires it again later.
 * A failing handler is retried with backoff, then the schedule is kept under `schedule:dead-letter`.
 * It stands for EventBridge Scheduler, a service with its own role: a route that schedules reaches these items
 * outside its table grant (`outsideTableGrant`), as on AWS it calls the Scheduler API instead.
 */
import * as clock from '../shared/clock';
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryByStatePartition } from '../shared/by-state-index';
import { logger } from '../shared/powertools';
import { outsideTableGrant } from '../shared/table-grant-scope';
import { BY_STATE_INDEX, ownedBy } from '../tenants/tenant-table';
import {
  assertScheduleName,
  scheduledEvent,
  wholeSeconds,
  type OneShotSchedule,
  type SchedulePayload,
  type ScheduledEvent,
  type ScheduleTarget,
  type SchedulerPort,
} from './scheduler-port';

export const SCHEDULE_SK = 'SCHEDULE';
/** The byState partition of schedules still to fire, sorted by when they are next due. */
export const PENDING_SCHEDULES = 'schedule:pending';
/** The byState partition of schedules whose handler kept failing: kept for operators, never fired again. */
export const DEAD_LETTER_SCHEDULES = 'schedule:dead-letter';
/** Longest wait between two attempts of a failing handler. */
export const MAX_BACKOFF_SECONDS = 15 * 60;

/** Delivers a schedule's event locally, as the target's Lambda would on AWS. */
export type ScheduleHandler = (event: ScheduledEvent) => Promise<void>;

export interface LocalSchedulerOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Injected for tests; defaults to the clock (functions/shared/clock.ts: the wall clock when deployed). */
  readonly now?: () => Date;
  readonly handlers?: Partial<Record<ScheduleTarget, ScheduleHandler>>;
  /** Failed deliveries before a schedule is dead-lettered (default 5). */
  readonly maxAttempts?: number;
  /** How long a claimed schedule is hidden from other fireDue calls while its handler runs (default 60 s). */
  readonly claimSeconds?: number;
  /** A schedule's delivery failed (handler error, no handler, storage error); defaults to the logger. */
  readonly onError?: (error: unknown, event: ScheduledEvent) => void;
  /** A fireDue run of the timer failed as a whole (the table unreachable, say); defaults to the logger. */
  readonly onTimerError?: (error: unknown) => void;
}

/** What one fireDue run did: schedules delivered (and gone) and schedules whose delivery failed. */
export interface FireResult {
  readonly fired: string[];
  readonly failed: string[];
}

/** The pk of a schedule's item. */
export function schedulePk(name: string): string {
  return `SCHEDULE#${name}`;
}

/** Seconds to wait after the n-th failed delivery: 2^n, at most MAX_BACKOFF_SECONDS. */
export function backoffSeconds(attempts: number): number {
  return Math.min(2 ** attempts, MAX_BACKOFF_SECONDS);
}

interface ScheduleItem {
  readonly name: string;
  readonly target: ScheduleTarget;
  readonly payload: SchedulePayload;
  /** When the schedule was set for (ISO 8601); what the event carries as scheduledAt. */
  readonly at: string;
  readonly attempts: number;
  /** Set by the claim of a fireDue run; a replaced schedule has none, so the run leaves it alone. */
  readonly claimId?: string;
}

function toSchedule(item: ScheduleItem): OneShotSchedule {
  return { name: item.name, at: new Date(item.at), target: item.target, payload: item.payload };
}

export class LocalScheduler implements SchedulerPort {
  readonly name = 'local' as const;
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;
  readonly #handlers: Partial<Record<ScheduleTarget, ScheduleHandler>>;
  readonly #maxAttempts: number;
  readonly #claimSeconds: number;
  readonly #onError: (error: unknown, event: ScheduledEvent) => void;
  readonly #onTimerError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;
  /** withTimerHeld calls in progress: while any is, the timer's ticks run nothing. */
  #held = 0;

  constructor(options: LocalSchedulerOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? clock.now;
    this.#handlers = { ...options.handlers };
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#claimSeconds = options.claimSeconds ?? 60;
    this.#onError = options.onError ?? ((error, event) => logger.error('Scheduled event failed', { schedule: event.schedule, target: event.target, error }));
    this.#onTimerError = options.onTimerError ?? ((error) => logger.error('Local scheduler run failed', { error }));
  }

  /** Register (or replace) the handler of a target: the local stack binds each target to its handler module. */
  setHandler(target: ScheduleTarget, handler: ScheduleHandler): void {
    this.#handlers[target] = handler;
  }

  /** Put the schedule, replacing one of the same name (a claimed one included: its run then leaves it be). */
  scheduleOnce(schedule: OneShotSchedule): Promise<void> {
    return outsideTableGrant(() => this.#scheduleOnce(schedule));
  }

  async #scheduleOnce(schedule: OneShotSchedule): Promise<void> {
    assertScheduleName(schedule.name);
    const at = wholeSeconds(schedule.at).toISOString();
    const item: ScheduleItem = { name: schedule.name, target: schedule.target, payload: schedule.payload, at, attempts: 0 };
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          pk: schedulePk(schedule.name),
          sk: SCHEDULE_SK,
          type: 'schedule',
          ...item,
          // A schedule of a tenant's work is the tenant's (its export lists it, its hard delete removes it).
          ...(typeof schedule.payload.tenantId === 'string' ? ownedBy(schedule.payload.tenantId) : {}),
          [BY_STATE_INDEX.partitionKey]: PENDING_SCHEDULES,
          [BY_STATE_INDEX.sortKey]: at,
        },
      }),
    );
  }

  /** Delete the schedule; one that is not there (fired, or never made) is fine. */
  cancel(name: string): Promise<void> {
    return outsideTableGrant(async () => {
      assertScheduleName(name);
      await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: { pk: schedulePk(name), sk: SCHEDULE_SK } }));
    });
  }

  /** The schedule while it is pending (dead-lettered ones are not). */
  find(name: string): Promise<OneShotSchedule | undefined> {
    return outsideTableGrant(() => this.#find(name));
  }

  async #find(name: string): Promise<OneShotSchedule | undefined> {
    assertScheduleName(name);
    const { Item } = await this.#client.send(new GetCommand({ TableName: this.#tableName, Key: { pk: schedulePk(name), sk: SCHEDULE_SK }, ConsistentRead: true }));
    if (!Item || Item[BY_STATE_INDEX.partitionKey] !== PENDING_SCHEDULES) return undefined;
    return toSchedule(Item as unknown as ScheduleItem);
  }

  /**
   * Deliver every schedule due at `now`, each to its target's handler. Safe to run concurrently (two timers,
   * two processes): a schedule is delivered by the run whose conditional claim wins.
   */
  async fireDue(now: Date = this.#now()): Promise<FireResult> {
    const fired: string[] = [];
    const failed: string[] = [];
    for (const due of await this.#due(now)) {
      const event = scheduledEvent(toSchedule(due));
      try {
        const outcome = await this.#deliver(due, event, now);
        if (outcome === 'fired') fired.push(due.name);
        else if (outcome === 'failed') failed.push(due.name);
      } catch (error) {
        // The table failed us mid-delivery: the claim (if taken) expires and the schedule fires again later.
        failed.push(due.name);
        this.#report(error, event);
      }
    }
    return { fired, failed };
  }

  /** Dead-lettered schedules' events, oldest first: for tests and operators. */
  async deadLetters(): Promise<ScheduledEvent[]> {
    const items = await this.#query(DEAD_LETTER_SCHEDULES);
    return items.map((item) => scheduledEvent(toSchedule(item)));
  }

  /** Fire due schedules every `intervalMs` (the local stack); a second start while running does nothing. */
  start(intervalMs = 1000): void {
    if (this.#started) return;
    this.#started = true;
    const tick = (): void => {
      this.#timer = undefined;
      if (this.#held > 0) {
        this.#timer = setTimeout(tick, intervalMs).unref();
        return;
      }
      this.#running = this.fireDue()
        .then(
          () => undefined,
          (error: unknown) => this.#reportTimer(error),
        )
        .finally(() => {
          this.#running = undefined;
          // Rescheduled after the run, so runs never overlap however slow the table or the handlers are.
          if (this.#started) this.#timer = setTimeout(tick, intervalMs).unref();
        });
    };
    this.#timer = setTimeout(tick, intervalMs).unref();
  }

  /**
   * Run `work` with the timer held: a run of the timer in progress is waited for first, and no run starts until
   * `work` has ended (a tick that comes meanwhile waits for the next interval). The simulated clock's advance
   * moves the clock and fires what became due inside, so those schedules are fired, and listed in its answer, by
   * the advance rather than by a tick that raced it to the claim. `first` runs at once, before that wait: the
   * advance moves the clock there, so a caller that gives up on a slow run (a timed-out request) has not left a
   * move to happen after its answer; the run in progress fixed its time when it began and claims nothing the
   * move made due. Answers (or throws) what `work` does.
   */
  async withTimerHeld<T>(work: () => Promise<T>, first?: () => void): Promise<T> {
    this.#held += 1;
    try {
      first?.();
      await this.#running;
      return await work();
    } finally {
      this.#held -= 1;
    }
  }

  /** Stop the timer and wait for a run in progress to finish: nothing of the scheduler runs afterwards. */
  async stop(): Promise<void> {
    this.#started = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #deliver(due: ScheduleItem & Record<string, unknown>, event: ScheduledEvent, now: Date): Promise<'fired' | 'failed' | 'skipped'> {
    const handler = this.#handlers[due.target];
    if (!handler) {
      // Left pending as it is: a handler registered later delivers it on the next run.
      this.#report(new Error(`No handler registered for schedule target '${due.target}'; schedule '${due.name}' stays pending.`), event);
      return 'failed';
    }
    const claimed = await this.#claim(due, now);
    if (!claimed) return 'skipped'; // another run claimed it, or it was replaced or cancelled since the query
    const claimedEvent = scheduledEvent(toSchedule(claimed));
    try {
      await handler(claimedEvent);
    } catch (error) {
      this.#report(error, claimedEvent);
      await this.#failed(claimed, error, now);
      return 'failed';
    }
    // Deleted only if still ours: a schedule replaced by scheduleOnce meanwhile is a new one, kept.
    await this.#ifStillClaimed(new DeleteCommand({ TableName: this.#tableName, Key: { pk: schedulePk(claimed.name), sk: SCHEDULE_SK }, ConditionExpression: 'claimId = :claimId', ExpressionAttributeValues: { ':claimId': claimed.claimId } }));
    return 'fired';
  }

  /** Take the schedule for this run if it is still due as read: it is hidden from other runs for claimSeconds. */
  async #claim(due: Record<string, unknown>, now: Date): Promise<ScheduleItem | undefined> {
    const name = due.name as string;
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: schedulePk(name), sk: SCHEDULE_SK },
          UpdateExpression: 'SET #due = :claimedUntil, claimId = :claimId',
          ConditionExpression: '#state = :pending AND #due = :readDue',
          ExpressionAttributeNames: { '#state': BY_STATE_INDEX.partitionKey, '#due': BY_STATE_INDEX.sortKey },
          ExpressionAttributeValues: {
            ':pending': PENDING_SCHEDULES,
            ':readDue': due[BY_STATE_INDEX.sortKey],
            ':claimedUntil': new Date(now.getTime() + this.#claimSeconds * 1000).toISOString(),
            ':claimId': randomUUID(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes as unknown as ScheduleItem;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** One more failed attempt: due again after a backoff, or dead-lettered after maxAttempts. */
  async #failed(claimed: ScheduleItem, error: unknown, now: Date): Promise<void> {
    const attempts = (claimed.attempts ?? 0) + 1;
    const dead = attempts >= this.#maxAttempts;
    const due = dead ? now : new Date(now.getTime() + backoffSeconds(attempts) * 1000);
    await this.#ifStillClaimed(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: schedulePk(claimed.name), sk: SCHEDULE_SK },
        UpdateExpression: 'SET attempts = :attempts, lastError = :lastError, #state = :state, #due = :due REMOVE claimId',
        ConditionExpression: 'claimId = :claimId',
        ExpressionAttributeNames: { '#state': BY_STATE_INDEX.partitionKey, '#due': BY_STATE_INDEX.sortKey },
        ExpressionAttributeValues: {
          ':attempts': attempts,
          ':lastError': error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          ':state': dead ? DEAD_LETTER_SCHEDULES : PENDING_SCHEDULES,
          ':due': due.toISOString(),
          ':claimId': claimed.claimId,
        },
      }),
    );
  }

  /** Write conditionally on this run's claim; a failed condition means the schedule was replaced or cancelled meanwhile. */
  async #ifStillClaimed(command: DeleteCommand | UpdateCommand): Promise<void> {
    try {
      await this.#client.send(command);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Pending schedules due at `now`, oldest first (every page). */
  async #due(now: Date): Promise<Array<ScheduleItem & Record<string, unknown>>> {
    return this.#query(PENDING_SCHEDULES, now.toISOString());
  }

  async #query(partition: string, dueBy?: string): Promise<Array<ScheduleItem & Record<string, unknown>>> {
    return queryByStatePartition<ScheduleItem & Record<string, unknown>>(this.#client, this.#tableName, partition, dueBy === undefined ? {} : { atMost: dueBy });
  }


  /** The error hook must never break a run (nor, from the timer, the process). */
  #report(error: unknown, event: ScheduledEvent): void {
    try {
      this.#onError(error, event);
    } catch {
      // a throwing hook is ignored on purpose
    }
  }

  #reportTimer(error: unknown): void {
    try {
      this.#onTimerError(error);
    } catch {
      // a throwing hook is ignored on purpose
    }
  }
}
