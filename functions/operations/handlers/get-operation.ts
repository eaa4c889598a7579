import { operationPathSchema } from '../../plan-change/plan-change-schemas';
import { operationStore } from '../operation-store';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';

/** GET /operations/{operationId}: a workflow's status, the steps it has done, and its error if it rolled back. */
export const handler = apiRoute({ routeId: 'GetOperation', access: 'operator', params: operationPathSchema }, async ({ params }) => {
  return jsonResponse(200, await operationStore().get(params.operationId));
});
