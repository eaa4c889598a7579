import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { pageQuerySchema, tenantPathSchema } from '../tenant-schemas';
import { tenantStore } from '../tenant-service';
import { visibleTo } from '../tenant-view';

/** GET /tenants/{tenantId}/history: the audit trail, newest first, paginated (a tenant-scoped caller: each entry's tenant-facing view). */
export const handler = apiRoute(
  { routeId: 'TenantHistory', params: tenantPathSchema, query: pageQuerySchema },
  async ({ params, query, principal }) => {
    await tenantStore().get(params.tenantId); // 404 for an unknown tenant rather than an empty trail
    const page = await tenantStore().history(params.tenantId, { limit: query.limit, cursor: query.cursor });
    return jsonResponse(200, { items: page.items.map((entry) => visibleTo(principal, 'auditEntry', entry)), nextCursor: page.nextCursor ?? null });
  },
);
