/**
 * POST /tenants with its billing customer, end to end through the local API (DynamoDB Local): the local ledger as
 * `npm start` runs it, and the Stripe adapter (the real SDK against the fake Stripe server) put in the routes'
 * ports. The tenant, its audit item and its subscription link are written together or not at all; the link finds
 * the tenant in one read; the hard delete's data sources leave no link behind.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { BillingPort } from '../../../functions/billing/billing-port';
import { LedgerBilling } from '../../../functions/billing/ledger-billing';
import { StripeBilling } from '../../../functions/billing/stripe-billing';
import { findTenantBySubscription, subscriptionLinkKey } from '../../../functions/billing/subscription-links';
import { subscriptionLinksSource } from '../../../functions/data-sources/subscription-links-source';
import { config } from '../../../functions/shared/config';
import { workflowPorts, type WorkflowPorts } from '../../../functions/workflows/ports';
import { ApiHarness } from '../../support/api-harness';
import { countDynamoDbCalls } from '../../support/dynamodb-call-counter';
import { FakeStripeServer } from '../../support/fake-stripe-server';

type Body = Record<string, unknown> & { billing?: Record<string, string>; error?: { code: string; message: string; details?: Record<string, unknown> } };

const api = new ApiHarness();
const ledger = new LedgerBilling({ client: api.documentClient, tableName: config.tableName });
const PRICE_IDS = { starter: 'price_starter', professional: 'price_professional', enterprise: 'price_enterprise' };
let ports: WorkflowPorts & { billing: BillingPort };

beforeAll(async () => {
  await api.start();
  ports = workflowPorts() as typeof ports;
});
afterAll(() => api.stop());
afterEach(() => jest.restoreAllMocks());

function create(body: Record<string, unknown>) {
  return api.request<Body>('POST', '/tenants', { body: { name: `Org ${String(body.tenantId)}`, email: `billing@${String(body.tenantId)}.example`, ...body } });
}

async function linkOf(subscriptionId: string) {
  return findTenantBySubscription(api.documentClient, config.tableName, subscriptionId);
}

describe('POST /tenants with the local ledger', () => {
  it('should store the tenant with its local account, its link and its audit item, the link found in one read', async () => {
    const created = await create({ tenantId: 'ledger-co', plan: 'free' });

    expect(created.status).toBe(201);
    const account = { customerId: 'cus_local_ledger_co', subscriptionId: 'sub_local_ledger_co', subscriptionItemId: 'si_local_ledger_co' };
    expect(created.body.billing).toEqual(account);
    expect((await api.request<Body>('GET', '/tenants/ledger-co')).body.billing).toEqual(account);
    const history = await api.request<{ items: Body[] }>('GET', '/tenants/ledger-co/history');
    expect(history.body.items).toEqual([expect.objectContaining({ event: 'create', version: 1 })]);
    expect((await ledger.ledgerEntries('ledger-co')).map((entry) => entry.kind)).toEqual(['customer_created']);

    const counter = countDynamoDbCalls(api.documentClient);
    try {
      expect(await linkOf('sub_local_ledger_co')).toEqual({ subscriptionId: 'sub_local_ledger_co', customerId: 'cus_local_ledger_co', tenantId: 'ledger-co' });
      expect(counter.counts()).toEqual({ GetItem: 1 });
    } finally {
      counter.remove();
    }
  });

  it('should refuse a tenant id that exists with 409 and change nothing, billing included', async () => {
    await create({ tenantId: 'dup-co' });
    const before = await api.tableSnapshot();

    const again = await create({ tenantId: 'dup-co', plan: 'professional' });

    expect(again.status).toBe(409);
    expect(again.body.error?.code).toBe('TENANT_EXISTS');
    expect(await api.tableSnapshot()).toEqual(before);
  });

  it('should refuse linking a subscription that bills another tenant with 409 naming it, and change nothing', async () => {
    await create({ tenantId: 'first-owner', billing: { customerId: 'cus_shared', subscriptionId: 'sub_shared' } });
    expect((await linkOf('sub_shared'))?.tenantId).toBe('first-owner');
    const before = await api.tableSnapshot();

    const refused = await create({ tenantId: 'second-owner', billing: { customerId: 'cus_shared', subscriptionId: 'sub_shared' } });

    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'SUBSCRIPTION_ALREADY_LINKED', message: expect.stringContaining("already bills tenant 'first-owner'"), details: { subscriptionId: 'sub_shared', linkedTenantId: 'first-owner' } });
    expect(await api.tableSnapshot()).toEqual(before);
  });

  it('should refuse a subscription item id without its subscription id with 400', async () => {
    const refused = await create({ tenantId: 'item-only', billing: { customerId: 'cus_x', subscriptionItemId: 'si_x' } });

    expect(refused.status).toBe(400);
    expect(refused.body.error?.details).toEqual([expect.objectContaining({ field: 'billing.subscriptionItemId', message: expect.stringContaining('needs its subscriptionId') })]);
  });

  it('should leave no link once the hard delete has purged the tenant’s data sources', async () => {
    await create({ tenantId: 'purged-co' });
    const source = subscriptionLinksSource({ client: api.documentClient, tableName: config.tableName });
    expect(await source.count('purged-co')).toBe(1);
    expect((await source.exportPage('purged-co', null, 10)).records).toEqual([{ subscriptionId: 'sub_local_purged_co', customerId: 'cus_local_purged_co', tenantId: 'purged-co' }]);

    await source.purge('purged-co');

    expect(await source.verifyPurged('purged-co')).toEqual({ remaining: 0 });
    const { Item } = await api.documentClient.send(new GetCommand({ TableName: config.tableName, Key: subscriptionLinkKey('sub_local_purged_co'), ConsistentRead: true }));
    expect(Item).toBeUndefined();
    expect(await linkOf('sub_local_purged_co')).toBeUndefined();
  });
});

describe('POST /tenants with Stripe', () => {
  let fake: FakeStripeServer;
  beforeAll(async () => {
    fake = await FakeStripeServer.start();
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.reset();
    jest.replaceProperty(ports, 'billing', new StripeBilling({ stripe: fake.stripeClient(), priceIds: PRICE_IDS }));
  });

  it('should create the customer and its subscription on the plan’s price under keys from the tenant id, and link it', async () => {
    const created = await create({ tenantId: 'stripe-co', plan: 'professional' });

    expect(created.status).toBe(201);
    const [customer] = fake.customers;
    const [subscription] = fake.subscriptionsOf(customer?.id as string);
    expect(subscription?.priceId).toBe('price_professional');
    expect(fake.mutations.map((request) => [request.path, request.idempotencyKey])).toEqual([
      ['/v1/customers', 'tenant:stripe-co:billing-customer:customer'],
      ['/v1/subscriptions', 'tenant:stripe-co:billing-customer:subscription'],
    ]);
    expect(created.body.billing).toEqual({ customerId: customer?.id, subscriptionId: subscription?.id, subscriptionItemId: subscription?.itemId });
    expect(await linkOf(subscription?.id as string)).toEqual({ subscriptionId: subscription?.id, customerId: customer?.id, tenantId: 'stripe-co' });
  });

  it('should create a free tenant without Stripe customer, subscription or link (no price configured for free)', async () => {
    const created = await create({ tenantId: 'stripe-free', plan: 'free' });

    expect(created.status).toBe(201);
    expect(created.body.billing).toBeUndefined();
    expect(fake.requests).toHaveLength(0);
    expect((await api.tableSnapshot()).filter((item) => String(item.pk).startsWith('SUBSCRIPTION#') && item.tenantId === 'stripe-free')).toEqual([]);
  });

  it('should link existing ids checked against Stripe, and refuse a mismatch with 422, creating nothing', async () => {
    const now = Math.floor(Date.now() / 1000);
    fake.seedSubscription({ id: 'sub_migrated', itemId: 'si_migrated', priceId: 'price_starter', customerId: 'cus_migrated', currentPeriodStart: now, currentPeriodEnd: now + 30 * 86_400 });
    const before = await api.tableSnapshot();

    const mismatch = await create({ tenantId: 'migrated-co', plan: 'enterprise', billing: { customerId: 'cus_migrated' } });

    expect(mismatch.status).toBe(422);
    expect(mismatch.body.error).toMatchObject({ code: 'BILLING_LINK_MISMATCH', message: expect.stringContaining("no item on the enterprise plan's price price_enterprise") });
    expect(await api.tableSnapshot()).toEqual(before);

    const linked = await create({ tenantId: 'migrated-co', plan: 'starter', billing: { customerId: 'cus_migrated' } });

    expect(linked.status).toBe(201);
    expect(linked.body.billing).toEqual({ customerId: 'cus_migrated', subscriptionId: 'sub_migrated', subscriptionItemId: 'si_migrated' });
    expect((await linkOf('sub_migrated'))?.tenantId).toBe('migrated-co');
    expect(fake.mutations).toHaveLength(0);
  });

  it('should delete the customer it made when the store then refuses the tenant (an id taken concurrently)', async () => {
    await create({ tenantId: 'raced-co', plan: 'starter' });
    const winner = fake.customers[0]?.id as string;
    fake.expireIdempotencyKeys(); // a day later: the same keys make a new customer
    // The id is taken between the route's check and its transaction.
    jest.spyOn(ports.tenants, 'find').mockResolvedValueOnce(undefined);

    const lost = await create({ tenantId: 'raced-co', plan: 'starter' });

    expect(lost.status).toBe(409);
    expect(lost.body.error?.code).toBe('TENANT_EXISTS');
    const loser = fake.customers[1]?.id as string;
    expect(fake.customerDeleted(loser)).toBe(true);
    expect(fake.customerDeleted(winner)).toBe(false);
    expect((await api.request<Body>('GET', '/tenants/raced-co')).body.billing?.customerId).toBe(winner);
  });

  it('should keep the customer when the concurrent create that won holds it (the same key gave both the same customer)', async () => {
    await create({ tenantId: 'twin-co', plan: 'starter' });
    jest.spyOn(ports.tenants, 'find').mockResolvedValueOnce(undefined);

    const lost = await create({ tenantId: 'twin-co', plan: 'starter' });

    expect(lost.status).toBe(409);
    expect(fake.customers).toHaveLength(1);
    expect(fake.customerDeleted(fake.customers[0]?.id as string)).toBe(false);
  });
});
