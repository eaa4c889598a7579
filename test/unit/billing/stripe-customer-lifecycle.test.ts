/**
 * The Stripe adapter's customer lifecycle (soft delete, its cancellation, the hard delete), driving the real
 * Stripe SDK against the local fake of the API: the exact requests, their idempotency keys, and what a repeat does.
 */
import { BillingRejectedError, type CustomerLifecycleRequest } from '../../../functions/billing/billing-port';
import { StripeBilling } from '../../../functions/billing/stripe-billing';
import { FAKE_PRORATION, FakeStripeServer } from '../../support/fake-stripe-server';

const PRICE_IDS = { starter: 'price_starter', professional: 'price_professional', enterprise: 'price_enterprise' };
const PERIOD_START = Date.UTC(2026, 10, 1) / 1000;
const PERIOD_END = Date.UTC(2026, 11, 1) / 1000;
const ACCOUNT = { customerId: 'cus_acme', subscriptionId: 'sub_acme', subscriptionItemId: 'si_acme' };
const REQUEST: CustomerLifecycleRequest = { tenantId: 'acme-corp', account: ACCOUNT, plan: 'professional', idempotencyKey: 'acme-corp:deletion:2026-11-11T00:00:00.000Z' };

let fake: FakeStripeServer;
let billing: StripeBilling;

beforeAll(async () => {
  fake = await FakeStripeServer.start();
  billing = new StripeBilling({ stripe: fake.stripeClient(), priceIds: PRICE_IDS });
});
afterAll(async () => fake.close());
beforeEach(() => {
  fake.reset();
  fake.seedSubscription({ id: 'sub_acme', itemId: 'si_acme', priceId: 'price_professional', customerId: 'cus_acme', quantity: 2, currentPeriodStart: PERIOD_START, currentPeriodEnd: PERIOD_END });
});

describe('StripeBilling.cancelSubscription', () => {
  it('should cancel the subscription now, crediting the unused time on a final invoice, under the request’s idempotency key', async () => {
    const result = await billing.cancelSubscription(REQUEST);

    const [cancel, ...others] = fake.mutations;
    expect(others).toHaveLength(0);
    expect(cancel).toMatchObject({ method: 'DELETE', path: '/v1/subscriptions/sub_acme', idempotencyKey: `${REQUEST.idempotencyKey}:cancel-subscription` });
    expect(cancel?.form).toMatchObject({ prorate: 'true', invoice_now: 'true' });
    expect(fake.subscription('sub_acme')?.status).toBe('canceled');
    const finalInvoice = fake.invoices.at(-1);
    expect(finalInvoice?.total).toBe(FAKE_PRORATION.unusedTimeCredit * 2);
    expect(result).toEqual({ cancelled: true, references: { subscriptionId: 'sub_acme', finalInvoiceId: finalInvoice?.id } });
  });

  it('should answer cancelled: false and send nothing that changes Stripe when the subscription is already cancelled', async () => {
    await billing.cancelSubscription(REQUEST);
    fake.requests.length = 0;

    expect(await billing.cancelSubscription({ ...REQUEST, idempotencyKey: 'another-request' })).toEqual({ cancelled: false, references: { subscriptionId: 'sub_acme' } });
    expect(fake.mutations).toHaveLength(0);
  });

  it('should do nothing for a tenant without a Stripe account', async () => {
    expect(await billing.cancelSubscription({ ...REQUEST, account: undefined })).toEqual({ cancelled: false, references: {} });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('StripeBilling.restoreSubscription', () => {
  it('should create a new subscription for the same customer on the plan’s price, once per idempotency key', async () => {
    await billing.cancelSubscription(REQUEST);
    fake.requests.length = 0;

    const restored = await billing.restoreSubscription(REQUEST);
    const again = await billing.restoreSubscription(REQUEST); // a retry: Stripe replays the first answer

    const creates = fake.requestsTo('POST', '/v1/subscriptions');
    expect(creates.map((request) => request.idempotencyKey)).toEqual([`${REQUEST.idempotencyKey}:restore-subscription`, `${REQUEST.idempotencyKey}:restore-subscription`]);
    expect(creates[0]?.form).toMatchObject({ customer: 'cus_acme', 'items[0][price]': 'price_professional', 'metadata[tenantId]': 'acme-corp' });
    const live = fake.subscriptionsOf('cus_acme').filter((subscription) => subscription.status === 'active');
    expect(live).toHaveLength(1);
    expect(restored).toEqual({ customerId: 'cus_acme', subscriptionId: live[0]?.id, subscriptionItemId: live[0]?.itemId });
    expect(again).toEqual(restored);
    expect(restored?.subscriptionId).not.toBe('sub_acme');
  });

  it('should keep a subscription that was never cancelled, creating nothing', async () => {
    expect(await billing.restoreSubscription(REQUEST)).toEqual(ACCOUNT);
    expect(fake.mutations).toHaveLength(0);
  });

  it('should refuse a plan without a Stripe price, creating nothing', async () => {
    await billing.cancelSubscription(REQUEST);
    const error = await billing.restoreSubscription({ ...REQUEST, plan: 'free' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BillingRejectedError);
    expect((error as Error).message).toContain('free plan');
    expect(fake.requestsTo('POST', '/v1/subscriptions')).toHaveLength(0);
  });
});

describe('StripeBilling.deleteCustomer', () => {
  it('should delete the customer under the idempotency key, and answer deleted: false once it is gone', async () => {
    expect(await billing.deleteCustomer(REQUEST)).toEqual({ deleted: true });
    expect(fake.mutations[0]).toMatchObject({ method: 'DELETE', path: '/v1/customers/cus_acme', idempotencyKey: `${REQUEST.idempotencyKey}:delete-customer` });
    expect(fake.customerDeleted('cus_acme')).toBe(true);
    expect(fake.subscription('sub_acme')?.status).toBe('canceled');

    expect(await billing.deleteCustomer({ ...REQUEST, idempotencyKey: 'a-later-firing' })).toEqual({ deleted: false });
  });
});
