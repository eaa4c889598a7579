/**
 * GDPR export requests through the API: starting one (the tenant's `initiate_export` and the operation record
 * in one transaction, then the execution named after the operation), reading one (status, progress per
 * source, the manifest summary, presigned download URLs made fresh on each read) and listing a tenant's.
 *
 * The GDPR clock (Art. 12(3): "without undue delay and in any event within one month of receipt of the
 * request"): each export records `requestedAt` and `dueAt` (one calendar month later); an export still
 * unfinished within OVERDUE_RISK_DAYS of its due date is flagged `overdueRisk` (and counted by the sweeper's
 * `UnfinishedNearDue` metric, functions/workflows/workflow-metrics.ts).
 */
import * as clock from '../shared/clock';
import { randomUUID } from 'node:crypto';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { Operation, OperationStore } from '../operations/operation-store';
import { registerHttpError } from '../shared/error-catalogue';
import { tenantPk } from '../tenants/tenant-table';
import { InvalidCursorError } from '../tenants/errors';
import { refusalOf } from '../tenants/tenant-rules';
import type { TenantStore } from '../tenants/tenant-store';
import { startOrUndo } from '../workflows/start-execution';
import type { WorkflowRunner } from '../workflows/workflow-runner';
import { DUE_SOON_SECONDS } from '../workflows/workflow-metrics';
import { EXPORT_REQUEST_SK_PREFIX, EXPORT_WORKFLOW } from './export-definition';
import type { ExportInput } from './export-steps';
import type { DownloadLink, ExportStore } from './export-store';
import type { ExportManifest } from './manifest';
import type { StartExportBody } from './export-schemas';

/** An export's input as the API starts it: the steps' input and when the GDPR answer is due. */
export type ExportRequestInput = ExportInput & {
  /** One calendar month after `requestedAt` (ISO 8601): GDPR Art. 12(3). */
  readonly dueAt: string;
};

const DAY_S = 86_400;
const DAY_MS = DAY_S * 1000;

/** Days before `dueAt` from which an unfinished export is flagged `overdueRisk` (and counted by UnfinishedNearDue). */
export const OVERDUE_RISK_DAYS = DUE_SOON_SECONDS / DAY_S;



/** Codes of refused or unfinished export requests, with the HTTP status of each. */
export const EXPORT_REQUEST_ERRORS = { EXPORT_NOT_FOUND: 404, EXPORT_EXPIRED: 410, WORKFLOW_UNAVAILABLE: 503 } as const;
export type ExportRequestErrorCode = keyof typeof EXPORT_REQUEST_ERRORS;

export class ExportRequestError extends Error {
  readonly code: ExportRequestErrorCode;
  readonly details?: unknown;
  constructor(code: ExportRequestErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ExportRequestError';
    this.code = code;
    this.details = details;
  }
}

registerHttpError(ExportRequestError, { status: (error) => EXPORT_REQUEST_ERRORS[error.code], details: (error) => error.details });

function notFound(exportId: string): ExportRequestError {
  return new ExportRequestError('EXPORT_NOT_FOUND', `Export '${exportId}' does not exist.`, { exportId });
}

/**
 * `at` plus one calendar month (ISO 8601, UTC), the day clamped to the month's last (31 January → 28 or 29
 * February), as GDPR Art. 12(3)'s "one month" is read (Regulation 1182/71 on periods: the same date of the
 * next month, or its last day).
 */
export function oneMonthAfter(at: string): string {
  const date = new Date(at);
  const day = date.getUTCDate();
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() + 1);
  const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
  date.setUTCDate(Math.min(day, lastDay));
  return date.toISOString();
}

export interface ExportRequestDependencies {
  readonly tenants: TenantStore;
  readonly operations: OperationStore;
  readonly runner: WorkflowRunner;
  readonly now?: () => Date;
}

/**
 * Start an export of `tenantId` (202). Refused, changing nothing, with the same errors as every change of a
 * tenant (tenant-rules.ts refusalOf): 409 OPERATION_IN_PROGRESS while another operation owns it,
 * ILLEGAL_TRANSITION where the lifecycle table has no `initiate_export` (deleting, deleted, transitional
 * states), VERSION_CONFLICT for an If-Match at another version; 503 WORKFLOW_UNAVAILABLE (after undoing the
 * initiate) when the execution cannot be started.
 */
export async function requestExport(deps: ExportRequestDependencies, tenantId: string, body: StartExportBody, actor: string, expectedVersion?: number) {
  const tenant = await deps.tenants.get(tenantId, { expectedVersion });
  const refusal = refusalOf(tenant, 'initiate_export');
  if (refusal) throw refusal;
  const operationId = `op_${randomUUID()}`;
  const requestedAt = clock.nowOf(deps).toISOString();
  const input: ExportRequestInput = { operationId, tenantId, requestedBy: actor, requestedAt, dueAt: oneMonthAfter(requestedAt) };
  const context = { actor, reason: body.reason ?? 'Data export requested (GDPR Art. 15/20)', operationId };
  await deps.tenants.applyTransition(tenant, 'initiate_export', context, {
    alsoPut: [
      deps.operations.newItem({ operationId, tenantId, workflow: EXPORT_WORKFLOW.name, input: { ...input }, requestedBy: actor }),
      // The tenant's register of export requests (GET /tenants/{id}/exports pages it, newest first).
      { pk: tenantPk(tenantId), sk: `${EXPORT_REQUEST_SK_PREFIX}${requestedAt}#${operationId}`, type: 'export-request', exportId: operationId, requestedAt, dueAt: input.dueAt, requestedBy: actor },
    ],
  });
  const started = await startOrUndo(deps, EXPORT_WORKFLOW.name, input, async (failure) => {
    // Nothing was written yet: put the tenant back and end the export failed, in one transaction.
    const error = { code: failure.Error, message: failure.Cause ?? failure.Error };
    const now = await deps.tenants.find(tenantId);
    if (now?.operationId === operationId) {
      await deps.tenants.applyTransition(now, 'fail_export', { actor, reason: `Data export could not start: ${error.message}`, operationId }, {
        alsoUpdate: [deps.operations.finishUpdate(operationId, 'failed', 'running', error)],
      });
    } else {
      await deps.operations.finish(operationId, 'failed', 'running', error);
    }
  });
  if (!started) throw new ExportRequestError('WORKFLOW_UNAVAILABLE', 'The export could not be started; nothing was changed. Retry later.');
  return { exportId: operationId, tenantId, status: 'running' as const, requestedAt, dueAt: input.dueAt, export: `/exports/${operationId}`, operation: `/operations/${operationId}` };
}

/** One source's progress: records written so far against those it held when counted. */
export interface SourceProgressView {
  readonly source: string;
  readonly expected: number;
  readonly exported: number;
}

/** What GET /exports/{id} and the listing answer for one export. */
export interface ExportView {
  readonly exportId: string;
  readonly tenantId: string;
  /** The operation's status: `running`, `succeeded`, `failed` (or `compensating` while it is being failed). */
  readonly status: Operation['status'];
  /** The last step recorded (`counted:<source>`, `exported:<source>:<batch>`, `manifest_written`, `verified`), or `initiated`. */
  readonly step: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly dueAt: string;
  /** Unfinished within OVERDUE_RISK_DAYS of `dueAt` (or past it). */
  readonly overdueRisk: boolean;
  readonly sources: readonly SourceProgressView[];
  /** Once written: the manifest's key in the export, and its parts, records and bytes. */
  readonly manifest?: Readonly<Record<string, unknown>>;
  readonly verified?: Readonly<Record<string, unknown>>;
  readonly error?: Operation['error'];
  readonly finishedAt?: string;
}

/** The export as the API shows it, at `now`. */
export function exportView(operation: Operation, now: Date): ExportView {
  const input = operation.input as Partial<ExportRequestInput>;
  const requestedAt = input.requestedAt ?? operation.createdAt;
  const dueAt = input.dueAt ?? oneMonthAfter(requestedAt);
  const unfinished = !['succeeded', 'failed', 'rolled_back', 'cancelled'].includes(operation.status);
  // Sources with what the last batch recorded: in the manifest's order once it is written (the registry's), before
  // that in the order they were counted (two at a time, so that order may vary between runs).
  const manifestOrder = ((operation.facts.manifestSources as readonly string[] | undefined) ?? []).slice();
  const counted = operation.steps.filter((step) => step.startsWith('counted:')).map((step) => step.slice('counted:'.length));
  const rank = (source: string) => (manifestOrder.includes(source) ? manifestOrder.indexOf(source) : manifestOrder.length + counted.indexOf(source));
  const sources = [...counted]
    .sort((a, b) => rank(a) - rank(b))
    .map((source) => ({ source, ...(operation.facts[`progress:${source}`] as { expected: number; exported: number }) }));
  return {
    exportId: operation.operationId,
    tenantId: operation.tenantId,
    status: operation.status,
    step: operation.steps.at(-1) ?? 'initiated',
    requestedBy: operation.requestedBy,
    requestedAt,
    dueAt,
    overdueRisk: unfinished && now.getTime() >= Date.parse(dueAt) - OVERDUE_RISK_DAYS * DAY_MS,
    sources,
    ...(operation.facts.manifest ? { manifest: operation.facts.manifest as Record<string, unknown> } : {}),
    ...(operation.facts.verified ? { verified: operation.facts.verified as Record<string, unknown> } : {}),
    ...(operation.error ? { error: operation.error } : {}),
    ...(operation.finishedAt ? { finishedAt: operation.finishedAt } : {}),
  };
}

/** The export `exportId` if it exists and `mayRead` its tenant; EXPORT_NOT_FOUND otherwise (another tenant's export is not confirmed to exist). */
export async function readableExport(operations: OperationStore, exportId: string, mayRead: (tenantId: string) => boolean): Promise<Operation> {
  const operation = await operations.find(exportId);
  if (!operation || operation.workflow !== EXPORT_WORKFLOW.name || !mayRead(operation.tenantId)) throw notFound(exportId);
  return operation;
}

/** Where a finished export's files are: the store that presigns them and the manifest that lists them. */
export interface ExportFiles {
  readonly store: ExportStore;
  /** The manifest of the export at `prefix` (read from the export bucket). */
  manifest(prefix: string): Promise<ExportManifest>;
}

/**
 * Presigned GET URLs (valid minutes, made now) for every file of a succeeded export: the manifest, the README
 * and each part, in the manifest's order. 410 EXPORT_EXPIRED once the export is past its retention.
 */
export async function downloadLinks(files: ExportFiles, operation: Operation, prefix: string): Promise<{ expiresAt: string; files: DownloadLink[] }> {
  const stored = { prefix, completedAt: operation.finishedAt ?? operation.updatedAt };
  if (files.store.isExpired(stored)) {
    await files.store.expire(stored);
    throw new ExportRequestError('EXPORT_EXPIRED', `Export '${operation.operationId}' was kept until ${files.store.expiresAt(stored)} and is deleted; request a new export.`, {
      exportId: operation.operationId,
      expiredAt: files.store.expiresAt(stored),
    });
  }
  const manifest = await files.manifest(prefix);
  const { MANIFEST_FILE, README_FILE } = await import('./manifest');
  const keys = [MANIFEST_FILE, README_FILE, ...manifest.sources.flatMap((source) => source.parts.map((part) => part.key))];
  const links = await Promise.all(keys.map((key) => files.store.presignDownload(stored, key)));
  return { expiresAt: links.reduce((min, link) => (link.expiresAt < min ? link.expiresAt : min), links[0]?.expiresAt ?? ''), files: links };
}

const LIST_CURSOR = z.object({ before: z.string().startsWith(EXPORT_REQUEST_SK_PREFIX).max(200) }).strict();

/** A page of the tenant's exports, newest first (`limit` 1-100, default 20), each as exportView shows it. */
export async function listExports(
  client: DynamoDBDocumentClient,
  tableName: string,
  operations: OperationStore,
  tenantId: string,
  page: { readonly limit?: number; readonly cursor?: string },
  now: Date,
): Promise<{ items: ExportView[]; nextCursor: string | null }> {
  let before: string | undefined;
  if (page.cursor) {
    let parsed;
    try {
      parsed = LIST_CURSOR.safeParse(JSON.parse(Buffer.from(page.cursor, 'base64url').toString('utf8')));
    } catch {
      throw new InvalidCursorError();
    }
    if (!parsed.success) throw new InvalidCursorError();
    before = parsed.data.before;
  }
  const limit = page.limit ?? 20;
  const { Items = [] } = await client.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: before ? 'pk = :pk AND sk BETWEEN :first AND :before' : 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: before ? { ':pk': tenantPk(tenantId), ':first': EXPORT_REQUEST_SK_PREFIX, ':before': before } : { ':pk': tenantPk(tenantId), ':prefix': EXPORT_REQUEST_SK_PREFIX },
      ScanIndexForward: false,
      // One more than a page tells whether there is a next one; the BETWEEN bound is inclusive, so the
      // cursor's own item comes first and is skipped.
      Limit: limit + 1 + (before ? 1 : 0),
      ConsistentRead: true,
    }),
  );
  const found = Items.filter((item) => item.sk !== before);
  const items = found.slice(0, limit);
  const views = await Promise.all(
    items.map(async (item) => exportView(await operations.get(item.exportId as string), now)),
  );
  const last = items.at(-1);
  const more = found.length > limit && last !== undefined;
  return { items: views, nextCursor: more ? Buffer.from(JSON.stringify({ before: last.sk })).toString('base64url') : null };
}
