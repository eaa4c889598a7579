/**
 * The per-caller rate limit over HTTP (issue 13: "one tenant's token can exhaust /access and /leases for every
 * tenant"): tenant A's tokens hammering its access check get 429 RATE_LIMITED with Retry-After, while tenant B's
 * token and an operator are still served; a limited POST changes nothing and holds no Idempotency-Key; the
 * bucket refills at the rate. The clock is held still by the test (the limiter reads functions/shared/clock.ts),
 * so the counts do not depend on how fast this machine is.
 */
import { installLocalClock } from '../../../infra/local/local-clock';
import { RATE_LIMIT_VARIABLES } from '../../../functions/shared/http/rate-limit-policy';
import { ApiHarness } from '../../support/api-harness';

// One request every 5 s, bursts of 4, per tenant; operators 10 at once. Read on use by the handlers.
process.env[RATE_LIMIT_VARIABLES.tenant.perSecond] = '0.2';
process.env[RATE_LIMIT_VARIABLES.tenant.burst] = '4';
process.env[RATE_LIMIT_VARIABLES.operator.perSecond] = '1';
process.env[RATE_LIMIT_VARIABLES.operator.burst] = '10';

const api = new ApiHarness();
let nowMs = Date.parse('2026-11-30T12:00:00.000Z');
let uninstallClock: () => void;
const tokenA = api.tenantToken('tenant-a');
const workerA = api.issuer.mint({ subject: 'worker@tenant-a', role: 'tenant', tenantId: 'tenant-a' });
const tokenB = api.tenantToken('tenant-b');

beforeAll(async () => {
  uninstallClock = installLocalClock({ now: () => new Date(nowMs) });
  await api.start();
  await api.createTenant('tenant-a');
  await api.createTenant('tenant-b');
});
afterAll(async () => {
  await api.stop();
  uninstallClock();
});

const access = (tenantId: string, token: string) => api.request('GET', `/tenants/${tenantId}/access`, { token });

it("should refuse tenant A's callers past its burst with 429 and Retry-After, and still serve tenant B and an operator", async () => {
  for (let i = 0; i < 4; i += 1) expect((await access('tenant-a', i % 2 ? workerA : tokenA)).status).toBe(200);

  const refused = await access('tenant-a', tokenA);
  expect(refused.status).toBe(429);
  expect(refused.headers.get('retry-after')).toBe('5');
  expect(refused.body).toEqual({
    error: { code: 'RATE_LIMITED', message: expect.stringMatching(/0\.2 per second, in bursts of up to 4\. Retry after 5 s/) },
  });
  // Another token of the same tenant shares the tenant's bucket: a second client is not a second allowance.
  expect((await access('tenant-a', workerA)).status).toBe(429);

  // A's token on B's path draws from A's bucket (the caller's), never from B's: A cannot spend B's allowance.
  expect((await access('tenant-b', tokenA)).status).toBe(429);
  expect((await access('tenant-b', tokenB)).status).toBe(200);
  expect((await api.request('GET', '/tenants/tenant-a/access')).status).toBe(200);
  expect((await api.request('GET', '/tenants/tenant-b')).status).toBe(200);
});

it('should change nothing on a limited POST, and keep its Idempotency-Key free for the retry after Retry-After', async () => {
  const lease = { token: tokenA, headers: { 'idempotency-key': 'lease-after-429' }, body: { holder: 'worker-1', ttlSeconds: 60 } };
  // The buckets included: a limited request does not even move its caller's bucket.
  const before = await api.tableSnapshot({ withRateLimitBuckets: true });
  const refused = await api.request('POST', '/tenants/tenant-a/leases', lease);
  expect(refused).toMatchObject({ status: 429, body: { error: { code: 'RATE_LIMITED' } } });
  expect(await api.tableSnapshot({ withRateLimitBuckets: true })).toEqual(before);

  nowMs += Number(refused.headers.get('retry-after')) * 1000;
  const taken = await api.request('POST', '/tenants/tenant-a/leases', lease);
  expect(taken.status).toBe(201);
  expect(taken.headers.get('idempotent-replayed')).toBeNull();
  // One token came back in those 5 s, and it was spent.
  expect((await access('tenant-a', tokenA)).status).toBe(429);
});

it('should limit an operator too, each operator on its own bucket', async () => {
  const other = api.issuer.mint({ subject: 'second-operator@test', role: 'operator' });
  nowMs += 60_000;
  const statuses: number[] = [];
  for (let i = 0; i < 11; i += 1) statuses.push((await api.request('GET', '/tenants/tenant-b')).status);
  expect(statuses).toEqual([...Array.from({ length: 10 }, () => 200), 429]);
  expect((await api.request('GET', '/tenants/tenant-b', { token: other })).status).toBe(200);
  expect((await access('tenant-b', tokenB)).status).toBe(200);
});
