/**
 * The tenant store: the lifecycle table on DynamoDB. Every transition is one TransactWriteItems: a
 * conditional update of the tenant item (expected state and version) and one append-only audit item per event.
 */
import { ConditionalCheckFailedException, TransactionCanceledException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { z } from 'zod';
import { TENANT_STATES, isTransitional, type LifecycleEvent, type TenantState } from '../lifecycle/lifecycle-table';
import { transition, type LifecycleSnapshot } from '../lifecycle/transition';
import type { BillingAccount } from '../billing/billing-port';
import type { PlanId, Usage } from '../plans/plan-catalog';
import type { PlanResources } from '../provisioning/plan-resources';
import {
  InvalidCursorError,
  OperationOwnershipError,
  PlanChangeScheduledError,
  TenantAlreadyExistsError,
  TenantNotFoundError,
  VersionConflictError,
} from './errors';

import { AUDIT_SK_PREFIX, BY_STATE_INDEX, TENANT_SK, auditSk, tenantPk } from './tenant-table';
import { MAX_EXACT_INTEGER, wholeNumber } from '../shared/schemas';
import { TENANT_ID_PATTERN } from './tenant-schemas';

/** A tenant as the API and workflows see it. */
export interface Tenant {
  readonly tenantId: string;
  readonly name: string;
  readonly email: string;
  readonly plan: PlanId;
  readonly state: TenantState;
  /** Where an exporting or reactivating tenant returns to on completion or failure. */
  readonly origin?: TenantState;
  /** The operation that owns a transitional state. */
  readonly operationId?: string;
  readonly readOnlyReason?: string;
  /** What is provisioned for the tenant's plan (absent until the first plan change provisions it). */
  readonly resources?: PlanResources;
  /** Where the tenant's subscription lives in Stripe; absent when it is not billed through Stripe. */
  readonly billing?: BillingAccount;
  /** A plan change waiting for its time (a downgrade at the end of the billing period). */
  readonly scheduledPlanChange?: ScheduledPlanChange;
  readonly usage: Usage;
  /** When the application plane measured `usage` (its last report); absent until the first report. */
  readonly usageMeasuredAt?: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly stateChangedAt: string;
}

/** What the tenant item says of a scheduled plan change; the operation record has the rest. */
export interface ScheduledPlanChange {
  readonly operationId: string;
  readonly plan: PlanId;
  /** When it takes effect (ISO 8601): the end of the billing period. */
  readonly effectiveAt: string;
}

export const CREATE_EVENT = 'create' as const;

/** One append-only line of a tenant's audit trail. */
export interface AuditEntry {
  readonly tenantId: string;
  readonly version: number;
  readonly at: string;
  readonly actor: string;
  readonly event: LifecycleEvent | typeof CREATE_EVENT;
  readonly from: TenantState | null;
  readonly to: TenantState;
  readonly reason?: string;
  readonly operationId?: string;
  readonly stripeEventId?: string;
}

/** Who asked for a change and why; written to the audit trail. */
export interface ChangeContext {
  readonly actor: string;
  readonly reason?: string;
  readonly operationId?: string;
  readonly stripeEventId?: string;
}

/** Fields a transition may change along with the state, in the same transaction. */
export interface TenantChanges {
  readonly plan?: PlanId;
  readonly resources?: PlanResources;
  /** A string opens (or keeps) a read-only window; null closes it. */
  readonly readOnlyReason?: string | null;
  /** null removes the scheduled plan change (it starts, or is cancelled). */
  readonly scheduledPlanChange?: ScheduledPlanChange | null;
}

/** Options of a transition: field changes, and more items to write in the same transaction. */
export interface TransitionOptions {
  readonly changes?: TenantChanges;
  /** Put items (for example an operation record) committed atomically with the transition. */
  readonly alsoPut?: ReadonlyArray<Record<string, unknown>>;
  /** Conditional updates (for example finishing an operation) committed atomically with the transition. */
  readonly alsoUpdate?: ReadonlyArray<ConditionalUpdate>;
}

/** An Update of a TransactWriteItems, without its table name. */
export interface ConditionalUpdate {
  readonly Key: Record<string, unknown>;
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
}

export interface NewTenant {
  readonly tenantId: string;
  readonly name: string;
  readonly email: string;
  readonly plan: PlanId;
  readonly usage: Usage;
  readonly billing?: BillingAccount;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

export interface PageRequest {
  readonly limit?: number;
  readonly cursor?: string;
}

export interface TenantStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Injected for tests; defaults to the wall clock. */
  readonly now?: () => Date;
}

const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;

const TENANT_FIELDS = [
  'tenantId', 'name', 'email', 'plan', 'state', 'origin', 'operationId', 'readOnlyReason', 'resources', 'billing', 'scheduledPlanChange', 'usage', 'usageMeasuredAt', 'version', 'createdAt', 'updatedAt', 'stateChangedAt',
] as const;
const AUDIT_FIELDS = ['tenantId', 'version', 'at', 'actor', 'event', 'from', 'to', 'reason', 'operationId', 'stripeEventId'] as const;

function pick<T>(item: Record<string, unknown>, fields: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const field of fields) if (item[field] !== undefined) out[field] = item[field];
  return out as T;
}

function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * What a cursor may hold, exactly: strict, so a crafted cursor cannot add a key (`__proto__`, `pk`) to the
 * start key built from it, and bounded like the values the store itself writes.
 */
const LIST_CURSOR = z
  .object({
    state: z.enum(TENANT_STATES),
    after: z.object({ tenantId: z.string().regex(TENANT_ID_PATTERN), stateChangedAt: z.iso.datetime() }).strict().optional(),
  })
  .strict();
const HISTORY_CURSOR = z.object({ before: wholeNumber(1, MAX_EXACT_INTEGER) }).strict();

function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError(); // any undecodable cursor is the caller's mistake
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidCursorError();
  return parsed.data;
}

function pageSize(limit: number | undefined): number {
  return Math.min(Math.max(limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
}

export class TenantStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;

  constructor(options: TenantStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? (() => new Date());
  }

  /** Create an active tenant and its first audit entry, atomically; fails if the id is taken. */
  async create(input: NewTenant, context: ChangeContext): Promise<Tenant> {
    const at = this.#now().toISOString();
    const tenant: Tenant = { ...input, state: 'active', version: 1, createdAt: at, updatedAt: at, stateChangedAt: at };
    const audit: AuditEntry = { tenantId: input.tenantId, version: 1, at, event: CREATE_EVENT, from: null, to: 'active', ...context };
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#tableName,
                Item: { pk: tenantPk(input.tenantId), sk: TENANT_SK, type: 'tenant', ...tenant },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: this.#auditPut(audit) },
          ],
        }),
      );
    } catch (error) {
      if (error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') {
        throw new TenantAlreadyExistsError(input.tenantId);
      }
      throw error;
    }
    return tenant;
  }

  async find(tenantId: string): Promise<Tenant | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: { pk: tenantPk(tenantId), sk: TENANT_SK }, ConsistentRead: true }),
    );
    return Item ? pick<Tenant>(Item, TENANT_FIELDS) : undefined;
  }

  async get(tenantId: string): Promise<Tenant> {
    const tenant = await this.find(tenantId);
    if (!tenant) throw new TenantNotFoundError(tenantId);
    return tenant;
  }

  /**
   * Apply one lifecycle event to the tenant as it was read. Throws IllegalTransitionError when the table
   * forbids it, VersionConflictError when the tenant changed since it was read.
   */
  async applyTransition(tenant: Tenant, event: LifecycleEvent, context: ChangeContext, options?: TransitionOptions): Promise<Tenant> {
    return this.applyTransitions(tenant, [event], context, options);
  }

  /**
   * Apply a chain of events as one atomic change: one update of the tenant, one audit entry per event.
   * Used where no work stands between two steps (resume with nothing to re-provision).
   */
  async applyTransitions(tenant: Tenant, events: readonly LifecycleEvent[], context: ChangeContext, options: TransitionOptions = {}): Promise<Tenant> {
    if (events.length === 0) throw new RangeError('applyTransitions needs at least one event.');
    if (isTransitional(tenant.state) && tenant.operationId !== undefined && tenant.operationId !== context.operationId) {
      throw new OperationOwnershipError(tenant.tenantId, tenant.state, tenant.operationId);
    }
    const at = this.#now().toISOString();
    const audits: AuditEntry[] = [];
    let snapshot: LifecycleSnapshot = { state: tenant.state, origin: tenant.origin };
    for (const event of events) {
      const next = transition(snapshot, event);
      audits.push({ tenantId: tenant.tenantId, version: tenant.version + audits.length + 1, at, event, from: snapshot.state, to: next.state, ...context });
      snapshot = next;
    }
    const version = tenant.version + events.length;
    const operationId = isTransitional(snapshot.state) ? context.operationId : undefined;
    const stateChanged = snapshot.state !== tenant.state;
    const changes = options.changes ?? {};
    const readOnlyReason = changes.readOnlyReason === null ? undefined : (changes.readOnlyReason ?? tenant.readOnlyReason);
    const next: Tenant = {
      ...tenant,
      plan: changes.plan ?? tenant.plan,
      resources: changes.resources ?? tenant.resources,
      scheduledPlanChange: changes.scheduledPlanChange === null ? undefined : (changes.scheduledPlanChange ?? tenant.scheduledPlanChange),
      state: snapshot.state,
      origin: snapshot.origin,
      operationId,
      readOnlyReason: isTransitional(snapshot.state) ? readOnlyReason : undefined,
      version,
      updatedAt: at,
      stateChangedAt: stateChanged ? at : tenant.stateChangedAt,
    };

    const set = ['#state = :state', '#version = :version', 'updatedAt = :at', 'stateChangedAt = :stateChangedAt'];
    const remove: string[] = [];
    const values: Record<string, unknown> = {
      ':state': next.state,
      ':version': version,
      ':at': at,
      ':stateChangedAt': next.stateChangedAt,
      ':expectedState': tenant.state,
      ':expectedVersion': tenant.version,
    };
    const names: Record<string, string> = { '#state': 'state', '#version': 'version' };
    for (const field of ['plan', 'resources'] as const) {
      if (changes[field] === undefined) continue;
      set.push(`#${field} = :${field}`);
      names[`#${field}`] = field;
      values[`:${field}`] = changes[field];
    }
    for (const field of ['origin', 'operationId', 'readOnlyReason', 'scheduledPlanChange'] as const) {
      const value = next[field];
      if (value === undefined) remove.push(field);
      else {
        set.push(`${field} = :${field}`);
        values[`:${field}`] = value;
      }
    }
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.#tableName,
                Key: { pk: tenantPk(tenant.tenantId), sk: TENANT_SK },
                UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
                ConditionExpression: '#state = :expectedState AND #version = :expectedVersion',
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            ...audits.map((audit) => ({ Put: this.#auditPut(audit) })),
            ...(options.alsoPut ?? []).map((item) => this.#putNew(item)),
            ...(options.alsoUpdate ?? []).map((update) => ({ Update: { TableName: this.#tableName, ...update } })),
          ],
        }),
      );
    } catch (error) {
      throw this.#explainConflict(error, tenant, events[0] as LifecycleEvent);
    }
    return next;
  }

  /**
   * Open (reason) or close (null) the read-only window of a tenant whose transitional state `operationId`
   * owns. Bumps the version; no audit entry (the state does not change; the operation record tells the story).
   */
  async setReadOnlyWindow(tenantId: string, operationId: string, reason: string | null): Promise<Tenant> {
    const at = this.#now().toISOString();
    const { Attributes } = await this.#client
      .send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: tenantPk(tenantId), sk: TENANT_SK },
          UpdateExpression: `SET #version = #version + :one, updatedAt = :at${reason === null ? ' REMOVE readOnlyReason' : ', readOnlyReason = :reason'}`,
          ConditionExpression: 'operationId = :operationId',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':one': 1, ':at': at, ':operationId': operationId, ...(reason === null ? {} : { ':reason': reason }) },
          ReturnValues: 'ALL_NEW',
        }),
      )
      .catch(async (error: unknown) => {
        if (error instanceof ConditionalCheckFailedException) {
          const current = await this.get(tenantId);
          throw new OperationOwnershipError(tenantId, current.state, current.operationId ?? 'none');
        }
        throw error;
      });
    return pick<Tenant>(Attributes as Record<string, unknown>, TENANT_FIELDS);
  }

  /**
   * Record the usage the application plane measured at `measuredAt`, unless a report measured later is
   * already recorded (reports may arrive out of order). Does not bump the version: usage is a measurement,
   * not a change of the tenant, and must not make a running workflow's transition lose its version check.
   * Answers the tenant as it is after the report, and whether this report was applied.
   */
  async reportUsage(tenantId: string, usage: Usage, measuredAt: string): Promise<{ tenant: Tenant; applied: boolean }> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: tenantPk(tenantId), sk: TENANT_SK },
          UpdateExpression: 'SET #usage = :usage, usageMeasuredAt = :measuredAt',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(usageMeasuredAt) OR usageMeasuredAt < :measuredAt)',
          ExpressionAttributeNames: { '#usage': 'usage' },
          ExpressionAttributeValues: { ':usage': usage, ':measuredAt': measuredAt },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { tenant: pick<Tenant>(Attributes as Record<string, unknown>, TENANT_FIELDS), applied: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { tenant: await this.get(tenantId), applied: false }; // TenantNotFoundError, or a newer report won
    }
  }

  /**
   * Record a plan change scheduled for later on the tenant as it was read (active, unchanged since, with no
   * other scheduled change), with `alsoPut` (the operation) in the same transaction. Bumps the version; no
   * audit entry (the state does not change; the operation record tells the story). PlanChangeScheduledError
   * when another change was scheduled first, VersionConflictError when the tenant changed otherwise.
   */
  async scheduleChange(tenant: Tenant, scheduled: ScheduledPlanChange, options: { alsoPut: ReadonlyArray<Record<string, unknown>> }): Promise<Tenant> {
    const at = this.#now().toISOString();
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.#tableName,
                Key: { pk: tenantPk(tenant.tenantId), sk: TENANT_SK },
                UpdateExpression: 'SET scheduledPlanChange = :scheduled, #version = :version, updatedAt = :at',
                ConditionExpression: '#state = :active AND #version = :expectedVersion AND attribute_not_exists(scheduledPlanChange)',
                ExpressionAttributeNames: { '#state': 'state', '#version': 'version' },
                ExpressionAttributeValues: { ':scheduled': scheduled, ':version': tenant.version + 1, ':at': at, ':active': 'active', ':expectedVersion': tenant.version },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            ...options.alsoPut.map((item) => this.#putNew(item)),
          ],
        }),
      );
    } catch (error) {
      throw this.#explainConflict(error, tenant);
    }
    return { ...tenant, scheduledPlanChange: scheduled, version: tenant.version + 1, updatedAt: at };
  }

  /**
   * The update that removes the scheduled plan change `operationId` from a tenant that still has it, for the
   * transaction that ends the operation (cancelled). Bumps the version; no audit entry.
   */
  clearScheduledChangeUpdate(tenantId: string, operationId: string): ConditionalUpdate {
    return {
      Key: { pk: tenantPk(tenantId), sk: TENANT_SK },
      UpdateExpression: 'SET #version = #version + :one, updatedAt = :at REMOVE scheduledPlanChange',
      ConditionExpression: 'scheduledPlanChange.operationId = :operationId',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':one': 1, ':at': this.#now().toISOString(), ':operationId': operationId },
    };
  }

  /** Write `updates` (the first one this store's tenant item, say) as one transaction. */
  async transact(updates: ReadonlyArray<ConditionalUpdate>): Promise<void> {
    await this.#client.send(new TransactWriteCommand({ TransactItems: updates.map((update) => ({ Update: { TableName: this.#tableName, ...update } })) }));
  }

  /** Tenants in one state (or every state, in lifecycle order), oldest in that state first. */
  async listByState(state: TenantState | undefined, request: PageRequest = {}): Promise<Page<Tenant>> {
    const limit = pageSize(request.limit);
    const states = state ? [state] : [...TENANT_STATES];
    let stateIndex = 0;
    let startKey: Record<string, unknown> | undefined;
    if (request.cursor) {
      const cursor = decodeCursor(request.cursor, LIST_CURSOR);
      const index = states.indexOf(cursor.state);
      if (index < 0) throw new InvalidCursorError();
      stateIndex = index;
      if (cursor.after !== undefined) {
        startKey = { pk: tenantPk(cursor.after.tenantId), sk: TENANT_SK, state: cursor.state, stateChangedAt: cursor.after.stateChangedAt };
      }
    }

    const items: Tenant[] = [];
    while (stateIndex < states.length) {
      const current = states[stateIndex] as TenantState;
      const result = await this.#query({
        IndexName: BY_STATE_INDEX.name,
        KeyConditionExpression: '#state = :state',
        ExpressionAttributeNames: { '#state': BY_STATE_INDEX.partitionKey },
        ExpressionAttributeValues: { ':state': current },
        ExclusiveStartKey: startKey,
        Limit: limit - items.length,
      });
      items.push(...result.items.map((item) => pick<Tenant>(item, TENANT_FIELDS)));
      if (result.lastKey) {
        const last = items[items.length - 1] as Tenant;
        return { items, nextCursor: encodeCursor({ state: current, after: { tenantId: last.tenantId, stateChangedAt: last.stateChangedAt } }) };
      }
      stateIndex += 1;
      startKey = undefined;
      if (items.length >= limit) {
        return stateIndex < states.length ? { items, nextCursor: encodeCursor({ state: states[stateIndex] }) } : { items };
      }
    }
    return { items };
  }

  /** A tenant's audit trail, newest first. */
  async history(tenantId: string, request: PageRequest = {}): Promise<Page<AuditEntry>> {
    let startKey: Record<string, unknown> | undefined;
    if (request.cursor) {
      const { before } = decodeCursor(request.cursor, HISTORY_CURSOR);
      startKey = { pk: tenantPk(tenantId), sk: auditSk(before) };
    }
    const result = await this.#query({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :audit)',
      ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':audit': AUDIT_SK_PREFIX },
      ScanIndexForward: false,
      ExclusiveStartKey: startKey,
      Limit: pageSize(request.limit),
    });
    const items = result.items.map((item) => pick<AuditEntry>(item, AUDIT_FIELDS));
    const last = items[items.length - 1];
    return result.lastKey && last ? { items, nextCursor: encodeCursor({ before: last.version }) } : { items };
  }

  async #query(input: Omit<QueryCommandInput, 'TableName'>): Promise<{ items: Record<string, unknown>[]; lastKey?: Record<string, unknown> }> {
    try {
      const { Items, LastEvaluatedKey } = await this.#client.send(new QueryCommand({ TableName: this.#tableName, ...input }));
      return { items: Items ?? [], lastKey: LastEvaluatedKey };
    } catch (error) {
      // A start key built from a cursor that no longer matches the query.
      if (input.ExclusiveStartKey && (error as Error).name === 'ValidationException') throw new InvalidCursorError();
      throw error;
    }
  }

  /** A transaction item that creates `item` (an operation, say), failing if its key exists. */
  #putNew(item: Record<string, unknown>) {
    return { Put: { TableName: this.#tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } };
  }

  #auditPut(audit: AuditEntry) {
    return {
      TableName: this.#tableName,
      Item: { pk: tenantPk(audit.tenantId), sk: auditSk(audit.version), type: 'audit', ...audit },
      ConditionExpression: 'attribute_not_exists(pk)',
    };
  }

  /**
   * Turn a cancelled transaction into the domain error that says what the caller lost to: the tenant is gone,
   * the winner moved it where `event` is not allowed, the winner scheduled a plan change first (a scheduling,
   * no event), or it just changed since it was read.
   */
  #explainConflict(error: unknown, tenant: Tenant, event?: LifecycleEvent): unknown {
    if (!(error instanceof TransactionCanceledException)) return error;
    const reason = error.CancellationReasons?.[0];
    if (reason?.Code !== 'ConditionalCheckFailed') return error;
    if (!reason.Item) return new TenantNotFoundError(tenant.tenantId);
    const current = pick<Tenant>(unmarshall(reason.Item as Record<string, AttributeValue>), TENANT_FIELDS);
    if (event) {
      try {
        transition({ state: current.state, origin: current.origin }, event);
      } catch (illegal) {
        return illegal; // the winner moved the tenant somewhere this event is not allowed from
      }
    } else if (current.scheduledPlanChange) {
      return new PlanChangeScheduledError(tenant.tenantId, current.scheduledPlanChange);
    }
    return new VersionConflictError(tenant.tenantId, tenant.version, current.version, current.state);
  }
}
