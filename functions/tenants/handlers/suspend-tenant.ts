import { randomUUID } from 'node:crypto';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema, transitionBodySchema } from '../tenant-schemas';
import { tenantView, transitionTenant } from '../tenant-service';

/** POST /tenants/{tenantId}/suspend: active → suspended (operators; Stripe dunning uses the same transition). */
export const handler = apiRoute(
  { routeId: 'SuspendTenant', params: tenantPathSchema, body: transitionBodySchema, idempotent: true, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const tenant = await transitionTenant(
      params.tenantId,
      ['suspend'],
      { actor: principal.subject, reason: body.reason ?? 'Suspended by operator', operationId: `suspend-${randomUUID()}` },
      expectedVersion,
    );
    return jsonResponse(200, tenantView(tenant), { etag: `"${tenant.version}"` });
  },
);
