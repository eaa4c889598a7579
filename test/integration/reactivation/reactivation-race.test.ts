/**
 * A reactivation racing the hard delete of the same soft delete (issue 11, item 3): one winner, and the loser
 * says so. Both workflows run their real ASL on the local workflow runner (aws-local-stepfunctions), their steps
 * against DynamoDB Local, the local S3 server (documents, the local vector store, exports) and the real data-source
 * registry; billing is the real Stripe SDK against the fake Stripe server, provisioning the local provisioner.
 *
 * The clock is inside the hard delete's enforcement window and before its deadline (deletion-policy.ts): the window
 * opens an hour before the deadline, so a hard delete may start there, and the soft delete is still within
 * retention, so a reactivation may too. Each round starts both at once: `requestReactivation` (as
 * POST /tenants/{id}/reactivate does) and the deadline target's handler with the schedule's event.
 *
 * Then the same meeting in fixed orders (one side held at a Task state, or just before its deciding write), and
 * the soft delete's schedules firing after a reactivation (a lost cancel, a late delivery), also once the tenant
 * was soft-deleted again: they delete nothing, and the enforcement check and the deletion sweeper leave a
 * reactivating tenant alone.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { StripeBilling } from '../../../functions/billing/stripe-billing';
import { findTenantBySubscription } from '../../../functions/billing/subscription-links';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { findCertificate } from '../../../functions/deletion/deletion-certificate';
import type { DeletionSchedule } from '../../../functions/deletion/deletion-policy';
import { DEADLINE_TARGET, ENFORCEMENT_TARGET } from '../../../functions/deletion/hard-delete-definition';
import { armDeletionSchedules } from '../../../functions/deletion/deletion-schedules';
import { onDeadline, onEnforcementCheck, type DeadlineResult, type EnforcementResult } from '../../../functions/deletion/deletion-targets';
import { initiateDeletion } from '../../../functions/deletion/soft-delete';
import { sweepDeletions } from '../../../functions/deletion/sweep-deletions';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { OperationStore } from '../../../functions/operations/operation-store';
import { LocalProvisioner } from '../../../functions/provisioning/provisioner';
import { requestReactivation, type ReactivationAccepted } from '../../../functions/reactivation/reactivation-request';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { config } from '../../../functions/shared/config';
import { createTenant } from '../../../functions/tenants/tenant-creation';
import { CHANGE_EVENTS, TenantStore, type AuditEntry, type Tenant } from '../../../functions/tenants/tenant-store';
import type { WorkflowPorts } from '../../../functions/workflows/ports';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { FakeStripeServer } from '../../support/fake-stripe-server';
import { InjectedFault } from '../../support/injected-fault';
import { useTestTable } from '../../support/test-table';

const client = useTestTable();
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const bucket = `reactivation-race-${randomBytes(4).toString('hex')}`;
// The registry is built from configuration, as on AWS: documents, vectors and exports in one bucket of the local S3 server.
process.env.DOCUMENTS_BUCKET = bucket;
process.env.EXPORTS_BUCKET = bucket;

const PRICE_IDS = { starter: 'price_starter', professional: 'price_professional', enterprise: 'price_enterprise' };
const ROUNDS = 50;
/**
 * Start offsets of the race (ms, the reactivation's start minus the hard delete's), round by round: both sides go
 * first in some rounds, and those near 0 make them meet at the decisive write. Without them (all at 0) the
 * reactivation won every round here: its first write comes after one read, the hard delete's after a few.
 */
const OFFSETS_MS = [-6, -3, 0, 1, 2, 3, 6];
const DOCUMENTS = 3;

let now = new Date('2027-01-04T09:00:00.000Z');
const clock = () => now;
const table = { client, tableName: config.tableName, now: clock };
const tenants = new TenantStore(table);
const operations = new OperationStore(table);
/** What the deletion targets answered when the local scheduler delivered their schedules (fireDue). */
const delivered: Array<DeadlineResult | EnforcementResult> = [];
const scheduler = new LocalScheduler({
  ...table,
  handlers: {
    [DEADLINE_TARGET]: async (event) => void delivered.push(await onDeadline(ports, event)),
    [ENFORCEMENT_TARGET]: async (event) => void delivered.push(await onEnforcementCheck(ports, event)),
  },
});
const provisioner = new LocalProvisioner({ client, tableName: config.tableName });
const vectors = new S3VectorStore({ s3: () => s3, bucket });
let stripe: FakeStripeServer;
const errors: unknown[] = [];
let faults: FaultInjector | undefined;
const runner = new LocalWorkflowRunner({ dependencies: () => ports, retryIntervalMs: 1, faults: (...args) => faults?.(...args), onError: (error) => errors.push(error) });
let ports: WorkflowPorts;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A professional tenant with its Stripe customer and subscription, documents and vectors; soft-deleted at `now`. */
async function seedSoftDeleted(tenantId: string): Promise<{ tenant: Tenant; deletion: DeletionSchedule }> {
  await createTenant(
    { tenants, billing: ports.billing, linkOf: (subscriptionId) => findTenantBySubscription(client, config.tableName, subscriptionId) },
    { tenantId, name: `Org ${tenantId}`, email: `admin@${tenantId}.example`, plan: 'professional', usage: { queriesPerMonth: 1, storageGb: 0, documents: DOCUMENTS, users: 1 } },
    { actor: 'test' },
  );
  for (let i = 0; i < DOCUMENTS; i += 1) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `tenants/${tenantId}/docs/${i}.txt`, Body: `Document ${i} of ${tenantId}` }));
  await vectors.upsert(tenantId, Array.from({ length: DOCUMENTS }, (_, i) => ({ id: `chunk#${i}`, values: [i, 0.5, -0.25], metadata: { owner: tenantId } })));
  // As POST /tenants/{id}/deletion does it: both schedules armed, the subscription cancelled, initiate_deletion.
  const tenant = await initiateDeletion(ports, tenantId, { actor: 'operator:test', reason: 'customer left' });
  return { tenant, deletion: tenant.deletion as DeletionSchedule };
}

async function documentKeys(tenantId: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `tenants/${tenantId}/` }));
  return (page.Contents ?? []).map((object) => object.Key as string);
}

async function vectorIds(tenantId: string): Promise<string[]> {
  return [...(await vectors.listIds(tenantId, { limit: 100 })).ids];
}

/** The whole audit trail of the tenant, oldest first. */
async function trail(tenantId: string): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await tenants.history(tenantId, { limit: 100, ...(cursor ? { cursor } : {}) });
    entries.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return entries.reverse();
}

/** Every operation record of the table (reactivations, hard deletes), by tenant. */
async function operationItems(): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: config.tableName, ExclusiveStartKey: startKey, ConsistentRead: true, FilterExpression: 'begins_with(pk, :op)', ExpressionAttributeValues: { ':op': 'OPERATION#' } }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** The release of every hold, opened after each test (a failed one must not leave a workflow held). */
const openGates: Array<(failure?: Error) => void> = [];

/**
 * Hold the workflow whose operation id starts with `prefix` before its Task state `state` until `release` is
 * called (with an error: the state then fails with it, before its work); `reached` resolves when it gets there.
 */
function holdBefore(prefix: string, state: string): { reached: Promise<void>; release: (failure?: Error) => void } {
  let reach!: () => void;
  let release!: (failure?: Error) => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const gate = new Promise<Error | undefined>((resolve) => (release = resolve));
  openGates.push(release);
  faults = async (name, phase, input) => {
    if (name !== state || phase !== 'before' || !input.operationId.startsWith(prefix)) return;
    reach();
    const failure = await gate;
    if (failure) throw failure;
  };
  return { reached, release };
}

/** The deadline target's event for the soft delete `deletion` of `tenantId` (the schedule's payload), due at `now`. */
function deadlineEvent(tenantId: string, deletion: DeletionSchedule) {
  return { schedule: deletion.schedules.hardDelete, target: DEADLINE_TARGET, scheduledAt: now.toISOString(), payload: { tenantId, deletionRequestedAt: deletion.requestedAt } };
}

/** The enforcement check's event for `deletion` of `tenantId`, due at `now`. */
function enforcementEvent(tenantId: string, deletion: DeletionSchedule) {
  return { schedule: deletion.schedules.enforcement, target: ENFORCEMENT_TARGET, scheduledAt: now.toISOString(), payload: { tenantId, deletionRequestedAt: deletion.requestedAt } };
}

type Side = 'reactivation' | 'hard-delete';
type Outcome = { readonly side: Side; readonly path: 'restore' | 'fresh_start'; readonly offsetMs: number };

/**
 * The writes that decide the race: the reactivation's `cancel_deletion` and the hard delete's claim
 * (`start_hard_delete`). `beforeDecidingWrite` runs just before either is sent (a test holds one there while the other side
 * goes ahead); every one refused is listed in `refusedWrites` (the side that had read the tenant before the
 * winner's write, and lost on the write's condition).
 */
const refusedWrites: Array<{ readonly tenantId: string; readonly side: Side; readonly code: string }> = [];
let beforeDecidingWrite: ((side: Side, tenantId: string) => Promise<void>) | undefined;
function watchDecidingWrites(): void {
  const applyTransitions = tenants.applyTransitions.bind(tenants);
  const recordChange = tenants.recordChange.bind(tenants);
  const watched = async <T>(side: Side, tenantId: string, write: () => Promise<T>): Promise<T> => {
    await beforeDecidingWrite?.(side, tenantId);
    try {
      return await write();
    } catch (error) {
      refusedWrites.push({ tenantId, side, code: (error as { code?: string }).code ?? (error as Error).name });
      throw error;
    }
  };
  jest.spyOn(tenants, 'applyTransitions').mockImplementation((tenant, events, context, options) =>
    events[0] === 'cancel_deletion' ? watched('reactivation', tenant.tenantId, () => applyTransitions(tenant, events, context, options)) : applyTransitions(tenant, events, context, options),
  );
  jest.spyOn(tenants, 'recordChange').mockImplementation((tenant, event, context, options) =>
    event === CHANGE_EVENTS.startHardDelete ? watched('hard-delete', tenant.tenantId, () => recordChange(tenant, event, context, options)) : recordChange(tenant, event, context, options),
  );
}

beforeAll(async () => {
  stripe = await FakeStripeServer.start();
  ports = {
    tenants,
    operations,
    leases: new QueryLeaseStore(table),
    provisioner,
    billing: new StripeBilling({ stripe: stripe.stripeClient(), priceIds: PRICE_IDS }),
    scheduler,
    runner,
    now: clock,
  };
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  watchDecidingWrites();
});
afterEach(() => {
  for (const release of openGates.splice(0)) release();
  faults = undefined;
  beforeDecidingWrite = undefined;
  expect(errors).toEqual([]);
});
afterAll(async () => {
  await runner.idle();
  await stripe.close();
  s3.destroy();
});

describe('a reactivation racing the hard delete inside the window, before the deadline (50 rounds)', () => {
  const outcomes: Outcome[] = [];

  it('should have exactly one winner each round, never a tenant both deleted and active, and the loser says so', async () => {
    now = new Date('2027-01-04T09:00:00.000Z');
    const seeded: Array<{ tenantId: string; deletion: DeletionSchedule; customerId: string }> = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const tenantId = `race-${String(round).padStart(2, '0')}`;
      const { tenant, deletion } = await seedSoftDeleted(tenantId);
      seeded.push({ tenantId, deletion, customerId: tenant.billing?.customerId as string });
    }
    // Every soft delete has the same deadline: 30 minutes before it, inside the window (it opens an hour before).
    const deadline = Date.parse((seeded[0] as { deletion: DeletionSchedule }).deletion.deadline);
    now = new Date(deadline - 30 * 60_000);
    expect(Date.parse((seeded[0] as { deletion: DeletionSchedule }).deletion.window.opensAt)).toBeLessThan(now.getTime());

    for (const [round, { tenantId, deletion, customerId }] of seeded.entries()) {
      const path = round % 5 === 4 ? 'fresh_start' : 'restore';
      // Start offsets (ms, the reactivation's start minus the hard delete's): varied so that each side starts first in some rounds.
      const offsetMs = OFFSETS_MS[round % OFFSETS_MS.length] as number;
      const react = (async () => {
        if (offsetMs > 0) await sleep(offsetMs);
        return requestReactivation(ports, tenantId, { restoreData: path === 'restore' }, 'operator:winback');
      })();
      const fire = (async () => {
        if (offsetMs < 0) await sleep(-offsetMs);
        // The deadline target, as EventBridge Scheduler delivers the soft delete's hard-delete schedule.
        return onDeadline(ports, deadlineEvent(tenantId, deletion));
      })();
      const [reactivation, hardDelete] = await Promise.allSettled([react, fire]);
      await runner.idle();

      expect(hardDelete).toMatchObject({ status: 'fulfilled', value: { outcome: 'started' } });
      const hardDeleteId = (hardDelete as PromiseFulfilledResult<{ operationId: string }>).value.operationId;
      const tenant = await tenants.get(tenantId);
      const hardDeleteOperation = await operations.find(hardDeleteId);
      const subscriptions = stripe.subscriptionsOf(customerId).filter((subscription) => subscription.status !== 'canceled');
      const entries = await trail(tenantId);

      // The audit trail has no gap, and its last entry is where the tenant is.
      expect(entries.map((entry) => entry.version)).toEqual(Array.from({ length: tenant.version }, (_, i) => i + 1));
      expect(entries[entries.length - 1]?.to).toBe(tenant.state);

      if (tenant.state === 'active') {
        // The reactivation won: it succeeded; the hard delete never claimed the tenant, and its record says the reactivation won.
        expect(reactivation.status).toBe('fulfilled');
        const accepted = (reactivation as PromiseFulfilledResult<ReactivationAccepted>).value;
        expect(accepted).toMatchObject({ path, from: 'deleting' });
        expect(await operations.get(accepted.operationId)).toMatchObject({ status: 'succeeded' });
        expect(hardDeleteOperation).toMatchObject({ status: 'cancelled', error: { code: 'REACTIVATED', message: expect.stringContaining(accepted.operationId) } });
        expect(entries.map((entry) => entry.event)).not.toContain('start_hard_delete');
        expect(tenant.deletion).toBeUndefined();
        expect(tenant.deletionCertificateId).toBeUndefined();
        expect(await findCertificate(client, config.tableName, tenantId)).toBeUndefined();
        // Its data: as it was on a restore; none of it on a fresh start (purged by the reactivation, with its certificate).
        if (path === 'restore') {
          expect(await documentKeys(tenantId)).toHaveLength(DOCUMENTS);
          expect(await vectorIds(tenantId)).toHaveLength(DOCUMENTS);
        } else {
          expect(await documentKeys(tenantId)).toEqual([]);
          expect(await vectorIds(tenantId)).toEqual([]);
          expect(await operations.get(accepted.operationId)).toMatchObject({ facts: { certificate: { certificateId: `purge_${accepted.operationId}` } } });
        }
        // Billed again on one live subscription, its customer kept; the plan's resources up under the reactivation.
        expect(stripe.customerDeleted(customerId)).toBe(false);
        expect(subscriptions.map((subscription) => subscription.id)).toEqual([tenant.billing?.subscriptionId]);
        expect((await provisioner.outstanding(tenantId)).map((resource) => resource.operationId)).toEqual([accepted.operationId]);
        outcomes.push({ side: 'reactivation', path, offsetMs });
      } else {
        // The hard delete won: the tenant is deleted with its certificate; the reactivation was refused naming it, and left nothing.
        expect(tenant.state).toBe('deleted');
        expect(hardDeleteOperation).toMatchObject({ status: 'succeeded' });
        expect(tenant.deletionCertificateId).toBe(`dc_${hardDeleteId}`);
        expect(await findCertificate(client, config.tableName, tenantId)).toMatchObject({ operationId: hardDeleteId });
        expect(reactivation.status).toBe('rejected');
        expect((reactivation as PromiseRejectedResult).reason).toMatchObject({ code: 'ERASURE_STARTED', message: expect.stringContaining(hardDeleteId), details: { operationId: hardDeleteId } });
        expect(entries.map((entry) => entry.event)).not.toContain('cancel_deletion');
        expect(await documentKeys(tenantId)).toEqual([]);
        expect(await vectorIds(tenantId)).toEqual([]);
        expect(stripe.customerDeleted(customerId)).toBe(true);
        expect(subscriptions).toEqual([]);
        expect(await provisioner.outstanding(tenantId)).toEqual([]);
        outcomes.push({ side: 'hard-delete', path, offsetMs });
      }
    }

    // Nothing of a lost reactivation is left: no reactivation of a deleted tenant, nothing still running.
    const records = await operationItems();
    const deleted = new Set(seeded.map((round) => round.tenantId).filter((_, round) => outcomes[round]?.side === 'hard-delete'));
    expect(records.filter((item) => item.workflow === 'reactivation' && deleted.has(item.tenantId as string))).toEqual([]);
    expect(records.filter((item) => item.status === 'running' || item.status === 'compensating')).toEqual([]);
    // Never both: one reactivation succeeded per tenant that is active, one hard delete per tenant deleted.
    const succeeded = records.filter((item) => item.status === 'succeeded');
    for (const { tenantId } of seeded) expect(succeeded.filter((item) => item.tenantId === tenantId)).toHaveLength(1);
    expect(errors).toEqual([]);

    const raceTenants = new Set(seeded.map((round) => round.tenantId));
    const refused = refusedWrites.filter((write) => raceTenants.has(write.tenantId)).reduce<Record<string, number>>((counts, write) => ({ ...counts, [`${write.side}:${write.code}`]: (counts[`${write.side}:${write.code}`] ?? 0) + 1 }), {});
    const won = (side: Outcome['side'], path?: Outcome['path']) => outcomes.filter((outcome) => outcome.side === side && (path === undefined || outcome.path === path)).length;
    console.log(
      `reactivation vs hard delete, ${ROUNDS} rounds: reactivation won ${won('reactivation')} (restore ${won('reactivation', 'restore')}, fresh start ${won('reactivation', 'fresh_start')}), ` +
        `hard delete won ${won('hard-delete')} (against restore ${won('hard-delete', 'restore')}, fresh start ${won('hard-delete', 'fresh_start')}); ` +
        `by offset (ms, reactivation start − hard delete start): ${OFFSETS_MS.map((offset) => `${offset}: ${outcomes.filter((o) => o.offsetMs === offset && o.side === 'reactivation').length}R/${outcomes.filter((o) => o.offsetMs === offset && o.side === 'hard-delete').length}H`).join(', ')}; ` +
        `losers refused at the write (had read the tenant before the winner wrote): ${JSON.stringify(refused)}`,
    );
    expect(won('reactivation') + won('hard-delete')).toBe(ROUNDS);
    expect(won('reactivation')).toBeGreaterThan(0);
    expect(won('hard-delete')).toBeGreaterThan(0);
  }, 600_000);
});

describe('a deletion schedule that fires after a reactivation', () => {
  it('should do nothing: no hard delete, no check re-armed, the tenant active with its data; the firing records that the reactivation took its soft delete back', async () => {
    now = new Date('2027-03-01T09:00:00.000Z');
    const { deletion, tenant: deleting } = await seedSoftDeleted('back-co');
    const customerId = deleting.billing?.customerId as string;
    now = new Date(now.getTime() + 5 * 86_400_000);
    const accepted = await requestReactivation(ports, 'back-co', {}, 'operator:winback');
    await runner.idle();
    const back = await tenants.get('back-co');
    expect(back).toMatchObject({ state: 'active' });
    expect(await scheduler.find(deletion.schedules.hardDelete)).toBeUndefined();

    // A cancel that was lost: the soft delete's two schedules are there again, with its payload, and fire at their times.
    await armDeletionSchedules(scheduler, 'back-co', deletion);
    delivered.length = 0;
    now = new Date(deletion.deadline);
    expect((await scheduler.fireDue(now)).fired).toEqual([deletion.schedules.hardDelete]);
    await runner.idle();
    now = new Date(Date.parse(deletion.window.closesAt) + 61_000);
    expect((await scheduler.fireDue(now)).fired).toEqual([deletion.schedules.enforcement]);
    await runner.idle();

    const [hardDelete, check] = delivered as [DeadlineResult, EnforcementResult];
    expect(check).toEqual({ outcome: 'not_deleting' });
    expect(await tenants.get('back-co')).toEqual(back);
    expect(await documentKeys('back-co')).toHaveLength(DOCUMENTS);
    expect(await vectorIds('back-co')).toHaveLength(DOCUMENTS);
    expect(stripe.customerDeleted(customerId)).toBe(false);
    expect(stripe.subscriptionsOf(customerId).filter((subscription) => subscription.status !== 'canceled').map((subscription) => subscription.id)).toEqual([back.billing?.subscriptionId]);
    expect(await findCertificate(client, config.tableName, 'back-co')).toBeUndefined();
    // Nothing armed again for a tenant that came back.
    expect(await scheduler.find(deletion.schedules.hardDelete)).toBeUndefined();
    expect(await scheduler.find(deletion.schedules.enforcement)).toBeUndefined();
    // The loser says so: the firing's operation ended cancelled, naming the reactivation that won.
    expect(await operations.get(hardDelete.operationId as string)).toMatchObject({ status: 'cancelled', error: { code: 'REACTIVATED', message: expect.stringContaining(accepted.operationId) } });
  });

  it('should leave a LATER soft delete of the same tenant alone: an old firing (the old deletionRequestedAt) deletes nothing and records no violation; the new one\'s own firing does', async () => {
    now = new Date('2027-05-01T09:00:00.000Z');
    const { deletion: first } = await seedSoftDeleted('again-co');
    now = new Date(now.getTime() + 86_400_000);
    const accepted = await requestReactivation(ports, 'again-co', {}, 'operator:winback');
    await runner.idle();
    now = new Date(now.getTime() + 86_400_000);
    const second = (await initiateDeletion(ports, 'again-co', { actor: 'operator:test', reason: 'left again' })).deletion as DeletionSchedule;
    expect(second.requestedAt).not.toBe(first.requestedAt);
    const deleting = await tenants.get('again-co');

    // The first soft delete's firings, delivered late (a retried delivery): inside the second one's window, then after it closed.
    now = new Date(Date.parse(second.window.opensAt) + 10 * 60_000);
    const old = await onDeadline(ports, deadlineEvent('again-co', first));
    await runner.idle();
    now = new Date(Date.parse(second.window.closesAt) + 61_000);
    expect(await onEnforcementCheck(ports, enforcementEvent('again-co', first))).toEqual({ outcome: 'not_deleting' });
    await runner.idle();

    expect(await tenants.get('again-co')).toEqual(deleting);
    expect(await documentKeys('again-co')).toHaveLength(DOCUMENTS);
    expect((await trail('again-co')).map((entry) => entry.event)).not.toContain('compliance_violation');
    expect(await operations.get(old.operationId as string)).toMatchObject({ status: 'cancelled', error: { code: 'REACTIVATED', message: expect.stringContaining(accepted.operationId) } });
    // The second soft delete's schedules are its own still.
    expect(await scheduler.find(second.schedules.hardDelete)).toMatchObject({ payload: { tenantId: 'again-co', deletionRequestedAt: second.requestedAt } });

    // Its own firing at that same time deletes: what the old one was told apart from.
    const own = await onDeadline(ports, deadlineEvent('again-co', second));
    await runner.idle();
    expect(await tenants.get('again-co')).toMatchObject({ state: 'deleted', deletionCertificateId: `dc_${own.operationId}` });
  });
});

describe('a hard delete and a reactivation that meet one after the other', () => {
  it('should refuse the reactivation of a tenant whose hard delete has claimed it, 409 ERASURE_STARTED naming the hard delete, changing nothing', async () => {
    now = new Date('2027-07-01T09:00:00.000Z');
    const { deletion } = await seedSoftDeleted('claimed-co');
    now = new Date(Date.parse(deletion.deadline) - 20 * 60_000);
    const held = holdBefore('hd-', 'Purge');
    const started = await onDeadline(ports, deadlineEvent('claimed-co', deletion));
    await held.reached;
    const claimed = await tenants.get('claimed-co');

    const refused = requestReactivation(ports, 'claimed-co', {}, 'operator:winback');
    await expect(refused).rejects.toMatchObject({ code: 'ERASURE_STARTED', message: expect.stringContaining(started.operationId as string), details: { operationId: started.operationId } });
    expect(await tenants.get('claimed-co')).toEqual(claimed);
    held.release();
    await runner.idle();
    expect(await tenants.get('claimed-co')).toMatchObject({ state: 'deleted' });
  });

  it('should stop a hard delete that finds the tenant reactivating (recorded cancelled, naming the reactivation); the enforcement check and the sweeper leave it alone, then and after it came back', async () => {
    now = new Date('2027-09-01T09:00:00.000Z');
    const { deletion } = await seedSoftDeleted('winning-co');
    now = new Date(Date.parse(deletion.deadline) - 20 * 60_000);
    const held = holdBefore('op_', 'Bill');
    const accepted = await requestReactivation(ports, 'winning-co', {}, 'operator:winback');
    await held.reached;
    const reactivating = await tenants.get('winning-co');
    expect(reactivating).toMatchObject({ state: 'reactivating', operationId: accepted.operationId });

    const fired = await onDeadline(ports, deadlineEvent('winning-co', deletion));
    // The hard delete runs to its end while the reactivation is held.
    for (let polls = 0; polls < 250 && (await operations.find(fired.operationId as string))?.status !== 'cancelled'; polls += 1) await sleep(20);
    expect(await operations.get(fired.operationId as string)).toMatchObject({ status: 'cancelled', error: { code: 'REACTIVATED', message: expect.stringContaining(accepted.operationId) } });
    // Past the window's close, with the reactivation still running: no violation, nothing started, nothing armed.
    now = new Date(Date.parse(deletion.window.closesAt) + 2 * 3600_000);
    expect(await onEnforcementCheck(ports, enforcementEvent('winning-co', deletion))).toEqual({ outcome: 'not_deleting' });
    const during = await sweepDeletions(ports, { now, checkAllSchedules: true });
    expect(during.started.map((start) => start.tenantId)).not.toContain('winning-co');
    expect(during.rearmed.map((rearm) => rearm.tenantId)).not.toContain('winning-co');
    expect(await tenants.get('winning-co')).toEqual(reactivating);

    held.release();
    await runner.idle();
    const back = await tenants.get('winning-co');
    expect(back).toMatchObject({ state: 'active' });
    expect(await onEnforcementCheck(ports, enforcementEvent('winning-co', deletion))).toEqual({ outcome: 'not_deleting' });
    const after = await sweepDeletions(ports, { now, checkAllSchedules: true });
    expect(after.started.map((start) => start.tenantId)).not.toContain('winning-co');
    await runner.idle();
    expect(await tenants.get('winning-co')).toEqual(back);
    expect(await scheduler.find(deletion.schedules.hardDelete)).toBeUndefined();
    expect(await scheduler.find(deletion.schedules.enforcement)).toBeUndefined();
    expect((await trail('winning-co')).map((entry) => entry.event)).not.toContain('compliance_violation');
    expect((await tenants.listViolations({})).items.filter((entry) => entry.tenantId === 'winning-co')).toEqual([]);
    expect(await documentKeys('winning-co')).toHaveLength(DOCUMENTS);
  });
});

describe('the two sides meeting at the decisive write (each read the tenant `deleting` before the other wrote)', () => {
  it('should stop a hard delete whose claim comes just after the reactivation\'s write: it reads again, finds it reactivating, records cancelled naming it', async () => {
    now = new Date('2027-11-01T09:00:00.000Z');
    const { deletion } = await seedSoftDeleted('late-claim-co');
    now = new Date(Date.parse(deletion.deadline) - 20 * 60_000);
    let accepted: ReactivationAccepted | undefined;
    beforeDecidingWrite = async (side, tenantId) => {
      if (side !== 'hard-delete' || tenantId !== 'late-claim-co' || accepted) return;
      beforeDecidingWrite = undefined;
      accepted = await requestReactivation(ports, 'late-claim-co', {}, 'operator:winback');
    };
    const fired = await onDeadline(ports, deadlineEvent('late-claim-co', deletion));
    await runner.idle();

    expect(refusedWrites).toContainEqual({ tenantId: 'late-claim-co', side: 'hard-delete', code: 'OPERATION_IN_PROGRESS' });
    expect(await operations.get(fired.operationId as string)).toMatchObject({ status: 'cancelled', error: { code: 'REACTIVATED', message: expect.stringContaining(accepted?.operationId as string) } });
    expect(await tenants.get('late-claim-co')).toMatchObject({ state: 'active' });
    expect((await trail('late-claim-co')).map((entry) => entry.event)).not.toContain('start_hard_delete');
    expect(await documentKeys('late-claim-co')).toHaveLength(DOCUMENTS);
  });

  it('should refuse a reactivation whose write comes just after the hard delete\'s claim, naming the hard delete, and leave nothing of it', async () => {
    now = new Date('2027-12-01T09:00:00.000Z');
    const { deletion, tenant: deleting } = await seedSoftDeleted('late-write-co');
    now = new Date(Date.parse(deletion.deadline) - 20 * 60_000);
    const held = holdBefore('hd-', 'Purge');
    let fired: DeadlineResult | undefined;
    beforeDecidingWrite = async (side, tenantId) => {
      if (side !== 'reactivation' || tenantId !== 'late-write-co' || fired) return;
      beforeDecidingWrite = undefined;
      fired = await onDeadline(ports, deadlineEvent('late-write-co', deletion));
      await held.reached; // claimed
    };
    const error = (await requestReactivation(ports, 'late-write-co', {}, 'operator:winback').then(
      () => undefined,
      (caught: unknown) => caught,
    )) as { code: string; message: string } | undefined;
    held.release();
    await runner.idle();
    // Its write was refused (the tenant changed since it was read); decided again from the tenant as the hard delete
    // left it, the answer is 409 ERASURE_STARTED naming the hard delete, not a bare version conflict.
    expect(refusedWrites).toContainEqual({ tenantId: 'late-write-co', side: 'reactivation', code: 'VERSION_CONFLICT' });
    expect(error).toMatchObject({ code: 'ERASURE_STARTED', message: expect.stringContaining(fired?.operationId as string), details: { operationId: fired?.operationId } });

    expect(await tenants.get('late-write-co')).toMatchObject({ state: 'deleted', deletionCertificateId: `dc_${fired?.operationId}` });
    expect((await operationItems()).filter((item) => item.tenantId === 'late-write-co' && item.workflow === 'reactivation')).toEqual([]);
    expect((await trail('late-write-co')).map((entry) => entry.event)).not.toContain('cancel_deletion');
    const customerId = deleting.billing?.customerId as string;
    expect(stripe.subscriptionsOf(customerId).filter((subscription) => subscription.status !== 'canceled')).toEqual([]);
    expect(await provisioner.outstanding('late-write-co')).toEqual([]);
  });
});

describe('a reactivation that failed after the hard delete stopped for it', () => {
  // failReactivation re-arms the soft delete's schedules whenever the reactivation came from `deleting`, not only when its
  // Begin recorded cancelling them: a deadline firing spent while the tenant was reactivating is not lost (this failed,
  // the erasure waiting for the enforcement check and running late, when the re-arm depended on Begin's record).
  it('should leave the soft delete its hard-delete schedule: the firing spent on the reactivation is re-armed, so the erasure runs in its window, not late', async () => {
    now = new Date('2028-01-03T09:00:00.000Z');
    const { deletion } = await seedSoftDeleted('relapse-co');
    now = new Date(Date.parse(deletion.deadline) - 20 * 60_000);
    const held = holdBefore('op_', 'Begin');
    const accepted = await requestReactivation(ports, 'relapse-co', {}, 'operator:winback');
    await held.reached;
    // The deadline schedule fires while the reactivation holds the tenant: spent (one-time), its hard delete stopped.
    delivered.length = 0;
    now = new Date(deletion.deadline);
    expect((await scheduler.fireDue(now)).fired).toEqual([deletion.schedules.hardDelete]);
    for (let polls = 0; polls < 250 && (await operations.find((delivered[0] as DeadlineResult | undefined)?.operationId ?? '-'))?.status !== 'cancelled'; polls += 1) await sleep(20);
    expect(await operations.get((delivered[0] as DeadlineResult).operationId as string)).toMatchObject({ status: 'cancelled', error: { code: 'REACTIVATED' } });
    // Then the reactivation fails at its first step, before it cancelled (and recorded cancelling) the schedules.
    held.release(new InjectedFault('begin failed'));
    await runner.idle();
    expect(await operations.get(accepted.operationId)).toMatchObject({ status: 'rolled_back' });
    expect(await tenants.get('relapse-co')).toMatchObject({ state: 'deleting', deletion: { requestedAt: deletion.requestedAt } });

    // Back to its soft delete, the tenant must have a hard delete to come inside the window (closes an hour after the deadline).
    const rearmed = await scheduler.find(deletion.schedules.hardDelete);
    expect(rearmed).toMatchObject({ payload: { tenantId: 'relapse-co', deletionRequestedAt: deletion.requestedAt } });
    expect(rearmed?.at.getTime()).toBeLessThanOrEqual(Date.parse(deletion.window.closesAt));
  });
});
