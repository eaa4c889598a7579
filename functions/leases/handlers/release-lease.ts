import { apiRoute } from '../../shared/http/api-handler';
import type { ApiResult } from '../../shared/http/response';
import { logger } from '../../shared/powertools';
import { leasePathSchema } from '../lease-schemas';
import { queryLeaseStore } from '../query-lease-store';

/** A response without a body (204): `jsonResponse` always writes one, and a content type with it. */
export function emptyResponse(statusCode: number): ApiResult {
  return { statusCode, headers: { 'cache-control': 'no-store' } };
}

/**
 * DELETE /tenants/{tenantId}/leases/{leaseId}: release a query lease. Idempotent: an unknown, expired or
 * already released lease answers 204 too, so a caller may always retry its release.
 */
export const handler = apiRoute(
  { routeId: 'ReleaseQueryLease', params: leasePathSchema },
  async ({ params }) => {
    const wasLive = await queryLeaseStore().release(params.tenantId, params.leaseId);
    logger.debug('Query lease released', { leaseId: params.leaseId, wasLive });
    return emptyResponse(204);
  },
);
