import { operationPathSchema } from '../operation-schemas';
import { operationStore } from '../operation-store';
import { apiRoute } from '../../shared/http/api-handler';
import { mayActFor } from '../../shared/http/principal';
import { jsonResponse } from '../../shared/http/response';
import { OperationNotFoundError } from '../operation-store';
import { visibleTo } from '../../tenants/tenant-view';

/**
 * GET /operations/{operationId}: a workflow's status, the steps it has done, and its error if it rolled back.
 * Operators read any; a tenant-scoped token its own tenant's, and another tenant's operation is 404 as if it
 * did not exist (a 403 would confirm that the id exists), and sees its tenant-facing view (functions/tenants/tenant-view.ts).
 */
export const handler = apiRoute({ routeId: 'GetOperation', params: operationPathSchema }, async ({ params, principal }) => {
  const operation = await operationStore().get(params.operationId);
  if (!mayActFor(principal, operation.tenantId)) throw new OperationNotFoundError(params.operationId);
  return jsonResponse(200, visibleTo(principal, 'operation', operation));
});
