import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { tenantView } from '../../tenants/tenant-service';
import { workflowPorts } from '../../workflows/ports';
import { legalHoldBodySchema } from '../deletion-schemas';
import { placeLegalHold } from '../soft-delete';

/**
 * PUT /tenants/{tenantId}/legal-hold: place a legal hold `{ "reason", "by"? }` → 200 with the tenant; while it is
 * set the hard delete does not run. Placing it again restates it. 409 on a deleted tenant. Honours If-Match.
 */
export const handler = apiRoute(
  { routeId: 'PlaceLegalHold', params: tenantPathSchema, body: legalHoldBodySchema, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const tenant = await placeLegalHold(workflowPorts(), params.tenantId, { actor: principal.subject, expectedVersion, reason: body.reason, by: body.by });
    return jsonResponse(200, tenantView(tenant), { etag: `"${tenant.version}"` });
  },
);
