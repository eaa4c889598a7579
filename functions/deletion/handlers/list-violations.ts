import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantStore } from '../../tenants/tenant-service';
import { listViolationsQuerySchema } from '../violation-schemas';

/**
 * GET /compliance/violations?from=&to=&limit=&cursor=: missed deletion deadlines of every tenant, oldest
 * detected first, paginated. Operators only: a tenant-scoped token must not see other tenants' violations.
 */
export const handler = apiRoute({ routeId: 'ListComplianceViolations', query: listViolationsQuerySchema }, async ({ query }) => {
  const page = await tenantStore().listViolations({ from: query.from, to: query.to }, { limit: query.limit, cursor: query.cursor });
  return jsonResponse(200, { items: page.items, nextCursor: page.nextCursor ?? null });
});
