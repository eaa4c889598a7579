import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { pageQuerySchema, tenantPathSchema } from '../tenant-schemas';
import { tenantStore } from '../tenant-service';

/** GET /tenants/{tenantId}/history: the audit trail, newest first, paginated. */
export const handler = apiRoute(
  { routeId: 'TenantHistory', params: tenantPathSchema, query: pageQuerySchema },
  async ({ params, query }) => {
    await tenantStore().get(params.tenantId); // 404 for an unknown tenant rather than an empty trail
    const page = await tenantStore().history(params.tenantId, { limit: query.limit, cursor: query.cursor });
    return jsonResponse(200, { items: page.items, nextCursor: page.nextCursor ?? null });
  },
);
