/**
 * The GDPR export workflow's entry in the workflow registry (functions/workflows/registry.ts): data only; the
 * steps are in export-workflow.ts (loaded by the functions that run them).
 */
import type { WorkflowDefinition } from '../workflows/workflow-definition';

export const EXPORT_WORKFLOW = {
  name: 'export',
  title: 'data export',
  description: 'GDPR data export (Art. 15/20): every data source in gzip NDJSON parts, a manifest, verification against the stored bytes.',
  asl: 'statemachines/export.asl.json',
  taskFunctionPlaceholder: 'ExportTaskFunctionArn',
  events: { initiates: ['initiate_export'], completes: ['complete_export'], rollsBackWith: ['fail_export'] },
  scheduleTargets: [],
  // The ASL's own TimeoutSeconds (24 h: a large tenant's export runs for a while; test/infra holds them equal).
  timeoutSeconds: 86_400,
  // Past the timeout plus the "execution ended badly" rule's retries.
  stuckAfterSeconds: 86_400 + 30 * 60,
  // Lambda's maximum (900 s). The longest Task TimeoutSeconds in the ASL (verification, 840 s) stays below it,
  // so the state machine's States.Timeout fires first (infra/workflow-asl.ts checkTaskTimeouts).
  taskTimeoutSeconds: 900,
  // A data subject's request is answered within one month (GDPR Art. 12(3)).
  dueDate: { basis: 'GDPR Art. 12(3): the answer to a data subject request is due within one month of receipt' },
  // The task reads every data source (billing history lists Stripe invoices; vectors; documents) and writes the
  // export; the compensation (failExport) only deletes the partial export's objects.
  reaches: { task: ['billing', 'vectors:read', 'documents:read', 'exports:write'], compensation: ['exports:delete'], scheduleTargets: [] },
} as const satisfies WorkflowDefinition;

/** The sort-key prefix of the tenant's register of export requests: one item per request in its partition (`EXPORT#<requestedAt>#<export id>`). */
export const EXPORT_REQUEST_SK_PREFIX = 'EXPORT#';
