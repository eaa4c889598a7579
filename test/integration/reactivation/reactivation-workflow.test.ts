/**
 * Every reactivation path end to end (issue 11, Must show): statemachines/reactivation.asl.json executed by the
 * local workflow runner, started by requestReactivation as the route starts it, its steps against DynamoDB Local,
 * the local S3 server (documents, the local vector store), the real data-source registry, the local billing
 * ledger, the local provisioner and the local scheduler, on an injected clock.
 *
 * Each path is run once to completion, then with a fault injected before and after every Task state it reaches
 * (the list is the ASL's, found by the happy run, never written here): the tenant ends where it came from, with
 * nothing billed or provisioned left behind and its soft delete's schedules as they were.
 */
import './../../support/log-level-info';
import { createHash, randomUUID } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { BillingAccount, BillingPort } from '../../../functions/billing/billing-port';
import { LedgerBilling, type LedgerEntry } from '../../../functions/billing/ledger-billing';
import { StripeBilling } from '../../../functions/billing/stripe-billing';
import { findTenantBySubscription, subscriptionLinkItem } from '../../../functions/billing/subscription-links';
import type { DataSource } from '../../../functions/data-sources/data-source';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { canonicalJson } from '../../../functions/deletion/deletion-certificate';
import { enforcementCheckAt } from '../../../functions/deletion/deletion-policy';
import type { HardDeleteInput } from '../../../functions/deletion/hard-delete-definition';
import { initiateDeletion } from '../../../functions/deletion/soft-delete';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { OperationStore, type Operation } from '../../../functions/operations/operation-store';
import type { PlanId } from '../../../functions/plans/plan-catalog';
import { LocalProvisioner } from '../../../functions/provisioning/provisioner';
import { REACTIVATING, type ReactivationPath } from '../../../functions/reactivation/reactivation-definition';
import { reactivationEvent, requestReactivation } from '../../../functions/reactivation/reactivation-request';
import type { ReactivateBody } from '../../../functions/reactivation/reactivation-schemas';
import { REACTIVATION_STEPS } from '../../../functions/reactivation/reactivation-steps';
import { reactivationDependencies } from '../../../functions/reactivation/reactivation-workflow';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { config } from '../../../functions/shared/config';
import { toApiError, type ApiError } from '../../../functions/shared/errors';
import { createTenant } from '../../../functions/tenants/tenant-creation';
import { TenantStore, type Tenant } from '../../../functions/tenants/tenant-store';
import type { WorkflowPorts } from '../../../functions/workflows/ports';
import { startExecution } from '../../../functions/workflows/start-execution';
import { LocalWorkflowRunner, loadDefinition, taskStateNames, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { FakeStripeServer } from '../../support/fake-stripe-server';
import { InjectedFault } from '../../support/injected-fault';
import { localS3Bucket } from '../../support/local-s3-bucket';
import { useTestTable } from '../../support/test-table';

const client = useTestTable();
const storage = localS3Bucket('reactivation');
const { s3, bucket } = storage;

// Only ever moves forward: each case starts a minute after the last, a hard delete at its deadline.
let now = new Date('2027-01-04T09:00:00.000Z');
const clock = () => now;
const tick = () => (now = new Date(now.getTime() + 60_000));
const table = { client, tableName: config.tableName, now: clock };
const tenants = new TenantStore(table);
const operations = new OperationStore(table);
const scheduler = new LocalScheduler(table);
const provisioner = new LocalProvisioner({ client, tableName: config.tableName });
const vectors = new S3VectorStore({ s3: () => s3, bucket });
/** The billing calls `bill` makes (restore a subscription, create a customer, move the plan). */
const BILL_CALLS: ReadonlySet<PropertyKey> = new Set(['restoreSubscription', 'createCustomer', 'applyPlanChange'] satisfies (keyof BillingPort)[]);

/**
 * `billing`, whose next answer to a call of `bill` for the tenant `loseAnswerOf` is lost: the call is made (and
 * recorded by the provider), then the step sees an error, as after a timeout, before it could record what was made.
 */
function answerLosing<T extends BillingPort>(billing: T): T & { loseAnswerOf: string | undefined; readonly lost: number } {
  const state: { loseAnswerOf: string | undefined; lost: number } = { loseAnswerOf: undefined, lost: 0 };
  return new Proxy(billing, {
    get(target, property) {
      if (property in state) return state[property as keyof typeof state];
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!BILL_CALLS.has(property)) return value.bind(target);
      return async (request: { tenantId: string }) => {
        const answer: unknown = await value.call(target, request);
        if (state.loseAnswerOf !== request.tenantId) return answer;
        state.loseAnswerOf = undefined;
        state.lost += 1;
        throw new InjectedFault('billing answer lost');
      };
    },
    set(_target, property, value: string | undefined) {
      if (property !== 'loseAnswerOf') return false;
      state.loseAnswerOf = value;
      return true;
    },
  }) as T & { loseAnswerOf: string | undefined; readonly lost: number };
}
const ledger = answerLosing(new LedgerBilling(table));

let faults: FaultInjector | undefined;
const errors: unknown[] = [];
const runner = new LocalWorkflowRunner({ dependencies: () => ports, retryIntervalMs: 1, faults: (...args) => faults?.(...args), onError: (error) => errors.push(error) });
const ports: WorkflowPorts = { tenants, operations, leases: new QueryLeaseStore(table), provisioner, billing: ledger, scheduler, runner, now: clock };

/** The reactivation's Task states, from the ASL: every Task but the Catch target (the compensation). */
const definition = loadDefinition('reactivation') as { States: Record<string, { Type: string; Catch?: { Next: string }[]; Parameters?: { step?: string }; ItemProcessor?: { States: Record<string, { Parameters?: { step?: string } }> } }> };
const CATCH_TARGETS = new Set(Object.values(definition.States).flatMap((state) => (state.Catch ?? []).map((c) => c.Next)));
const TASK_STATES = taskStateNames(definition.States as never).filter((state) => !CATCH_TARGETS.has(state));

/** A tenant with data in the sources a fresh start purges: usage, documents, vectors, an export's files. */
async function seed(tenantId: string, plan: PlanId = 'starter'): Promise<Tenant> {
  await createTenant(
    { tenants, billing: ledger, linkOf: (subscriptionId) => findTenantBySubscription(client, config.tableName, subscriptionId) },
    { tenantId, name: `Org ${tenantId}`, email: `admin@${tenantId}.example`, plan, usage: { queriesPerMonth: 1, storageGb: 0, documents: 2, users: 1 } },
    { actor: 'test' },
  );
  await tenants.reportUsage(tenantId, { queriesPerMonth: 10, storageGb: 0.5, documents: 2, users: 2 }, new Date(now.getTime() - 1000).toISOString());
  for (let i = 0; i < 2; i += 1) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `tenants/${tenantId}/docs/${i}.txt`, Body: `Document ${i} of ${tenantId}` }));
  await vectors.upsert(tenantId, [{ id: 'chunk#0', values: [0, 0.5, -0.25], metadata: { owner: tenantId } }]);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `exports/${tenantId}/op-export/manifest.json`, Body: `{"name":"Org ${tenantId}"}` }));
  return tenants.get(tenantId);
}

async function suspend(tenantId: string, subscriptionEnded = false): Promise<void> {
  const tenant = await tenants.get(tenantId);
  const account = tenant.billing as BillingAccount;
  if (subscriptionEnded) await ledger.retrieveSubscription({ tenantId, account, reported: { ...account, status: 'canceled', changedAt: Math.floor(now.getTime() / 1000) } });
  await tenants.applyTransition(tenant, 'suspend', { actor: 'stripe', reason: 'customer.subscription.deleted' }, {
    changes: { dunning: { standing: 'suspended', since: now.toISOString(), subscriptionId: account.subscriptionId, status: subscriptionEnded ? 'canceled' : 'unpaid', cause: { channel: 'webhook' } } },
  });
}

async function softDelete(tenantId: string): Promise<void> {
  await initiateDeletion(ports, tenantId, { actor: 'operator:test', reason: 'customer asked' });
}

let hardDeletes = 0;
/** Soft-delete the tenant, then run its hard delete at the deadline; the state it ends in. */
async function hardDelete(tenantId: string): Promise<Tenant['state']> {
  await softDelete(tenantId);
  const deletion = (await tenants.get(tenantId)).deletion as NonNullable<Tenant['deletion']>;
  now = new Date(deletion.deadline);
  const input: HardDeleteInput = { operationId: `hd_${tenantId}_${(hardDeletes += 1)}`, tenantId, trigger: 'deadline', scheduledAt: now.toISOString(), deletionRequestedAt: deletion.requestedAt };
  await startExecution(ports, 'hard-delete', input);
  await runner.idle();
  tick();
  return (await tenants.get(tenantId)).state;
}

/** The tenant's pending one-shot schedules (name, time, target). */
async function schedulesOf(tenantId: string): Promise<{ name: string; at: string; target: string }[]> {
  const { Items } = await client.send(new ScanCommand({ TableName: config.tableName, ConsistentRead: true, FilterExpression: 'begins_with(pk, :schedule)', ExpressionAttributeValues: { ':schedule': 'SCHEDULE#' } }));
  const names = (Items ?? []).filter((item) => (item.payload as { tenantId?: string } | undefined)?.tenantId === tenantId).map((item) => item.name as string);
  const pending = await Promise.all(names.map((name) => scheduler.find(name)));
  return pending.flatMap((schedule) => (schedule ? [{ name: schedule.name, at: schedule.at.toISOString(), target: schedule.target }] : [])).sort((a, b) => a.name.localeCompare(b.name));
}

/** Every record a data source holds of the tenant (its export pages). */
async function allRecords(source: DataSource, tenantId: string): Promise<unknown[]> {
  const records: unknown[] = [];
  let cursor: string | null = null;
  do {
    const page = await source.exportPage(tenantId, cursor, 100);
    records.push(...page.records);
    cursor = page.nextCursor;
  } while (cursor);
  return records;
}

async function documentCount(tenantId: string): Promise<number> {
  return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `tenants/${tenantId}/` }))).Contents ?? []).length;
}

/** The ledger entries an operation made: its plan change (keyed by the operation) and its lifecycle calls (keyed by `<tenant>:reactivation:<op>`, and `:undo`). */
async function entriesOf(tenantId: string, operationId: string): Promise<LedgerEntry[]> {
  const key = `${tenantId}:reactivation:${operationId}`;
  return (await ledger.ledgerEntries(tenantId)).filter((entry) => entry.operationId === operationId || entry.operationId === key || entry.operationId === `${key}:undo`);
}

/** Nothing the operation billed is left: charges reversed, subscriptions it made cancelled, customers it made deleted. */
function expectNothingBilled(entries: readonly LedgerEntry[]): void {
  const count = (kind: LedgerEntry['kind']) => entries.filter((entry) => entry.kind === kind).length;
  expect(entries.reduce((sum, entry) => sum + entry.amount, 0)).toBe(0);
  expect(count('subscription_cancelled')).toBe(count('subscription_restored'));
  expect(count('customer_deleted')).toBe(count('customer_created'));
  expect(count('schedule_cancelled')).toBe(count('schedule'));
}

async function run(tenantId: string, body: ReactivateBody): Promise<string> {
  const accepted = await requestReactivation(ports, tenantId, body, 'operator:winback');
  await runner.idle();
  return accepted.operationId;
}

/** What a failed reactivation must leave of the tenant as it was: all but its version and the times of change. */
function comparable(tenant: Tenant): Record<string, unknown> {
  const { version: _version, updatedAt: _updatedAt, stateChangedAt: _stateChangedAt, ...rest } = tenant as Tenant & { updatedAt?: string };
  return rest;
}

/** Whether the failed operation had begun a fresh start's purge (which is not undone). */
function purgeBegan(before: Tenant, operation: Operation): boolean {
  return before.state === 'deleting' && operation.steps.some((step) => step.startsWith('purged:') || step.startsWith('counted:'));
}

/**
 * The tenant after a failed reactivation is the tenant before it (its version moved by the two audit entries), but
 * for what a begun purge took: the usage figures once their source's turn came, and the soft delete, which stays
 * marked as erasure begun so nothing offers to restore it.
 */
function expectBackWhereItCame(before: Tenant, after: Tenant, operation: Operation): void {
  expect(after.state).toBe(before.state);
  expect(after.version).toBe(before.version + 2);
  if (!purgeBegan(before, operation)) {
    expect(comparable(after)).toEqual(comparable(before));
    return;
  }
  type Purgeable = { deletion?: Tenant['deletion']; usage?: Tenant['usage']; usageMeasuredAt?: string; usageReport?: Tenant['usageReport'] };
  const { deletion, usage, usageMeasuredAt: _measured, usageReport: _reported, ...rest } = comparable(after) as Purgeable;
  const { deletion: was, usage: usageBefore, usageMeasuredAt: _measuredBefore, usageReport: _reportedBefore, ...restBefore } = comparable(before) as Purgeable;
  expect(rest).toEqual(restBefore);
  expect([undefined, usageBefore]).toContainEqual(usage);
  expect(deletion).toEqual({ ...was, erasureStarted: { at: now.toISOString(), operationId: operation.operationId } });
}

interface PathCase {
  readonly name: string;
  readonly path: ReactivationPath;
  readonly body: ReactivateBody;
  /** Makes a tenant in the origin state. */
  readonly setup: (tenantId: string) => Promise<void>;
  /** Whether a failed run leaves the tenant reactivatable again (a fresh start that purged does not). */
  readonly reusable: boolean;
  /** What billing must show after the happy run. */
  readonly billing: 'plan_changed' | 'new_subscription' | 'new_customer';
  readonly plan: PlanId;
}

const PATHS: readonly PathCase[] = [
  { name: 'suspended, subscription live, back on a larger plan (resume)', path: 'resume', body: { plan: 'professional', reason: 'paid the overdue invoice' }, setup: async (id) => { await seed(id); await suspend(id); }, reusable: true, billing: 'plan_changed', plan: 'professional' },
  { name: 'suspended, subscription ended (resume)', path: 'resume', body: { reason: 'came back after the subscription was cancelled' }, setup: async (id) => { await seed(id); await suspend(id, true); }, reusable: true, billing: 'new_subscription', plan: 'starter' },
  { name: 'soft-deleted, with its data (restore)', path: 'restore', body: { reason: 'changed their mind' }, setup: async (id) => { await seed(id); await softDelete(id); }, reusable: true, billing: 'new_subscription', plan: 'starter' },
  { name: 'soft-deleted, fresh start', path: 'fresh_start', body: { restoreData: false, plan: 'professional', reason: 'wants a clean slate' }, setup: async (id) => { await seed(id); await softDelete(id); }, reusable: false, billing: 'new_subscription', plan: 'professional' },
  { name: 'deleted, fresh start', path: 'fresh_start', body: { restoreData: false, plan: 'starter', name: 'Reborn Org', email: 'owner@reborn.example', reason: 'returning customer' }, setup: async (id) => { await seed(id); expect(await hardDelete(id)).toBe('deleted'); }, reusable: true, billing: 'new_customer', plan: 'starter' },
];

beforeAll(async () => {
  await storage.create();
});
afterAll(async () => {
  await runner.idle();
  s3.destroy();
});
afterEach(() => {
  faults = undefined;
  expect(errors).toEqual([]);
});

/** The Task states each path's happy run went through (filled by the happy runs, read by the fault cases). */
const reached = new Map<string, string[]>();

describe.each(PATHS.map((c, i) => ({ ...c, key: `p${i}` })))('Reactivation: $name', (c) => {
  it('should come back active on the plan, with resources, billing and an audit trail saying who, why and which path', async () => {
    tick();
    const tenantId = `${c.key}-happy`;
    await c.setup(tenantId);
    const before = await tenants.get(tenantId);
    const schedulesBefore = await schedulesOf(tenantId);
    const visited: string[] = [];
    faults = (state, phase, input) => {
      if (phase === 'before' && input.tenantId === tenantId && !visited.includes(state)) visited.push(state);
    };

    const operationId = await run(tenantId, c.body);

    reached.set(c.key, visited);
    expect(visited.every((state) => TASK_STATES.includes(state))).toBe(true);
    expect(await operations.get(operationId)).toMatchObject({ status: 'succeeded' });
    const tenant = await tenants.get(tenantId);
    expect(tenant).toMatchObject({ state: 'active', plan: c.plan, resources: { plan: c.plan, provisionedBy: operationId } });
    expect(tenant.operationId).toBeUndefined();
    expect(tenant.deletion).toBeUndefined();
    expect((await provisioner.outstanding(tenantId)).map((held) => held.operationId)).toEqual([operationId]);
    // The soft delete's schedules are gone; nothing else was armed.
    expect(await schedulesOf(tenantId)).toEqual([]);
    if (before.state === 'deleting') expect(schedulesBefore).toHaveLength(2);

    // Billing: a plan moved on the live subscription, or a new subscription (a new customer for a deleted tenant), linked.
    const account = tenant.billing as BillingAccount;
    const entries = await entriesOf(tenantId, operationId);
    if (c.billing === 'plan_changed') {
      expect(account).toEqual(before.billing);
      expect(entries.map((entry) => entry.kind)).toEqual(['charge']);
    } else {
      expect(account.subscriptionId).not.toBe(before.billing?.subscriptionId);
      expect(account.subscriptionId).not.toBe(`sub_local_${tenantId.replace(/-/g, '_')}`); // never the id of the first life
      expect(entries.map((entry) => entry.kind)).toEqual([c.billing === 'new_customer' ? 'customer_created' : 'subscription_restored']);
      expect(tenant.dunning).toBeUndefined();
      expect((await findTenantBySubscription(client, config.tableName, account.subscriptionId))?.tenantId).toBe(tenantId);
      if (c.billing === 'new_customer') expect(account.customerId).not.toBe(`cus_local_${tenantId.replace(/-/g, '_')}`);
      else expect(account.customerId).toBe(before.billing?.customerId);
    }

    // The audit trail: the initiating event of its origin, then complete_reactivation; who, why, which path.
    const history = (await tenants.history(tenantId, { limit: 2 })).items;
    expect(history.map((entry) => entry.event)).toEqual(['complete_reactivation', reactivationEvent(before.state)]);
    for (const entry of history) expect(entry).toMatchObject({ actor: 'operator:winback', operationId, reactivationPath: c.path, reason: expect.any(String) });
    expect(history[1]?.reason).toBe(c.body.reason);
    expect(tenant.version).toBe(before.version + 2);

    if (c.path === 'fresh_start') {
      expect(tenant.usage).toEqual({ queriesPerMonth: 0, storageGb: 0, documents: 0, users: 0 });
      expect(tenant).toMatchObject(c.body.name ? { name: c.body.name, email: c.body.email } : { name: `Org ${tenantId}`, email: `admin@${tenantId}.example` });
      expect(tenant.deletedAt).toBeUndefined();
      expect(tenant.deletionCertificateId).toBeUndefined();
      expect(tenant.usageMeasuredAt).toBeUndefined();
      // None of the old data in any source, but what they keep by law.
      const sources = await reactivationDependencies(ports).sources();
      // Every source's records are the new life's only (its usage at zero, its resources, its subscription link),
      // but for those kept by law (invoices, the audit trail, the operations' record of an erasure).
      const old = [`Org ${tenantId}`, `admin@${tenantId}`, `of ${tenantId}`, `"sub_local_${tenantId.replace(/-/g, '_')}"`, 'chunk#0', 'op-export'];
      for (const source of sources) {
        if (((await source.verifyPurged(tenantId)).retained ?? 0) > 0) continue;
        const records = JSON.stringify(await allRecords(source, tenantId));
        expect({ source: source.name, old: old.filter((text) => records.includes(text)) }).toEqual({ source: source.name, old: [] });
      }
      expect(await documentCount(tenantId)).toBe(0);
      expect((await vectors.listIds(tenantId, { limit: 10 })).ids).toEqual([]);
      if (before.state === 'deleting') {
        const { Item } = await client.send(new GetCommand({ TableName: config.tableName, Key: { pk: `TENANT#${tenantId}`, sk: `PURGE_CERTIFICATE#${operationId}` }, ConsistentRead: true }));
        expect(Item).toMatchObject({ certificateId: `purge_${operationId}`, tenantId, operationId, kind: 'fresh_start', requestedBy: 'operator:winback' });
        const { pk: _pk, sk: _sk, type: _type, sha256, ...content } = Item as Record<string, unknown>;
        expect(sha256).toBe(createHash('sha256').update(canonicalJson(content)).digest('hex'));
        expect((content.sources as { source: string }[]).map((source) => source.source)).toEqual(sources.map((source) => source.name).reverse());
        expect((content.sources as { source: string; before: number }[]).find((source) => source.source === 'documents')?.before).toBe(2);
      }
    } else {
      expect(tenant).toMatchObject({ name: before.name, email: before.email, usage: before.usage });
      expect(await documentCount(tenantId)).toBe(2);
    }
  });

  it('should list the Task states of the ASL it reaches (a fresh start from deleting reaches them all)', () => {
    const visited = reached.get(c.key) as string[];
    expect(visited.length).toBeGreaterThanOrEqual(4);
    if (c.path === 'fresh_start' && c.billing !== 'new_customer') expect([...visited].sort()).toEqual([...TASK_STATES].sort());
    // The ASL's Task states are the steps module's (the compensation aside).
    expect(TASK_STATES.map((state) => definition.States[state]?.Parameters?.step ?? Object.values(definition.States).flatMap((s) => Object.entries(s.ItemProcessor?.States ?? {})).find(([name]) => name === state)?.[1].Parameters?.step).sort()).toEqual(
      REACTIVATION_STEPS.filter((step) => step !== 'fail').sort(),
    );
  });

  it('should take back what billing made when its answer was lost (the call made, the step failed before recording it)', async () => {
    tick();
    const tenantId = `${c.key}-lost`;
    await c.setup(tenantId);
    tick();
    const before = await tenants.get(tenantId);
    const lostBefore = ledger.lost;
    ledger.loseAnswerOf = tenantId;

    const operationId = await run(tenantId, c.body);

    expect(ledger.lost).toBe(lostBefore + 1);
    const operation = await operations.get(operationId);
    expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'InjectedFault' } });
    expect(operation.facts.billing).toMatchObject({ idempotencyKey: `${tenantId}:reactivation:${operationId}` });
    expect((operation.facts.billing as { done?: boolean }).done).toBeUndefined(); // the answer never reached the record
    expectBackWhereItCame(before, await tenants.get(tenantId), operation);
    // What the lost call made is in the ledger, and taken back: the same subscription or customer, under the undo key.
    const entries = await entriesOf(tenantId, operationId);
    const made = { plan_changed: 'charge', new_subscription: 'subscription_restored', new_customer: 'customer_created' }[c.billing];
    expect(entries.filter((entry) => entry.kind === made)).toHaveLength(1);
    expectNothingBilled(entries);
    if (c.billing !== 'plan_changed') {
      const undone = entries.find((entry) => entry.kind === (c.billing === 'new_customer' ? 'customer_deleted' : 'subscription_cancelled'));
      const madeEntry = entries.find((entry) => entry.kind === made);
      expect(undone).toMatchObject({ operationId: `${tenantId}:reactivation:${operationId}:undo`, customerId: madeEntry?.customerId, subscriptionId: madeEntry?.subscriptionId });
    }
    expect(await provisioner.outstanding(tenantId)).toEqual([]);
  });

  describe('a fault at each Task state it reaches', () => {
    let shared: string | undefined;
    let generation = 0;
    const cases = () => (reached.get(c.key) ?? []).flatMap((state) => (['before', 'after'] as const).map((phase) => ({ state, phase })));

    it('should end where it came from every time, with nothing billed or provisioned left and its schedules as they were', async () => {
      const failures: string[] = [];
      for (const { state, phase } of cases()) {
        tick();
        const tenantId = c.reusable ? (shared ??= `${c.key}-fault${(generation += 1)}`) : `${c.key}-${state.toLowerCase()}-${phase}`;
        if (!c.reusable || (await tenants.find(tenantId)) === undefined) await c.setup(tenantId);
        tick();
        const before = await tenants.get(tenantId);
        const schedulesBefore = await schedulesOf(tenantId);
        const heldBefore = await provisioner.outstanding(tenantId);
        const documentsBefore = await documentCount(tenantId);
        const auditBefore = (await tenants.history(tenantId, { limit: 500 })).items.length;
        let injected = false;
        faults = (at, when, input) => {
          if (at === state && when === phase && input.tenantId === tenantId && !injected) {
            injected = true;
            throw new InjectedFault(`fault ${phase} ${state}`);
          }
        };

        const operationId = await run(tenantId, c.body);
        faults = undefined;
        const label = `${state}/${phase}`;
        expect({ label, injected }).toEqual({ label, injected: true });

        const after = await tenants.get(tenantId);
        const operation = await operations.get(operationId);
        if (state === 'Complete' && phase === 'after') {
          // The completion committed and only its answer was lost: the reactivation stands.
          expect({ label, state: after.state, status: operation.status }).toEqual({ label, state: 'active', status: 'succeeded' });
          shared = undefined; // active now: the next case needs a tenant in the origin state
          continue;
        }
        expect({ label, status: operation.status, error: operation.error?.code }).toEqual({ label, status: 'rolled_back', error: 'InjectedFault' });
        expect(after.state).not.toBe(REACTIVATING);
        expectBackWhereItCame(before, after, operation);
        if (!purgeBegan(before, operation)) expect(await documentCount(tenantId)).toBe(documentsBefore);
        expect((await tenants.history(tenantId, { limit: 500 })).items.length).toBe(auditBefore + 2);
        const history = (await tenants.history(tenantId, { limit: 2 })).items;
        expect(history.map((entry) => entry.event)).toEqual(['fail_reactivation', reactivationEvent(before.state)]);
        for (const entry of history) expect(entry).toMatchObject({ actor: 'operator:winback', operationId, reactivationPath: c.path });
        expect(history[0]?.reason).toContain(`fault ${phase} ${state}`);
        expectNothingBilled(await entriesOf(tenantId, operationId));
        expect(await provisioner.outstanding(tenantId)).toEqual(heldBefore);
        expect(await schedulesOf(tenantId)).toEqual(schedulesBefore);
        if (before.state === 'deleting') {
          const deletion = before.deletion as NonNullable<Tenant['deletion']>;
          expect(schedulesBefore.map((schedule) => schedule.at).sort()).toEqual([deletion.deadline, enforcementCheckAt(deletion).toISOString()].sort());
        } else {
          expect(schedulesBefore).toEqual([]);
        }
        failures.push(label);
      }
      expect(failures.length).toBeGreaterThanOrEqual(2 * (reached.get(c.key) ?? []).length - 1);
    });
  });
});

describe('A second life (a deleted tenant reactivated, then deleted again)', () => {
  it('should stop billing its new subscription at the soft delete, delete its new customer at the hard delete, and certify both erasures', async () => {
    tick();
    const tenantId = 'twice-co';
    await seed(tenantId);
    expect(await hardDelete(tenantId)).toBe('deleted');
    const firstCertificateId = (await tenants.get(tenantId)).deletionCertificateId as string;
    const operationId = await run(tenantId, { restoreData: false, plan: 'starter', name: 'Twice Co', email: 'owner@twice.example' });
    const second = (await tenants.get(tenantId)).billing as BillingAccount;
    expect(await operations.get(operationId)).toMatchObject({ status: 'succeeded' });
    tick();

    const { Item: first } = await client.send(new GetCommand({ TableName: config.tableName, Key: { pk: `TENANT#${tenantId}`, sk: `ARCHIVED_DELETION_CERTIFICATE#${firstCertificateId}` }, ConsistentRead: true }));
    // The first erasure's certificate moved to its archived key with the reactivation: still there, unchanged.
    expect(first).toMatchObject({ certificateId: firstCertificateId, tenantId });
    expect(await tenants.deletionCertificate(tenantId)).toBeUndefined();

    // The second life's deletion completes, with its own certificate (this failed while the first one held the key).
    expect(await hardDelete(tenantId)).toBe('deleted');
    const secondCertificate = await tenants.deletionCertificate(tenantId);
    expect(secondCertificate?.certificateId).toEqual((await tenants.get(tenantId)).deletionCertificateId);
    expect(secondCertificate?.certificateId).not.toBe(firstCertificateId);

    const entries = await ledger.ledgerEntries(tenantId);
    const about = (kind: LedgerEntry['kind']) => entries.filter((entry) => entry.kind === kind).map((entry) => entry.kind === 'customer_deleted' || entry.kind === 'customer_created' ? entry.customerId : entry.subscriptionId);
    expect(about('customer_created')).toEqual([`cus_local_twice_co`, second.customerId]);
    expect(about('subscription_cancelled')).toEqual([`sub_local_twice_co`, second.subscriptionId]);
    expect(about('customer_deleted')).toEqual([`cus_local_twice_co`, second.customerId]);
  });
});

describe('Reactivation refused, changing nothing', () => {
  /** The refusal as the API answers it (status, code, message, details); the tenant and its history as they were. */
  async function refusal(tenantId: string, body: ReactivateBody): Promise<ApiError> {
    const before = await tenants.get(tenantId);
    const history = await tenants.history(tenantId, { limit: 100 });
    const error = await requestReactivation(ports, tenantId, body, 'operator:winback').then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(Error);
    expect(await tenants.get(tenantId)).toEqual(before);
    expect(await tenants.history(tenantId, { limit: 100 })).toEqual(history);
    return toApiError(error);
  }

  it('should answer a deleted tenant asked to restore 409 DATA_DELETED, saying when its data was deleted', async () => {
    tick();
    await seed('gone-co');
    expect(await hardDelete('gone-co')).toBe('deleted');
    const { deletedAt, deletionCertificateId } = await tenants.get('gone-co');
    expect(deletedAt).toEqual(expect.any(String));
    for (const body of [{}, { restoreData: true }, { restoreData: true, plan: 'starter' as const, name: 'Gone', email: 'a@gone.example' }]) {
      const answer = await refusal('gone-co', body);
      expect(answer).toMatchObject({ status: 409, code: 'DATA_DELETED', details: { tenantId: 'gone-co', deletedAt, deletionCertificateId } });
      expect(answer.message).toContain(`deleted at ${deletedAt as string}`);
      expect(answer.message).toContain('restoreData: false');
    }
  });

  it('should answer a deleted tenant’s fresh start without its name, email and plan 422 DETAILS_REQUIRED, naming what is missing', async () => {
    expect(await refusal('gone-co', { restoreData: false })).toMatchObject({ status: 422, code: 'DETAILS_REQUIRED', details: { missing: ['name', 'email', 'plan'] } });
    const answer = await refusal('gone-co', { restoreData: false, name: 'Gone Again' });
    expect(answer).toMatchObject({ status: 422, code: 'DETAILS_REQUIRED', details: { missing: ['email', 'plan'] } });
    expect(answer.message).toContain('"email", "plan"');
  });

  it('should answer a suspended tenant’s fresh start 422 FRESH_START_UNAVAILABLE, saying to soft-delete it first', async () => {
    tick();
    await seed('held-co');
    await suspend('held-co');
    const answer = await refusal('held-co', { restoreData: false });
    expect(answer).toMatchObject({ status: 422, code: 'FRESH_START_UNAVAILABLE' });
    expect(answer.message).toContain('POST /tenants/held-co/deletion');
  });

  it.each([
    // Only a soft-deleted tenant may start fresh instead; a suspended one is told what it can do.
    { what: 'a soft-deleted tenant restored', setup: softDelete, instead: 'restoreData: false' },
    { what: 'a suspended tenant resumed', setup: (id: string) => suspend(id), instead: 'Choose a larger plan' },
  ])('should answer $what on a plan its data does not fit 422 USAGE_EXCEEDS_PLAN with every violation', async ({ setup, instead }) => {
    tick();
    const tenantId = `small-${randomUUID().slice(0, 8)}`;
    await seed(tenantId);
    await setup(tenantId);
    const answer = await refusal(tenantId, { plan: 'free' });
    expect(answer).toMatchObject({ status: 422, code: 'USAGE_EXCEEDS_PLAN', details: { plan: 'free', violations: [{ metric: 'storageGb', current: 0.5, limit: 0.1, message: expect.stringContaining('0.5 exceeds the free limit of 0.1') }] } });
    expect(answer.message).toContain(instead);
    if (instead !== 'restoreData: false') expect(answer.message).not.toContain('restoreData');
  });
});

describe('Reactivation without a plan asked for', () => {
  it('should bring a suspended tenant over its own plan\'s limits back on that plan, as POST /resume does (only a plan asked for must fit)', async () => {
    tick();
    const tenantId = `over-${randomUUID().slice(0, 8)}`;
    await seed(tenantId);
    await suspend(tenantId);
    // Reported while suspended: 6,000 documents on starter (5,000).
    await tenants.reportUsage(tenantId, { queriesPerMonth: 10, storageGb: 0.5, documents: 6_000, users: 2 }, now.toISOString());
    const operationId = await run(tenantId, {});
    expect(await operations.get(operationId)).toMatchObject({ status: 'succeeded' });
    expect(await tenants.get(tenantId)).toMatchObject({ state: 'active', plan: 'starter' });
    // Asked for, the same plan must fit.
    await suspend(tenantId);
    await expect(requestReactivation(ports, tenantId, { plan: 'starter' }, 'operator:winback')).rejects.toMatchObject({ code: 'USAGE_EXCEEDS_PLAN' });
  });
});

describe('Reactivation billed through the real Stripe adapter (the SDK against the fake Stripe server): a suspended tenant whose subscription Stripe cancelled', () => {
  let fake: FakeStripeServer;
  let stripe: ReturnType<typeof answerLosing<StripeBilling>>;
  let replaced: { restore(): void };

  beforeAll(async () => {
    fake = await FakeStripeServer.start();
    stripe = answerLosing(new StripeBilling({ stripe: fake.stripeClient(), priceIds: { starter: 'price_starter', professional: 'price_professional' }, now: clock }));
    replaced = jest.replaceProperty(ports, 'billing', stripe);
  });
  afterAll(async () => {
    replaced.restore();
    await fake.close();
  });

  /** A tenant on Stripe subscription `sub_<id>` (cancelled by Stripe), suspended for it. */
  async function stripeTenant(tenantId: string): Promise<BillingAccount> {
    tick();
    const id = tenantId.replace(/-/g, '_');
    const account = { customerId: `cus_${id}`, subscriptionId: `sub_${id}`, subscriptionItemId: `si_${id}` };
    const t = Math.floor(now.getTime() / 1000);
    fake.seedSubscription({ id: account.subscriptionId, itemId: account.subscriptionItemId, priceId: 'price_starter', customerId: account.customerId, currentPeriodStart: t - 86_400, currentPeriodEnd: t + 29 * 86_400, status: 'canceled' });
    await tenants.create(
      { tenantId, name: `Org ${tenantId}`, email: `admin@${tenantId}.example`, plan: 'starter', usage: { queriesPerMonth: 1, storageGb: 0, documents: 0, users: 1 }, billing: account },
      { actor: 'test' },
      { alsoPut: [subscriptionLinkItem(tenantId, account)] },
    );
    await suspend(tenantId);
    tick();
    return account;
  }

  it('should subscribe the customer anew (Stripe cannot revive a cancelled subscription), link it and clear the dunning', async () => {
    const account = await stripeTenant('stripe-back');

    const operationId = await run('stripe-back', { reason: 'paid by bank transfer' });

    expect(await operations.get(operationId)).toMatchObject({ status: 'succeeded' });
    const created = fake.requestsTo('POST', '/v1/subscriptions').filter((request) => request.form.customer === account.customerId);
    expect(created).toEqual([expect.objectContaining({ idempotencyKey: `stripe-back:reactivation:${operationId}:restore-subscription`, form: expect.objectContaining({ 'items[0][price]': 'price_starter' }) })]);
    const live = fake.subscriptionsOf(account.customerId).filter((subscription) => subscription.status === 'active');
    expect(live).toHaveLength(1);
    const tenant = await tenants.get('stripe-back');
    expect(tenant).toMatchObject({ state: 'active', billing: { customerId: account.customerId, subscriptionId: live[0]?.id, subscriptionItemId: live[0]?.itemId } });
    expect(tenant.dunning).toBeUndefined();
    expect((await findTenantBySubscription(client, config.tableName, live[0]?.id as string))?.tenantId).toBe('stripe-back');
  });

  it.each([
    { what: 'a fault after provisioning', lose: false },
    { what: 'the answer of the subscription’s creation lost', lose: true },
  ])('should cancel the new subscription again on $what, the tenant suspended on its account as it was', async ({ lose }) => {
    const tenantId = lose ? 'stripe-lost' : 'stripe-fault';
    const account = await stripeTenant(tenantId);
    const before = await tenants.get(tenantId);
    if (lose) stripe.loseAnswerOf = tenantId;
    else faults = (state, phase, input) => {
      if (state === 'Provision' && phase === 'after' && input.tenantId === tenantId) throw new InjectedFault('fault after Provision');
    };

    const operationId = await run(tenantId, { reason: 'paid by bank transfer' });

    expect(await operations.get(operationId)).toMatchObject({ status: 'rolled_back', error: { code: 'InjectedFault' } });
    expectBackWhereItCame(before, await tenants.get(tenantId), await operations.get(operationId));
    // One subscription was made (a replay of the key answers the same one), and it is cancelled again.
    const made = fake.subscriptionsOf(account.customerId).filter((subscription) => subscription.id !== account.subscriptionId);
    expect(made).toHaveLength(1);
    expect(made[0]?.status).toBe('canceled');
    expect(fake.requestsTo('DELETE', `/v1/subscriptions/${made[0]?.id as string}`).map((request) => request.idempotencyKey)).toEqual([`${tenantId}:reactivation:${operationId}:undo:cancel-subscription`]);
    expect(fake.subscriptionsOf(account.customerId).every((subscription) => subscription.status === 'canceled')).toBe(true);
  });
});
