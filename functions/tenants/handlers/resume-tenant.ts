import { randomUUID } from 'node:crypto';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema, transitionBodySchema } from '../tenant-schemas';
import { tenantView, transitionTenant } from '../tenant-service';

/**
 * POST /tenants/{tenantId}/resume: suspended → reactivating → active, one atomic change with two audit entries:
 * the operator's undo of a suspension whose billing and resources are as they were (its subscription live). A
 * suspension whose subscription ended, or a resume onto another plan, goes through the reactivation workflow
 * (POST /tenants/{tenantId}/reactivate), which recreates billing and provisions between the two events.
 */
export const handler = apiRoute(
  { routeId: 'ResumeTenant', params: tenantPathSchema, body: transitionBodySchema, idempotent: true, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const tenant = await transitionTenant(
      params.tenantId,
      ['resume', 'complete_reactivation'],
      { actor: principal.subject, reason: body.reason ?? 'Resumed by operator', operationId: `resume-${randomUUID()}`, reactivationPath: 'resume' },
      expectedVersion,
    );
    return jsonResponse(200, tenantView(tenant), { etag: `"${tenant.version}"` });
  },
);
