/**
 * The Idempotency-Key contract, on this file's table with the store's injected clock: which parts of a request
 * make it "the same request" (route, path, query, If-Match, body), and how long a key is remembered (24 h, the
 * replay window Stripe documents for its Idempotency-Key: https://docs.stripe.com/api/idempotent_requests).
 * The middleware runs as the routes run it (error responses outermost), around a function that counts its runs.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { config } from '../../functions/shared/config';
import { errorResponses } from '../../functions/shared/http/error-handler';
import { IdempotencyStore, idempotency } from '../../functions/shared/http/idempotency';
import { jsonResponse, type ApiResult } from '../../functions/shared/http/response';
import { apiEvent, type ApiRequestFixture } from '../support/events';
import { useTestTable } from '../support/test-table';

const client = useTestTable();
const DAY_SECONDS = 24 * 60 * 60;
const T0 = new Date('2026-11-01T12:00:00.000Z');
let now = T0;
const store = new IdempotencyStore({ client, tableName: config.tableName, ttlSeconds: config.idempotencyTtlSeconds, now: () => now });
let runs = 0;

/** A POST route as apiRoute builds it, with this file's store; its response says which run answered. */
function route(routeId: string) {
  return middy<APIGatewayProxyEventV2, ApiResult>()
    .use(errorResponses())
    .use(idempotency({ routeId, store: () => store }))
    .handler(async () => jsonResponse(201, { run: (runs += 1) }));
}
const suspend = route('SuspendTenant');
const resume = route('ResumeTenant');

let keys = 0;
function request(key: string, overrides: Partial<ApiRequestFixture> = {}): APIGatewayProxyEventV2 {
  return apiEvent({
    method: 'POST',
    route: '/tenants/{tenantId}/suspend',
    pathParameters: { tenantId: 'acme' },
    body: { reason: 'unpaid' },
    headers: { 'idempotency-key': key },
    ...overrides,
  });
}

async function send(handler: ReturnType<typeof route>, event: APIGatewayProxyEventV2) {
  const response = await handler(event, {} as Context);
  return { status: response.statusCode, headers: response.headers, body: JSON.parse(response.body as string) as Record<string, unknown> & { error?: { code: string; message: string } } };
}

beforeEach(() => {
  now = T0;
  keys += 1;
});

describe('Idempotency-Key: the same request', () => {
  it('should replay the first response to a retry with the same key and request, without running again', async () => {
    const key = `same-${keys}`;
    const first = await send(suspend, request(key));
    const retry = await send(suspend, request(key));
    expect(retry).toEqual({ ...first, headers: { ...first.headers, 'idempotent-replayed': 'true' } });
    expect(runs).toBe(first.body.run);
  });

  const differences: Array<[string, ReturnType<typeof route>, Partial<ApiRequestFixture>]> = [
    ['a different body', suspend, { body: { reason: 'fraud' } }],
    ['a different route (same path)', resume, {}],
    ['a different path', suspend, { pathParameters: { tenantId: 'globex' } }],
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
});

describe('Idempotency-Key: the 24-hour window', () => {
  it('should be the configured window', () => {
    expect(config.idempotencyTtlSeconds).toBe(DAY_SECONDS);
  });

  it('should still replay 24 h - 1 s after the first request', async () => {
    const key = `window-${keys}`;
    const first = await send(suspend, request(key));
    now = new Date(T0.getTime() + (DAY_SECONDS - 1) * 1000);

    const retry = await send(suspend, request(key));

    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);
  });

  it('should take the key as new 24 h + 1 s after the first request, even for a different request', async () => {
    const key = `expired-${keys}`;
    const first = await send(suspend, request(key));
    now = new Date(T0.getTime() + (DAY_SECONDS + 1) * 1000);

    const again = await send(suspend, request(key, { body: { reason: 'another' } }));

    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.run).toBe((first.body.run as number) + 1);
  });
});

describe('Idempotency records as the tenant\'s data', () => {
  it("should file a tenant token's record under its tenant (its export and hard delete find it) and an operator's under none", async () => {
    const { idempotencySource } = await import('../../functions/data-sources/idempotency-source');
    const source = idempotencySource({ client, tableName: config.tableName });
    const before = await source.count('acme');

    await send(suspend, request(`tenant-${keys}`, { principal: { subject: 'app@acme', role: 'tenant', tenantId: 'acme' } }));
    await send(suspend, request(`operator-${keys}`));

    const records = (await source.exportPage('acme', null, 100)).records;
    expect(records).toHaveLength(before + 1);
    expect(records).toContainEqual(expect.objectContaining({ key: `tenant:acme:app@acme#tenant-${keys}`, status: 'COMPLETED' }));
    expect(records.some((record) => String(record.key).startsWith('operator:'))).toBe(false);
  });
});
