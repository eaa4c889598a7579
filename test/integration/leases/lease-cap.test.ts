/**
 * The cap on a tenant's live query leases (issue 13): a tenant token could take leases without bound and hold a
 * plan change's drain past its timeout. Against DynamoDB Local: the store under concurrency, release and expiry
 * freeing a slot, and the route's 429 with its Retry-After.
 */
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LeaseLimitError } from '../../../functions/leases/errors';
import { QueryLeaseApiError } from '../../../functions/leases/errors';
import { QueryLeaseClient } from '../../../functions/leases/query-lease-client';
import { QueryLeaseStore, type QueryLease } from '../../../functions/leases/query-lease-store';
import { config } from '../../../functions/shared/config';
import { tenantPk } from '../../../functions/tenants/tenant-table';
import { ApiHarness } from '../../support/api-harness';

const api = new ApiHarness();
const store = (maxLiveLeases: number, now?: () => Date) =>
  new QueryLeaseStore({ client: api.documentClient, tableName: config.tableName, maxLiveLeases, ...(now ? { now } : {}) });

type ErrorBody = { error?: { code: string; message: string; details?: Record<string, unknown> } };

const saved = process.env.MAX_LIVE_LEASES_PER_TENANT;
beforeAll(async () => {
  // The route's cap, as a deployment sets it (read on use by the route's store).
  process.env.MAX_LIVE_LEASES_PER_TENANT = '2';
  await api.start();
});
afterAll(async () => {
  if (saved === undefined) delete process.env.MAX_LIVE_LEASES_PER_TENANT;
  else process.env.MAX_LIVE_LEASES_PER_TENANT = saved;
  await api.stop();
});

/** Every item of the tenant's partition whose sort key starts with `prefix`, live or not. */
async function itemsUnder(tenantId: string, prefix: string): Promise<Record<string, unknown>[]> {
  const { Items } = await api.documentClient.send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':prefix': prefix },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

const idsOf = (list: readonly QueryLease[]) => list.map((lease) => lease.leaseId).sort();

describe('Lease cap: QueryLeaseStore', () => {
  it('should grant exactly 5 of 20 acquires sent at once against a cap of 5, refusing the rest with the limit and when to retry', async () => {
    await api.createTenant('cap-race');
    const leases = store(5);

    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        leases.acquire('cap-race', { holder: `q-${i}`, ttlSeconds: 60 }).then(
          (lease) => ({ lease }),
          (error: unknown) => ({ error, refusedBy: Date.now() }),
        ),
      ),
    );

    const granted = outcomes.flatMap((outcome) => ('lease' in outcome ? [outcome.lease] : []));
    const refused = outcomes.flatMap((outcome) => ('error' in outcome ? [outcome] : []));
    expect(granted).toHaveLength(5);
    expect(refused).toHaveLength(15);
    const soonest = Math.min(...granted.map((lease) => Date.parse(lease.expiresAt)));
    for (const { error, refusedBy } of refused) {
      expect(error).toBeInstanceOf(LeaseLimitError);
      expect(error).toMatchObject({ tenantId: 'cap-race', limit: 5, code: 'LEASE_LIMIT_REACHED' });
      // The seconds from the refusal to the soonest expiry, rounded up: at least what was left when it arrived.
      expect((error as LeaseLimitError).retryAfterSeconds).toBeGreaterThanOrEqual(Math.floor((soonest - refusedBy) / 1000));
      expect((error as LeaseLimitError).retryAfterSeconds).toBeLessThanOrEqual(60);
    }
    expect(idsOf(await leases.liveLeases('cap-race'))).toEqual(idsOf(granted));
    expect(await itemsUnder('cap-race', 'LEASE#')).toHaveLength(5); // a refused acquire writes nothing
  });

  it('should hold the cap through 4 rounds of 12 racing acquires while leases are released between rounds', async () => {
    await api.createTenant('cap-churn');
    const leases = store(3);
    let held: QueryLease[] = [];
    for (let round = 0; round < 4; round += 1) {
      const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => leases.acquire('cap-churn', { holder: `r${round}-${i}` }).catch(() => undefined)));
      const granted = outcomes.filter((lease): lease is QueryLease => lease !== undefined);
      expect(granted).toHaveLength(3 - held.length);
      held = [...held, ...granted];
      expect(await leases.liveLeases('cap-churn')).toHaveLength(3);
      // Release two of the three: the next round may take exactly two.
      for (const lease of held.slice(0, 2)) expect(await leases.release('cap-churn', lease.leaseId)).toBe(true);
      held = held.slice(2);
    }
  });

  it('should free a slot when a lease is released, and a released lease’s second release should free nothing', async () => {
    await api.createTenant('cap-release');
    const leases = store(2);
    const first = await leases.acquire('cap-release', { holder: 'a' });
    await leases.acquire('cap-release', { holder: 'b' });
    await expect(leases.acquire('cap-release', { holder: 'c' })).rejects.toBeInstanceOf(LeaseLimitError);

    expect(await leases.release('cap-release', first.leaseId)).toBe(true);
    const third = await leases.acquire('cap-release', { holder: 'c' });
    expect(await leases.release('cap-release', first.leaseId)).toBe(false);

    // The slot the first lease held is the third's now: releasing the first again must not free it.
    await expect(leases.acquire('cap-release', { holder: 'd' })).rejects.toBeInstanceOf(LeaseLimitError);
    expect((await leases.liveLeases('cap-release')).map((lease) => lease.holder).sort()).toEqual(['b', 'c']);
    expect(third.holder).toBe('c');
  });

  it('should refuse a full tenant in a read-only window as read-only (worth retrying soon), not as full', async () => {
    await api.createTenant('cap-read-only');
    const leases = store(1);
    await leases.acquire('cap-read-only', { holder: 'a', ttlSeconds: 300 });
    await api.documentClient.send(
      new UpdateCommand({ TableName: config.tableName, Key: { pk: tenantPk('cap-read-only'), sk: 'TENANT' }, UpdateExpression: 'SET readOnlyReason = :reason', ExpressionAttributeValues: { ':reason': 'Migrating' } }),
    );

    await expect(leases.acquire('cap-read-only', { holder: 'b' })).rejects.toMatchObject({ name: 'LeaseRefusedError', reason: 'read_only_window', readOnlyReason: 'Migrating' });
  });

  it('should free the slot of an expired lease without waiting for TTL, and say to retry when the soonest live lease expires', async () => {
    await api.createTenant('cap-expiry');
    let now = new Date();
    const leases = store(2, () => now);
    await leases.acquire('cap-expiry', { holder: 'short', ttlSeconds: 10 });
    await leases.acquire('cap-expiry', { holder: 'long', ttlSeconds: 120 });

    now = new Date(now.getTime() + 4_500);
    const refused = await leases.acquire('cap-expiry', { holder: 'next' }).catch((error: unknown) => error);
    now = new Date(now.getTime() + 5_500);
    const after = await leases.acquire('cap-expiry', { holder: 'next' });

    expect(refused).toBeInstanceOf(LeaseLimitError);
    expect((refused as LeaseLimitError).retryAfterSeconds).toBe(6); // 5.5 s left on the short lease, rounded up
    expect((refused as LeaseLimitError).message).toBe(
      "Tenant 'cap-expiry' already holds 2 live query leases, its limit: release a lease when its query ends (DELETE /tenants/cap-expiry/leases/{leaseId}), or retry in 6 s, when the soonest one expires.",
    );
    expect(after.holder).toBe('next');
    expect((await leases.liveLeases('cap-expiry')).map((lease) => lease.holder).sort()).toEqual(['long', 'next']);
  });
});

describe('Lease cap: POST /tenants/{tenantId}/leases', () => {
  it('should answer 429 LEASE_LIMIT_REACHED with Retry-After past the configured cap, writing nothing, and leave other tenants alone', async () => {
    await api.createTenant('cap-route');
    await api.createTenant('cap-route-other');
    const token = api.tenantToken('cap-route');
    const take = () => api.request<QueryLease & ErrorBody>('POST', '/tenants/cap-route/leases', { token, body: { holder: 'greedy', ttlSeconds: 300 } });
    const first = await take();
    await take();
    const before = await api.tableSnapshot();

    const over = await take();

    expect(first.status).toBe(201);
    expect(over.status).toBe(429);
    expect(over.body.error?.code).toBe('LEASE_LIMIT_REACHED');
    expect(over.body.error?.message).toContain('already holds 2 live query leases, its limit');
    expect(over.body.error?.details).toEqual({ limit: 2, retryAfterSeconds: Number(over.headers.get('retry-after')) });
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(299);
    expect(Number(over.headers.get('retry-after'))).toBeLessThanOrEqual(300);
    expect(await api.tableSnapshot()).toEqual(before);
    expect((await api.request('POST', '/tenants/cap-route-other/leases', { token: api.tenantToken('cap-route-other'), body: {} })).status).toBe(201);

    expect((await api.request('DELETE', `/tenants/cap-route/leases/${first.body.leaseId}`, { token })).status).toBe(204);
    expect((await take()).status).toBe(201);
  });

  it('should give the application plane’s client the code and the seconds to wait', async () => {
    await api.createTenant('cap-client');
    const client = new QueryLeaseClient({ baseUrl: api.url, token: api.tenantToken('cap-client') });
    await client.acquire('cap-client', { ttlSeconds: 90 });
    await client.acquire('cap-client', { ttlSeconds: 90 });

    const error = await client.acquire('cap-client').catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(QueryLeaseApiError);
    expect(error).toMatchObject({ status: 429, code: 'LEASE_LIMIT_REACHED' });
    expect((error as QueryLeaseApiError).retryAfterSeconds).toBeGreaterThanOrEqual(89);
  });
});
