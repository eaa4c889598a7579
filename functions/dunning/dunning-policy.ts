/**
 * The dunning ladder: what a tenant's billing standing becomes from its subscription's current status. Pure (no
 * I/O, no clock): the Stripe event processor, the ladder's timer and the reconciliation sweep all ask `decide`,
 * so one rule serves the three (stripe-event-processor.ts applies what it answers).
 *
 * The ladder (defaults; configurable, see `dunningPolicyFrom` and functions/shared/config.ts):
 * - `past_due` (an `invoice.payment_failed`) → grace: the tenant stays `active` (access `read_write`), its access
 *   answer carries a warning and `graceEndsAt`. `start_grace_period` in its history.
 * - the grace period over (DUNNING_GRACE_DAYS, default 7 days) while still `past_due`, or `unpaid` / `paused` at
 *   once → `suspend` (read-only, as the access policy rules for `suspended`).
 * - `canceled` / `incomplete_expired` (`customer.subscription.deleted`) or the subscription gone → `suspend`; then,
 *   when DUNNING_DELETE_AFTER_CANCELED_DAYS is set (off by default), a soft delete that many days later, through
 *   the deletion routes' own `initiateDeletion`.
 * - `active` / `trialing` (an `invoice.paid`) → the grace ends (`end_grace_period`), or a tenant the ladder
 *   suspended is resumed (`resume` + `complete_reactivation`). A tenant suspended by an operator is never
 *   resumed by a payment: only a suspension recorded in `dunning` (standing `suspended`) is the ladder's.
 * - `incomplete` (a first payment still being attempted, 23 hours at most) changes nothing.
 *
 * Why 7 days: Stripe's Smart Retries (the recommended default) retry a failed payment up to 8 times within 2
 * weeks, the first retries within days (https://docs.stripe.com/billing/revenue-recovery/smart-retries); a week
 * of full access covers the first retries and the customer's "update your card" emails, and suspends well before
 * Stripe gives up, when most recoveries have happened. An operator who wants suspension exactly when Stripe gives
 * up sets a longer grace and configures Stripe to mark the subscription `unpaid` (which suspends at once).
 *
 * Which transitions are legal is the lifecycle table's (`canTransition`), never restated here: a tenant that can
 * neither be suspended nor resumed is either busy (a transitional state: the timer looks again later) or past
 * billing (soft-deleted, deleted: billing events are ignored; our own soft delete cancels the subscription and
 * Stripe then reports it deleted).
 */
import type { SubscriptionStatus } from '../billing/billing-port';
import { isTransitional, type TenantState } from '../lifecycle/lifecycle-table';
import { canTransition } from '../lifecycle/transition';

const DAY_MS = 86_400_000;

export interface DunningPolicy {
  /** Days of full access after a failed payment before suspension (whole days, at least 1). */
  readonly graceDays: number;
  /** Days after a suspension for a canceled subscription before a soft delete; undefined: never (the default). */
  readonly deleteAfterCanceledDays: number | undefined;
  /** Seconds before looking again at a tenant busy in a transitional state (a plan change, an export). */
  readonly busyRetrySeconds: number;
}

export const DEFAULT_DUNNING_POLICY: DunningPolicy = { graceDays: 7, deleteAfterCanceledDays: undefined, busyRetrySeconds: 15 * 60 };

/** The billing standing a subscription status implies. */
export type BillingStanding = 'good' | 'grace' | 'lapsed' | 'canceled' | 'pending';

/**
 * Stripe's statuses (https://docs.stripe.com/api/subscriptions/object#subscription_object-status) to a standing;
 * `undefined` is a subscription that no longer exists (its customer deleted), treated as canceled.
 */
export function standingFor(status: SubscriptionStatus | undefined): BillingStanding {
  switch (status) {
    case 'active':
    case 'trialing':
      return 'good';
    case 'past_due':
      return 'grace';
    case 'unpaid':
    case 'paused':
      return 'lapsed';
    case 'canceled':
    case 'incomplete_expired':
    case undefined:
      return 'canceled';
    case 'incomplete':
      return 'pending';
  }
}

/** How a billing fact reached the ladder (the audit item's actor derives from it). */
export type DunningChannel = 'webhook' | 'eventbridge' | 'reconcile' | 'timer';

/** What caused the tenant's current standing: the channel, and the Stripe event when one did. */
export interface DunningCause {
  readonly channel: DunningChannel;
  readonly eventId?: string;
  readonly eventType?: string;
}

/**
 * The tenant's `dunning` field: its standing in the ladder while it is not in good standing; absent otherwise.
 * `standing: 'suspended'` records that the ladder suspended it (an operator's suspension has no such record, so a
 * payment does not lift it).
 */
export interface TenantDunning {
  readonly standing: 'grace' | 'suspended';
  /** When the tenant entered this standing (ISO 8601, UTC). */
  readonly since: string;
  /** Grace: when it ends and the tenant is suspended if still unpaid (ISO 8601, UTC). */
  readonly graceEndsAt?: string;
  /** Suspended for a canceled subscription with the soft delete configured: when it is soft-deleted (ISO 8601). */
  readonly deleteAt?: string;
  readonly subscriptionId: string;
  /** The subscription status that led here. */
  readonly status: SubscriptionStatus | 'missing';
  readonly cause: DunningCause;
}

/** What the ladder asks for, given the tenant and its subscription's current status. */
export type DunningAction =
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'ignore'; readonly reason: string }
  | { readonly kind: 'defer'; readonly reason: string; readonly retryAt: Date }
  | { readonly kind: 'start_grace'; readonly reason: string; readonly dunning: TenantDunning }
  | { readonly kind: 'end_grace'; readonly reason: string }
  | { readonly kind: 'suspend'; readonly reason: string; readonly dunning: TenantDunning }
  /** With `dunning` (a grace record): resumed into a new grace period, the subscription past_due again. */
  | { readonly kind: 'resume'; readonly reason: string; readonly dunning?: TenantDunning }
  | { readonly kind: 'soft_delete'; readonly reason: string };

export interface DunningSubject {
  readonly state: TenantState;
  readonly dunning?: TenantDunning;
}

export interface DunningFact {
  readonly subscriptionId: string;
  /** The subscription's current status; undefined when it no longer exists. */
  readonly status: SubscriptionStatus | undefined;
  readonly cause: DunningCause;
}

/** The one schedule (timer) of a tenant's ladder, when it should fire: grace end, soft delete, or a busy re-look. */
export function timerAt(action: DunningAction): Date | undefined {
  switch (action.kind) {
    case 'start_grace':
      return new Date(action.dunning.graceEndsAt as string);
    case 'resume':
      return action.dunning?.graceEndsAt === undefined ? undefined : new Date(action.dunning.graceEndsAt);
    case 'suspend':
      return action.dunning.deleteAt === undefined ? undefined : new Date(action.dunning.deleteAt);
    case 'defer':
      return action.retryAt;
    default:
      return undefined;
  }
}

/** When the tenant's pending rung falls due (its grace end, its soft delete), to re-arm a lost or early timer; undefined when none is pending. */
export function pendingTimerAt(tenant: DunningSubject): Date | undefined {
  const dunning = tenant.dunning;
  if (dunning?.standing === 'grace' && dunning.graceEndsAt !== undefined && canTransition(tenant.state, 'suspend')) return new Date(dunning.graceEndsAt);
  if (dunning?.standing === 'suspended' && dunning.deleteAt !== undefined && canTransition(tenant.state, 'resume')) return new Date(dunning.deleteAt);
  return undefined;
}

/**
 * What to do for `tenant` now that its subscription is `fact.status`, at `now`. Pure. See the module comment for
 * the ladder; the lifecycle table decides what the tenant's state allows.
 */
export function decide(tenant: DunningSubject, fact: DunningFact, now: Date, policy: DunningPolicy = DEFAULT_DUNNING_POLICY): DunningAction {
  const standing = standingFor(fact.status);
  const status = fact.status ?? 'missing';
  if (standing === 'pending') return { kind: 'none', reason: `Subscription ${fact.subscriptionId} is ${status}: its first payment is still being attempted.` };
  const suspendable = canTransition(tenant.state, 'suspend');
  const resumable = canTransition(tenant.state, 'resume');
  const dunning = tenant.dunning;
  if (!suspendable && !resumable) {
    if (!isTransitional(tenant.state)) return { kind: 'ignore', reason: `Tenant is ${tenant.state}: billing no longer changes it.` };
    if (standing === 'good' && !dunning) return { kind: 'none', reason: `Subscription ${fact.subscriptionId} is ${status} and the tenant is in good standing.` };
    return { kind: 'defer', reason: `Tenant is ${tenant.state}: the ladder looks again once it settles.`, retryAt: new Date(now.getTime() + policy.busyRetrySeconds * 1000) };
  }
  const since = now.toISOString();
  const record = (extra: Partial<TenantDunning> & Pick<TenantDunning, 'standing'>): TenantDunning => ({ since, subscriptionId: fact.subscriptionId, status, cause: fact.cause, ...extra });
  if (suspendable) {
    const inGrace = dunning?.standing === 'grace';
    if (standing === 'good') return inGrace ? { kind: 'end_grace', reason: `Subscription ${fact.subscriptionId} is ${status} again: the grace period ends.` } : { kind: 'none', reason: `Subscription ${fact.subscriptionId} is ${status}.` };
    if (standing === 'grace') {
      if (!inGrace) {
        const graceEndsAt = new Date(now.getTime() + policy.graceDays * DAY_MS).toISOString();
        return { kind: 'start_grace', reason: `Subscription ${fact.subscriptionId} is past_due: full access until ${graceEndsAt}, then suspension if still unpaid.`, dunning: record({ standing: 'grace', graceEndsAt }) };
      }
      if (now.getTime() < Date.parse(dunning.graceEndsAt as string)) return { kind: 'none', reason: `Already in the grace period until ${dunning.graceEndsAt}.` };
      return { kind: 'suspend', reason: `Grace period ended at ${dunning.graceEndsAt} with subscription ${fact.subscriptionId} still past_due.`, dunning: record({ standing: 'suspended' }) };
    }
    const deleteAt = standing === 'canceled' && policy.deleteAfterCanceledDays !== undefined ? new Date(now.getTime() + policy.deleteAfterCanceledDays * DAY_MS).toISOString() : undefined;
    return {
      kind: 'suspend',
      reason: `Subscription ${fact.subscriptionId} is ${status}${deleteAt ? `: soft delete at ${deleteAt}` : ''}.`,
      dunning: record({ standing: 'suspended', ...(deleteAt ? { deleteAt } : {}) }),
    };
  }
  // Suspended: only the ladder's own suspension is lifted by a payment.
  if (standing === 'good') {
    if (dunning?.standing === 'suspended') return { kind: 'resume', reason: `Subscription ${fact.subscriptionId} is ${status} again: the suspension for non-payment is lifted.` };
    if (dunning?.standing === 'grace') return { kind: 'end_grace', reason: `Subscription ${fact.subscriptionId} is ${status} again: the grace period ends (the tenant stays suspended by an operator).` };
    return { kind: 'none', reason: `Subscription ${fact.subscriptionId} is ${status}, but the tenant was suspended by an operator: a payment does not lift that.` };
  }
  // Suspended by the ladder because the subscription lapsed (unpaid, paused) and now past_due: Stripe moved it out of
  // `unpaid` (the lapsed invoices were paid or voided) and a newer invoice failed. Back to full access in a new grace
  // period, as delivered in order (paid resumes, then payment_failed starts grace): the end state does not depend on
  // the order the events arrive in. Suspended after a grace that ended still past_due: stays suspended.
  if (standing === 'grace' && dunning?.standing === 'suspended' && standingFor(dunning.status === 'missing' ? undefined : dunning.status) === 'lapsed') {
    const graceEndsAt = new Date(now.getTime() + policy.graceDays * DAY_MS).toISOString();
    return {
      kind: 'resume',
      reason: `Subscription ${fact.subscriptionId} is past_due again after being ${dunning.status}: the suspension is lifted and a grace period runs until ${graceEndsAt}.`,
      dunning: record({ standing: 'grace', graceEndsAt }),
    };
  }
  if (standing === 'canceled' && dunning?.standing === 'suspended' && dunning.deleteAt !== undefined && now.getTime() >= Date.parse(dunning.deleteAt)) {
    return { kind: 'soft_delete', reason: `Subscription ${fact.subscriptionId} has been ${status} since ${dunning.since}: soft delete due at ${dunning.deleteAt}.` };
  }
  return { kind: 'none', reason: `Tenant is already suspended; subscription ${fact.subscriptionId} is ${status}.` };
}

/** What the access answer adds for a tenant in the grace period (GET /tenants/{id}/access); undefined otherwise. */
export function dunningNotice(tenant: DunningSubject): { readonly standing: 'grace'; readonly warning: string; readonly graceEndsAt: string } | undefined {
  const dunning = tenant.dunning;
  if (dunning?.standing !== 'grace' || dunning.graceEndsAt === undefined || !canTransition(tenant.state, 'suspend')) return undefined;
  return {
    standing: 'grace',
    warning: `Payment failed (subscription ${dunning.subscriptionId} is ${dunning.status}): access stays read_write until ${dunning.graceEndsAt}, then the tenant is suspended (read-only) unless the payment succeeds.`,
    graceEndsAt: dunning.graceEndsAt,
  };
}

/**
 * The policy from configuration values (DUNNING_GRACE_DAYS, DUNNING_DELETE_AFTER_CANCELED_DAYS,
 * DUNNING_BUSY_RETRY_SECONDS), defaults for those not given.
 */
export function dunningPolicyFrom(values: { readonly graceDays?: number; readonly deleteAfterCanceledDays?: number; readonly busyRetrySeconds?: number }): DunningPolicy {
  return {
    graceDays: values.graceDays ?? DEFAULT_DUNNING_POLICY.graceDays,
    deleteAfterCanceledDays: values.deleteAfterCanceledDays ?? DEFAULT_DUNNING_POLICY.deleteAfterCanceledDays,
    busyRetrySeconds: values.busyRetrySeconds ?? DEFAULT_DUNNING_POLICY.busyRetrySeconds,
  };
}
