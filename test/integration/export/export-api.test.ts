/**
 * GDPR export through the HTTPS API (issue 8, "Must show"): the local API adapter, the real export ASL run by
 * the local workflow runner with the real export steps and the real data-source registry, DynamoDB Local and
 * the local S3 server. Downloads go through the presigned URLs GET /exports/{id} hands out.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DataRecord, DataSource } from '../../../functions/data-sources/data-source';
import { createDataSources } from '../../../functions/data-sources/registry';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { s3ExportFiles, setExportFiles } from '../../../functions/export/export-files';
import { oneMonthAfter } from '../../../functions/export/export-request';
import { exportPrefix } from '../../../functions/export/export-steps';
import type { ExportManifest } from '../../../functions/export/manifest';
import { config } from '../../../functions/shared/config';
import { workflowPorts } from '../../../functions/workflows/ports';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { workflowDependencies } from '../../../functions/workflows/workflow-deps';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { ApiHarness } from '../../support/api-harness';
import { allRecords } from '../../support/test-data-sources';

type Body = Record<string, unknown>;
interface Link {
  readonly key: string;
  readonly url: string;
  readonly expiresAt: string;
}
interface ExportBody {
  readonly exportId: string;
  readonly tenantId: string;
  readonly status: string;
  readonly step: string;
  readonly requestedAt: string;
  readonly dueAt: string;
  readonly overdueRisk: boolean;
  readonly sources: ReadonlyArray<{ source: string; expected: number; exported: number }>;
  readonly manifest?: { parts: number; records: number; bytes: number };
  readonly error?: { code: string; message: string };
  readonly download?: { expiresAt: string; files: Link[] };
}

const suffix = config.tableName.slice(-8);
const documentsBucket = `docs-${suffix}`;
const exportsBucket = `exports-${suffix}`;
// Read by the export steps' storage (functions/export/export-deps.ts) on first use.
process.env.DOCUMENTS_BUCKET = documentsBucket;
process.env.EXPORTS_BUCKET = exportsBucket;

const api = new ApiHarness();
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
let fault: FaultInjector | undefined;
const runnerErrors: unknown[] = [];
const runner = new LocalWorkflowRunner({ dependencies: workflowDependencies, retryIntervalMs: 1, onError: (error) => runnerErrors.push(error), faults: (state, phase, input) => fault?.(state, phase, input) });
const vectorStore = new S3VectorStore({ s3: () => s3, bucket: documentsBucket });
let sources: readonly DataSource[];
const source = (name: string) => sources.find((candidate) => candidate.name === name) as DataSource;

beforeAll(async () => {
  await api.start();
  for (const bucket of [documentsBucket, exportsBucket]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  setWorkflowRunner(runner);
  setExportFiles(await s3ExportFiles({ s3, bucket: exportsBucket, local: true }));
  sources = createDataSources({ client: api.documentClient, tableName: config.tableName, s3: () => s3, documents: { bucket: documentsBucket }, vectorStore, billing: workflowPorts().billing });
});
afterEach(() => {
  if (runnerErrors.length > 0) console.error(runnerErrors.splice(0));
  fault = undefined;
});
afterAll(async () => {
  await runner.idle();
  await api.stop();
  s3.destroy();
});

const mark = (tenantId: string) => `owner:${tenantId};`;

/** A tenant with documents, vectors, usage, invoices (an upgrade charged by the local ledger) and audit history, all through the API or its stores. */
async function seedTenant(tenantId: string, documents: number): Promise<void> {
  await api.createTenant(tenantId, { name: `Org ${mark(tenantId)}` });
  expect((await api.request('POST', `/tenants/${tenantId}/plan`, { body: { plan: 'professional', reason: mark(tenantId) } })).status).toBe(202);
  await runner.idle();
  expect((await api.request('POST', `/tenants/${tenantId}/suspend`, { body: { reason: mark(tenantId) } })).status).toBe(200);
  expect((await api.request('POST', `/tenants/${tenantId}/resume`, { body: { reason: mark(tenantId) } })).status).toBe(200);
  expect((await api.request('PUT', `/tenants/${tenantId}/usage`, { body: { usage: { queriesPerMonth: 100 + documents, storageGb: 0.5, documents, users: 2 } } })).status).toBe(200);
  for (let i = 0; i < documents; i += 1) {
    await s3.send(new PutObjectCommand({ Bucket: documentsBucket, Key: `tenants/${tenantId}/docs/${String(i).padStart(3, '0')}.txt`, Body: `Document ${i} ${mark(tenantId)} ✓`, ContentType: 'text/plain; charset=utf-8' }));
  }
  await vectorStore.upsert(tenantId, Array.from({ length: documents }, (_, i) => ({ id: `doc-${i}#0`, values: [i, 0.5, -0.25, tenantId.length], metadata: { owner: mark(tenantId) } })));
}

async function startExport(tenantId: string, headers: Record<string, string> = {}) {
  return api.request<Body>('POST', `/tenants/${tenantId}/exports`, { body: { reason: 'GDPR Art. 15 request #1' }, headers });
}

async function getExport(exportId: string, token?: string) {
  return api.request<ExportBody>('GET', `/exports/${exportId}`, token === undefined ? {} : { token });
}

async function download(url: string): Promise<Buffer> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

/** Every file of a finished export through its presigned URLs: the manifest and each source's records decoded from its parts (sizes and sha256 checked against the manifest). */
async function downloadExport(body: ExportBody): Promise<{ manifest: ExportManifest; records: Record<string, DataRecord[]>; readme: string }> {
  const links = new Map((body.download?.files ?? []).map((link) => [link.key, link.url]));
  const manifest = JSON.parse((await download(links.get('manifest.json') as string)).toString('utf8')) as ExportManifest;
  const readme = (await download(links.get('README.md') as string)).toString('utf8');
  const records: Record<string, DataRecord[]> = {};
  for (const entry of manifest.sources) {
    records[entry.name] = [];
    expect(entry.parts.reduce((n, part) => n + part.records, 0)).toBe(entry.exported);
    for (const part of entry.parts) {
      const bytes = await download(links.get(part.key) as string);
      expect({ key: part.key, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }).toEqual({ key: part.key, bytes: part.bytes, sha256: part.sha256 });
      const lines = gunzipSync(bytes).toString('utf8').split('\n');
      expect(lines.pop()).toBe('');
      expect(lines).toHaveLength(part.records);
      records[entry.name]?.push(...lines.map((line) => JSON.parse(line) as DataRecord));
    }
  }
  return { manifest, records, readme };
}

describe('GDPR export through the API: round trip', () => {
  it('should export a seeded tenant: records equal the sources, counts equal the manifest, checksums equal the downloaded bytes', async () => {
    await seedTenant('acme', 5);
    const before = await api.request<Body>('GET', '/tenants/acme');

    const started = await startExport('acme');

    expect(started.status).toBe(202);
    const exportId = started.body.exportId as string;
    expect(started.body).toMatchObject({ tenantId: 'acme', status: 'running', export: `/exports/${exportId}`, operation: `/operations/${exportId}` });
    expect(started.headers.get('location')).toBe(`/exports/${exportId}`);
    const requestedAt = Date.parse(started.body.requestedAt as string);
    expect(Math.abs(requestedAt - Date.now())).toBeLessThan(60_000);
    // One calendar month later (GDPR Art. 12(3); oneMonthAfter's own cases are in test/unit/export).
    expect(started.body.dueAt).toBe(oneMonthAfter(started.body.requestedAt as string));
    await runner.idle();

    const done = await getExport(exportId);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ exportId, tenantId: 'acme', status: 'succeeded', step: 'verified', overdueRisk: false });
    const { manifest, records, readme } = await downloadExport(done.body);
    expect(manifest).toMatchObject({ formatVersion: 1, tenantId: 'acme', exportId, requestedAt: started.body.requestedAt, format: 'ndjson+gzip' });
    // Progress shown per source equals the manifest's counts; the summary equals the parts.
    expect(done.body.sources).toEqual(manifest.sources.map((entry) => ({ source: entry.name, expected: entry.expected, exported: entry.exported })));
    const parts = manifest.sources.flatMap((entry) => entry.parts);
    expect(done.body.manifest).toMatchObject({ parts: parts.length, records: parts.reduce((n, p) => n + p.records, 0), bytes: parts.reduce((n, p) => n + p.bytes, 0) });
    for (const entry of manifest.sources) expect([entry.name, entry.exported]).toEqual([entry.name, entry.expected]);
    // Sources the export itself does not change: exactly their records now.
    for (const name of ['usage', 'tenant-items', 'documents', 'vectors', 'billing']) {
      expect([name, records[name]]).toEqual([name, await allRecords(source(name), 'acme')]);
    }
    expect(records.documents).toHaveLength(5);
    expect(records.vectors).toHaveLength(5);
    expect(records['billing']?.length).toBeGreaterThan(0);
    // The audit trail (oldest first) as it was when exported: everything but the completion written after it.
    const audit = await allRecords(source('audit'), 'acme');
    expect(audit.at(-1)).toMatchObject({ event: 'complete_export', from: 'exporting', to: 'active', operationId: exportId });
    expect(records.audit).toEqual(audit.slice(0, -1));
    expect(records.audit?.at(-1)).toMatchObject({ event: 'initiate_export', from: 'active', to: 'exporting', reason: 'GDPR Art. 15 request #1' });
    expect(records.tenant).toEqual([expect.objectContaining({ tenantId: 'acme', state: 'exporting', plan: 'professional' })]);
    expect(readme).toContain('manifest.json');
    // Back where it was, one version for the initiate and one for the completion.
    expect((await api.request<Body>('GET', '/tenants/acme')).body).toMatchObject({ state: 'active', version: (before.body.version as number) + 2 });
    // Listed for its tenant, newest first.
    const listed = await api.request<{ items: ExportBody[]; nextCursor: string | null }>('GET', '/tenants/acme/exports');
    expect(listed.body.items.map((item) => [item.exportId, item.status])).toEqual([[exportId, 'succeeded']]);
    expect(listed.body.nextCursor).toBeNull();
  });

  it('should hand out fresh presigned URLs on each read, valid for minutes', async () => {
    await api.createTenant('fresh-urls');
    const exportId = (await startExport('fresh-urls')).body.exportId as string;
    await runner.idle();

    const first = (await getExport(exportId)).body.download as { expiresAt: string; files: Link[] };
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = (await getExport(exportId)).body.download as { expiresAt: string; files: Link[] };

    expect(first.files.map((file) => file.key)).toEqual(second.files.map((file) => file.key));
    expect(first.files[0]?.url).not.toBe(second.files[0]?.url);
    const left = Date.parse(second.expiresAt) - Date.now();
    expect(left).toBeGreaterThan(60_000);
    expect(left).toBeLessThanOrEqual(15 * 60_000);
    expect(new URL(second.files[0]?.url as string).searchParams.get('X-Amz-Expires')).toBe('900');
  });
});

describe('GDPR export through the API: isolation', () => {
  it('should export only its own records for look-alike tenants acme-eu and acme-corp', async () => {
    await seedTenant('acme-eu', 3);
    await seedTenant('acme-corp', 2);

    const ids = { 'acme-eu': (await startExport('acme-eu')).body.exportId as string, 'acme-corp': (await startExport('acme-corp')).body.exportId as string };
    await runner.idle();

    for (const [tenantId, exportId] of Object.entries(ids)) {
      const body = (await getExport(exportId)).body;
      expect([tenantId, body.status]).toEqual([tenantId, 'succeeded']);
      const { records } = await downloadExport(body);
      const text = JSON.stringify(records);
      for (const other of ['acme', 'acme-eu', 'acme-corp'].filter((name) => name !== tenantId)) expect([tenantId, text.includes(mark(other))]).toEqual([tenantId, false]);
      expect(records.documents?.length).toBe(tenantId === 'acme-eu' ? 3 : 2);
      for (const name of ['documents', 'vectors', 'billing', 'usage']) expect(records[name]).toEqual(await allRecords(source(name), tenantId));
    }
  });

  it("should let a tenant-scoped token start and read its own tenant's exports only (another's is 404 / 403)", async () => {
    await api.createTenant('own-a');
    await api.createTenant('own-b');
    const ownToken = api.tenantToken('own-a');

    const started = await api.request<Body>('POST', '/tenants/own-a/exports', { token: ownToken });
    const othersStart = await api.request<Body>('POST', '/tenants/own-b/exports', { token: ownToken });
    await runner.idle();
    const otherExport = (await startExport('own-b')).body.exportId as string;
    await runner.idle();

    expect(started.status).toBe(202);
    expect((await getExport(started.body.exportId as string, ownToken)).body).toMatchObject({ status: 'succeeded' });
    expect(othersStart.status).toBe(403);
    const hidden = await getExport(otherExport, ownToken);
    expect([hidden.status, (hidden.body as unknown as { error: { code: string } }).error.code]).toEqual([404, 'EXPORT_NOT_FOUND']);
    expect((await api.request<Body>('GET', '/tenants/own-b/exports', { token: ownToken })).status).toBe(403);
    // An operation id of another workflow is not an export.
    await api.request('POST', '/tenants/own-a/plan', { body: { plan: 'professional' } });
    const planOp = ((await api.request<{ items: Array<{ operationId?: string; event: string }> }>('GET', '/tenants/own-a/history?limit=1')).body.items[0]?.operationId) as string;
    await runner.idle();
    expect((await getExport(planOp)).status).toBe(404);
  });
});

describe('GDPR export through the API: refusals', () => {
  it.each([
    ['deleting', 'ILLEGAL_TRANSITION'],
    ['deleted', 'ILLEGAL_TRANSITION'],
    ['reactivating', 'ILLEGAL_TRANSITION'],
  ])('should refuse an export from %s with 409 %s and change nothing', async (state, code) => {
    const tenantId = `refuse-${state}`;
    await api.createTenant(tenantId);
    const events: Record<string, string[]> = { deleting: ['initiate_deletion'], deleted: ['initiate_deletion', 'complete_deletion'], reactivating: ['suspend', 'resume'] };
    let tenant = await api.store.get(tenantId);
    for (const event of events[state] ?? []) tenant = await api.store.applyTransition(tenant, event as never, { actor: 'test', reason: 'setup' });
    expect(tenant.state).toBe(state);
    const snapshot = await api.tableSnapshot();

    const refused = await startExport(tenantId);

    expect(refused.status).toBe(409);
    expect((refused.body.error as Body).code).toBe(code);
    expect(await api.tableSnapshot()).toEqual(snapshot);
  });

  it('should refuse an export while a plan change runs (409 OPERATION_IN_PROGRESS), and an upgrade while an export runs', async () => {
    await api.createTenant('busy');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Hold the export in its first batch, so it is running when the upgrade is asked for.
    fault = async (state, phase) => {
      if (state === 'ExportBatch' && phase === 'before') await held;
    };
    const started = await startExport('busy');
    expect(started.status).toBe(202);
    const exportId = started.body.exportId as string;

    const upgrade = await api.request<Body>('POST', '/tenants/busy/plan', { body: { plan: 'professional' } });
    const second = await startExport('busy');
    // The execution runs on its own: it is held at its first batch, after counting (the count may still be under
    // way on a busy machine when the requests above are answered).
    let running = await getExport(exportId);
    for (let attempt = 0; attempt < 100 && !String(running.body.step).startsWith('counted:'); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      running = await getExport(exportId);
    }
    release();
    await runner.idle();

    expect(upgrade.status).toBe(409);
    expect(upgrade.body.error).toMatchObject({ code: 'OPERATION_IN_PROGRESS', details: { operationId: exportId } });
    expect(second.status).toBe(409);
    expect((second.body.error as Body).code).toBe('OPERATION_IN_PROGRESS');
    expect(running.body).toMatchObject({ status: 'running' });
    expect(running.body.step).toMatch(/^counted:/);
    expect(running.body.sources.length).toBeGreaterThan(0);
    expect(running.body.download).toBeUndefined();
    expect((await getExport(exportId)).body.status).toBe('succeeded');
    expect((await api.request<Body>('GET', '/tenants/busy')).body).toMatchObject({ state: 'active', plan: 'starter' });
  });

  it('should honour If-Match and Idempotency-Key like the other tenant-changing POSTs', async () => {
    await api.createTenant('keys');
    const stale = await startExport('keys', { 'if-match': '"7"' });
    expect([stale.status, (stale.body.error as Body).code]).toEqual([409, 'VERSION_CONFLICT']);

    const first = await startExport('keys', { 'idempotency-key': 'export-keys-1', 'if-match': '"1"' });
    const replay = await startExport('keys', { 'idempotency-key': 'export-keys-1', 'if-match': '"1"' });
    await runner.idle();

    expect(first.status).toBe(202);
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.exportId).toBe(first.body.exportId);
    expect((await api.request<{ items: unknown[] }>('GET', '/tenants/keys/exports')).body.items).toHaveLength(1);
  });
});

describe('GDPR export through the API: failures (the course\'s failure 2)', () => {
  it('should retry a batch whose task died after writing its parts and end complete', async () => {
    await seedTenant('crash-batch', 3);
    let died = 0;
    fault = (state, phase) => {
      if (state === 'ExportBatch' && phase === 'after' && died === 0) {
        died += 1;
        // As when the Lambda process dies once its parts are written: Step Functions reports Lambda.Unknown.
        throw Object.assign(new Error('Runtime exited with error: signal: killed'), { name: 'Lambda.Unknown' });
      }
    };

    const exportId = (await startExport('crash-batch')).body.exportId as string;
    await runner.idle();

    expect(died).toBe(1);
    const body = (await getExport(exportId)).body;
    expect(body.status).toBe('succeeded');
    const { manifest, records } = await downloadExport(body);
    for (const entry of manifest.sources) expect([entry.name, entry.exported, new Set(entry.parts.map((p) => p.key)).size]).toEqual([entry.name, entry.expected, entry.parts.length]);
    expect(records.documents).toEqual(await allRecords(source('documents'), 'crash-batch'));
  });

  it.each([
    ['deleted', (key: string) => s3.send(new DeleteObjectCommand({ Bucket: exportsBucket, Key: key })), /is missing/],
    ['altered', (key: string) => s3.send(new PutObjectCommand({ Bucket: exportsBucket, Key: key, Body: Buffer.from('not the bytes that were written') })), /was altered/],
  ])('should show the export failed with the reason when a part is %s after it was written, the tenant back in its state', async (how, tamper, reason) => {
    const tenantId = `tamper-${how}`;
    await api.createTenant(tenantId);
    await api.request('POST', `/tenants/${tenantId}/suspend`, { body: { reason: 'dunning' } });
    let exportId = '';
    fault = async (state, phase, input) => {
      if (state === 'WriteManifest' && phase === 'after') await tamper(`${exportPrefix(input)}/documents/part-00001.ndjson.gz`);
    };
    await s3.send(new PutObjectCommand({ Bucket: documentsBucket, Key: `tenants/${tenantId}/doc.txt`, Body: 'a document' }));

    exportId = (await startExport(tenantId)).body.exportId as string;
    await runner.idle();

    const body = (await getExport(exportId)).body;
    expect(body).toMatchObject({ status: 'failed', error: { code: 'ExportVerificationError' } });
    expect(body.error?.message).toMatch(reason);
    expect(body.error?.message).toContain('documents/part-00001.ndjson.gz');
    expect(body.download).toBeUndefined();
    expect((await api.request<Body>('GET', `/tenants/${tenantId}`)).body).toMatchObject({ state: 'suspended' });
    const last = (await api.request<{ items: Body[] }>('GET', `/tenants/${tenantId}/history?limit=1`)).body.items[0];
    expect(last).toMatchObject({ event: 'fail_export', from: 'exporting', to: 'suspended', operationId: exportId });
  });
});
