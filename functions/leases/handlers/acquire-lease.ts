import { apiRoute, type RouteHandler } from '../../shared/http/api-handler';
import { jsonResponse, type ApiResult } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { LEASE_RETRY_AFTER_SECONDS, acquireLeaseBodySchema } from '../lease-schemas';
import { queryLeaseStore } from '../query-lease-store';

const acquireQueryLease = apiRoute(
  { routeId: 'AcquireQueryLease', access: 'operator-or-own-tenant', params: tenantPathSchema, body: acquireLeaseBodySchema, idempotent: true },
  async ({ params, body, principal }) => {
    const lease = await queryLeaseStore().acquire(params.tenantId, { holder: body.holder ?? principal.subject, ttlSeconds: body.ttlSeconds });
    return jsonResponse(201, lease);
  },
);

/**
 * Add `retry-after` to a TENANT_READ_ONLY refusal. The shared error responses carry no per-error headers, so
 * the header is added here, to the response they built; the window's end is unknown, so the hint is fixed.
 */
export function withRetryAfter(result: ApiResult): ApiResult {
  if (result.statusCode !== 409 || !result.body) return result;
  let code: unknown;
  try {
    code = (JSON.parse(result.body) as { error?: { code?: unknown } }).error?.code;
  } catch {
    return result;
  }
  return code === 'TENANT_READ_ONLY' ? { ...result, headers: { ...result.headers, 'retry-after': String(LEASE_RETRY_AFTER_SECONDS) } } : result;
}

/** POST /tenants/{tenantId}/leases: take a query lease (the application plane, with its tenant token, per request). */
export const handler: RouteHandler = async (event, context) => withRetryAfter(await acquireQueryLease(event, context));
