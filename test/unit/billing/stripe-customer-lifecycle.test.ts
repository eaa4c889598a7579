/**
 * The Stripe adapter's customer lifecycle (a new tenant's customer and subscription or linked ids, the soft
 * delete, its cancellation, the hard delete), driving the real Stripe SDK against the local fake of the API: the
 * exact requests, their idempotency keys, what a repeat does, and the link checks.
 */
import { BillingLinkError, BillingRejectedError, BillingTransientError, type CustomerLifecycleRequest, type NewCustomerRequest } from '../../../functions/billing/billing-port';
import { NEW_SUBSCRIPTION_DAYS_UNTIL_DUE, StripeBilling } from '../../../functions/billing/stripe-billing';
import { FAKE_PRORATION, FakeStripeServer, stripeError } from '../../support/fake-stripe-server';

const PRICE_IDS = { starter: 'price_starter', professional: 'price_professional', enterprise: 'price_enterprise' };
const PERIOD_START = Date.UTC(2026, 10, 1) / 1000;
const PERIOD_END = Date.UTC(2026, 11, 1) / 1000;
const ACCOUNT = { customerId: 'cus_acme', subscriptionId: 'sub_acme', subscriptionItemId: 'si_acme' };
const NEW_CUSTOMER: NewCustomerRequest = { tenantId: 'acme-corp', name: 'Acme Corp', email: 'billing@acme.example', plan: 'starter', idempotencyKey: 'tenant:acme-corp:billing-customer' };
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

describe('StripeBilling.createCustomer', () => {
  it('should create the customer, then its subscription on the plan’s price, each under a key derived from the request’s', async () => {
    const account = await billing.createCustomer(NEW_CUSTOMER);

    const [customer, subscription, ...others] = fake.mutations;
    expect(others).toHaveLength(0);
    expect(customer).toMatchObject({ method: 'POST', path: '/v1/customers', idempotencyKey: `${NEW_CUSTOMER.idempotencyKey}:customer` });
    expect(customer?.form).toEqual({ name: 'Acme Corp', email: 'billing@acme.example', 'metadata[tenantId]': 'acme-corp' });
    const customerId = fake.customers[0]?.id as string;
    expect(subscription).toMatchObject({ method: 'POST', path: '/v1/subscriptions', idempotencyKey: `${NEW_CUSTOMER.idempotencyKey}:subscription` });
    expect(subscription?.form).toEqual({
      customer: customerId,
      'items[0][price]': 'price_starter',
      collection_method: 'send_invoice',
      days_until_due: String(NEW_SUBSCRIPTION_DAYS_UNTIL_DUE),
      'metadata[tenantId]': 'acme-corp',
    });
    const [made] = fake.subscriptionsOf(customerId);
    expect(made).toMatchObject({ priceId: 'price_starter', status: 'active', metadata: { tenantId: 'acme-corp' } });
    expect(account).toEqual({ customerId, subscriptionId: made?.id, subscriptionItemId: made?.itemId });
  });

  it('should make one customer and one subscription when the create is retried, answering the same account', async () => {
    const first = await billing.createCustomer(NEW_CUSTOMER);
    const again = await billing.createCustomer(NEW_CUSTOMER);

    expect(again).toEqual(first);
    expect(fake.customers).toHaveLength(1);
    expect(fake.subscriptionsOf(first?.customerId as string)).toHaveLength(1);
  });

  it('should, when the subscription failed after the customer was made, reuse that customer on the retry', async () => {
    fake.once('POST', '/v1/subscriptions', stripeError(503, { type: 'api_error', message: 'Service unavailable.' }));
    await expect(billing.createCustomer(NEW_CUSTOMER)).rejects.toBeInstanceOf(BillingTransientError);

    const account = await billing.createCustomer(NEW_CUSTOMER);
    expect(fake.customers).toHaveLength(1);
    expect(account?.customerId).toBe(fake.customers[0]?.id);
    expect(fake.subscriptionsOf(account?.customerId as string)).toHaveLength(1);
  });

  it('should bill nothing in Stripe for a plan without a price (the free plan by default): no customer, no subscription', async () => {
    expect(await billing.createCustomer({ ...NEW_CUSTOMER, plan: 'free' })).toBeUndefined();
    expect(fake.requests).toHaveLength(0);
  });

  it('should give the free plan a subscription like any plan when it is configured with a ($0) price', async () => {
    const withFreePrice = new StripeBilling({ stripe: fake.stripeClient(), priceIds: { ...PRICE_IDS, free: 'price_free_zero' } });
    const account = await withFreePrice.createCustomer({ ...NEW_CUSTOMER, plan: 'free' });

    expect(fake.requestsTo('POST', '/v1/subscriptions')[0]?.form['items[0][price]']).toBe('price_free_zero');
    expect(account?.subscriptionId).toBe(fake.subscriptionsOf(account?.customerId as string)[0]?.id);
  });
});

describe('StripeBilling.createCustomer with link ids', () => {
  beforeEach(() => {
    fake.seedSubscription({ id: 'sub_old', itemId: 'si_old', priceId: 'price_starter', customerId: 'cus_existing', status: 'canceled', currentPeriodStart: PERIOD_START, currentPeriodEnd: PERIOD_END });
    fake.seedSubscription({ id: 'sub_existing', itemId: 'si_existing', priceId: 'price_starter', customerId: 'cus_existing', currentPeriodStart: PERIOD_START, currentPeriodEnd: PERIOD_END });
    fake.seedSubscription({ id: 'sub_other', itemId: 'si_other', priceId: 'price_starter', customerId: 'cus_other', currentPeriodStart: PERIOD_START, currentPeriodEnd: PERIOD_END });
  });

  it('should answer the given customer and subscription, with its item on the plan’s price, creating nothing', async () => {
    const account = await billing.createCustomer({ ...NEW_CUSTOMER, link: { customerId: 'cus_existing', subscriptionId: 'sub_existing' } });

    expect(account).toEqual({ customerId: 'cus_existing', subscriptionId: 'sub_existing', subscriptionItemId: 'si_existing' });
    expect(fake.mutations).toHaveLength(0);
  });

  it('should find the customer’s one active subscription when none is given', async () => {
    const account = await billing.createCustomer({ ...NEW_CUSTOMER, link: { customerId: 'cus_existing' } });

    expect(account).toEqual({ customerId: 'cus_existing', subscriptionId: 'sub_existing', subscriptionItemId: 'si_existing' });
    expect(fake.requestsTo('GET', '/v1/subscriptions')[0]?.form).toMatchObject({ customer: 'cus_existing', status: 'active' });
    expect(fake.mutations).toHaveLength(0);
  });

  it.each([
    ['an unknown customer', { customerId: 'cus_nobody' }, 'starter', 'Stripe has no such customer'],
    ['a subscription of another customer', { customerId: 'cus_existing', subscriptionId: 'sub_other' }, 'starter', 'sub_other belongs to customer cus_other'],
    ['an unknown subscription', { customerId: 'cus_existing', subscriptionId: 'sub_nothing' }, 'starter', 'Stripe has no subscription sub_nothing'],
    ['an ended subscription', { customerId: 'cus_existing', subscriptionId: 'sub_old' }, 'starter', 'sub_old has ended (canceled)'],
    ['a subscription on another plan’s price', { customerId: 'cus_existing', subscriptionId: 'sub_existing' }, 'professional', "no item on the professional plan's price price_professional (its prices: price_starter)"],
    ['an item that is not the subscription’s', { customerId: 'cus_existing', subscriptionId: 'sub_existing', subscriptionItemId: 'si_other' }, 'starter', 'si_other is not the item'],
    ['a plan without a price', { customerId: 'cus_existing', subscriptionId: 'sub_existing' }, 'free', 'no Stripe price is configured for the free plan'],
  ] as const)('should refuse %s with BillingLinkError, creating nothing', async (_, link, plan, message) => {
    const refused = billing.createCustomer({ ...NEW_CUSTOMER, plan, link });

    await expect(refused).rejects.toBeInstanceOf(BillingLinkError);
    await expect(refused).rejects.toThrow(message);
    expect(fake.mutations).toHaveLength(0);
  });

  it('should refuse a customer without an active subscription, or with several, asking for the subscription id', async () => {
    await expect(billing.createCustomer({ ...NEW_CUSTOMER, link: { customerId: 'cus_other_none' } })).rejects.toThrow('Stripe has no such customer');
    fake.seedSubscription({ id: 'sub_second', itemId: 'si_second', priceId: 'price_starter', customerId: 'cus_existing', currentPeriodStart: PERIOD_START, currentPeriodEnd: PERIOD_END });
    await expect(billing.createCustomer({ ...NEW_CUSTOMER, link: { customerId: 'cus_existing' } })).rejects.toThrow('several active subscriptions (sub_existing, sub_second...); give subscriptionId');
    fake.seedSubscription({ id: 'sub_lone', itemId: 'si_lone', priceId: 'price_starter', customerId: 'cus_lapsed', status: 'canceled', currentPeriodStart: PERIOD_START, currentPeriodEnd: PERIOD_END });
    await expect(billing.createCustomer({ ...NEW_CUSTOMER, link: { customerId: 'cus_lapsed' } })).rejects.toThrow('it has no active subscription; give subscriptionId');
  });

  it('should refuse a deleted customer', async () => {
    await fake.stripeClient().customers.del('cus_existing');
    await expect(billing.createCustomer({ ...NEW_CUSTOMER, link: { customerId: 'cus_existing', subscriptionId: 'sub_existing' } })).rejects.toThrow('Stripe has no such customer (or it was deleted)');
  });
});
