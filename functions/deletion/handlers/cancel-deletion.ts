import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema, transitionBodySchema } from '../../tenants/tenant-schemas';
import { tenantView } from '../../tenants/tenant-service';
import { workflowPorts } from '../../workflows/ports';
import { cancelDeletion } from '../soft-delete';

/**
 * DELETE /tenants/{tenantId}/deletion: cancel the soft delete within retention, optional `{ "reason" }` → 200
 * with the tenant, `active`, billing restored. 409 DELETION_DEADLINE_PASSED after the deadline (saying when), 409 ERASURE_STARTED once a hard delete began purging,
 * 409 NOT_DELETING when there is nothing to cancel. Honours If-Match.
 */
export const handler = apiRoute(
  { routeId: 'CancelDeletion', params: tenantPathSchema, body: transitionBodySchema, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const tenant = await cancelDeletion(workflowPorts(), params.tenantId, { actor: principal.subject, expectedVersion, reason: body.reason });
    return jsonResponse(200, tenantView(tenant), { etag: `"${tenant.version}"` });
  },
);
