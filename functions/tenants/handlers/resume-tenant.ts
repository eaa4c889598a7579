import { randomUUID } from 'node:crypto';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema, transitionBodySchema } from '../tenant-schemas';
import { tenantView, transitionTenant } from '../tenant-service';

/**
 * POST /tenants/{tenantId}/resume: suspended → reactivating → active. Nothing needs re-provisioning after a
 * suspension yet, so both steps are one atomic change with two audit entries; the reactivation workflow will
 * put billing work between them.
 */
export const handler = apiRoute(
  { routeId: 'ResumeTenant', access: 'operator', params: tenantPathSchema, body: transitionBodySchema, idempotent: true, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const tenant = await transitionTenant(
      params.tenantId,
      ['resume', 'complete_reactivation'],
      { actor: principal.subject, reason: body.reason ?? 'Resumed by operator', operationId: `resume-${randomUUID()}` },
      expectedVersion,
    );
    return jsonResponse(200, tenantView(tenant), { etag: `"${tenant.version}"` });
  },
);
