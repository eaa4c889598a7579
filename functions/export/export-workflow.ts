/**
 * The GDPR export's steps module, as the workflow engine calls it (functions/workflows/workflow-steps.ts loads
 * it on first use): its steps and its compensation (`failExport`). The work itself is in export-steps.ts; the
 * storage it needs (data sources, S3, the export bucket) comes from export-deps.ts.
 */
import type { WorkflowPorts } from '../workflows/ports';
import type { WorkflowSteps } from '../workflows/workflow-definition';
import { exportStorage } from './export-deps';
import { EXPORT_STEPS, runExportStep, type ExportInput, type ExportTaskEvent } from './export-steps';

export const exportSteps: WorkflowSteps<WorkflowPorts, ExportInput> = {
  steps: EXPORT_STEPS,
  endingSteps: ['completeExport', 'failExport'],
  run: async (ports, step, input, failure, event) =>
    runExportStep({ tenants: ports.tenants, operations: ports.operations, ...(await exportStorage(ports)) }, { ...event, step, operation: input, failure } as unknown as ExportTaskEvent),
  compensate: async (ports, input, failure) =>
    runExportStep({ tenants: ports.tenants, operations: ports.operations, ...(await exportStorage(ports)) }, { step: 'failExport', operation: input, failure }),
};
