import * as clock from '../../shared/clock';
import { operationStore } from '../../operations/operation-store';
import { apiRoute } from '../../shared/http/api-handler';
import { mayActFor } from '../../shared/http/principal';
import { jsonResponse } from '../../shared/http/response';
import { exportFiles } from '../export-files';
import { downloadLinks, exportView, readableExport } from '../export-request';
import { exportPathSchema } from '../export-schemas';
import { exportPrefix } from '../export-steps';
import { visibleTo } from '../../tenants/tenant-view';

/**
 * GET /exports/{exportId}: the export's status, progress per source, manifest summary, and once it succeeded
 * presigned download URLs for its files (valid minutes, made fresh on each request; 410 EXPORT_EXPIRED past
 * its retention). Operators read any; a tenant-scoped token its own tenant's, another's is 404 as if it did
 * not exist, and sees its tenant-facing view (functions/tenants/tenant-view.ts).
 */
export const handler = apiRoute({ routeId: 'GetExport', params: exportPathSchema }, async ({ params, principal }) => {
  const operation = await readableExport(operationStore(), params.exportId, (tenantId) => mayActFor(principal, tenantId));
  const view = visibleTo(principal, 'export', exportView(operation, clock.now()));
  if (operation.status !== 'succeeded') return jsonResponse(200, view);
  const prefix = exportPrefix({ tenantId: operation.tenantId, operationId: operation.operationId });
  return jsonResponse(200, { ...view, download: await downloadLinks(await exportFiles(), operation, prefix) });
});
