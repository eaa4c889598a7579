/**
 * Query leases against DynamoDB Local: the store directly, the two routes through the local API adapter with
 * tenant-scoped tokens, the race against a read-only window, and the application plane's client.
 */
import { TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LeaseRefusedError, QueryLeaseApiError } from '../../../functions/leases/errors';
import { QueryLeaseClient } from '../../../functions/leases/query-lease-client';
import { QueryLeaseStore, type QueryLease } from '../../../functions/leases/query-lease-store';
import { config } from '../../../functions/shared/config';
import { TenantNotFoundError } from '../../../functions/tenants/errors';
import { tenantPk } from '../../../functions/tenants/tenant-table';
import { ApiHarness } from '../../support/api-harness';

const api = new ApiHarness();
const leases = (now?: () => Date) => new QueryLeaseStore({ client: api.documentClient, tableName: config.tableName, ...(now ? { now } : {}) });
const operator = { actor: 'operator@test', reason: 'test' };

beforeAll(() => api.start());
afterAll(() => api.stop());

type ErrorBody = { error?: { code: string; message: string; details?: Record<string, unknown> } };

/**
 * Start a read-only window the way the plan-change workflow does: one conditional update of the tenant item.
 * A transaction in flight on the item makes DynamoDB refuse the update (TransactionConflictException, which the
 * SDK does not retry), so it is retried here, as the workflow must.
 */
async function startReadOnlyWindow(tenantId: string, reason: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await api.documentClient.send(
        new UpdateCommand({
          TableName: config.tableName,
          Key: { pk: tenantPk(tenantId), sk: 'TENANT' },
          UpdateExpression: 'SET readOnlyReason = :reason',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(readOnlyReason)',
          ExpressionAttributeValues: { ':reason': reason },
        }),
      );
      return;
    } catch (error) {
      if (!(error instanceof TransactionConflictException) || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
    }
  }
}

/** Every lease item of the tenant, live or not: to prove a refused acquire wrote nothing. */
async function leaseItems(tenantId: string): Promise<Record<string, unknown>[]> {
  const { Items } = await api.documentClient.send(
    new QueryCommand({
      TableName: config.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :lease)',
      ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':lease': 'LEASE#' },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

async function moveToDeleting(tenantId: string): Promise<void> {
  await api.store.applyTransition(await api.store.get(tenantId), 'initiate_deletion', operator);
}

const idsOf = (list: readonly QueryLease[]) => list.map((lease) => lease.leaseId).sort();

describe('Class: QueryLeaseStore', () => {
  describe('Method: acquire', () => {
    it('should write a lease that is live until it is released', async () => {
      await api.createTenant('store-live');
      const store = leases();

      const lease = await store.acquire('store-live', { holder: 'worker-1', ttlSeconds: 60 });

      expect(lease).toEqual({ tenantId: 'store-live', leaseId: expect.any(String), holder: 'worker-1', acquiredAt: expect.any(String), expiresAt: expect.any(String) });
      expect(Date.parse(lease.expiresAt) - Date.parse(lease.acquiredAt)).toBe(60_000);
      expect(await store.liveLeases('store-live')).toEqual([lease]);
      expect(await store.release('store-live', lease.leaseId)).toBe(true);
      expect(await store.liveLeases('store-live')).toEqual([]);
    });

    it('should default to a 30 second lease and keep the TTL attribute in epoch seconds, after the lease ends', async () => {
      await api.createTenant('store-ttl');
      const lease = await leases().acquire('store-ttl', { holder: 'h' });

      const [item] = await leaseItems('store-ttl');
      expect(Date.parse(lease.expiresAt) - Date.parse(lease.acquiredAt)).toBe(30_000);
      expect(item).toMatchObject({ sk: `LEASE#${lease.leaseId}`, leaseExpiresAt: Date.parse(lease.expiresAt) });
      expect(item?.expiresAt).toBeGreaterThanOrEqual(Math.ceil(Date.parse(lease.expiresAt) / 1000));
      expect(item?.expiresAt).toBeLessThan(Date.parse(lease.expiresAt) / 1000 + 3600);
      expect(item).not.toHaveProperty('state'); // stays out of the byState index
    });

    it('should throw TenantNotFoundError for an unknown tenant and write nothing', async () => {
      await expect(leases().acquire('store-nobody', { holder: 'h' })).rejects.toBeInstanceOf(TenantNotFoundError);
      expect(await leaseItems('store-nobody')).toEqual([]);
    });

    it('should refuse during a read-only window, naming its reason, and write nothing', async () => {
      await api.createTenant('store-ro');
      await startReadOnlyWindow('store-ro', 'Migrating to professional');

      const refused = await leases().acquire('store-ro', { holder: 'h' }).catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(LeaseRefusedError);
      expect(refused).toMatchObject({ reason: 'read_only_window', readOnlyReason: 'Migrating to professional', state: 'active' });
      expect(await leaseItems('store-ro')).toEqual([]);
    });

    it('should refuse a soft-deleted tenant as blocked', async () => {
      await api.createTenant('store-deleting');
      await moveToDeleting('store-deleting');

      await expect(leases().acquire('store-deleting', { holder: 'h' })).rejects.toMatchObject({ name: 'LeaseRefusedError', reason: 'blocked', state: 'deleting' });
      expect(await leaseItems('store-deleting')).toEqual([]);
    });

    it.each([0, 301, 1.5])('should refuse ttlSeconds %p and write nothing', async (ttlSeconds) => {
      await api.createTenant(`store-bounds-${String(ttlSeconds).replace('.', '-')}`);
      await expect(leases().acquire(`store-bounds-${String(ttlSeconds).replace('.', '-')}`, { holder: 'h', ttlSeconds })).rejects.toBeInstanceOf(RangeError);
      expect(await leaseItems(`store-bounds-${String(ttlSeconds).replace('.', '-')}`)).toEqual([]);
    });

    it('should never let a lease slip in behind the read-only marker (5 rounds of 40 acquires racing the marker)', async () => {
      for (let round = 0; round < 5; round += 1) {
        const tenantId = `store-race-${round}`;
        await api.createTenant(tenantId);
        const store = leases();
        const attempt = (i: number, sentAfterMarker: boolean) =>
          store.acquire(tenantId, { holder: `q-${i}`, ttlSeconds: 300 }).then(
            (lease) => ({ i, sentAfterMarker, lease, error: undefined }),
            (error: unknown) => ({ i, sentAfterMarker, lease: undefined, error }),
          );

        const before = Array.from({ length: 20 }, (_, i) => attempt(i, false));
        const marker = startReadOnlyWindow(tenantId, 'Migrating');
        const during = Array.from({ length: 20 }, (_, i) => attempt(20 + i, false));
        await marker;
        const after = Array.from({ length: 5 }, (_, i) => attempt(40 + i, true));
        const outcomes = await Promise.all([...before, ...during, ...after]);

        const acquired = outcomes.flatMap((outcome) => (outcome.lease ? [outcome.lease] : []));
        expect(outcomes.filter((outcome) => outcome.error && !(outcome.error instanceof LeaseRefusedError))).toEqual([]);
        expect(outcomes.filter((outcome) => outcome.sentAfterMarker && outcome.lease)).toEqual([]);
        expect(idsOf(await store.liveLeases(tenantId))).toEqual(idsOf(acquired));
        expect(await leaseItems(tenantId)).toHaveLength(acquired.length);
      }
    });
  });

  describe('Method: release', () => {
    it('should be idempotent: true for a live lease, then false, and false for a lease that never existed', async () => {
      await api.createTenant('store-release');
      const store = leases();
      const lease = await store.acquire('store-release', { holder: 'h' });

      expect(await store.release('store-release', lease.leaseId)).toBe(true);
      expect(await store.release('store-release', lease.leaseId)).toBe(false);
      expect(await store.release('store-release', '00000000-0000-4000-8000-000000000000')).toBe(false);
      expect(await leaseItems('store-release')).toEqual([]);
    });

    it('should answer false for a lease that had already expired', async () => {
      await api.createTenant('store-release-late');
      let now = new Date();
      const store = leases(() => now);
      const lease = await store.acquire('store-release-late', { holder: 'h', ttlSeconds: 5 });

      now = new Date(now.getTime() + 5_000);

      expect(await store.release('store-release-late', lease.leaseId)).toBe(false);
    });
  });

  describe('Method: liveLeases', () => {
    it('should stop counting a lease once it expires (injected clock), without waiting for TTL', async () => {
      await api.createTenant('store-expiry');
      let now = new Date();
      const store = leases(() => now);
      const short = await store.acquire('store-expiry', { holder: 'short', ttlSeconds: 10 });
      const long = await store.acquire('store-expiry', { holder: 'long', ttlSeconds: 60 });

      now = new Date(now.getTime() + 9_999);
      expect(idsOf(await store.liveLeases('store-expiry'))).toEqual(idsOf([short, long]));
      now = new Date(now.getTime() + 1);
      expect(await store.liveLeases('store-expiry')).toEqual([long]);
      expect(await leaseItems('store-expiry')).toHaveLength(2); // the expired item is still there, and ignored
    });

    it('should read every page of a tenant with many leases and no other tenant', async () => {
      await api.createTenant('store-many');
      await api.createTenant('store-many-other');
      const store = leases();
      const holder = 'x'.repeat(200);
      const taken = await Promise.all(Array.from({ length: 30 }, () => store.acquire('store-many', { holder })));
      await store.acquire('store-many-other', { holder: 'h' });

      expect(idsOf(await store.liveLeases('store-many'))).toEqual(idsOf(taken));
    });
  });
});

describe('Route: POST /tenants/{tenantId}/leases and DELETE /tenants/{tenantId}/leases/{leaseId}', () => {
  it("should let a tenant token take and release its own tenant's lease: 201 with the lease, then 204 with no body", async () => {
    await api.createTenant('route-own');
    const token = api.tenantToken('route-own');

    const acquired = await api.request<QueryLease>('POST', '/tenants/route-own/leases', { token, body: { holder: 'query-7', ttlSeconds: 120 } });

    expect(acquired.status).toBe(201);
    expect(acquired.body).toEqual({ tenantId: 'route-own', leaseId: expect.any(String), holder: 'query-7', acquiredAt: expect.any(String), expiresAt: expect.any(String) });
    expect(idsOf(await leases().liveLeases('route-own'))).toEqual([acquired.body.leaseId]);

    const released = await api.request('DELETE', `/tenants/route-own/leases/${acquired.body.leaseId}`, { token });
    expect(released.status).toBe(204);
    expect(released.text).toBe('');
    expect(released.headers.get('content-type')).toBeNull();
    expect(await leases().liveLeases('route-own')).toEqual([]);

    const again = await api.request('DELETE', `/tenants/route-own/leases/${acquired.body.leaseId}`, { token });
    expect(again.status).toBe(204);
  });

  it('should default the holder to the token subject and the ttl to 30 seconds', async () => {
    await api.createTenant('route-defaults');
    const acquired = await api.request<QueryLease>('POST', '/tenants/route-defaults/leases', { token: api.tenantToken('route-defaults') });

    expect(acquired.status).toBe(201);
    expect(acquired.body.holder).toBe('user@route-defaults');
    expect(Date.parse(acquired.body.expiresAt) - Date.parse(acquired.body.acquiredAt)).toBe(30_000);
  });

  it("should refuse a tenant token another tenant's leases with 403 and write nothing", async () => {
    await api.createTenant('route-mine');
    await api.createTenant('route-theirs');
    const theirs = await api.request<QueryLease>('POST', '/tenants/route-theirs/leases', { token: api.tenantToken('route-theirs') });
    const token = api.tenantToken('route-mine');

    const acquire = await api.request<ErrorBody>('POST', '/tenants/route-theirs/leases', { token, body: {} });
    const release = await api.request<ErrorBody>('DELETE', `/tenants/route-theirs/leases/${theirs.body.leaseId}`, { token });

    expect([acquire.status, acquire.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    expect([release.status, release.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    expect(idsOf(await leases().liveLeases('route-theirs'))).toEqual([theirs.body.leaseId]);
  });

  it('should let a lease taken with ttlSeconds 1 stop counting after it expires', async () => {
    await api.createTenant('route-expiry');
    const acquired = await api.request<QueryLease>('POST', '/tenants/route-expiry/leases', { token: api.tenantToken('route-expiry'), body: { ttlSeconds: 1 } });
    expect(idsOf(await leases().liveLeases('route-expiry'))).toEqual([acquired.body.leaseId]);

    await new Promise((resolve) => setTimeout(resolve, 1_200));

    expect(await leases().liveLeases('route-expiry')).toEqual([]);
  });

  it('should answer 409 TENANT_READ_ONLY with the reason and a retry-after header during a read-only window, writing nothing', async () => {
    await api.createTenant('route-ro');
    await startReadOnlyWindow('route-ro', 'Plan change to professional: migrating storage');

    const refused = await api.request<ErrorBody>('POST', '/tenants/route-ro/leases', { token: api.tenantToken('route-ro'), body: { holder: 'q' } });

    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: 'TENANT_READ_ONLY',
      details: { reason: 'read_only_window', state: 'active', readOnlyReason: 'Plan change to professional: migrating storage' },
    });
    expect(refused.body.error?.message).toContain('Plan change to professional: migrating storage');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await leaseItems('route-ro')).toEqual([]);
  });

  it('should answer 409 TENANT_BLOCKED for a soft-deleted tenant, without a retry-after header', async () => {
    await api.createTenant('route-deleting');
    await moveToDeleting('route-deleting');

    const refused = await api.request<ErrorBody>('POST', '/tenants/route-deleting/leases', { token: api.tenantToken('route-deleting') });

    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'TENANT_BLOCKED', details: { reason: 'blocked', state: 'deleting' } });
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(await leaseItems('route-deleting')).toEqual([]);
  });

  it('should answer 404 TENANT_NOT_FOUND for an unknown tenant', async () => {
    const response = await api.request<ErrorBody>('POST', '/tenants/route-nobody/leases', { token: api.tenantToken('route-nobody') });
    expect([response.status, response.body.error?.code]).toEqual([404, 'TENANT_NOT_FOUND']);
  });

  it('should refuse bad input with 400 VALIDATION_FAILED naming the field', async () => {
    await api.createTenant('route-bad');
    const token = api.tenantToken('route-bad');
    const bodies: Array<[unknown, string]> = [
      [{ ttlSeconds: 0 }, 'ttlSeconds'],
      [{ ttlSeconds: 301 }, 'ttlSeconds'],
      [{ ttlSeconds: 1.5 }, 'ttlSeconds'],
      [{ ttlSeconds: '30' }, 'ttlSeconds'],
      [{ holder: 'x'.repeat(201) }, 'holder'],
      [{ holder: '  ' }, 'holder'],
      [{ lease: 'me' }, 'lease'],
    ];
    for (const [body, field] of bodies) {
      const response = await api.request<ErrorBody>('POST', '/tenants/route-bad/leases', { token, body });
      expect([JSON.stringify(body), response.status, response.body.error?.code, response.body.error?.details]).toEqual([
        JSON.stringify(body), 400, 'VALIDATION_FAILED', expect.arrayContaining([expect.objectContaining({ in: 'body', field })]),
      ]);
    }
    const badId = await api.request<ErrorBody>('DELETE', '/tenants/route-bad/leases/not-a-lease-id', { token });
    expect([badId.status, badId.body.error?.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(await leaseItems('route-bad')).toEqual([]);
  });

  it('should return the first lease to a retry with the same Idempotency-Key and take only one', async () => {
    await api.createTenant('route-idem');
    const options = { token: api.tenantToken('route-idem'), body: { holder: 'q' }, headers: { 'idempotency-key': 'lease-route-idem-1' } };

    const first = await api.request<QueryLease>('POST', '/tenants/route-idem/leases', options);
    const retry = await api.request<QueryLease>('POST', '/tenants/route-idem/leases', options);

    expect(retry.text).toBe(first.text);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await leaseItems('route-idem')).toHaveLength(1);
  });

  it('should, with 40 acquires racing the read-only marker, answer only 201 or 409, refuse every acquire sent after the marker, and show every granted lease in liveLeases', async () => {
    await api.createTenant('route-race');
    const token = api.tenantToken('route-race');
    let markerSet = false;
    let marker: Promise<void> | undefined;
    const acquire = async (i: number) => {
      const startedAfterMarker = markerSet;
      const response = await api.request<QueryLease & ErrorBody>('POST', '/tenants/route-race/leases', { token, body: { holder: `q-${i}`, ttlSeconds: 300 } });
      // The first grant starts the window, so grants and the marker are in flight together.
      if (response.status === 201 && !marker) marker = startReadOnlyWindow('route-race', 'Migrating').then(() => {
          markerSet = true;
        });
      return { i, startedAfterMarker, response };
    };

    const first = await Promise.all(Array.from({ length: 30 }, (_, i) => acquire(i)));
    await marker;
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => acquire(30 + i)));
    const outcomes = [...first, ...after];

    const granted = outcomes.filter(({ response }) => response.status === 201).map(({ response }) => response.body as QueryLease);
    expect(outcomes.filter(({ response }) => !(response.status === 201 || (response.status === 409 && response.body.error?.code === 'TENANT_READ_ONLY')))).toEqual([]);
    expect(granted.length).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter(({ startedAfterMarker, response }) => startedAfterMarker && response.status !== 409)).toEqual([]);
    expect(idsOf(await leases().liveLeases('route-race'))).toEqual(idsOf(granted));
    expect(await leaseItems('route-race')).toHaveLength(granted.length);
  });
});

describe('Class: QueryLeaseClient', () => {
  const clientFor = (tenantId: string) => new QueryLeaseClient({ baseUrl: api.url, token: api.tenantToken(tenantId) });

  describe('Method: withLease', () => {
    it('should hold a live lease while fn runs and release it afterwards', async () => {
      await api.createTenant('client-ok');
      let liveInside: QueryLease[] = [];

      const result = await clientFor('client-ok').withLease(
        'client-ok',
        async (lease) => {
          liveInside = await leases().liveLeases('client-ok');
          return `ran under ${lease.leaseId}`;
        },
        { holder: 'report-query' },
      );

      expect(liveInside).toEqual([expect.objectContaining({ holder: 'report-query' })]);
      expect(result).toBe(`ran under ${liveInside[0]?.leaseId}`);
      expect(await leases().liveLeases('client-ok')).toEqual([]);
    });

    it('should release the lease when fn throws, and rethrow what fn threw', async () => {
      await api.createTenant('client-throw');
      const failure = new Error('query failed');
      let liveInside = 0;

      const outcome = clientFor('client-throw').withLease('client-throw', async () => {
        liveInside = (await leases().liveLeases('client-throw')).length;
        throw failure;
      });

      await expect(outcome).rejects.toBe(failure);
      expect(liveInside).toBe(1);
      expect(await leases().liveLeases('client-throw')).toEqual([]);
    });

    it('should not run fn during a read-only window, and throw LeaseRefusedError with the reason and retry-after', async () => {
      await api.createTenant('client-ro');
      await startReadOnlyWindow('client-ro', 'Migrating');
      const fn = jest.fn(async () => 'never');

      const refused = await clientFor('client-ro').withLease('client-ro', fn).catch((error: unknown) => error);

      expect(fn).not.toHaveBeenCalled();
      expect(refused).toBeInstanceOf(LeaseRefusedError);
      expect(refused).toMatchObject({ reason: 'read_only_window', readOnlyReason: 'Migrating', state: 'active', retryAfterSeconds: expect.any(Number) });
    });
  });

  describe('Method: acquire', () => {
    it('should throw LeaseRefusedError (blocked) for a soft-deleted tenant and QueryLeaseApiError for other refusals', async () => {
      await api.createTenant('client-blocked');
      await moveToDeleting('client-blocked');

      await expect(clientFor('client-blocked').acquire('client-blocked')).rejects.toMatchObject({ name: 'LeaseRefusedError', reason: 'blocked', state: 'deleting' });
      const forbidden = await clientFor('client-other').acquire('client-blocked').catch((error: unknown) => error);
      expect(forbidden).toBeInstanceOf(QueryLeaseApiError);
      expect(forbidden).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    });
  });
});
