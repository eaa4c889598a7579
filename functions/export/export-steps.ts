/**
 * The export workflow's Task steps: the work behind each state of statemachines/export.asl.json (GDPR Art. 15
 * and 20: a copy of the tenant's data in a structured, machine-readable format). The ASL holds the order,
 * the loop over sources and cursors, the retries and the catch-all to `failExport`; these functions hold the
 * work. Each is idempotent: a retried step writes the same objects under the same keys and records the same
 * markers, so a step that died half-way and is retried ends complete, not duplicated.
 *
 * Between states only ids, S3 keys, cursors, counts and checksums travel, never records: the state stays a
 * few kilobytes whatever the tenant's size (Step Functions' 256 KB payload limit). The parts of each batch
 * are listed in a small work object in S3 (`<prefix>/_work/<source>/batch-NNNNN.json`), which the manifest
 * step gathers and then deletes.
 */
import * as clock from '../shared/clock';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DataSource } from '../data-sources/data-source';
import { IllegalTransitionError } from '../lifecycle/errors';
import { OperationEndedError, type OperationStore } from '../operations/operation-store';
import { OperationSupersededError, StoreContentionError, isStoreContention } from '../plan-change/errors';
import { OperationOwnershipError, VersionConflictError } from '../tenants/errors';
import type { Tenant, TenantStore } from '../tenants/tenant-store';
import { ExportNotAllowedError, ExportStorageTransientError, ExportVerificationError } from './errors';
import { MANIFEST_FILE, MANIFEST_FORMAT_VERSION, README_FILE, type ExportManifest, type ManifestSource } from './manifest';
import type { ExportPart, PartLimits } from './part-writer';
import { describeFailure, type StepFailure } from '../workflows/step-failure';

/** The execution input: ids only. */
export interface ExportInput {
  /** The export's id: its operation id and its execution name. */
  readonly operationId: string;
  readonly tenantId: string;
  readonly requestedBy: string;
  /** When the data subject's request was received (ISO 8601): the GDPR clock starts here. */
  readonly requestedAt: string;
}


/** Where one source's export stands between two batches (the Map iteration's state). */
export interface SourceProgress {
  readonly source: string;
  /** Records the source held when counted. */
  readonly expected: number;
  /** Records written so far. */
  readonly exported: number;
  /** Where the next batch reads from; null before the first batch and once `done`. */
  readonly cursor: string | null;
  /** The number of the next part to write (1-based). */
  readonly nextPart: number;
  /** Batches written so far (each lists its parts in a work object). */
  readonly batches: number;
  readonly done: boolean;
}

/** What one source's Map iteration hands to the manifest step. */
export type SourceSummary = Pick<SourceProgress, 'source' | 'expected' | 'exported' | 'batches'>;

export interface ExportDependencies {
  readonly tenants: TenantStore;
  readonly operations: OperationStore;
  /** The data-source registry, in export order. */
  readonly sources: readonly DataSource[];
  readonly s3: S3Client;
  /** The export bucket. */
  readonly bucket: string;
  readonly limits?: PartLimits;
  /** A batch (one Task invocation) writes at most `maxParts` parts or starts none after `maxSeconds`. Default 20 parts, 120 s. */
  readonly batch?: { readonly maxParts: number; readonly maxSeconds: number };
  readonly now?: () => Date;
}

export const EXPORT_STEPS = ['initiate', 'countSource', 'exportBatch', 'writeManifest', 'verifyExport', 'completeExport', 'failExport'] as const;
export type ExportStep = (typeof EXPORT_STEPS)[number];

/** What the state machine hands a Task: the step, the export, and what that step reads. */
export type ExportTaskEvent =
  | { readonly step: 'initiate' | 'verifyExport' | 'completeExport'; readonly operation: ExportInput }
  | { readonly step: 'countSource'; readonly operation: ExportInput; readonly source: string }
  | { readonly step: 'exportBatch'; readonly operation: ExportInput; readonly progress: SourceProgress }
  | { readonly step: 'writeManifest'; readonly operation: ExportInput; readonly sources: readonly SourceSummary[] }
  | { readonly step: 'failExport'; readonly operation: ExportInput; readonly failure?: StepFailure };

/** What each step answers (the ASL places it with ResultPath). */
export interface InitiateResult {
  readonly sources: readonly string[];
}
export interface ManifestResult {
  readonly manifestKey: string;
  readonly parts: number;
  readonly records: number;
  readonly bytes: number;
}
export interface FailResult {
  readonly outcome: 'failed' | 'succeeded';
}
export type ExportStepResult = InitiateResult | SourceProgress | ManifestResult | Record<string, never> | FailResult;

/** Every export of the tenant in the bucket, with the trailing slash (`acme` never reaches `acme-eu`'s): what a hard delete purges. */
export function tenantExportsPrefix(tenantId: string): string {
  return `exports/${tenantId}/`;
}

/** The export's root prefix in the bucket. */
export function exportPrefix(input: Pick<ExportInput, 'tenantId' | 'operationId'>): string {
  return `${tenantExportsPrefix(input.tenantId)}${input.operationId}`;
}

function batchKey(input: ExportInput, source: string, batch: number): string {
  return `${exportPrefix(input)}/_work/${source}/batch-${String(batch).padStart(5, '0')}.json`;
}

function sourceNamed(deps: ExportDependencies, name: string): DataSource {
  const source = deps.sources.find((candidate) => candidate.name === name);
  if (!source) throw new ExportNotAllowedError(`No data source is named '${name}'.`);
  return source;
}


/** The tenant, checked to still be owned by this export. */
async function ownedTenant(deps: ExportDependencies, input: ExportInput): Promise<Tenant> {
  const tenant = await deps.tenants.get(input.tenantId);
  if (tenant.operationId !== input.operationId) {
    throw new OperationSupersededError(`Tenant '${input.tenantId}' is '${tenant.state}' and no longer owned by export '${input.operationId}'.`);
  }
  return tenant;
}

/**
 * Step 1: `initiate_export` (active or suspended → exporting) with the operation record, in one transaction,
 * unless the request already did it (the API initiates before it answers 202, so a refusal is a 409 there).
 * ExportNotAllowedError when the lifecycle table or another operation refuses it.
 */
async function initiate(deps: ExportDependencies, input: ExportInput): Promise<InitiateResult> {
  const sources = deps.sources.map((source) => source.name);
  for (let attempt = 0; ; attempt += 1) {
    // The operation before the tenant: a twin initiating at the same time writes both at once, so a record
    // read first and a tenant read after cannot show its operation without its hold on the tenant.
    const operation = await deps.operations.find(input.operationId);
    const tenant = await deps.tenants.get(input.tenantId);
    if (tenant.operationId === input.operationId) return { sources };
    if (operation && operation.status !== 'running') throw new OperationEndedError(input.operationId, operation.status);
    if (operation) throw new OperationSupersededError(`Tenant '${input.tenantId}' is '${tenant.state}' and no longer owned by export '${input.operationId}'.`);
    try {
      await deps.tenants.applyTransition(
        tenant,
        'initiate_export',
        { actor: input.requestedBy, reason: 'Data export requested (GDPR Art. 15/20)', operationId: input.operationId },
        { alsoPut: [deps.operations.newItem({ operationId: input.operationId, tenantId: input.tenantId, workflow: 'export', input: { ...input }, requestedBy: input.requestedBy })] },
      );
      return { sources };
    } catch (error) {
      // A duplicate of this step that won the race leaves the tenant owned by this export, which the store
      // reports as a refusal (the tenant is already 'exporting'): that is success, not a reason to fail it.
      if ((await deps.tenants.find(input.tenantId))?.operationId === input.operationId) return { sources };
      if (error instanceof IllegalTransitionError || error instanceof OperationOwnershipError) throw new ExportNotAllowedError(error.message, { cause: error });
      // Changed since read (a retry of this step won the race, or another change): read it again.
      if (!(error instanceof VersionConflictError) || attempt >= 2) throw error;
    }
  }
}

/** Step 2 (per source): how many records it holds now; the start of its progress. */
async function countSource(deps: ExportDependencies, input: ExportInput, name: string): Promise<SourceProgress> {
  await ownedTenant(deps, input);
  const expected = await sourceNamed(deps, name).count(input.tenantId);
  await deps.operations.recordStep(input.operationId, `counted:${name}`, { [`progress:${name}`]: { expected, exported: 0 } });
  return { source: name, expected, exported: 0, cursor: null, nextPart: 1, batches: 0, done: false };
}

/**
 * Step 3 (per source, looped): the next batch of parts from `progress.cursor`, listed in the batch's work
 * object, and the progress after it. A retry with the same progress rewrites the same parts and work object.
 */
async function exportBatch(deps: ExportDependencies, input: ExportInput, progress: SourceProgress): Promise<SourceProgress> {
  if (progress.done) return progress;
  await ownedTenant(deps, input);
  const [{ writeParts }, { PutObjectCommand }] = await Promise.all([import('./part-writer'), import('@aws-sdk/client-s3')]);
  const batch = deps.batch ?? { maxParts: 20, maxSeconds: 120 };
  const source = sourceNamed(deps, progress.source);
  const written = await writeParts({
    s3: deps.s3,
    bucket: deps.bucket,
    exportPrefix: exportPrefix(input),
    source,
    tenantId: input.tenantId,
    cursor: progress.cursor,
    firstPart: progress.nextPart,
    maxParts: batch.maxParts,
    // The batch's running-time budget (the task Lambda's timeout): measured on the wall clock, as writeParts does.
    // eslint-disable-next-line no-restricted-syntax -- a running-time budget, a duration
    deadline: Date.now() + batch.maxSeconds * 1000,
    ...(deps.limits ? { limits: deps.limits } : {}),
  });
  const next: SourceProgress = {
    source: progress.source,
    expected: progress.expected,
    exported: progress.exported + written.exported,
    cursor: written.nextCursor,
    nextPart: progress.nextPart + written.parts.length,
    batches: progress.batches + 1,
    done: written.nextCursor === null,
  };
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: batchKey(input, progress.source, next.batches),
      Body: JSON.stringify({ source: progress.source, batch: next.batches, parts: written.parts }),
      ContentType: 'application/json',
    }),
  );
  await deps.operations.recordStep(input.operationId, `exported:${progress.source}:${next.batches}`, {
    [`progress:${progress.source}`]: { expected: next.expected, exported: next.exported },
  });
  return next;
}

async function readJson<T>(deps: ExportDependencies, key: string): Promise<T> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const object = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: key }));
  return JSON.parse(await (object.Body as { transformToString(): Promise<string> }).transformToString()) as T;
}

/** Step 4: gather each source's parts from its work objects; write `manifest.json` and `README.md`; drop the work objects. */
async function writeManifest(deps: ExportDependencies, input: ExportInput, summaries: readonly SourceSummary[]): Promise<ManifestResult> {
  await ownedTenant(deps, input);
  const [{ PutObjectCommand }, { exportReadme }, { deleteUnderPrefix }] = await Promise.all([import('@aws-sdk/client-s3'), import('./manifest'), import('./export-store')]);
  const prefix = exportPrefix(input);
  const sources: ManifestSource[] = [];
  for (const summary of summaries) {
    const parts: ExportPart[] = [];
    for (let batch = 1; batch <= summary.batches; batch += 1) {
      parts.push(...(await readJson<{ parts: ExportPart[] }>(deps, batchKey(input, summary.source, batch))).parts);
    }
    sources.push({ name: summary.source, expected: summary.expected, exported: summary.exported, parts });
  }
  const manifest: ExportManifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    tenantId: input.tenantId,
    exportId: input.operationId,
    requestedAt: input.requestedAt,
    generatedAt: clock.nowOf(deps).toISOString(),
    format: 'ndjson+gzip',
    sources,
  };
  const put = (key: string, body: string, contentType: string) => deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: `${prefix}/${key}`, Body: body, ContentType: contentType }));
  await put(MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`, 'application/json');
  await put(README_FILE, exportReadme(manifest, deps.sources), 'text/markdown; charset=utf-8');
  await deleteUnderPrefix(deps.s3, deps.bucket, `${prefix}/_work`);
  const all = sources.flatMap((source) => source.parts);
  const result = { manifestKey: MANIFEST_FILE, parts: all.length, records: all.reduce((n, p) => n + p.records, 0), bytes: all.reduce((n, p) => n + p.bytes, 0) };
  // The manifest's source order (the registry's) is what GET /exports/{id} lists progress in from now on.
  await deps.operations.recordStep(input.operationId, 'manifest_written', { manifest: result, manifestSources: sources.map((source) => source.name) });
  return result;
}

/** Step 5: the stored export against its manifest, re-read from S3. ExportVerificationError naming what does not match. */
async function verify(deps: ExportDependencies, input: ExportInput): Promise<Record<string, never>> {
  await ownedTenant(deps, input);
  const { verifyExport } = await import('./verify-export');
  const manifest = await readJson<ExportManifest>(deps, `${exportPrefix(input)}/${MANIFEST_FILE}`);
  const result = await verifyExport(deps.s3, deps.bucket, exportPrefix(input), manifest);
  if (result.problems.length > 0) throw new ExportVerificationError(result.problems);
  await deps.operations.recordStep(input.operationId, 'verified', { verified: { parts: result.parts, records: result.records, bytes: result.bytes } });
  return {};
}

/** Step 6: `complete_export` (back to the state it came from) and the operation `succeeded`, in one transaction. */
async function completeExport(deps: ExportDependencies, input: ExportInput): Promise<Record<string, never>> {
  const operation = await deps.operations.get(input.operationId);
  if (operation.status === 'succeeded') return {};
  if (!operation.steps.includes('verified')) throw new ExportVerificationError(['the export was not verified before completion']);
  const tenant = await ownedTenant(deps, input);
  await deps.tenants.applyTransition(
    tenant,
    'complete_export',
    { actor: input.requestedBy, reason: 'Data export completed and verified', operationId: input.operationId },
    { alsoUpdate: [deps.operations.finishUpdate(input.operationId, 'succeeded', 'running')] },
  );
  return {};
}

/**
 * Any failure: `fail_export` (back to the state it came from) and the operation `failed` with the reason, in
 * one transaction; the partial export's objects are deleted (personal data with no use). An export refused
 * before it started gets a `failed` operation record all the same. Idempotent; a completed export stays so.
 */
async function failExport(deps: ExportDependencies, input: ExportInput, failure?: StepFailure): Promise<FailResult> {
  const error = describeFailure(failure, 'The export failed without an error.');
  const operation = await deps.operations.find(input.operationId);
  if (!operation) {
    await deps.operations.putFailed({ operationId: input.operationId, tenantId: input.tenantId, workflow: 'export', input: { ...input }, requestedBy: input.requestedBy }, error);
    return { outcome: 'failed' };
  }
  if (operation.status === 'succeeded') return { outcome: 'succeeded' };
  if (operation.status === 'running') {
    const { deleteUnderPrefix } = await import('./export-store');
    await deleteUnderPrefix(deps.s3, deps.bucket, exportPrefix(input));
    const tenant = await deps.tenants.find(input.tenantId);
    if (tenant?.operationId === input.operationId) {
      await deps.tenants.applyTransition(
        tenant,
        'fail_export',
        { actor: input.requestedBy, reason: `Data export failed (${error.code}): ${error.message}`, operationId: input.operationId },
        { alsoUpdate: [deps.operations.finishUpdate(input.operationId, 'failed', 'running', error)] },
      );
    } else {
      await deps.operations.finish(input.operationId, 'failed', 'running', error);
    }
  }
  return { outcome: 'failed' };
}

/** S3's server-side and throttling errors after the SDK's own retries, as the error the ASL retries. */
function isStorageTransient(error: unknown): boolean {
  const e = error as { $retryable?: unknown; $fault?: string; name?: string };
  return !!e?.$retryable || e?.$fault === 'server' || e?.name === 'SlowDown';
}

/** The step dispatcher the task handler and the local runner both call. */
export async function runExportStep(deps: ExportDependencies, event: ExportTaskEvent): Promise<ExportStepResult> {
  try {
    return await dispatch(deps, event);
  } catch (error) {
    if (isStoreContention(error)) throw new StoreContentionError(`DynamoDB contention in ${event.step}: ${(error as Error).message}`, { cause: error });
    if (isStorageTransient(error)) throw new ExportStorageTransientError(`S3 failed in ${event.step}: ${(error as Error).message}`, { cause: error });
    throw error;
  }
}

async function dispatch(deps: ExportDependencies, event: ExportTaskEvent): Promise<ExportStepResult> {
  switch (event.step) {
    case 'initiate':
      return initiate(deps, event.operation);
    case 'countSource':
      return countSource(deps, event.operation, event.source);
    case 'exportBatch':
      return exportBatch(deps, event.operation, event.progress);
    case 'writeManifest':
      return writeManifest(deps, event.operation, event.sources);
    case 'verifyExport':
      return verify(deps, event.operation);
    case 'completeExport':
      return completeExport(deps, event.operation);
    case 'failExport':
      return failExport(deps, event.operation, event.failure);
  }
}
