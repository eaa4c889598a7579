/**
 * The one processor of Stripe events, whichever way they arrive: the webhook (`POST /webhooks/stripe`, after its
 * signature check) and the Amazon EventBridge partner event bus (Stripe event destinations) both hand it the
 * event object; the ladder's timer and the reconciliation sweep hand it what they read (`applyBillingFact`, the
 * same code path without an event). It:
 * - deduplicates deliveries on the event id with Powertools' idempotency utility (functions/shared/idempotency.ts):
 *   the first delivery claims the id and stores its outcome; a redelivery gets that outcome back as `duplicate`
 *   and acts no more; a concurrent one, while the first still runs, gets StripeEventInProgressError (the webhook
 *   answers 409, so Stripe delivers it again; EventBridge's invocation is retried). The record is the tenant's
 *   (`IDEMPOTENCY#<tenantId>`, functions/dunning/stripe-event-records.ts), kept EVENT_DEDUPLICATION_SECONDS (30
 *   days, DynamoDB TTL `expiresAt`): longer than Stripe's automatic retries (up to 3 days in live mode,
 *   https://docs.stripe.com/webhooks#retries) and than the 30 days Stripe keeps events
 *   (https://docs.stripe.com/api/events), the longest an operator can resend one from the Dashboard or
 *   `stripe events resend`;
 * - finds the tenant from the subscription in one read (the subscription → tenant link of the billing customer);
 * - ignores an event older than the last one applied to that subscription: a watermark (`created`, then the
 *   event id for ties) on the link item, moved by a conditional update in the same transaction as the event's
 *   effect. It is there for the order of events; it also keeps the effect exactly once where the delivery record
 *   cannot (a first delivery that committed its effect but died before storing its outcome leaves its claim to
 *   lapse; the retry then finds the watermark at this very event: `duplicate`, nothing applied again);
 * - reads the subscription's current state through the billing port (thin events work too) and applies the
 *   dunning ladder (dunning-policy.ts), the event's id and type in the audit item of any transition it causes.
 */
import { EVENT_DEDUPLICATION_SECONDS, STRIPE_EVENT_RECORD_KIND } from './stripe-event-records';
import { randomUUID } from 'node:crypto';
import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isSubscriptionStatus, type BillingAccount, type SubscriptionState, type SubscriptionStatus } from '../billing/billing-port';
import { findTenantBySubscription, subscriptionLinkKey, type SubscriptionLink } from '../billing/subscription-links';
import { initiateDeletion } from '../deletion/soft-delete';
import { LifecycleError } from '../lifecycle/errors';
import type { TenantState } from '../lifecycle/lifecycle-table';
import type { PlanChangeDependencies } from '../plan-change/plan-change-steps';
import { getDocumentClient } from '../shared/aws-clients';
import * as clock from '../shared/clock';
import { config } from '../shared/config';
import { runIdempotent } from '../shared/idempotency';
import { logger } from '../shared/powertools';
import { TenantNotFoundError, TenantStoreError } from '../tenants/errors';
import { CHANGE_EVENTS, type ChangeContext, type ConditionalUpdate, type Tenant } from '../tenants/tenant-store';
import { TENANT_SK, tenantPk } from '../tenants/tenant-table';
import { workflowPorts } from '../workflows/ports';
import { StripeEventInProgressError } from './stripe-event-delivery';
import { decide, pendingTimerAt, timerAt, type DunningAction, type DunningCause, type DunningChannel, type DunningPolicy } from './dunning-policy';
import { DUNNING_TIMER_TARGET, dunningTimerName } from './dunning-definition';

/** How an event reached the processor. */
export type StripeEventChannel = 'webhook' | 'eventbridge' | 'reconcile';

/**
 * The fields of a Stripe Event object (https://docs.stripe.com/api/events/object) the processor reads; the rest
 * is kept as it came. A "thin" event may lack `data.object`'s details: the processor reads the subscription.
 */
export interface StripeEventEnvelope {
  readonly id: string;
  readonly type: string;
  /** Seconds since the epoch (Stripe's `created`). */
  readonly created: number;
  readonly api_version?: string | null;
  readonly livemode?: boolean;
  readonly data?: { readonly object?: Readonly<Record<string, unknown>> };
  /**
   * A thin event's reference to the object it is about (Stripe event destinations' thin payloads,
   * https://docs.stripe.com/event-destinations#thin-events), instead of `data.object`.
   */
  readonly related_object?: { readonly id: string; readonly type: string; readonly url?: string } | null;
}

/** What the processor did with one event (logged, counted, and answered by the reconcile route). */
export type StripeEventOutcome =
  | { readonly result: 'applied'; readonly tenantId: string; readonly action: string; readonly tenantVersion: number; readonly from?: TenantState; readonly to?: TenantState }
  | { readonly result: 'no_change'; readonly tenantId: string; readonly reason: string }
  | { readonly result: 'duplicate'; readonly reason: string }
  | { readonly result: 'stale'; readonly tenantId: string; readonly reason: string }
  | { readonly result: 'ignored'; readonly reason: string };

export interface StripeEventDelivery {
  readonly channel: StripeEventChannel;
}

/** What the processor works with: the workflow ports (tenant store, billing, scheduler, clock), the table, the policy. */
export interface DunningDependencies {
  readonly ports: PlanChangeDependencies;
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly policy: DunningPolicy;
}

export { EVENT_DEDUPLICATION_SECONDS } from './stripe-event-records';

/** A reference Stripe may send as an id or, expanded, as the object. */
const reference = z.union([z.string().min(1), z.looseObject({ id: z.string().min(1) })]).transform((value) => (typeof value === 'string' ? value : value.id));

/** Stripe's envelope; anything else in it is kept. `data.object` may be partial (a thin event). */
const envelopeSchema = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  // Seconds since the epoch (snapshot events); thin events carry an ISO 8601 timestamp, read as whole seconds.
  created: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true }).transform((iso) => Math.floor(Date.parse(iso) / 1000))]),
  data: z.looseObject({ object: z.record(z.string(), z.unknown()).optional() }).optional(),
  related_object: z.looseObject({ id: z.string().min(1), type: z.string() }).nullish(),
});

const subscriptionObject = z.looseObject({ id: reference, status: z.string().optional() });
/**
 * An invoice names its subscription under `parent.subscription_details.subscription` from API version
 * 2025-03-31.basil (https://docs.stripe.com/changelog/basil/2025-03-31/adds-new-parent-field-to-invoicing-objects),
 * at the top level (`subscription`) before.
 */
const invoiceObject = z.looseObject({
  parent: z.looseObject({ subscription_details: z.looseObject({ subscription: reference.nullish() }).nullish() }).nullish(),
  subscription: reference.nullish(),
});

/** The invoice events of the ladder, and the subscription status each implies (for the ledger, which has no truth of its own). */
const INVOICE_EVENTS: Readonly<Record<string, SubscriptionStatus>> = {
  'invoice.payment_failed': 'past_due',
  'invoice.paid': 'active',
  'invoice.payment_succeeded': 'active',
};
const SUBSCRIPTION_EVENT_PREFIX = 'customer.subscription.';

/** The subscription an event is about, and the status it reports (if it says); undefined for events the ladder does not read. */
export function subscriptionOfEvent(event: StripeEventEnvelope): { readonly subscriptionId?: string; readonly status?: SubscriptionStatus } | undefined {
  // A thin event names the object it is about in `related_object`; only a subscription names a subscription (a thin
  // invoice event names the invoice: no subscription found, ignored, and the reconciliation catches its effect).
  const related = event.related_object?.type === 'subscription' ? { id: event.related_object.id } : {};
  const object = event.data?.object ?? related;
  if (event.type.startsWith(SUBSCRIPTION_EVENT_PREFIX)) {
    const parsed = subscriptionObject.safeParse(object);
    if (!parsed.success) return {};
    const status = parsed.data.status;
    const reported = status !== undefined && isSubscriptionStatus(status) ? status : event.type === 'customer.subscription.deleted' ? 'canceled' : undefined;
    return { subscriptionId: parsed.data.id, ...(reported ? { status: reported } : {}) };
  }
  const implied = INVOICE_EVENTS[event.type];
  if (implied === undefined) return undefined;
  const parsed = invoiceObject.safeParse(object);
  if (!parsed.success) return { status: implied };
  const subscriptionId = parsed.data.parent?.subscription_details?.subscription ?? parsed.data.subscription ?? undefined;
  return { ...(subscriptionId ? { subscriptionId } : {}), status: implied };
}

/** A Stripe event's facts, or a timer's or reconciliation's (no event), for `applyBillingFact`. */
export interface BillingFact {
  readonly link: SubscriptionLink;
  readonly cause: DunningCause;
  /** What the event reported (its object's status, at its `created`): the ledger records it. */
  readonly reported?: SubscriptionState;
  /** The event, when there is one: watermarked in the same transaction as its effect. */
  readonly event?: { readonly id: string; readonly type: string; readonly created: number };
}

/** Who the audit item names for each channel. */
const ACTORS: Readonly<Record<DunningChannel, string>> = {
  webhook: 'stripe:webhook',
  eventbridge: 'stripe:eventbridge',
  reconcile: 'billing:reconcile',
  timer: 'dunning:timer',
};

/** Attempts when the tenant changes under the processor (another event, an operator) before it gives up (and Stripe retries). */
const MAX_ATTEMPTS = 4;

function isStale(last: SubscriptionLink['lastEvent'], event: { readonly id: string; readonly created: number }): boolean {
  return last !== undefined && (event.created < last.created || (event.created === last.created && event.id <= last.id));
}

/**
 * Apply one Stripe event (see the module comment). Throws StripeEventInProgressError while another delivery of
 * the event runs, and what is worth a redelivery (the table or Stripe unavailable): the webhook answers 500 and
 * Stripe retries; the EventBridge rule retries and dead-letters. An envelope that is not a Stripe event, an unknown
 * type, a subscription no tenant has: `ignored`.
 */
export async function processStripeEvent(event: StripeEventEnvelope, delivery: StripeEventDelivery, deps: DunningDependencies = dunningDependencies()): Promise<StripeEventOutcome> {
  const parsed = envelopeSchema.safeParse(event);
  if (!parsed.success) return { result: 'ignored', reason: `Not a Stripe event: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'event'}: ${issue.message}`).join('; ')}` };
  const envelope = parsed.data as StripeEventEnvelope;
  const about = subscriptionOfEvent(envelope);
  if (!about) return { result: 'ignored', reason: `Event type ${envelope.type} does not concern the dunning ladder.` };
  if (!about.subscriptionId) return { result: 'ignored', reason: `${envelope.type} ${envelope.id} names no subscription.` };
  const link = await findTenantBySubscription(deps.client, deps.tableName, about.subscriptionId);
  if (!link) return { result: 'ignored', reason: `No tenant is billed on subscription ${about.subscriptionId}.` };
  const facts = { id: envelope.id, type: envelope.type, created: envelope.created };
  const apply = (): Promise<StripeEventOutcome> => {
    if (isStale(link.lastEvent, facts)) return Promise.resolve(staleOutcome(link, facts));
    const reported = about.status ? { subscriptionId: link.subscriptionId, customerId: link.customerId, status: about.status, changedAt: envelope.created } : undefined;
    return applyBillingFact(deps, { link, cause: { channel: delivery.channel, eventId: envelope.id, eventType: envelope.type }, ...(reported ? { reported } : {}), event: facts });
  };
  try {
    const { result, replayed } = await runIdempotent({
      client: deps.client,
      tableName: deps.tableName,
      tenantId: link.tenantId,
      kind: STRIPE_EVENT_RECORD_KIND,
      key: envelope.id,
      expiresAfterSeconds: EVENT_DEDUPLICATION_SECONDS,
      run: apply,
    });
    return replayed ? { result: 'duplicate', reason: `Event ${envelope.id} was already processed (${result.result}: ${'action' in result ? result.action : result.reason}).` } : result;
  } catch (error) {
    if (error instanceof IdempotencyAlreadyInProgressError) throw new StripeEventInProgressError(envelope.id);
    throw error;
  }
}

/** The event is not newer than the subscription's watermark: the watermark itself (applied already), or older. */
function staleOutcome(link: SubscriptionLink, event: { readonly id: string; readonly created: number }): StripeEventOutcome {
  if (link.lastEvent?.id === event.id) return { result: 'duplicate', reason: `Event ${event.id} was already applied to subscription ${link.subscriptionId}.` };
  return { result: 'stale', tenantId: link.tenantId, reason: `Event ${event.id} (created ${event.created}) is older than ${link.lastEvent?.id} (created ${link.lastEvent?.created}), already applied to subscription ${link.subscriptionId}.` };
}

/**
 * Apply what the subscription's current state means for its tenant (the ladder's `decide`), the same path for an
 * event, the ladder's timer and reconciliation: the state is read through the billing port (with what the event
 * reported, which the ledger records), the decision applied in one transaction with the event's watermark. A tenant changed meanwhile is read again (MAX_ATTEMPTS). Throws what is worth a retry.
 */
export async function applyBillingFact(deps: DunningDependencies, fact: BillingFact): Promise<StripeEventOutcome> {
  const { link, event } = fact;
  for (let attempt = 1; ; attempt += 1) {
    const tenant = await deps.ports.tenants.find(link.tenantId);
    if (!tenant) return { result: 'ignored', reason: `Tenant ${link.tenantId} of subscription ${link.subscriptionId} does not exist.` };
    if (tenant.billing && tenant.billing.subscriptionId !== link.subscriptionId) {
      // An earlier subscription of the tenant (replaced when a soft delete was cancelled): its end changes nothing.
      return { result: 'ignored', reason: `Subscription ${link.subscriptionId} is no longer tenant ${tenant.tenantId}'s (now ${tenant.billing.subscriptionId}).` };
    }
    const account: BillingAccount = tenant.billing ?? { customerId: link.customerId, subscriptionId: link.subscriptionId, subscriptionItemId: '' };
    const current = await deps.ports.billing.retrieveSubscription({ tenantId: tenant.tenantId, account, ...(fact.reported ? { reported: fact.reported } : {}) });
    const now = clock.nowOf(deps.ports);
    const action = decide(tenant, { subscriptionId: link.subscriptionId, status: current?.status, cause: fact.cause }, now, deps.policy);
    try {
      return await execute(deps, tenant, fact, action);
    } catch (error) {
      if (event) {
        // Applied meanwhile (this very event: duplicate) or overtaken by a newer one (stale): nothing to retry.
        const fresh = await findTenantBySubscription(deps.client, deps.tableName, link.subscriptionId);
        if (fresh && isStale(fresh.lastEvent, event)) return staleOutcome(fresh, event);
      }
      if (error instanceof TenantNotFoundError) return { result: 'ignored', reason: error.message };
      const conflict = error instanceof TenantStoreError || error instanceof LifecycleError || error instanceof TransactionCanceledException;
      if (!conflict || attempt >= MAX_ATTEMPTS) throw error;
      logger.info('Tenant changed while applying a billing fact; reading it again', { tenantId: tenant.tenantId, attempt, error: (error as Error).message });
    }
  }
}

async function execute(deps: DunningDependencies, tenant: Tenant, fact: BillingFact, action: DunningAction): Promise<StripeEventOutcome> {
  const { link, event, cause } = fact;
  const tenants = deps.ports.tenants;
  const alsoUpdate = event ? [watermarkUpdate(link.subscriptionId, event)] : [];
  const context: ChangeContext = {
    actor: ACTORS[cause.channel],
    reason: event ? `${event.type} ${event.id}: ${action.reason}` : `${cause.channel === 'reconcile' ? 'Reconciliation' : 'Dunning timer'}: ${action.reason}`,
    operationId: `dunning-${event?.id ?? randomUUID()}`,
    ...(event ? { stripeEventId: event.id, stripeEventType: event.type } : {}),
  };
  // The rung's timer is armed before the change commits (a firing for a change that did not commit finds nothing due).
  const at = timerAt(action) ?? (cause.channel === 'timer' || cause.channel === 'reconcile' ? repairAt(tenant, action) : undefined);
  if (at) await armTimer(deps, tenant.tenantId, link.subscriptionId, at);
  let next: Tenant;
  switch (action.kind) {
    case 'none':
    case 'ignore':
    case 'defer':
      // Decided on the tenant as read: if it changed since (an older event's grace committed meanwhile), the write
      // fails and the decision is taken again on the tenant as it is now.
      if (event) await writeAlone(deps, alsoUpdate, tenant);
      return action.kind === 'ignore' ? { result: 'ignored', reason: action.reason } : { result: 'no_change', tenantId: tenant.tenantId, reason: action.reason };
    case 'start_grace':
      next = await tenants.recordChange(tenant, CHANGE_EVENTS.startGracePeriod, context, { set: { dunning: action.dunning }, alsoUpdate });
      break;
    case 'end_grace':
      next = await tenants.recordChange(tenant, CHANGE_EVENTS.endGracePeriod, context, { remove: ['dunning'], alsoUpdate });
      break;
    case 'suspend':
      next = await tenants.applyTransitions(tenant, ['suspend'], context, { changes: { dunning: action.dunning }, alsoUpdate });
      break;
    case 'resume':
      next = await tenants.applyTransitions(tenant, ['resume', 'complete_reactivation'], { ...context, reactivationPath: 'resume' }, { changes: { dunning: action.dunning ?? null }, alsoUpdate });
      break;
    case 'soft_delete':
      // Through the deletion routes' own soft delete (schedules, billing, its transaction); the event, if any, after it.
      next = await initiateDeletion(deps.ports, tenant.tenantId, { actor: context.actor, reason: context.reason, expectedVersion: tenant.version });
      if (event) await writeAlone(deps, alsoUpdate).catch(() => undefined);
      break;
  }
  if (action.kind === 'end_grace' || ((action.kind === 'resume' || action.kind === 'suspend') && at === undefined)) {
    // Payment recovered (or nothing more is due): the rung's timer goes. Best effort: a late firing finds nothing due.
    await deps.ports.scheduler.cancel(dunningTimerName(tenant.tenantId)).catch((error: unknown) => logger.warn('Could not cancel the dunning timer', { tenantId: tenant.tenantId, error: error as Error }));
  }
  return { result: 'applied', tenantId: tenant.tenantId, action: action.kind, tenantVersion: next.version, from: tenant.state, to: next.state };
}

/** A timer or reconciliation that finds a rung still pending re-arms its timer (a lost or early firing). */
function repairAt(tenant: Tenant, action: DunningAction): Date | undefined {
  return action.kind === 'none' ? pendingTimerAt(tenant) : undefined;
}

async function armTimer(deps: DunningDependencies, tenantId: string, subscriptionId: string, at: Date): Promise<void> {
  await deps.ports.scheduler.scheduleOnce({ name: dunningTimerName(tenantId), at, target: DUNNING_TIMER_TARGET, payload: { tenantId, subscriptionId } });
}

/** Move the subscription's watermark to `event`, only forward (a newer event applied meanwhile fails it). */
function watermarkUpdate(subscriptionId: string, event: { readonly id: string; readonly created: number }): ConditionalUpdate {
  return {
    Key: subscriptionLinkKey(subscriptionId),
    UpdateExpression: 'SET lastEventCreated = :created, lastEventId = :id',
    ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(lastEventCreated) OR lastEventCreated < :created OR (lastEventCreated = :created AND lastEventId < :id))',
    ExpressionAttributeValues: { ':created': event.created, ':id': event.id },
  };
}

/**
 * An event that changes nothing: its watermark alone, in one transaction; with `decidedOn`, only while the tenant
 * is still at the version the decision read (else TransactionCanceledException: read again).
 */
async function writeAlone(deps: DunningDependencies, alsoUpdate: ReadonlyArray<ConditionalUpdate>, decidedOn?: Tenant): Promise<void> {
  await deps.client.send(
    new TransactWriteCommand({
      TransactItems: [
        ...alsoUpdate.map(({ onCommitted: _, ...update }) => ({ Update: { TableName: deps.tableName, ...update } })),
        ...(decidedOn
          ? [{ ConditionCheck: { TableName: deps.tableName, Key: { pk: tenantPk(decidedOn.tenantId), sk: TENANT_SK }, ConditionExpression: '#version = :version', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':version': decidedOn.version } } }]
          : []),
      ],
    }),
  );
}

/** The processor's dependencies from configuration (the workflow ports, the table, config.dunning). */
export function dunningDependencies(): DunningDependencies {
  return { ports: workflowPorts(), client: getDocumentClient(), tableName: config.tableName, policy: config.dunning };
}
