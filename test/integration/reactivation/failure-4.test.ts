/**
 * The course's failure 4 (reactivation state conflicts: old data + new data collide), both halves:
 *
 * 1. Restore: a tenant with 100 documents (3 chunks each) is soft-deleted, reactivated with its data
 *    (requestReactivation + statemachines/reactivation.asl.json run by the local workflow runner), and its users
 *    upload the same 100 file names again, some with fewer chunks. Written the product's way (putDocument:
 *    functions/data-sources/tenant-documents.ts) the documents source holds 100 documents with the new bodies and
 *    the vectors are exactly the new chunks. The same re-upload written naively (object put + upsert, old chunks
 *    left) is shown to fail the very same check: old chunks stay next to the new ones (mixed versions).
 * 2. Fresh start: a tenant with data in every source (registry and export archives) soft-deleted, reactivated with
 *    restoreData: false: through every source nothing of the old data is visible but what is kept by law (the
 *    audit trail with the purge certificate, the invoices), the access answer is a new tenant's, and its record's
 *    usage is zero. The same for a deleted tenant's fresh start (hard delete first).
 *
 * DynamoDB Local and the local S3 server (documents, local vector store, exports) are real; billing is the local
 * ledger, provisioning the local provisioner, schedules the local scheduler.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LedgerBilling } from '../../../functions/billing/ledger-billing';
import { findTenantBySubscription } from '../../../functions/billing/subscription-links';
import type { DataRecord, DataSource } from '../../../functions/data-sources/data-source';
import { DocumentsSource } from '../../../functions/data-sources/documents-source';
import { mapWithConcurrency } from '../../../functions/data-sources/concurrency';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { chunkId, putDocument, type TenantDocument } from '../../../functions/data-sources/tenant-documents';
import { VectorsSource } from '../../../functions/data-sources/vectors-source';
import { initiateDeletion } from '../../../functions/deletion/soft-delete';
import { exportArchiveSources, registrySources } from '../../../functions/export/export-deps';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { OperationStore } from '../../../functions/operations/operation-store';
import { LocalProvisioner } from '../../../functions/provisioning/provisioner';
import { requestReactivation } from '../../../functions/reactivation/reactivation-request';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { config } from '../../../functions/shared/config';
import { createTenant } from '../../../functions/tenants/tenant-creation';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import type { HardDeleteInput } from '../../../functions/deletion/hard-delete-definition';
import type { WorkflowPorts } from '../../../functions/workflows/ports';
import { startExecution } from '../../../functions/workflows/start-execution';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { LocalWorkflowRunner } from '../../../infra/local/local-workflow-runner';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { idempotentRequest } from '../../support/idempotent-request';
import { ApiHarness } from '../../support/api-harness';
import { allRecords } from '../../support/test-data-sources';

const api = new ApiHarness();
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const bucket = `failure-4-${randomBytes(4).toString('hex')}`;
// The registry is built from configuration, as on AWS: documents, the local vector store and exports in one bucket.
process.env.DOCUMENTS_BUCKET = bucket;
process.env.EXPORTS_BUCKET = bucket;

let now = new Date();
const clock = () => now;
const table = { client: api.documentClient, tableName: config.tableName, now: clock };
const tenants = new TenantStore(table);
const operations = new OperationStore(table);
const billing = new LedgerBilling(table);
const scheduler = new LocalScheduler(table);
const vectorStore = new S3VectorStore({ s3: () => s3, bucket });
const documentDeps = { s3: () => s3, documents: { bucket }, vectorStore };
const documentsSource = new DocumentsSource({ s3: () => s3, bucket });
const vectorsSource = new VectorsSource(vectorStore);
const errors: unknown[] = [];
const runner = new LocalWorkflowRunner({ dependencies: () => ports, retryIntervalMs: 1, onError: (error) => errors.push(error) });
const ports: WorkflowPorts = {
  tenants,
  operations,
  leases: new QueryLeaseStore(table),
  provisioner: new LocalProvisioner(table),
  billing,
  scheduler,
  runner,
  now: clock,
};

beforeAll(async () => {
  await api.start();
  setWorkflowRunner(runner);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(async () => {
  await runner.idle();
  await api.stop();
  s3.destroy();
});
afterEach(() => expect(errors).toEqual([]));

async function newTenant(tenantId: string, plan: 'starter' | 'professional' = 'professional') {
  return createTenant(
    { tenants, billing, linkOf: (subscriptionId) => findTenantBySubscription(api.documentClient, config.tableName, subscriptionId) },
    { tenantId, name: `Org ${tenantId}`, email: `admin@${tenantId}.example`, plan, usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } },
    { actor: 'test' },
  );
}

/** Reactivate as the route does, run the workflow to its end, and answer the operation. */
async function reactivate(tenantId: string, body: Parameters<typeof requestReactivation>[2]) {
  const accepted = await requestReactivation(ports, tenantId, body, 'operator:test');
  await runner.idle();
  return { accepted, operation: await operations.get(accepted.operationId) };
}

/** The 100 file names of the course's scenario (its `compliance_policy.pdf` among them). */
const NAMES = ['compliance_policy.pdf', ...Array.from({ length: 99 }, (_, i) => `old/document_${String(i + 1).padStart(3, '0')}.pdf`)];

/** A document's version `version`: its body and `chunks` chunk vectors that say which version they are. */
function version(name: string, n: number, chunks: number): TenantDocument {
  return { name, body: `${name}, version ${n}`, contentType: 'application/pdf', chunks: Array.from({ length: chunks }, (_, c) => ({ values: [n, c, 0.5, -0.5], metadata: { version: n } })) };
}

/** The re-upload: every other document shorter (1 chunk instead of 3). */
const chunksOfV2 = (index: number) => (index % 2 === 0 ? 3 : 1);

/**
 * What is wrong with the tenant's data after the re-upload, as a user would notice it (empty when nothing):
 * a document count other than 100, a body that is not version 2, a vector that is not one of version 2's chunks
 * (an old chunk left: the course's "both versions indexed"), a version 2 chunk missing.
 */
async function collisions(tenantId: string): Promise<string[]> {
  const problems: string[] = [];
  const documents = await allRecords(documentsSource, tenantId, 1000);
  if (documents.length !== NAMES.length) problems.push(`${documents.length} documents, not ${NAMES.length}`);
  for (const document of documents) if (document.body !== `${String(document.key)}, version 2`) problems.push(`${String(document.key)} reads '${String(document.body)}'`);
  const expected = new Set(NAMES.flatMap((name, i) => Array.from({ length: chunksOfV2(i) }, (_, c) => chunkId(name, c))));
  const vectors = await allRecords(vectorsSource, tenantId, 100);
  const ids = vectors.map((vector) => String(vector.id));
  if (new Set(ids).size !== ids.length) problems.push('duplicate vector ids');
  for (const vector of vectors) {
    if (!expected.has(String(vector.id))) problems.push(`old chunk ${String(vector.id)} (version ${String((vector.metadata as { version?: number }).version)})`);
    else if ((vector.metadata as { version?: number }).version !== 2) problems.push(`${String(vector.id)} is version ${String((vector.metadata as { version?: number }).version)}`);
  }
  for (const id of expected) if (!ids.includes(id)) problems.push(`missing ${id}`);
  return problems;
}

/** The tenant's 100 documents, 3 chunks each, as version 1, soft-deleted and restored with its data. */
async function restoredTenant(tenantId: string): Promise<void> {
  await newTenant(tenantId);
  await mapWithConcurrency(NAMES, 8, (name) => putDocument(documentDeps, tenantId, version(name, 1, 3)));
  expect(await documentsSource.count(tenantId)).toBe(100);
  expect(await vectorsSource.count(tenantId)).toBe(300);
  await initiateDeletion(ports, tenantId, { actor: 'operator:test', reason: 'customer churned', retentionDays: 30 });
  const { accepted, operation } = await reactivate(tenantId, { plan: 'professional', reason: 'win-back' });
  expect([accepted.path, operation.status]).toEqual(['restore', 'succeeded']);
  expect(await tenants.get(tenantId)).toMatchObject({ state: 'active', plan: 'professional' });
  // Restored: the old data is all there before the re-upload.
  expect(await documentsSource.count(tenantId)).toBe(100);
  expect(await vectorsSource.count(tenantId)).toBe(300);
}

describe('failure 4, restore: the same names uploaded again after a reactivation with data', () => {
  it('should hold 100 documents with the new bodies and exactly the new chunks when written with putDocument', async () => {
    await restoredTenant('f4-restore');
    const results = await mapWithConcurrency([...NAMES.entries()], 8, ([i, name]) => putDocument(documentDeps, 'f4-restore', version(name, 2, chunksOfV2(i))));

    expect(await collisions('f4-restore')).toEqual([]);
    expect(await documentsSource.count('f4-restore')).toBe(100);
    expect(await vectorsSource.count('f4-restore')).toBe(50 * 3 + 50 * 1);
    // The 50 shorter documents each had 2 old chunks past their new end: deleted.
    expect(results.reduce((sum, result) => sum + result.staleChunksDeleted, 0)).toBe(100);
    const policy = await vectorStore.fetch('f4-restore', ['compliance_policy.pdf#0', 'compliance_policy.pdf#1', 'compliance_policy.pdf#2']);
    expect(policy.map((vector) => [vector.id, vector.metadata])).toEqual([0, 1, 2].map((c) => [`compliance_policy.pdf#${c}`, { version: 2, document: 'compliance_policy.pdf', chunk: c }]));
  }, 120_000);

  it('should be caught by the same check when written naively (object put + upsert): the old chunks stay next to the new ones', async () => {
    await restoredTenant('f4-naive');
    await mapWithConcurrency([...NAMES.entries()], 8, async ([i, name]) => {
      const document = version(name, 2, chunksOfV2(i));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `tenants/f4-naive/${name}`, Body: document.body }));
      await vectorStore.upsert('f4-naive', document.chunks.map((chunk, c) => ({ id: chunkId(name, c), values: chunk.values, metadata: { ...chunk.metadata, document: name, chunk: c } })));
    });

    const problems = await collisions('f4-naive');
    // The object key replaces (100 documents, new bodies), but 50 documents keep 2 version-1 chunks each.
    expect(problems).toHaveLength(100);
    expect(problems).toContain('old chunk old/document_001.pdf#1 (version 1)');
    expect(problems.every((problem) => problem.startsWith('old chunk ') && problem.endsWith('(version 1)'))).toBe(true);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Fresh start: nothing of the old data through any source or the access answer.

/** Marks every piece of old data carries, so a record of it is found whatever its shape. */
const OLD = 'OLD-DATA-3f9c';
/** The old usage report's figure (usage records are numbers). */
const OLD_QUERIES = '"queriesPerMonth":777';

/** Data in every source: usage, a lease, operations and invoices, an idempotency record, documents and vectors, an export. */
async function tenantWithData(tenantId: string): Promise<{ subscriptionId: string }> {
  const tenant = await newTenant(tenantId, 'starter');
  await tenants.reportUsage(tenantId, { queriesPerMonth: 777, storageGb: 0.7, documents: 3, users: 7 }, new Date(now.getTime() - 1000).toISOString());
  await new QueryLeaseStore(table).acquire(tenantId, { holder: `${OLD}-worker`, ttlSeconds: 300 });
  for (let i = 0; i < 2; i += 1) {
    const operationId = `op-${OLD}-${tenantId}-${i}`;
    await api.documentClient.send(
      new (await import('@aws-sdk/lib-dynamodb')).PutCommand({ TableName: config.tableName, Item: { ...operations.newItem({ operationId, tenantId, workflow: 'plan-change', input: { note: OLD }, requestedBy: 'test' }), status: 'succeeded' } }),
    );
    await billing.applyPlanChange({ operationId, tenantId, fromPlan: 'starter', toPlan: 'professional', direction: 'upgrade', timing: 'immediately' });
    await billing.applyPlanChange({ operationId: `${operationId}-back`, tenantId, fromPlan: 'professional', toPlan: 'starter', direction: 'downgrade', timing: 'immediately' });
  }
  await idempotentRequest(table, tenantId, `${OLD}-key`, { note: OLD }, 'operator');
  for (const name of ['compliance_policy.pdf', 'notes/q3.md', 'contracts/acme.pdf']) await putDocument(documentDeps, tenantId, { name: `${name}`, body: `${OLD} ${name}`, chunks: [{ values: [1, 2, 3, 4], metadata: { note: OLD } }, { values: [4, 3, 2, 1], metadata: { note: OLD } }] });
  for (const key of ['manifest.json', 'documents/part-00001.ndjson.gz']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `exports/${tenantId}/op-export-${tenantId}/${key}`, Body: `{"name":"Org ${tenantId}","note":"${OLD}"}` }));
  return { subscriptionId: tenant.billing?.subscriptionId as string };
}

/** Every source a fresh start purges (the workflow's own list: the registry, then the export archives). */
async function everySource(): Promise<readonly DataSource[]> {
  return [...(await registrySources(ports)), ...(await exportArchiveSources())];
}

/** What each source yields for the tenant that is old data (it carries the mark, the old subscription's id or the old usage). */
async function oldDataBySource(tenantId: string, oldSubscriptionId: string): Promise<Record<string, DataRecord[]>> {
  const found: Record<string, DataRecord[]> = {};
  for (const source of await everySource()) {
    const records = await allRecords(source, tenantId, 100);
    found[source.name] = records.filter((record) => [OLD, `"${oldSubscriptionId}"`, OLD_QUERIES].some((mark) => JSON.stringify(record).includes(mark)));
  }
  return found;
}

/** The access answer of a tenant, without what names it (to compare with a brand-new tenant's). */
async function accessAnswer(tenantId: string) {
  const response = await api.request('GET', `/tenants/${tenantId}/access`);
  expect(response.status).toBe(200);
  const { tenantId: _id, version: _version, vectors, ...rest } = response.body as Record<string, unknown> & { vectors: { namespace: string } };
  return { ...rest, vectors: { ...vectors, namespace: vectors.namespace.replace(tenantId, '<id>') } };
}

/** Kept by law through a fresh start: the audit trail (with the purge certificate) and the invoices. */
const KEPT_BY_LAW = ['audit', 'billing'];

async function expectFreshStart(tenantId: string, oldSubscriptionId: string): Promise<void> {
  const current = (await tenants.get(tenantId)).billing?.subscriptionId;
  // The local ledger derives a new customer's ids from the tenant id (ledger-billing.ts localBillingAccount): a
  // deleted tenant's new subscription has its old id there, so the id alone cannot tell old from new; the links
  // are checked below to be the current subscription's only.
  const old = await oldDataBySource(tenantId, oldSubscriptionId === current ? OLD : oldSubscriptionId);
  const links = await allRecords((await everySource()).find((source) => source.name === 'billing-links') as DataSource, tenantId);
  expect(links.map((link) => link.subscriptionId)).toEqual([current]);
  const visible = Object.fromEntries(Object.entries(old).filter(([source]) => !KEPT_BY_LAW.includes(source)));
  expect(Object.keys(old).sort()).toEqual(['audit', 'billing', 'billing-links', 'documents', 'exports', 'idempotency', 'operations', 'tenant', 'tenant-items', 'usage', 'vectors']);
  expect(visible).toEqual(Object.fromEntries(Object.keys(visible).map((source) => [source, []])));
  for (const source of ['documents', 'vectors', 'exports', 'idempotency']) {
    expect([source, await (await everySource()).find((candidate) => candidate.name === source)?.count(tenantId)]).toEqual([source, 0]);
  }
  // What the exceptions keep is only what the law asks: audit entries (and the purge certificate), and invoices.
  const invoices = await allRecords((await everySource()).find((source) => source.name === 'billing') as DataSource, tenantId);
  expect(invoices.length).toBeGreaterThan(0);
  const tenant = await tenants.get(tenantId);
  expect(tenant).toMatchObject({ state: 'active', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 0 } });
  expect(tenant.usageMeasuredAt).toBeUndefined();
  // The access answer is a brand-new tenant's on the same plan.
  await newTenant(`${tenantId}-new`, tenant.plan as 'starter');
  expect(await accessAnswer(tenantId)).toEqual(await accessAnswer(`${tenantId}-new`));
}

describe('failure 4, fresh start: none of the old data through any source or the access answer', () => {
  it('should purge a soft-deleted tenant\'s data from every source but the audit trail and invoices, with a certificate', async () => {
    const { subscriptionId } = await tenantWithData('f4-fresh');
    const before = await oldDataBySource('f4-fresh', subscriptionId);
    // The check sees the old data in every source before (so its emptiness after means something); the audit trail
    // holds no content of the tenant's, only who changed what and why.
    expect(Object.entries(before).filter(([, records]) => records.length === 0).map(([source]) => source)).toEqual(['audit']);
    await initiateDeletion(ports, 'f4-fresh', { actor: 'operator:test', reason: `${OLD}: customer churned`, retentionDays: 30 });

    const { accepted, operation } = await reactivate('f4-fresh', { restoreData: false, plan: 'starter', reason: 'win-back, fresh start' });
    expect([accepted.path, operation.status]).toEqual(['fresh_start', 'succeeded']);

    await expectFreshStart('f4-fresh', subscriptionId);
    const certificate = (operation.facts as { certificate?: { sources: Array<{ source: string; before: number }> } }).certificate;
    expect(certificate?.sources.map((source) => source.source)).toEqual((await everySource()).map((source) => source.name).reverse());
    expect(certificate?.sources.find((source) => source.source === 'documents')?.before).toBe(3);
  }, 120_000);

  it('should show nothing of a deleted tenant\'s old data after its fresh start with new details', async () => {
    const { subscriptionId } = await tenantWithData('f4-deleted');
    const soft = await initiateDeletion(ports, 'f4-deleted', { actor: 'operator:test', reason: `${OLD}: customer churned`, retentionDays: 30 });
    const deletion = soft.deletion as NonNullable<typeof soft.deletion>;
    now = new Date(deletion.deadline);
    const hardDelete: HardDeleteInput = { operationId: 'hd-f4-deleted', tenantId: 'f4-deleted', trigger: 'deadline', scheduledAt: now.toISOString(), deletionRequestedAt: deletion.requestedAt };
    await startExecution(ports, 'hard-delete', hardDelete);
    await runner.idle();
    expect(await tenants.get('f4-deleted')).toMatchObject({ state: 'deleted' });

    const { accepted, operation } = await reactivate('f4-deleted', { restoreData: false, plan: 'starter', name: 'F4 Again', email: 'new@f4.example' });
    expect([accepted.path, operation.status]).toEqual(['fresh_start', 'succeeded']);

    await expectFreshStart('f4-deleted', subscriptionId);
    expect(await tenants.get('f4-deleted')).toMatchObject({ name: 'F4 Again', email: 'new@f4.example' });
  }, 120_000);
});
