/**
 * The billing-history source on Stripe: the real SDK against the local fake Stripe server, invoices listed per
 * customer page by page with `starting_after`; purge keeps them (tax law) and says so.
 */
import { StripeBilling } from '../../../functions/billing/stripe-billing';
import type { BillingAccount } from '../../../functions/billing/billing-port';
import { BillingHistorySource } from '../../../functions/data-sources/billing-history-source';
import { DataSourceCursorError, type DataRecord } from '../../../functions/data-sources/data-source';
import { FakeStripeServer } from '../../support/fake-stripe-server';

const PRICE_IDS = { starter: 'price_starter', professional: 'price_professional', enterprise: 'price_enterprise' };
let stripe: FakeStripeServer;
let source: BillingHistorySource;
const accounts = new Map<string, BillingAccount>();

beforeAll(async () => {
  stripe = await FakeStripeServer.start();
  source = new BillingHistorySource({ billing: new StripeBilling({ stripe: stripe.stripeClient(), priceIds: PRICE_IDS }), accountOf: async (tenantId) => accounts.get(tenantId) });
  const now = Math.floor(Date.now() / 1000);
  for (const [tenantId, invoices] of [['acme', 7], ['acme-eu', 2], ['acme-corp', 0]] as const) {
    stripe.seedSubscription({ id: `sub_${tenantId}`, itemId: `si_${tenantId}`, customerId: `cus_${tenantId}`, priceId: 'price_starter', currentPeriodStart: now - 864_000, currentPeriodEnd: now + 864_000 });
    accounts.set(tenantId, { customerId: `cus_${tenantId}`, subscriptionId: `sub_${tenantId}`, subscriptionItemId: `si_${tenantId}` });
    for (let i = 0; i < invoices; i += 1) stripe.seedInvoice(`sub_${tenantId}`, { created: now - 86_400 * (30 - i), number: `${tenantId.toUpperCase()}-${i}`, total: 1000 + i });
  }
});
afterAll(async () => {
  await stripe.close();
});

async function allPages(tenantId: string, limit: number): Promise<{ records: DataRecord[]; cursors: string[] }> {
  const records: DataRecord[] = [];
  const cursors: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await source.exportPage(tenantId, cursor, limit);
    records.push(...page.records);
    cursor = page.nextCursor;
    if (cursor) cursors.push(cursor);
  } while (cursor);
  return { records, cursors };
}

describe('Billing history through Stripe', () => {
  it('should export every invoice of the tenant\'s customer, newest first, in pages that resume from their cursor', async () => {
    stripe.requests.length = 0;
    const { records, cursors } = await allPages('acme', 3);

    expect(await source.count('acme')).toBe(7);
    expect(records.map((record) => record.number)).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `ACME-${i}`));
    expect(records[0]).toMatchObject({ source: 'stripe', status: 'paid', currency: 'usd', total: 1006, linesComplete: true });
    expect(records[0]?.created).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The SDK asked for the customer's invoices, 3 at a time, each page after the last invoice of the one before.
    const lists = stripe.requests.filter((request) => request.method === 'GET' && request.path === '/v1/invoices').slice(0, 3);
    expect(lists.map((request) => request.form)).toEqual([
      { customer: 'cus_acme', limit: '3' },
      { customer: 'cus_acme', limit: '3', starting_after: records[2]?.id },
      { customer: 'cus_acme', limit: '3', starting_after: records[5]?.id },
    ]);
    // A page read again from its cursor is the same page.
    expect((await source.exportPage('acme', cursors[0] as string, 3)).records).toEqual(records.slice(3, 6));
  });

  it('should keep look-alike tenants apart, and a tenant without a Stripe account has no invoices', async () => {
    expect((await allPages('acme-eu', 10)).records.map((record) => record.number)).toEqual(['ACME-EU-1', 'ACME-EU-0']);
    expect(await source.count('acme-corp')).toBe(0);
    stripe.requests.length = 0;
    expect(await source.count('no-account')).toBe(0);
    expect(stripe.requests).toHaveLength(0);
  });

  it('should delete nothing on purge: invoices are kept by law, reported as retained, not as remaining', async () => {
    expect(source.retention.basis).toMatch(/Art\. 17\(3\)\(b\)/);
    expect(await source.purge('acme')).toEqual({ deleted: 0, retained: 7 });
    expect(await source.verifyPurged('acme')).toEqual({ remaining: 0, retained: 7 });
    expect(stripe.invoices.filter((invoice) => invoice.customer === 'cus_acme')).toHaveLength(7);
    expect(stripe.requests.filter((request) => request.method !== 'GET')).toEqual([]);
  });

  it('should refuse a tampered cursor or one of another tenant', async () => {
    const { cursors } = await allPages('acme', 3);
    const decoded = JSON.parse(Buffer.from(cursors[0] as string, 'base64url').toString()) as Record<string, unknown>;
    const tampered = Buffer.from(JSON.stringify({ ...decoded, position: { startingAfter: 'in_x', pk: 'TENANT#acme-eu' } })).toString('base64url');
    await expect(source.exportPage('acme', tampered, 3)).rejects.toThrow(DataSourceCursorError);
    await expect(source.exportPage('acme-eu', cursors[0] as string, 3)).rejects.toThrow(DataSourceCursorError);
    await expect(source.exportPage('acme', 'not a cursor', 3)).rejects.toThrow(DataSourceCursorError);
  });
});
