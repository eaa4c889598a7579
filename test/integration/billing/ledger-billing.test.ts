/**
 * The local billing ledger against DynamoDB Local (this file's own table): proration math on an injected clock,
 * one entry per operation however often it is applied or reverted, and "nothing charged" after a rollback.
 */
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { BillingRejectedError, type BillingAccount, type PlanChangeRequest } from '../../../functions/billing/billing-port';
import { LedgerBilling, localBillingAccount } from '../../../functions/billing/ledger-billing';
import { subscriptionLinkItem } from '../../../functions/billing/subscription-links';
import { config } from '../../../functions/shared/config';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import { createTableInput } from '../../../functions/tenants/tenant-table';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, region: config.region }), {
  marshallOptions: { removeUndefinedValues: true },
});

// 11 November 2026, 00:00 UTC: 20 of November's 30 days are left, two thirds of the month.
const NOV_11 = new Date('2026-11-11T00:00:00.000Z');
let now = NOV_11;
const ledger = new LedgerBilling({ client, tableName: config.tableName, now: () => now });

function upgrade(tenantId: string, overrides: Partial<PlanChangeRequest> = {}): PlanChangeRequest {
  return { operationId: `op-${tenantId}`, tenantId, fromPlan: 'starter', toPlan: 'professional', direction: 'upgrade', timing: 'immediately', ...overrides };
}

function downgrade(tenantId: string, overrides: Partial<PlanChangeRequest> = {}): PlanChangeRequest {
  return { operationId: `op-${tenantId}`, tenantId, fromPlan: 'professional', toPlan: 'starter', direction: 'downgrade', timing: 'period_end', ...overrides };
}

beforeAll(async () => {
  await client.send(new CreateTableCommand(createTableInput(config.tableName)));
});

afterAll(async () => {
  await client.send(new DeleteTableCommand({ TableName: config.tableName }));
  client.destroy();
});

beforeEach(() => {
  now = NOV_11;
});

describe('Class: LedgerBilling', () => {
  describe('Method: previewPlanChange', () => {
    it.each([
      // (9900 − 2900) × 20/30 = 4666.67
      { what: 'starter → professional on 11 Nov', request: upgrade('p1'), at: NOV_11, amountDueNow: 4667, line: 4667 },
      // (49900 − 2900) × 13.5/28 = 22660.71: February 2026 has 28 days, 13.5 of them left at noon on the 15th
      { what: 'starter → enterprise at noon on 15 Feb', request: upgrade('p2', { toPlan: 'enterprise' }), at: new Date('2026-02-15T12:00:00.000Z'), amountDueNow: 22661, line: 22661 },
      // (2900 − 9900) × 20/30 = −4666.67: a credit, nothing due now
      { what: 'professional → starter immediately on 11 Nov', request: downgrade('p3', { timing: 'immediately' }), at: NOV_11, amountDueNow: 0, line: -4667 },
      // The first instant of the month: the whole month is left
      { what: 'free → starter at the start of December', request: upgrade('p4', { fromPlan: 'free', toPlan: 'starter' }), at: new Date('2026-12-01T00:00:00.000Z'), amountDueNow: 2900, line: 2900 },
    ])('should prorate $what by the part of the calendar month left', async ({ request, at, amountDueNow, line }) => {
      // Prepare
      now = at;

      // Act
      const preview = await ledger.previewPlanChange(request);

      // Assess
      expect(preview).toEqual({
        source: 'local-estimate',
        currency: 'usd',
        amountDueNow,
        effectiveAt: at.toISOString(),
        lines: [{ description: expect.stringContaining(`Proration ${request.fromPlan} → ${request.toPlan}`), amount: line }],
      });
    });

    it('should preview a period-end downgrade as nothing due until the first day of next month', async () => {
      // Act
      const preview = await ledger.previewPlanChange(downgrade('p5'));

      // Assess
      expect(preview).toMatchObject({ source: 'local-estimate', amountDueNow: 0, effectiveAt: '2026-12-01T00:00:00.000Z', lines: [{ amount: 0 }] });
    });

    it('should change nothing', async () => {
      // Act
      await ledger.previewPlanChange(upgrade('p6'));
      await ledger.previewPlanChange(downgrade('p6', { operationId: 'op-p6-down' }));

      // Assess
      expect(await ledger.ledgerEntries('p6')).toEqual([]);
      expect(await ledger.balance('p6')).toBe(0);
    });
  });

  describe('Method: applyPlanChange', () => {
    it('should record an upgrade as one charge of the proration, invoiced now', async () => {
      // Act
      const change = await ledger.applyPlanChange(upgrade('a1'));

      // Assess
      expect(change).toEqual({
        kind: 'subscription_updated',
        effectiveAt: NOV_11.toISOString(),
        amountInvoiced: 4667,
        currency: 'usd',
        references: { ledgerEntry: 'LEDGER#op-a1#charge', ledgerKind: 'charge' },
      });
      expect(await ledger.ledgerEntries('a1')).toEqual([
        expect.objectContaining({ kind: 'charge', amount: 4667, operationId: 'op-a1', fromPlan: 'starter', toPlan: 'professional', periodStart: '2026-11-01T00:00:00.000Z', periodEnd: '2026-12-01T00:00:00.000Z' }),
      ]);
      expect(await ledger.balance('a1')).toBe(4667);
    });

    it('should charge once when the same operation is applied twice, answering the retry with the first result', async () => {
      // Act
      const first = await ledger.applyPlanChange(upgrade('a2'));
      now = new Date('2026-11-21T00:00:00.000Z'); // a later retry would prorate less; it must not charge again
      const second = await ledger.applyPlanChange(upgrade('a2'));

      // Assess
      expect(second).toEqual(first);
      expect((await ledger.ledgerEntries('a2')).filter((entry) => entry.kind === 'charge')).toHaveLength(1);
      expect(await ledger.balance('a2')).toBe(4667);
    });

    it('should refuse a different change under an operation id already used', async () => {
      // Prepare
      await ledger.applyPlanChange(upgrade('a3'));

      // Act & Assess
      await expect(ledger.applyPlanChange(upgrade('a3', { toPlan: 'enterprise' }))).rejects.toThrow(BillingRejectedError);
      expect(await ledger.balance('a3')).toBe(4667);
    });

    it('should record an immediate downgrade as a credit, with nothing invoiced now', async () => {
      // Act
      const change = await ledger.applyPlanChange(downgrade('a4', { timing: 'immediately' }));

      // Assess
      expect(change).toMatchObject({ kind: 'subscription_updated', amountInvoiced: 0 });
      expect(await ledger.ledgerEntries('a4')).toEqual([expect.objectContaining({ kind: 'credit', amount: -4667 })]);
      expect(await ledger.balance('a4')).toBe(-4667);
    });

    it('should record a period-end downgrade as a schedule from next month, charging nothing', async () => {
      // Act
      const change = await ledger.applyPlanChange(downgrade('a5'));

      // Assess
      expect(change).toEqual({
        kind: 'schedule_created',
        effectiveAt: '2026-12-01T00:00:00.000Z',
        amountInvoiced: 0,
        currency: 'usd',
        references: { ledgerEntry: 'LEDGER#op-a5#schedule', ledgerKind: 'schedule' },
      });
      expect(await ledger.ledgerEntries('a5')).toEqual([expect.objectContaining({ kind: 'schedule', amount: 0, effectiveAt: '2026-12-01T00:00:00.000Z' })]);
      expect(await ledger.balance('a5')).toBe(0);
    });

    it('should record nothing when the plan does not change', async () => {
      // Act
      const change = await ledger.applyPlanChange(upgrade('a6', { toPlan: 'starter' }));

      // Assess
      expect(change.kind).toBe('no_change');
      expect(await ledger.ledgerEntries('a6')).toEqual([]);
    });
  });

  describe('Method: findAppliedChange', () => {
    it.each([
      { what: 'an upgrade', request: upgrade('f1') },
      { what: 'a period-end downgrade', request: downgrade('f2') },
    ])('should read back $what once applied, and nothing before it or after its revert, recording nothing', async ({ request }) => {
      // Act & Assess
      expect(await ledger.findAppliedChange(request)).toBeUndefined();
      now = new Date(NOV_11.getTime() + 3_600_000); // a later clock must not change what was recorded
      const change = await ledger.applyPlanChange(request);
      now = new Date(NOV_11.getTime() + 7_200_000);
      expect(await ledger.findAppliedChange(request)).toEqual(change);
      await ledger.revertPlanChange(request, change);
      expect(await ledger.findAppliedChange(request)).toBeUndefined();
      expect(await ledger.ledgerEntries(request.tenantId)).toHaveLength(2);
    });
  });

  describe('Method: revertPlanChange', () => {
    it('should reverse an upgrade’s charge, leaving a balance of 0', async () => {
      // Prepare
      const request = upgrade('r1');
      const change = await ledger.applyPlanChange(request);

      // Act
      await ledger.revertPlanChange(request, change);

      // Assess
      expect(await ledger.ledgerEntries('r1')).toEqual([
        expect.objectContaining({ kind: 'charge', amount: 4667 }),
        expect.objectContaining({ kind: 'reversal', amount: -4667, reverses: 'charge', operationId: 'op-r1' }),
      ]);
      expect(await ledger.balance('r1')).toBe(0);
    });

    it('should reverse once when reverted twice', async () => {
      // Prepare
      const request = upgrade('r2');
      const change = await ledger.applyPlanChange(request);

      // Act
      await ledger.revertPlanChange(request, change);
      await ledger.revertPlanChange(request, change);

      // Assess
      expect((await ledger.ledgerEntries('r2')).filter((entry) => entry.kind === 'reversal')).toHaveLength(1);
      expect(await ledger.balance('r2')).toBe(0);
    });

    it('should take back an immediate downgrade’s credit', async () => {
      // Prepare
      const request = downgrade('r3', { timing: 'immediately' });
      const change = await ledger.applyPlanChange(request);

      // Act
      await ledger.revertPlanChange(request, change);

      // Assess
      expect(await ledger.ledgerEntries('r3')).toEqual([
        expect.objectContaining({ kind: 'credit', amount: -4667 }),
        expect.objectContaining({ kind: 'reversal', amount: 4667, reverses: 'credit' }),
      ]);
      expect(await ledger.balance('r3')).toBe(0);
    });

    it('should cancel a period-end schedule, once', async () => {
      // Prepare
      const request = downgrade('r4');
      const change = await ledger.applyPlanChange(request);

      // Act
      await ledger.revertPlanChange(request, change);
      await ledger.revertPlanChange(request, change);

      // Assess
      expect((await ledger.ledgerEntries('r4')).map((entry) => entry.kind)).toEqual(['schedule', 'schedule_cancelled']);
      expect(await ledger.balance('r4')).toBe(0);
    });

    it('should record nothing when reverting a change that was never recorded', async () => {
      // Act
      await ledger.revertPlanChange(upgrade('r5'), { kind: 'subscription_updated', effectiveAt: NOV_11.toISOString(), amountInvoiced: 4667, currency: 'usd', references: {} });

      // Assess
      expect(await ledger.ledgerEntries('r5')).toEqual([]);
    });
  });

  describe('Method: ledgerEntries', () => {
    it('should list only the tenant’s ledger entries, not its tenant item nor another tenant’s entries', async () => {
      // Prepare
      await new TenantStore({ client, tableName: config.tableName }).create(
        { tenantId: 'l1', name: 'L1', email: 'l1@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } },
        { actor: 'test' },
      );
      await ledger.applyPlanChange(upgrade('l1'));
      await ledger.applyPlanChange(upgrade('l2'));

      // Act
      const entries = await ledger.ledgerEntries('l1');

      // Assess
      expect(entries).toEqual([expect.objectContaining({ tenantId: 'l1', kind: 'charge' })]);
    });
  });
});

describe('LedgerBilling: the customer lifecycle (deletion)', () => {
  const lifecycle = (tenantId: string, idempotencyKey: string) => ({ tenantId, plan: 'starter' as const, idempotencyKey });

  it('should record cancel, restore and the customer deletion as history, each once, charging nothing', async () => {
    expect(await ledger.cancelSubscription(lifecycle('lc-a', 'del-1'))).toEqual({ cancelled: true, references: { ledgerEntry: 'LEDGER#del-1#subscription_cancelled', ledgerKind: 'subscription_cancelled' } });
    // A retry of the same request answers the same; another request finds billing already stopped.
    expect((await ledger.cancelSubscription(lifecycle('lc-a', 'del-1'))).cancelled).toBe(true);
    expect(await ledger.cancelSubscription(lifecycle('lc-a', 'del-2'))).toEqual({ cancelled: false, references: {} });

    expect(await ledger.restoreSubscription(lifecycle('lc-a', 'del-1'))).toBeUndefined();
    await ledger.restoreSubscription(lifecycle('lc-a', 'del-1')); // nothing cancelled any more: nothing recorded
    expect(await ledger.deleteCustomer(lifecycle('lc-a', 'hard-1'))).toEqual({ deleted: true });
    expect(await ledger.deleteCustomer(lifecycle('lc-a', 'hard-2'))).toEqual({ deleted: false });

    const entries = await ledger.ledgerEntries('lc-a');
    expect(entries.map((entry) => entry.kind).sort()).toEqual(['customer_deleted', 'subscription_cancelled', 'subscription_restored']);
    expect(entries.every((entry) => entry.amount === 0 && entry.fromPlan === 'starter')).toBe(true);
    expect(await ledger.balance('lc-a')).toBe(0);
    const history = await ledger.listInvoices({ tenantId: 'lc-a', limit: 10 });
    expect(history.invoices.map((invoice) => invoice.description)).toEqual(expect.arrayContaining([expect.stringContaining('on starter cancelled (del-1)')]));
  });

  it('should stop billing again after a restore (cancel, restore, cancel)', async () => {
    await ledger.cancelSubscription(lifecycle('lc-b', 'del-1'));
    await ledger.restoreSubscription(lifecycle('lc-b', 'del-1'));
    expect((await ledger.cancelSubscription(lifecycle('lc-b', 'del-2'))).cancelled).toBe(true);
  });
});

describe('LedgerBilling: subscriptions as Stripe keeps them', () => {
  const lifecycle = (tenantId: string, idempotencyKey: string, account?: BillingAccount) => ({ tenantId, plan: 'starter' as const, idempotencyKey, ...(account ? { account } : {}) });

  it('should restore a cancelled subscription under a new id (the same for a retry), so events about the old one no longer reach the tenant', async () => {
    const account = localBillingAccount('lc-new');
    await ledger.cancelSubscription(lifecycle('lc-new', 'del-1', account));
    const restored = await ledger.restoreSubscription(lifecycle('lc-new', 'del-1', account));
    expect(restored).toMatchObject({ customerId: account.customerId, subscriptionId: expect.stringMatching(/^sub_local_lc_new_r[0-9a-f]{12}$/) });
    expect(restored?.subscriptionId).not.toBe(account.subscriptionId);
    // A retried restore answers the same id; a later soft delete's restore gets another one.
    await ledger.cancelSubscription(lifecycle('lc-new', 'del-2', restored));
    expect(await ledger.restoreSubscription(lifecycle('lc-new', 'del-2', restored))).not.toEqual(restored);
  });

  it('should keep a canceled subscription canceled whatever a later report says (Stripe never revives one)', async () => {
    const account = localBillingAccount('lc-final');
    await client.send(new PutCommand({ TableName: config.tableName, Item: subscriptionLinkItem('lc-final', account) }));
    expect(await ledger.retrieveSubscription({ tenantId: 'lc-final', account, reported: { ...account, status: 'canceled', changedAt: 100 } })).toMatchObject({ status: 'canceled' });
    expect(await ledger.retrieveSubscription({ tenantId: 'lc-final', account, reported: { ...account, status: 'active', changedAt: 200 } })).toMatchObject({ status: 'canceled' });
  });
});

describe('LedgerBilling.createCustomer', () => {
  const request = { tenantId: 'new-co', name: 'New Co', email: 'billing@new.example', plan: 'free' as const, idempotencyKey: 'tenant:new-co:billing-customer' };

  it('should give every plan, free included, a local customer and subscription derived from the tenant id, with a ledger entry', async () => {
    const account = await ledger.createCustomer(request);

    expect(account).toEqual({ customerId: 'cus_local_new_co', subscriptionId: 'sub_local_new_co', subscriptionItemId: 'si_local_new_co' });
    const entries = await ledger.ledgerEntries('new-co');
    expect(entries).toEqual([expect.objectContaining({ kind: 'customer_created', amount: 0, operationId: request.idempotencyKey, fromPlan: 'free', toPlan: 'free' })]);
    expect(entries[0]?.description).toContain('cus_local_new_co');
  });

  it('should answer the same account and record nothing more when the create is retried', async () => {
    const first = await ledger.createCustomer({ ...request, tenantId: 'retry-co', idempotencyKey: 'tenant:retry-co:billing-customer' });
    const again = await ledger.createCustomer({ ...request, tenantId: 'retry-co', idempotencyKey: 'tenant:retry-co:billing-customer' });

    expect(again).toEqual(first);
    expect(await ledger.ledgerEntries('retry-co')).toHaveLength(1);
  });

  it('should take link ids as the account, with a local item id when none is given', async () => {
    const account = await ledger.createCustomer({ ...request, tenantId: 'linked-co', idempotencyKey: 'tenant:linked-co:billing-customer', link: { customerId: 'cus_migrated', subscriptionId: 'sub_migrated' } });

    expect(account).toEqual({ customerId: 'cus_migrated', subscriptionId: 'sub_migrated', subscriptionItemId: 'si_local_linked_co' });
    expect((await ledger.ledgerEntries('linked-co'))[0]?.description).toContain('Linked billing customer cus_migrated');
  });
});

describe('LedgerBilling: a second life (hard-deleted, then reactivated)', () => {
  const first = localBillingAccount('life-co');
  const request = (idempotencyKey: string, account?: BillingAccount) => ({ tenantId: 'life-co', plan: 'starter' as const, idempotencyKey, ...(account ? { account } : {}) });

  it('should give the new customer new ids, and let it be deleted, its subscription cancelled and restored, as the first one was', async () => {
    await ledger.createCustomer({ ...request('tenant:life-co:billing-customer'), name: 'Life', email: 'a@life.example' });
    await ledger.cancelSubscription(request('life-co:deletion:1', first));
    expect(await ledger.deleteCustomer(request('hard-delete:life-co:1', first))).toEqual({ deleted: true });

    // Reactivated: a new customer and subscription, as Stripe would make (never the first life's ids; a retry answers the same).
    const second = (await ledger.createCustomer({ ...request('life-co:reactivation:op1'), name: 'Life again', email: 'b@life.example' })) as BillingAccount;
    expect(second.customerId).not.toBe(first.customerId);
    expect(second.subscriptionId).not.toBe(first.subscriptionId);
    expect(await ledger.createCustomer({ ...request('life-co:reactivation:op1'), name: 'Life again', email: 'b@life.example' })).toEqual(second);

    // Its soft delete stops billing (the first life's cancellation does not count for it), its cancellation restores it.
    expect((await ledger.cancelSubscription(request('life-co:deletion:2', second))).cancelled).toBe(true);
    const restored = (await ledger.restoreSubscription(request('life-co:deletion:2', second))) as BillingAccount;
    expect(restored).toMatchObject({ customerId: second.customerId });
    expect(restored.subscriptionId).not.toBe(second.subscriptionId);
    // Its hard delete deletes it (the first customer's deletion does not make it undeletable); a second time does nothing.
    expect(await ledger.deleteCustomer(request('hard-delete:life-co:2', restored))).toEqual({ deleted: true });
    expect(await ledger.deleteCustomer(request('hard-delete:life-co:3', restored))).toEqual({ deleted: false });
    expect(await ledger.deleteCustomer(request('hard-delete:life-co:4', first))).toEqual({ deleted: false });
  });

  it('should restore a subscription an event reported canceled under a new id (a suspended tenant whose subscription ended)', async () => {
    const account = (await ledger.createCustomer({ tenantId: 'ended-co', name: 'Ended', email: 'e@ended.example', plan: 'starter', idempotencyKey: 'tenant:ended-co:billing-customer' })) as BillingAccount;
    await client.send(new PutCommand({ TableName: config.tableName, Item: subscriptionLinkItem('ended-co', account) }));
    // Live: kept as it is, nothing recorded.
    expect(await ledger.restoreSubscription({ tenantId: 'ended-co', plan: 'starter', idempotencyKey: 'ended-co:reactivation:op0', account })).toEqual(account);
    await ledger.retrieveSubscription({ tenantId: 'ended-co', account, reported: { ...account, status: 'canceled', changedAt: 100 } });

    const restored = await ledger.restoreSubscription({ tenantId: 'ended-co', plan: 'starter', idempotencyKey: 'ended-co:reactivation:op1', account });
    expect(restored?.subscriptionId).not.toBe(account.subscriptionId);
    // Taken back (the reactivation failed): cancelled, once.
    expect((await ledger.cancelSubscription({ tenantId: 'ended-co', plan: 'starter', idempotencyKey: 'ended-co:reactivation:op1:undo', account: restored })).cancelled).toBe(true);
    expect((await ledger.cancelSubscription({ tenantId: 'ended-co', plan: 'starter', idempotencyKey: 'ended-co:reactivation:op1:undo2', account: restored })).cancelled).toBe(false);
    // (One instant on this clock: compared in kind order.)
    expect((await ledger.ledgerEntries('ended-co')).map((entry) => [entry.kind, entry.subscriptionId]).sort()).toEqual([
      ['customer_created', account.subscriptionId],
      ['subscription_cancelled', restored?.subscriptionId],
      ['subscription_restored', restored?.subscriptionId],
    ]);
  });
});
