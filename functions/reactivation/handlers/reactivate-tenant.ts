import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { workflowPorts } from '../../workflows/ports';
import { requestReactivation } from '../reactivation-request';
import { reactivateBodySchema } from '../reactivation-schemas';

/**
 * POST /tenants/{tenantId}/reactivate: bring a suspended, soft-deleted or deleted tenant back (a workflow); 202 with
 * the operation to follow. Operators only: a win-back is a commercial decision, and a deleted tenant has no token.
 */
export const handler = apiRoute(
  { routeId: 'ReactivateTenant', params: tenantPathSchema, body: reactivateBodySchema, idempotent: true, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const accepted = await requestReactivation(workflowPorts(), params.tenantId, body, principal.subject, expectedVersion);
    return jsonResponse(202, accepted, { location: accepted.operation });
  },
);
