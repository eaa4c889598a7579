/**
 * The Stripe event processor and the dunning ladder against DynamoDB Local, with the billing ledger (no Stripe
 * key, as `npm start` runs) and the local scheduler: exactly once in any order, grace then suspension when its
 * timer fires, resumption, an operator's suspension respected, deleting tenants left alone, reconciliation.
 * Time moves through the ports' injected clock and the local scheduler's fireDue, not by waiting.
 */
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { LedgerBilling } from '../../../functions/billing/ledger-billing';
import { subscriptionLinkItem } from '../../../functions/billing/subscription-links';
import { initiateDeletion } from '../../../functions/deletion/soft-delete';
import { DUNNING_TIMER_TARGET, dunningTimerName } from '../../../functions/dunning/dunning-definition';
import { DEFAULT_DUNNING_POLICY, type DunningPolicy } from '../../../functions/dunning/dunning-policy';
import { fireDunningTimer } from '../../../functions/dunning/handlers/dunning-timer';
import { reconcileSubscriptions } from '../../../functions/dunning/reconcile';
import { StripeEventInProgressError } from '../../../functions/dunning/stripe-event-delivery';
import { EVENT_DEDUPLICATION_SECONDS, processStripeEvent, type DunningDependencies } from '../../../functions/dunning/stripe-event-processor';
import { idempotencyPartition } from '../../../functions/shared/idempotency';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { config } from '../../../functions/shared/config';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import { workflowPorts } from '../../../functions/workflows/ports';
import { ApiHarness } from '../../support/api-harness';
import { invoiceEvent, subscriptionEvent } from '../../support/stripe-events';

const DAY_MS = 86_400_000;
const api = new ApiHarness();
let clock = new Date('2026-03-02T10:00:00Z');
const now = () => clock;
const seconds = () => Math.floor(clock.getTime() / 1000);
const tenants = new TenantStore({ client: api.documentClient, tableName: config.tableName, now });
const ledger = new LedgerBilling({ client: api.documentClient, tableName: config.tableName, now });
const scheduler = new LocalScheduler({ client: api.documentClient, tableName: config.tableName, now });
let policy: DunningPolicy = DEFAULT_DUNNING_POLICY;

function deps(): DunningDependencies {
  const base = workflowPorts();
  return { ports: { tenants, operations: base.operations, leases: base.leases, provisioner: base.provisioner, billing: ledger, scheduler, now }, client: api.documentClient, tableName: config.tableName, policy };
}

beforeAll(async () => {
  await api.start();
  scheduler.setHandler(DUNNING_TIMER_TARGET, async (event) => void (await fireDunningTimer(event, deps())));
});
afterAll(() => api.stop());
beforeEach(() => {
  clock = new Date('2026-03-02T10:00:00Z');
  policy = DEFAULT_DUNNING_POLICY;
});

/** A tenant billed on `sub_<tenantId>` with its subscription link, as tenant creation writes them. */
async function billedTenant(tenantId: string) {
  const account = { customerId: `cus_${tenantId}`, subscriptionId: `sub_${tenantId}`, subscriptionItemId: `si_${tenantId}` };
  await tenants.create({ tenantId, name: `Org ${tenantId}`, email: `admin@${tenantId}.example`, plan: 'starter', usage: { queriesPerMonth: 1, storageGb: 0, documents: 1, users: 1 }, billing: account }, { actor: 'test' });
  await api.documentClient.send(new PutCommand({ TableName: config.tableName, Item: subscriptionLinkItem(tenantId, account) }));
  return account;
}

async function history(tenantId: string) {
  return (await tenants.history(tenantId, { limit: 100 })).items;
}

async function access(tenantId: string) {
  return (await api.request<Record<string, unknown>>('GET', `/tenants/${tenantId}/access`)).body;
}

const deliver = (event: Parameters<typeof processStripeEvent>[0]) => processStripeEvent(event, { channel: 'webhook' }, deps());

describe('invoice.payment_failed: grace, then suspension when the timer fires', () => {
  it('should keep the tenant active with a warning and the grace end, then suspend it once the grace period is over', async () => {
    const { subscriptionId } = await billedTenant('grace-co');
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() });

    expect(await deliver(failed)).toMatchObject({ result: 'applied', tenantId: 'grace-co', action: 'start_grace', tenantVersion: 2 });

    const graceEndsAt = new Date(clock.getTime() + 7 * DAY_MS).toISOString();
    expect(await access('grace-co')).toMatchObject({ access: 'read_write', state: 'active', billing: { standing: 'grace', graceEndsAt, warning: expect.stringContaining(graceEndsAt) } });
    expect((await history('grace-co'))[0]).toMatchObject({ event: 'start_grace_period', from: 'active', to: 'active', actor: 'stripe:webhook', stripeEventId: failed.id, stripeEventType: 'invoice.payment_failed' });
    expect(await scheduler.find(dunningTimerName('grace-co'))).toMatchObject({ at: new Date(graceEndsAt), target: DUNNING_TIMER_TARGET, payload: { tenantId: 'grace-co', subscriptionId } });

    // A day before the end nothing is due; an early firing (a clock skew) changes nothing and re-arms.
    clock = new Date(Date.parse(graceEndsAt) - DAY_MS);
    expect(await fireDunningTimer({ schedule: dunningTimerName('grace-co'), target: DUNNING_TIMER_TARGET, scheduledAt: graceEndsAt, payload: { tenantId: 'grace-co', subscriptionId } }, deps())).toMatchObject({ result: 'no_change' });
    expect((await tenants.get('grace-co')).state).toBe('active');

    clock = new Date(Date.parse(graceEndsAt) + 60_000);
    expect((await scheduler.fireDue(clock)).fired).toEqual([dunningTimerName('grace-co')]);

    expect(await access('grace-co')).toMatchObject({ access: 'read_only', state: 'suspended' });
    expect((await access('grace-co')).billing).toBeUndefined();
    expect((await history('grace-co'))[0]).toMatchObject({ event: 'suspend', from: 'active', to: 'suspended', actor: 'dunning:timer', reason: expect.stringContaining('Grace period ended') });
    expect((await tenants.get('grace-co')).dunning).toMatchObject({ standing: 'suspended', subscriptionId });
    // A late duplicate firing changes nothing.
    expect(await fireDunningTimer({ schedule: dunningTimerName('grace-co'), target: DUNNING_TIMER_TARGET, scheduledAt: graceEndsAt, payload: { tenantId: 'grace-co', subscriptionId } }, deps())).toMatchObject({ result: 'no_change' });
    expect((await tenants.get('grace-co')).version).toBe(3);
  });

  it.each([['basil'], ['legacy']] as const)('should read the subscription of a %s-shaped invoice', async (shape) => {
    const { subscriptionId } = await billedTenant(`shape-${shape}`);
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds(), shape });
    if (shape === 'legacy') expect(failed.data?.object).not.toHaveProperty('parent');
    else expect(failed.data?.object).not.toHaveProperty('subscription');

    expect(await deliver(failed)).toMatchObject({ result: 'applied', tenantId: `shape-${shape}`, action: 'start_grace' });
  });
});

describe('exactly once, in any order', () => {
  /** The Powertools records (Stripe events and Idempotency-Keys) in the tenant's partition. */
  async function idempotencyRecords(tenantId: string) {
    const { Items } = await api.documentClient.send(new QueryCommand({ TableName: config.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': idempotencyPartition(tenantId) }, ConsistentRead: true }));
    return Items ?? [];
  }

  it("should act once for the same event delivered twice: one transition, one audit item, the first outcome kept 30 days in the tenant's partition", async () => {
    const { subscriptionId } = await billedTenant('twice-co');
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() });

    expect(await deliver(failed)).toMatchObject({ result: 'applied' });
    expect(await deliver(failed)).toMatchObject({ result: 'duplicate', reason: expect.stringContaining('already processed (applied: start_grace)') });

    expect((await history('twice-co')).filter((entry) => entry.stripeEventId === failed.id)).toHaveLength(1);
    expect((await tenants.get('twice-co')).version).toBe(2);
    const wallNow = Math.floor(Date.now() / 1000);
    const records = await idempotencyRecords('twice-co');
    expect(records).toEqual([expect.objectContaining({ sk: expect.stringMatching(/^STRIPE_EVENT#/), status: 'COMPLETED', response: expect.objectContaining({ result: 'applied', tenantId: 'twice-co' }) })]);
    expect(records[0]?.expiresAt).toBeGreaterThanOrEqual(wallNow + EVENT_DEDUPLICATION_SECONDS - 5);
    expect(records[0]?.expiresAt).toBeLessThanOrEqual(wallNow + EVENT_DEDUPLICATION_SECONDS + 5);
  });

  it('should act once for the same event delivered concurrently: the others are told it is in progress (to be delivered again) or get the duplicate', async () => {
    const { subscriptionId } = await billedTenant('concurrent-co');
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() });

    const outcomes = await Promise.allSettled([deliver(failed), deliver(failed), deliver(failed)]);

    const results = outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.result : outcome.reason instanceof StripeEventInProgressError ? 'in_progress' : String(outcome.reason)));
    expect(results.filter((result) => result === 'applied')).toHaveLength(1);
    expect(results.filter((result) => result !== 'applied').every((result) => result === 'duplicate' || result === 'in_progress')).toBe(true);
    expect((await history('concurrent-co')).filter((entry) => entry.stripeEventId === failed.id)).toHaveLength(1);
    expect((await tenants.get('concurrent-co')).version).toBe(2);
    // Delivered again later (as Stripe does after a non-2xx): the duplicate.
    expect(await deliver(failed)).toMatchObject({ result: 'duplicate' });
  });

  it("should not act again when the first delivery committed its effect but its outcome was not kept: the subscription's watermark is that event", async () => {
    const { subscriptionId } = await billedTenant('lost-outcome-co');
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() });
    expect(await deliver(failed)).toMatchObject({ result: 'applied' });
    // As if the function died after its transaction and before Powertools stored the outcome (its claim lapsed).
    for (const record of await idempotencyRecords('lost-outcome-co')) await api.documentClient.send(new DeleteCommand({ TableName: config.tableName, Key: { pk: record.pk, sk: record.sk } }));

    expect(await deliver(failed)).toMatchObject({ result: 'duplicate', reason: expect.stringContaining(`already applied to subscription ${subscriptionId}`) });
    expect((await history('lost-outcome-co')).filter((entry) => entry.stripeEventId === failed.id)).toHaveLength(1);
    expect((await tenants.get('lost-outcome-co')).version).toBe(2);
  });

  it('should leave the tenant active when a payment_failed arrives after a newer paid', async () => {
    const { subscriptionId } = await billedTenant('order-co');
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() - 3600 });
    const paid = invoiceEvent('invoice.paid', subscriptionId, { created: seconds() });

    expect(await deliver(paid)).toMatchObject({ result: 'no_change' });
    expect(await deliver(failed)).toMatchObject({ result: 'stale', tenantId: 'order-co' });

    const tenant = await tenants.get('order-co');
    expect(tenant).toMatchObject({ state: 'active', version: 1 });
    expect(tenant.dunning).toBeUndefined();
    expect((await access('order-co')).billing).toBeUndefined();
  });

  it('should end the grace when an older payment_failed commits while a newer paid that changes nothing is deciding', async () => {
    const { subscriptionId } = await billedTenant('race-co');
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() - 60 });
    const paid = invoiceEvent('invoice.paid', subscriptionId, { created: seconds() });
    // The paid event reads the tenant (no grace yet: nothing to do), then the older payment_failed is delivered and
    // commits its grace before the paid event writes its deduplication item and watermark (bench:webhooks found it).
    let interleaved = false;
    const find = async (tenantId: string) => {
      const tenant = await tenants.find(tenantId);
      if (!interleaved) {
        interleaved = true;
        expect(await deliver(failed)).toMatchObject({ result: 'applied', action: 'start_grace' });
      }
      return tenant;
    };
    const racing = new Proxy(tenants, {
      get: (target, property) => {
        if (property === 'find') return find;
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const base = deps();

    await processStripeEvent(paid, { channel: 'webhook' }, { ...base, ports: { ...base.ports, tenants: racing } });

    const tenant = await tenants.get('race-co');
    expect(tenant.state).toBe('active');
    expect(tenant.dunning).toBeUndefined();
    expect((await history('race-co'))[0]).toMatchObject({ event: 'end_grace_period', stripeEventId: paid.id });
    expect(await scheduler.find(dunningTimerName('race-co'))).toBeUndefined();
  });

  it('should ignore an unknown event type and a subscription no tenant has, changing nothing', async () => {
    const { subscriptionId } = await billedTenant('unknown-co');
    const before = await api.tableSnapshot();

    expect(await deliver(subscriptionEvent('customer.created', subscriptionId, { created: seconds() }))).toMatchObject({ result: 'ignored' });
    expect(await deliver(invoiceEvent('invoice.payment_failed', 'sub_of_another_system', { created: seconds() }))).toMatchObject({ result: 'ignored', reason: expect.stringContaining('No tenant') });

    expect(await api.tableSnapshot()).toEqual(before);
  });
});

describe('the ladder', () => {
  it('should suspend at once on unpaid, and resume on invoice.paid: resume and complete_reactivation, the timer gone', async () => {
    const { subscriptionId } = await billedTenant('unpaid-co');
    await deliver(invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() - 60 }));
    const unpaid = subscriptionEvent('customer.subscription.updated', subscriptionId, { created: seconds(), status: 'unpaid' });

    expect(await deliver(unpaid)).toMatchObject({ result: 'applied', action: 'suspend', from: 'active', to: 'suspended' });
    expect(await access('unpaid-co')).toMatchObject({ access: 'read_only' });
    expect(await scheduler.find(dunningTimerName('unpaid-co'))).toBeUndefined();

    const paid = invoiceEvent('invoice.paid', subscriptionId, { created: seconds() + 60 });
    expect(await deliver(paid)).toMatchObject({ result: 'applied', action: 'resume', from: 'suspended', to: 'active' });

    expect(await access('unpaid-co')).toMatchObject({ access: 'read_write', state: 'active' });
    expect((await tenants.get('unpaid-co')).dunning).toBeUndefined();
    const [complete, resume] = await history('unpaid-co');
    expect(resume).toMatchObject({ event: 'resume', from: 'suspended', to: 'reactivating', stripeEventId: paid.id, stripeEventType: 'invoice.paid' });
    expect(complete).toMatchObject({ event: 'complete_reactivation', from: 'reactivating', to: 'active', stripeEventId: paid.id });
  });

  it('should end the grace period on invoice.paid and cancel its timer', async () => {
    const { subscriptionId } = await billedTenant('recover-co');
    await deliver(invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() }));
    expect(await scheduler.find(dunningTimerName('recover-co'))).toBeDefined();

    expect(await deliver(invoiceEvent('invoice.paid', subscriptionId, { created: seconds() + 1 }))).toMatchObject({ result: 'applied', action: 'end_grace' });

    expect(await scheduler.find(dunningTimerName('recover-co'))).toBeUndefined();
    expect((await history('recover-co'))[0]).toMatchObject({ event: 'end_grace_period' });
    expect((await access('recover-co')).billing).toBeUndefined();
  });

  it('should not resume a tenant an operator suspended when its invoice is paid', async () => {
    const { subscriptionId } = await billedTenant('operator-co');
    await tenants.applyTransition(await tenants.get('operator-co'), 'suspend', { actor: 'operator@test', reason: 'abuse report' });

    expect(await deliver(invoiceEvent('invoice.paid', subscriptionId, { created: seconds() }))).toMatchObject({ result: 'no_change', reason: expect.stringContaining('operator') });

    expect(await tenants.get('operator-co')).toMatchObject({ state: 'suspended', version: 2 });
  });

  it('should suspend on customer.subscription.deleted, and soft-delete N days later when configured', async () => {
    policy = { ...DEFAULT_DUNNING_POLICY, deleteAfterCanceledDays: 30 };
    const { subscriptionId } = await billedTenant('canceled-co');

    expect(await deliver(subscriptionEvent('customer.subscription.deleted', subscriptionId, { created: seconds(), status: 'canceled' }))).toMatchObject({ result: 'applied', action: 'suspend' });
    const deleteAt = new Date(clock.getTime() + 30 * DAY_MS);
    expect(await tenants.get('canceled-co')).toMatchObject({ state: 'suspended', dunning: { standing: 'suspended', deleteAt: deleteAt.toISOString() } });
    expect(await scheduler.find(dunningTimerName('canceled-co'))).toMatchObject({ at: deleteAt });

    clock = new Date(deleteAt.getTime() + 60_000);
    expect((await scheduler.fireDue(clock)).fired).toContain(dunningTimerName('canceled-co'));

    expect(await tenants.get('canceled-co')).toMatchObject({ state: 'deleting', deletion: { requestedBy: 'dunning:timer' } });
    expect((await history('canceled-co'))[0]).toMatchObject({ event: 'initiate_deletion', actor: 'dunning:timer' });
  });

  it('should only suspend on customer.subscription.deleted by default (no soft delete, no timer)', async () => {
    const { subscriptionId } = await billedTenant('canceled-default');

    expect(await deliver(subscriptionEvent('customer.subscription.deleted', subscriptionId, { created: seconds(), status: 'canceled' }))).toMatchObject({ result: 'applied', action: 'suspend' });

    expect((await tenants.get('canceled-default')).dunning?.deleteAt).toBeUndefined();
    expect(await scheduler.find(dunningTimerName('canceled-default'))).toBeUndefined();
  });

  it('should ignore customer.subscription.deleted for a tenant being deleted (our own soft delete cancels it)', async () => {
    const { subscriptionId } = await billedTenant('deleting-co');
    await initiateDeletion(deps().ports, 'deleting-co', { actor: 'operator@test' });
    const before = (await tenants.get('deleting-co')).version;

    expect(await deliver(subscriptionEvent('customer.subscription.deleted', subscriptionId, { created: seconds() + 1, status: 'canceled' }))).toMatchObject({ result: 'ignored', reason: expect.stringContaining('deleting') });

    expect(await tenants.get('deleting-co')).toMatchObject({ state: 'deleting', version: before });
  });
});

describe('a tenant busy in a transitional state', () => {
  it('should leave an exporting tenant alone, re-arm the timer shortly after, and apply the rung once the export ends', async () => {
    const { subscriptionId } = await billedTenant('busy-co');
    const exporting = await tenants.applyTransition(await tenants.get('busy-co'), 'initiate_export', { actor: 'operator@test', operationId: 'op-export-busy' });

    expect(await deliver(invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() }))).toMatchObject({ result: 'no_change', reason: expect.stringContaining('exporting') });
    expect(await scheduler.find(dunningTimerName('busy-co'))).toMatchObject({ at: new Date(clock.getTime() + DEFAULT_DUNNING_POLICY.busyRetrySeconds * 1000) });
    expect((await tenants.get('busy-co')).version).toBe(exporting.version);

    await tenants.applyTransition(exporting, 'complete_export', { actor: 'operator@test', operationId: 'op-export-busy' });
    clock = new Date(clock.getTime() + DEFAULT_DUNNING_POLICY.busyRetrySeconds * 1000 + 1000);
    expect((await scheduler.fireDue(clock)).fired).toEqual([dunningTimerName('busy-co')]);

    expect(await tenants.get('busy-co')).toMatchObject({ state: 'active', dunning: { standing: 'grace' } });
    expect((await history('busy-co'))[0]).toMatchObject({ event: 'start_grace_period', actor: 'dunning:timer' });
  });
});

describe('an earlier subscription of the tenant', () => {
  it('should ignore the end of the subscription a cancelled soft delete replaced (Stripe reports it deleted late)', async () => {
    const old = await billedTenant('replaced-co');
    // The cancelled soft delete restored billing on a new subscription, linked to the tenant with it.
    const tenant = await tenants.get('replaced-co');
    const current = { ...old, subscriptionId: 'sub_replaced-co_r1', subscriptionItemId: 'si_replaced-co_r1' };
    await tenants.applyTransitions(tenant, ['suspend'], { actor: 'test' });
    await tenants.applyTransitions(await tenants.get('replaced-co'), ['resume', 'complete_reactivation'], { actor: 'test' }, { changes: { billing: current } });
    await api.documentClient.send(new PutCommand({ TableName: config.tableName, Item: subscriptionLinkItem('replaced-co', current) }));
    const before = await tenants.get('replaced-co');

    const outcome = await deliver(subscriptionEvent('customer.subscription.deleted', old.subscriptionId, { created: seconds(), status: 'canceled' }));

    expect(outcome).toMatchObject({ result: 'ignored', reason: expect.stringContaining(`no longer tenant replaced-co's (now ${current.subscriptionId})`) });
    expect(await tenants.get('replaced-co')).toEqual(before);
  });
});

describe('reconciliation', () => {
  it('should catch a missed event and report what it changed, with billing:reconcile in the audit item', async () => {
    const { subscriptionId, customerId } = await billedTenant('missed-co');
    await billedTenant('fine-co');
    // Stripe moved the subscription to unpaid; the event never arrived (an endpoint disabled after failures).
    await ledger.retrieveSubscription({ tenantId: 'missed-co', account: { customerId, subscriptionId, subscriptionItemId: 'si_missed-co' }, reported: { subscriptionId, customerId, status: 'unpaid', changedAt: seconds() } });

    const report = await reconcileSubscriptions(deps());

    expect(report.changed).toEqual([{ tenantId: 'missed-co', from: 'active', to: 'suspended', action: 'suspend' }]);
    expect(report.errors).toEqual([]);
    expect(report.checked).toBeGreaterThanOrEqual(2);
    expect((await history('missed-co'))[0]).toMatchObject({ event: 'suspend', actor: 'billing:reconcile', reason: expect.stringMatching(/^Reconciliation/) });
    expect((await reconcileSubscriptions(deps())).changed).toEqual([]);
  });

  it('should report a tenant whose subscription cannot be read as an error and go on with the others; a tenant without a link is not checked', async () => {
    await billedTenant('unreadable-co');
    const { subscriptionId, customerId } = await billedTenant('lapsed-co');
    await ledger.retrieveSubscription({ tenantId: 'lapsed-co', account: { customerId, subscriptionId, subscriptionItemId: 'si_lapsed-co' }, reported: { subscriptionId, customerId, status: 'unpaid', changedAt: seconds() } });
    // Billed before links existed: its billing names a subscription no link item has.
    await tenants.create({ tenantId: 'unlinked-co', name: 'Org unlinked', email: 'a@unlinked.example', plan: 'starter', usage: { queriesPerMonth: 1, storageGb: 0, documents: 1, users: 1 }, billing: { customerId: 'cus_u', subscriptionId: 'sub_unlinked_co', subscriptionItemId: 'si_u' } }, { actor: 'test' });
    const failing: DunningDependencies = { ...deps(), ports: { ...deps().ports, billing: Object.assign(Object.create(ledger) as LedgerBilling, {
      retrieveSubscription: async (request: Parameters<LedgerBilling['retrieveSubscription']>[0]) => {
        if (request.tenantId === 'unreadable-co') throw new Error('Billing is unavailable for unreadable-co');
        return ledger.retrieveSubscription(request);
      },
    }) } };

    const report = await reconcileSubscriptions(failing);

    expect(report.errors).toEqual([{ tenantId: 'unreadable-co', message: 'Billing is unavailable for unreadable-co' }]);
    expect(report.changed).toContainEqual({ tenantId: 'lapsed-co', from: 'active', to: 'suspended', action: 'suspend' });
    expect(report.changed.map((change) => change.tenantId)).not.toContain('unlinked-co');
    expect((await tenants.get('unreadable-co')).state).toBe('active');
    expect((await tenants.get('unlinked-co')).state).toBe('active');
  });

  it('POST /billing/reconcile: operators only; answers the report', async () => {
    const forbidden = await api.request('POST', '/billing/reconcile', { token: api.tenantToken('fine-co') });
    expect(forbidden.status).toBe(403);

    const answered = await api.request<Record<string, unknown>>('POST', '/billing/reconcile');
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ checked: expect.any(Number), changed: expect.any(Array), errors: [] });
  });
});

