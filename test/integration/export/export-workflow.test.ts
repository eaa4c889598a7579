/**
 * The export workflow end to end: statemachines/export.asl.json executed for real by aws-local-stepfunctions,
 * its Task states bound to the export steps, against DynamoDB Local and the local S3 server, with test data
 * sources over real DynamoDB items, real S3 objects and generated records.
 */
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { StateMachine } from 'aws-local-stepfunctions';

type EventLog = { type: string; state?: { name: string; input?: unknown; output?: unknown }; input?: unknown; output?: unknown };
import type { DataRecord, DataSource } from '../../../functions/data-sources/data-source';
import { exportPrefix, runExportStep, type ExportDependencies, type ExportInput, type ExportTaskEvent } from '../../../functions/export/export-steps';
import type { ExportManifest } from '../../../functions/export/manifest';
import { OperationStore } from '../../../functions/operations/operation-store';
import { config } from '../../../functions/shared/config';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import { EMPTY_USAGE } from '../../../functions/plans/plan-catalog';
import { loadDefinition } from '../../../infra/local/local-workflow-runner';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { useTestTable } from '../../support/test-table';
import { allRecords, auditSource, documentsSource, memorySource, putDocuments } from '../../support/test-data-sources';

const client = useTestTable();
const tenants = new TenantStore({ client, tableName: config.tableName });
const operations = new OperationStore({ client, tableName: config.tableName });
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const bucket = `exports-${config.tableName.slice(-8)}`;
const appBucket = `app-${config.tableName.slice(-8)}`;

const definition = loadDefinition('export' as never);
const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } });

/** Every Task state's name, in the Map's processor too. */
function taskStates(states: Record<string, { Type: string; ItemProcessor?: { States: Record<string, never> } }>): string[] {
  return Object.entries(states).flatMap(([name, state]) => [...(state.Type === 'Task' ? [name] : []), ...(state.ItemProcessor ? taskStates(state.ItemProcessor.States) : [])]);
}
const TASKS = taskStates(definition.States as never);

type Hook = (state: string, event: ExportTaskEvent, deps: ExportDependencies) => Promise<ExportDependencies | void> | ExportDependencies | void;

interface Run {
  readonly events: EventLog[];
  readonly error?: unknown;
  /** The largest JSON of any state's input or output, and of the execution's, in bytes. */
  readonly largestState: number;
}

/** Run the export ASL for `input`; `before` may swap a step's dependencies, `after` may act once a step returned. */
async function runExport(deps: ExportDependencies, input: ExportInput, hooks: { before?: Hook; after?: Hook } = {}): Promise<Run> {
  const handlers = Object.fromEntries(
    TASKS.map((state) => [
      state,
      async (event: ExportTaskEvent) => {
        const used = (await hooks.before?.(state, event, deps)) ?? deps;
        const result = await runExportStep(used, event);
        await hooks.after?.(state, event, deps);
        return result;
      },
    ]),
  );
  const execution = machine.run({ operation: input } as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: Object.fromEntries(TASKS.map((state) => [state, 1])) },
  });
  const events: EventLog[] = [];
  const collected = (async () => {
    for await (const event of execution.eventLogs) events.push(event);
  })();
  let error: unknown;
  await execution.result.catch((caught: unknown) => {
    error = caught;
  });
  await collected;
  const sizes = events.flatMap((event) => {
    const e = event as { input?: unknown; output?: unknown; state?: { input?: unknown; output?: unknown } };
    return [e.input, e.output, e.state?.input, e.state?.output].filter((value) => value !== undefined).map((value) => Buffer.byteLength(JSON.stringify(value)));
  });
  return { events, error, largestState: Math.max(...sizes) };
}

let sequence = 0;
function exportOf(tenantId: string): ExportInput {
  sequence += 1;
  return { operationId: `exp_${tenantId}_${sequence}`, tenantId, requestedBy: 'operator:test', requestedAt: '2026-11-29T23:00:00.000Z' };
}

async function createTenant(tenantId: string): Promise<void> {
  await tenants.create({ tenantId, name: `Tenant ${tenantId}`, email: `admin@${tenantId}.example`, plan: 'starter', usage: EMPTY_USAGE }, { actor: 'test' });
}

async function getObject(key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function keysUnder(prefix: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
  return (page.Contents ?? []).map((object) => (object.Key as string).slice(prefix.length + 1)).sort();
}

/** The manifest, and each source's records decoded from its stored parts (checking each part's bytes on the way). */
async function decodeExport(input: ExportInput): Promise<{ manifest: ExportManifest; records: Record<string, DataRecord[]> }> {
  const prefix = exportPrefix(input);
  const manifest = JSON.parse((await getObject(`${prefix}/manifest.json`)).toString('utf8')) as ExportManifest;
  const records: Record<string, DataRecord[]> = {};
  for (const source of manifest.sources) {
    records[source.name] = [];
    for (const part of source.parts) {
      const stored = await getObject(`${prefix}/${part.key}`);
      expect({ key: part.key, bytes: stored.length, sha256: createHash('sha256').update(stored).digest('hex') }).toEqual({ key: part.key, bytes: part.bytes, sha256: part.sha256 });
      const lines = gunzipSync(stored).toString('utf8').split('\n');
      expect(lines.pop()).toBe('');
      expect(lines).toHaveLength(part.records);
      records[source.name]?.push(...lines.map((line) => JSON.parse(line) as DataRecord));
    }
  }
  return { manifest, records };
}

function generated(count: number, payloadBytes: number): DataRecord[] {
  return Array.from({ length: count }, (_, i) => ({ i, payload: `${i}:`.padEnd(payloadBytes, 'x'), unicode: 'ünïcødé ✓' }));
}

const memory: Record<string, DataRecord[]> = {};
let deps: ExportDependencies;

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new CreateBucketCommand({ Bucket: appBucket }));
  const sources: DataSource[] = [auditSource(tenants), documentsSource(s3, appBucket), memorySource('usage', memory)];
  deps = {
    tenants,
    operations,
    sources,
    s3,
    bucket,
    // Small parts and batches, so a few hundred records make several parts and batches.
    limits: { pageSize: 40, maxRecordsPerPart: 100, maxBytesPerPart: 1024 * 1024 },
    batch: { maxParts: 2, maxSeconds: 60 },
  };
});
afterAll(() => s3.destroy());

describe('Export workflow: round trip', () => {
  it('should export every source in verified gzip NDJSON parts: records equal the sources, counts equal the manifest, checksums equal the bytes', async () => {
    await createTenant('exp-round');
    await tenants.applyTransition(await tenants.get('exp-round'), 'suspend', { actor: 'test', reason: 'dunning' });
    await putDocuments(s3, appBucket, 'exp-round', Array.from({ length: 130 }, (_, i) => ({ name: `doc-${String(i).padStart(4, '0')}.txt`, text: `document ${i} ✓` })));
    // A look-alike tenant's documents must not leak into this export.
    await putDocuments(s3, appBucket, 'exp-round-eu', [{ name: 'other.txt', text: 'not yours' }]);
    memory['exp-round'] = generated(250, 200);
    const input = exportOf('exp-round');

    const run = await runExport(deps, input);

    expect(run.error).toBeUndefined();
    const operation = await operations.get(input.operationId);
    expect(operation).toMatchObject({ workflow: 'export', status: 'succeeded' });
    const { manifest, records } = await decodeExport(input);
    expect(manifest).toMatchObject({ formatVersion: 1, tenantId: 'exp-round', exportId: input.operationId, requestedAt: input.requestedAt, format: 'ndjson+gzip' });
    expect(manifest.sources.map((s) => [s.name, s.expected, s.exported, s.parts.length])).toEqual([
      ['audit', 3, 3, 1],
      ['documents', 130, 130, 2],
      ['usage', 250, 250, 3],
    ]);
    expect(records.documents).toEqual(await allRecords(deps.sources[1] as DataSource, 'exp-round'));
    expect(records.usage).toEqual(memory['exp-round']);
    // The audit trail as it was when exported: everything but the completion written after it.
    const audit = await allRecords(deps.sources[0] as DataSource, 'exp-round');
    expect(audit[0]).toMatchObject({ event: 'complete_export', from: 'exporting', to: 'suspended' });
    expect(records.audit).toEqual(audit.slice(1));
    expect(records.audit?.map((entry) => entry.event)).toEqual(['initiate_export', 'suspend', 'create']);
    // Back in the state it came from; the work objects are gone; the README explains every source and field.
    expect(await tenants.get('exp-round')).toMatchObject({ state: 'suspended', version: 4 });
    expect(await keysUnder(exportPrefix(input))).toEqual([
      'README.md', 'audit/part-00001.ndjson.gz', 'documents/part-00001.ndjson.gz', 'documents/part-00002.ndjson.gz', 'manifest.json',
      'usage/part-00001.ndjson.gz', 'usage/part-00002.ndjson.gz', 'usage/part-00003.ndjson.gz',
    ]);
    const readme = (await getObject(`${exportPrefix(input)}/README.md`)).toString('utf8');
    for (const text of ['### documents', '`text`: its content (UTF-8)', '### usage', '`sha256`', 'manifest.json', '130 records in 2 part(s)']) expect(readme).toContain(text);
    expect(operation.facts).toMatchObject({ 'progress:usage': { expected: 250, exported: 250 }, verified: { parts: 6, records: 383 } });
  });

  it('should export a tenant whose sources are empty: a manifest with zero counts and no parts', async () => {
    await createTenant('exp-empty');
    const input = exportOf('exp-empty');
    const run = await runExport({ ...deps, sources: [memorySource('usage', memory)] }, input);
    expect(run.error).toBeUndefined();
    const { manifest } = await decodeExport(input);
    expect(manifest.sources).toEqual([{ name: 'usage', expected: 0, exported: 0, parts: [] }]);
    expect(await tenants.get('exp-empty')).toMatchObject({ state: 'active' });
  });
});

describe('Export workflow: failures', () => {
  it('should retry a batch whose task died after writing some parts, and end complete without a duplicate part', async () => {
    await createTenant('exp-crash');
    memory['exp-crash'] = generated(450, 100);
    const input = exportOf('exp-crash');
    let crashed = false;
    const crashingS3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
    let partsWritten = 0;
    crashingS3.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key ?? '';
        if (context.commandName === 'PutObjectCommand' && key.includes('/usage/part-') && partsWritten === 3 && !crashed) {
          crashed = true;
          // As when the Lambda process dies (out of memory, its timeout): Step Functions reports Lambda.Unknown.
          throw Object.assign(new Error('Runtime exited with error: signal: killed'), { name: 'Lambda.Unknown' });
        }
        const result = await next(args);
        if (context.commandName === 'PutObjectCommand' && key.includes('/usage/part-')) partsWritten += 1;
        return result;
      },
      { step: 'initialize', name: 'crashAfterThreeParts' },
    );

    const run = await runExport({ ...deps, sources: [memorySource('usage', memory)] }, input, {
      before: (state, _event, current) => (state === 'ExportBatch' && !crashed ? { ...current, s3: crashingS3 } : current),
    });

    expect(run.error).toBeUndefined();
    expect(crashed).toBe(true);
    const retried = run.events.filter((event) => event.type === 'StateRetried' && (event as { state: { name: string } }).state.name === 'ExportBatch');
    expect(retried).toHaveLength(1);
    expect((await operations.get(input.operationId)).status).toBe('succeeded');
    const { manifest, records } = await decodeExport(input);
    expect(records.usage).toEqual(memory['exp-crash']);
    expect(manifest.sources[0]?.parts.map((part) => part.key)).toEqual([1, 2, 3, 4, 5].map((n) => `usage/part-0000${n}.ndjson.gz`));
    expect((await keysUnder(exportPrefix(input))).filter((key) => key.includes('part-'))).toHaveLength(5);
    crashingS3.destroy();
  });

  it.each([
    ['deleted', (key: string) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })), /part usage\/part-00002\.ndjson\.gz is missing/],
    ['altered', (key: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from('not the bytes that were written') })), /part usage\/part-00002\.ndjson\.gz was altered/],
  ])('should fail verification when a part is %s after it was written: fail_export, the export failed naming the part', async (_how, tamper, reason) => {
    await createTenant(`exp-tamper-${_how}`);
    const tenantId = `exp-tamper-${_how}`;
    memory[tenantId] = generated(300, 50);
    const input = exportOf(tenantId);

    const run = await runExport({ ...deps, sources: [memorySource('usage', memory)] }, input, {
      after: async (state) => {
        if (state === 'WriteManifest') await tamper(`${exportPrefix(input)}/usage/part-00002.ndjson.gz`);
      },
    });

    expect((run.error as Error | undefined)?.message ?? '').toMatch(/ExportFailed|failed/);
    const operation = await operations.get(input.operationId);
    expect(operation.status).toBe('failed');
    expect(operation.error?.code).toBe('ExportVerificationError');
    expect(operation.error?.message).toMatch(reason);
    expect(operation.steps).not.toContain('verified');
    const tenant = await tenants.get(tenantId);
    expect(tenant).toMatchObject({ state: 'active' });
    expect(tenant.operationId).toBeUndefined();
    const history = await tenants.history(tenantId, { limit: 1 });
    expect(history.items[0]).toMatchObject({ event: 'fail_export', from: 'exporting', to: 'active' });
    expect(history.items[0]?.reason).toMatch(reason);
    // The partial export is not left behind.
    expect(await keysUnder(exportPrefix(input))).toEqual([]);
  });

  it('should fail an export the lifecycle refuses (another operation owns the tenant), with an operation record saying why', async () => {
    await createTenant('exp-busy');
    const first = exportOf('exp-busy');
    await tenants.applyTransition(await tenants.get('exp-busy'), 'initiate_export', { actor: 'test', operationId: first.operationId }, {
      alsoPut: [operations.newItem({ operationId: first.operationId, tenantId: 'exp-busy', workflow: 'export', input: { ...first }, requestedBy: 'test' })],
    });
    const second = exportOf('exp-busy');

    const run = await runExport(deps, second);

    expect(run.error).toBeDefined();
    const operation = await operations.get(second.operationId);
    expect(operation).toMatchObject({ status: 'failed', workflow: 'export', error: { code: 'ExportNotAllowedError' } });
    expect(operation.error?.message).toContain(first.operationId);
    // The running export keeps the tenant.
    expect(await tenants.get('exp-busy')).toMatchObject({ state: 'exporting', operationId: first.operationId });
    expect((await operations.get(first.operationId)).status).toBe('running');
  });
});

describe('Export workflow: payload size', () => {
  it('should keep every state far below the 256 KB limit for a tenant with megabytes of records', async () => {
    await createTenant('exp-large');
    memory['exp-large'] = generated(6000, 1000);
    const input = exportOf('exp-large');

    const run = await runExport({ ...deps, limits: { pageSize: 250, maxRecordsPerPart: 500, maxBytesPerPart: 8 * 1024 * 1024 }, batch: { maxParts: 3, maxSeconds: 60 }, sources: [memorySource('usage', memory)] }, input);

    expect(run.error).toBeUndefined();
    const { manifest, records } = await decodeExport(input);
    expect(records.usage).toHaveLength(6000);
    expect(JSON.stringify(records.usage).length).toBeGreaterThan(6_000_000);
    expect(manifest.sources[0]?.parts).toHaveLength(12);
    // 4 batches looped through the state machine, and no state carried more than a few kilobytes.
    expect(run.events.filter((event) => event.type === 'StateEntered' && (event as { state: { name: string } }).state.name === 'ExportBatch')).toHaveLength(4);
    expect(run.largestState).toBeLessThan(4 * 1024);
  });
});
