/**
 * The processor with the Stripe adapter (the real Stripe SDK against the fake Stripe server): it acts on the
 * subscription as Stripe has it now, not on the event's snapshot, so thin events work, and reconciliation reads
 * each linked subscription from Stripe to catch an event never delivered.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { StripeBilling } from '../../../functions/billing/stripe-billing';
import { subscriptionLinkItem } from '../../../functions/billing/subscription-links';
import { DEFAULT_DUNNING_POLICY } from '../../../functions/dunning/dunning-policy';
import { reconcileSubscriptions } from '../../../functions/dunning/reconcile';
import { processStripeEvent, type DunningDependencies } from '../../../functions/dunning/stripe-event-processor';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { config } from '../../../functions/shared/config';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import { workflowPorts } from '../../../functions/workflows/ports';
import { ApiHarness } from '../../support/api-harness';
import { FakeStripeServer } from '../../support/fake-stripe-server';
import { invoiceEvent, subscriptionEvent } from '../../support/stripe-events';

const DAY_S = 86_400;
const api = new ApiHarness();
let fake: FakeStripeServer;
let deps: DunningDependencies;
const tenants = new TenantStore({ client: api.documentClient, tableName: config.tableName });
const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  await api.start();
  fake = await FakeStripeServer.start();
  const base = workflowPorts();
  const billing = new StripeBilling({ stripe: fake.stripeClient(), priceIds: { starter: 'price_starter', professional: 'price_professional' } });
  const scheduler = new LocalScheduler({ client: api.documentClient, tableName: config.tableName });
  deps = { ports: { tenants, operations: base.operations, leases: base.leases, provisioner: base.provisioner, billing, scheduler }, client: api.documentClient, tableName: config.tableName, policy: DEFAULT_DUNNING_POLICY };
});
afterAll(async () => {
  await fake.close();
  await api.stop();
});

/** A tenant billed on a Stripe subscription the fake has (active), with its subscription link. */
async function stripeTenant(tenantId: string) {
  const account = { customerId: `cus_${tenantId}`, subscriptionId: `sub_${tenantId}`, subscriptionItemId: `si_${tenantId}` };
  const now = nowSeconds();
  fake.seedSubscription({ id: account.subscriptionId, itemId: account.subscriptionItemId, priceId: 'price_starter', customerId: account.customerId, currentPeriodStart: now - DAY_S, currentPeriodEnd: now + 29 * DAY_S });
  await tenants.create({ tenantId, name: `Org ${tenantId}`, email: `admin@${tenantId}.example`, plan: 'starter', usage: { queriesPerMonth: 1, storageGb: 0, documents: 1, users: 1 }, billing: account }, { actor: 'test' });
  await api.documentClient.send(new PutCommand({ TableName: config.tableName, Item: subscriptionLinkItem(tenantId, account) }));
  return account;
}

it('should act on a thin event (the subscription id only) by reading the subscription from Stripe', async () => {
  const { subscriptionId } = await stripeTenant('thin-co');
  fake.setSubscriptionStatus(subscriptionId, 'past_due');
  const thin = subscriptionEvent('customer.subscription.updated', subscriptionId, { created: nowSeconds(), thin: true });
  expect(thin.data?.object).toEqual({ id: subscriptionId, object: 'subscription' });

  expect(await processStripeEvent(thin, { channel: 'eventbridge' }, deps)).toMatchObject({ result: 'applied', action: 'start_grace' });

  expect(fake.requestsTo('GET', `/v1/subscriptions/${subscriptionId}`)).toHaveLength(1);
  expect((await tenants.history('thin-co')).items[0]).toMatchObject({ event: 'start_grace_period', actor: 'stripe:eventbridge', stripeEventId: thin.id });
});

it("should act on Stripe's current status, not the event's snapshot: a payment_failed whose subscription has since recovered changes nothing", async () => {
  const { subscriptionId } = await stripeTenant('recovered-co');
  // The snapshot says past_due; Stripe's subscription is active again (the retry succeeded, its event not here yet).
  const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: nowSeconds(), shape: 'legacy' });

  expect(await processStripeEvent(failed, { channel: 'webhook' }, deps)).toMatchObject({ result: 'no_change' });
  expect(await tenants.get('recovered-co')).toMatchObject({ state: 'active', version: 1 });
});

it('should catch a missed event in reconciliation: the subscription went unpaid in Stripe and no event came', async () => {
  const { subscriptionId } = await stripeTenant('missed-stripe');
  await stripeTenant('fine-stripe');
  fake.setSubscriptionStatus(subscriptionId, 'unpaid');

  const report = await reconcileSubscriptions(deps);

  expect(report.changed).toEqual([{ tenantId: 'missed-stripe', from: 'active', to: 'suspended', action: 'suspend' }]);
  expect(report.errors).toEqual([]);
  expect((await tenants.history('missed-stripe')).items[0]).toMatchObject({ event: 'suspend', actor: 'billing:reconcile' });

  // Paid again in Stripe: the next run resumes it (the ladder's own suspension).
  fake.setSubscriptionStatus(subscriptionId, 'active');
  expect((await reconcileSubscriptions(deps)).changed).toEqual([{ tenantId: 'missed-stripe', from: 'suspended', to: 'active', action: 'resume' }]);
});
