/**
 * Every clause of every conditional write in functions/, pinned by behaviour against DynamoDB Local (this
 * file's own table): each test below fails when the one clause it names is removed or weakened (checked by
 * hand, clause by clause). The scenarios are the ones that clause exists for: a stale write with the right
 * state but an old version, a late step of an ended operation, a retry that lost its lock, and so on.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LeaseRefusedError } from '../../functions/leases/errors';
import { QueryLeaseStore } from '../../functions/leases/query-lease-store';
import { OperationEndedError, OperationStore } from '../../functions/operations/operation-store';
import { config } from '../../functions/shared/config';
import { runIdempotent } from '../../functions/shared/idempotency';
import { IllegalTransitionError } from '../../functions/lifecycle/errors';
import { OperationOwnershipError, PlanChangeScheduledError, TenantNotFoundError, VersionConflictError } from '../../functions/tenants/errors';
import { CHANGE_EVENTS, TenantStore, type ScheduledPlanChange, type Tenant } from '../../functions/tenants/tenant-store';
import { auditSk, tenantPk, TENANT_SK } from '../../functions/tenants/tenant-table';
import { useTestTable } from '../support/test-table';

const client = useTestTable();
const tableName = config.tableName;
const tenants = new TenantStore({ client, tableName });
const operations = new OperationStore({ client, tableName });
const operator = { actor: 'operator@test', reason: 'test' };
let seq = 0;

async function newTenant(prefix: string): Promise<Tenant> {
  seq += 1;
  const tenantId = `${prefix}-${seq}`;
  return tenants.create({ tenantId, name: tenantId, email: `${tenantId}@example.com`, plan: 'professional', usage: { queriesPerMonth: 1, storageGb: 0, documents: 2, users: 3 } }, operator);
}

function downgrade(operationId: string): ScheduledPlanChange {
  return { operationId, plan: 'starter', effectiveAt: '2026-12-01T00:00:00.000Z' };
}

function operationItem(tenantId: string, operationId: string, status: 'running' | 'scheduled' = 'running') {
  return operations.newItem({ operationId, tenantId, workflow: 'plan-change', input: { operationId, tenantId }, requestedBy: 'operator@test' }, status);
}

/** Record a scheduled downgrade for `tenant` (as read), with its operation: what the API does for a period-end change. */
async function schedule(tenant: Tenant, operationId: string): Promise<Tenant> {
  return tenants.scheduleChange(tenant, downgrade(operationId), { ...operator, operationId }, { event: 'initiate_downgrade', alsoPut: [operationItem(tenant.tenantId, operationId, 'scheduled')] });
}

/** Start the scheduled downgrade `operationId` of `tenant` (as read): the period-end schedule's transaction (scheduled-plan-change.ts). */
async function startScheduled(tenant: Tenant, operationId: string): Promise<Tenant> {
  return tenants.applyTransition(tenant, 'initiate_downgrade', { ...operator, operationId }, { changes: { scheduledPlanChange: null }, alsoUpdate: [operations.startUpdate(operationId)] });
}

/** The events of a tenant's audit trail, oldest first. */
async function trail(tenantId: string): Promise<string[]> {
  return (await tenants.history(tenantId)).items.map((entry) => entry.event).reverse();
}

/** A write of the tenant item that changes its state without bumping its version (an old or hand-made writer). */
async function rawSet(tenantId: string, fields: Record<string, unknown>): Promise<void> {
  const names = Object.fromEntries(Object.keys(fields).map((field, i) => [`#f${i}`, field]));
  const values = Object.fromEntries(Object.values(fields).map((value, i) => [`:f${i}`, value]));
  await client.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk: tenantPk(tenantId), sk: TENANT_SK },
      UpdateExpression: `SET ${Object.keys(fields).map((_, i) => `#f${i} = :f${i}`).join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    }),
  );
}


// A stale write of the tenant item also collides with the audit entry of the version it would write (the
// trail has no gaps); what tells the version clause apart is the answer: the caller's 409 VERSION_CONFLICT
// (read again and retry) rather than a cancelled transaction that reaches it as a 500.
describe('TenantStore, every write of the tenant item after its creation: #version = :expectedVersion', () => {
  it('applyTransitions: should refuse a stale suspend after a scheduled downgrade was recorded (same state, old version), keeping scheduledPlanChange', async () => {
    const stale = await newTenant('stale-suspend');
    const scheduled = await schedule(stale, 'op-stale-suspend');

    await expect(tenants.applyTransition(stale, 'suspend', operator)).rejects.toBeInstanceOf(VersionConflictError);

    expect(await tenants.get(stale.tenantId)).toEqual(scheduled);
    expect(await trail(stale.tenantId)).toEqual(['create', CHANGE_EVENTS.schedulePlanChange]);
  });

  it('scheduleChange: should refuse a scheduling on a stale read whose state is active again (suspended and resumed since)', async () => {
    const stale = await newTenant('schedule-stale');
    const suspended = await tenants.applyTransition(stale, 'suspend', operator);
    const active = await tenants.applyTransitions(suspended, ['resume', 'complete_reactivation'], operator);

    await expect(schedule(stale, 'op-schedule-stale')).rejects.toBeInstanceOf(VersionConflictError);

    expect(await tenants.get(stale.tenantId)).toEqual(active);
    expect(await operations.find('op-schedule-stale')).toBeUndefined();
  });

  it('clearScheduledChange: should refuse a stale read of the tenant (suspended since, the scheduled change kept) and leave the operation running its course', async () => {
    const scheduled = await schedule(await newTenant('clear-stale'), 'op-clear-stale');
    const suspended = await tenants.applyTransition(scheduled, 'suspend', operator);
    await operations.beginCompensation('op-clear-stale', ['scheduled']);

    await expect(
      tenants.clearScheduledChange(scheduled, 'op-clear-stale', operator, { alsoUpdate: [operations.finishUpdate('op-clear-stale', 'cancelled', 'compensating')] }),
    ).rejects.toBeInstanceOf(VersionConflictError);

    expect(await tenants.get(scheduled.tenantId)).toEqual(suspended);
    expect((await operations.get('op-clear-stale')).status).toBe('compensating');
  });

  it('startReadOnlyWindow: should refuse a stale read of the owned tenant (a retry of the step opened the window since), keeping the first window', async () => {
    const tenant = await newTenant('window-stale');
    const context = { ...operator, operationId: 'op-window-stale' };
    const upgrading = await tenants.applyTransition(tenant, 'initiate_upgrade', context, { alsoPut: [operationItem(tenant.tenantId, 'op-window-stale')] });
    const opened = await tenants.startReadOnlyWindow(upgrading, 'draining (first)', context);

    await expect(tenants.startReadOnlyWindow(upgrading, 'draining (retry)', context)).rejects.toBeInstanceOf(VersionConflictError);

    expect(await tenants.get(tenant.tenantId)).toEqual(opened);
    expect(await trail(tenant.tenantId)).toEqual(['create', 'initiate_upgrade', CHANGE_EVENTS.startReadOnlyWindow]);
  });
});

describe('TenantStore.applyTransitions: #state = :expectedState', () => {
  it('should refuse a write whose version matches but whose state does not (a writer that did not bump the version)', async () => {
    const tenant = await newTenant('same-version');
    await rawSet(tenant.tenantId, { state: 'suspended' });

    await expect(tenants.applyTransition(tenant, 'initiate_export', { ...operator, operationId: 'op-same-version' })).rejects.toBeInstanceOf(VersionConflictError);

    expect(await tenants.get(tenant.tenantId)).toMatchObject({ state: 'suspended', version: tenant.version });
    expect(await trail(tenant.tenantId)).toEqual(['create']);
  });
});

describe('TenantStore: the audit and new-item puts (attribute_not_exists(pk))', () => {
  it('should never overwrite an audit entry: a transition whose audit version is taken writes nothing', async () => {
    const tenant = await newTenant('audit-taken');
    const planted = { pk: tenantPk(tenant.tenantId), sk: auditSk(tenant.version + 1), type: 'audit', tenantId: tenant.tenantId, version: tenant.version + 1, event: 'planted' };
    await client.send(new PutCommand({ TableName: tableName, Item: planted }));

    await expect(tenants.applyTransition(tenant, 'suspend', operator)).rejects.toBeInstanceOf(TransactionCanceledException);

    expect(await tenants.get(tenant.tenantId)).toEqual(tenant);
    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: planted.pk, sk: planted.sk } }));
    expect(Item).toEqual(planted);
  });

  it('should refuse a scheduling whose operation id is taken, leaving the first operation and the tenant as they were', async () => {
    const first = await newTenant('op-taken');
    const scheduled = await schedule(first, 'op-taken-1');
    const other = await newTenant('op-taken');

    await expect(schedule(other, 'op-taken-1')).rejects.toBeInstanceOf(TransactionCanceledException);

    expect(await tenants.get(other.tenantId)).toEqual(other);
    expect(await operations.get('op-taken-1')).toMatchObject({ tenantId: scheduled.tenantId, status: 'scheduled' });
  });

  it('should refuse to create a tenant over an existing one', async () => {
    const tenant = await newTenant('create-taken');
    await expect(tenants.create({ tenantId: tenant.tenantId, name: 'impostor', email: 'x@example.com', plan: 'starter', usage: tenant.usage }, operator)).rejects.toThrow(
      /already exists/,
    );
    expect(await tenants.get(tenant.tenantId)).toEqual(tenant);
  });
});

describe('TenantStore.scheduleChange: #state = :expectedState AND attribute_not_exists(scheduledPlanChange)', () => {
  it('should refuse a second scheduling of the tenant as read (its scheduled change in sight) and keep the first', async () => {
    const tenant = await newTenant('second-schedule');
    const scheduled = await schedule(tenant, 'op-second-1');

    await expect(schedule(scheduled, 'op-second-2')).rejects.toBeInstanceOf(PlanChangeScheduledError);

    expect(await tenants.get(tenant.tenantId)).toEqual(scheduled);
    expect(await operations.find('op-second-2')).toBeUndefined();
  });

  it('should refuse a scheduling at the current version when a change is scheduled that the read did not see (a writer that did not bump the version)', async () => {
    const tenant = await newTenant('unseen-schedule');
    await rawSet(tenant.tenantId, { scheduledPlanChange: downgrade('op-unseen-1') });

    await expect(schedule(tenant, 'op-unseen-2')).rejects.toBeInstanceOf(PlanChangeScheduledError);

    expect(await tenants.get(tenant.tenantId)).toMatchObject({ scheduledPlanChange: downgrade('op-unseen-1'), version: tenant.version });
    expect(await operations.find('op-unseen-2')).toBeUndefined();
  });

  it('should refuse a scheduling on a tenant that is not active any more, even at its current version', async () => {
    const tenant = await newTenant('schedule-suspended');
    await rawSet(tenant.tenantId, { state: 'suspended' });

    await expect(schedule(tenant, 'op-schedule-suspended')).rejects.toBeInstanceOf(IllegalTransitionError);

    expect(await tenants.get(tenant.tenantId)).toMatchObject({ state: 'suspended', version: tenant.version });
    expect((await tenants.get(tenant.tenantId)).scheduledPlanChange).toBeUndefined();
  });
});

describe('TenantStore.clearScheduledChange: scheduledPlanChange.operationId = :scheduledOperationId', () => {
  it('should not remove another operation’s scheduled change, nor end the operation with it', async () => {
    const tenant = await schedule(await newTenant('clear-other'), 'op-clear-mine');
    await operations.beginCompensation('op-clear-mine', ['scheduled']);

    await expect(
      tenants.clearScheduledChange(tenant, 'op-clear-other', operator, { alsoUpdate: [operations.finishUpdate('op-clear-mine', 'cancelled', 'compensating')] }),
    ).rejects.toBeInstanceOf(VersionConflictError);

    expect(await tenants.get(tenant.tenantId)).toEqual(tenant);
    expect((await operations.get('op-clear-mine')).status).toBe('compensating');
    expect(await trail(tenant.tenantId)).toEqual(['create', CHANGE_EVENTS.schedulePlanChange]);
  });

  it('should remove its own scheduled change, bump the version with its audit entry and end the operation in the same transaction', async () => {
    const tenant = await schedule(await newTenant('clear-own'), 'op-clear-own');
    await operations.beginCompensation('op-clear-own', ['scheduled']);

    await tenants.clearScheduledChange(tenant, 'op-clear-own', operator, { alsoUpdate: [operations.finishUpdate('op-clear-own', 'cancelled', 'compensating')] });

    const cleared = await tenants.get(tenant.tenantId);
    expect(cleared).toMatchObject({ state: 'active', version: tenant.version + 1 });
    expect(cleared.scheduledPlanChange).toBeUndefined();
    expect(await trail(tenant.tenantId)).toEqual(['create', CHANGE_EVENTS.schedulePlanChange, CHANGE_EVENTS.cancelScheduledPlanChange]);
    expect((await operations.get('op-clear-own')).status).toBe('cancelled');
  });
});

describe('TenantStore.startReadOnlyWindow: operationId = :operationId', () => {
  async function upgradingTenant(prefix: string, operationId: string): Promise<Tenant> {
    const tenant = await newTenant(prefix);
    return tenants.applyTransition(tenant, 'initiate_upgrade', { ...operator, operationId }, { alsoPut: [operationItem(tenant.tenantId, operationId)] });
  }

  it('should refuse an operation that does not own the tenant, leaving the window closed; its owner opens it', async () => {
    const upgrading = await upgradingTenant('window', 'op-window-owner');

    await expect(tenants.startReadOnlyWindow(upgrading, 'draining', { ...operator, operationId: 'op-window-intruder' })).rejects.toBeInstanceOf(OperationOwnershipError);

    expect(await tenants.get(upgrading.tenantId)).toEqual(upgrading);
    await expect(tenants.startReadOnlyWindow(upgrading, 'draining', { ...operator, operationId: 'op-window-owner' })).resolves.toMatchObject({
      readOnlyReason: 'draining',
      version: upgrading.version + 1,
    });
  });

  it('should refuse the operation the read named when another owns the tenant at the same version (a writer that did not bump the version)', async () => {
    const upgrading = await upgradingTenant('window-moved', 'op-window-first');
    await rawSet(upgrading.tenantId, { operationId: 'op-window-second' });

    await expect(tenants.startReadOnlyWindow(upgrading, 'draining', { ...operator, operationId: 'op-window-first' })).rejects.toBeInstanceOf(OperationOwnershipError);

    const current = await tenants.get(upgrading.tenantId);
    expect(current).toMatchObject({ operationId: 'op-window-second', version: upgrading.version });
    expect(current.readOnlyReason).toBeUndefined();
  });
});

describe('TenantStore.reportUsage: attribute_exists(pk) AND (attribute_not_exists(usageMeasuredAt) OR usageMeasuredAt < :measuredAt) [AND #version = :expectedVersion]', () => {
  const usage = (users: number) => ({ queriesPerMonth: 1, storageGb: 0, documents: 2, users });

  it('should refuse a report for an unknown tenant without creating an item', async () => {
    await expect(tenants.reportUsage('usage-nobody', usage(9), '2026-11-01T00:00:00.000Z')).rejects.toBeInstanceOf(TenantNotFoundError);
    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: tenantPk('usage-nobody'), sk: TENANT_SK } }));
    expect(Item).toBeUndefined();
  });

  it('should apply the first report, keep a later-measured one over an earlier one, and keep the first of two measured at the same instant', async () => {
    const tenant = await newTenant('usage');
    expect((await tenants.reportUsage(tenant.tenantId, usage(5), '2026-11-01T10:00:00.000Z')).applied).toBe(true);
    expect((await tenants.reportUsage(tenant.tenantId, usage(6), '2026-11-01T09:00:00.000Z')).applied).toBe(false);
    expect((await tenants.reportUsage(tenant.tenantId, usage(7), '2026-11-01T10:00:00.000Z')).applied).toBe(false);

    expect(await tenants.get(tenant.tenantId)).toMatchObject({ usage: usage(5), usageMeasuredAt: '2026-11-01T10:00:00.000Z', version: tenant.version });
  });
  it('#version = :expectedVersion (If-Match): should refuse a report made against a version the tenant left, recording nothing', async () => {
    const tenant = await newTenant('usage-if-match');
    await tenants.applyTransition(tenant, 'suspend', operator);

    await expect(tenants.reportUsage(tenant.tenantId, usage(8), '2026-11-01T10:00:00.000Z', { expectedVersion: tenant.version })).rejects.toBeInstanceOf(VersionConflictError);

    const current = await tenants.get(tenant.tenantId);
    expect(current.usage).toEqual(tenant.usage);
    expect(current.usageMeasuredAt).toBeUndefined();
  });
});

describe('OperationStore conditional updates', () => {
  async function running(prefix: string): Promise<string> {
    const tenant = await newTenant(prefix);
    const operationId = `op-${tenant.tenantId}`;
    await tenants.applyTransition(tenant, 'initiate_upgrade', { ...operator, operationId }, { alsoPut: [operationItem(tenant.tenantId, operationId)] });
    return operationId;
  }

  it('recordStep (#status = :running): should refuse a late step of an ended operation without recording it', async () => {
    const operationId = await running('late-step');
    expect(await operations.finish(operationId, 'rolled_back', 'running')).toBe(true);

    await expect(operations.recordStep(operationId, 'billing_started')).rejects.toBeInstanceOf(OperationEndedError);

    expect((await operations.get(operationId)).steps).toEqual([]);
  });

  it('recordStep (NOT contains(#steps, :stepValue)): should record a retried step once, keeping the facts it learned', async () => {
    const operationId = await running('retried-step');
    await operations.recordStep(operationId, 'billing_started');
    await operations.recordStep(operationId, 'billing_started', { changeId: 'ch_1' });

    expect(await operations.get(operationId)).toMatchObject({ steps: ['billing_started'], facts: { changeId: 'ch_1' } });
  });

  it('finish (#status = :from): should not end an operation twice, keeping the first end', async () => {
    const operationId = await running('finish-twice');
    expect(await operations.finish(operationId, 'succeeded', 'running')).toBe(true);
    expect(await operations.finish(operationId, 'rolled_back', 'running', { code: 'LATE', message: 'late' })).toBe(false);

    const operation = await operations.get(operationId);
    expect(operation.status).toBe('succeeded');
    expect(operation.error).toBeUndefined();
  });

  it('markScheduled (#status = :scheduledStatus): should refuse an operation that is no longer scheduled', async () => {
    const operationId = await running('mark-running');
    await expect(operations.markScheduled(operationId, '2026-12-01T00:00:00.000Z', '2026-11-30T23:59:00.000Z')).rejects.toThrow();
    const operation = await operations.get(operationId);
    expect(operation.steps).toEqual([]);
    expect(operation.effectiveAt).toBeUndefined();
  });

  describe('startUpdate (#status = :scheduled AND contains(#steps, :setUp))', () => {
    it('should not start a scheduled operation that was never set up', async () => {
      const tenant = await newTenant('start-unset');
      const scheduled = await schedule(tenant, 'op-start-unset');

      await expect(operations.find('op-start-unset')).resolves.toMatchObject({ status: 'scheduled', steps: [] });
      await expect(startScheduled(scheduled, 'op-start-unset')).rejects.toBeInstanceOf(TransactionCanceledException);

      expect(await operations.get('op-start-unset')).toMatchObject({ status: 'scheduled', steps: [] });
      expect(await tenants.get(tenant.tenantId)).toEqual(scheduled);
    });

    it('should not start a set-up operation that a cancellation claimed', async () => {
      const tenant = await newTenant('start-claimed');
      const scheduled = await schedule(tenant, 'op-start-claimed');
      await operations.markScheduled('op-start-claimed', '2026-12-01T00:00:00.000Z', '2026-11-30T23:59:00.000Z');
      await operations.beginCompensation('op-start-claimed', ['scheduled']);

      await expect(startScheduled(scheduled, 'op-start-claimed')).rejects.toBeInstanceOf(TransactionCanceledException);

      expect(await operations.get('op-start-claimed')).toMatchObject({ status: 'compensating', steps: ['scheduled'] });
      expect(await tenants.get(tenant.tenantId)).toEqual(scheduled);
    });

    it('should start a set-up scheduled operation', async () => {
      const tenant = await newTenant('start-ok');
      const scheduled = await schedule(tenant, 'op-start-ok');
      await operations.markScheduled('op-start-ok', '2026-12-01T00:00:00.000Z', '2026-11-30T23:59:00.000Z');
      await startScheduled(scheduled, 'op-start-ok');
      expect(await operations.get('op-start-ok')).toMatchObject({ status: 'running', steps: ['scheduled', 'period_end_reached'] });
      expect(await tenants.get(tenant.tenantId)).toMatchObject({ state: 'downgrading', operationId: 'op-start-ok', version: scheduled.version + 1 });
    });
  });

  describe('beginCompensation (#status IN (:from…) AND NOT contains(#steps, :unlessStep))', () => {
    it('should not claim an operation whose status is not one of `from`', async () => {
      const operationId = await running('claim-status');
      expect(await operations.beginCompensation(operationId, ['scheduled'])).toBeUndefined();
      expect((await operations.get(operationId)).status).toBe('running');
    });

    it('should not claim an operation that recorded `unlessStep`', async () => {
      const tenant = await newTenant('claim-unless');
      await schedule(tenant, 'op-claim-unless');
      await operations.markScheduled('op-claim-unless', '2026-12-01T00:00:00.000Z', '2026-11-30T23:59:00.000Z');

      expect(await operations.beginCompensation('op-claim-unless', ['scheduled'], { unlessStep: 'scheduled' })).toBeUndefined();

      expect((await operations.get('op-claim-unless')).status).toBe('scheduled');
      await expect(operations.beginCompensation('op-claim-unless', ['scheduled'], { unlessStep: 'period_end_reached' })).resolves.toMatchObject({ status: 'compensating' });
    });
  });
});

describe('QueryLeaseStore.acquire: attribute_exists(pk) AND attribute_not_exists(readOnlyReason) AND NOT (#state IN (:deleting, :deleted))', () => {
  const leases = new QueryLeaseStore({ client, tableName, sleep: async () => undefined });

  async function leaseCount(tenantId: string): Promise<number> {
    return (await leases.liveLeases(tenantId)).length;
  }

  it('should refuse an unknown tenant and write no lease', async () => {
    await expect(leases.acquire('lease-nobody', { holder: 'q' })).rejects.toBeInstanceOf(TenantNotFoundError);
    expect(await leaseCount('lease-nobody')).toBe(0);
  });

  it('should refuse a tenant in a read-only window', async () => {
    const tenant = await newTenant('lease-window');
    const upgrading = await tenants.applyTransition(tenant, 'initiate_upgrade', { ...operator, operationId: 'op-lease-window' });
    await tenants.startReadOnlyWindow(upgrading, 'draining', { ...operator, operationId: 'op-lease-window' });

    await expect(leases.acquire(tenant.tenantId, { holder: 'q' })).rejects.toMatchObject({ reason: 'read_only_window' });
    expect(await leaseCount(tenant.tenantId)).toBe(0);
  });

  it.each(['deleting', 'deleted'] as const)('should refuse a %s tenant', async (state) => {
    const tenant = await newTenant(`lease-${state}`);
    const deleting = await tenants.applyTransition(tenant, 'initiate_deletion', operator);
    if (state === 'deleted') await tenants.applyTransition(deleting, 'complete_deletion', operator);

    await expect(leases.acquire(tenant.tenantId, { holder: 'q' })).rejects.toBeInstanceOf(LeaseRefusedError);
    expect(await leaseCount(tenant.tenantId)).toBe(0);
  });

  it('should lease an active tenant', async () => {
    const tenant = await newTenant('lease-ok');
    await leases.acquire(tenant.tenantId, { holder: 'q' });
    expect(await leaseCount(tenant.tenantId)).toBe(1);
  });
});

describe("Idempotency records: the conditional put of Powertools' DynamoDBPersistenceLayer, with our attributes (the wall clock, moved by a spy on Date.now)", () => {
  let t0 = Date.now();
  const at = (seconds: number) => jest.spyOn(Date, 'now').mockReturnValue(t0 + seconds * 1000);
  const lock30s = { getRemainingTimeInMillis: () => 30_000 };
  let key = 0;
  const newKey = () => `key-${(key += 1)}`;
  /** runIdempotent as the routes call it, in tenant `cw`'s partition; `run` answers `answer`. */
  const claim = (k: string, answer: string, run: () => Promise<string> = async () => answer) =>
    runIdempotent({ client, tableName, tenantId: 'cw', kind: 'TEST', key: k, request: { answer }, expiresAfterSeconds: 24 * 60 * 60, context: lock30s, run });
  /** A request that claimed `k` and died (its Lambda timed out): it never finishes. Resolves once the key is claimed. */
  const died = (k: string) =>
    new Promise<void>((claimed) => {
      void claim(k, 'dead', () => {
        claimed();
        return new Promise<string>(() => undefined);
      });
    });

  beforeEach(() => {
    t0 = Date.now();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('attribute_not_exists: should answer "in progress" to a retry while the first request still holds the key', async () => {
    const k = newKey();
    await died(k);
    at(29);
    await expect(claim(k, 'dead')).rejects.toMatchObject({ name: 'IdempotencyAlreadyInProgressError' });
  });

  it('#status = :inprogress AND #in_progress_expiry < :now_in_millis: should let a retry take over a key whose request died, once its lock passed', async () => {
    const k = newKey();
    await died(k);
    at(31);
    await expect(claim(k, 'dead', async () => 'retried')).resolves.toEqual({ result: 'retried', replayed: false });
  });

  it('#status = :inprogress: should keep replaying a completed response after the lock time', async () => {
    const k = newKey();
    await claim(k, 'first');
    at(3600);
    await expect(claim(k, 'first', async () => 'again')).resolves.toEqual({ result: 'first', replayed: true });
  });

  it('#expiry < :now: should take an expired key as new, even for another request', async () => {
    const k = newKey();
    await claim(k, 'first');
    at(24 * 60 * 60 + 1);
    await expect(claim(k, 'other')).resolves.toEqual({ result: 'other', replayed: false });
  });

  it('validation: should refuse the same key for another request, in progress or completed', async () => {
    const running = newKey();
    await died(running);
    await expect(claim(running, 'other')).rejects.toMatchObject({ name: 'IdempotencyValidationError' });
    const done = newKey();
    await claim(done, 'first');
    await expect(claim(done, 'other')).rejects.toMatchObject({ name: 'IdempotencyValidationError' });
  });
});

// The remaining conditional writes are pinned where their behaviour is tested:
// LocalScheduler (claim, delete-if-still-claimed, failed-if-still-claimed): test/integration/scheduler/local-scheduler.test.ts;
// LedgerBilling #putOnce: test/integration/billing/ledger-billing.test.ts ("should charge once …", "should reverse once …").
