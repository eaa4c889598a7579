import { registerHttpError } from '../../shared/error-catalogue';
import { config } from '../../shared/config';
import { getDocumentClient } from '../../shared/aws-clients';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { tenantStore } from '../../tenants/tenant-service';
import type { Tenant } from '../../tenants/tenant-store';
import { findCertificate } from '../deletion-certificate';
import { visibleTo } from '../../tenants/tenant-view';

/** The tenant exists but has no certificate yet: it is not deleted (or its hard delete has not completed). */
export class DeletionCertificateNotFoundError extends Error {
  readonly code = 'DELETION_CERTIFICATE_NOT_FOUND' as const;
  readonly tenantId: string;
  readonly state: Tenant['state'];
  constructor(tenant: Pick<Tenant, 'tenantId' | 'state' | 'deletion'>) {
    const due = tenant.deletion ? ` Its hard delete is due from ${tenant.deletion.window.opensAt} to ${tenant.deletion.window.closesAt}; the certificate is written when it completes.` : '';
    super(`Tenant '${tenant.tenantId}' has no deletion certificate: it is '${tenant.state}', and a certificate exists only once a tenant is deleted.${due}`);
    this.name = 'DeletionCertificateNotFoundError';
    this.tenantId = tenant.tenantId;
    this.state = tenant.state;
  }
}
registerHttpError(DeletionCertificateNotFoundError, { status: 404, details: (error) => ({ tenantId: error.tenantId, state: error.state }) });

/**
 * GET /tenants/{tenantId}/deletion-certificate: the proof of a deleted tenant's erasure (per data source what was
 * there, when it was purged, the verification, what is retained and why; the window and the time; its sha256).
 * 404 TENANT_NOT_FOUND for an unknown tenant, 404 DELETION_CERTIFICATE_NOT_FOUND until it is deleted.
 */
export const handler = apiRoute({ routeId: 'GetDeletionCertificate', params: tenantPathSchema }, async ({ params, principal }) => {
  const tenant = await tenantStore().get(params.tenantId);
  // Written only with complete_deletion, so it exists exactly for a tenant that was deleted.
  const certificate = tenant.deletionCertificateId ? await findCertificate(getDocumentClient(), config.tableName, tenant.tenantId) : undefined;
  if (!certificate) throw new DeletionCertificateNotFoundError(tenant);
  return jsonResponse(200, visibleTo(principal, 'deletionCertificate', certificate));
});
