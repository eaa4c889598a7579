/**
 * A plan change billed through Stripe: the tenant's subscription ids travel from the tenant record through
 * the workflow to the real Stripe SDK, which talks to a local fake Stripe. An upgrade swaps the price; a
 * failure after billing refunds the proration invoice and puts the old price back.
 */
import { StripeBilling } from '../../../functions/billing';
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { ApiHarness } from '../../support/api-harness';
import { InjectedFault } from '../../support/injected-fault';
import { FakeStripeServer, type SeedSubscription } from '../../support/fake-stripe-server';

type Body = Record<string, unknown> & { error?: { code: string; message: string } };

const PRICE_IDS = { starter: 'price_starter', professional: 'price_professional', enterprise: 'price_enterprise' };
const api = new ApiHarness();
let stripe: FakeStripeServer;
let runner: LocalWorkflowRunner;
let fault: FaultInjector | undefined;


beforeAll(async () => {
  await api.start();
  stripe = await FakeStripeServer.start();
  const billing = new StripeBilling({ stripe: stripe.stripeClient(), priceIds: PRICE_IDS });
  // Short Retry pauses: the Stripe 500 tests go through every retry of the billing step.
  runner = new LocalWorkflowRunner({ dependencies: () => ({ ...planChangeDependencies(), billing }), faults: (state, phase, input) => fault?.(state, phase, input), retryIntervalMs: 20 });
  setWorkflowRunner(runner);
});
afterAll(async () => {
  await runner.idle();
  await stripe.close();
  await api.stop();
});

function seedSubscription(tenantId: string, fields: Partial<SeedSubscription> = {}): { customerId: string; subscriptionId: string; subscriptionItemId: string } {
  const now = Math.floor(Date.now() / 1000);
  stripe.seedSubscription({ id: `sub_${tenantId}`, itemId: `si_${tenantId}`, customerId: `cus_${tenantId}`, priceId: 'price_starter', currentPeriodStart: now - 86_400 * 10, currentPeriodEnd: now + 86_400 * 20, ...fields });
  return { customerId: `cus_${tenantId}`, subscriptionId: `sub_${tenantId}`, subscriptionItemId: `si_${tenantId}` };
}

/** A fault that fails the commit of `tenantId`'s plan change, after billing: the workflow rolls billing back. */
function commitFailsFor(tenantId: string): FaultInjector {
  return (state, phase, input) => {
    if (input.tenantId === tenantId && state === 'CommitPlan' && phase === 'before') throw new InjectedFault('commit failed');
  };
}

async function upgrade(tenantId: string) {
  const started = await api.request<Body>('POST', `/tenants/${tenantId}/plan`, { body: { plan: 'professional' } });
  expect(started.status).toBe(202);
  await runner.idle();
  return (await api.request<Body>('GET', `/operations/${started.body.operationId as string}`)).body;
}

describe('Plan change billed through Stripe', () => {
  it("should swap the subscription's price with an idempotency key derived from the operation", async () => {
    await api.createTenant('stripeup', { plan: 'starter', billing: seedSubscription('stripeup') });

    const operation = await upgrade('stripeup');

    expect(operation.status).toBe('succeeded');
    expect(stripe.subscription('sub_stripeup')?.priceId).toBe('price_professional');
    const update = stripe.requestsTo('POST', '/v1/subscriptions/sub_stripeup').find((r) => r.idempotencyKey?.endsWith(':apply'));
    expect(update?.idempotencyKey).toBe(`${operation.operationId as string}:apply`);
  });

  it('should refund the proration and restore the old price when the change fails after billing', async () => {
    await api.createTenant('stripefail', { plan: 'starter', billing: seedSubscription('stripefail') });
    fault = commitFailsFor('stripefail');
    try {
      const operation = await upgrade('stripefail');

      expect(operation.status).toBe('rolled_back');
      expect(stripe.subscription('sub_stripefail')?.priceId).toBe('price_starter');
      expect(stripe.creditNotes.length).toBeGreaterThanOrEqual(1);
      expect((await api.request<Body>('GET', '/tenants/stripefail')).body).toMatchObject({ state: 'active', plan: 'starter' });
    } finally {
      fault = undefined;
    }
  });

  it('should not refund the renewal when a rolled-back upgrade invoiced nothing (a free period) and the latest invoice is that renewal', async () => {
    await api.createTenant('stripefree', { plan: 'starter', billing: seedSubscription('stripefree', { status: 'trialing' }) });
    const renewal = stripe.seedInvoice('sub_stripefree');
    fault = commitFailsFor('stripefree');
    try {
      const operation = await upgrade('stripefree');

      expect(operation.status).toBe('rolled_back');
      expect(stripe.subscription('sub_stripefree')?.priceId).toBe('price_starter');
      expect(stripe.creditNotes.filter((note) => note.invoice === renewal.id)).toEqual([]);
      expect(stripe.invoice(renewal.id as string)).toMatchObject({ billing_reason: 'subscription_cycle', status: 'paid' });
    } finally {
      fault = undefined;
    }
  });

  it('should complete the upgrade, charged once, when Stripe answered 500 without changing anything (the saved 500 is not retried forever)', async () => {
    await api.createTenant('stripe500', { plan: 'starter', billing: seedSubscription('stripe500') });
    stripe.serverError('POST', '/v1/subscriptions/sub_stripe500', { applied: false });

    const operation = await upgrade('stripe500');

    expect(operation.status).toBe('succeeded');
    expect(stripe.subscription('sub_stripe500')?.priceId).toBe('price_professional');
    expect(stripe.invoices.filter((invoice) => invoice.customer === 'cus_stripe500')).toHaveLength(1);
  });

  it('should roll back cleanly, having charged and sent nothing more, when Stripe answers 500 to every attempt', async () => {
    await api.createTenant('stripe500x', { plan: 'starter', billing: seedSubscription('stripe500x') });
    stripe.serverError('POST', '/v1/subscriptions/sub_stripe500x', { applied: false, times: 1000 });

    const operation = await upgrade('stripe500x');

    expect(operation.status).toBe('rolled_back');
    expect((await api.request<Body>('GET', '/tenants/stripe500x')).body).toMatchObject({ state: 'active', plan: 'starter' });
    expect(stripe.subscription('sub_stripe500x')).toMatchObject({ priceId: 'price_starter', latestInvoiceId: null });
    // One new key per attempt of the billing step (the first and four retries); the compensation found nothing to undo.
    const keys = new Set(stripe.requestsTo('POST', '/v1/subscriptions/sub_stripe500x').map((request) => request.idempotencyKey));
    const apply = `${operation.operationId as string}:apply`;
    expect(keys).toEqual(new Set([apply, `${apply}:retry-1`, `${apply}:retry-2`, `${apply}:retry-3`, `${apply}:retry-4`]));
  });

  it('should refuse a bad Stripe id on tenant creation with 400 naming the field', async () => {
    const response = await api.request<Body & { error: { details: Array<{ field: string }> } }>('POST', '/tenants', {
      body: { name: 'X', email: 'x@example.com', billing: { customerId: 'nope', subscriptionId: 'sub_1', subscriptionItemId: 'si_1' } },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.details.map((d) => d.field)).toContain('billing.customerId');
  });
});
