import * as clock from '../../shared/clock';
import { operationStore } from '../../operations/operation-store';
import { getDocumentClient } from '../../shared/aws-clients';
import { config } from '../../shared/config';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { pageQuerySchema, tenantPathSchema } from '../../tenants/tenant-schemas';
import { tenantStore } from '../../tenants/tenant-service';
import { listExports } from '../export-request';
import { visibleTo } from '../../tenants/tenant-view';

/** GET /tenants/{tenantId}/exports: the tenant's exports, newest first, paginated (`limit`, `nextCursor`); no download URLs (GET /exports/{id} has them). */
export const handler = apiRoute(
  { routeId: 'ListExports', params: tenantPathSchema, query: pageQuerySchema },
  async ({ params, query, principal }) => {
    await tenantStore().get(params.tenantId); // 404 for an unknown tenant rather than an empty list
    const page = await listExports(getDocumentClient(), config.tableName, operationStore(), params.tenantId, query, clock.now());
    return jsonResponse(200, { ...page, items: page.items.map((view) => visibleTo(principal, 'export', view)) });
  },
);
