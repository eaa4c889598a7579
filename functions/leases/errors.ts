/**
 * Failures of query leases, shared by the store (server side) and the client (application plane), so both
 * sides throw and catch the same classes.
 */
import type { TenantState } from '../lifecycle/lifecycle-table';
import { registerHttpError } from '../shared/error-catalogue';
import { LEASE_RETRY_AFTER_SECONDS } from './lease-schemas';

/** Why a lease was refused: the tenant is in a workflow's read-only window, or it is soft-deleted or deleted. */
export type LeaseRefusalReason = 'read_only_window' | 'blocked';

/** Base class of the query lease failures. */
export class QueryLeaseError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'QueryLeaseError';
  }
}

export interface LeaseRefusalDetails {
  /** The tenant's state when it refused, when known. */
  readonly state?: TenantState;
  /** The workflow's reason for the read-only window (reason 'read_only_window'). */
  readonly readOnlyReason?: string;
  /** How long to wait before asking again; set by the client from the `retry-after` header. */
  readonly retryAfterSeconds?: number;
}

/** The tenant takes no new query leases right now. */
export class LeaseRefusedError extends QueryLeaseError {
  readonly tenantId: string;
  readonly reason: LeaseRefusalReason;
  readonly state?: TenantState;
  readonly readOnlyReason?: string;
  readonly retryAfterSeconds?: number;

  constructor(tenantId: string, reason: LeaseRefusalReason, details: LeaseRefusalDetails = {}, message?: string) {
    super(message ?? refusalMessage(tenantId, reason, details));
    this.name = 'LeaseRefusedError';
    this.tenantId = tenantId;
    this.reason = reason;
    if (details.state !== undefined) this.state = details.state;
    if (details.readOnlyReason !== undefined) this.readOnlyReason = details.readOnlyReason;
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
  }

  /** The stable code the API answers with: a read-only window is worth retrying soon, a blocked tenant is not. */
  get code(): 'TENANT_READ_ONLY' | 'TENANT_BLOCKED' {
    return this.reason === 'read_only_window' ? 'TENANT_READ_ONLY' : 'TENANT_BLOCKED';
  }
}

// A refusal in a read-only window is worth retrying soon (retry-after); a blocked tenant's is not.
registerHttpError(LeaseRefusedError, {
  status: 409,
  details: (error) => ({ reason: error.reason, state: error.state, ...(error.readOnlyReason === undefined ? {} : { readOnlyReason: error.readOnlyReason }) }),
  headers: (error): Record<string, string> => (error.reason === 'read_only_window' ? { 'retry-after': String(LEASE_RETRY_AFTER_SECONDS) } : {}),
});

/**
 * The tenant already holds as many live query leases as it may (MAX_LIVE_LEASES_PER_TENANT): one tenant's
 * callers cannot pile up leases that hold a plan change's drain past its timeout. Worth retrying once a lease
 * is released or expires: `retryAfterSeconds` is when the soonest live one expires.
 */
export class LeaseLimitError extends QueryLeaseError {
  readonly code = 'LEASE_LIMIT_REACHED';
  readonly tenantId: string;
  /** The cap: live leases one tenant may hold at once. */
  readonly limit: number;
  /** Whole seconds (at least 1) until the soonest of the tenant's live leases expires. */
  readonly retryAfterSeconds: number;

  constructor(tenantId: string, limit: number, retryAfterSeconds: number) {
    super(
      `Tenant '${tenantId}' already holds ${limit} live query leases, its limit: release a lease when its query ends (DELETE /tenants/${tenantId}/leases/{leaseId}), or retry in ${retryAfterSeconds} s, when the soonest one expires.`,
    );
    this.name = 'LeaseLimitError';
    this.tenantId = tenantId;
    this.limit = limit;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

// 429, as a rate limit: the caller is asking for more than it may hold at once, and may ask again later.
registerHttpError(LeaseLimitError, {
  status: 429,
  details: (error) => ({ limit: error.limit, retryAfterSeconds: error.retryAfterSeconds }),
  headers: (error): Record<string, string> => ({ 'retry-after': String(error.retryAfterSeconds) }),
});

function refusalMessage(tenantId: string, reason: LeaseRefusalReason, details: LeaseRefusalDetails): string {
  if (reason === 'read_only_window') {
    return `Tenant '${tenantId}' is in a read-only window (${details.readOnlyReason ?? 'no reason given'}): new query leases are refused until it ends; retry shortly.`;
  }
  return `Tenant '${tenantId}' is ${details.state ?? 'blocked'}: it takes no query leases.`;
}

/** The lease API answered with an error other than a refusal (client side): a stable code and the API's message. */
export class QueryLeaseApiError extends QueryLeaseError {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  /** From the answer's `retry-after` header, when it had one (429 LEASE_LIMIT_REACHED, a rate limit). */
  readonly retryAfterSeconds?: number;

  constructor(status: number, code: string, message: string, details?: unknown, options?: ErrorOptions & { readonly retryAfterSeconds?: number }) {
    super(message, options);
    this.name = 'QueryLeaseApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
