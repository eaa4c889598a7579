/**
 * The GDPR export's steps module, as the workflow engine calls it (functions/workflows/workflow-steps.ts loads
 * it on first use): its steps and its compensation (`failExport`). The work itself is in export-steps.ts; the
 * storage it needs (data sources, S3, the export bucket) comes from export-deps.ts; its compensation needs the
 * export bucket only.
 */
import type { WorkflowPorts } from '../workflows/ports';
import type { WorkflowSteps } from '../workflows/workflow-definition';
import { exportBucket, exportStorage } from './export-deps';
import { EXPORT_STEPS, runExportStep, type ExportInput, type ExportTaskEvent } from './export-steps';

export const exportSteps: WorkflowSteps<WorkflowPorts, ExportInput> = {
  steps: EXPORT_STEPS,
  endingSteps: ['completeExport', 'failExport'],
  run: async (ports, step, input, failure, event) =>
    runExportStep({ tenants: ports.tenants, operations: ports.operations, ...(await exportStorage(ports)) }, { ...event, step, operation: input, failure } as unknown as ExportTaskEvent),
  // failExport reads no data source: it deletes the partial export's objects, so it needs the export bucket
  // only (and the functions that compensate are granted no more: infra/tenant-lifecycle-stack.ts).
  compensate: async (ports, input, failure) =>
    runExportStep({ tenants: ports.tenants, operations: ports.operations, sources: [], ...(await exportBucket()) }, { step: 'failExport', operation: input, failure }),
};
