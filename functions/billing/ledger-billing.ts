/**
 * The local billing adapter, used when no Stripe key is configured: it bills nobody and records in the lifecycle
 * table what would have been billed, so plan changes run end to end locally and tests can assert "charged once",
 * "reversed", "nothing charged". Items live in the tenant's partition:
 *   pk=TENANT#<id>  sk=LEDGER#<operationId>#<kind>
 * Each entry is written with a conditional put, so applying or reverting the same operation twice writes it once.
 * Prices are local (USD, monthly); the billing period is the calendar month (UTC) of the clock; a change made
 * now is prorated by the part of the month that is left.
 */
import * as clock from '../shared/clock';
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PlanId } from '../plans/plan-catalog';
import { tenantPk } from '../tenants/tenant-table';
import {
  BillingRejectedError,
  BillingTransientError,
  type BillingChange,
  type BillingInvoice,
  type BillingPort,
  type InvoiceListRequest,
  type InvoicePage,
  type BillingPreview,
  type PlanChangeDirection,
  type PlanChangeRequest,
  type PlanChangeTiming,
  type BillingAccount,
  type CustomerLifecycleRequest,
  type SubscriptionCancellation,
  type NewCustomerRequest,
  type SubscriptionLookup,
  type SubscriptionState,
  isSubscriptionStatus,
  subscriptionHasEnded,
} from './billing-port';
import { subscriptionLinkKey } from './subscription-links';

/** Monthly list prices of the local ledger, in cents (USD). */
export const LOCAL_MONTHLY_PRICES: Readonly<Record<PlanId, number>> = { free: 0, starter: 2900, professional: 9900, enterprise: 49900 };
export const LEDGER_CURRENCY = 'usd';
export const LEDGER_SK_PREFIX = 'LEDGER#';

export const LEDGER_ENTRY_KINDS = [
  'charge', 'credit', 'schedule', 'reversal', 'schedule_cancelled', 'subscription_cancelled', 'subscription_restored', 'customer_deleted', 'customer_created',
] as const;
/**
 * charge: an upgrade's proration, invoiced now. credit: an immediate downgrade's proration, owed back on the next
 * invoice. schedule: a period-end change (nothing owed now). reversal: undoes a charge or credit.
 * schedule_cancelled: undoes a schedule. The customer lifecycle (deletion): subscription_cancelled (soft delete:
 * billing stops), subscription_restored (the soft delete was cancelled: billing again on the plan),
 * customer_deleted (hard delete), customer_created (the tenant was created: its local customer and subscription,
 * see LedgerBilling.createCustomer). Lifecycle entries carry the plan as both fromPlan and toPlan, no direction or
 * timing, amount 0, and the customer and subscription they are about (when the tenant has an account); like every
 * entry they are billing history, kept by law after a hard delete.
 *
 * A tenant may have several customers over its life, as on Stripe: one hard-deleted, a new one made when the tenant
 * is reactivated. So the lifecycle is decided per customer and per subscription id (what Stripe would be asked),
 * never per tenant: a deleted customer does not make the next one undeletable, nor does the old subscription's
 * cancellation make the new one's look cancelled.
 */
export type LedgerEntryKind = (typeof LEDGER_ENTRY_KINDS)[number];

export interface LedgerEntry {
  readonly tenantId: string;
  readonly operationId: string;
  readonly kind: LedgerEntryKind;
  /** Signed cents this entry adds to the tenant's balance: charges positive, credits negative, reversals the opposite of what they undo. */
  readonly amount: number;
  readonly currency: string;
  readonly description: string;
  readonly fromPlan: PlanId;
  readonly toPlan: PlanId;
  /** Plan-change entries only. */
  readonly direction?: PlanChangeDirection;
  readonly timing?: PlanChangeTiming;
  /** When the new price applies (ISO 8601). */
  readonly effectiveAt: string;
  readonly recordedAt: string;
  readonly periodStart: string;
  readonly periodEnd: string;
  /** For reversal and schedule_cancelled: the kind of the entry undone. */
  readonly reverses?: LedgerEntryKind;
  /** Lifecycle entries: the customer they are about (created, deleted; the subscription's customer). */
  readonly customerId?: string;
  /** Lifecycle entries: the subscription they are about (cancelled; the new one, restored or created). */
  readonly subscriptionId?: string;
}

export interface LedgerBillingOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Injected for tests; defaults to the clock (functions/shared/clock.ts: the wall clock when deployed). */
  readonly now?: () => Date;
}

export interface BillingPeriod {
  readonly start: Date;
  readonly end: Date;
}

/** The calendar month (UTC) that contains `now`: the local ledger's billing period. */
export function calendarMonth(now: Date): BillingPeriod {
  return {
    start: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
    end: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)),
  };
}

/** Round to whole cents, halves away from zero (Math.round rounds -0.5 up to 0). */
function roundCents(value: number): number {
  return Math.sign(value) * Math.round(Math.abs(value));
}

export interface Proration {
  /** Signed cents: positive is owed by the tenant, negative owed to it. */
  readonly amount: number;
  /** The part of the billing period still to run, 0..1. */
  readonly remaining: number;
  readonly period: BillingPeriod;
}

/** (new − old monthly price) × the part of the month left at `now`, rounded to cents. */
export function prorate(fromPlan: PlanId, toPlan: PlanId, now: Date): Proration {
  const period = calendarMonth(now);
  const remaining = (period.end.getTime() - now.getTime()) / (period.end.getTime() - period.start.getTime());
  const amount = roundCents((LOCAL_MONTHLY_PRICES[toPlan] - LOCAL_MONTHLY_PRICES[fromPlan]) * remaining);
  return { amount: amount === 0 ? 0 : amount, remaining, period };
}

/**
 * The ledger's customer, subscription and item ids of a tenant, derived from its id so every run of the local
 * stack gives the same ones: `cus_local_<id>`, `sub_local_<id>`, `si_local_<id>`, the id's hyphens as
 * underscores (Stripe ids are letters, digits and underscores; tenant ids have no underscore, so no two collide).
 */
export function localBillingAccount(tenantId: string): BillingAccount {
  const suffix = `local_${tenantId.replace(/-/g, '_')}`;
  return { customerId: `cus_${suffix}`, subscriptionId: `sub_${suffix}`, subscriptionItemId: `si_${suffix}` };
}

export function ledgerSk(operationId: string, kind: LedgerEntryKind): string {
  return `${LEDGER_SK_PREFIX}${operationId}#${kind}`;
}

const ENTRY_FIELDS = [
  'tenantId', 'operationId', 'kind', 'amount', 'currency', 'description', 'fromPlan', 'toPlan', 'direction', 'timing', 'effectiveAt', 'recordedAt', 'periodStart', 'periodEnd', 'reverses', 'customerId', 'subscriptionId',
] as const;

function toEntry(item: Record<string, unknown>): LedgerEntry {
  const out: Record<string, unknown> = {};
  for (const field of ENTRY_FIELDS) if (item[field] !== undefined) out[field] = item[field];
  return out as unknown as LedgerEntry;
}

/** A ledger entry as billing history shows it: nothing was charged, so it is `recorded`, never `paid`. */
function invoiceOf(entry: LedgerEntry): BillingInvoice {
  return {
    id: ledgerSk(entry.operationId, entry.kind).slice(LEDGER_SK_PREFIX.length),
    number: null,
    status: 'recorded',
    currency: entry.currency,
    total: entry.amount,
    amountDue: Math.max(entry.amount, 0),
    amountPaid: 0,
    created: entry.recordedAt,
    periodStart: entry.periodStart,
    periodEnd: entry.periodEnd,
    description: entry.description,
    lines: [{ description: entry.description, amount: entry.amount }],
    linesComplete: true,
    hostedInvoiceUrl: null,
  };
}

/** Throttling and server faults of DynamoDB are worth a retry of the workflow step; the rest are ours. */
function transientOr(error: unknown): unknown {
  const fault = error as { $fault?: string; $retryable?: unknown; name?: string; message?: string };
  if (fault && (fault.$fault === 'server' || fault.$retryable)) {
    return new BillingTransientError(`The billing ledger is unavailable: ${fault.name ?? 'Error'}: ${fault.message ?? ''}`, { cause: error });
  }
  return error;
}

function changeFrom(entry: LedgerEntry): BillingChange {
  return {
    kind: entry.kind === 'schedule' ? 'schedule_created' : 'subscription_updated',
    effectiveAt: entry.effectiveAt,
    amountInvoiced: entry.kind === 'charge' ? entry.amount : 0,
    currency: entry.currency,
    references: { ledgerEntry: ledgerSk(entry.operationId, entry.kind), ledgerKind: entry.kind },
  };
}

export class LedgerBilling implements BillingPort {
  readonly name = 'local-ledger' as const;
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;

  constructor(options: LedgerBillingOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? clock.now;
  }

  /** The local estimate of what the change would cost; writes nothing. */
  async previewPlanChange(request: PlanChangeRequest): Promise<BillingPreview> {
    const now = this.#now();
    if (request.fromPlan === request.toPlan) return { source: 'local-estimate', currency: LEDGER_CURRENCY, amountDueNow: 0, effectiveAt: now.toISOString(), lines: [] };
    const entry = this.#plannedEntry(request, now);
    return {
      source: 'local-estimate',
      currency: LEDGER_CURRENCY,
      amountDueNow: entry.kind === 'charge' ? Math.max(entry.amount, 0) : 0,
      effectiveAt: entry.effectiveAt,
      lines: [{ description: entry.description, amount: entry.amount }],
    };
  }

  /** Record the charge, credit or schedule of the change, once per operation. */
  async applyPlanChange(request: PlanChangeRequest): Promise<BillingChange> {
    if (request.fromPlan === request.toPlan) {
      return { kind: 'no_change', effectiveAt: this.#now().toISOString(), amountInvoiced: 0, currency: LEDGER_CURRENCY, references: {} };
    }
    const planned = this.#plannedEntry(request, this.#now());
    if (await this.#putOnce(planned)) return changeFrom(planned);
    // A retry: answer with what the first attempt recorded (its clock, its amount), if it was the same change.
    const recorded = await this.#get(request.tenantId, ledgerSk(request.operationId, planned.kind));
    if (!recorded || recorded.fromPlan !== request.fromPlan || recorded.toPlan !== request.toPlan || recorded.timing !== request.timing) {
      throw new BillingRejectedError(
        `Operation ${request.operationId} already recorded a different billing change for tenant '${request.tenantId}'; refusing to record ${request.fromPlan} → ${request.toPlan} under the same operation.`,
      );
    }
    return changeFrom(recorded);
  }

  /** The change recorded for the operation, read back; `undefined` when nothing was recorded or it was reverted. */
  async findAppliedChange(request: PlanChangeRequest): Promise<BillingChange | undefined> {
    if (request.fromPlan === request.toPlan) return undefined;
    const planned = this.#plannedEntry(request, this.#now());
    const recorded = await this.#get(request.tenantId, ledgerSk(request.operationId, planned.kind));
    if (!recorded) return undefined;
    const reversed = await this.#get(request.tenantId, ledgerSk(request.operationId, recorded.kind === 'schedule' ? 'schedule_cancelled' : 'reversal'));
    return reversed ? undefined : changeFrom(recorded);
  }

  /** Record a reversal (or a cancelled schedule) for the change; a second revert, or one of nothing, is a no-op. */
  async revertPlanChange(request: PlanChangeRequest, change: BillingChange): Promise<void> {
    if (change.kind === 'no_change') return;
    const sk = change.references.ledgerEntry ?? ledgerSk(request.operationId, change.kind === 'schedule_created' ? 'schedule' : request.direction === 'upgrade' ? 'charge' : 'credit');
    const original = await this.#get(request.tenantId, sk);
    if (!original) return; // nothing was recorded, so nothing was billed
    const kind: LedgerEntryKind = original.kind === 'schedule' ? 'schedule_cancelled' : 'reversal';
    const undo = original.kind === 'schedule' ? 'Cancelled the scheduled change' : original.kind === 'charge' ? 'Refunded the charge' : 'Took back the credit';
    await this.#putOnce({
      ...original,
      kind,
      reverses: original.kind,
      amount: original.amount === 0 ? 0 : -original.amount,
      description: `${undo}: plan change ${original.fromPlan} → ${original.toPlan} rolled back`,
      recordedAt: this.#now().toISOString(),
    });
  }

  /** Every ledger entry of the tenant, in the order recorded. */
  async ledgerEntries(tenantId: string): Promise<LedgerEntry[]> {
    const entries: LedgerEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.#client.send(
          new QueryCommand({
            TableName: this.#tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ledger)',
            ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':ledger': LEDGER_SK_PREFIX },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        entries.push(...(page.Items ?? []).map(toEntry));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    } catch (error) {
      throw transientOr(error);
    }
    return entries.sort((a, b) => a.recordedAt.localeCompare(b.recordedAt));
  }

  /**
   * The ledger as billing history: one "invoice" per entry (status `recorded`, nothing was charged), in sort key
   * order (operation id, then kind), `limit` at a time after the entry id `startingAfter`.
   */
  async listInvoices(request: InvoiceListRequest): Promise<InvoicePage> {
    try {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ledger)',
          ExpressionAttributeValues: { ':pk': tenantPk(request.tenantId), ':ledger': LEDGER_SK_PREFIX },
          ConsistentRead: true,
          Limit: request.limit,
          ...(request.startingAfter ? { ExclusiveStartKey: { pk: tenantPk(request.tenantId), sk: `${LEDGER_SK_PREFIX}${request.startingAfter}` } } : {}),
        }),
      );
      // LastEvaluatedKey may come with a full last page and nothing after it: that last, empty page is allowed.
      return { invoices: (page.Items ?? []).map((item) => invoiceOf(toEntry(item))), hasMore: page.LastEvaluatedKey !== undefined };
    } catch (error) {
      throw transientOr(error);
    }
  }

  /** What the tenant owes from plan changes, in cents: charges minus credits and reversals. */
  async balance(tenantId: string): Promise<number> {
    const entries = await this.ledgerEntries(tenantId);
    return entries.reduce((sum, entry) => sum + entry.amount, 0);
  }

  #plannedEntry(request: PlanChangeRequest, now: Date): LedgerEntry {
    const { amount, remaining, period } = prorate(request.fromPlan, request.toPlan, now);
    const common = {
      tenantId: request.tenantId,
      operationId: request.operationId,
      currency: LEDGER_CURRENCY,
      fromPlan: request.fromPlan,
      toPlan: request.toPlan,
      direction: request.direction,
      timing: request.timing,
      recordedAt: now.toISOString(),
      periodStart: period.start.toISOString(),
      periodEnd: period.end.toISOString(),
    };
    const month = period.start.toISOString().slice(0, 7);
    if (request.timing === 'period_end') {
      return { ...common, kind: 'schedule', amount: 0, effectiveAt: common.periodEnd, description: `${request.fromPlan} → ${request.toPlan} from ${common.periodEnd.slice(0, 10)}, nothing due now` };
    }
    const percent = (remaining * 100).toFixed(2);
    return {
      ...common,
      kind: request.direction === 'upgrade' ? 'charge' : 'credit',
      amount,
      effectiveAt: now.toISOString(),
      description: `Proration ${request.fromPlan} → ${request.toPlan} for the ${percent}% of ${month} left`,
    };
  }

  /** Put the entry unless it exists; false when it did (a retry or a repeated revert). */
  async #putOnce(entry: LedgerEntry): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { pk: tenantPk(entry.tenantId), sk: ledgerSk(entry.operationId, entry.kind), type: 'ledger', ...entry },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw transientOr(error);
    }
  }

  async #get(tenantId: string, sk: string): Promise<LedgerEntry | undefined> {
    try {
      const { Item } = await this.#client.send(new GetCommand({ TableName: this.#tableName, Key: { pk: tenantPk(tenantId), sk }, ConsistentRead: true }));
      return Item ? toEntry(Item) : undefined;
    } catch (error) {
      throw transientOr(error);
    }
  }

  /**
   * Record that billing stopped (soft delete, or a reactivation's subscription taken back): a
   * `subscription_cancelled` entry for `request.account`'s subscription under `request.idempotencyKey`.
   * `cancelled: false` when that subscription has ended already (as Stripe answers for a canceled one); a retry
   * with the same key answers what the first call recorded. Without an account, the tenant's billing as a whole.
   */
  async cancelSubscription(request: CustomerLifecycleRequest): Promise<SubscriptionCancellation> {
    const entry = this.#lifecycleEntry(request, 'subscription_cancelled', `Subscription ${request.account?.subscriptionId ?? 'of the tenant'} on ${request.plan} cancelled (${request.idempotencyKey})`, request.account);
    const references = { ledgerEntry: ledgerSk(request.idempotencyKey, entry.kind), ledgerKind: entry.kind };
    if (await this.#get(request.tenantId, references.ledgerEntry)) return { cancelled: true, references };
    if (await this.#subscriptionEnded(request.tenantId, request.account)) return { cancelled: false, references: {} };
    await this.#putOnce(entry);
    return { cancelled: true, references };
  }

  /**
   * Bill the tenant again on `request.plan` (a cancelled soft delete, a reactivation). As Stripe does, an ended
   * subscription is not revived: when `request.account`'s subscription has ended (cancelled here, its customer
   * deleted, or reported canceled by an event), a `subscription_restored` entry records a new one, whose id derives
   * from the request's idempotency key (a retry answers the same), so an event about the old one no longer reaches
   * the tenant. A subscription still live: the account as it is, nothing recorded.
   */
  async restoreSubscription(request: CustomerLifecycleRequest): Promise<BillingAccount | undefined> {
    if (!(await this.#subscriptionEnded(request.tenantId, request.account))) return request.account;
    const account = request.account && this.#derivedAccount(request.tenantId, request.idempotencyKey, 'r', request.account.customerId);
    await this.#putOnce(this.#lifecycleEntry(request, 'subscription_restored', `Subscription ${account?.subscriptionId ?? 'of the tenant'} on ${request.plan}: billing again (${request.idempotencyKey})`, account));
    return account;
  }

  /**
   * Record the deletion of `request.account`'s customer (hard delete, or a reactivation's new customer taken back);
   * `deleted: false` when that customer's deletion is already recorded. Without an account, the tenant's customer.
   */
  async deleteCustomer(request: CustomerLifecycleRequest): Promise<{ readonly deleted: boolean }> {
    const customerId = request.account?.customerId;
    const entries = await this.ledgerEntries(request.tenantId);
    // Entries from before they named their customer were about the tenant's first (then only) one.
    const first = localBillingAccount(request.tenantId).customerId;
    const gone = entries.some((entry) => entry.kind === 'customer_deleted' && (entry.customerId ?? first) === (customerId ?? first));
    if (gone) return { deleted: false };
    return { deleted: await this.#putOnce(this.#lifecycleEntry(request, 'customer_deleted', `Billing customer ${customerId ?? 'of the tenant'} deleted (${request.idempotencyKey})`, request.account)) };
  }

  #lifecycleEntry(request: Pick<CustomerLifecycleRequest, 'tenantId' | 'plan' | 'idempotencyKey'>, kind: LedgerEntryKind, description: string, account?: BillingAccount): LedgerEntry {
    const now = this.#now();
    const period = calendarMonth(now);
    const at = now.toISOString();
    return {
      tenantId: request.tenantId,
      operationId: request.idempotencyKey,
      kind,
      amount: 0,
      currency: LEDGER_CURRENCY,
      description,
      fromPlan: request.plan,
      toPlan: request.plan,
      effectiveAt: at,
      recordedAt: at,
      periodStart: period.start.toISOString(),
      periodEnd: period.end.toISOString(),
      ...(account ? { customerId: account.customerId, subscriptionId: account.subscriptionId } : {}),
    };
  }

  /** A new subscription (`r`) or customer (`c`) of the tenant, its ids derived from `key` (the same for a retry). */
  #derivedAccount(tenantId: string, key: string, kind: 'r' | 'c', customerId?: string): BillingAccount {
    const suffix = `${kind}${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
    const base = localBillingAccount(tenantId);
    return { customerId: customerId ?? `${base.customerId}_${suffix}`, subscriptionId: `${base.subscriptionId}_${suffix}`, subscriptionItemId: `${base.subscriptionItemId}_${suffix}` };
  }

  /**
   * Whether `account`'s subscription has ended: a subscription_cancelled entry names it, its customer's deletion is
   * recorded, or an event reported it canceled (its link item, see retrieveSubscription). Without an account (a
   * tenant the ledger never gave one), the tenant's billing: stopped when it has more subscription_cancelled than
   * subscription_restored entries of no subscription (each is recorded only when it changes that, so they
   * alternate; counted rather than ordered, as two may share a millisecond).
   */
  async #subscriptionEnded(tenantId: string, account: BillingAccount | undefined): Promise<boolean> {
    const entries = await this.ledgerEntries(tenantId);
    if (!account) {
      const count = (kind: LedgerEntryKind) => entries.filter((entry) => entry.kind === kind && entry.subscriptionId === undefined).length;
      return count('subscription_cancelled') > count('subscription_restored');
    }
    const first = localBillingAccount(tenantId);
    if (entries.some((entry) => entry.kind === 'subscription_cancelled' && (entry.subscriptionId ?? first.subscriptionId) === account.subscriptionId)) return true;
    if (entries.some((entry) => entry.kind === 'customer_deleted' && (entry.customerId ?? first.customerId) === account.customerId)) return true;
    const reported = await this.retrieveSubscription({ tenantId, account });
    return reported !== undefined && subscriptionHasEnded(reported.status);
  }

  /**
   * The local stand-in of a Stripe customer and subscription, so a local tenant is linked like one on Stripe (its
   * subscription link item, events and retrieveSubscription find it). Every plan gets one, free included: the
   * ledger prices every plan (LOCAL_MONTHLY_PRICES, free at 0), as Stripe does a plan given a $0 price. The
   * tenant's first customer has ids derived from the tenant id ({@link localBillingAccount}); a later one (a deleted
   * tenant reactivated) gets new ids, as Stripe would, derived from `request.idempotencyKey`, so events about the
   * old subscription never reach the new one. A `customer_created` entry (amount 0, naming the account) is recorded
   * once under `request.idempotencyKey`: a retried create answers the same account and records nothing more. With
   * `request.link` the given ids are the account (the ledger has no Stripe to check them against; a missing item id
   * gets a local one), recorded the same way.
   */
  async createCustomer(request: NewCustomerRequest): Promise<BillingAccount | undefined> {
    const local = localBillingAccount(request.tenantId);
    const link = request.link;
    const recorded = await this.#get(request.tenantId, ledgerSk(request.idempotencyKey, 'customer_created'));
    let account: BillingAccount;
    if (link) account = { customerId: link.customerId, subscriptionId: link.subscriptionId ?? local.subscriptionId, subscriptionItemId: link.subscriptionItemId ?? local.subscriptionItemId };
    else if (recorded) account = recorded.customerId && recorded.customerId !== local.customerId ? this.#derivedAccount(request.tenantId, request.idempotencyKey, 'c') : local;
    else {
      const earlier = (await this.ledgerEntries(request.tenantId)).some((entry) => entry.kind === 'customer_created' || entry.kind === 'customer_deleted');
      account = earlier ? this.#derivedAccount(request.tenantId, request.idempotencyKey, 'c') : local;
    }
    if (recorded) return account;
    const entry = this.#lifecycleEntry(
      { tenantId: request.tenantId, plan: request.plan, idempotencyKey: request.idempotencyKey },
      'customer_created',
      `${link ? 'Linked' : 'Created'} billing customer ${account.customerId}, subscription ${account.subscriptionId} on ${request.plan}`,
      account,
    );
    if (await this.#putOnce(entry)) return account;
    // A concurrent create under the same key won: answer its account.
    return this.createCustomer(request);
  }

  /**
   * The ledger has no payment processor: a subscription's status is what the newest event reported (kept on
   * its link item, see subscription-links.ts), `active` until one does. With `reported`, it is recorded unless a
   * newer report (`changedAt`) is already there; the answer is the status as recorded after that. Undefined when
   * no tenant is linked to the subscription.
   */
  async retrieveSubscription(request: SubscriptionLookup): Promise<SubscriptionState | undefined> {
    const { account, reported } = request;
    const Key = subscriptionLinkKey(account.subscriptionId);
    if (reported) {
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key,
            UpdateExpression: 'SET ledgerStatus = :status, ledgerStatusChangedAt = :changedAt',
            // Newer reports only, and, as in Stripe, a canceled (or expired) subscription stays so: a later `paid` cannot revive it.
            ConditionExpression:
              'attribute_exists(pk) AND (attribute_not_exists(ledgerStatusChangedAt) OR ledgerStatusChangedAt <= :changedAt) AND (attribute_not_exists(ledgerStatus) OR NOT ledgerStatus IN (:canceled, :expired))',
            ExpressionAttributeValues: { ':status': reported.status, ':changedAt': reported.changedAt ?? 0, ':canceled': 'canceled', ':expired': 'incomplete_expired' },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    const { Item } = await this.#client.send(new GetCommand({ TableName: this.#tableName, Key, ConsistentRead: true }));
    if (!Item) return undefined;
    const status = typeof Item.ledgerStatus === 'string' && isSubscriptionStatus(Item.ledgerStatus) ? Item.ledgerStatus : 'active';
    return { subscriptionId: account.subscriptionId, customerId: account.customerId, status, ...(typeof Item.ledgerStatusChangedAt === 'number' ? { changedAt: Item.ledgerStatusChangedAt } : {}) };
  }
}
