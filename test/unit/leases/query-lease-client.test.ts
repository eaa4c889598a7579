/** The application plane's client against a scripted fetch; against the local API in test/integration/leases. */
import { LeaseRefusedError, QueryLeaseApiError } from '../../../functions/leases/errors';
import { QueryLeaseClient, parseRetryAfter } from '../../../functions/leases/query-lease-client';
import type { QueryLease } from '../../../functions/leases/query-lease-store';

const LEASE: QueryLease = {
  tenantId: 'acme-corp',
  leaseId: '3f1e5a4c-2b7d-4c1e-9a0f-8d6b5e4c3a21',
  holder: 'q',
  acquiredAt: '2026-03-01T12:00:00.000Z',
  expiresAt: '2026-03-01T12:00:30.000Z',
};

interface Call {
  readonly url: string;
  readonly init: RequestInit | undefined;
}

/** A fetch that answers from a script, in order, and records what it was asked. */
function scriptedFetch(...responses: Response[]) {
  const calls: Call[] = [];
  const fetch = jest.fn(async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    const next = responses.shift();
    if (!next) throw new Error(`unexpected request ${init?.method} ${url}`);
    return next;
  });
  return { fetch, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const noContent = () => new Response(null, { status: 204 });

describe('Class: QueryLeaseClient', () => {
  describe('Method: acquire', () => {
    it('should POST the options with the bearer token and return the lease', async () => {
      const { fetch, calls } = scriptedFetch(json(201, LEASE));
      const client = new QueryLeaseClient({ baseUrl: 'https://api.example/', token: 'tlc.t', fetch });

      expect(await client.acquire('acme-corp', { holder: 'q', ttlSeconds: 60, idempotencyKey: 'k-1' })).toEqual(LEASE);
      expect(calls[0]?.url).toBe('https://api.example/tenants/acme-corp/leases');
      expect(calls[0]?.init).toMatchObject({
        method: 'POST',
        body: JSON.stringify({ holder: 'q', ttlSeconds: 60 }),
        headers: { authorization: 'Bearer tlc.t', 'content-type': 'application/json', 'idempotency-key': 'k-1' },
      });
    });

    it('should throw LeaseRefusedError with the window reason and retry-after on 409 TENANT_READ_ONLY', async () => {
      const body = { error: { code: 'TENANT_READ_ONLY', message: 'read-only window', details: { reason: 'read_only_window', state: 'upgrading', readOnlyReason: 'Migrating' } } };
      const { fetch } = scriptedFetch(json(409, body, { 'retry-after': '5' }));

      const refused = await new QueryLeaseClient({ baseUrl: 'https://api.example', token: 't', fetch }).acquire('acme-corp').catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(LeaseRefusedError);
      expect(refused).toMatchObject({ tenantId: 'acme-corp', reason: 'read_only_window', state: 'upgrading', readOnlyReason: 'Migrating', retryAfterSeconds: 5, message: 'read-only window' });
    });

    it('should throw LeaseRefusedError (blocked) on 409 TENANT_BLOCKED, and QueryLeaseApiError on another 409', async () => {
      const { fetch } = scriptedFetch(
        json(409, { error: { code: 'TENANT_BLOCKED', message: 'deleted', details: { reason: 'blocked', state: 'deleted' } } }),
        json(409, { error: { code: 'IDEMPOTENCY_IN_PROGRESS', message: 'still running' } }),
      );
      const client = new QueryLeaseClient({ baseUrl: 'https://api.example', token: 't', fetch });

      await expect(client.acquire('acme-corp')).rejects.toMatchObject({ name: 'LeaseRefusedError', reason: 'blocked', state: 'deleted' });
      await expect(client.acquire('acme-corp')).rejects.toMatchObject({ name: 'QueryLeaseApiError', status: 409, code: 'IDEMPOTENCY_IN_PROGRESS' });
    });

    it("should describe API Gateway's own answers and non-JSON bodies by their status", async () => {
      const { fetch } = scriptedFetch(json(429, { message: 'Too Many Requests' }), new Response('<html>bad gateway</html>', { status: 502 }));
      const client = new QueryLeaseClient({ baseUrl: 'https://api.example', token: 't', fetch });

      await expect(client.acquire('acme-corp')).rejects.toMatchObject({ status: 429, code: 'HTTP_429', message: 'Too Many Requests' });
      const error = await client.acquire('acme-corp').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueryLeaseApiError);
      expect(error).toMatchObject({ status: 502, code: 'HTTP_502' });
    });
  });

  describe('Method: release', () => {
    it('should DELETE the lease and accept 204', async () => {
      const { fetch, calls } = scriptedFetch(noContent());

      await new QueryLeaseClient({ baseUrl: 'https://api.example', token: 't', fetch }).release('acme-corp', LEASE.leaseId);

      expect(calls[0]).toMatchObject({ url: `https://api.example/tenants/acme-corp/leases/${LEASE.leaseId}`, init: { method: 'DELETE' } });
    });
  });

  describe('Method: withLease', () => {
    it('should acquire, run fn with the lease, release, and return what fn returned', async () => {
      const { fetch, calls } = scriptedFetch(json(201, LEASE), noContent());

      const result = await new QueryLeaseClient({ baseUrl: 'https://api.example', token: 't', fetch }).withLease('acme-corp', async (lease) => lease.leaseId);

      expect(result).toBe(LEASE.leaseId);
      expect(calls.map((call) => call.init?.method)).toEqual(['POST', 'DELETE']);
    });

    it('should release when fn throws, and rethrow what fn threw', async () => {
      const { fetch, calls } = scriptedFetch(json(201, LEASE), noContent());
      const failure = new Error('query failed');

      await expect(
        new QueryLeaseClient({ baseUrl: 'https://api.example', token: 't', fetch }).withLease('acme-corp', async () => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(calls.map((call) => call.init?.method)).toEqual(['POST', 'DELETE']);
    });

    it("should not let a failed release hide fn's result, and report it to onReleaseError", async () => {
      const { fetch } = scriptedFetch(json(201, LEASE), json(500, { error: { code: 'INTERNAL_ERROR', message: 'oops' } }));
      const onReleaseError = jest.fn();

      const result = await new QueryLeaseClient({ baseUrl: 'https://api.example', token: 't', fetch }).withLease('acme-corp', async () => 'rows', { onReleaseError });

      expect(result).toBe('rows');
      expect(onReleaseError).toHaveBeenCalledWith(expect.objectContaining({ status: 500, code: 'INTERNAL_ERROR' }), LEASE);
    });

    it('should not run fn when the lease is refused', async () => {
      const { fetch } = scriptedFetch(json(409, { error: { code: 'TENANT_READ_ONLY', message: 'window', details: { reason: 'read_only_window' } } }));
      const fn = jest.fn(async () => 'never');

      await expect(new QueryLeaseClient({ baseUrl: 'https://api.example', token: 't', fetch }).withLease('acme-corp', fn)).rejects.toBeInstanceOf(LeaseRefusedError);
      expect(fn).not.toHaveBeenCalled();
    });
  });
});

describe('Function: parseRetryAfter', () => {
  it('should read delta-seconds and HTTP dates, and nothing else', () => {
    const now = new Date('2026-03-01T12:00:00.000Z');
    expect(parseRetryAfter('5', now)).toBe(5);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:10 GMT', now)).toBe(10);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
