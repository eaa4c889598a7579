/** The store's error handling and bounds against a mocked DynamoDB client; its behaviour on a real table is in test/integration/leases. */
import { TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { LeaseRefusedError } from '../../../functions/leases/errors';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { TenantNotFoundError } from '../../../functions/tenants/errors';

const documentClient = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2026-03-01T12:00:00.000Z');
const sleeps: number[] = [];

function newStore(now: Date = NOW): QueryLeaseStore {
  return new QueryLeaseStore({
    client: documentClient as unknown as DynamoDBDocumentClient,
    tableName: 'lifecycle',
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}

function cancelled(...reasons: CancellationReason[]): TransactionCanceledException {
  return new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons });
}

const conflict = () => cancelled({ Code: 'TransactionConflict' }, { Code: 'None' });
const checkFailed = (tenant?: Record<string, unknown>) =>
  cancelled({ Code: 'ConditionalCheckFailed', ...(tenant ? { Item: marshall(tenant) } : {}) }, { Code: 'None' });

beforeEach(() => {
  documentClient.reset();
  sleeps.length = 0;
});

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
    });
  });
});
