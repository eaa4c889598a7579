/**
 * The local stream poller (infra/local/stream-poller.ts) on DynamoDB Local's real stream of this file's table:
 * records handed over in stream order after their writes; a batch item failure hands that record and every one
 * after it over again at the next pass, and the checkpoint never passes a record not handled; a new poller on
 * the same checkpoint file goes on after it; stop() ends the polling and leaves no timer armed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { config } from '../../functions/shared/config';
import { TenantStore } from '../../functions/tenants/tenant-store';
import { isAuditInsert, type BatchResponse, type StreamRecord } from '../../functions/events/lifecycle-events';
import { StreamPoller } from '../../infra/local/stream-poller';
import { useTestTable } from '../support/test-table';

const client = useTestTable();
const store = new TenantStore({ client, tableName: config.tableName });
const streams = new DynamoDBStreamsClient({ endpoint: config.dynamoDbEndpoint, region: config.region });
const root = mkdtempSync(join(tmpdir(), 'stream-poller-'));
const checkpointFile = join(root, 'checkpoints.json');
const operator = { actor: 'operator@test' };

afterAll(() => {
  streams.destroy();
  rmSync(root, { recursive: true, force: true });
});

/** The audit ids (`<tenantId>#<version>`) of the audit items among `records`. */
function auditIds(records: readonly StreamRecord[]): string[] {
  return records.filter(isAuditInsert).map((record) => {
    const item = unmarshall(record.dynamodb?.NewImage as Record<string, AttributeValue>);
    return `${item.tenantId}#${item.version}`;
  });
}

function poller(handle: (records: readonly StreamRecord[]) => Promise<BatchResponse>, more: { retryAttempts?: number; onDeadLetter?: (record: StreamRecord) => void } = {}): StreamPoller {
  return new StreamPoller({ dynamo: client, streams, tableName: config.tableName, checkpointFile, handle, batchSize: 100, ...more });
}

function newTenant(tenantId: string) {
  return { tenantId, name: 'Poller Co', email: 'ops@poller.example', plan: 'free' as const, usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 0 } };
}

it('should hand records over in stream order, and a failed record with every one after it again at the next pass', async () => {
  await store.create(newTenant('poll-a'), operator);
  await store.create(newTenant('poll-b'), operator);
  const seen: string[][] = [];
  let fail = true;
  const first = poller(async (records) => {
    seen.push(auditIds(records));
    // Refuse poll-b's audit item once, as a sink that did not accept it.
    const refused = fail ? records.find((record) => auditIds([record])[0] === 'poll-b#1') : undefined;
    fail = false;
    return { batchItemFailures: refused ? [{ itemIdentifier: refused.dynamodb?.SequenceNumber as string }] : [] };
  });

  await first.pollOnce();
  const checkpointAfterFailure = JSON.parse(readFileSync(checkpointFile, 'utf8')) as { shards: Record<string, { after?: string }> };
  await first.pollOnce();

  expect(seen).toEqual([['poll-a#1', 'poll-b#1'], ['poll-b#1']]);
  // The checkpoint stopped before the refused record (the tenant item of poll-b, written in the same transaction, may precede it).
  const [shard] = Object.values(checkpointAfterFailure.shards);
  expect(shard?.after).toEqual(expect.any(String));

  // A new poller on the same checkpoints goes on after them: nothing again, then only what is new.
  const later: string[][] = [];
  const second = poller(async (records) => {
    later.push(auditIds(records));
    return { batchItemFailures: [] };
  });
  expect(await second.pollOnce()).toBe(0);
  await store.create(newTenant('poll-c'), operator);
  await second.pollOnce();
  expect(later.flat().filter((id) => id.startsWith('poll-c'))).toEqual(['poll-c#1']);
  expect(later.flat()).not.toContain('poll-a#1');
  expect(later.flat()).not.toContain('poll-b#1');
});

it('should give a record that keeps failing up after its retries, report it, and go on with the records after it', async () => {
  const drain = poller(async () => ({ batchItemFailures: [] }));
  await drain.pollOnce(); // what the tests before wrote
  await store.create(newTenant('poll-poison'), operator);
  await store.create(newTenant('poll-after'), operator);
  const handed: string[][] = [];
  const deadLetters: string[] = [];
  const stubborn = poller(
    async (records) => {
      handed.push(auditIds(records));
      const poison = records.find((record) => auditIds([record])[0] === 'poll-poison#1');
      return { batchItemFailures: poison ? [{ itemIdentifier: poison.dynamodb?.SequenceNumber as string }] : [] };
    },
    { retryAttempts: 2, onDeadLetter: (record) => deadLetters.push(...auditIds([record])) },
  );

  for (let pass = 0; pass < 4; pass += 1) await stubborn.pollOnce();

  // Three tries (the first and two retries), then given up; the record after it is handed over on the next pass.
  expect(handed).toEqual([['poll-poison#1', 'poll-after#1'], ['poll-poison#1', 'poll-after#1'], ['poll-poison#1', 'poll-after#1'], ['poll-after#1']]);
  expect(deadLetters).toEqual(['poll-poison#1']);
});

it('should stop polling on stop(), with the pass under way finished and no timer left', async () => {
  const handed: string[] = [];
  const running = poller(async (records) => {
    handed.push(...auditIds(records));
    return { batchItemFailures: [] };
  });
  running.start(10);
  await store.create(newTenant('poll-d'), operator);
  for (let tries = 0; tries < 200 && !handed.includes('poll-d#1'); tries += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(handed).toContain('poll-d#1');

  expect(running.active).toBe(true);
  await running.stop();
  expect(running.active).toBe(false);
  await store.create(newTenant('poll-e'), operator);
  await new Promise((resolve) => setTimeout(resolve, 200)); // twenty intervals

  expect(handed).not.toContain('poll-e#1');
  expect(running.active).toBe(false); // no timer left armed, no pass started since
});
