/**
 * Bad input: every client mistake gets the right 4xx with the error shape `{ error: { code, message } }`,
 * and the table is byte-for-byte what it was before.
 */
import { LocalIssuer } from '../../infra/local/local-issuer';
import { ApiHarness, type RequestOptions } from '../support/api-harness';

/** The harness issuer's clock runs this far from the wall clock (to mint a token that has already expired). */
let clockOffsetMs = 0;
const api = new ApiHarness({ issuer: { now: () => new Date(Date.now() + clockOffsetMs) } });
let snapshot: Record<string, unknown>[];

beforeAll(async () => {
  await api.start();
  await api.createTenant('acme-corp');
  await api.createTenant('other-co');
  await api.request('POST', '/tenants/other-co/suspend', { headers: { 'idempotency-key': 'seed-key' } });
  // Keys are the caller's and the tenant's: the reuse below is on acme-corp, seeded by a request that changes nothing.
  await api.request('POST', '/tenants/acme-corp/plan', { headers: { 'idempotency-key': 'seed-key' }, body: { plan: 'professional', dryRun: true } });
  snapshot = await api.tableSnapshot();
});
afterAll(() => api.stop());

const valid = { name: 'New Co', email: 'admin@new.example', plan: 'starter' };
const operatorWithWrongKey = LocalIssuer.inMemory().mint({ subject: 'mallory', role: 'operator' });
clockOffsetMs = -3_600_000;
const expired = api.issuer.mint({ subject: 'old', role: 'operator' }, { ttlSeconds: 60 });
clockOffsetMs = 0;

interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly options?: RequestOptions;
  readonly status: number;
  readonly code: string;
  /** A field the error details must name, for validation errors. */
  readonly field?: string;
}

const CASES: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: '/tenants', options: { rawBody: '{"name": "x",', headers: { 'content-type': 'application/json' } }, status: 400, code: 'MALFORMED_JSON' },
  { name: 'JSON that is not an object', method: 'POST', path: '/tenants', options: { body: ['a'] }, status: 400, code: 'VALIDATION_FAILED' },
  { name: 'wrong type for name', method: 'POST', path: '/tenants', options: { body: { ...valid, name: 42 } }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
  { name: 'wrong type inside usage', method: 'POST', path: '/tenants', options: { body: { ...valid, usage: { users: 'ten' } } }, status: 400, code: 'VALIDATION_FAILED', field: 'usage.users' },
  { name: 'negative usage', method: 'POST', path: '/tenants', options: { body: { ...valid, usage: { users: -1 } } }, status: 400, code: 'VALIDATION_FAILED', field: 'usage.users' },
  { name: 'missing email', method: 'POST', path: '/tenants', options: { body: { name: 'x' } }, status: 400, code: 'VALIDATION_FAILED', field: 'email' },
  { name: 'invalid email', method: 'POST', path: '/tenants', options: { body: { ...valid, email: 'not-an-email' } }, status: 400, code: 'VALIDATION_FAILED', field: 'email' },
  { name: 'unknown plan', method: 'POST', path: '/tenants', options: { body: { ...valid, plan: 'platinum' } }, status: 400, code: 'VALIDATION_FAILED', field: 'plan' },
  { name: 'unknown field', method: 'POST', path: '/tenants', options: { body: { ...valid, colour: 'red' } }, status: 400, code: 'VALIDATION_FAILED', field: 'colour' },
  { name: 'unknown nested field', method: 'POST', path: '/tenants', options: { body: { ...valid, usage: { seats: 3 } } }, status: 400, code: 'VALIDATION_FAILED', field: 'usage.seats' },
  { name: 'tenant id with capitals', method: 'POST', path: '/tenants', options: { body: { ...valid, tenantId: 'Acme_Corp' } }, status: 400, code: 'VALIDATION_FAILED', field: 'tenantId' },
  { name: 'taken tenant id', method: 'POST', path: '/tenants', options: { body: { ...valid, tenantId: 'acme-corp' } }, status: 409, code: 'TENANT_EXISTS' },
  { name: 'oversize body', method: 'POST', path: '/tenants', options: { body: { ...valid, name: 'x'.repeat(100 * 1024) } }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
  // Past API Gateway's own 10 MB payload quota the request never reaches a function.
  { name: 'body over the gateway limit', method: 'POST', path: '/tenants', options: { rawBody: 'x'.repeat(10 * 1024 * 1024 + 1), headers: { 'content-type': 'application/json' } }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
  { name: 'oversize body on a transition', method: 'POST', path: '/tenants/acme-corp/suspend', options: { body: { reason: 'y'.repeat(70 * 1024) } }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
  { name: 'form-encoded body', method: 'POST', path: '/tenants', options: { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'unknown field on suspend', method: 'POST', path: '/tenants/acme-corp/suspend', options: { body: { reason: 'x', force: true } }, status: 400, code: 'VALIDATION_FAILED', field: 'force' },
  { name: 'reason of the wrong type', method: 'POST', path: '/tenants/acme-corp/suspend', options: { body: { reason: 7 } }, status: 400, code: 'VALIDATION_FAILED', field: 'reason' },
  { name: 'malformed If-Match', method: 'POST', path: '/tenants/acme-corp/suspend', options: { headers: { 'if-match': 'latest' } }, status: 400, code: 'INVALID_IF_MATCH' },
  { name: 'idempotency key with spaces', method: 'POST', path: '/tenants/acme-corp/suspend', options: { headers: { 'idempotency-key': 'has spaces' } }, status: 400, code: 'INVALID_IDEMPOTENCY_KEY' },
  { name: 'idempotency key reused for another request', method: 'POST', path: '/tenants/acme-corp/suspend', options: { headers: { 'idempotency-key': 'seed-key' } }, status: 422, code: 'IDEMPOTENCY_KEY_REUSED' },
  { name: 'illegal transition', method: 'POST', path: '/tenants/acme-corp/resume', status: 409, code: 'ILLEGAL_TRANSITION' },
  { name: 'stale If-Match', method: 'POST', path: '/tenants/acme-corp/suspend', options: { headers: { 'if-match': '"7"' } }, status: 409, code: 'VERSION_CONFLICT' },
  { name: 'unknown tenant', method: 'GET', path: '/tenants/no-such-tenant', status: 404, code: 'TENANT_NOT_FOUND' },
  { name: 'transition on an unknown tenant', method: 'POST', path: '/tenants/no-such-tenant/suspend', status: 404, code: 'TENANT_NOT_FOUND' },
  { name: 'malformed tenant id in the path', method: 'GET', path: '/tenants/ACME!', status: 400, code: 'VALIDATION_FAILED', field: 'tenantId' },
  { name: 'unknown state filter', method: 'GET', path: '/tenants?state=zombie', status: 400, code: 'VALIDATION_FAILED', field: 'state' },
  { name: 'limit of zero', method: 'GET', path: '/tenants?limit=0', status: 400, code: 'VALIDATION_FAILED', field: 'limit' },
  { name: 'limit that is not a number', method: 'GET', path: '/tenants?limit=ten', status: 400, code: 'VALIDATION_FAILED', field: 'limit' },
  { name: 'unknown query parameter', method: 'GET', path: '/tenants?sort=name', status: 400, code: 'VALIDATION_FAILED', field: 'sort' },
  // API Gateway joins a repeated query parameter with commas: 'active,suspended' is not a state.
  { name: 'repeated state filter', method: 'GET', path: '/tenants?state=active&state=suspended', status: 400, code: 'VALIDATION_FAILED', field: 'state' },
  { name: 'forged cursor', method: 'GET', path: '/tenants?cursor=bm90LWEtY3Vyc29y', status: 400, code: 'INVALID_CURSOR' },
  { name: 'history cursor from nowhere', method: 'GET', path: '/tenants/acme-corp/history?cursor=e30', status: 400, code: 'INVALID_CURSOR' },
  { name: 'unknown route', method: 'GET', path: '/tenant', status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'unknown nested route', method: 'POST', path: '/tenants/acme-corp/teleport', status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'wrong method', method: 'DELETE', path: '/tenants/acme-corp', status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'missing token', method: 'POST', path: '/tenants/acme-corp/suspend', options: { token: null }, status: 401, code: 'TOKEN_MISSING' },
  { name: 'missing token on a read', method: 'GET', path: '/tenants', options: { token: null }, status: 401, code: 'TOKEN_MISSING' },
  { name: 'missing token on an unknown route', method: 'GET', path: '/admin', options: { token: null }, status: 401, code: 'TOKEN_MISSING' },
  { name: 'token signed with another key', method: 'POST', path: '/tenants/acme-corp/suspend', options: { token: operatorWithWrongKey }, status: 401, code: 'TOKEN_INVALID' },
  { name: 'garbage token', method: 'GET', path: '/tenants/acme-corp', options: { token: 'hunter2' }, status: 401, code: 'TOKEN_INVALID' },
  { name: 'expired token', method: 'GET', path: '/tenants/acme-corp', options: { token: expired }, status: 401, code: 'TOKEN_EXPIRED' },
  { name: "a tenant token on an operator route (scope)", method: 'POST', path: '/tenants/acme-corp/suspend', options: { token: api.tenantToken('acme-corp') }, status: 403, code: 'INSUFFICIENT_SCOPE' },
  { name: 'a prototype key as a query parameter', method: 'GET', path: '/tenants?__proto__=1', status: 400, code: 'VALIDATION_FAILED', field: '__proto__' },
  { name: 'a prototype key as a query parameter of a POST', method: 'POST', path: '/tenants/acme-corp/suspend?__proto__=1', status: 400, code: 'VALIDATION_FAILED', field: '__proto__' },
  { name: 'a repeated query parameter', method: 'GET', path: '/tenants?state=active&state=suspended', status: 400, code: 'VALIDATION_FAILED', field: 'state' },
  { name: 'storage past its bound (was a 500)', method: 'PUT', path: '/tenants/acme-corp/usage', options: { rawBody: '{"usage":{"queriesPerMonth":1,"storageGb":1e308,"documents":1,"users":1}}', headers: { 'content-type': 'application/json' } }, status: 400, code: 'VALIDATION_FAILED', field: 'usage.storageGb' },
  { name: 'a count past 2^53', method: 'PUT', path: '/tenants/acme-corp/usage', options: { rawBody: '{"usage":{"queriesPerMonth":9007199254740993,"storageGb":1,"documents":1,"users":1}}', headers: { 'content-type': 'application/json' } }, status: 400, code: 'VALIDATION_FAILED', field: 'usage.queriesPerMonth' },
  { name: 'a taken tenant id with a huge usage', method: 'POST', path: '/tenants', options: { rawBody: '{"tenantId":"acme-corp","name":"x","email":"a@b.example","usage":{"storageGb":1e308}}', headers: { 'content-type': 'application/json' } }, status: 400, code: 'VALIDATION_FAILED', field: 'usage.storageGb' },
  { name: 'a NUL in a name', method: 'POST', path: '/tenants', options: { body: { ...valid, name: 'New\u0000Co' } }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
  { name: 'a BEL in a reason', method: 'POST', path: '/tenants/acme-corp/suspend', options: { body: { reason: 'late\u0007' } }, status: 400, code: 'VALIDATION_FAILED', field: 'reason' },
  { name: 'a body that is not UTF-8', method: 'POST', path: '/tenants', options: { rawBody: Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: { 'content-type': 'application/json' } }, status: 400, code: 'MALFORMED_UTF8' },
  { name: 'non-bearer scheme', method: 'GET', path: '/tenants/acme-corp', options: { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }, status: 401, code: 'TOKEN_MISSING' },
];

describe('HTTPS API: bad input', () => {
  it.each(CASES)('should answer $name with $status $code and change nothing', async ({ method, path, options, status, code, field }) => {
    const response = await api.request<{ error?: { code?: string; message?: string; details?: Array<{ field?: string }> } }>(method, path, options);

    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body.error?.code).toBe(code);
    expect(typeof response.body.error?.message).toBe('string');
    expect((response.body.error?.message ?? '').length).toBeGreaterThan(10);
    if (field) expect((response.body.error?.details ?? []).map((d) => d.field)).toContain(field);
    expect(await api.tableSnapshot()).toEqual(snapshot);
  });

  it('should name every invalid field at once', async () => {
    const response = await api.request<{ error: { details: Array<{ field: string; message: string }> } }>('POST', '/tenants', {
      body: { name: '', email: 'nope', plan: 'gold', extra: 1 },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.details.map((d) => d.field).sort()).toEqual(['email', 'extra', 'name', 'plan']);
  });

  it('should answer a wrong method with an Allow header', async () => {
    const response = await api.request('PUT', '/tenants/acme-corp/suspend');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});
