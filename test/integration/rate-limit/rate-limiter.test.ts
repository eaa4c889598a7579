/**
 * The per-caller rate limiter's algorithm (GCRA in conditional UpdateItems) against DynamoDB Local, on this file's
 * own table, at times set by the test (the limiter takes the clock's `now`): a burst is allowed and the next is
 * refused with the wait until a token is back, the bucket refills at the rate, concurrent requests never pass more
 * than the burst, and the item expires (TTL) once it says nothing.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { config } from '../../../functions/shared/config';
import { RATE_LIMIT_PK_PREFIX, RATE_LIMIT_SK, takeToken, type RateLimitDecision } from '../../../functions/shared/http/rate-limit';
import type { RateLimit } from '../../../functions/shared/http/rate-limit-policy';
import { countDynamoDbCalls } from '../../support/dynamodb-call-counter';
import { useTestTable } from '../../support/test-table';

const documents = useTestTable();
const client = new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, region: config.region });
const calls = countDynamoDbCalls(client);
afterAll(() => client.destroy());

const T0 = Date.parse('2026-11-30T12:00:00.000Z');
let seq = 0;

/** A fresh bucket with `limit`, and a function taking one token at T0 + `atMs`. */
function bucket(limit: RateLimit) {
  seq += 1;
  const pk = `${RATE_LIMIT_PK_PREFIX}test:${seq}`;
  return {
    pk,
    take: (atMs: number): Promise<RateLimitDecision> => takeToken({ client, tableName: config.tableName, now: () => new Date(T0 + atMs) }, { pk, limit }),
    item: async () => (await documents.send(new GetCommand({ TableName: config.tableName, Key: { pk, sk: RATE_LIMIT_SK }, ConsistentRead: true }))).Item,
  };
}

const ALLOWED = { allowed: true };

it('should allow a burst at once and refuse the next, saying when a token is back (whole seconds, rounded up)', async () => {
  // One request every 4 s, bursts of 3: after 3 at T0 the next token is back at T0 + 4 s.
  const b = bucket({ perSecond: 0.25, burst: 3 });
  for (let i = 0; i < 3; i += 1) expect(await b.take(0)).toEqual(ALLOWED);
  expect(await b.take(0)).toEqual({ allowed: false, retryAfterSeconds: 4 });
  expect(await b.take(1_700)).toEqual({ allowed: false, retryAfterSeconds: 3 }); // 2.3 s, rounded up
  expect(await b.take(3_999)).toEqual({ allowed: false, retryAfterSeconds: 1 });
});

it('should refill one token per interval, never more than the burst', async () => {
  const b = bucket({ perSecond: 0.25, burst: 3 });
  for (let i = 0; i < 3; i += 1) await b.take(0);
  // One interval later: one token, and only one.
  expect(await b.take(4_000)).toEqual(ALLOWED);
  expect(await b.take(4_000)).toEqual({ allowed: false, retryAfterSeconds: 4 });
  // Long idle: a full burst again, not more.
  const later = 3_600_000;
  for (let i = 0; i < 3; i += 1) expect(await b.take(later)).toEqual(ALLOWED);
  expect(await b.take(later)).toEqual({ allowed: false, retryAfterSeconds: 4 });
});

it('should let a steady caller at the rate through indefinitely', async () => {
  const b = bucket({ perSecond: 10, burst: 1 });
  for (let i = 0; i < 20; i += 1) expect(await b.take(i * 100)).toEqual(ALLOWED);
  expect(await b.take(19 * 100 + 50)).toEqual({ allowed: false, retryAfterSeconds: 1 });
});

it('should never let concurrent requests past the burst', async () => {
  const b = bucket({ perSecond: 1, burst: 5 });
  const decisions = await Promise.all(Array.from({ length: 25 }, () => b.take(0)));
  expect(decisions.filter((decision) => decision.allowed)).toHaveLength(5);
  expect(decisions.filter((decision) => !decision.allowed)).toEqual(Array.from({ length: 20 }, () => ({ allowed: false, retryAfterSeconds: 1 })));
});

it('should cost one UpdateItem for an idle caller or one over its limit, two within a burst, and nothing else', async () => {
  const b = bucket({ perSecond: 1, burst: 2 });
  calls.reset();
  await b.take(0);
  expect(calls.counts()).toEqual({ UpdateItem: 1 });
  calls.reset();
  await b.take(0);
  expect(calls.counts()).toEqual({ UpdateItem: 2 });
  calls.reset();
  expect((await b.take(0)).allowed).toBe(false);
  expect(calls.counts()).toEqual({ UpdateItem: 1 });
});

it('should keep one item per bucket holding tat (ms) and expiresAt (s) past the moment the bucket is full again', async () => {
  const b = bucket({ perSecond: 0.5, burst: 3 });
  await b.take(0);
  await b.take(0);
  // tat = T0 + 2 intervals of 2 s; full again at T0 + 6 s at the latest (the burst's 3 intervals from now).
  expect(await b.item()).toEqual({ pk: b.pk, sk: RATE_LIMIT_SK, tat: T0 + 4_000, expiresAt: (T0 + 6_000) / 1000 + 1 });
});
