/** The store's error handling and bounds against a mocked DynamoDB client; its behaviour on a real table is in test/integration/leases. */
import { ConditionalCheckFailedException, TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { LeaseLimitError, LeaseRefusedError } from '../../../functions/leases/errors';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { TenantNotFoundError } from '../../../functions/tenants/errors';

const documentClient = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2026-03-01T12:00:00.000Z');
const sleeps: number[] = [];

function newStore(now: Date = NOW, maxLiveLeases?: number): QueryLeaseStore {
  return new QueryLeaseStore({
    client: documentClient as unknown as DynamoDBDocumentClient,
    tableName: 'lifecycle',
    now: () => now,
    ...(maxLiveLeases === undefined ? {} : { maxLiveLeases }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}

function cancelled(...reasons: CancellationReason[]): TransactionCanceledException {
  return new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons });
}

const conflict = () => cancelled({ Code: 'TransactionConflict' }, { Code: 'None' });
const slotTaken = () => cancelled({ Code: 'None' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' });
const checkFailed = (tenant?: Record<string, unknown>) =>
  cancelled({ Code: 'ConditionalCheckFailed', ...(tenant ? { Item: marshall(tenant) } : {}) }, { Code: 'None' });

beforeEach(() => {
  documentClient.reset();
  documentClient.on(QueryCommand).resolves({ Items: [] }); // no slot of the cap held
  sleeps.length = 0;
});

/** Slot items as the cap's read sees them: slot number and when its lease expires (ms after NOW). */
const slots = (...expiresInMs: number[]) => expiresInMs.map((ms, slot) => ({ slot, leaseExpiresAt: NOW.getTime() + ms }));

describe('Class: QueryLeaseStore', () => {
  describe('Method: acquire', () => {
    it('should check the tenant and put the lease in one transaction, with liveness in ms and TTL in seconds after it', async () => {
      documentClient.on(TransactWriteCommand).resolves({});

      const lease = await newStore().acquire('acme-corp', { holder: 'q-1', ttlSeconds: 45 });

      expect(lease).toEqual({ tenantId: 'acme-corp', leaseId: expect.any(String), holder: 'q-1', acquiredAt: NOW.toISOString(), expiresAt: '2026-03-01T12:00:45.000Z' });
      const [check, put] = documentClient.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
      expect(check?.ConditionCheck).toMatchObject({ Key: { pk: 'TENANT#acme-corp', sk: 'TENANT' }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
      expect(check?.ConditionCheck?.ConditionExpression).toContain('attribute_not_exists(readOnlyReason)');
      const item = put?.Put?.Item as Record<string, number>;
      expect(item).toMatchObject({ pk: 'TENANT#acme-corp', sk: `LEASE#${lease.leaseId}`, leaseExpiresAt: NOW.getTime() + 45_000 });
      expect(item.expiresAt).toBeGreaterThan((NOW.getTime() + 45_000) / 1000);
    });

    it('should take a free slot of the cap in the same transaction, on the condition that it is free or its lease expired', async () => {
      documentClient.on(QueryCommand).resolves({ Items: [{ slot: 0, leaseExpiresAt: NOW.getTime() + 60_000 }, { slot: 2, leaseExpiresAt: NOW.getTime() + 60_000 }] }); // slot 1 unheld
      documentClient.on(TransactWriteCommand).resolves({});

      const lease = await newStore(NOW, 3).acquire('acme-corp', { holder: 'q-1', ttlSeconds: 45 });

      expect(documentClient).toHaveReceivedCommandWith(QueryCommand, {
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: 'leaseExpiresAt > :now',
        ExpressionAttributeValues: { ':pk': 'TENANT#acme-corp', ':prefix': 'LEASE_SLOT#', ':now': NOW.getTime() },
        ConsistentRead: true,
      });
      const [, put, slot] = documentClient.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
      expect(put?.Put?.Item).toMatchObject({ slot: 1 });
      expect(slot?.Put).toEqual({
        TableName: 'lifecycle',
        Item: { pk: 'TENANT#acme-corp', sk: 'LEASE_SLOT#1', type: 'lease-slot', slot: 1, leaseId: lease.leaseId, leaseExpiresAt: NOW.getTime() + 45_000, expiresAt: (put?.Put?.Item as Record<string, number>).expiresAt },
        ConditionExpression: 'attribute_not_exists(pk) OR leaseExpiresAt <= :now',
        ExpressionAttributeValues: { ':now': NOW.getTime() },
      });
    });

    it('should read every page of slots, and refuse with LeaseLimitError when each is held, retrying when the soonest expires', async () => {
      documentClient
        .on(QueryCommand)
        .resolvesOnce({ Items: slots(90_000), LastEvaluatedKey: { pk: 'TENANT#acme-corp', sk: 'LEASE_SLOT#0' } })
        .resolvesOnce({ Items: [{ slot: 1, leaseExpiresAt: NOW.getTime() + 2_001 }, { slot: 7, leaseExpiresAt: NOW.getTime() + 500 }] });

      const refused = await newStore(NOW, 2).acquire('acme-corp', { holder: 'q' }).catch((error: unknown) => error);

      // Slot 7 is above the cap (it was lowered): it counts for nothing, not even for the wait.
      expect(refused).toBeInstanceOf(LeaseLimitError);
      expect(refused).toMatchObject({ tenantId: 'acme-corp', limit: 2, retryAfterSeconds: 3, code: 'LEASE_LIMIT_REACHED' });
      expect(documentClient).toHaveReceivedCommandTimes(QueryCommand, 2);
      // The tenant was checked, and admits leases: the cap is the refusal. Nothing was put.
      expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
      expect(documentClient.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems).toEqual([
        { ConditionCheck: expect.objectContaining({ Key: { pk: 'TENANT#acme-corp', sk: 'TENANT' } }) },
      ]);
    });

    it('should say a full tenant is in a read-only window, or missing, rather than at its cap: that says more', async () => {
      documentClient.on(QueryCommand).resolves({ Items: slots(10_000) });
      documentClient.on(TransactWriteCommand).rejectsOnce(checkFailed({ state: 'upgrading', readOnlyReason: 'Migrating' })).rejectsOnce(checkFailed());

      await expect(newStore(NOW, 1).acquire('acme-corp', { holder: 'q' })).rejects.toMatchObject({ name: 'LeaseRefusedError', reason: 'read_only_window' });
      await expect(newStore(NOW, 1).acquire('acme-corp', { holder: 'q' })).rejects.toBeInstanceOf(TenantNotFoundError);
    });

    it('should answer the cap when the tenant check itself is contended', async () => {
      documentClient.on(QueryCommand).resolves({ Items: slots(10_000) });
      documentClient.on(TransactWriteCommand).rejects(conflict());

      await expect(newStore(NOW, 1).acquire('acme-corp', { holder: 'q' })).rejects.toBeInstanceOf(LeaseLimitError);
    });

    it('should wait at least 1 s for a lease that expires within the millisecond', async () => {
      documentClient.on(QueryCommand).resolves({ Items: slots(1) });

      await expect(newStore(NOW, 1).acquire('acme-corp', { holder: 'q' })).rejects.toMatchObject({ retryAfterSeconds: 1 });
    });

    it('should read the slots again when a concurrent acquire took the one it chose, then refuse once none is left', async () => {
      documentClient.on(QueryCommand).resolvesOnce({ Items: slots(10_000) }).resolves({ Items: slots(10_000, 10_000) });
      documentClient.on(TransactWriteCommand).rejects(slotTaken());

      await expect(newStore(NOW, 2).acquire('acme-corp', { holder: 'q' })).rejects.toBeInstanceOf(LeaseLimitError);
      expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 2); // the lost slot, then the tenant check
      expect(sleeps).toEqual([]);
    });

    it('should pass on a failure that is not a cancelled transaction, without retrying', async () => {
      const throttled = Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' });
      documentClient.on(TransactWriteCommand).rejects(throttled);

      await expect(newStore().acquire('acme-corp', { holder: 'q' })).rejects.toBe(throttled);
      expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('should give up after 25 slots lost to concurrent acquires and throw the last refusal', async () => {
      const error = slotTaken();
      documentClient.on(TransactWriteCommand).rejects(error);

      await expect(newStore(NOW, 2).acquire('acme-corp', { holder: 'q' })).rejects.toBe(error);
      expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 25);
    });

    it('should retry a transaction conflict with backoff and then succeed', async () => {
      documentClient.on(TransactWriteCommand).rejectsOnce(conflict()).rejectsOnce(conflict()).resolves({});

      await expect(newStore().acquire('acme-corp', { holder: 'q' })).resolves.toMatchObject({ tenantId: 'acme-corp' });
      expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
      expect(sleeps).toHaveLength(2);
    });

    it('should give up after six conflicting attempts and throw the conflict', async () => {
      const error = conflict();
      documentClient.on(TransactWriteCommand).rejects(error);

      await expect(newStore().acquire('acme-corp', { holder: 'q' })).rejects.toBe(error);
      expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 6);
    });

    it('should throw TenantNotFoundError when the check failed on no item, without retrying', async () => {
      documentClient.on(TransactWriteCommand).rejects(checkFailed());

      await expect(newStore().acquire('ghost', { holder: 'q' })).rejects.toBeInstanceOf(TenantNotFoundError);
      expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('should explain a read-only window from the tenant as it was when the check failed', async () => {
      documentClient.on(TransactWriteCommand).rejects(checkFailed({ state: 'upgrading', readOnlyReason: 'Migrating storage' }));

      const refused = await newStore().acquire('acme-corp', { holder: 'q' }).catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(LeaseRefusedError);
      expect(refused).toMatchObject({ tenantId: 'acme-corp', reason: 'read_only_window', state: 'upgrading', readOnlyReason: 'Migrating storage' });
      expect((refused as Error).message).toContain('Migrating storage');
    });

    it.each(['deleting', 'deleted'])('should refuse a %s tenant as blocked', async (state) => {
      documentClient.on(TransactWriteCommand).rejects(checkFailed({ state }));

      await expect(newStore().acquire('acme-corp', { holder: 'q' })).rejects.toMatchObject({ name: 'LeaseRefusedError', reason: 'blocked', state });
    });

    it.each([0, 301, 2.5])('should refuse ttlSeconds %p without calling DynamoDB', async (ttlSeconds) => {
      await expect(newStore().acquire('acme-corp', { holder: 'q', ttlSeconds })).rejects.toBeInstanceOf(RangeError);
      expect(documentClient).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    });
  });

  describe('Method: release', () => {
    it('should say whether the deleted lease was still live', async () => {
      documentClient
        .on(DeleteCommand)
        .resolvesOnce({ Attributes: { leaseExpiresAt: NOW.getTime() + 1 } })
        .resolvesOnce({ Attributes: { leaseExpiresAt: NOW.getTime() } })
        .resolvesOnce({});

      const store = newStore();
      expect(await store.release('acme-corp', 'a')).toBe(true);
      expect(await store.release('acme-corp', 'b')).toBe(false);
      expect(await store.release('acme-corp', 'c')).toBe(false);
      expect(documentClient).toHaveReceivedCommandWith(DeleteCommand, { Key: { pk: 'TENANT#acme-corp', sk: 'LEASE#a' } });
      expect(documentClient).toHaveReceivedCommandTimes(DeleteCommand, 3); // no slot named: leases from before the cap
    });

    it('should free the lease’s slot only while the slot names it, and not fail when another lease holds it now', async () => {
      documentClient
        .on(DeleteCommand, { Key: { pk: 'TENANT#acme-corp', sk: 'LEASE#a' } })
        .resolves({ Attributes: { leaseExpiresAt: NOW.getTime() - 1, slot: 4 } })
        .on(DeleteCommand, { Key: { pk: 'TENANT#acme-corp', sk: 'LEASE_SLOT#4' } })
        .rejects(new ConditionalCheckFailedException({ message: 'taken', $metadata: {} }));

      expect(await newStore().release('acme-corp', 'a')).toBe(false);
      expect(documentClient).toHaveReceivedCommandWith(DeleteCommand, {
        Key: { pk: 'TENANT#acme-corp', sk: 'LEASE_SLOT#4' },
        ConditionExpression: 'leaseId = :leaseId',
        ExpressionAttributeValues: { ':leaseId': 'a' },
      });
    });

    it('should throw a failure to free the slot other than its condition', async () => {
      const throttled = new Error('throttled');
      documentClient
        .on(DeleteCommand, { Key: { pk: 'TENANT#acme-corp', sk: 'LEASE#a' } })
        .resolves({ Attributes: { leaseExpiresAt: NOW.getTime() + 1, slot: 0 } })
        .on(DeleteCommand, { Key: { pk: 'TENANT#acme-corp', sk: 'LEASE_SLOT#0' } })
        .rejects(throttled);

      await expect(newStore().release('acme-corp', 'a')).rejects.toBe(throttled);
    });
  });
});
