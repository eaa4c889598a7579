import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../tenant-schemas';
import { tenantStore, tenantView } from '../tenant-service';
import { visibleTo } from '../tenant-view';

/** GET /tenants/{tenantId}: the tenant, with the events allowed from its state (a tenant-scoped caller: its tenant-facing view). */
export const handler = apiRoute({ routeId: 'GetTenant', params: tenantPathSchema }, async ({ params, principal }) => {
  const tenant = await tenantStore().get(params.tenantId);
  return jsonResponse(200, visibleTo(principal, 'tenant', tenantView(tenant)), { etag: `"${tenant.version}"` });
});
