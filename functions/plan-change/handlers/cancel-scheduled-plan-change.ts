import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { planChangeDependencies } from '../plan-change-deps';
import { cancelPlanChangeRequest } from '../scheduled-plan-change';

/**
 * DELETE /tenants/{tenantId}/scheduled-plan-change: cancel the downgrade waiting for the end of the period.
 * Billing is put back (the Stripe subscription schedule released), the one-shot schedule deleted, and the
 * operation answered, `cancelled`. 404 when nothing is scheduled; 409 once the change has started.
 */
export const handler = apiRoute(
  { routeId: 'CancelScheduledPlanChange', access: 'operator', params: tenantPathSchema },
  async ({ params, principal }) => {
    const operation = await cancelPlanChangeRequest(planChangeDependencies(), params.tenantId, principal.subject);
    return jsonResponse(200, operation);
  },
);
