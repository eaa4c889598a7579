/**
 * The deployed dunning entry points, invoked as Lambda invokes them (the event fixtures of test/events), on
 * DynamoDB Local with the billing ledger and the local scheduler (no Stripe key, no scheduler group configured):
 * the ladder's timer, the daily reconciliation (an EventBridge rule event) and POST /billing/reconcile.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { LedgerBilling } from '../../functions/billing/ledger-billing';
import { subscriptionLinkItem } from '../../functions/billing/subscription-links';
import { dunningTimerName } from '../../functions/dunning/dunning-definition';
import { handler as dunningTimer } from '../../functions/dunning/handlers/dunning-timer';
import { handler as reconcileRoute } from '../../functions/dunning/handlers/reconcile';
import { handler as reconcileSweep } from '../../functions/dunning/handlers/reconcile-sweep';
import { config } from '../../functions/shared/config';
import { TenantStore } from '../../functions/tenants/tenant-store';
import { apiEvent, dunningFiring, scheduledRule } from '../support/events';
import { useTestTable } from '../support/test-table';

const client = useTestTable();
const tenants = new TenantStore({ client, tableName: config.tableName });
const ledger = new LedgerBilling({ client, tableName: config.tableName });
const context = { functionName: 'dunning-entry-points-test', awsRequestId: 'req-1' } as Context;
const account = { customerId: 'cus_ep', subscriptionId: 'sub_ep', subscriptionItemId: 'si_ep' };

beforeAll(async () => {
  await tenants.create({ tenantId: 'ep-billed', name: 'ep', email: 'ep@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 }, billing: account }, { actor: 'test' });
  await client.send(new PutCommand({ TableName: config.tableName, Item: subscriptionLinkItem('ep-billed', account) }));
});

/** Stripe moved the subscription to `status` (the ledger records what it is told). */
async function stripeSays(status: 'past_due' | 'unpaid' | 'active', changedAt: number) {
  await ledger.retrieveSubscription({ tenantId: 'ep-billed', account, reported: { ...account, status, changedAt } });
}

test('the daily reconciliation (an EventBridge rule event) applies a missed past_due: grace', async () => {
  await stripeSays('past_due', 1);
  const report = await (reconcileSweep as (event: unknown) => ReturnType<typeof reconcileSweep>)(scheduledRule());
  expect(report.changed).toEqual([{ tenantId: 'ep-billed', from: 'active', to: 'active', action: 'start_grace' }]);
  expect((await tenants.get('ep-billed')).dunning).toMatchObject({ standing: 'grace', cause: { channel: 'reconcile' } });
});

test('the timer (a Scheduler delivery) re-reads the tenant and changes nothing while the grace runs', async () => {
  const graceEndsAt = (await tenants.get('ep-billed')).dunning?.graceEndsAt as string;
  const outcome = await dunningTimer(dunningFiring(dunningTimerName('ep-billed'), { tenantId: 'ep-billed', subscriptionId: 'sub_ep' }, graceEndsAt));
  expect(outcome).toMatchObject({ result: 'no_change', reason: expect.stringContaining('grace period') });
  // A firing for a subscription that is not the tenant's is ignored.
  expect(await dunningTimer(dunningFiring(dunningTimerName('ep-billed'), { tenantId: 'ep-billed', subscriptionId: 'sub_other' }, graceEndsAt))).toMatchObject({ result: 'ignored' });
});

test('POST /billing/reconcile answers operators with the report, and refuses tenant-scoped tokens', async () => {
  await stripeSays('unpaid', 2);
  const operator = await reconcileRoute(apiEvent({ method: 'POST', route: '/billing/reconcile', headers: { 'idempotency-key': 'reconcile-ep-1' } }), context);
  expect(operator.statusCode).toBe(200);
  expect(JSON.parse(operator.body as string)).toEqual({ checked: 1, changed: [{ tenantId: 'ep-billed', from: 'active', to: 'suspended', action: 'suspend' }], errors: [] });
  const tenant = await reconcileRoute(apiEvent({ method: 'POST', route: '/billing/reconcile', principal: { subject: 'app@ep-billed', role: 'tenant', tenantId: 'ep-billed' } }), context);
  expect(tenant.statusCode).toBe(403);
});
