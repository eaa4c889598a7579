import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { acquireLeaseBodySchema } from '../lease-schemas';
import { queryLeaseStore } from '../query-lease-store';

/** POST /tenants/{tenantId}/leases: take a query lease (the application plane, with its tenant token, per request). */
export const handler = apiRoute(
  { routeId: 'AcquireQueryLease', params: tenantPathSchema, body: acquireLeaseBodySchema, idempotent: true },
  async ({ params, body, principal }) => {
    const lease = await queryLeaseStore().acquire(params.tenantId, { holder: body.holder ?? principal.subject, ttlSeconds: body.ttlSeconds });
    return jsonResponse(201, lease);
  },
);
