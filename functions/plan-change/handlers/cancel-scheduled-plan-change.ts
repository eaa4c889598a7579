import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema, transitionBodySchema } from '../../tenants/tenant-schemas';
import { planChangeDependencies } from '../plan-change-deps';
import { cancelPlanChangeRequest } from '../scheduled-plan-change';

/**
 * DELETE /tenants/{tenantId}/scheduled-plan-change: cancel the downgrade waiting for the end of the period,
 * optionally with `{ "reason" }` for the tenant's history. Billing is put back (the Stripe subscription
 * schedule released), the one-shot schedule deleted, and the operation answered, `cancelled`. 404 when nothing
 * is scheduled; 409 OPERATION_IN_PROGRESS once the change has started; honours If-Match.
 */
export const handler = apiRoute(
  { routeId: 'CancelScheduledPlanChange', params: tenantPathSchema, body: transitionBodySchema, ifMatch: true },
  async ({ params, principal, body, expectedVersion }) => {
    const operation = await cancelPlanChangeRequest(planChangeDependencies(), params.tenantId, principal.subject, body.reason, expectedVersion);
    return jsonResponse(200, operation);
  },
);
