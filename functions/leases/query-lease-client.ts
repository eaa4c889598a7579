/**
 * The application plane's client for query leases: take a lease before a tenant query, release it after, so
 * a plan change never migrates a tenant under a running query. It talks to the control plane's HTTPS API with
 * the tenant-scoped token; it has no dependency on the AWS SDK.
 */
import { LeaseRefusedError, QueryLeaseApiError, type LeaseRefusalReason } from './errors';
import type { QueryLease } from './query-lease-store';

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface QueryLeaseClientOptions {
  /** The API's address, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com`. */
  readonly baseUrl: string;
  /** A bearer token: the tenant-scoped token of the tenant the queries are for (or an operator token). */
  readonly token: string;
  /** Injected for tests and custom transports; defaults to the global fetch. */
  readonly fetch?: Fetch;
}

export interface LeaseRequestOptions {
  /** Who holds the lease (a request id, a worker); defaults to the token subject on the server. */
  readonly holder?: string;
  /** Seconds until the lease expires on its own, 1 to 300; the server defaults to 30. Cover the query's longest run. */
  readonly ttlSeconds?: number;
  /** Sent as Idempotency-Key, to make a retried acquire return the first lease. */
  readonly idempotencyKey?: string;
}

export interface WithLeaseOptions extends LeaseRequestOptions {
  /**
   * Told when the release after `fn` fails. Such a failure never fails the call: the lease expires on its own
   * within its ttl. Defaults to ignoring it.
   */
  readonly onReleaseError?: (error: unknown, lease: QueryLease) => void;
}

interface ErrorBody {
  readonly error?: { readonly code?: string; readonly message?: string; readonly details?: { readonly state?: string; readonly readOnlyReason?: string } };
  /** API Gateway's own answers (throttling, a refused authorizer) carry only a message. */
  readonly message?: string;
}

const REFUSAL_CODES: Readonly<Record<string, LeaseRefusalReason>> = { TENANT_READ_ONLY: 'read_only_window', TENANT_BLOCKED: 'blocked' };

/** Seconds from a `retry-after` header (delta-seconds or an HTTP date); undefined when absent or unreadable. */
// eslint-disable-next-line no-restricted-syntax -- the application plane's client, on its own wall clock
export function parseRetryAfter(value: string | null, now: Date = new Date()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

export class QueryLeaseClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #fetch: Fetch;

  constructor(options: QueryLeaseClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /**
   * Take a query lease; throws LeaseRefusedError during a read-only window or for a blocked tenant, and
   * QueryLeaseApiError for any other refusal: 429 `LEASE_LIMIT_REACHED` when the tenant holds as many live leases
   * as it may (`retryAfterSeconds`: when the soonest expires).
   */
  async acquire(tenantId: string, options: LeaseRequestOptions = {}): Promise<QueryLease> {
    const body: Record<string, unknown> = {};
    if (options.holder !== undefined) body.holder = options.holder;
    if (options.ttlSeconds !== undefined) body.ttlSeconds = options.ttlSeconds;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    const response = await this.#send('POST', `/tenants/${encodeURIComponent(tenantId)}/leases`, headers, JSON.stringify(body));
    if (response.status !== 201) throw await this.#errorOf(response, tenantId);
    return (await response.json()) as QueryLease;
  }

  /** Release a lease; releasing an unknown, expired or released lease succeeds too. */
  async release(tenantId: string, leaseId: string): Promise<void> {
    const response = await this.#send('DELETE', `/tenants/${encodeURIComponent(tenantId)}/leases/${encodeURIComponent(leaseId)}`, {});
    if (!response.ok) throw await this.#errorOf(response, tenantId);
    await response.arrayBuffer(); // drain, so the connection can be reused
  }

  /** Run `fn` under a query lease, and release it afterwards whether `fn` returns or throws. */
  async withLease<T>(tenantId: string, fn: (lease: QueryLease) => Promise<T>, options: WithLeaseOptions = {}): Promise<T> {
    const lease = await this.acquire(tenantId, options);
    try {
      return await fn(lease);
    } finally {
      // A failed release must not hide fn's result or its error: the lease expires on its own.
      await this.release(tenantId, lease.leaseId).catch((error: unknown) => options.onReleaseError?.(error, lease));
    }
  }

  #send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Response> {
    return this.#fetch(`${this.#baseUrl}${path}`, { method, headers: { ...headers, authorization: `Bearer ${this.#token}` }, body });
  }

  async #errorOf(response: Response, tenantId: string): Promise<Error> {
    const text = await response.text();
    let parsed: ErrorBody = {};
    try {
      parsed = text ? (JSON.parse(text) as ErrorBody) : {};
    } catch {
      // not JSON: a proxy or gateway page; described by its status below
    }
    const code = parsed.error?.code ?? `HTTP_${response.status}`;
    const message = parsed.error?.message ?? parsed.message ?? `The lease API answered ${response.status}.`;
    const refusal = response.status === 409 ? REFUSAL_CODES[code] : undefined;
    if (refusal) {
      const details = parsed.error?.details ?? {};
      return new LeaseRefusedError(
        tenantId,
        refusal,
        {
          ...(details.state === undefined ? {} : { state: details.state as LeaseRefusedError['state'] }),
          ...(details.readOnlyReason === undefined ? {} : { readOnlyReason: details.readOnlyReason }),
          ...(refusal === 'read_only_window' ? { retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')) } : {}),
        },
        message,
      );
    }
    return new QueryLeaseApiError(response.status, code, message, parsed.error?.details, { retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')) });
  }
}
