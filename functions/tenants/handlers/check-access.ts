import { dunningNotice } from '../../dunning/dunning-policy';
import { accessFor } from '../../lifecycle/access-policy';
import { PLAN_LIMITS } from '../../plans/plan-catalog';
import { resourcesFor } from '../../provisioning/plan-resources';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../tenant-schemas';
import { tenantStore } from '../tenant-service';

/**
 * GET /tenants/{tenantId}/access: what the application plane may do for this tenant right now, within which
 * limits and request rate, and where its vectors live (a pooled namespace or its dedicated index: this moves
 * with an upgrade to or a downgrade from enterprise, at the commit). A tenant in the dunning ladder's grace period
 * keeps its access and gets `billing` (a warning and when the grace ends).
 */
export const handler = apiRoute({ routeId: 'CheckAccess', params: tenantPathSchema }, async ({ params }) => {
  const tenant = await tenantStore().get(params.tenantId);
  const decision = accessFor(tenant);
  const resources = tenant.resources ?? resourcesFor(tenant.tenantId, tenant.plan);
  const billing = dunningNotice(tenant);
  return jsonResponse(200, {
    tenantId: tenant.tenantId,
    access: decision.access,
    reason: decision.reason,
    state: tenant.state,
    plan: tenant.plan,
    limits: PLAN_LIMITS[tenant.plan],
    requestsPerSecond: resources.requestsPerSecond,
    vectors: resources.vectors,
    version: tenant.version,
    ...(billing ? { billing } : {}),
  });
});
