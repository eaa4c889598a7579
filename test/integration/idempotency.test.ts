/**
 * The Idempotency-Key contract on Powertools' idempotency utility (functions/shared/http/idempotency.ts), on this
 * file's table: which parts of a request make it "the same request" (route, path, query, If-Match, body as parsed
 * JSON: key order does not matter), how long a key is remembered (24 h, the replay window Stripe documents for its
 * Idempotency-Key: https://docs.stripe.com/api/idempotent_requests; Powertools reads the wall clock, moved here
 * with a spy on Date.now), what a failure does (releases the key), a concurrent duplicate (409), whose keys they are
 * (per caller) and where records live (the partition of the tenant the request is about).
 * Each request goes through `answerOnce` as apiRoute calls it (error responses outermost), around a function that
 * counts its runs.
 */
import middy from '@middy/core';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Principal } from '../../functions/auth/jwt-claims';
import { idempotencySource } from '../../functions/data-sources/idempotency-source';
import { config } from '../../functions/shared/config';
import { ApiError } from '../../functions/shared/errors';
import { errorResponses } from '../../functions/shared/http/error-handler';
import { answerOnce, idempotencyKeyOf, requestIdentity } from '../../functions/shared/http/idempotency';
import { jsonResponse, type ApiResult } from '../../functions/shared/http/response';
import { idempotencyPartition } from '../../functions/shared/idempotency';
import { apiEvent, type ApiRequestFixture } from '../support/events';
import { useTestTable } from '../support/test-table';

const client = useTestTable();
const DAY_MS = 24 * 60 * 60 * 1000;
const OPERATOR: Principal = { subject: 'operator@test', role: 'operator' };
let runs = 0;

type Respond = () => Promise<ApiResult>;
const created: Respond = async () => jsonResponse(201, { run: (runs += 1) });

/** A POST route as apiRoute builds it: `respond` behind answerOnce, the principal as the authorizer described it. */
function route(routeId: string, respond: Respond = created) {
  return middy<APIGatewayProxyEventV2, ApiResult>()
    .use(errorResponses())
    .handler(async (event, context) => {
      const principal = principals.get(event) ?? OPERATOR;
      const key = idempotencyKeyOf(event.headers ?? {}, principal);
      if (!key) return respond();
      const body = event.body ? (JSON.parse(event.body) as unknown) : undefined;
      const tenantId = event.pathParameters?.tenantId;
      return answerOnce(
        { key, request: requestIdentity(routeId, event, { ...event.queryStringParameters } as Record<string, string>, body), tenantId, context, client, tableName: config.tableName, ttlSeconds: config.idempotencyTtlSeconds },
        respond,
      );
    });
}
const principals = new WeakMap<object, Principal>();
const suspend = route('SuspendTenant');
const resume = route('ResumeTenant');

let keys = 0;
function request(key: string, overrides: Partial<ApiRequestFixture> = {}): APIGatewayProxyEventV2 {
  const event = apiEvent({
    method: 'POST',
    route: '/tenants/{tenantId}/suspend',
    pathParameters: { tenantId: 'acme' },
    body: { reason: 'unpaid', notify: { email: true, sms: false } },
    headers: { 'idempotency-key': key },
    ...overrides,
  });
  principals.set(event, overrides.principal ?? OPERATOR);
  return event;
}

const CONTEXT = { getRemainingTimeInMillis: () => 10_000 } as Context;
async function send(handler: ReturnType<typeof route>, event: APIGatewayProxyEventV2) {
  const response = await handler(event, CONTEXT);
  return { status: response.statusCode, headers: response.headers, body: JSON.parse(response.body as string) as Record<string, unknown> & { error?: { code: string; message: string } } };
}

async function records(tenantId: string | undefined) {
  const { Items } = await client.send(new QueryCommand({ TableName: config.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': idempotencyPartition(tenantId) }, ConsistentRead: true }));
  return Items ?? [];
}

beforeEach(() => {
  keys += 1;
});
afterEach(() => {
  jest.restoreAllMocks();
});

describe('Idempotency-Key: the same request', () => {
  it('should replay the first response to a retry with the same key and request, without running again', async () => {
    const key = `same-${keys}`;
    const first = await send(suspend, request(key));
    const retry = await send(suspend, request(key));
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(retry).toEqual({ ...first, headers: { ...first.headers, 'idempotent-replayed': 'true' } });
    expect(runs).toBe(first.body.run);
  });

  it('should take the same JSON with its keys in another order (and other spacing) as the same request: a replay, not 422', async () => {
    const key = `order-${keys}`;
    const first = await send(suspend, request(key, { body: '{"reason":"unpaid","notify":{"email":true,"sms":false}}' }));
    const reordered = await send(suspend, request(key, { body: '{ "notify": { "sms": false, "email": true }, "reason": "unpaid" }' }));
    expect(reordered.status).toBe(201);
    expect(reordered.headers['idempotent-replayed']).toBe('true');
    expect(reordered.body).toEqual(first.body);
    expect(runs).toBe(first.body.run);
  });

  it('should take the query parameters in another order as the same request', async () => {
    const key = `query-order-${keys}`;
    const first = await send(suspend, request(key, { query: { a: '1', b: '2' } }));
    const reordered = await send(suspend, request(key, { query: { b: '2', a: '1' } }));
    expect(reordered.headers['idempotent-replayed']).toBe('true');
    expect(reordered.body).toEqual(first.body);
  });

  const differences: Array<[string, ReturnType<typeof route>, Partial<ApiRequestFixture>]> = [
    ['a different body', suspend, { body: { reason: 'fraud', notify: { email: true, sms: false } } }],
    ['a different nested value', suspend, { body: { reason: 'unpaid', notify: { email: true, sms: true } } }],
    ['a different route (same path)', resume, {}],
    ['a different path of the same tenant', suspend, { route: '/tenants/{tenantId}/plan' }],
    ['a different query', suspend, { query: { dryRun: 'true' } }],
    ['a different If-Match', suspend, { headers: { 'if-match': '"3"' } }],
  ];

  it.each(differences)('should refuse the key with 422 IDEMPOTENCY_KEY_REUSED for %s, running nothing', async (_, handler, overrides) => {
    const key = `reused-${keys}`;
    await send(suspend, request(key));
    const before = runs;

    const reused = await send(handler, request(key, { ...overrides, headers: { 'idempotency-key': key, ...overrides.headers } }));

    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', message: expect.stringContaining('use a new key') });
    expect(runs).toBe(before);
  });

  it('should refuse a malformed key with 400 INVALID_IDEMPOTENCY_KEY, running nothing', async () => {
    const before = runs;
    const refused = await send(suspend, request('has spaces'));
    expect(refused.status).toBe(400);
    expect(refused.body.error?.code).toBe('INVALID_IDEMPOTENCY_KEY');
    expect(runs).toBe(before);
  });
});

describe('Idempotency-Key: in progress, failures', () => {
  it('should answer 409 IDEMPOTENCY_IN_PROGRESS to a retry while the first request still runs, then replay its answer', async () => {
    const key = `running-${keys}`;
    let finish: () => void = () => undefined;
    const slow = route('SuspendTenant', () => new Promise((resolve) => (finish = () => resolve(jsonResponse(200, { slow: true })))));
    const first = send(slow, request(key));
    await new Promise((resolve) => setTimeout(resolve, 200));

    const during = await send(slow, request(key));
    finish();
    expect((await first).body).toEqual({ slow: true });
    const after = await send(slow, request(key));

    expect(during.status).toBe(409);
    expect(during.body.error).toMatchObject({ code: 'IDEMPOTENCY_IN_PROGRESS', message: expect.stringContaining('retry') });
    expect(after).toMatchObject({ status: 200, body: { slow: true }, headers: { 'idempotent-replayed': 'true' } });
  });

  it('should run exactly one of two concurrent requests with the same key; the other gets 409 or the replay', async () => {
    const key = `double-${keys}`;
    const before = runs;
    const answers = await Promise.all([send(suspend, request(key)), send(suspend, request(key))]);
    expect(runs).toBe(before + 1);
    const ran = answers.filter((answer) => answer.status === 201 && answer.headers['idempotent-replayed'] === undefined);
    expect(ran).toHaveLength(1);
    const other = answers.find((answer) => answer !== ran[0]);
    expect(other?.status === 409 ? other.body.error?.code : other?.headers['idempotent-replayed']).toMatch(/^(IDEMPOTENCY_IN_PROGRESS|true)$/);
  });

  it('should release the key of a request that threw, so a retry runs again', async () => {
    const key = `thrown-${keys}`;
    let fail = true;
    const flaky = route('SuspendTenant', async () => {
      if (fail) throw new ApiError(409, 'ILLEGAL_TRANSITION', 'not now');
      return created();
    });
    expect((await send(flaky, request(key))).status).toBe(409);
    fail = false;
    const retry = await send(flaky, request(key));
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
  });

  it('should release the key of a request answered with a 5xx, still answering it', async () => {
    const key = `unavailable-${keys}`;
    let status = 503;
    const flaky = route('SuspendTenant', async () => jsonResponse(status, { status }));
    expect(await send(flaky, request(key))).toMatchObject({ status: 503, body: { status: 503 } });
    status = 200;
    expect(await send(flaky, request(key))).toMatchObject({ status: 200, body: { status: 200 } });
  });
});

describe('Idempotency-Key: the 24-hour window (Powertools reads the wall clock)', () => {
  it('should be the configured window', () => {
    expect(config.idempotencyTtlSeconds).toBe(DAY_MS / 1000);
  });

  it('should still replay 24 h - 1 s after the first request', async () => {
    const key = `window-${keys}`;
    const t0 = Date.now();
    const first = await send(suspend, request(key));
    jest.spyOn(Date, 'now').mockReturnValue(t0 + DAY_MS - 1000);

    const retry = await send(suspend, request(key));

    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);
  });

  it('should take the key as new 24 h + 1 s after the first request, even for a different request', async () => {
    const key = `expired-${keys}`;
    const t0 = Date.now();
    const first = await send(suspend, request(key));
    jest.spyOn(Date, 'now').mockReturnValue(t0 + DAY_MS + 1000);

    const again = await send(suspend, request(key, { body: { reason: 'another' } }));

    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.run).toBe((first.body.run as number) + 1);
  });

  it("should store the record with the table's TTL attribute 24 h ahead", async () => {
    const key = `ttl-${keys}`;
    await send(suspend, request(key, { pathParameters: { tenantId: 'ttl-co' } }));
    const [record] = await records('ttl-co');
    expect(record?.expiresAt).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + DAY_MS / 1000 - 5);
    expect(record?.expiresAt).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + DAY_MS / 1000);
  });
});

describe('Idempotency-Key: whose keys', () => {
  it('should keep keys per caller: the same key and request from another operator runs again', async () => {
    const key = `caller-${keys}`;
    const first = await send(suspend, request(key));
    const other = await send(suspend, request(key, { principal: { subject: 'second-operator', role: 'operator' } }));
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(other.body.run).toBe((first.body.run as number) + 1);
  });

  it("should keep an operator's key per tenant: the same key on another tenant is that tenant's own key, in its own partition", async () => {
    const key = `tenant-scope-${keys}`;
    await send(suspend, request(key, { pathParameters: { tenantId: 'scope-a' } }));
    const other = await send(suspend, request(key, { pathParameters: { tenantId: 'scope-b' } }));
    expect(other.status).toBe(201);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(await records('scope-a')).toHaveLength(1);
    expect(await records('scope-b')).toHaveLength(1);
  });
});

describe("Idempotency records as the tenant's data", () => {
  it("should file every record about a tenant, an operator's or its own token's, in the tenant's partition, where its data source finds them and no look-alike's", async () => {
    const source = idempotencySource({ client, tableName: config.tableName });
    const tenant: Principal = { subject: 'app@acme-co', role: 'tenant', tenantId: 'acme-co' };
    await send(suspend, request(`tenant-${keys}`, { principal: tenant, pathParameters: { tenantId: 'acme-co' } }));
    await send(suspend, request(`operator-${keys}`, { pathParameters: { tenantId: 'acme-co' } }));
    await send(suspend, request(`lookalike-${keys}`, { pathParameters: { tenantId: 'acme-co-eu' } }));

    const exported = (await source.exportPage('acme-co', null, 100)).records;
    expect(exported).toHaveLength(2);
    expect(exported).toEqual([
      expect.objectContaining({ kind: 'request', status: 'COMPLETED', response: expect.objectContaining({ statusCode: 201 }), requestHash: expect.any(String), expiresAt: expect.any(Number) }),
      expect.objectContaining({ kind: 'request', status: 'COMPLETED' }),
    ]);
    expect(await source.count('acme-co-eu')).toBe(1);

    expect(await source.purge('acme-co')).toEqual({ deleted: 2 });
    expect(await source.verifyPurged('acme-co')).toEqual({ remaining: 0 });
    expect(await source.count('acme-co-eu')).toBe(1);
  });
});
