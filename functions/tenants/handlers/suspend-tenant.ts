import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema, transitionBodySchema } from '../tenant-schemas';
import { expectedVersion, tenantView, transitionTenant } from '../tenant-service';

/** POST /tenants/{tenantId}/suspend: active → suspended (operators; Stripe dunning uses the same transition). */
export const handler = apiRoute(
  { routeId: 'SuspendTenant', access: 'operator', params: tenantPathSchema, body: transitionBodySchema, idempotent: true },
  async ({ params, body, principal, headers }) => {
    const tenant = await transitionTenant(
      params.tenantId,
      ['suspend'],
      { actor: principal.subject, reason: body.reason ?? 'Suspended by operator' },
      expectedVersion(headers['if-match']),
    );
    return jsonResponse(200, tenantView(tenant), { etag: `"${tenant.version}"` });
  },
);
