import { accessFor } from '../../lifecycle/access-policy';
import { PLAN_LIMITS } from '../../plans/plan-catalog';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../tenant-schemas';
import { tenantStore } from '../tenant-service';

/** GET /tenants/{tenantId}/access: what the application plane may do for this tenant right now. */
export const handler = apiRoute({ routeId: 'CheckAccess', access: 'operator-or-own-tenant', params: tenantPathSchema }, async ({ params }) => {
  const tenant = await tenantStore().get(params.tenantId);
  const decision = accessFor(tenant);
  return jsonResponse(200, {
    tenantId: tenant.tenantId,
    access: decision.access,
    reason: decision.reason,
    state: tenant.state,
    plan: tenant.plan,
    limits: PLAN_LIMITS[tenant.plan],
    version: tenant.version,
  });
});
