import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { tenantPathSchema } from '../../tenants/tenant-schemas';
import { workflowPorts } from '../../workflows/ports';
import { requestExport } from '../export-request';
import { startExportBodySchema } from '../export-schemas';

/**
 * POST /tenants/{tenantId}/exports: start a GDPR export (202 with its id and status URL). Operators for any
 * tenant, a tenant-scoped token for its own (the data subject's right of access, Art. 15, and portability, Art. 20).
 */
export const handler = apiRoute(
  { routeId: 'StartExport', params: tenantPathSchema, body: startExportBodySchema, idempotent: true, ifMatch: true },
  async ({ params, body, principal, expectedVersion }) => {
    const started = await requestExport(workflowPorts(), params.tenantId, body, principal.subject, expectedVersion);
    return jsonResponse(202, started, { location: started.export });
  },
);
