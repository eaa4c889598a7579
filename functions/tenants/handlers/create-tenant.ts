import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { findTenantBySubscription } from '../../billing/subscription-links';
import { getDocumentClient } from '../../shared/aws-clients';
import { config } from '../../shared/config';
import { apiRoute, type ApiRequest } from '../../shared/http/api-handler';
import type { IdempotencyKey } from '../../shared/http/idempotency';
import { jsonResponse } from '../../shared/http/response';
import { workflowPorts } from '../../workflows/ports';
import { createTenant } from '../tenant-creation';
import { createTenantBodySchema } from '../tenant-schemas';
import { tenantView } from '../tenant-service';

/** `tnt-` and 12 base-36 characters of 8 bytes. */
function tenantIdOf(bytes: Buffer): string {
  return `tnt-${BigInt(`0x${bytes.subarray(0, 8).toString('hex')}`).toString(36).padStart(12, '0').slice(-12)}`;
}

/**
 * The tenant a creation is about: the id given, else one derived from the caller's Idempotency-Key (SHA-256 of
 * caller and key), so a retry finds its first answer in that tenant's partition (and, past the key's 24 hours, is
 * 409 TENANT_EXISTS rather than a second tenant), else a random one.
 */
function createdTenantId({ body, idempotencyKey }: Pick<ApiRequest<{ tenantId?: string | undefined }, unknown, unknown>, 'body' | 'idempotencyKey'>): string {
  if (body.tenantId) return body.tenantId;
  return tenantIdOf(idempotencyKey ? keyDigest(idempotencyKey) : randomBytes(8));
}

function keyDigest({ caller, key }: IdempotencyKey): Buffer {
  return createHash('sha256').update(`${caller}\n${key}`).digest();
}

/** POST /tenants: create an active tenant with its billing customer (operators only); `billing` links existing Stripe ids. */
export const handler = apiRoute({ routeId: 'CreateTenant', body: createTenantBodySchema, idempotent: true, idempotencyOwner: createdTenantId }, async (request) => {
  const { body, principal } = request;
  const tenantId = createdTenantId(request);
  const ports = workflowPorts();
  const tenant = await createTenant(
    { tenants: ports.tenants, billing: ports.billing, linkOf: (subscriptionId) => findTenantBySubscription(getDocumentClient(), config.tableName, subscriptionId) },
    { tenantId, name: body.name, email: body.email, plan: body.plan, usage: body.usage, ...(body.billing ? { link: body.billing } : {}), ...(body.gdpr === undefined ? {} : { gdpr: body.gdpr }) },
    { actor: principal.subject, reason: body.reason ?? 'Tenant created', operationId: `create-${randomUUID()}` },
  );
  return jsonResponse(201, tenantView(tenant), { location: `/tenants/${tenantId}`, etag: `"${tenant.version}"` });
});
