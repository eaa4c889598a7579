import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema, transitionBodySchema } from '../../tenants/tenant-schemas';
import { tenantView } from '../../tenants/tenant-service';
import { workflowPorts } from '../../workflows/ports';
import { releaseLegalHold } from '../soft-delete';

/**
 * DELETE /tenants/{tenantId}/legal-hold: release the hold, optional `{ "reason" }` → 200 with the tenant. A
 * soft-deleted tenant's hard delete is re-armed for the later of its deadline and a minute from now. 404 NO_LEGAL_HOLD when
 * none is set. Honours If-Match.
 */
export const handler = apiRoute(
  { routeId: 'ReleaseLegalHold', params: tenantPathSchema, body: transitionBodySchema, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const tenant = await releaseLegalHold(workflowPorts(), params.tenantId, { actor: principal.subject, expectedVersion, reason: body.reason });
    return jsonResponse(200, tenantView(tenant), { etag: `"${tenant.version}"` });
  },
);
