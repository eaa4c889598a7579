/**
 * The Stripe adapter drives the real Stripe SDK against a local fake of the API (test/support/fake-stripe-server):
 * these tests pin the exact requests each plan change sends, the idempotency keys, and how failures are mapped.
 */
import Stripe from 'stripe';
import {
  BillingRejectedError,
  BillingTransientError,
  type BillingChange,
  type PlanChangeRequest,
} from '../../../functions/billing/billing-port';
import { StripeBilling } from '../../../functions/billing/stripe-billing';
import { logger } from '../../../functions/shared/powertools';
import { acmeUpgrade } from '../../support/billing-requests';
import { FAKE_PRORATION, FakeStripeServer, stripeError, type SeedSubscription } from '../../support/fake-stripe-server';

const NOW = new Date('2026-11-11T00:00:00.000Z');
const PERIOD_START = Date.UTC(2026, 10, 1) / 1000;
const PERIOD_END = Date.UTC(2026, 11, 1) / 1000;
const PRICE_IDS = { starter: 'price_starter', professional: 'price_professional', enterprise: 'price_enterprise' };
const UPGRADE: PlanChangeRequest = acmeUpgrade('op-upgrade-1');
const DOWNGRADE_AT_PERIOD_END: PlanChangeRequest = { ...UPGRADE, operationId: 'op-downgrade-1', fromPlan: 'professional', toPlan: 'starter', direction: 'downgrade', timing: 'period_end' };
/** The error `promise` rejects with (the test fails if it resolves). */
async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error;
}

const DOWNGRADE_NOW: PlanChangeRequest = { ...DOWNGRADE_AT_PERIOD_END, operationId: 'op-downgrade-2', timing: 'immediately' };

/**
 * A customer whose subscription sets every field a Stripe update that replaces a structure would reset: a
 * discount, tax rates, invoicing by email, thresholds, a trial in the current period, Connect fields, and on the
 * item a quantity, its own tax rate, discount, metadata and usage threshold.
 */
const DRESSED = {
  quantity: 3,
  metadata: { crm: 'acct-42' },
  settings: {
    discounts: ['di_loyalty'],
    default_tax_rates: ['txr_vat'],
    collection_method: 'send_invoice',
    days_until_due: 14,
    billing_thresholds: { amount_gte: 50_000, reset_billing_cycle_anchor: false },
    trial_end: PERIOD_START + 7 * 86_400,
    default_payment_method: 'pm_card_acme',
    description: 'Acme: contract 2026-17',
    automatic_tax: { enabled: true, liability: { type: 'self' } },
    application_fee_percent: 5,
    transfer_data: { amount_percent: 90, destination: 'acct_partner' },
    on_behalf_of: 'acct_partner',
    invoice_settings: { account_tax_ids: ['txi_eu'], issuer: { type: 'self' } },
  },
  item: { tax_rates: ['txr_item'], discounts: ['di_item'], metadata: { seats: 'pro' }, billing_thresholds: { usage_gte: 100 } },
} satisfies Partial<SeedSubscription>;

describe('Class: StripeBilling', () => {
  let fake: FakeStripeServer;
  let billing: StripeBilling;

  beforeAll(async () => {
    fake = await FakeStripeServer.start();
  });

  afterAll(async () => {
    await fake.close();
  });

  /** A fresh fake with the tenant's subscription on `priceId`. */
  function seed(priceId: string, fields: Partial<SeedSubscription> = {}): void {
    fake.reset();
    fake.seedSubscription({ id: 'sub_acme', itemId: 'si_acme', customerId: 'cus_acme', priceId, currentPeriodStart: PERIOD_START, currentPeriodEnd: PERIOD_END, ...fields });
    billing = new StripeBilling({ stripe: fake.stripeClient(), priceIds: PRICE_IDS, now: () => NOW });
  }

  beforeEach(() => seed('price_starter'));

  describe('Method: previewPlanChange', () => {
    it('should preview an immediate upgrade with Stripe’s invoice preview of the swapped price, not keyed on the operation', async () => {
      // Act
      const preview = await billing.previewPlanChange(UPGRADE);

      // Assess: the item's quantity is read first and sent, as the apply sends it
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/subscriptions/sub_acme', 'POST /v1/invoices/create_preview']);
      const [, request] = fake.requests;
      expect(request?.form).toEqual({
        subscription: 'sub_acme',
        'subscription_details[items][0][id]': 'si_acme',
        'subscription_details[items][0][price]': 'price_professional',
        'subscription_details[items][0][quantity]': '1',
        'subscription_details[proration_behavior]': 'always_invoice',
        'subscription_details[proration_date]': String(NOW.getTime() / 1000),
      });
      // A preview changes nothing: the SDK's own random key, not one that would replay an old preview.
      expect(request?.idempotencyKey).toMatch(/^stripe-node-retry-/);
      expect(preview).toEqual({
        source: 'stripe',
        currency: 'usd',
        amountDueNow: FAKE_PRORATION.net,
        effectiveAt: NOW.toISOString(),
        lines: [
          { description: 'Unused time on 1 × price_starter', amount: FAKE_PRORATION.unusedTimeCredit },
          { description: 'Remaining time on 1 × price_professional', amount: FAKE_PRORATION.remainingTimeCharge },
        ],
      });
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
    });

    it('should preview a period-end downgrade as nothing due until the subscription item’s current period end', async () => {
      // Prepare
      seed('price_professional');

      // Act
      const preview = await billing.previewPlanChange(DOWNGRADE_AT_PERIOD_END);

      // Assess
      expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /v1/subscriptions/sub_acme']);
      expect(preview).toMatchObject({ source: 'stripe', currency: 'usd', amountDueNow: 0, effectiveAt: '2026-12-01T00:00:00.000Z' });
    });

    it('should report nothing due now for an immediate downgrade while listing its proration lines', async () => {
      // Prepare
      seed('price_professional');

      // Act
      const preview = await billing.previewPlanChange(DOWNGRADE_NOW);

      // Assess
      expect(fake.requestsTo('POST', '/v1/invoices/create_preview')[0]?.form['subscription_details[items][0][price]']).toBe('price_starter');
      expect(preview.amountDueNow).toBe(0);
      expect(preview.lines).toHaveLength(2);
    });

    it('should refuse a tenant without a Stripe subscription, without calling Stripe', async () => {
      // Act & Assess
      await expect(billing.previewPlanChange({ ...UPGRADE, account: undefined })).rejects.toThrow(
        new BillingRejectedError("Tenant 'acme-corp' has no Stripe subscription (customer, subscription and item ids): its plan cannot be changed through Stripe billing."),
      );
      expect(fake.requests).toHaveLength(0);
    });

    it('should refuse a plan that has no configured Stripe price', async () => {
      // Act & Assess
      await expect(billing.previewPlanChange({ ...DOWNGRADE_NOW, toPlan: 'free' })).rejects.toThrow(/No Stripe price is configured for the free plan/);
      expect(fake.requests).toHaveLength(0);
    });

    it('should preview a change to the plan the tenant is already on as nothing due, without calling Stripe', async () => {
      // Act
      const preview = await billing.previewPlanChange({ ...UPGRADE, toPlan: 'starter' });

      // Assess
      expect(preview).toEqual({ source: 'stripe', currency: 'usd', amountDueNow: 0, effectiveAt: NOW.toISOString(), lines: [] });
      expect(fake.requests).toHaveLength(0);
    });

    it('should show a preview line Stripe leaves without a description as a proration, with its amount', async () => {
      // Prepare: Stripe's invoice preview with a line whose description is null
      fake.once('POST', '/v1/invoices/create_preview', {
        body: { object: 'invoice', currency: 'usd', total: 4667, lines: { object: 'list', has_more: false, data: [{ object: 'line_item', description: null, amount: 4667, currency: 'usd' }] } },
      });

      // Act
      const preview = await billing.previewPlanChange(UPGRADE);

      // Assess
      expect(preview).toMatchObject({ amountDueNow: 4667, lines: [{ description: 'Proration', amount: 4667 }] });
    });
  });

  describe('Method: applyPlanChange', () => {
    it('should swap the item’s price, invoice the proration now and refuse an incomplete payment, keyed on the operation', async () => {
      // Act
      const change = await billing.applyPlanChange(UPGRADE);

      // Assess: the item's quantity is read first, as Stripe resets it to 1 on a price change that omits it
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/subscriptions/sub_acme', 'POST /v1/subscriptions/sub_acme']);
      const [, request] = fake.requests;
      expect(request?.form).toEqual({
        'items[0][id]': 'si_acme',
        'items[0][price]': 'price_professional',
        'items[0][quantity]': '1',
        proration_behavior: 'always_invoice',
        payment_behavior: 'error_if_incomplete',
        'metadata[operationId]': 'op-upgrade-1',
        'metadata[tenantId]': 'acme-corp',
        'expand[0]': 'latest_invoice',
      });
      expect(request?.idempotencyKey).toBe('op-upgrade-1:apply');
      expect(request?.stripeVersion).toBe(Stripe.API_VERSION);
      const invoiceId = fake.subscription('sub_acme')?.latestInvoiceId;
      expect(change).toEqual({
        kind: 'subscription_updated',
        effectiveAt: NOW.toISOString(),
        amountInvoiced: FAKE_PRORATION.net,
        currency: 'usd',
        references: {
          subscriptionId: 'sub_acme',
          subscriptionItemId: 'si_acme',
          previousPriceId: 'price_starter',
          newPriceId: 'price_professional',
          prorationBehavior: 'always_invoice',
          invoiceId,
        },
      });
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_professional');
    });

    it('should send the same idempotency key when the apply is retried, so Stripe replays the first change', async () => {
      // Act
      const first = await billing.applyPlanChange(UPGRADE);
      const second = await billing.applyPlanChange(UPGRADE);

      // Assess
      const updates = fake.requestsTo('POST', '/v1/subscriptions/sub_acme');
      expect(updates.map((request) => request.idempotencyKey)).toEqual(['op-upgrade-1:apply', 'op-upgrade-1:apply']);
      expect(updates[1]?.form).toEqual(updates[0]?.form);
      expect(second).toEqual(first);
    });

    it('should retry with the same key after a transient failure and apply the change once', async () => {
      // Prepare
      fake.once('POST', '/v1/subscriptions/:id', stripeError(503, { type: 'api_error', message: 'Service unavailable' }));

      // Act
      await expect(billing.applyPlanChange(UPGRADE)).rejects.toBeInstanceOf(BillingTransientError);
      const change = await billing.applyPlanChange(UPGRADE);

      // Assess
      expect(fake.requestsTo('POST').map((request) => request.idempotencyKey)).toEqual(['op-upgrade-1:apply', 'op-upgrade-1:apply']);
      expect(change.amountInvoiced).toBe(FAKE_PRORATION.net);
    });

    it('should schedule a period-end downgrade: a schedule from the subscription, then the current phase and the new price', async () => {
      // Prepare
      seed('price_professional');

      // Act
      const change = await billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END);

      // Assess
      expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        'POST /v1/subscription_schedules',
        `POST /v1/subscription_schedules/${change.references.scheduleId}`,
      ]);
      const [create, update] = fake.requests;
      expect(create?.form).toEqual({ from_subscription: 'sub_acme' });
      expect(create?.idempotencyKey).toBe('op-downgrade-1:apply:schedule');
      expect(update?.form).toEqual({
        end_behavior: 'release',
        proration_behavior: 'none',
        'phases[0][items][0][price]': 'price_professional',
        'phases[0][items][0][quantity]': '1',
        'phases[0][collection_method]': 'charge_automatically',
        'phases[0][invoice_settings][issuer][type]': 'self',
        'phases[0][proration_behavior]': 'create_prorations',
        'phases[0][start_date]': String(PERIOD_START),
        'phases[0][end_date]': String(PERIOD_END),
        'phases[1][items][0][price]': 'price_starter',
        'phases[1][items][0][quantity]': '1',
        'phases[1][collection_method]': 'charge_automatically',
        'phases[1][invoice_settings][issuer][type]': 'self',
        'phases[1][proration_behavior]': 'create_prorations',
        'metadata[operationId]': 'op-downgrade-1',
        'metadata[tenantId]': 'acme-corp',
      });
      expect(update?.idempotencyKey).toBe('op-downgrade-1:apply:schedule-phases');
      expect(change).toEqual({
        kind: 'schedule_created',
        effectiveAt: '2026-12-01T00:00:00.000Z',
        amountInvoiced: 0,
        currency: 'usd',
        references: { subscriptionId: 'sub_acme', scheduleId: expect.stringMatching(/^sub_sched_/), previousPriceId: 'price_professional', newPriceId: 'price_starter' },
      });
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_professional');
    });

    it('should release the schedule it created and refuse when the subscription is not on the old plan’s price', async () => {
      // Prepare: the subscription is on enterprise, the request says professional
      seed('price_enterprise');

      // Act & Assess
      await expect(billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END)).rejects.toThrow(/is not on the professional price \(price_professional\) but on price_enterprise/);
      expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        'POST /v1/subscription_schedules',
        expect.stringMatching(/^POST \/v1\/subscription_schedules\/sub_sched_\w+\/release$/),
      ]);
      expect(fake.subscription('sub_acme')?.scheduleId).toBeNull();
    });

    it('should still refuse with the reason, and log the schedule left attached for an operator, when releasing it fails', async () => {
      // Prepare
      seed('price_enterprise');
      fake.once('POST', '/v1/subscription_schedules/:id/release', stripeError(400, { type: 'invalid_request_error', message: 'You cannot release this schedule.' }));
      const logged = jest.spyOn(logger, 'error').mockImplementation(() => undefined);

      // Act
      const error = await failureOf(billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END));

      // Assess: the caller gets why the change was refused, not the failed clean-up; the operator gets the schedule to release
      expect(error).toBeInstanceOf(BillingRejectedError);
      expect(error.message).toMatch(/is not on the professional price \(price_professional\) but on price_enterprise/);
      const scheduleId = fake.subscription('sub_acme')?.scheduleId as string;
      expect(scheduleId).toMatch(/^sub_sched_/);
      expect(logged).toHaveBeenCalledWith('Could not release an abandoned subscription schedule', expect.objectContaining({ tenantId: 'acme-corp', operationId: 'op-downgrade-1', scheduleId }));
      logged.mockRestore();
    });

    it('should downgrade immediately with a proration credit for the next invoice and no payment now', async () => {
      // Prepare
      seed('price_professional');

      // Act
      const change = await billing.applyPlanChange(DOWNGRADE_NOW);

      // Assess
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/subscriptions/sub_acme', 'POST /v1/subscriptions/sub_acme']);
      expect(fake.requests[1]?.form).toEqual({
        'items[0][id]': 'si_acme',
        'items[0][price]': 'price_starter',
        'items[0][quantity]': '1',
        proration_behavior: 'create_prorations',
        'metadata[operationId]': 'op-downgrade-2',
        'metadata[tenantId]': 'acme-corp',
      });
      expect(fake.requests[1]?.idempotencyKey).toBe('op-downgrade-2:apply');
      expect(change).toMatchObject({ kind: 'subscription_updated', amountInvoiced: 0, references: { prorationBehavior: 'create_prorations' } });
    });

    it('should refuse a tenant without a Stripe subscription', async () => {
      // Act & Assess
      await expect(billing.applyPlanChange({ ...UPGRADE, account: undefined })).rejects.toThrow(/has no Stripe subscription/);
      expect(fake.requests).toHaveLength(0);
    });

    it.each([
      {
        what: 'a declined card (402)',
        reply: stripeError(402, { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' }),
        error: BillingRejectedError,
        cause: Stripe.errors.StripeCardError,
        message: /Stripe declined the payment; tenant 'acme-corp' \(operation op-upgrade-1\) could not change the subscription to the professional price: Your card has insufficient funds\. \[card_declined\/insufficient_funds\]/,
      },
      {
        what: 'a Stripe server error (500)',
        reply: stripeError(500, { type: 'api_error', message: 'An unknown error occurred' }),
        error: BillingTransientError,
        cause: Stripe.errors.StripeAPIError,
        message: /^Stripe failed; /,
      },
      {
        what: 'a rate limit (429)',
        reply: stripeError(429, { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly.' }),
        error: BillingTransientError,
        cause: Stripe.errors.StripeRateLimitError,
        message: /^Stripe rate-limited us; /,
      },
      {
        what: 'a request still running under the same key (409)',
        reply: stripeError(409, { type: 'invalid_request_error', code: 'idempotency_key_in_use', message: 'There is currently another in-progress request using this Idempotent Key.' }),
        error: BillingTransientError,
        cause: Stripe.errors.StripeAPIError,
        message: /^Stripe failed; /,
      },
      {
        what: 'an invalid request (400)',
        reply: stripeError(400, { type: 'invalid_request_error', param: 'items[0][price]', message: 'No such price: price_professional' }),
        error: BillingRejectedError,
        cause: Stripe.errors.StripeInvalidRequestError,
        message: /^Stripe rejected the request; .*No such price: price_professional/,
      },
      {
        what: 'a key reused with other parameters (400 idempotency_error)',
        reply: stripeError(400, { type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.' }),
        error: BillingRejectedError,
        cause: Stripe.errors.StripeIdempotencyError,
        message: /^Stripe refused a reused idempotency key/,
      },
      {
        what: 'a refused API key (401)',
        reply: stripeError(401, { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****fake' }),
        error: BillingRejectedError,
        cause: Stripe.errors.StripeAuthenticationError,
        message: /^Stripe refused the configured API key; /,
      },
    ])('should map $what to $error.name, keeping the Stripe error as cause', async ({ reply, error, cause, message }) => {
      // Prepare
      fake.on('POST', '/v1/subscriptions/:id', reply);

      // Act
      const failure = await failureOf(billing.applyPlanChange(UPGRADE));

      // Assess
      expect(failure).toBeInstanceOf(error);
      expect(failure.message).toMatch(message);
      expect(failure.cause).toBeInstanceOf(cause);
    });

    it('should map an unreachable Stripe to BillingTransientError', async () => {
      // Prepare: a server that is gone
      const gone = await FakeStripeServer.start();
      const stripe = gone.stripeClient();
      await gone.close();
      const offline = new StripeBilling({ stripe, priceIds: PRICE_IDS, now: () => NOW });

      // Act
      const failure = await failureOf(offline.applyPlanChange(UPGRADE));

      // Assess
      expect(failure).toBeInstanceOf(BillingTransientError);
      expect(failure.message).toMatch(/^Stripe is unreachable; /);
      expect(failure.cause).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    });

    it('should not call Stripe when the plan does not change', async () => {
      // Act
      const change = await billing.applyPlanChange({ ...UPGRADE, toPlan: 'starter' });

      // Assess
      expect(change.kind).toBe('no_change');
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('Method: findAppliedChange', () => {
    it('should read back an applied immediate upgrade as the change the apply returned, and nothing before it', async () => {
      // Act
      const before = await billing.findAppliedChange(UPGRADE);
      const change = await billing.applyPlanChange(UPGRADE);
      fake.requests.length = 0;
      const found = await billing.findAppliedChange(UPGRADE);

      // Assess: the same invoice to refund, read without changing anything
      expect(before).toBeUndefined();
      expect(found).toEqual(change);
      expect(fake.mutations).toHaveLength(0);
    });

    it('should find no period-end change while no schedule is attached, nor when the attached schedule is another operation’s', async () => {
      // Prepare
      seed('price_professional');

      // Act & Assess
      expect(await billing.findAppliedChange(DOWNGRADE_AT_PERIOD_END)).toBeUndefined();
      await billing.applyPlanChange({ ...DOWNGRADE_AT_PERIOD_END, operationId: 'op-other' });
      expect(await billing.findAppliedChange(DOWNGRADE_AT_PERIOD_END)).toBeUndefined();
    });

    it('should find nothing for a change to the same plan, without calling Stripe', async () => {
      expect(await billing.findAppliedChange({ ...UPGRADE, toPlan: 'starter' })).toBeUndefined();
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('A Stripe 500, saved under its idempotency key', () => {
    const keysSent = (path: string) => fake.requestsTo('POST', path).map((request) => request.idempotencyKey);

    it('should succeed on the retried step under a new key when the 500 changed nothing, charged once', async () => {
      // Prepare
      fake.serverError('POST', '/v1/subscriptions/:id', { applied: false });

      // Act: the step fails transiently, then the workflow retries it
      await expect(billing.applyPlanChange(UPGRADE)).rejects.toBeInstanceOf(BillingTransientError);
      const change = await billing.applyPlanChange(UPGRADE);

      // Assess: the first key replays its 500, so the retry moves on to the next key of the series
      expect(keysSent('/v1/subscriptions/sub_acme')).toEqual(['op-upgrade-1:apply', 'op-upgrade-1:apply', 'op-upgrade-1:apply:retry-1']);
      expect(change).toMatchObject({ kind: 'subscription_updated', amountInvoiced: FAKE_PRORATION.net, references: { invoiceId: expect.stringMatching(/^in_/) } });
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_professional');
      expect(fake.invoices.map((invoice) => invoice.id)).toEqual([change.references.invoiceId]);
      // and a third attempt replays, charging nothing more
      expect(await billing.applyPlanChange(UPGRADE)).toEqual(change);
      expect(fake.invoice(change.references.invoiceId as string)).toMatchObject({ billing_reason: 'subscription_update' });
    });

    it('should take a 500 that came after the change took effect as done, never sending it again', async () => {
      // Prepare
      fake.serverError('POST', '/v1/subscriptions/:id', { applied: true });

      // Act
      const change = await billing.applyPlanChange(UPGRADE);
      const again = await billing.applyPlanChange(UPGRADE);

      // Assess: one update reached Stripe and one proration invoice exists; the answer is read back from Stripe
      expect(keysSent('/v1/subscriptions/sub_acme')).toEqual(['op-upgrade-1:apply', 'op-upgrade-1:apply']);
      expect(change).toMatchObject({ amountInvoiced: FAKE_PRORATION.net, references: { invoiceId: fake.subscription('sub_acme')?.latestInvoiceId } });
      expect(again).toEqual(change);
      expect(fake.invoices).toHaveLength(1);
    });

    it('should keep failing transiently, changing nothing, while Stripe keeps answering 500', async () => {
      // Prepare
      fake.serverError('POST', '/v1/subscriptions/:id', { applied: false, times: 100 });

      // Act
      for (let attempt = 0; attempt < 4; attempt += 1) await expect(billing.applyPlanChange(UPGRADE)).rejects.toBeInstanceOf(BillingTransientError);

      // Assess: one new key per attempt, each tried once; nothing changed, nothing invoiced
      expect(new Set(keysSent('/v1/subscriptions/sub_acme'))).toEqual(new Set(['op-upgrade-1:apply', 'op-upgrade-1:apply:retry-1', 'op-upgrade-1:apply:retry-2', 'op-upgrade-1:apply:retry-3']));
      expect(fake.subscription('sub_acme')).toMatchObject({ priceId: 'price_starter', latestInvoiceId: null });
      expect(fake.invoices).toHaveLength(0);
      expect(await billing.findAppliedChange(UPGRADE)).toBeUndefined();
    });

    it.each([
      { what: 'creating the schedule', path: '/v1/subscription_schedules' },
      { what: 'setting its phases', path: '/v1/subscription_schedules/:id' },
    ])('should recover a period-end downgrade from a 500 while $what, with or without effect', async ({ path }) => {
      for (const applied of [false, true]) {
        // Prepare
        seed('price_professional');
        fake.serverError('POST', path, { applied });

        // Act
        const change = await billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END).catch(() => billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END));

        // Assess: one schedule, attached, with both phases
        const scheduleId = change.references.scheduleId as string;
        expect(fake.subscription('sub_acme')?.scheduleId).toBe(scheduleId);
        expect(fake.schedule(scheduleId)).toMatchObject({ status: 'active', metadata: { operationId: 'op-downgrade-1' }, phases: [{ items: [{ price: 'price_professional' }] }, { items: [{ price: 'price_starter' }] }] });
        expect(await billing.findAppliedChange(DOWNGRADE_AT_PERIOD_END)).toEqual(change);
      }
    });

    it('should not adopt another operation’s schedule when creating its own answered 500: the step fails transiently, the other schedule untouched', async () => {
      // Prepare: another operation's period-end change holds the subscription's schedule
      seed('price_professional');
      const other = await billing.applyPlanChange({ ...DOWNGRADE_AT_PERIOD_END, operationId: 'op-other' });
      const otherSchedule = structuredClone(fake.schedule(other.references.scheduleId as string));
      fake.requests.length = 0;
      fake.serverError('POST', '/v1/subscription_schedules', { applied: false });

      // Act
      const error = await failureOf(billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END));

      // Assess: only the create was sent; the schedule read back was not taken for this operation's
      expect(error).toBeInstanceOf(BillingTransientError);
      expect(fake.mutations.map((request) => `${request.method} ${request.path}`)).toEqual(['POST /v1/subscription_schedules']);
      expect(fake.schedule(other.references.scheduleId as string)).toEqual(otherSchedule);
      expect(await billing.findAppliedChange(DOWNGRADE_AT_PERIOD_END)).toBeUndefined();
    });

    it('should refund once when the credit note answered 500 after being issued, or issue it under a new key when it was not', async () => {
      for (const applied of [true, false]) {
        // Prepare
        seed('price_starter');
        const change = await billing.applyPlanChange(UPGRADE);
        fake.serverError('POST', '/v1/credit_notes', { applied });

        // Act
        await billing.revertPlanChange(UPGRADE, change).catch(() => billing.revertPlanChange(UPGRADE, change));

        // Assess
        expect(fake.creditNotes).toHaveLength(1);
        expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
      }
    });

    it.each([
      {
        what: 'putting the old price back',
        request: UPGRADE,
        from: 'price_starter',
        fields: {} as Partial<SeedSubscription>,
        path: '/v1/subscriptions/:id',
        key: 'op-upgrade-1:revert',
        undone: (change: BillingChange) => {
          expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
          expect(fake.creditNotes.map((note) => note.invoice)).toEqual([change.references.invoiceId]);
        },
      },
      {
        what: 'voiding the open upgrade invoice',
        request: UPGRADE,
        from: 'price_starter',
        fields: { settings: { collection_method: 'send_invoice', days_until_due: 30 } } as Partial<SeedSubscription>,
        path: '/v1/invoices/:id/void',
        key: 'op-upgrade-1:revert:void',
        undone: (change: BillingChange) => {
          expect(fake.invoice(change.references.invoiceId as string)?.status).toBe('void');
          expect(fake.creditNotes).toHaveLength(0);
        },
      },
      {
        what: 'releasing the schedule',
        request: DOWNGRADE_AT_PERIOD_END,
        from: 'price_professional',
        fields: {} as Partial<SeedSubscription>,
        path: '/v1/subscription_schedules/:id/release',
        key: 'op-downgrade-1:revert',
        undone: (change: BillingChange) => {
          expect(fake.subscription('sub_acme')).toMatchObject({ scheduleId: null, priceId: 'price_professional' });
          expect(fake.schedule(change.references.scheduleId as string)?.status).toBe('released');
        },
      },
    ])('should recover a revert from a 500 while $what: done once when it took effect, sent again under the next key when not', async ({ request, from, fields, path, key, undone }) => {
      for (const applied of [true, false]) {
        // Prepare
        seed(from, fields);
        const change = await billing.applyPlanChange(request);
        fake.requests.length = 0;
        fake.serverError('POST', path, { applied });

        // Act: the compensation fails transiently at most once, then the workflow retries it
        const first = await billing.revertPlanChange(request, change).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (first) await billing.revertPlanChange(request, change);

        // Assess: read back instead of resent when the 500 came after the change; otherwise the saved 500 is replayed once, then a new key
        const sent = fake.requests.map((sentRequest) => sentRequest.idempotencyKey).filter((sentKey) => sentKey === key || sentKey?.startsWith(`${key}:retry-`));
        if (applied) {
          expect(first).toBeUndefined();
          expect(sent).toEqual([key]);
        } else {
          expect(first).toBeInstanceOf(BillingTransientError);
          expect(sent).toEqual([key, key, `${key}:retry-1`]);
        }
        undone(change);
      }
    });
  });

  describe('Fields Stripe resets when an update replaces a structure', () => {
    /** What the subscription keeps through a change: everything but the price. */
    const kept = (priceId: string) => ({ priceId, quantity: DRESSED.quantity, settings: DRESSED.settings, item: DRESSED.item, metadata: expect.objectContaining(DRESSED.metadata) });

    it('should restate the current phase and give the next one every field of the subscription, so the downgrade keeps the discount, tax rates and the rest', async () => {
      // Prepare
      seed('price_professional', DRESSED);

      // Act
      const change = await billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END);

      // Assess: the phases as Stripe stores them (replaced wholesale: whatever was not sent is gone)
      const scheduleId = change.references.scheduleId as string;
      const [current, next] = fake.schedule(scheduleId)?.phases as Array<Record<string, unknown>>;
      const carried = {
        discounts: [{ coupon: null, discount: 'di_loyalty', promotion_code: null }],
        default_tax_rates: [expect.objectContaining({ id: 'txr_vat' })],
        collection_method: 'send_invoice',
        invoice_settings: { account_tax_ids: ['txi_eu'], days_until_due: 14, issuer: { type: 'self' } },
        billing_thresholds: DRESSED.settings.billing_thresholds,
        default_payment_method: 'pm_card_acme',
        description: 'Acme: contract 2026-17',
        automatic_tax: expect.objectContaining({ enabled: true, liability: { type: 'self' } }),
        application_fee_percent: 5,
        transfer_data: DRESSED.settings.transfer_data,
        on_behalf_of: 'acct_partner',
        metadata: expect.objectContaining(DRESSED.metadata),
      };
      const item = (price: string) => ({
        price,
        quantity: 3,
        tax_rates: [expect.objectContaining({ id: 'txr_item' })],
        discounts: [{ coupon: null, discount: 'di_item', promotion_code: null }],
        metadata: { seats: 'pro' },
        billing_thresholds: { usage_gte: 100 },
      });
      expect(current).toMatchObject({ ...carried, start_date: PERIOD_START, end_date: PERIOD_END, trial_end: DRESSED.settings.trial_end, items: [item('price_professional')] });
      expect(next).toMatchObject({ ...carried, trial_end: null, items: [item('price_starter')] });

      // Act: the period ends and the next phase takes effect
      fake.advanceSchedule(scheduleId);

      // Assess: the customer is on starter with everything else as it was
      expect(fake.subscription('sub_acme')).toMatchObject({ ...kept('price_starter'), settings: { ...DRESSED.settings, trial_end: null } });
    });

    it.each([
      { what: 'upgrade', request: UPGRADE, from: 'price_starter', to: 'price_professional' },
      { what: 'downgrade', request: DOWNGRADE_NOW, from: 'price_professional', to: 'price_starter' },
    ])('should keep the quantity and the item’s fields through an immediate $what and its revert', async ({ request, from, to }) => {
      // Prepare
      seed(from, DRESSED);

      // Act
      const change = await billing.applyPlanChange(request);
      const changed = structuredClone(fake.subscription('sub_acme'));
      await billing.revertPlanChange(request, change);

      // Assess
      expect(changed).toMatchObject(kept(to));
      expect(fake.subscription('sub_acme')).toMatchObject(kept(from));
    });

    it.each([
      { what: 'immediately', request: DOWNGRADE_NOW, path: '/v1/subscriptions/sub_acme' },
      { what: 'at the period end', request: DOWNGRADE_AT_PERIOD_END, path: '/v1/subscription_schedules/:id' },
    ])('should move a metered (usage-based) price $what without sending a quantity, which Stripe refuses for one', async ({ request, path }) => {
      // Prepare
      seed('price_professional', { metered: true });

      // Act
      const change = await billing.applyPlanChange(request);

      // Assess: the change went through and no request named a quantity
      expect(change.kind).not.toBe('no_change');
      const sent = fake.requestsTo('POST').filter((sentRequest) => sentRequest.path === path.replace(':id', change.references.scheduleId ?? ''));
      expect(sent).toHaveLength(1);
      expect(Object.keys(sent[0]?.form ?? {}).filter((field) => field.endsWith('[quantity]'))).toEqual([]);
      if (request.timing === 'period_end') fake.advanceSchedule(change.references.scheduleId as string);
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
    });

    it('should preview the upgrade of every seat: the item’s quantity is kept in the invoice preview', async () => {
      // Prepare
      seed('price_starter', DRESSED);

      // Act
      const preview = await billing.previewPlanChange(UPGRADE);
      const change = await billing.applyPlanChange(UPGRADE);

      // Assess: what was previewed is what is invoiced, for 3 seats
      expect(preview.amountDueNow).toBe(FAKE_PRORATION.net * DRESSED.quantity);
      expect(change.amountInvoiced).toBe(preview.amountDueNow);
    });

    it('should carry fields the subscription leaves partly unset as they are: a transfer of the whole amount, a threshold without reset, automatic tax without a liability', async () => {
      // Prepare: Stripe's nulls mean "the whole amount", "Stripe's default", "the platform"; sending a value would change them
      const settings = {
        transfer_data: { amount_percent: null, destination: 'acct_partner' },
        billing_thresholds: { amount_gte: 50_000, reset_billing_cycle_anchor: null },
        automatic_tax: { enabled: true, liability: null },
      } satisfies Partial<SeedSubscription['settings']>;
      seed('price_professional', { settings });

      // Act
      const change = await billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END);

      // Assess: the phases say no more than the subscription did, and the customer keeps them past the period end
      const phases = fake.requestsTo('POST', `/v1/subscription_schedules/${change.references.scheduleId as string}`)[0]?.form ?? {};
      for (const phase of [0, 1]) {
        expect(phases).toMatchObject({ [`phases[${phase}][transfer_data][destination]`]: 'acct_partner', [`phases[${phase}][billing_thresholds][amount_gte]`]: '50000', [`phases[${phase}][automatic_tax][enabled]`]: 'true' });
      }
      expect(Object.keys(phases).filter((field) => /amount_percent|reset_billing_cycle_anchor|liability/.test(field))).toEqual([]);
      fake.advanceSchedule(change.references.scheduleId as string);
      expect(fake.subscription('sub_acme')).toMatchObject({ priceId: 'price_starter', settings });
    });

    it('should keep every field when a period-end downgrade is reverted after the new price took effect', async () => {
      // Prepare
      seed('price_professional', DRESSED);
      const change = await billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END);
      fake.advanceSchedule(change.references.scheduleId as string);

      // Act
      await billing.revertPlanChange(DOWNGRADE_AT_PERIOD_END, change);

      // Assess
      expect(fake.subscription('sub_acme')).toMatchObject({ ...kept('price_professional'), scheduleId: null, settings: { ...DRESSED.settings, trial_end: null } });
    });
  });

  describe('Guards on what Stripe answers', () => {
    /** An applied upgrade whose invoice the test then changes as Stripe could have. */
    async function upgradeWithInvoice(fields: Record<string, unknown>): Promise<BillingChange> {
      const change = await billing.applyPlanChange(UPGRADE);
      Object.assign(fake.invoice(change.references.invoiceId as string) as Record<string, unknown>, fields);
      return change;
    }

    it('should not issue a credit note for an invoice of 0 (a fully discounted proration)', async () => {
      const change = await upgradeWithInvoice({ total: 0, amount_due: 0, amount_paid: 0 });
      await billing.revertPlanChange(UPGRADE, change);
      expect(fake.creditNotes).toHaveLength(0);
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
    });

    it('should leave a voided invoice alone on a second revert', async () => {
      const change = await upgradeWithInvoice({ status: 'open', amount_paid: 0 });
      await billing.revertPlanChange(UPGRADE, change);
      fake.expireIdempotencyKeys();
      await billing.revertPlanChange(UPGRADE, change);
      expect(fake.requestsTo('POST', `/v1/invoices/${change.references.invoiceId as string}/void`)).toHaveLength(1);
      expect(fake.creditNotes).toHaveLength(0);
    });

    it('should refuse to revert an invoice that is neither paid, open nor void, naming it for an operator', async () => {
      const change = await upgradeWithInvoice({ status: 'uncollectible' });
      await expect(billing.revertPlanChange(UPGRADE, change)).rejects.toThrow(new RegExp(`Invoice ${change.references.invoiceId as string} .* is uncollectible: refund or void it in Stripe by hand`));
      expect(fake.creditNotes).toHaveLength(0);
    });

    it('should refund again when the earlier credit note of this rollback was voided', async () => {
      const change = await upgradeWithInvoice({});
      await billing.revertPlanChange(UPGRADE, change);
      Object.assign(fake.creditNotes[0] as Record<string, unknown>, { status: 'void' });
      fake.expireIdempotencyKeys();
      await billing.revertPlanChange(UPGRADE, change);
      expect(fake.creditNotes.map((note) => note.status)).toEqual(['void', 'issued']);
    });

    it('should give the whole invoice back to the customer balance when the balance paid all of it, refunding nothing to the card', async () => {
      const change = await upgradeWithInvoice({ amount_paid: 0 });
      await billing.revertPlanChange(UPGRADE, change);
      const form = fake.requestsTo('POST', '/v1/credit_notes')[0]?.form;
      expect(form).toMatchObject({ amount: String(FAKE_PRORATION.net), credit_amount: String(FAKE_PRORATION.net) });
      expect(form).not.toHaveProperty('refund_amount');
    });

    it('should refuse to revert a period-end change that names no schedule, changing nothing', async () => {
      seed('price_professional');
      const error = await failureOf(billing.revertPlanChange(DOWNGRADE_AT_PERIOD_END, { kind: 'schedule_created', effectiveAt: NOW.toISOString(), amountInvoiced: 0, currency: 'usd', references: {} }));
      expect(error).toBeInstanceOf(BillingRejectedError);
      expect(error.message).toBe('The billing change of operation op-downgrade-1 names no subscription schedule to release.');
      expect(fake.requests).toHaveLength(0);
    });

    it.each([
      { what: 'an invoiced upgrade', request: UPGRADE, from: 'price_starter', kind: 'subscription_updated' as const, references: { prorationBehavior: 'always_invoice' } as Record<string, string> },
      { what: 'a period-end downgrade that took effect', request: DOWNGRADE_AT_PERIOD_END, from: 'price_professional', kind: 'schedule_created' as const, references: {} as Record<string, string> },
    ])('should revert $what recorded without subscription, item or prices, from the tenant’s account and the plan catalog', async ({ request, from, kind, references }) => {
      // Prepare: the change applied, but recorded with only what identifies it
      seed(from);
      const change = await billing.applyPlanChange(request);
      if (kind === 'schedule_created') fake.advanceSchedule(change.references.scheduleId as string);
      const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);

      // Act
      await billing.revertPlanChange(request, { ...change, references: { ...references, ...(kind === 'schedule_created' ? { scheduleId: change.references.scheduleId as string } : {}) } });

      // Assess: the account's item is back on the old plan's price, without prorating
      const restore = fake.requestsTo('POST', '/v1/subscriptions/sub_acme').at(-1);
      expect(restore?.form).toMatchObject({ 'items[0][id]': 'si_acme', 'items[0][price]': from, proration_behavior: 'none' });
      expect(fake.subscription('sub_acme')?.priceId).toBe(from);
      // an invoice nobody recorded is not guessed at: the operator is told to look
      if (kind === 'subscription_updated') {
        expect(fake.creditNotes).toHaveLength(0);
        expect(warn).toHaveBeenCalledWith(expect.stringMatching(/invoice is unknown/), expect.objectContaining({ subscriptionId: 'sub_acme' }));
      }
      warn.mockRestore();
    });

    it('should leave a canceled schedule alone, even on the new price (cancelling it canceled its subscription)', async () => {
      seed('price_professional');
      const change = await billing.applyPlanChange(DOWNGRADE_AT_PERIOD_END);
      fake.advanceSchedule(change.references.scheduleId as string);
      fake.cancelSchedule(change.references.scheduleId as string);
      fake.requests.length = 0;
      await billing.revertPlanChange(DOWNGRADE_AT_PERIOD_END, change);
      expect(fake.mutations).toHaveLength(0);
    });
  });

  describe('Guard: only this change’s invoice is refunded', () => {
    it('should not refund the renewal invoice when an upgrade during a free period invoiced nothing and is rolled back', async () => {
      // Prepare: a trial added to a paying subscription (latest invoice: its last renewal), during which a price
      // change prorates nothing, so always_invoice creates no invoice and latest_invoice stays the renewal.
      seed('price_starter', { status: 'trialing' });
      const renewal = fake.seedInvoice('sub_acme');

      // Act
      const change = await billing.applyPlanChange(UPGRADE);
      await billing.revertPlanChange(UPGRADE, change);

      // Assess
      expect(change.amountInvoiced).toBe(0);
      expect(change.references.invoiceId).toBeUndefined();
      expect(fake.creditNotes).toHaveLength(0);
      expect(fake.invoice(renewal.id as string)).toMatchObject({ billing_reason: 'subscription_cycle', status: 'paid' });
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
    });
  });

  describe('Method: revertPlanChange', () => {
    /** Apply `request`, then forget the requests it made, so the assertions see only the revert's. */
    async function applied(request: PlanChangeRequest): Promise<BillingChange> {
      const change = await billing.applyPlanChange(request);
      fake.requests.length = 0;
      return change;
    }

    it('should put an immediate upgrade back on the old price without prorating and refund its invoice with a credit note', async () => {
      // Prepare
      const change = await applied(UPGRADE);
      const invoiceId = change.references.invoiceId as string;

      // Act
      await billing.revertPlanChange(UPGRADE, change);

      // Assess
      expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        'GET /v1/subscriptions/sub_acme',
        'POST /v1/subscriptions/sub_acme',
        `GET /v1/invoices/${invoiceId}`,
        'GET /v1/credit_notes',
        'POST /v1/credit_notes',
      ]);
      const [, restore, , , creditNote] = fake.requests;
      expect(restore?.form).toEqual({
        'items[0][id]': 'si_acme',
        'items[0][price]': 'price_starter',
        'items[0][quantity]': '1',
        proration_behavior: 'none',
        'metadata[revertedOperationId]': 'op-upgrade-1',
      });
      expect(restore?.idempotencyKey).toBe('op-upgrade-1:revert');
      expect(creditNote?.form).toEqual({
        invoice: invoiceId,
        amount: String(FAKE_PRORATION.net),
        refund_amount: String(FAKE_PRORATION.net),
        reason: 'order_change',
        memo: 'Plan change starter → professional was rolled back.',
        'metadata[revertedOperationId]': 'op-upgrade-1',
        'metadata[tenantId]': 'acme-corp',
      });
      expect(creditNote?.idempotencyKey).toBe('op-upgrade-1:revert:credit-note');
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
    });

    it('should be safe to call twice: one credit note, the price change replayed under the same key', async () => {
      // Prepare
      const change = await applied(UPGRADE);

      // Act
      await billing.revertPlanChange(UPGRADE, change);
      await billing.revertPlanChange(UPGRADE, change);

      // Assess
      expect(fake.creditNotes).toHaveLength(1);
      expect(fake.requestsTo('POST', '/v1/credit_notes')).toHaveLength(1);
      expect(fake.requestsTo('POST', '/v1/subscriptions/sub_acme').map((request) => request.idempotencyKey)).toEqual(['op-upgrade-1:revert', 'op-upgrade-1:revert']);
    });

    it('should still refund once when the second revert comes after Stripe forgot the idempotency keys', async () => {
      // Prepare
      const change = await applied(UPGRADE);
      await billing.revertPlanChange(UPGRADE, change);
      fake.expireIdempotencyKeys();

      // Act
      await billing.revertPlanChange(UPGRADE, change);

      // Assess
      expect(fake.creditNotes).toHaveLength(1);
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
    });

    it('should give back to the customer balance the part of the invoice the balance paid', async () => {
      // Prepare: 1000 of the invoice came from the customer's credit balance, the rest from the card
      const change = await applied(UPGRADE);
      const invoice = fake.invoice(change.references.invoiceId as string) as Record<string, unknown>;
      invoice.amount_paid = FAKE_PRORATION.net - 1000;

      // Act
      await billing.revertPlanChange(UPGRADE, change);

      // Assess
      expect(fake.requestsTo('POST', '/v1/credit_notes')[0]?.form).toMatchObject({
        amount: String(FAKE_PRORATION.net),
        refund_amount: String(FAKE_PRORATION.net - 1000),
        credit_amount: '1000',
      });
    });

    it('should void the upgrade invoice instead when it is still open (invoices sent rather than charged)', async () => {
      // Prepare: a customer invoiced by email, whose proration invoice Stripe leaves open until paid
      seed('price_starter', { settings: { collection_method: 'send_invoice', days_until_due: 30 } });
      const change = await applied(UPGRADE);
      const invoiceId = change.references.invoiceId as string;
      expect(fake.invoice(invoiceId)).toMatchObject({ status: 'open', amount_paid: 0, billing_reason: 'subscription_update' });

      // Act
      await billing.revertPlanChange(UPGRADE, change);

      // Assess
      const voided = fake.requestsTo('POST', `/v1/invoices/${invoiceId}/void`);
      expect(voided.map((request) => request.idempotencyKey)).toEqual(['op-upgrade-1:revert:void']);
      expect(fake.requestsTo('POST', '/v1/credit_notes')).toHaveLength(0);
    });

    it('should release the schedule of a period-end downgrade, once', async () => {
      // Prepare
      seed('price_professional');
      const change = await applied(DOWNGRADE_AT_PERIOD_END);
      const scheduleId = change.references.scheduleId as string;

      // Act
      await billing.revertPlanChange(DOWNGRADE_AT_PERIOD_END, change);
      await billing.revertPlanChange(DOWNGRADE_AT_PERIOD_END, change);

      // Assess
      expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        `GET /v1/subscription_schedules/${scheduleId}`,
        `POST /v1/subscription_schedules/${scheduleId}/release`,
        'GET /v1/subscriptions/sub_acme',
        `GET /v1/subscription_schedules/${scheduleId}`,
        'GET /v1/subscriptions/sub_acme',
      ]);
      expect(fake.requests[1]?.form).toEqual({});
      expect(fake.requests[1]?.idempotencyKey).toBe('op-downgrade-1:revert');
      expect(fake.subscription('sub_acme')).toMatchObject({ scheduleId: null, priceId: 'price_professional' });
    });

    it('should put the old price back without prorating when the new price already took effect, once', async () => {
      // Prepare: the period rolled over, the schedule is in its second phase and the subscription on the new price
      seed('price_professional');
      const change = await applied(DOWNGRADE_AT_PERIOD_END);
      const scheduleId = change.references.scheduleId as string;
      fake.advanceSchedule(scheduleId);
      fake.requests.length = 0;

      // Act
      await billing.revertPlanChange(DOWNGRADE_AT_PERIOD_END, change);
      await billing.revertPlanChange(DOWNGRADE_AT_PERIOD_END, change);

      // Assess: released, then the old price with no proration (no charge for the rollback), and nothing on the repeat
      const writes = fake.requestsTo('POST');
      expect(writes.map((request) => request.path)).toEqual([`/v1/subscription_schedules/${scheduleId}/release`, '/v1/subscriptions/sub_acme']);
      expect(writes[1]?.form).toEqual({
        'items[0][id]': 'si_acme',
        'items[0][price]': 'price_professional',
        'items[0][quantity]': '1',
        proration_behavior: 'none',
        'metadata[revertedOperationId]': 'op-downgrade-1',
      });
      expect(writes[1]?.idempotencyKey).toBe('op-downgrade-1:revert:restore-price');
      expect(fake.subscription('sub_acme')).toMatchObject({ scheduleId: null, priceId: 'price_professional' });
      expect(fake.requestsTo('POST', '/v1/invoices')).toHaveLength(0);
    });

    it('should undo an immediate downgrade with the reverse proration, keyed on the operation', async () => {
      // Prepare
      seed('price_professional');
      const change = await applied(DOWNGRADE_NOW);

      // Act
      await billing.revertPlanChange(DOWNGRADE_NOW, change);

      // Assess
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/subscriptions/sub_acme', 'POST /v1/subscriptions/sub_acme']);
      expect(fake.requests[1]?.form).toEqual({
        'items[0][id]': 'si_acme',
        'items[0][price]': 'price_professional',
        'items[0][quantity]': '1',
        proration_behavior: 'create_prorations',
        'metadata[revertedOperationId]': 'op-downgrade-2',
      });
      expect(fake.requests[1]?.idempotencyKey).toBe('op-downgrade-2:revert');
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_professional');
    });

    it('should do nothing for a change that changed nothing', async () => {
      // Act
      await billing.revertPlanChange(UPGRADE, { kind: 'no_change', effectiveAt: NOW.toISOString(), amountInvoiced: 0, currency: 'usd', references: {} });

      // Assess
      expect(fake.requests).toHaveLength(0);
    });

    it('should map a transient failure of the refund so the compensation is retried', async () => {
      // Prepare
      const change = await applied(UPGRADE);
      fake.once('POST', '/v1/credit_notes', stripeError(500, { type: 'api_error', message: 'An unknown error occurred' }));

      // Act
      await expect(billing.revertPlanChange(UPGRADE, change)).rejects.toBeInstanceOf(BillingTransientError);
      await billing.revertPlanChange(UPGRADE, change);

      // Assess
      expect(fake.creditNotes).toHaveLength(1);
      expect(fake.subscription('sub_acme')?.priceId).toBe('price_starter');
    });
  });
});
