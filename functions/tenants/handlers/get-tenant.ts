import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../tenant-schemas';
import { tenantStore, tenantView } from '../tenant-service';

/** GET /tenants/{tenantId}: the tenant, with the events allowed from its state. */
export const handler = apiRoute({ routeId: 'GetTenant', params: tenantPathSchema }, async ({ params }) => {
  const tenant = await tenantStore().get(params.tenantId);
  return jsonResponse(200, tenantView(tenant), { etag: `"${tenant.version}"` });
});
