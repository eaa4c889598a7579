import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { tenantView } from '../../tenants/tenant-service';
import { workflowPorts } from '../../workflows/ports';
import { initiateDeletionBodySchema } from '../deletion-schemas';
import { initiateDeletion } from '../soft-delete';

/**
 * POST /tenants/{tenantId}/deletion: soft-delete the tenant, `{ "retentionDays"?, "reason"? }` → 202 with the
 * tenant (`deleting`, its `deletion`: deadline, enforcement window, schedules). Accepted, not done: the data is
 * retained until the deadline, when the hard delete runs. Honours Idempotency-Key and If-Match.
 */
export const handler = apiRoute(
  { routeId: 'InitiateDeletion', params: tenantPathSchema, body: initiateDeletionBodySchema, idempotent: true, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const tenant = await initiateDeletion(workflowPorts(), params.tenantId, { actor: principal.subject, expectedVersion, retentionDays: body.retentionDays, reason: body.reason });
    return jsonResponse(202, tenantView(tenant), { etag: `"${tenant.version}"` });
  },
);
