/**
 * The course notebook's win-back scenario (section 6, "Reactivation Workflow"), over HTTP as an operator drives
 * it: the local stack of `npm start -- --clock=simulated` run in this process (its DynamoDB Local, its S3 server,
 * the real reactivation and hard-delete workflows, the local scheduler, time moved with `POST /_local/clock`).
 *
 * - WinBack Corp, a professional tenant with documents, soft-deleted, reactivated on professional: active on
 *   professional with its documents and their vectors, its access read-write again, billed again.
 * - An expired one (its retention passed and its hard delete run: deleted) asked to restore: 409 DATA_DELETED whose
 *   message and details carry the deletion date; then its fresh start with a name, email and plan: active, empty.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { testPort } from '../../support/test-port';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { DocumentsSource } from '../../../functions/data-sources/documents-source';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { putDocument } from '../../../functions/data-sources/tenant-documents';
import { VectorsSource } from '../../../functions/data-sources/vectors-source';
import { LOCAL_DOCUMENTS_BUCKET } from '../../../infra/local/local-settings';
import { startLocalStack, type LocalStackInfo } from '../../../infra/local/local-stack';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { allRecords } from '../../support/test-data-sources';

const root = mkdtempSync(join(tmpdir(), 'win-back-'));
const errors: string[] = [];
let stack: (LocalStackInfo & { stop(): Promise<void> }) | undefined;
let s3: S3Client;
const DAY = 86_400;

type Body = Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, unknown> } };

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> {
  const response = await fetch(`${stack?.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack?.tokens.operator}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Body };
}

/** Poll GET /operations/{id} (up to 30 s of wall time) until it has ended; answers the operation. */
async function ended(operationId: string): Promise<Body> {
  for (let i = 0; i < 300; i += 1) {
    const operation = await call('GET', `/operations/${operationId}`);
    expect(operation.status).toBe(200);
    if (operation.body.status !== 'running') return operation.body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${operationId} never ended`);
}

function stores() {
  const vectorStore = new S3VectorStore({ s3: () => s3, bucket: LOCAL_DOCUMENTS_BUCKET });
  return { documents: new DocumentsSource({ s3: () => s3, bucket: LOCAL_DOCUMENTS_BUCKET }), vectors: new VectorsSource(vectorStore), writer: { s3: () => s3, documents: { bucket: LOCAL_DOCUMENTS_BUCKET }, vectorStore } };
}

/** The application plane uploads the tenant's documents (the documented way: putDocument), two chunks each. */
async function upload(tenantId: string, names: readonly string[]): Promise<void> {
  for (const [i, name] of names.entries()) {
    await putDocument(stores().writer, tenantId, { name, body: `${name} of ${tenantId}`, contentType: 'application/pdf', chunks: [{ values: [i, 0, 1] }, { values: [i, 1, 0] }] });
  }
}

beforeAll(async () => {
  const dynamoPort = await testPort('the test DynamoDB Local');
  stack = await startLocalStack({ apiPort: 0, dynamoPort, dataDir: join(root, 'data'), reset: true, clock: 'simulated', log: () => undefined, logError: (line) => errors.push(line) });
  s3 = new S3Client(localS3ClientConfig(stack.s3Endpoint));
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
  rmSync(root, { recursive: true, force: true });
}, 30_000);

describe('the notebook\'s win-back over HTTP', () => {
  const DOCUMENTS = ['compliance_policy.pdf', 'handbook/onboarding.pdf', 'contracts/msa-2026.pdf'];

  it('should bring a soft-deleted professional tenant back on professional with its documents', async () => {
    expect((await call('POST', '/tenants', { tenantId: 'tenant-winback', name: 'WinBack Corp', email: 'admin@winback.example', plan: 'professional' })).status).toBe(201);
    await upload('tenant-winback', DOCUMENTS);
    const before = await allRecords(stores().documents, 'tenant-winback');

    const deleted = await call('POST', '/tenants/tenant-winback/deletion', { retentionDays: 30, reason: 'customer churned' });
    expect([deleted.status, deleted.body.state]).toEqual([202, 'deleting']);
    expect((await call('GET', '/tenants/tenant-winback/access')).body).toMatchObject({ access: 'blocked' });

    // A day later, the customer comes back.
    await call('POST', '/_local/clock', { advanceSeconds: DAY });
    const reactivated = await call('POST', '/tenants/tenant-winback/reactivate', { plan: 'professional', reason: 'win-back campaign' });
    expect(reactivated).toMatchObject({ status: 202, body: { path: 'restore', from: 'deleting', plan: 'professional', restoreData: true, status: 'running' } });
    const operation = await ended(reactivated.body.operationId as string);
    expect(operation).toMatchObject({ status: 'succeeded', workflow: 'reactivation' });

    const tenant = (await call('GET', '/tenants/tenant-winback')).body;
    expect(tenant).toMatchObject({ state: 'active', plan: 'professional', name: 'WinBack Corp', resources: { plan: 'professional' } });
    expect(tenant.deletion).toBeUndefined();
    expect((await call('GET', '/tenants/tenant-winback/access')).body).toMatchObject({ access: 'read_write', plan: 'professional' });
    // Its documents as they were, with their vectors.
    expect(await allRecords(stores().documents, 'tenant-winback')).toEqual(before);
    expect((await allRecords(stores().vectors, 'tenant-winback')).map((vector) => vector.id)).toEqual(DOCUMENTS.flatMap((name) => [`${name}#0`, `${name}#1`]).sort());
    const history = (await call('GET', '/tenants/tenant-winback/history?limit=3')).body.items as Array<Record<string, unknown>>;
    expect(history.map((entry) => [entry.event, entry.reactivationPath])).toEqual([['complete_reactivation', 'restore'], ['cancel_deletion', 'restore'], ['initiate_deletion', undefined]]);
    expect(history[1]).toMatchObject({ reason: 'win-back campaign', from: 'deleting', to: 'reactivating' });

    // The deletion's schedules were cancelled: past the old deadline, nothing deletes it.
    await call('POST', '/_local/clock', { advanceSeconds: 30 * DAY + 3600 });
    expect((await call('GET', '/tenants/tenant-winback')).body).toMatchObject({ state: 'active' });
    expect(await stores().documents.count('tenant-winback')).toBe(DOCUMENTS.length);
    expect(errors).toEqual([]);
  }, 120_000);

  it('should refuse to restore an expired (deleted) tenant with the date its data was deleted, then start it fresh', async () => {
    expect((await call('POST', '/tenants', { tenantId: 'tenant-expired', name: 'Expired Corp', email: 'admin@expired.example', plan: 'professional' })).status).toBe(201);
    await upload('tenant-expired', DOCUMENTS);
    expect((await call('POST', '/tenants/tenant-expired/deletion', { retentionDays: 30, reason: 'customer churned' })).status).toBe(202);

    // Past the deadline: the hard delete fires and runs.
    await call('POST', '/_local/clock', { advanceSeconds: 30 * DAY + 600 });
    const tombstone = (await call('GET', '/tenants/tenant-expired')).body;
    expect(tombstone).toMatchObject({ state: 'deleted' });
    const deletedAt = tombstone.deletedAt as string;
    expect(deletedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const before = (await call('GET', '/tenants/tenant-expired/history?limit=100')).body.items as unknown[];
    const refused = await call('POST', '/tenants/tenant-expired/reactivate', { plan: 'professional' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'DATA_DELETED', details: { tenantId: 'tenant-expired', deletedAt, deletionCertificateId: tombstone.deletionCertificateId } });
    expect(refused.body.error?.message).toContain(`was deleted at ${deletedAt}`);
    expect(refused.body.error?.message).toContain('restoreData: false');
    // Refused: nothing changed.
    expect((await call('GET', '/tenants/tenant-expired/history?limit=100')).body.items).toEqual(before);

    // Without the details its deletion erased: 422 naming them.
    const incomplete = await call('POST', '/tenants/tenant-expired/reactivate', { restoreData: false, plan: 'professional' });
    expect(incomplete).toMatchObject({ status: 422, body: { error: { code: 'DETAILS_REQUIRED', details: { missing: ['name', 'email'] } } } });

    const fresh = await call('POST', '/tenants/tenant-expired/reactivate', { restoreData: false, plan: 'professional', name: 'Expired Corp (again)', email: 'new-admin@expired.example', reason: 'came back after expiry' });
    expect(fresh).toMatchObject({ status: 202, body: { path: 'fresh_start', from: 'deleted', plan: 'professional', restoreData: false } });
    expect(await ended(fresh.body.operationId as string)).toMatchObject({ status: 'succeeded' });
    expect((await call('GET', '/tenants/tenant-expired')).body).toMatchObject({ state: 'active', plan: 'professional', name: 'Expired Corp (again)', email: 'new-admin@expired.example', usage: { documents: 0 } });
    expect((await call('GET', '/tenants/tenant-expired/access')).body).toMatchObject({ access: 'read_write' });
    expect(await stores().documents.count('tenant-expired')).toBe(0);
    expect(await stores().vectors.count('tenant-expired')).toBe(0);
    expect(errors).toEqual([]);
  }, 120_000);
});
