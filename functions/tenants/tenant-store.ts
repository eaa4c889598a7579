/**
 * The tenant store: the lifecycle table on DynamoDB. Every transition is one TransactWriteItems: a
 * conditional update of the tenant item (expected state and version) and one append-only audit item per event.
 */
import * as clock from '../shared/clock';
import { ConditionalCheckFailedException, TransactionCanceledException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { INITIAL_STATE, LIFECYCLE_TABLE, TENANT_STATES, isTransitional, type LifecycleEvent, type TenantState } from '../lifecycle/lifecycle-table';
import { transition, type LifecycleSnapshot } from '../lifecycle/transition';
import type { BillingAccount } from '../billing/billing-port';
import { EMPTY_USAGE, type PlanId, type Usage } from '../plans/plan-catalog';
import type { ReactivationPath } from '../reactivation/reactivation-definition';
import type { PlanResources } from '../provisioning/plan-resources';
import type { DeletionSchedule, LegalHold } from '../deletion/deletion-policy';
import { findCertificate, type DeletionCertificate } from '../deletion/deletion-certificate';
import type { TenantDunning } from '../dunning/dunning-policy';
import { accessFor, notBlockedCondition } from '../lifecycle/access-policy';
import { InvalidCursorError, OperationOwnershipError, TenantAlreadyExistsError, TenantNotFoundError, UsageRefusedError, VersionConflictError } from './errors';
import { ownerRefusal, refusalOf } from './tenant-rules';

import { AUDIT_ITEM_TYPE, AUDIT_SK_PREFIX, BY_STATE_INDEX, TENANT_SK, auditSk, tenantPk } from './tenant-table';
import { MetricUnit, publishMetrics } from '../shared/powertools';
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
  /** The tenant's data is subject to the GDPR: a soft delete may retain it 30 days at most (deletion-policy.ts). */
  readonly gdpr?: boolean;
  /** The soft delete of a `deleting` tenant: deadline, enforcement window, schedule names (kept once deleted). */
  readonly deletion?: DeletionSchedule;
  /** A legal hold: the hard delete does not run while it is set. */
  readonly legalHold?: LegalHold;
  /** The tenant's standing in the dunning ladder (functions/dunning/dunning-policy.ts); absent in good standing. */
  readonly dunning?: TenantDunning;
  /** Once `deleted`: when the hard delete completed (ISO 8601, UTC). */
  readonly deletedAt?: string;
  /** Once `deleted`: the deletion certificate's id (GET /tenants/{id}/deletion-certificate). */
  readonly deletionCertificateId?: string;
  readonly usage: Usage;
  /** When the application plane measured `usage` (its last report); absent until the first report. */
  readonly usageMeasuredAt?: string;
  /** Who reported `usage` last (absent: the figures of sign-up, or a report from before this was recorded). */
  readonly usageReport?: UsageReport;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly stateChangedAt: string;
}

/**
 * The tenant as a workflow knows it between its steps, without reading it again: what a conditional write
 * needs. Every write made against it is conditioned on `version`, so DynamoDB refuses it (VersionConflictError,
 * or the refusal of tenant-rules.ts for the tenant as it is) if the tenant changed since; at that version each
 * field listed is as known and a field left out is absent (usageMeasuredAt and stateChangedAt aside: a usage
 * report does not move the version, so a write that rests on usage reads it; see `usageAsRead`). Small values
 * only: it travels in a Step Functions execution's input (256 KB limit), never the whole record.
 */
export type KnownTenant = Pick<Tenant, 'tenantId' | 'version' | 'state' | 'plan' | 'usage'> &
  Partial<Pick<Tenant, 'origin' | 'operationId' | 'readOnlyReason' | 'resources' | 'scheduledPlanChange' | 'usageMeasuredAt' | 'stateChangedAt'>>;

/** What a workflow carries of `tenant` (the record as read or as a write left it): KnownTenant's fields only. */
export function knownTenant(tenant: KnownTenant): KnownTenant {
  const { tenantId, version, state, plan, usage, origin, operationId, readOnlyReason, resources, scheduledPlanChange } = tenant;
  return { tenantId, version, state, plan, usage, origin, operationId, readOnlyReason, resources, scheduledPlanChange };
}

/** What the tenant item says of a scheduled plan change; the operation record has the rest. */
export interface ScheduledPlanChange {
  readonly operationId: string;
  readonly plan: PlanId;
  /** When it takes effect (ISO 8601): the end of the billing period. */
  readonly effectiveAt: string;
}

export const CREATE_EVENT = 'create' as const;

/**
 * Audit events of changes that are not lifecycle transitions (the state stays; `from` and `to` are equal):
 * a plan change scheduled for the period end or cancelled before it started, and a workflow's read-only
 * window opening (it closes with the workflow's complete or rollback event).
 */
export const CHANGE_EVENTS = {
  schedulePlanChange: 'schedule_plan_change',
  cancelScheduledPlanChange: 'cancel_scheduled_plan_change',
  startReadOnlyWindow: 'start_read_only_window',
  placeLegalHold: 'place_legal_hold',
  releaseLegalHold: 'release_legal_hold',
  /** A hard delete began on a soft-deleted tenant (its operation now owns the tenant until it ends). */
  startHardDelete: 'start_hard_delete',
  /** A hard delete ended without deleting (failed): the tenant stays soft-deleted, its operation released. */
  failHardDelete: 'fail_hard_delete',
  /** A deletion deadline was missed (see ComplianceViolation); also listed in the VIOLATIONS_PARTITION. */
  complianceViolation: 'compliance_violation',
  /** A payment failed: the tenant keeps full access until the grace period ends (functions/dunning/). */
  startGracePeriod: 'start_grace_period',
  /** The payment recovered during the grace period (or the tenant left it otherwise): no suspension due. */
  endGracePeriod: 'end_grace_period',
} as const;
export type ChangeEvent = (typeof CHANGE_EVENTS)[keyof typeof CHANGE_EVENTS];

/** Every event an audit entry may name. */
export type AuditEvent = LifecycleEvent | typeof CREATE_EVENT | ChangeEvent;

/**
 * One append-only line of a tenant's audit trail. Every write that changes the tenant item's version writes
 * its entries in the same transaction, one per version: the trail has versions 1..version without a gap.
 */
export interface AuditEntry {
  readonly tenantId: string;
  readonly version: number;
  readonly at: string;
  readonly actor: string;
  readonly event: AuditEvent;
  readonly from: TenantState | null;
  readonly to: TenantState;
  readonly reason?: string;
  readonly operationId?: string;
  readonly stripeEventId?: string;
  /** The type of the Stripe event that caused the change (`invoice.payment_failed`). */
  readonly stripeEventType?: string;
  /** On a `compliance_violation` entry: what was missed, and by how much. */
  readonly violation?: ComplianceViolation;
  /** On a reactivation's entries: which path it took (functions/reactivation/reactivation-definition.ts). */
  readonly reactivationPath?: ReactivationPath;
  /** On a forced plan change's entries: it revoked the tenant's live query leases instead of waiting for them. */
  readonly forced?: true;
}

/**
 * A deadline the control plane missed: a hard delete that ran (or was found not run) after its enforcement
 * window closed. Recorded as an audit entry of the tenant, indexed in the byState index under
 * VIOLATIONS_PARTITION by `detectedAt`, so operators list them across tenants by time.
 */
export interface ComplianceViolation {
  readonly kind: 'hard_delete_late';
  /** The latest allowed time (the enforcement window's close). */
  readonly dueBy: string;
  /** When the violation was found. */
  readonly detectedAt: string;
  /** Seconds between `dueBy` and `detectedAt`. */
  readonly latenessSeconds: number;
  /** What found it: the hard delete's own firing, the enforcement check or the sweeper. */
  readonly detectedBy: 'hard-delete' | 'enforcement-check' | 'sweeper';
}

/** The byState-index partition of compliance violations' audit items, sorted by detectedAt. */
export const VIOLATIONS_PARTITION = 'compliance:violation';

/** Who asked for a change and why; written to the audit trail. */
export interface ChangeContext {
  /** The principal's subject (token subject), or the workflow's requester for its own steps. */
  readonly actor: string;
  /** The request's `reason`, else a default that says what happened. */
  readonly reason?: string;
  readonly operationId?: string;
  readonly stripeEventId?: string;
  readonly stripeEventType?: string;
  /** A reactivation's path: `resume` (suspended), `restore` (soft-deleted, with its data), `fresh_start` (no old data). */
  readonly reactivationPath?: ReactivationPath;
  /** An operator forced the change: a plan change that did not wait for the tenant's query leases. */
  readonly forced?: true;
}

/** Fields a transition may change along with the state, in the same transaction. */
export interface TenantChanges {
  readonly plan?: PlanId;
  readonly resources?: PlanResources;
  /** A string opens (or keeps) a read-only window; null closes it. */
  readonly readOnlyReason?: string | null;
  /** null removes the scheduled plan change (it starts, or is cancelled). */
  readonly scheduledPlanChange?: ScheduledPlanChange | null;
  /** The soft delete's record (initiate_deletion); null removes it (cancel_deletion). */
  readonly deletion?: DeletionSchedule | null;
  /** null releases a legal hold. */
  readonly legalHold?: LegalHold | null;
  /** The tenant's Stripe references (a subscription restored when a soft delete is cancelled); null removes them. */
  readonly billing?: BillingAccount | null;
  /** The tenant's standing in the dunning ladder; null removes it (good standing again). */
  readonly dunning?: TenantDunning | null;
  /**
   * complete_deletion: the item becomes the tombstone. Every field but TOMBSTONE_FIELDS is removed (name, email,
   * plan, usage, billing, resources...) and these two are set.
   */
  readonly tombstone?: { readonly deletedAt: string; readonly deletionCertificateId: string };
  /**
   * A reactivation's fresh start: the tenant begins again with none of its old data. Its contact details are set
   * (a deleted tenant's were erased; a soft-deleted one's are given again), usage starts at zero, and what a
   * tombstone kept of the old deletion (the soft delete's record `deletion` with its reason, deletedAt,
   * deletionCertificateId) is removed from the record (the certificate item itself stays, with the audit trail).
   */
  readonly freshStart?: { readonly name: string; readonly email: string };
}

/**
 * What a deleted tenant's item keeps (the tombstone): its id, state and version (so the audit trail stays
 * 1..version without a gap and a second firing finds it deleted), when it was created, its soft delete's record
 * (the window the certificate is measured against), when it was deleted and its certificate. Nothing personal.
 */
export const TOMBSTONE_FIELDS = ['tenantId', 'state', 'version', 'createdAt', 'updatedAt', 'stateChangedAt', 'deletion', 'deletedAt', 'deletionCertificateId'] as const satisfies ReadonlyArray<keyof Tenant>;

/** Options of a transition: field changes, and more items to write in the same transaction. */
export interface TransitionOptions {
  readonly changes?: TenantChanges;
  /**
   * Put items (for example an operation record, or a Stripe event's deduplication item) committed atomically with
   * the transition, each only if its key is new (`attribute_not_exists(pk)`): one already there cancels the whole
   * transaction (the tenant unchanged), which is how an event delivered twice acts once.
   */
  readonly alsoPut?: ReadonlyArray<Record<string, unknown>>;
  /** Conditional updates (for example finishing an operation) committed atomically with the transition. */
  readonly alsoUpdate?: ReadonlyArray<ConditionalUpdate>;
  /**
   * Items deleted atomically with the transition, each only if it exists (`attribute_exists(pk)`): for moving an
   * item to another key (its copy in `alsoPut`), as a reactivation archives a deletion certificate.
   */
  readonly alsoDelete?: ReadonlyArray<{ readonly pk: string; readonly sk: string }>;
  /**
   * The decision rests on the tenant's usage as read (a downgrade must fit the lower plan): refuse with
   * VersionConflictError when a usage report arrived since. Usage reports do not bump the version (they must
   * not fail a running workflow's steps), so the version alone does not catch them.
   */
  readonly usageAsRead?: boolean;
  /**
   * Also open the read-only window of the operation the events leave owning the tenant (`context.operationId`),
   * with this reason, in the same change: `start_read_only_window` follows the events in the history, with its
   * own version and this reason, as when startReadOnlyWindow opens it later. A workflow whose first step would
   * open the window saves a transaction (issue 8's calls budget). RangeError when the events leave the tenant
   * in a stable state (only a transitional state has a window).
   */
  readonly readOnlyWindow?: string;
}

/** An Update of a TransactWriteItems, without its table name. */
export interface ConditionalUpdate {
  readonly Key: Record<string, unknown>;
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
  /**
   * Called (and awaited) once the transaction that carries the update has committed, never when it was
   * cancelled; not sent to DynamoDB. How the owner of the item learns that its change happened (an operation's
   * end is measured then). Must not throw.
   */
  readonly onCommitted?: () => Promise<void> | void;
}

/** The metric counting audit entries (CloudWatch, namespace POWERTOOLS_METRICS_NAMESPACE). */
export const TRANSITIONS_METRIC = 'Transitions';
/** The `from` dimension of `create`, which comes from no state. */
export const NO_STATE = 'none';

/**
 * Count one committed audit entry in `Transitions` (1, Count), by `event` and by `event`, `from`, `to`: the
 * lifecycle events, `create` and the CHANGE_EVENTS, wherever they are applied (API, workflow steps,
 * compensations, schedules, the sweeper), since every one goes through this store.
 */
function countTransition(entry: { readonly event: AuditEvent; readonly from: TenantState | null; readonly to: TenantState }): void {
  const { event, to } = entry;
  const from = entry.from ?? NO_STATE;
  publishMetrics([{ event }, { event, from, to }], [{ name: TRANSITIONS_METRIC, unit: MetricUnit.Count, value: 1 }]);
}

/** The metric counting compliance violations recorded (CloudWatch, namespace POWERTOOLS_METRICS_NAMESPACE); alarmed. */
export const COMPLIANCE_VIOLATIONS_METRIC = 'ComplianceViolations';

/**
 * Count one committed compliance violation in `ComplianceViolations` (1, Count), by `detectedBy` and without
 * it (the alarm's series): every violation is recorded through this store, so this is its one place.
 */
function countViolation(violation: ComplianceViolation): void {
  publishMetrics([{ detectedBy: violation.detectedBy }, {}], [{ name: COMPLIANCE_VIOLATIONS_METRIC, unit: MetricUnit.Count, value: 1 }]);
}

export interface NewTenant {
  readonly tenantId: string;
  readonly name: string;
  readonly email: string;
  readonly plan: PlanId;
  readonly usage: Usage;
  readonly billing?: BillingAccount;
  readonly gdpr?: boolean;
}

export interface Page<T> {
  readonly items: T[];
  /** Absent on the last page, also when it is full: a cursor always leads to at least one more item. */
  readonly nextCursor?: string;
}

export interface PageRequest {
  readonly limit?: number;
  readonly cursor?: string;
}

export interface TenantStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Injected for tests; defaults to the clock (functions/shared/clock.ts: the wall clock when deployed). */
  readonly now?: () => Date;
}

/** Who may report usage: an operator, or the tenant's own application plane (its tenant-scoped token). */
export type UsageReporter = 'operator' | 'tenant';

/** Who reported the usage recorded, and, for an operator's correction, until when it holds. */
export interface UsageReport {
  readonly by: UsageReporter;
  /** An operator's report: reports of the tenant's own token are not applied before this time (ISO 8601). */
  readonly heldUntil?: string;
}

/**
 * How long an operator's usage report holds against the tenant's own reports, in seconds: long enough for the
 * operator to act on the corrected figures (a downgrade the inflated ones blocked), short enough that the
 * application plane's measurements count again within the hour (issue 13).
 */
export const OPERATOR_USAGE_HOLD_SECONDS = 3600;

/** Why a usage report changed nothing: a later one is recorded, or an operator's correction still holds. */
export interface UsageNotApplied {
  readonly code: 'NEWER_REPORT_RECORDED' | 'OPERATOR_CORRECTION_HOLDS';
  readonly message: string;
}

/** The access policy's `blocked`, as the condition usage reports are written under. */
const NOT_BLOCKED = notBlockedCondition();

const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;

const TENANT_FIELDS = [
  'tenantId', 'name', 'email', 'plan', 'state', 'origin', 'operationId', 'readOnlyReason', 'resources', 'billing', 'scheduledPlanChange', 'gdpr', 'deletion', 'legalHold', 'dunning', 'usage', 'usageMeasuredAt', 'usageReport', 'version', 'createdAt', 'updatedAt', 'stateChangedAt', 'deletedAt', 'deletionCertificateId',
] as const satisfies ReadonlyArray<keyof Tenant>;
/** The fields of an audit item (what history answers, what a lifecycle event publishes, what the audit source describes). */
export const AUDIT_FIELDS = ['tenantId', 'version', 'at', 'actor', 'event', 'from', 'to', 'reason', 'operationId', 'stripeEventId', 'stripeEventType', 'violation', 'reactivationPath', 'forced'] as const;

/**
 * Why a report by `by` measured at `measuredAt` lost to what `tenant` has recorded (reportUsage's rule). A
 * report only loses to a recorded one, so `usageMeasuredAt` is set.
 */
function usageNotApplied(tenant: Tenant, by: UsageReporter, measuredAt: string, now: Date): UsageNotApplied {
  const heldUntil = tenant.usageReport?.heldUntil;
  if (by === 'tenant' && heldUntil !== undefined && heldUntil > now.toISOString()) {
    return {
      code: 'OPERATOR_CORRECTION_HOLDS',
      message: `An operator corrected this tenant's usage (measured at ${String(tenant.usageMeasuredAt)}): reports from the tenant's own token are not applied until ${heldUntil}. Nothing was changed.`,
    };
  }
  const recordedBy = tenant.usageReport?.by === 'operator' ? "an operator's" : "the application plane's";
  return {
    code: 'NEWER_REPORT_RECORDED',
    message: `A report measured later (${recordedBy}, measured at ${String(tenant.usageMeasuredAt)}) is already recorded; this one (measured at ${measuredAt}) changed nothing.`,
  };
}

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
/** The last violation of a page: its audit item's key and its place in the VIOLATIONS_PARTITION. */
const VIOLATIONS_CURSOR = z
  .object({ after: z.object({ tenantId: z.string().regex(TENANT_ID_PATTERN), version: wholeNumber(1, MAX_EXACT_INTEGER), detectedAt: z.iso.datetime() }).strict() })
  .strict();

/** A time range of compliance violations' `detectedAt` (ISO 8601 UTC, as stored), both ends inclusive. */
export interface ViolationRange {
  readonly from?: string;
  readonly to?: string;
}

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
    this.#now = options.now ?? clock.now;
  }

  /**
   * Create an active tenant and its first audit entry, with `options.alsoPut` (for example its subscription link
   * item), in one TransactWriteItems: all or nothing. TenantAlreadyExistsError if the id is taken; when an
   * `alsoPut` item's key exists (each is put only if absent), the error `options.refusedPut` makes of it and the
   * item there (read back with the refusal), else the TransactionCanceledException.
   */
  async create(
    input: NewTenant,
    context: ChangeContext,
    options: {
      readonly alsoPut?: ReadonlyArray<Record<string, unknown>>;
      readonly refusedPut?: (item: Record<string, unknown>, existing: Record<string, unknown> | undefined) => Error;
    } = {},
  ): Promise<Tenant> {
    const at = this.#now().toISOString();
    const tenant: Tenant = { ...input, state: INITIAL_STATE, version: 1, createdAt: at, updatedAt: at, stateChangedAt: at };
    const audit: AuditEntry = { tenantId: input.tenantId, version: 1, at, event: CREATE_EVENT, from: null, to: INITIAL_STATE, ...context };
    const alsoPut = options.alsoPut ?? [];
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
            ...alsoPut.map((item) => {
              const put = this.#putNew(item);
              return { Put: { ...put.Put, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } };
            }),
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (reasons[0]?.Code === 'ConditionalCheckFailed') throw new TenantAlreadyExistsError(input.tenantId);
      const refused = reasons.findIndex((reason, index) => index >= 2 && reason.Code === 'ConditionalCheckFailed');
      if (refused >= 2 && options.refusedPut) {
        const found = reasons[refused]?.Item;
        throw options.refusedPut(alsoPut[refused - 2] as Record<string, unknown>, found ? unmarshall(found as Record<string, AttributeValue>) : undefined);
      }
      throw error;
    }
    countTransition(audit);
    return tenant;
  }

  async find(tenantId: string): Promise<Tenant | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: { pk: tenantPk(tenantId), sk: TENANT_SK }, ConsistentRead: true }),
    );
    return Item ? pick<Tenant>(Item, TENANT_FIELDS) : undefined;
  }

  /** The tenant's deletion certificate (a deleted tenant's proof of erasure), or undefined when it has none. */
  async deletionCertificate(tenantId: string): Promise<DeletionCertificate | undefined> {
    return findCertificate(this.#client, this.#tableName, tenantId);
  }

  /**
   * The tenant; TenantNotFoundError when there is none. With `expectedVersion` (a request's If-Match), a
   * tenant at another version is a VersionConflictError: the caller's change is then not made, even if it
   * would still be legal. The write that follows is conditioned on the version read here.
   */
  async get(tenantId: string, options: { readonly expectedVersion?: number } = {}): Promise<Tenant> {
    const tenant = await this.find(tenantId);
    if (!tenant) throw new TenantNotFoundError(tenantId);
    if (options.expectedVersion !== undefined && options.expectedVersion !== tenant.version) {
      throw new VersionConflictError(tenantId, options.expectedVersion, tenant.version, tenant.state);
    }
    return tenant;
  }

  /**
   * Apply one lifecycle event to the tenant as it was read. Throws the refusal of tenant-rules.ts when the
   * event cannot happen now (IllegalTransitionError, OperationOwnershipError, PlanChangeScheduledError),
   * VersionConflictError when the tenant changed since it was read.
   */
  async applyTransition<T extends KnownTenant>(tenant: T, event: LifecycleEvent, context: ChangeContext, options?: TransitionOptions): Promise<T> {
    return this.applyTransitions(tenant, [event], context, options);
  }

  /**
   * Apply a chain of events as one atomic change: one update of the tenant, one audit entry per event.
   * Used where no work stands between two steps (resume with nothing to re-provision). `tenant` may be the
   * full record or what a workflow knows of it (KnownTenant): fields it does not list are written as absent.
   */
  async applyTransitions<T extends KnownTenant>(tenant: T, events: readonly LifecycleEvent[], context: ChangeContext, options: TransitionOptions = {}): Promise<T> {
    if (events.length === 0) throw new RangeError('applyTransitions needs at least one event.');
    const first = events[0] as LifecycleEvent;
    const refusal = refusalOf(tenant, first, context.operationId);
    if (refusal) throw refusal;
    const entries: Array<{ event: AuditEvent; from: TenantState; to: TenantState; reason?: string }> = [];
    let snapshot: LifecycleSnapshot = { state: tenant.state, origin: tenant.origin };
    for (const event of events) {
      const next = transition(snapshot, event);
      entries.push({ event, from: snapshot.state, to: next.state });
      snapshot = next;
    }
    const changes = options.changes ?? {};
    let readOnlyReason = changes.readOnlyReason === null ? undefined : (changes.readOnlyReason ?? tenant.readOnlyReason);
    if (options.readOnlyWindow !== undefined) {
      if (!isTransitional(snapshot.state)) throw new RangeError(`A read-only window opens only in a transitional state; '${events.join(', ')}' leaves the tenant '${snapshot.state}'.`);
      entries.push({ event: CHANGE_EVENTS.startReadOnlyWindow, from: snapshot.state, to: snapshot.state, reason: options.readOnlyWindow });
      readOnlyReason = options.readOnlyWindow;
    }
    const fields: Partial<Tenant> = {
      plan: changes.plan ?? tenant.plan,
      resources: changes.resources ?? tenant.resources,
      scheduledPlanChange: changes.scheduledPlanChange === null ? undefined : (changes.scheduledPlanChange ?? tenant.scheduledPlanChange),
      state: snapshot.state,
      origin: snapshot.origin,
      operationId: isTransitional(snapshot.state) ? context.operationId : undefined,
      readOnlyReason: isTransitional(snapshot.state) ? readOnlyReason : undefined,
    };
    const set: Array<keyof Tenant> = ['state', ...(['plan', 'resources'] as const).filter((field) => changes[field] !== undefined)];
    // Set when given, removed when null, left as stored when not mentioned (a workflow's KnownTenant lacks them).
    const optional = Object.fromEntries((['deletion', 'legalHold', 'billing', 'dunning'] as const).filter((field) => changes[field] !== undefined).map((field) => [field, changes[field] ?? undefined]));
    const tombstone = changes.tombstone
      ? { ...Object.fromEntries(TENANT_FIELDS.filter((field) => !(TOMBSTONE_FIELDS as readonly string[]).includes(field)).map((field) => [field, undefined])), ...changes.tombstone }
      : {};
    const fresh = changes.freshStart
      ? { name: changes.freshStart.name, email: changes.freshStart.email, usage: EMPTY_USAGE, usageMeasuredAt: undefined, usageReport: undefined, deletion: undefined, deletedAt: undefined, deletionCertificateId: undefined }
      : {};
    return this.#change(tenant, entries, context, {
      set: Object.fromEntries(set.filter((field) => !changes.tombstone || field === 'state').map((field) => [field, fields[field]])),
      setOrRemove: { origin: fields.origin, operationId: fields.operationId, readOnlyReason: fields.readOnlyReason, scheduledPlanChange: fields.scheduledPlanChange, ...optional, ...tombstone, ...fresh },
      condition: { expression: '#state = :expectedState', values: { ':expectedState': tenant.state } },
      event: first,
      alsoPut: options.alsoPut,
      alsoUpdate: options.alsoUpdate,
      alsoDelete: options.alsoDelete,
      usageAsRead: options.usageAsRead,
    });
  }

  /**
   * Open the read-only window of a tenant whose transitional state `context.operationId` owns, as it was read
   * (`start_read_only_window` in its history; the window closes with the workflow's complete or rollback).
   * OperationOwnershipError when another operation owns it, VersionConflictError when it changed since. An immediate
   * plan change opens its window with its initiate event instead (TransitionOptions.readOnlyWindow).
   */
  async startReadOnlyWindow<T extends KnownTenant>(tenant: T, readOnlyReason: string, context: ChangeContext & { readonly operationId: string }): Promise<T> {
    if (tenant.operationId !== context.operationId) throw this.#notOwner(tenant);
    return this.#change(tenant, [{ event: CHANGE_EVENTS.startReadOnlyWindow, from: tenant.state, to: tenant.state }], context, {
      set: { readOnlyReason },
      condition: { expression: 'operationId = :operationId', values: { ':operationId': context.operationId } },
    });
  }

  /**
   * Record usage measured at `measuredAt` (no later than now: the handler clamps it), reported by an operator or
   * by the tenant's own application plane, unless a report that wins over it is recorded (reports may arrive out
   * of order). The rule (issue 13: a tenant must not be able to outvote an operator's correction):
   * - an operator's report is applied unless an operator's report measured later is recorded; it then holds for
   *   OPERATOR_USAGE_HOLD_SECONDS (`usageReport.heldUntil`);
   * - a tenant's report is applied if it was measured later than the recorded one and no operator's correction
   *   holds (`OPERATOR_CORRECTION_HOLDS` otherwise).
   * Does not bump the version and writes no audit entry: usage is a measurement, not a change of the tenant
   * (reported as often as every minute, it would bury the trail's decisions), and must not make a running
   * workflow's transition lose its version check. The decisions usage leads to (a downgrade refused, a scheduled
   * one cancelled) are audited with the figures. Answers the tenant as it is after the report, whether this report
   * was applied and, if not, why. With `expectedVersion` (If-Match), a tenant at another version is a
   * VersionConflictError and nothing is recorded.
   */
  async reportUsage(
    tenantId: string,
    usage: Usage,
    measuredAt: string,
    options: { readonly expectedVersion?: number; readonly reportedBy?: UsageReporter } = {},
  ): Promise<{ tenant: Tenant; applied: boolean; notApplied?: UsageNotApplied }> {
    const { expectedVersion } = options;
    const by = options.reportedBy ?? 'tenant';
    const now = this.#now();
    const report: UsageReport = by === 'operator' ? { by, heldUntil: new Date(now.getTime() + OPERATOR_USAGE_HOLD_SECONDS * 1000).toISOString() } : { by };
    const later = '(attribute_not_exists(usageMeasuredAt) OR usageMeasuredAt < :measuredAt)';
    // An operator's report loses only to an operator's measured later; a tenant's also to a correction that holds.
    const wins =
      by === 'operator'
        ? `(${later} OR attribute_not_exists(#usageReport) OR #usageReport.#by <> :operator)`
        : `${later} AND (attribute_not_exists(#usageReport.#heldUntil) OR #usageReport.#heldUntil <= :now)`;
    const winsValues: Record<string, string> = by === 'operator' ? { ':operator': 'operator' } : { ':now': now.toISOString() };
    const winsNames: Record<string, string> = by === 'operator' ? { '#by': 'by' } : { '#heldUntil': 'heldUntil' };
    // A blocked tenant (soft-deleted, deleted) is refused by the database, against the item as it is when the write lands.
    const notBlocked = NOT_BLOCKED;
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: tenantPk(tenantId), sk: TENANT_SK },
          UpdateExpression: 'SET #usage = :usage, usageMeasuredAt = :measuredAt, #usageReport = :report',
          ConditionExpression: `attribute_exists(pk) AND ${notBlocked.expression} AND ${wins}${expectedVersion === undefined ? '' : ' AND #version = :expectedVersion'}`,
          ExpressionAttributeNames: { '#usage': 'usage', '#usageReport': 'usageReport', ...winsNames, ...notBlocked.names, ...(expectedVersion === undefined ? {} : { '#version': 'version' }) },
          ExpressionAttributeValues: {
            ':usage': usage,
            ':measuredAt': measuredAt,
            ':report': report,
            ...winsValues,
            ...notBlocked.values,
            ...(expectedVersion === undefined ? {} : { ':expectedVersion': expectedVersion }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { tenant: pick<Tenant>(Attributes as Record<string, unknown>, TENANT_FIELDS), applied: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // TenantNotFoundError, VersionConflictError (If-Match), a blocked tenant, or a report that wins was recorded.
      const tenant = await this.get(tenantId, { expectedVersion });
      const access = accessFor(tenant);
      if (access.access === 'blocked') throw new UsageRefusedError(tenantId, tenant.state, access.reason);
      return { tenant, applied: false, notApplied: usageNotApplied(tenant, by, measuredAt, now) };
    }
  }

  /**
   * Record a plan change scheduled for later on the tenant as it was read (active, unchanged since, with no
   * other scheduled change), with `alsoPut` (the operation) in the same transaction, and
   * `schedule_plan_change` in its history. The refusal of tenant-rules.ts for its initiate event when it
   * cannot be scheduled now (PlanChangeScheduledError when another change was scheduled first),
   * VersionConflictError when the tenant changed otherwise.
   */
  async scheduleChange(
    tenant: Tenant,
    scheduled: ScheduledPlanChange,
    context: ChangeContext,
    options: { readonly event: LifecycleEvent; readonly alsoPut: ReadonlyArray<Record<string, unknown>> },
  ): Promise<Tenant> {
    const refusal = refusalOf(tenant, options.event, context.operationId);
    if (refusal) throw refusal;
    return this.#change(tenant, [{ event: CHANGE_EVENTS.schedulePlanChange, from: tenant.state, to: tenant.state }], context, {
      set: { scheduledPlanChange: scheduled },
      condition: { expression: '#state = :expectedState AND attribute_not_exists(scheduledPlanChange)', values: { ':expectedState': tenant.state } },
      event: options.event,
      alsoPut: options.alsoPut,
      usageAsRead: true, // the downgrade was found to fit the usage read
    });
  }

  /**
   * Remove the scheduled plan change `operationId` from the tenant as it was read, with
   * `cancel_scheduled_plan_change` in its history and `alsoUpdate` (the operation's end) in the same
   * transaction. VersionConflictError when the tenant changed since it was read (read it again and retry).
   */
  async clearScheduledChange(tenant: Tenant, operationId: string, context: ChangeContext, options: { readonly alsoUpdate?: ReadonlyArray<ConditionalUpdate> } = {}): Promise<Tenant> {
    return this.#change(tenant, [{ event: CHANGE_EVENTS.cancelScheduledPlanChange, from: tenant.state, to: tenant.state }], { ...context, operationId }, {
      setOrRemove: { scheduledPlanChange: undefined },
      condition: { expression: 'scheduledPlanChange.operationId = :scheduledOperationId', values: { ':scheduledOperationId': operationId } },
      alsoUpdate: options.alsoUpdate,
    });
  }

  /**
   * A change that keeps the state (`event`, one of CHANGE_EVENTS), on the tenant as it was read: `set` fields
   * written, `remove` fields removed, `condition` (default: the state as read) and the version checked, one audit
   * entry (with `violation` when given, then also indexed under VIOLATIONS_PARTITION), `alsoPut` / `alsoUpdate`
   * in the same transaction. VersionConflictError when it changed since it was read (or the refusal for another
   * operation owning it); TenantNotFoundError when it is gone.
   */
  async recordChange<T extends KnownTenant>(
    tenant: T,
    event: ChangeEvent,
    context: ChangeContext,
    options: {
      readonly set?: Partial<Record<keyof Tenant, unknown>>;
      readonly remove?: ReadonlyArray<keyof Tenant>;
      readonly condition?: { readonly expression: string; readonly values: Record<string, unknown> };
      readonly violation?: ComplianceViolation;
      readonly alsoPut?: ReadonlyArray<Record<string, unknown>>;
      readonly alsoUpdate?: ReadonlyArray<ConditionalUpdate>;
    } = {},
  ): Promise<T> {
    const setOrRemove = Object.fromEntries((options.remove ?? []).map((field) => [field, undefined]));
    return this.#change(tenant, [{ event, from: tenant.state, to: tenant.state, ...(options.violation ? { violation: options.violation } : {}) }], context, {
      set: options.set,
      setOrRemove,
      condition: options.condition ?? { expression: '#state = :expectedState', values: { ':expectedState': tenant.state } },
      alsoPut: options.alsoPut,
      alsoUpdate: options.alsoUpdate,
    });
  }

  /**
   * Tenants in one state (or every state but `deleted`, in lifecycle order: a deleted tenant is only a tombstone,
   * listed when asked for by `state=deleted`), oldest in that state first. Reads one item past
   * the page, so a page has `nextCursor` exactly when another item follows it (a full last page has none).
   */
  async listByState(state: TenantState | undefined, request: PageRequest = {}): Promise<Page<Tenant>> {
    const limit = pageSize(request.limit);
    const states = state ? [state] : TENANT_STATES.filter((candidate) => candidate !== LIFECYCLE_TABLE.complete_deletion.to);
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
    while (stateIndex < states.length && items.length <= limit) {
      const result = await this.#query({
        IndexName: BY_STATE_INDEX.name,
        KeyConditionExpression: '#state = :state',
        ExpressionAttributeNames: { '#state': BY_STATE_INDEX.partitionKey },
        ExpressionAttributeValues: { ':state': states[stateIndex] },
        ExclusiveStartKey: startKey,
        Limit: limit + 1 - items.length,
      });
      items.push(...result.items.map((item) => pick<Tenant>(item, TENANT_FIELDS)));
      startKey = result.lastKey;
      if (!startKey) stateIndex += 1;
    }
    if (items.length <= limit) return { items };
    const page = items.slice(0, limit);
    const last = page[page.length - 1] as Tenant;
    return { items: page, nextCursor: encodeCursor({ state: last.state, after: { tenantId: last.tenantId, stateChangedAt: last.stateChangedAt } }) };
  }

  /**
   * A tenant's audit trail, newest first. Reads one entry past the page, so a page has `nextCursor` exactly
   * when an older entry follows it.
   */
  async history(tenantId: string, request: PageRequest = {}): Promise<Page<AuditEntry>> {
    let startKey: Record<string, unknown> | undefined;
    if (request.cursor) {
      const { before } = decodeCursor(request.cursor, HISTORY_CURSOR);
      startKey = { pk: tenantPk(tenantId), sk: auditSk(before) };
    }
    return this.#auditPage(
      { KeyConditionExpression: 'pk = :pk AND begins_with(sk, :audit)', ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':audit': AUDIT_SK_PREFIX }, ScanIndexForward: false },
      startKey,
      request,
      (last) => ({ before: last.version }),
    );
  }

  /**
   * One page of audit entries from `query`, from `startKey`: reads one entry past the page, so the page has
   * `nextCursor` (`cursorOf` its last entry) exactly when another entry follows it.
   */
  async #auditPage(
    query: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>,
    startKey: Record<string, unknown> | undefined,
    request: PageRequest,
    cursorOf: (last: AuditEntry) => Record<string, unknown>,
  ): Promise<Page<AuditEntry>> {
    const limit = pageSize(request.limit);
    const items: AuditEntry[] = [];
    let next = startKey;
    do {
      const result = await this.#query({ ...query, ExclusiveStartKey: next, Limit: limit + 1 - items.length });
      items.push(...result.items.map((item) => pick<AuditEntry>(item, AUDIT_FIELDS)));
      next = result.lastKey;
    } while (next && items.length <= limit);
    if (items.length <= limit) return { items };
    const page = items.slice(0, limit);
    return { items: page, nextCursor: encodeCursor(cursorOf(page[page.length - 1] as AuditEntry)) };
  }

  /**
   * Compliance violations of every tenant (audit entries carrying `violation`, from the VIOLATIONS_PARTITION of
   * the byState index), oldest detected first, within `range`. Reads one entry past the page, so a page has
   * `nextCursor` exactly when another follows. InvalidCursorError for a cursor this query did not hand out.
   */
  async listViolations(range: ViolationRange, request: PageRequest = {}): Promise<Page<AuditEntry>> {
    let startKey: Record<string, unknown> | undefined;
    if (request.cursor) {
      const { after } = decodeCursor(request.cursor, VIOLATIONS_CURSOR);
      if ((range.from !== undefined && after.detectedAt < range.from) || (range.to !== undefined && after.detectedAt > range.to)) throw new InvalidCursorError();
      startKey = { pk: tenantPk(after.tenantId), sk: auditSk(after.version), [BY_STATE_INDEX.partitionKey]: VIOLATIONS_PARTITION, [BY_STATE_INDEX.sortKey]: after.detectedAt };
    }
    const bounds =
      range.from !== undefined && range.to !== undefined
        ? { condition: ' AND #detectedAt BETWEEN :from AND :to', values: { ':from': range.from, ':to': range.to } }
        : range.from !== undefined
          ? { condition: ' AND #detectedAt >= :from', values: { ':from': range.from } }
          : range.to !== undefined
            ? { condition: ' AND #detectedAt <= :to', values: { ':to': range.to } }
            : { condition: '', values: {} };
    return this.#auditPage(
      {
        IndexName: BY_STATE_INDEX.name,
        KeyConditionExpression: `#partition = :partition${bounds.condition}`,
        ExpressionAttributeNames: { '#partition': BY_STATE_INDEX.partitionKey, ...(bounds.condition ? { '#detectedAt': BY_STATE_INDEX.sortKey } : {}) },
        ExpressionAttributeValues: { ':partition': VIOLATIONS_PARTITION, ...bounds.values },
      },
      startKey,
      request,
      (last) => ({ after: { tenantId: last.tenantId, version: last.version, detectedAt: (last.violation as ComplianceViolation).detectedAt } }),
    );
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
    // A violation's entry is also listed across tenants, by when it was found (the byState index).
    const listed = audit.violation ? { [BY_STATE_INDEX.partitionKey]: VIOLATIONS_PARTITION, [BY_STATE_INDEX.sortKey]: audit.violation.detectedAt } : {};
    return {
      TableName: this.#tableName,
      Item: { pk: tenantPk(audit.tenantId), sk: auditSk(audit.version), type: AUDIT_ITEM_TYPE, ...audit, ...listed },
      ConditionExpression: 'attribute_not_exists(pk)',
    };
  }

  /**
   * The one way the tenant item changes after its creation: the update (the fields to set, the fields to
   * set or remove, `#version` and `updatedAt`, `stateChangedAt` when the state moves), conditioned on the
   * version that was read and on `condition`, with one audit entry per version it adds and `alsoPut` /
   * `alsoUpdate`, in one TransactWriteItems. A lost condition is explained by #explainConflict.
   */
  async #change<T extends KnownTenant>(
    tenant: T,
    /** One per version; an entry's own `reason` replaces the context's (a window opened with a transition). */
    entries: ReadonlyArray<{ readonly event: AuditEvent; readonly from: TenantState; readonly to: TenantState; readonly violation?: ComplianceViolation; readonly reason?: string }>,
    context: ChangeContext,
    write: {
      readonly set?: Partial<Record<keyof Tenant, unknown>>;
      readonly setOrRemove?: Partial<Record<keyof Tenant, unknown>>;
      readonly condition: { readonly expression: string; readonly values: Record<string, unknown> };
      /** The lifecycle event asked for, if any: what a lost condition is explained against. */
      readonly event?: LifecycleEvent;
      readonly alsoPut?: ReadonlyArray<Record<string, unknown>>;
      readonly alsoUpdate?: ReadonlyArray<ConditionalUpdate>;
      readonly alsoDelete?: TransitionOptions['alsoDelete'];
      /** Also require the usage report the tenant was read with (TransitionOptions.usageAsRead). */
      readonly usageAsRead?: boolean;
    },
  ): Promise<T> {
    const at = this.#now().toISOString();
    const version = tenant.version + entries.length;
    const audits: AuditEntry[] = entries.map(({ reason, ...entry }, i) => ({ tenantId: tenant.tenantId, version: tenant.version + i + 1, at, ...entry, ...context, ...(reason === undefined ? {} : { reason }) }));
    const state = (write.set?.state as TenantState | undefined) ?? tenant.state;
    // stateChangedAt moves with the state only (a write that keeps the state need not know when it last moved).
    const fields: Record<string, unknown> = { ...write.set, version, updatedAt: at, ...(state !== tenant.state ? { stateChangedAt: at } : {}) };
    const removed: string[] = [];
    for (const [field, value] of Object.entries(write.setOrRemove ?? {})) {
      if (value === undefined) removed.push(field);
      else fields[field] = value;
    }
    const names: Record<string, string> = { '#version': 'version', ...(write.condition.expression.includes('#state') ? { '#state': 'state' } : {}) };
    const values: Record<string, unknown> = { ...write.condition.values, ':expectedVersion': tenant.version };
    let usageCondition = '';
    if (write.usageAsRead) {
      names['#usageMeasuredAt'] = 'usageMeasuredAt';
      if (tenant.usageMeasuredAt === undefined) usageCondition = ' AND attribute_not_exists(#usageMeasuredAt)';
      else {
        values[':usageMeasuredAt'] = tenant.usageMeasuredAt;
        usageCondition = ' AND #usageMeasuredAt = :usageMeasuredAt';
      }
    }
    const sets = Object.entries(fields).map(([field, value], i) => {
      names[`#s${i}`] = field;
      values[`:s${i}`] = value;
      return `#s${i} = :s${i}`;
    });
    const removes = removed.map((field, i) => {
      names[`#r${i}`] = field;
      return `#r${i}`;
    });
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.#tableName,
                Key: { pk: tenantPk(tenant.tenantId), sk: TENANT_SK },
                UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
                ConditionExpression: `#version = :expectedVersion AND ${write.condition.expression}${usageCondition}`,
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            ...audits.map((audit) => ({ Put: this.#auditPut(audit) })),
            ...(write.alsoPut ?? []).map((item) => this.#putNew(item)),
            ...(write.alsoUpdate ?? []).map(({ onCommitted: _, ...update }) => ({ Update: { TableName: this.#tableName, ...update } })),
            ...(write.alsoDelete ?? []).map((key) => ({ Delete: { TableName: this.#tableName, Key: { pk: key.pk, sk: key.sk }, ConditionExpression: 'attribute_exists(pk)' } })),
          ],
        }),
      );
    } catch (error) {
      throw this.#explainConflict(error, tenant, context, write.event);
    }
    for (const entry of entries) {
      countTransition(entry);
      if (entry.violation) countViolation(entry.violation);
    }
    await Promise.all((write.alsoUpdate ?? []).map((update) => update.onCommitted?.()));
    const next: Record<string, unknown> = { ...tenant, ...fields };
    for (const field of removed) delete next[field];
    return next as unknown as T;
  }

  /** The refusal for an operation that does not own the tenant (any more). */
  #notOwner(tenant: KnownTenant): OperationOwnershipError {
    return new OperationOwnershipError(tenant.tenantId, tenant.state, tenant.operationId ?? 'none');
  }

  /**
   * Turn a cancelled transaction into the domain error that says what the caller lost to: the tenant is gone,
   * or the refusal of tenant-rules.ts for the tenant the winner left (read from the failed condition's ALL_OLD
   * item, not a second read): another operation owns it, the winner moved it where `event` is not allowed,
   * the winner scheduled a plan change first; else it just changed since it was read.
   */
  #explainConflict(error: unknown, tenant: KnownTenant, context: ChangeContext, event?: LifecycleEvent): unknown {
    if (!(error instanceof TransactionCanceledException)) return error;
    const reason = error.CancellationReasons?.[0];
    if (reason?.Code !== 'ConditionalCheckFailed') return error;
    if (!reason.Item) return new TenantNotFoundError(tenant.tenantId);
    const current = pick<Tenant>(unmarshall(reason.Item as Record<string, AttributeValue>), TENANT_FIELDS);
    if (event) {
      const refusal = refusalOf(current, event, context.operationId);
      if (refusal) return refusal;
    } else {
      const owner = ownerRefusal(current, context.operationId);
      if (owner) return owner;
    }
    if (current.version === tenant.version && current.usageMeasuredAt !== tenant.usageMeasuredAt) {
      return new VersionConflictError(tenant.tenantId, tenant.version, current.version, current.state, `its usage was reported again (measured at ${current.usageMeasuredAt ?? 'unknown'}) after it was read`);
    }
    return new VersionConflictError(tenant.tenantId, tenant.version, current.version, current.state);
  }
}
