import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { listTenantsQuerySchema } from '../tenant-schemas';
import { tenantStore, tenantView } from '../tenant-service';

/** GET /tenants?state=&limit=&cursor=: tenants by state (every state but deleted when omitted: ask for state=deleted to see those), paginated. */
export const handler = apiRoute({ routeId: 'ListTenants', query: listTenantsQuerySchema }, async ({ query }) => {
  const page = await tenantStore().listByState(query.state, { limit: query.limit, cursor: query.cursor });
  return jsonResponse(200, { items: page.items.map(tenantView), nextCursor: page.nextCursor ?? null });
});
