import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { planChangeDependencies } from '../plan-change-deps';
import { changePlanBodySchema } from '../plan-change-schemas';
import { requestPlanChange } from '../plan-change-service';

/** POST /tenants/{tenantId}/plan: upgrade or downgrade (202 with an operation id), or preview it (dryRun). */
export const handler = apiRoute(
  { routeId: 'ChangePlan', params: tenantPathSchema, body: changePlanBodySchema, idempotent: true, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const answer = await requestPlanChange(planChangeDependencies(), params.tenantId, body, principal.subject, expectedVersion);
    const operation = answer.body.operation;
    return jsonResponse(answer.status, answer.body, typeof operation === 'string' ? { location: operation } : {});
  },
);
