import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { findTenantBySubscription, linkRefusal, subscriptionLinkItem } from '../../functions/billing/subscription-links';
import { IllegalTransitionError, type LifecycleEvent } from '../../functions/lifecycle';
import { config } from '../../functions/shared/config';
import {
  InvalidCursorError,
  OperationOwnershipError,
  TenantAlreadyExistsError,
  TenantNotFoundError,
  VersionConflictError,
} from '../../functions/tenants/errors';
import { CHANGE_EVENTS, TenantStore, type NewTenant, type Tenant } from '../../functions/tenants/tenant-store';
import { createTableInput, tenantPk, TENANT_SK } from '../../functions/tenants/tenant-table';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, region: config.region }), {
  marshallOptions: { removeUndefinedValues: true },
});
const store = new TenantStore({ client, tableName: config.tableName });
const operator = { actor: 'operator@test', reason: 'test' };

function newTenant(tenantId: string): NewTenant {
  return { tenantId, name: tenantId, email: `${tenantId}@example.com`, plan: 'starter', usage: { queriesPerMonth: 1, storageGb: 0, documents: 2, users: 3 } };
}

async function allHistory(tenantId: string) {
  return (await store.history(tenantId, { limit: 100 })).items;
}

beforeAll(async () => {
  await client.send(new CreateTableCommand(createTableInput(config.tableName)));
});
afterAll(async () => {
  await client.send(new DeleteTableCommand({ TableName: config.tableName }));
  client.destroy();
});

describe('Class: TenantStore', () => {
  describe('Method: create', () => {
    it('should store an active tenant at version 1 with a "create" audit entry', async () => {
      const created = await store.create(newTenant('create-1'), operator);

      expect(await store.get('create-1')).toEqual(created);
      expect(created).toMatchObject({ state: 'active', version: 1, plan: 'starter' });
      expect(await allHistory('create-1')).toEqual([
        expect.objectContaining({ version: 1, event: 'create', from: null, to: 'active', actor: 'operator@test' }),
      ]);
    });

    it('should refuse a taken id and leave the first tenant and its trail untouched', async () => {
      await store.create(newTenant('create-2'), operator);
      await expect(store.create({ ...newTenant('create-2'), name: 'impostor' }, operator)).rejects.toBeInstanceOf(TenantAlreadyExistsError);
      expect((await store.get('create-2')).name).toBe('create-2');
      expect(await allHistory('create-2')).toHaveLength(1);
    });

    it('should write the subscription link with the tenant and its audit item, and none when the id is taken', async () => {
      const account = { customerId: 'cus_c3', subscriptionId: 'sub_c3', subscriptionItemId: 'si_c3' };
      await store.create({ ...newTenant('create-3'), billing: account }, operator, { alsoPut: [subscriptionLinkItem('create-3', account)], refusedPut: linkRefusal });
      expect(await findTenantBySubscription(client, config.tableName, 'sub_c3')).toEqual({ subscriptionId: 'sub_c3', customerId: 'cus_c3', tenantId: 'create-3' });

      const other = { customerId: 'cus_c3b', subscriptionId: 'sub_c3b', subscriptionItemId: 'si_c3b' };
      const taken = store.create({ ...newTenant('create-3'), billing: other }, operator, { alsoPut: [subscriptionLinkItem('create-3', other)], refusedPut: linkRefusal });

      await expect(taken).rejects.toBeInstanceOf(TenantAlreadyExistsError);
      expect(await findTenantBySubscription(client, config.tableName, 'sub_c3b')).toBeUndefined();
      expect((await store.get('create-3')).billing).toEqual(account);
    });

    it('should refuse a tenant whose subscription is linked to another with the error naming that tenant, writing nothing', async () => {
      const account = { customerId: 'cus_c4', subscriptionId: 'sub_c4', subscriptionItemId: 'si_c4' };
      await store.create({ ...newTenant('create-4'), billing: account }, operator, { alsoPut: [subscriptionLinkItem('create-4', account)], refusedPut: linkRefusal });

      const refused = store.create({ ...newTenant('create-5'), billing: account }, operator, { alsoPut: [subscriptionLinkItem('create-5', account)], refusedPut: linkRefusal });

      await expect(refused).rejects.toMatchObject({ name: 'SubscriptionAlreadyLinkedError', subscriptionId: 'sub_c4', linkedTenantId: 'create-4', message: expect.stringContaining("already bills tenant 'create-4'") });
      expect(await store.find('create-5')).toBeUndefined();
      expect(await allHistory('create-5')).toEqual([]);
      expect((await findTenantBySubscription(client, config.tableName, 'sub_c4'))?.tenantId).toBe('create-4');
    });
  });

  describe('Method: get', () => {
    it('should throw TenantNotFoundError for an unknown tenant', async () => {
      await expect(store.get('nobody-here')).rejects.toBeInstanceOf(TenantNotFoundError);
    });
  });

  describe('Method: applyTransition', () => {
    it('should move the tenant, bump the version and append one audit entry with who and why', async () => {
      const tenant = await store.create(newTenant('move-1'), operator);

      const suspended = await store.applyTransition(tenant, 'suspend', { actor: 'billing', reason: 'invoice.payment_failed', stripeEventId: 'evt_1' });

      expect(suspended).toMatchObject({ state: 'suspended', version: 2 });
      expect(await store.get('move-1')).toEqual(suspended);
      const [latest] = await allHistory('move-1');
      expect(latest).toMatchObject({ version: 2, event: 'suspend', from: 'active', to: 'suspended', actor: 'billing', reason: 'invoice.payment_failed', stripeEventId: 'evt_1' });
    });

    it('should return an export to the state it came from, across a re-read', async () => {
      const tenant = await store.create(newTenant('export-1'), operator);
      const suspended = await store.applyTransition(tenant, 'suspend', operator);
      await store.applyTransition(suspended, 'initiate_export', { ...operator, operationId: 'exp-1' });

      const reread = await store.get('export-1');
      expect(reread).toMatchObject({ state: 'exporting', origin: 'suspended', operationId: 'exp-1' });
      const done = await store.applyTransition(reread, 'complete_export', { ...operator, operationId: 'exp-1' });

      expect(done.state).toBe('suspended');
      const stored = await store.get('export-1');
      expect(stored.origin).toBeUndefined();
      expect(stored.operationId).toBeUndefined();
    });

    it('should let only the owning operation move a tenant out of a transitional state', async () => {
      const tenant = await store.create(newTenant('owned-1'), operator);
      const upgrading = await store.applyTransition(tenant, 'initiate_upgrade', { ...operator, operationId: 'op-a' });

      await expect(store.applyTransition(upgrading, 'rollback_upgrade', { ...operator, operationId: 'op-b' })).rejects.toBeInstanceOf(OperationOwnershipError);
      await expect(store.applyTransition(upgrading, 'complete_upgrade', operator)).rejects.toBeInstanceOf(OperationOwnershipError);
      const active = await store.applyTransition(upgrading, 'complete_upgrade', { ...operator, operationId: 'op-a' });
      expect(active.state).toBe('active');
    });

    it('should refuse an illegal event without writing anything', async () => {
      const tenant = await store.create(newTenant('illegal-1'), operator);
      await expect(store.applyTransition(tenant, 'complete_deletion', operator)).rejects.toBeInstanceOf(IllegalTransitionError);
      expect(await store.get('illegal-1')).toEqual(tenant);
      expect(await allHistory('illegal-1')).toHaveLength(1);
    });

    it('should report a stale read as a version conflict when the event is still legal', async () => {
      const stale = await store.create(newTenant('stale-1'), operator);
      await store.applyTransition(stale, 'suspend', operator);

      const error = await store.applyTransition(stale, 'initiate_export', operator).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VersionConflictError);
      expect(error).toMatchObject({ expectedVersion: 1, currentVersion: 2, currentState: 'suspended' });
    });

    it('should report a stale read as an illegal transition when the winner moved the tenant out of reach', async () => {
      const stale = await store.create(newTenant('stale-2'), operator);
      await store.applyTransition(stale, 'suspend', operator);

      const error = await store.applyTransition(stale, 'initiate_upgrade', operator).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IllegalTransitionError);
      expect(error).toMatchObject({ state: 'suspended' });
    });
  });

  describe('Method: applyTransitions', () => {
    it('should apply a chain atomically with one audit entry per event', async () => {
      const tenant = await store.create(newTenant('chain-1'), operator);
      const suspended = await store.applyTransition(tenant, 'suspend', operator);

      const active = await store.applyTransitions(suspended, ['resume', 'complete_reactivation'], { ...operator, operationId: 'resume-1' });

      expect(active).toMatchObject({ state: 'active', version: 4 });
      expect((await allHistory('chain-1')).map((e) => [e.version, e.event, e.from, e.to])).toEqual([
        [4, 'complete_reactivation', 'reactivating', 'active'],
        [3, 'resume', 'suspended', 'reactivating'],
        [2, 'suspend', 'active', 'suspended'],
        [1, 'create', null, 'active'],
      ]);
    });

    it('should write nothing when a later event of the chain is illegal', async () => {
      const tenant = await store.create(newTenant('chain-2'), operator);
      await expect(store.applyTransitions(tenant, ['suspend', 'complete_upgrade'], operator)).rejects.toBeInstanceOf(IllegalTransitionError);
      expect(await store.get('chain-2')).toEqual(tenant);
      expect(await allHistory('chain-2')).toHaveLength(1);
    });
  });

  describe('Method: history', () => {
    it('should page through the trail newest first without gaps or repeats', async () => {
      let tenant = await store.create(newTenant('history-1'), operator);
      for (let i = 0; i < 3; i += 1) {
        tenant = await store.applyTransition(tenant, 'suspend', operator);
        tenant = await store.applyTransitions(tenant, ['resume', 'complete_reactivation'], { ...operator, operationId: `r-${i}` });
      }
      const versions: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.history('history-1', { limit: 3, cursor });
        expect(page.items.length).toBeLessThanOrEqual(3);
        versions.push(...page.items.map((e) => e.version));
        cursor = page.nextCursor;
      } while (cursor);
      expect(versions).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    });

    it('should refuse a cursor it did not issue', async () => {
      await expect(store.history('history-1', { cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursorError);
      const forged = Buffer.from(JSON.stringify({ before: 'x' })).toString('base64url');
      await expect(store.history('history-1', { cursor: forged })).rejects.toBeInstanceOf(InvalidCursorError);
    });
  });

  describe('Method: listByState', () => {
    it('should list one state and page across all states without gaps or repeats', async () => {
      const ids = ['list-a', 'list-b', 'list-c', 'list-d', 'list-e'];
      for (const id of ids) {
        const tenant = await store.create(newTenant(id), operator);
        if (id === 'list-b' || id === 'list-d') await store.applyTransition(tenant, 'suspend', operator);
      }

      const suspended = await store.listByState('suspended', { limit: 100 });
      expect(suspended.items.map((t) => t.tenantId)).toEqual(expect.arrayContaining(['list-b', 'list-d']));
      expect(suspended.items.every((t) => t.state === 'suspended')).toBe(true);

      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listByState(undefined, { limit: 2, cursor });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((t) => t.tenantId));
        cursor = page.nextCursor;
      } while (cursor);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining(ids));
    });

    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

    it.each([
      ['not base64 JSON', 'not-a-cursor'],
      ['a JSON array', cursorOf([1])],
      ['an unknown state', cursorOf({ state: 'frozen' })],
      ['a state outside the listed one', cursorOf({ state: 'active' })],
      ['an after without a tenant id', cursorOf({ state: 'suspended', after: { stateChangedAt: '2026-01-01T00:00:00.000Z' } })],
      ['an after without a time', cursorOf({ state: 'suspended', after: { tenantId: 'list-b' } })],
    ])('should refuse a cursor with %s', async (_, cursor) => {
      await expect(store.listByState('suspended', { cursor })).rejects.toBeInstanceOf(InvalidCursorError);
    });

    it('should take a page size below 1 as 1, and one above 100 as a full page rather than an error', async () => {
      await store.create(newTenant('list-clamp-1'), operator);
      await store.create(newTenant('list-clamp-2'), operator);
      expect((await store.listByState('active', { limit: 0 })).items).toHaveLength(1);
      expect((await store.listByState('active', { limit: 1000 })).items.length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('Method: history', () => {
    it('should refuse a cursor whose version is not a positive whole number', async () => {
      await store.create(newTenant('history-cursor'), operator);
      for (const before of [0, -1, 1.5]) {
        await expect(store.history('history-cursor', { cursor: Buffer.from(JSON.stringify({ before })).toString('base64url') })).rejects.toBeInstanceOf(InvalidCursorError);
      }
    });
  });

  describe('Method: applyTransitions (edge cases)', () => {
    it('should refuse an empty chain', async () => {
      const tenant = await store.create(newTenant('empty-chain'), operator);
      await expect(store.applyTransitions(tenant, [], operator)).rejects.toBeInstanceOf(RangeError);
      expect(await store.get('empty-chain')).toEqual(tenant);
    });

    it('should answer TenantNotFoundError when the tenant item is gone', async () => {
      const tenant = await store.create(newTenant('gone'), operator);
      await client.send(new DeleteCommand({ TableName: config.tableName, Key: { pk: tenantPk('gone'), sk: TENANT_SK } }));
      await expect(store.applyTransition(tenant, 'suspend', operator)).rejects.toBeInstanceOf(TenantNotFoundError);
    });
  });

  describe('Method: startReadOnlyWindow', () => {
    it('should open the window of the owning operation with its audit entry, and the workflow\'s complete transition close it', async () => {
      const tenant = await store.create(newTenant('window-1'), operator);
      const context = { ...operator, operationId: 'op-w1' };
      const upgrading = await store.applyTransition(tenant, 'initiate_upgrade', context);
      const opened = await store.startReadOnlyWindow(upgrading, 'moving vectors', context);
      expect(opened).toMatchObject({ readOnlyReason: 'moving vectors', version: upgrading.version + 1 });
      expect(await store.get('window-1')).toEqual(opened);
      expect((await store.history('window-1', { limit: 1 })).items[0]).toMatchObject({ event: CHANGE_EVENTS.startReadOnlyWindow, from: 'upgrading', to: 'upgrading', version: opened.version, operationId: 'op-w1' });
      const completed = await store.applyTransition(opened, 'complete_upgrade', context);
      expect(completed.readOnlyReason).toBeUndefined();
      expect(completed).toMatchObject({ state: 'active', version: upgrading.version + 2 });
      expect(await store.get('window-1')).toEqual(completed);
    });
  });

  describe('Method: applyTransition (readOnlyWindow)', () => {
    it('should open the window with the initiate event in one change: two entries, each with its version and its reason', async () => {
      const tenant = await store.create(newTenant('window-2'), operator);
      const upgrading = await store.applyTransition(tenant, 'initiate_upgrade', { ...operator, reason: 'asked for more', operationId: 'op-w2' }, { readOnlyWindow: 'moving vectors' });

      expect(upgrading).toMatchObject({ state: 'upgrading', operationId: 'op-w2', readOnlyReason: 'moving vectors', version: 3 });
      expect(await store.get('window-2')).toEqual(upgrading);
      expect((await allHistory('window-2')).map((e) => [e.version, e.event, e.from, e.to, e.reason, e.actor, e.operationId])).toEqual([
        [3, CHANGE_EVENTS.startReadOnlyWindow, 'upgrading', 'upgrading', 'moving vectors', operator.actor, 'op-w2'],
        [2, 'initiate_upgrade', 'active', 'upgrading', 'asked for more', operator.actor, 'op-w2'],
        [1, 'create', null, 'active', 'test', operator.actor, undefined],
      ]);
    });

    it('should refuse a window for events that leave the tenant stable, writing nothing', async () => {
      const tenant = await store.create(newTenant('window-3'), operator);
      await expect(store.applyTransition(tenant, 'suspend', operator, { readOnlyWindow: 'nothing to wait for' })).rejects.toThrow(/only in a transitional state.*'suspend' leaves the tenant 'suspended'/);
      expect(await store.get('window-3')).toEqual(tenant);
      expect(await allHistory('window-3')).toHaveLength(1);
    });
  });
});

describe('Race: conflicting transitions on one tenant', () => {
  const EVENTS: LifecycleEvent[] = ['suspend', 'initiate_export', 'initiate_deletion', 'initiate_upgrade', 'initiate_downgrade'];
  const CLIENTS = 32;
  const ROUNDS = 50;

  it(`should let exactly one of ${CLIENTS} win, every round of ${ROUNDS}, with exactly one new audit entry`, async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      const tenantId = `race-${round}`;
      const snapshot: Tenant = await store.create(newTenant(tenantId), operator);

      const results = await Promise.allSettled(
        Array.from({ length: CLIENTS }, (_, i) => store.applyTransition(snapshot, EVENTS[i % EVENTS.length] as LifecycleEvent, { actor: `client-${i}`, operationId: `op-${round}-${i}` })),
      );

      const winners = results.filter((r): r is PromiseFulfilledResult<Tenant> => r.status === 'fulfilled');
      const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(winners).toHaveLength(1);
      const stored = await store.get(tenantId);
      const winner = (winners[0] as PromiseFulfilledResult<Tenant>).value;
      // A winner that is an operation owning the tenant (upgrading, exporting...) is named to every loser.
      const Expected = winner.operationId && winner.state !== 'active' ? OperationOwnershipError : undefined;
      for (const loser of losers) {
        if (Expected) expect(loser.reason).toMatchObject({ name: 'OperationOwnershipError', ownerOperationId: winner.operationId });
        else expect(loser.reason instanceof VersionConflictError || loser.reason instanceof IllegalTransitionError).toBe(true);
      }
      expect(stored).toEqual(winner);
      const history = await allHistory(tenantId);
      expect(history).toHaveLength(2);
      expect(history[0]).toMatchObject({ version: 2, from: 'active', to: winner.state, operationId: winner.operationId ?? expect.any(String) });
    }
    // 1,700 transactions against one DynamoDB Local: about a minute when the machine is busy. A run-time allowance, not a speed bound.
  }, 300_000);
});
