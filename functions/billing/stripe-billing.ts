/**
 * The Stripe adapter of the billing port, on the official SDK (an injected `Stripe` instance, so tests point it
 * at a local fake). Upgrades swap the subscription item's price now and invoice the proration at once; period-end
 * changes go through a subscription schedule; immediate downgrades leave a proration credit for the next invoice.
 * Every mutating request carries an idempotency key derived from the operation id, so a retried workflow step
 * gets Stripe's saved answer instead of a second change. Stripe saves 500s under the key too: after one, the
 * adapter reads back whether the request took effect and, only if it did not, sends it again under the next key
 * of a fixed series (see `#keyed`). Where a Stripe update replaces a structure (a schedule's phases, an item's
 * price), every field Stripe would otherwise reset is passed on (see `carriedPhase`, `priceSwap`).
 *
 * Reverting an invoiced upgrade puts the old price back without prorating and refunds the upgrade invoice with a
 * credit note, rather than prorating back: a rolled-back plan change must leave the customer uncharged, and a
 * reverse proration only leaves a (slightly smaller) credit on the customer's balance while keeping the card charge.
 */
import * as clock from '../shared/clock';
import type Stripe from 'stripe';
import type { PlanId, StripePriceIds } from '../plans/plan-catalog';
import { logger } from '../shared/powertools';
import {
  BillingLinkError,
  BillingRejectedError,
  BillingTransientError,
  type BillingAccount,
  type BillingChange,
  type BillingInvoice,
  type BillingPort,
  type BillingPreview,
  type InvoiceListRequest,
  type InvoicePage,
  type PlanChangeRequest,
  type CustomerLifecycleRequest,
  type SubscriptionCancellation,
  type NewCustomerRequest,
  type SubscriptionLookup,
  type SubscriptionState,
  SUBSCRIPTION_STATUSES,
  isSubscriptionStatus,
  subscriptionHasEnded,
} from './billing-port';

export interface StripeBillingOptions {
  readonly stripe: Stripe;
  /** Stripe price id per plan; a plan without one cannot be moved to or from through Stripe. */
  readonly priceIds: StripePriceIds;
  /** Injected for tests; defaults to the clock (functions/shared/clock.ts: the wall clock when deployed). */
  readonly now?: () => Date;
}

/** Idempotency keys, one per mutating request of an operation; a retry of the same step reuses its key. */
export const stripeIdempotencyKeys = (operationId: string) =>
  ({
    apply: `${operationId}:apply`,
    createSchedule: `${operationId}:apply:schedule`,
    schedulePhases: `${operationId}:apply:schedule-phases`,
    abandonSchedule: `${operationId}:apply:schedule-release`,
    revert: `${operationId}:revert`,
    restorePrice: `${operationId}:revert:restore-price`,
    refund: `${operationId}:revert:credit-note`,
    voidInvoice: `${operationId}:revert:void`,
  }) as const;

type ProrationBehavior = 'always_invoice' | 'create_prorations';

/**
 * Days a new tenant's customer has to pay each invoice of its subscription (`days_until_due`, with
 * `collection_method: send_invoice`): Stripe marks the invoice past due after that, and the subscription follows.
 */
export const NEW_SUBSCRIPTION_DAYS_UNTIL_DUE = 30;

/** Idempotency keys one request may spend on Stripe 500s that changed nothing (the first, then `:retry-1`...). */
export const STRIPE_KEYS_PER_REQUEST = 10;

function isoFromUnix(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function priceIdOf(price: string | { id: string }): string {
  return typeof price === 'string' ? price : price.id;
}

/** The id of an expandable field (a string, or the expanded object), or undefined when it is not set. */
function idOf(value: string | { id?: string } | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : value.id;
}

type PhaseParams = Stripe.SubscriptionScheduleUpdateParams.Phase;

/** What a period-end change did: the schedule whose next phase holds the new price, from the current phase's end. */
function scheduleChange(account: BillingAccount, schedule: Stripe.SubscriptionSchedule, previousPriceId: string, newPriceId: string): BillingChange {
  const current = schedule.phases[0];
  return {
    kind: 'schedule_created',
    effectiveAt: isoFromUnix(current?.end_date ?? schedule.current_phase?.end_date ?? 0),
    amountInvoiced: 0,
    currency: current?.currency ?? 'usd',
    references: { subscriptionId: account.subscriptionId, scheduleId: schedule.id, previousPriceId, newPriceId },
  };
}

/**
 * The item update that moves `item` to `priceId` and nothing else. Changing an item's price resets its quantity
 * to 1 unless one is sent ("When changing a subscription item's price, quantity is set to 1 unless a quantity
 * parameter is provided", Stripe API reference, "Update a subscription", `items.price`); the item's tax rates,
 * discounts, metadata and thresholds are kept when left out, and so is everything on the subscription itself.
 */
function priceSwap(item: Stripe.SubscriptionItem, priceId: string): Stripe.SubscriptionUpdateParams.Item {
  return { id: item.id, price: priceId, ...(item.quantity === undefined || item.quantity === null ? {} : { quantity: item.quantity }) };
}
type Discounts = Array<{ coupon: string | { id: string } | null; discount: string | { id: string } | null; promotion_code: string | { id: string } | null }>;

/** A discount restated by the id of the discount itself where there is one, so a repeating coupon's remaining duration is kept rather than restarted. */
type DiscountParam = { coupon?: string; discount?: string; promotion_code?: string };
function discountParams(discounts: Discounts | undefined): DiscountParam[] | undefined {
  const params = (discounts ?? []).flatMap((entry): DiscountParam[] => {
    const discount = idOf(entry.discount);
    if (discount) return [{ discount }];
    const coupon = idOf(entry.coupon);
    if (coupon) return [{ coupon }];
    const promotionCode = idOf(entry.promotion_code);
    return promotionCode ? [{ promotion_code: promotionCode }] : [];
  });
  return params.length > 0 ? params : undefined;
}

function idsOf(values: ReadonlyArray<string | { id: string }> | null | undefined): string[] | undefined {
  const ids = (values ?? []).map((value) => idOf(value) as string);
  return ids.length > 0 ? ids : undefined;
}

function nonEmpty<T extends object>(value: T | null | undefined): T | undefined {
  return value && Object.keys(value).length > 0 ? value : undefined;
}

/** `value` without its undefined properties (what the SDK would send as nothing anyway), to keep requests readable. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

/**
 * A schedule phase as update parameters that keep it as it is. Updating a schedule's `phases` replaces them
 * wholesale and every field a phase (or one of its items) leaves out takes its default: no discounts, no tax
 * rates, charged automatically, no thresholds, no metadata... (Stripe API reference, "Update a schedule",
 * https://docs.stripe.com/api/subscription_schedules/update). So every field of the current phase is passed on;
 * `trial_end` and `billing_cycle_anchor` belong to the current phase only, and `add_invoice_items` (one-time
 * items invoiced when the phase began) are not restated.
 */
function carriedPhase(phase: Stripe.SubscriptionSchedule.Phase): Omit<PhaseParams, 'items'> & { items: Stripe.SubscriptionScheduleUpdateParams.Phase.Item[] } {
  const thresholds = phase.billing_thresholds;
  const invoiceSettings = phase.invoice_settings;
  const liability = phase.automatic_tax?.liability;
  const issuer = invoiceSettings?.issuer;
  return defined({
    items: phase.items.map((item) =>
      defined({
        price: priceIdOf(item.price),
        quantity: item.quantity ?? undefined,
        tax_rates: idsOf(item.tax_rates),
        discounts: discountParams(item.discounts),
        metadata: nonEmpty(item.metadata),
        billing_thresholds: item.billing_thresholds?.usage_gte == null ? undefined : { usage_gte: item.billing_thresholds.usage_gte },
      }),
    ),
    application_fee_percent: phase.application_fee_percent ?? undefined,
    automatic_tax: phase.automatic_tax?.enabled
      ? { enabled: true, ...(liability ? { liability: defined({ type: liability.type, account: idOf(liability.account) }) } : {}) }
      : undefined,
    billing_thresholds: thresholds
      ? defined({ amount_gte: thresholds.amount_gte ?? undefined, reset_billing_cycle_anchor: thresholds.reset_billing_cycle_anchor ?? undefined })
      : undefined,
    collection_method: phase.collection_method ?? undefined,
    default_payment_method: idOf(phase.default_payment_method),
    default_tax_rates: idsOf(phase.default_tax_rates),
    description: phase.description ?? undefined,
    discounts: discountParams(phase.discounts),
    invoice_settings: invoiceSettings
      ? nonEmpty(
          defined({
            account_tax_ids: idsOf(invoiceSettings.account_tax_ids as Array<string | { id: string }> | null),
            custom_fields: invoiceSettings.custom_fields ?? undefined,
            days_until_due: invoiceSettings.days_until_due ?? undefined,
            description: invoiceSettings.description ?? undefined,
            footer: invoiceSettings.footer ?? undefined,
            issuer: issuer ? defined({ type: issuer.type, account: idOf(issuer.account) }) : undefined,
          }),
        )
      : undefined,
    metadata: nonEmpty(phase.metadata),
    on_behalf_of: idOf(phase.on_behalf_of),
    proration_behavior: phase.proration_behavior ?? undefined,
    transfer_data: phase.transfer_data ? defined({ destination: idOf(phase.transfer_data.destination) as string, amount_percent: phase.transfer_data.amount_percent ?? undefined }) : undefined,
  });
}

/** What an operator reads: which tenant, which operation, what we were doing, what Stripe said. */
/** Who a Stripe call was for: the tenant, and the operation when a workflow made it. */
type BillingCaller = Pick<PlanChangeRequest, 'tenantId'> & { readonly operationId?: string };

function explain(request: BillingCaller, action: string, error: Stripe.errors.StripeError): string {
  const codes = [error.code, error.decline_code].filter(Boolean).join('/');
  const requestId = error.requestId ? `, Stripe request ${error.requestId}` : '';
  const operation = request.operationId ? ` (operation ${request.operationId})` : '';
  return `tenant '${request.tenantId}'${operation} could not ${action}: ${error.message}${codes ? ` [${codes}]` : ''}${requestId}`;
}

type StripeSdkError = Stripe.errors.StripeError;

/**
 * `error` as an error of the Stripe SDK, or undefined. Checked by shape rather than `instanceof`, so this module
 * needs no SDK at run time (the SDK is loaded on first use, see ./index.ts): every SDK error is a StripeError,
 * whose constructor sets `type` and `rawType` (stripe-node `Error.ts`).
 */
function stripeErrorOf(error: unknown): StripeSdkError | undefined {
  return error instanceof Error && 'type' in error && 'rawType' in error && typeof error.type === 'string' ? (error as StripeSdkError) : undefined;
}

/**
 * Map an SDK error to the port's errors: retry what may succeed later (network, rate limit, Stripe-side 5xx,
 * a concurrent request holding the same key), roll back what will not (declined card, invalid request, a key
 * reused with other parameters, a refused API key). Anything that is not a Stripe error is ours: rethrown.
 * The SDK's error classes are told apart by `type`, which each sets to its own class name ('StripeCardError'...).
 */
export function toBillingError(error: unknown, request: BillingCaller, action: string): unknown {
  const stripeError = stripeErrorOf(error);
  if (!stripeError) return error;
  const options = { cause: error };
  switch (stripeError.type) {
    case 'StripeConnectionError':
      return new BillingTransientError(`Stripe is unreachable; ${explain(request, action, stripeError)}`, options);
    case 'StripeRateLimitError':
      return new BillingTransientError(`Stripe rate-limited us; ${explain(request, action, stripeError)}`, options);
    case 'StripeCardError':
      return new BillingRejectedError(`Stripe declined the payment; ${explain(request, action, stripeError)}`, options);
    case 'StripeIdempotencyError':
      // The same operation id asked Stripe for a different change: retrying with that key can never succeed.
      return new BillingRejectedError(
        `Stripe refused a reused idempotency key (the operation was retried with different parameters); ${explain(request, action, stripeError)}`,
        options,
      );
    case 'StripeInvalidRequestError':
      return new BillingRejectedError(`Stripe rejected the request; ${explain(request, action, stripeError)}`, options);
    case 'StripeAuthenticationError':
    case 'StripePermissionError':
      return new BillingRejectedError(`Stripe refused the configured API key; ${explain(request, action, stripeError)}`, options);
    default: {
      // StripeAPIError and anything newer: 5xx, and 409 (a request with the same idempotency key still running), are
      // Stripe's side and worth retrying.
      const status = stripeError.statusCode;
      if (status === undefined || status >= 500 || status === 409) return new BillingTransientError(`Stripe failed; ${explain(request, action, stripeError)}`, options);
      return new BillingRejectedError(`Stripe rejected the request; ${explain(request, action, stripeError)}`, options);
    }
  }
}

/** A Stripe invoice as billing history shows it (amounts in the currency's minor unit, times in ISO 8601). */
export function invoiceFrom(invoice: Stripe.Invoice): BillingInvoice {
  return {
    id: invoice.id ?? '',
    number: invoice.number ?? null,
    status: invoice.status ?? null,
    currency: invoice.currency,
    total: invoice.total,
    amountDue: invoice.amount_due,
    amountPaid: invoice.amount_paid,
    created: isoFromUnix(invoice.created),
    periodStart: isoFromUnix(invoice.period_start),
    periodEnd: isoFromUnix(invoice.period_end),
    description: invoice.description ?? null,
    lines: invoice.lines.data.map((line) => ({ description: line.description ?? null, amount: line.amount })),
    linesComplete: !invoice.lines.has_more,
    hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
  };
}

export class StripeBilling implements BillingPort {
  readonly name = 'stripe' as const;
  readonly #stripe: Stripe;
  readonly #priceIds: StripePriceIds;
  readonly #now: () => Date;

  constructor(options: StripeBillingOptions) {
    this.#stripe = options.stripe;
    this.#priceIds = options.priceIds;
    this.#now = options.now ?? clock.now;
  }

  /** What the change would cost, from Stripe's own invoice preview; changes nothing. */
  async previewPlanChange(request: PlanChangeRequest): Promise<BillingPreview> {
    const account = this.#account(request);
    if (request.fromPlan === request.toPlan) return { source: 'stripe', currency: 'usd', amountDueNow: 0, effectiveAt: this.#now().toISOString(), lines: [] };
    const newPriceId = this.#priceId(request, request.toPlan);

    if (request.timing === 'period_end') {
      const subscription = await this.#call(request, 'read the subscription', () => this.#stripe.subscriptions.retrieve(account.subscriptionId));
      const item = this.#item(request, subscription, account);
      return {
        source: 'stripe',
        currency: subscription.currency,
        amountDueNow: 0,
        // Since API 2025-03-31 the billing period lives on the subscription item, not the subscription.
        effectiveAt: isoFromUnix(item.current_period_end),
        lines: [{ description: `${request.fromPlan} → ${request.toPlan} from the next billing period`, amount: 0 }],
      };
    }

    const now = this.#now();
    const item = await this.#currentItem(request, account.subscriptionId, account);
    const invoice = await this.#call(request, 'preview the prorated invoice', () =>
      this.#stripe.invoices.createPreview({
        subscription: account.subscriptionId,
        subscription_details: {
          // The same item change the apply sends (quantity kept), so the preview is what will be invoiced.
          items: [priceSwap(item, newPriceId)],
          // Only the proration lines, as one invoice, for both directions; an immediate downgrade applies them to
          // the next invoice instead, so nothing is due now.
          proration_behavior: 'always_invoice',
          proration_date: unixSeconds(now),
        },
      }),
    );
    return {
      source: 'stripe',
      currency: invoice.currency,
      amountDueNow: request.direction === 'upgrade' ? Math.max(invoice.total, 0) : 0,
      effectiveAt: now.toISOString(),
      lines: invoice.lines.data.map((line) => ({ description: line.description ?? 'Proration', amount: line.amount })),
    };
  }

  /** Change the subscription's price (now, or at period end through a schedule); idempotent per operation. */
  async applyPlanChange(request: PlanChangeRequest): Promise<BillingChange> {
    const account = this.#account(request);
    if (request.fromPlan === request.toPlan) {
      return { kind: 'no_change', effectiveAt: this.#now().toISOString(), amountInvoiced: 0, currency: 'usd', references: { subscriptionId: account.subscriptionId } };
    }
    // Both prices up front: a change we could not revert is not started.
    const previousPriceId = this.#priceId(request, request.fromPlan);
    const newPriceId = this.#priceId(request, request.toPlan);
    const change =
      request.timing === 'period_end'
        ? await this.#schedule(request, account, previousPriceId, newPriceId)
        : await this.#updateNow(request, account, previousPriceId, newPriceId);
    logger.info('Billing change applied', { billingAdapter: this.name, tenantId: request.tenantId, operationId: request.operationId, kind: change.kind, amountInvoiced: change.amountInvoiced, ...change.references });
    return change;
  }

  /**
   * What {@link applyPlanChange} did for the request's operation, read back from Stripe without changing
   * anything: the subscription on the new price marked with the operation, or the schedule the operation set.
   * `undefined` when it changed nothing (or was reverted since).
   */
  async findAppliedChange(request: PlanChangeRequest): Promise<BillingChange | undefined> {
    const account = this.#account(request);
    if (request.fromPlan === request.toPlan) return undefined;
    const previousPriceId = this.#priceId(request, request.fromPlan);
    const newPriceId = this.#priceId(request, request.toPlan);
    if (request.timing === 'period_end') {
      const schedule = await this.#attachedSchedule(request, account);
      return schedule?.metadata?.operationId === request.operationId ? scheduleChange(account, schedule, previousPriceId, newPriceId) : undefined;
    }
    const subscription = await this.#updatedSubscription(request, account, newPriceId);
    return subscription && this.#subscriptionChange(request, account, subscription, previousPriceId, newPriceId);
  }

  /** Undo `change`: old price back and the upgrade invoice refunded, or the schedule released (and the old price back if the new one took effect); safe to repeat. */
  async revertPlanChange(request: PlanChangeRequest, change: BillingChange): Promise<void> {
    if (change.kind === 'no_change') return;
    const account = this.#account(request);
    if (change.kind === 'schedule_created') await this.#releaseSchedule(request, account, change);
    else await this.#restorePrice(request, account, change);
    logger.info('Billing change reverted', { billingAdapter: this.name, tenantId: request.tenantId, operationId: request.operationId, kind: change.kind, ...change.references });
  }

  async #updateNow(request: PlanChangeRequest, account: BillingAccount, previousPriceId: string, newPriceId: string): Promise<BillingChange> {
    const upgrade = request.direction === 'upgrade';
    // Upgrades are invoiced and paid now (or refused, leaving the subscription as it was); downgrades leave a
    // proration credit on the next invoice.
    const prorationBehavior: ProrationBehavior = upgrade ? 'always_invoice' : 'create_prorations';
    const item = await this.#currentItem(request, account.subscriptionId, account);
    const subscription = await this.#keyed(
      request,
      `change the subscription to the ${request.toPlan} price`,
      stripeIdempotencyKeys(request.operationId).apply,
      (idempotencyKey) =>
        this.#stripe.subscriptions.update(
          account.subscriptionId,
          {
            items: [priceSwap(item, newPriceId)],
            proration_behavior: prorationBehavior,
            ...(upgrade ? { payment_behavior: 'error_if_incomplete' as const, expand: ['latest_invoice'] } : {}),
            metadata: { operationId: request.operationId, tenantId: request.tenantId },
          },
          { idempotencyKey },
        ),
      () => this.#updatedSubscription(request, account, newPriceId),
    );
    return this.#subscriptionChange(request, account, subscription, previousPriceId, newPriceId);
  }

  /** The subscription if this operation's price change took effect on it (read back, the latest invoice expanded). */
  async #updatedSubscription(request: PlanChangeRequest, account: BillingAccount, newPriceId: string): Promise<Stripe.Subscription | undefined> {
    const subscription = await this.#call(request, 'read the subscription', () => this.#stripe.subscriptions.retrieve(account.subscriptionId, { expand: ['latest_invoice'] }));
    const item = this.#item(request, subscription, account);
    return subscription.metadata?.operationId === request.operationId && priceIdOf(item.price) === newPriceId ? subscription : undefined;
  }

  #subscriptionChange(request: PlanChangeRequest, account: BillingAccount, subscription: Stripe.Subscription, previousPriceId: string, newPriceId: string): BillingChange {
    const upgrade = request.direction === 'upgrade';
    const prorationBehavior: ProrationBehavior = upgrade ? 'always_invoice' : 'create_prorations';
    const references: Record<string, string> = {
      subscriptionId: subscription.id,
      subscriptionItemId: account.subscriptionItemId,
      previousPriceId,
      newPriceId,
      prorationBehavior,
    };
    let amountInvoiced = 0;
    const invoice = subscription.latest_invoice;
    // The proration invoice always_invoice just created; an older invoice (a renewal) is not this change's.
    if (upgrade && invoice && typeof invoice === 'object' && invoice.billing_reason === 'subscription_update') {
      amountInvoiced = invoice.total;
      references.invoiceId = invoice.id;
    }
    return { kind: 'subscription_updated', effectiveAt: this.#now().toISOString(), amountInvoiced, currency: subscription.currency, references };
  }

  /** Stripe's documented period-end change: a schedule from the subscription, then the current phase and the next. */
  async #schedule(request: PlanChangeRequest, account: BillingAccount, previousPriceId: string, newPriceId: string): Promise<BillingChange> {
    const keys = stripeIdempotencyKeys(request.operationId);
    const created = await this.#keyed(
      request,
      'create a subscription schedule',
      keys.createSchedule,
      (idempotencyKey) => this.#stripe.subscriptionSchedules.create({ from_subscription: account.subscriptionId }, { idempotencyKey }),
      // Ours if it is not another operation's: a schedule made from a subscription carries no metadata until its phases are set.
      async () => {
        const schedule = await this.#attachedSchedule(request, account);
        const owner = schedule?.metadata?.operationId;
        return owner === undefined || owner === request.operationId ? schedule : undefined;
      },
    );
    try {
      const current = created.phases[0];
      if (!current) throw new BillingRejectedError(`Stripe created schedule ${created.id} for tenant '${request.tenantId}' without a current phase.`);
      const carried = carriedPhase(current);
      const itemsNow = carried.items;
      if (!itemsNow.some((item) => item.price === previousPriceId)) {
        throw new BillingRejectedError(
          `Subscription ${account.subscriptionId} of tenant '${request.tenantId}' is not on the ${request.fromPlan} price (${previousPriceId}) but on ${itemsNow.map((item) => item.price).join(', ')}: refusing to schedule a change from a plan it is not on.`,
        );
      }
      const itemsNext = itemsNow.map((item) => (item.price === previousPriceId ? { ...item, price: newPriceId } : item));
      await this.#keyed(
        request,
        'schedule the plan change for the end of the period',
        keys.schedulePhases,
        (idempotencyKey) =>
          this.#stripe.subscriptionSchedules.update(
            created.id,
            {
              end_behavior: 'release',
              // The current phase is restated unchanged: nothing to prorate now.
              proration_behavior: 'none',
              // The last phase runs one billing period on the new price, with everything else the current phase has;
              // then the schedule releases the subscription, which keeps it.
              phases: [
                defined({ ...carried, start_date: current.start_date, end_date: current.end_date, trial_end: current.trial_end ?? undefined, billing_cycle_anchor: current.billing_cycle_anchor ?? undefined }),
                { ...carried, items: itemsNext },
              ],
              metadata: { operationId: request.operationId, tenantId: request.tenantId },
            },
            { idempotencyKey },
          ),
        async () => {
          const schedule = await this.#call(request, `read subscription schedule ${created.id}`, () => this.#stripe.subscriptionSchedules.retrieve(created.id));
          return schedule.metadata?.operationId === request.operationId ? schedule : undefined;
        },
      );
      return scheduleChange(account, created, previousPriceId, newPriceId);
    } catch (error) {
      // A rejected schedule must not stay attached: it would block the tenant's next change. A transient failure
      // keeps it: the retried step gets the same schedule back from its idempotency key.
      if (error instanceof BillingRejectedError) {
        await this.#stripe.subscriptionSchedules.release(created.id, {}, { idempotencyKey: keys.abandonSchedule }).catch((releaseError: unknown) =>
          logger.error('Could not release an abandoned subscription schedule', { tenantId: request.tenantId, operationId: request.operationId, scheduleId: created.id, error: releaseError as Error }),
        );
      }
      throw error;
    }
  }

  async #restorePrice(request: PlanChangeRequest, account: BillingAccount, change: BillingChange): Promise<void> {
    const refs = change.references;
    const invoiced = refs.prorationBehavior === 'always_invoice';
    const subscriptionId = refs.subscriptionId ?? account.subscriptionId;
    const item = await this.#currentItem(request, subscriptionId, { ...account, subscriptionItemId: refs.subscriptionItemId ?? account.subscriptionItemId });
    const previousPriceId = refs.previousPriceId ?? this.#priceId(request, request.fromPlan);
    await this.#putBackPrice(request, subscriptionId, item, previousPriceId, invoiced ? 'none' : 'create_prorations', stripeIdempotencyKeys(request.operationId).revert);
    if (invoiced && refs.invoiceId) await this.#refundInvoice(request, refs.invoiceId);
    else if (invoiced) {
      logger.warn('Reverted an invoiced upgrade whose invoice is unknown: check the customer’s invoices in Stripe for a charge to refund', {
        tenantId: request.tenantId,
        operationId: request.operationId,
        subscriptionId: refs.subscriptionId ?? account.subscriptionId,
      });
    }
  }

  /**
   * Move the item back to the old price (quantity kept), marked with the reverted operation. Invoiced upgrade or
   * a schedule's price that took effect: no proration (the invoice is refunded separately, or the renewal
   * stands). Prorated downgrade: the reverse proration cancels the pending credit (to within the seconds between
   * the two changes).
   */
  async #putBackPrice(request: PlanChangeRequest, subscriptionId: string, item: Stripe.SubscriptionItem, previousPriceId: string, prorationBehavior: 'none' | 'create_prorations', key: string): Promise<void> {
    await this.#keyed(
      request,
      `put the subscription back on the ${request.fromPlan} price`,
      key,
      (idempotencyKey) =>
        this.#stripe.subscriptions.update(
          subscriptionId,
          { items: [priceSwap(item, previousPriceId)], proration_behavior: prorationBehavior, metadata: { revertedOperationId: request.operationId } },
          { idempotencyKey },
        ),
      async () => {
        const subscription = await this.#call(request, 'read the subscription', () => this.#stripe.subscriptions.retrieve(subscriptionId));
        const current = subscription.items.data.find((candidate) => candidate.id === item.id);
        return subscription.metadata?.revertedOperationId === request.operationId && current && priceIdOf(current.price) === previousPriceId ? subscription : undefined;
      },
    );
  }

  /** Refund (paid) or void (open) the upgrade's invoice, once, whatever its age. */
  async #refundInvoice(request: PlanChangeRequest, invoiceId: string): Promise<void> {
    const keys = stripeIdempotencyKeys(request.operationId);
    const invoice = await this.#call(request, `read invoice ${invoiceId}`, () => this.#stripe.invoices.retrieve(invoiceId));
    if (invoice.status === 'void' || invoice.total <= 0) return;
    if (invoice.status === 'open') {
      await this.#keyed(
        request,
        `void invoice ${invoiceId}`,
        keys.voidInvoice,
        (idempotencyKey) => this.#stripe.invoices.voidInvoice(invoiceId, {}, { idempotencyKey }),
        async () => {
          const voided = await this.#call(request, `read invoice ${invoiceId}`, () => this.#stripe.invoices.retrieve(invoiceId));
          return voided.status === 'void' ? voided : undefined;
        },
      );
      return;
    }
    if (invoice.status !== 'paid') {
      throw new BillingRejectedError(`Invoice ${invoiceId} of tenant '${request.tenantId}' (operation ${request.operationId}) is ${String(invoice.status)}: refund or void it in Stripe by hand.`);
    }
    // Idempotency keys expire after 24 hours; the credit note's metadata keeps a late second revert a no-op.
    const issued = async () => {
      const notes = await this.#call(request, `list the credit notes of invoice ${invoiceId}`, () => this.#stripe.creditNotes.list({ invoice: invoiceId, limit: 100 }));
      return notes.data.find((note) => note.metadata?.revertedOperationId === request.operationId && note.status !== 'void');
    };
    if (await issued()) return;
    // amount_paid came from the card; the rest of the total from the customer's credit balance, which gets it back.
    const refundAmount = Math.min(invoice.amount_paid, invoice.total);
    const creditAmount = invoice.total - refundAmount;
    await this.#keyed(request, `refund invoice ${invoiceId}`, keys.refund, (idempotencyKey) =>
      this.#stripe.creditNotes.create(
        {
          invoice: invoiceId,
          amount: invoice.total,
          ...(refundAmount > 0 ? { refund_amount: refundAmount } : {}),
          ...(creditAmount > 0 ? { credit_amount: creditAmount } : {}),
          reason: 'order_change',
          memo: `Plan change ${request.fromPlan} → ${request.toPlan} was rolled back.`,
          metadata: { revertedOperationId: request.operationId, tenantId: request.tenantId },
        },
        { idempotencyKey },
      ),
      issued,
    );
  }

  /**
   * Undo a period-end change: release the schedule (released, the subscription keeps its current price), and
   * if the new price had already taken effect (a change rolled back at the period end), put the old price back
   * without prorating: the renewal invoiced at the new price stands, so the customer is not charged for the
   * rollback. Decided on the subscription's state, not the clock, so a repeat is a no-op.
   */
  async #releaseSchedule(request: PlanChangeRequest, account: BillingAccount, change: BillingChange): Promise<void> {
    const refs = change.references;
    const scheduleId = refs.scheduleId;
    if (!scheduleId) throw new BillingRejectedError(`The billing change of operation ${request.operationId} names no subscription schedule to release.`);
    const keys = stripeIdempotencyKeys(request.operationId);
    const schedule = await this.#call(request, `read subscription schedule ${scheduleId}`, () => this.#stripe.subscriptionSchedules.retrieve(scheduleId));
    if (schedule.status === 'canceled') return; // cancelling a schedule cancels its subscription: nothing left to put back
    // Release, not cancel: cancelling a schedule cancels its subscription too.
    if (schedule.status === 'active' || schedule.status === 'not_started') {
      await this.#keyed(
        request,
        `release subscription schedule ${scheduleId}`,
        keys.revert,
        (idempotencyKey) => this.#stripe.subscriptionSchedules.release(scheduleId, {}, { idempotencyKey }),
        async () => {
          const now = await this.#call(request, `read subscription schedule ${scheduleId}`, () => this.#stripe.subscriptionSchedules.retrieve(scheduleId));
          return now.status === 'active' || now.status === 'not_started' ? undefined : now;
        },
      );
    }
    const subscriptionId = refs.subscriptionId ?? account.subscriptionId;
    const item = await this.#currentItem(request, subscriptionId, account);
    const newPriceId = refs.newPriceId ?? this.#priceId(request, request.toPlan);
    if (priceIdOf(item.price) !== newPriceId) return;
    await this.#putBackPrice(request, subscriptionId, item, refs.previousPriceId ?? this.#priceId(request, request.fromPlan), 'none', keys.restorePrice);
  }

  #account(request: PlanChangeRequest): BillingAccount {
    if (!request.account) {
      throw new BillingRejectedError(
        `Tenant '${request.tenantId}' has no Stripe subscription (customer, subscription and item ids): its plan cannot be changed through Stripe billing.`,
      );
    }
    return request.account;
  }

  #priceId(request: PlanChangeRequest, plan: PlanId): string {
    const priceId = this.#priceIds[plan];
    if (!priceId) throw new BillingRejectedError(`No Stripe price is configured for the ${plan} plan: cannot change tenant '${request.tenantId}' from ${request.fromPlan} to ${request.toPlan}.`);
    return priceId;
  }

  async #currentItem(request: PlanChangeRequest, subscriptionId: string, account: BillingAccount): Promise<Stripe.SubscriptionItem> {
    const subscription = await this.#call(request, 'read the subscription', () => this.#stripe.subscriptions.retrieve(subscriptionId));
    return this.#item(request, subscription, account);
  }

  #item(request: PlanChangeRequest, subscription: Stripe.Subscription, account: BillingAccount): Stripe.SubscriptionItem {
    const item = subscription.items.data.find((candidate) => candidate.id === account.subscriptionItemId);
    if (!item) throw new BillingRejectedError(`Subscription ${subscription.id} of tenant '${request.tenantId}' has no item ${account.subscriptionItemId}.`);
    return item;
  }

  /** The schedule attached to the tenant's subscription, if any. */
  async #attachedSchedule(request: PlanChangeRequest, account: BillingAccount): Promise<Stripe.SubscriptionSchedule | undefined> {
    const subscription = await this.#call(request, 'read the subscription', () => this.#stripe.subscriptions.retrieve(account.subscriptionId));
    const scheduleId = idOf(subscription.schedule);
    return scheduleId ? await this.#call(request, `read subscription schedule ${scheduleId}`, () => this.#stripe.subscriptionSchedules.retrieve(scheduleId)) : undefined;
  }

  /**
   * Send a mutating request under `key`, recovering from a Stripe 500. Stripe saves the first answer for a key,
   * 500s included ("Subsequent requests with the same key return the same result, including 500 errors",
   * https://docs.stripe.com/api/idempotent_requests), and a 500 leaves the outcome unknown (Stripe's "Advanced
   * error handling": treat it as indeterminate). So after a 500, `tookEffect` reads back whether the request
   * changed Stripe; if it did, its answer is that. If not, the key is spent: when Stripe replayed its saved 500
   * (`Idempotent-Replayed: true`) the request goes at once under the next key of a fixed series (`key`,
   * `key:retry-1`, ... so two concurrent retries of one step collide on a key rather than both charging); a fresh
   * 500 fails the step transiently first, so the workflow's Retry backs off before the next key is spent.
   * At most {@link STRIPE_KEYS_PER_REQUEST} keys per request; then the step keeps failing transiently.
   */
  async #keyed<T>(request: PlanChangeRequest, action: string, key: string, send: (idempotencyKey: string) => Promise<T>, tookEffect: () => Promise<T | undefined>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await send(attempt === 0 ? key : `${key}:retry-${attempt}`);
      } catch (error) {
        const stripeError = stripeErrorOf(error);
        if (!stripeError || (stripeError.statusCode ?? 0) < 500) throw toBillingError(error, request, action);
        const done = await tookEffect();
        if (done !== undefined) return done;
        const replayed = String(stripeError.headers?.['idempotent-replayed']) === 'true';
        if (!replayed || attempt + 1 >= STRIPE_KEYS_PER_REQUEST) throw toBillingError(error, request, action);
      }
    }
  }

  /**
   * The customer's invoices, newest first, a page of `limit` (1–100) after `startingAfter` (an invoice id), as
   * Stripe lists them (`GET /v1/invoices?customer=`, https://docs.stripe.com/api/invoices/list). A tenant
   * without a Stripe account has none.
   */
  async listInvoices(request: InvoiceListRequest): Promise<InvoicePage> {
    if (!request.account) return { invoices: [], hasMore: false };
    const customer = request.account.customerId;
    const page = await this.#call(request, 'list invoices', () =>
      this.#stripe.invoices.list({ customer, limit: request.limit, ...(request.startingAfter ? { starting_after: request.startingAfter } : {}) }),
    );
    return { invoices: page.data.map(invoiceFrom), hasMore: page.has_more };
  }

  async #call<T>(request: BillingCaller, action: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw toBillingError(error, request, action);
    }
  }

  /**
   * Cancel the tenant's subscription now (`DELETE /v1/subscriptions/{id}`, https://docs.stripe.com/api/subscriptions/cancel)
   * with `prorate: true` and `invoice_now: true`: the unused part of the paid period is credited and a final
   * invoice is made at once (un-invoiced usage and the credit), so nothing is billed after the soft delete and
   * the credit lands on the customer's balance, where a restored subscription's first invoice uses it. Already
   * cancelled (or gone) answers `cancelled: false`. Idempotent on `request.idempotencyKey`.
   */
  async cancelSubscription(request: CustomerLifecycleRequest): Promise<SubscriptionCancellation> {
    const account = request.account;
    if (!account) return { cancelled: false, references: {} };
    const current = await this.#subscriptionOrGone(request, account.subscriptionId);
    if (!current || subscriptionHasEnded(current.status)) return { cancelled: false, references: { subscriptionId: account.subscriptionId } };
    const cancelled = await this.#call(request, `cancel subscription ${account.subscriptionId}`, () =>
      this.#stripe.subscriptions.cancel(
        account.subscriptionId,
        { prorate: true, invoice_now: true, cancellation_details: { comment: `Tenant '${request.tenantId}' soft-deleted (${request.idempotencyKey}).` } },
        { idempotencyKey: `${request.idempotencyKey}:cancel-subscription` },
      ),
    );
    const invoiceId = idOf(cancelled.latest_invoice as string | { id?: string } | null);
    return { cancelled: true, references: { subscriptionId: cancelled.id, ...(invoiceId ? { finalInvoiceId: invoiceId } : {}) } };
  }

  /**
   * Bill the tenant again on `request.plan` after a cancelled soft delete. A cancelled subscription cannot be
   * reactivated ("After it's canceled, you can no longer update the subscription", https://docs.stripe.com/api/subscriptions/cancel),
   * so a new one is created for the same customer on the plan's price (`POST /v1/subscriptions`,
   * https://docs.stripe.com/api/subscriptions/create); a subscription that is not cancelled is kept as it is.
   * Answers the account to store (undefined without one). Idempotent on `request.idempotencyKey`.
   * Throws BillingRejectedError when no price is configured for the plan.
   */
  async restoreSubscription(request: CustomerLifecycleRequest): Promise<BillingAccount | undefined> {
    const account = request.account;
    if (!account) return undefined;
    const current = await this.#subscriptionOrGone(request, account.subscriptionId);
    if (current && !subscriptionHasEnded(current.status)) return account;
    const priceId = this.#priceIds[request.plan];
    if (!priceId) throw new BillingRejectedError(`No Stripe price is configured for the ${request.plan} plan: cannot restore the subscription of tenant '${request.tenantId}'.`);
    const created = await this.#call(request, 'create a new subscription', () =>
      this.#stripe.subscriptions.create(
        { customer: account.customerId, items: [{ price: priceId }], metadata: { tenantId: request.tenantId, restores: account.subscriptionId } },
        { idempotencyKey: `${request.idempotencyKey}:restore-subscription` },
      ),
    );
    const item = created.items.data[0];
    if (!item) throw new BillingRejectedError(`Stripe created subscription ${created.id} for tenant '${request.tenantId}' without an item.`);
    return { customerId: account.customerId, subscriptionId: created.id, subscriptionItemId: item.id };
  }

  /**
   * Delete the Stripe customer (`DELETE /v1/customers/{id}`, https://docs.stripe.com/api/customers/delete): it
   * also cancels its remaining subscriptions at once; its invoices stay in Stripe. Already deleted (Stripe answers
   * 404 `resource_missing`) is `deleted: false`. Idempotent on `request.idempotencyKey`.
   */
  async deleteCustomer(request: CustomerLifecycleRequest): Promise<{ readonly deleted: boolean }> {
    const account = request.account;
    if (!account) return { deleted: false };
    try {
      const deleted = await this.#stripe.customers.del(account.customerId, {}, { idempotencyKey: `${request.idempotencyKey}:delete-customer` });
      return { deleted: deleted.deleted === true };
    } catch (error) {
      if (stripeErrorOf(error)?.code === 'resource_missing') return { deleted: false };
      throw toBillingError(error, request, `delete customer ${account.customerId}`);
    }
  }

  /** The subscription, or undefined when Stripe has no such subscription any more. */
  async #subscriptionOrGone(request: BillingCaller, subscriptionId: string): Promise<Stripe.Subscription | undefined> {
    try {
      return await this.#stripe.subscriptions.retrieve(subscriptionId);
    } catch (error) {
      if (stripeErrorOf(error)?.code === 'resource_missing') return undefined;
      throw toBillingError(error, request, `read subscription ${subscriptionId}`);
    }
  }

  /**
   * The Stripe customer and subscription of a new tenant, or the existing ones given in `request.link`.
   *
   * Create: `POST /v1/customers` (name, email, `metadata.tenantId`; https://docs.stripe.com/api/customers/create),
   * then `POST /v1/subscriptions` on the plan's price (https://docs.stripe.com/api/subscriptions/create) with
   * `collection_method: send_invoice` and {@link NEW_SUBSCRIPTION_DAYS_UNTIL_DUE} days to pay: the new customer has
   * no payment method yet, and Stripe then emails each invoice with payment instructions and marks the subscription
   * active (charged automatically, it would stay `incomplete` and expire after 23 hours). Each request carries an
   * idempotency key derived from `request.idempotencyKey` (`:customer`, `:subscription`), so a retried create gets
   * Stripe's saved answer: one customer, one subscription.
   *
   * A plan without a configured price (`stripePriceIds`; the free plan unless given a $0 price) is not billed:
   * no customer, no subscription, `undefined`. Give the free plan a $0 price to have every tenant in Stripe.
   *
   * Link (`request.link`): reads the customer and the subscription (given, or the customer's one `active`
   * subscription) and checks they make one account on the plan's price; creates nothing. BillingLinkError (422)
   * when they do not (no such customer or a deleted one, another customer's or an ended subscription, no item on
   * the plan's price, none or several active subscriptions, a plan without a price); BillingTransientError and
   * BillingRejectedError as every call (toBillingError).
   */
  async createCustomer(request: NewCustomerRequest): Promise<BillingAccount | undefined> {
    const priceId = this.#priceIds[request.plan];
    if (request.link) return this.#linkCustomer(request, request.link, priceId);
    if (!priceId) return undefined;
    const customer = await this.#call(request, 'create the Stripe customer', () =>
      this.#stripe.customers.create({ name: request.name, email: request.email, metadata: { tenantId: request.tenantId } }, { idempotencyKey: `${request.idempotencyKey}:customer` }),
    );
    const subscription = await this.#call(request, `subscribe customer ${customer.id} to the ${request.plan} price`, () =>
      this.#stripe.subscriptions.create(
        {
          customer: customer.id,
          items: [{ price: priceId }],
          collection_method: 'send_invoice',
          days_until_due: NEW_SUBSCRIPTION_DAYS_UNTIL_DUE,
          metadata: { tenantId: request.tenantId },
        },
        { idempotencyKey: `${request.idempotencyKey}:subscription` },
      ),
    );
    const item = subscription.items.data.find((candidate) => priceIdOf(candidate.price) === priceId);
    if (!item) throw new BillingRejectedError(`Stripe created subscription ${subscription.id} for tenant '${request.tenantId}' without an item on price ${priceId}.`);
    logger.info('Billing customer created', { billingAdapter: this.name, tenantId: request.tenantId, customerId: customer.id, subscriptionId: subscription.id });
    return { customerId: customer.id, subscriptionId: subscription.id, subscriptionItemId: item.id };
  }

  /** The account the link ids make, checked against Stripe (see createCustomer). */
  async #linkCustomer(request: NewCustomerRequest, link: NonNullable<NewCustomerRequest['link']>, priceId: string | undefined): Promise<BillingAccount> {
    const refuse = (why: string) => new BillingLinkError(`Cannot link tenant '${request.tenantId}' to Stripe customer ${link.customerId}: ${why}`);
    if (!priceId) throw refuse(`no Stripe price is configured for the ${request.plan} plan, so it has no subscription to link (configure stripePriceIds, or create the tenant on a priced plan).`);
    const customer = await this.#orMissing(request, `read customer ${link.customerId}`, () => this.#stripe.customers.retrieve(link.customerId));
    if (!customer || customer.deleted) throw refuse('Stripe has no such customer (or it was deleted).');
    let subscription: Stripe.Subscription | undefined;
    if (link.subscriptionId) {
      const subscriptionId = link.subscriptionId;
      subscription = await this.#orMissing(request, `read subscription ${subscriptionId}`, () => this.#stripe.subscriptions.retrieve(subscriptionId));
      if (!subscription) throw refuse(`Stripe has no subscription ${subscriptionId}.`);
      if (idOf(subscription.customer) !== link.customerId) throw refuse(`subscription ${subscriptionId} belongs to customer ${idOf(subscription.customer) ?? 'unknown'}.`);
      if (subscriptionHasEnded(subscription.status)) throw refuse(`subscription ${subscriptionId} has ended (${subscription.status}).`);
    } else {
      const active = await this.#call(request, `list the subscriptions of customer ${link.customerId}`, () => this.#stripe.subscriptions.list({ customer: link.customerId, status: 'active', limit: 2 }));
      if (active.data.length !== 1) {
        throw refuse(active.data.length === 0 ? 'it has no active subscription; give subscriptionId.' : `it has several active subscriptions (${active.data.map((candidate) => candidate.id).join(', ')}...); give subscriptionId.`);
      }
      subscription = active.data[0] as Stripe.Subscription;
    }
    const item = subscription.items.data.find((candidate) => priceIdOf(candidate.price) === priceId);
    if (!item) {
      const prices = subscription.items.data.map((candidate) => priceIdOf(candidate.price)).join(', ') || 'none';
      throw refuse(`subscription ${subscription.id} has no item on the ${request.plan} plan's price ${priceId} (its prices: ${prices}); create the tenant on the plan it pays for.`);
    }
    if (link.subscriptionItemId && link.subscriptionItemId !== item.id) throw refuse(`subscription item ${link.subscriptionItemId} is not the item on price ${priceId} of subscription ${subscription.id} (that is ${item.id}).`);
    return { customerId: link.customerId, subscriptionId: subscription.id, subscriptionItemId: item.id };
  }

  /** `read`'s answer, or undefined when Stripe answers 404 `resource_missing`. */
  async #orMissing<T>(request: BillingCaller, action: string, read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      if (stripeErrorOf(error)?.code === 'resource_missing') return undefined;
      throw toBillingError(error, request, action);
    }
  }

  /** `subscriptions.retrieve`: Stripe's current status, whatever the event said; undefined when Stripe has no such subscription. */
  async retrieveSubscription(request: SubscriptionLookup): Promise<SubscriptionState | undefined> {
    const { subscriptionId } = request.account;
    try {
      const subscription = await this.#stripe.subscriptions.retrieve(subscriptionId);
      const status = subscription.status as string;
      if (!isSubscriptionStatus(status)) {
        // A status newer than this code: acting on a guess could suspend or resume the wrong tenant.
        throw new BillingRejectedError(`Stripe answered subscription ${subscriptionId} with status '${status}', which this version does not know (known: ${SUBSCRIPTION_STATUSES.join(', ')}).`);
      }
      return { subscriptionId: subscription.id, customerId: idOf(subscription.customer) ?? request.account.customerId, status };
    } catch (error) {
      if (error instanceof BillingRejectedError) throw error;
      if (stripeErrorOf(error)?.code === 'resource_missing') return undefined;
      throw toBillingError(error, request, `read subscription ${subscriptionId}`);
    }
  }
}
