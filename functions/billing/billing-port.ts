/**
 * The billing port: what a plan change needs from billing. Two adapters implement it: Stripe (official SDK,
 * production) and a local ledger (no Stripe key configured) that records what would have been billed.
 * Every mutating call is idempotent on a key derived from the operation id, so a retried workflow step never
 * charges twice.
 */
import type { PlanId } from '../plans/plan-catalog';
import { registerHttpError } from '../shared/error-catalogue';
import { callWith } from '../shared/secret-value';

/** Where a tenant's subscription lives in Stripe; absent for tenants never billed through Stripe. */
export interface BillingAccount {
  readonly customerId: string;
  readonly subscriptionId: string;
  readonly subscriptionItemId: string;
}

export type PlanChangeDirection = 'upgrade' | 'downgrade';

/** Upgrades take effect immediately (prorated, invoiced now); downgrades at period end unless asked otherwise. */
export type PlanChangeTiming = 'immediately' | 'period_end';

export interface PlanChangeRequest {
  /** The workflow operation; every idempotency key derives from it. */
  readonly operationId: string;
  readonly tenantId: string;
  readonly fromPlan: PlanId;
  readonly toPlan: PlanId;
  readonly direction: PlanChangeDirection;
  readonly timing: PlanChangeTiming;
  readonly account?: BillingAccount;
}

export interface BillingPreviewLine {
  readonly description: string;
  /** Minor units (cents); negative for credits. */
  readonly amount: number;
}

/** What the change would cost, without changing anything. */
export interface BillingPreview {
  readonly source: 'stripe' | 'local-estimate';
  readonly currency: string;
  /** Net amount invoiced now for the change (minor units; 0 for period-end changes). */
  readonly amountDueNow: number;
  /** When the new price starts to apply (ISO 8601). */
  readonly effectiveAt: string;
  readonly lines: readonly BillingPreviewLine[];
}

/** What a plan change did in billing: enough to revert it. */
export interface BillingChange {
  readonly kind: 'subscription_updated' | 'schedule_created' | 'no_change';
  readonly effectiveAt: string;
  /** Minor units invoiced now (0 for scheduled changes). */
  readonly amountInvoiced: number;
  readonly currency: string;
  /** Adapter-specific references (Stripe subscription / schedule / invoice ids, ledger entry ids). */
  readonly references: Readonly<Record<string, string>>;
}

/** One invoice of billing history (for the local ledger: one ledger entry). */
export interface BillingInvoice {
  /** Stripe's invoice id (`in_...`), or the ledger entry's `<operationId>#<kind>`. */
  readonly id: string;
  /** The number printed on the invoice; null for drafts and ledger entries. */
  readonly number: string | null;
  /** draft, open, paid, uncollectible, void (Stripe), or recorded (ledger). */
  readonly status: string | null;
  /** ISO 4217, lowercase. */
  readonly currency: string;
  /** Minor units (cents); negative for a credit. */
  readonly total: number;
  readonly amountDue: number;
  readonly amountPaid: number;
  /** ISO 8601, UTC. */
  readonly created: string;
  readonly periodStart: string | null;
  readonly periodEnd: string | null;
  readonly description: string | null;
  /** Amounts in minor units. */
  readonly lines: readonly { readonly description: string | null; readonly amount: number }[];
  /** False when the invoice has more lines than Stripe embeds in it (the hosted invoice has them all). */
  readonly linesComplete: boolean;
  readonly hostedInvoiceUrl: string | null;
}

export interface InvoiceListRequest {
  readonly tenantId: string;
  /** The tenant's Stripe account; without one Stripe has no invoices for it. */
  readonly account?: BillingAccount;
  /** 1 to 100 (Stripe's limit). */
  readonly limit: number;
  /** The last invoice id of the previous page (Stripe's `starting_after`). */
  readonly startingAfter?: string;
}

export interface InvoicePage {
  readonly invoices: readonly BillingInvoice[];
  readonly hasMore: boolean;
}

/**
 * A customer-lifecycle request (soft delete, its cancellation, the hard delete). Idempotent on `idempotencyKey`
 * (derived from the tenant's deletion request), so a retried step never acts twice.
 */
export interface CustomerLifecycleRequest {
  readonly tenantId: string;
  /** The tenant's Stripe references; without them there is nothing to do in Stripe (the ledger still records it). */
  readonly account?: BillingAccount;
  readonly plan: PlanId;
  readonly idempotencyKey: string;
}

/** What cancelling a subscription did. */
export interface SubscriptionCancellation {
  /** False when there was nothing to cancel (no subscription, or already cancelled). */
  readonly cancelled: boolean;
  /** Adapter-specific references (Stripe subscription id, final invoice id; ledger entry id). */
  readonly references: Readonly<Record<string, string>>;
}

/**
 * Stripe's subscription statuses (https://docs.stripe.com/api/subscriptions/object#subscription_object-status).
 * The dunning ladder (functions/dunning/dunning-policy.ts) maps them to the tenant's standing.
 */
export const SUBSCRIPTION_STATUSES = ['incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export function isSubscriptionStatus(value: string): value is SubscriptionStatus {
  return (SUBSCRIPTION_STATUSES as readonly string[]).includes(value);
}

/**
 * Whether a subscription in `status` has ended for good: `canceled` ("After it's canceled, you can no longer update
 * the subscription", https://docs.stripe.com/api/subscriptions/cancel) or `incomplete_expired` (its first invoice
 * unpaid for 23 hours, https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses). Billing again
 * needs a new subscription.
 */
export function subscriptionHasEnded(status: string): boolean {
  return status === 'canceled' || status === 'incomplete_expired';
}

/** A subscription as the billing provider has it now (not as some event once described it). */
export interface SubscriptionState {
  readonly subscriptionId: string;
  readonly customerId: string;
  readonly status: SubscriptionStatus;
  /** When the provider last changed it, if it says (seconds since the epoch); absent otherwise. */
  readonly changedAt?: number;
}

/**
 * Make (or link, when `link` is given) the billing customer of a new tenant and its subscription on `plan`'s
 * price. Idempotent on `idempotencyKey` (derived from the tenant id), so a retried create never makes two.
 */
export interface NewCustomerRequest {
  readonly tenantId: string;
  readonly name: string;
  readonly email: string;
  readonly plan: PlanId;
  readonly idempotencyKey: string;
  /**
   * Existing Stripe ids to link instead of creating (a tenant migrated from an existing billing setup, or one
   * whose customer a Checkout session made). Without `subscriptionId`, the customer's one active subscription;
   * `subscriptionItemId`, when given, must be its item on the plan's price.
   */
  readonly link?: { readonly customerId: string; readonly subscriptionId?: string; readonly subscriptionItemId?: string };
}

/**
 * Ids given to link a new tenant to (NewCustomerRequest.link) that do not make one billing account on the tenant's
 * plan: no such customer, a subscription of another customer, ended, not on the plan's price, or none (or several)
 * to choose from. Nothing was created; the caller fixes the ids or the plan.
 */
export class BillingLinkError extends Error {
  /** The stable code the API answers with. */
  readonly code = 'BILLING_LINK_MISMATCH' as const;
  constructor(message: string) {
    super(message);
    this.name = 'BillingLinkError';
  }
}

/** Read a subscription's current state (the dunning processor acts on this, not on an event's snapshot). */
export interface SubscriptionLookup {
  readonly tenantId: string;
  readonly account: BillingAccount;
  /**
   * What the event that prompted the read said (its `data.object` status). The Stripe adapter ignores it
   * (Stripe is the truth); the ledger, which has no truth of its own, records and answers it.
   */
  readonly reported?: SubscriptionState;
}

export interface BillingPort {
  readonly name: 'stripe' | 'local-ledger';
  previewPlanChange(request: PlanChangeRequest): Promise<BillingPreview>;
  applyPlanChange(request: PlanChangeRequest): Promise<BillingChange>;
  /**
   * What `applyPlanChange` did for the request's operation, read back without changing anything; `undefined`
   * when it changed nothing. For a compensation whose apply answer was lost: unlike a replayed apply, it can never
   * make the change it is about to undo.
   */
  findAppliedChange(request: PlanChangeRequest): Promise<BillingChange | undefined>;
  /** Undo `change` (refund or credit what was invoiced, cancel what was scheduled); idempotent. */
  revertPlanChange(request: PlanChangeRequest, change: BillingChange): Promise<void>;
  /** The tenant's billing history, a page at a time in the adapter's stable order (Stripe: newest first). */
  listInvoices(request: InvoiceListRequest): Promise<InvoicePage>;
  /**
   * Stop billing the tenant now (soft delete): Stripe cancels the subscription immediately (no further
   * invoices). Idempotent: an already cancelled subscription answers `cancelled: false`.
   */
  cancelSubscription(request: CustomerLifecycleRequest): Promise<SubscriptionCancellation>;
  /**
   * Bill the tenant again on `plan` after a cancelled soft delete: Stripe cannot revive a cancelled subscription,
   * so a new one is made for the same customer; answers the account to store on the tenant (undefined without one).
   */
  restoreSubscription(request: CustomerLifecycleRequest): Promise<BillingAccount | undefined>;
  /**
   * Delete the billing customer (hard delete): Stripe deletes the customer, which also cancels what is left
   * of its subscriptions; its invoices stay with Stripe (kept by law). Idempotent: already gone is `deleted: false`.
   */
  deleteCustomer(request: CustomerLifecycleRequest): Promise<{ readonly deleted: boolean }>;
  /**
   * The billing customer and subscription of a new tenant (see NewCustomerRequest): the account to store on it,
   * or undefined when the plan is not billed (no price configured for it).
   */
  createCustomer(request: NewCustomerRequest): Promise<BillingAccount | undefined>;
  /** The subscription as the provider has it now; undefined when it does not exist (deleted customer). */
  retrieveSubscription(request: SubscriptionLookup): Promise<SubscriptionState | undefined>;
}

/** A billing provider failure worth retrying (network, rate limit, 5xx); the ASL retries on this name. */
export class BillingTransientError extends Error {
  /** The stable code the API answers with. */
  readonly code = 'BILLING_UNAVAILABLE' as const;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BillingTransientError';
  }
}

/** A billing failure that retrying will not fix (card declined, invalid request): the workflow rolls back. */
export class BillingRejectedError extends Error {
  /** The stable code the API answers with. */
  readonly code = 'BILLING_REJECTED' as const;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BillingRejectedError';
  }
}

registerHttpError(BillingRejectedError, { status: 422 });
registerHttpError(BillingLinkError, { status: 422 });
// The provider's own words stay in the logs (the cause); the caller is told what it means for them.
registerHttpError(BillingTransientError, { status: 503, message: () => 'The billing provider is unavailable; nothing was changed. Retry later.' });

/**
 * A billing port whose adapter is built on first use (`resolve`, e.g. from onFirstUse): its SDK loaded, its key
 * read, only when a call needs them, so a function's cold start does not pay for them. Every call goes to the
 * adapter `resolve` gives; `resolve`'s errors are the call's. When `resolve` is a SecretBacked (the key from
 * Secrets Manager), a call refused for its key is made once more with the key re-read (callWith).
 */
export class DeferredBillingPort implements BillingPort {
  readonly name: BillingPort['name'];
  readonly #resolve: () => Promise<BillingPort>;

  constructor(name: BillingPort['name'], resolve: () => Promise<BillingPort>) {
    this.name = name;
    this.#resolve = resolve;
  }

  async previewPlanChange(request: PlanChangeRequest): Promise<BillingPreview> {
    return callWith(this.#resolve, (port) => port.previewPlanChange(request));
  }

  async applyPlanChange(request: PlanChangeRequest): Promise<BillingChange> {
    return callWith(this.#resolve, (port) => port.applyPlanChange(request));
  }

  async findAppliedChange(request: PlanChangeRequest): Promise<BillingChange | undefined> {
    return callWith(this.#resolve, (port) => port.findAppliedChange(request));
  }

  async revertPlanChange(request: PlanChangeRequest, change: BillingChange): Promise<void> {
    return callWith(this.#resolve, (port) => port.revertPlanChange(request, change));
  }

  async listInvoices(request: InvoiceListRequest): Promise<InvoicePage> {
    return callWith(this.#resolve, (port) => port.listInvoices(request));
  }

  async cancelSubscription(request: CustomerLifecycleRequest): Promise<SubscriptionCancellation> {
    return callWith(this.#resolve, (port) => port.cancelSubscription(request));
  }

  async restoreSubscription(request: CustomerLifecycleRequest): Promise<BillingAccount | undefined> {
    return callWith(this.#resolve, (port) => port.restoreSubscription(request));
  }

  async deleteCustomer(request: CustomerLifecycleRequest): Promise<{ readonly deleted: boolean }> {
    return callWith(this.#resolve, (port) => port.deleteCustomer(request));
  }

  async createCustomer(request: NewCustomerRequest): Promise<BillingAccount | undefined> {
    return callWith(this.#resolve, (port) => port.createCustomer(request));
  }

  async retrieveSubscription(request: SubscriptionLookup): Promise<SubscriptionState | undefined> {
    return callWith(this.#resolve, (port) => port.retrieveSubscription(request));
  }
}
