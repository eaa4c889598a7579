import { randomBytes, randomUUID } from 'node:crypto';
import { findTenantBySubscription } from '../../billing/subscription-links';
import { getDocumentClient } from '../../shared/aws-clients';
import { config } from '../../shared/config';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { workflowPorts } from '../../workflows/ports';
import { createTenant } from '../tenant-creation';
import { createTenantBodySchema } from '../tenant-schemas';
import { tenantView } from '../tenant-service';

/** A tenant id when the caller gives none: `tnt-` and 12 random base-36 characters. */
function newTenantId(): string {
  return `tnt-${BigInt(`0x${randomBytes(8).toString('hex')}`).toString(36).padStart(12, '0').slice(-12)}`;
}

/** POST /tenants: create an active tenant with its billing customer (operators only); `billing` links existing Stripe ids. */
export const handler = apiRoute({ routeId: 'CreateTenant', body: createTenantBodySchema, idempotent: true }, async ({ body, principal }) => {
  const tenantId = body.tenantId ?? newTenantId();
  const ports = workflowPorts();
  const tenant = await createTenant(
    { tenants: ports.tenants, billing: ports.billing, linkOf: (subscriptionId) => findTenantBySubscription(getDocumentClient(), config.tableName, subscriptionId) },
    { tenantId, name: body.name, email: body.email, plan: body.plan, usage: body.usage, ...(body.billing ? { link: body.billing } : {}), ...(body.gdpr === undefined ? {} : { gdpr: body.gdpr }) },
    { actor: principal.subject, reason: body.reason ?? 'Tenant created', operationId: `create-${randomUUID()}` },
  );
  return jsonResponse(201, tenantView(tenant), { location: `/tenants/${tenantId}`, etag: `"${tenant.version}"` });
});
