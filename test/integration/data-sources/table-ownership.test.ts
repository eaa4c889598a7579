/**
 * The runtime half of "every item kind has a data source": look-alike tenants go through the real API flows
 * (create with its billing customer, suspend, resume, usage, query leases, idempotent requests, an upgrade workflow,
 * a period-end downgrade with its local schedule, a GDPR export, a Stripe event, a fresh start from a soft delete) into DynamoDB Local; then every item in the table must be owned by exactly one source's
 * `tableItems`. A new kind of item that no source declares fails here. And purging one tenant through the
 * registry leaves none of its items but those its sources retain (billing history by law, the audit trail and
 * the tenant record; acme's operations are plan changes and exports, not erasure records, so they go).
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { LedgerBilling } from '../../../functions/billing/ledger-billing';
import { createDataSources, tableItemOwners } from '../../../functions/data-sources/registry';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { itemIsOfKind } from '../../../functions/data-sources/table-source';
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { DynamoProvisioningLedger } from '../../../functions/provisioning/pinecone-provisioner';
import { resourcesFor } from '../../../functions/provisioning/plan-resources';
import { config } from '../../../functions/shared/config';
import { idempotencyPartition } from '../../../functions/shared/idempotency';
import { archivedCertificateItem, certificateItem, sealCertificate } from '../../../functions/deletion/deletion-certificate';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { LocalWorkflowRunner } from '../../../infra/local/local-workflow-runner';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { ApiHarness } from '../../support/api-harness';
import { invoiceEvent, stripeSignature } from '../../support/stripe-events';

const TENANTS = ['acme', 'acme-eu', 'acme-corp'];
const api = new ApiHarness();
const runner = new LocalWorkflowRunner({ dependencies: planChangeDependencies });
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const table = { client: api.documentClient, tableName: config.tableName };
// Documents and vectors are not in the table: their (empty) bucket is this file's own.
const bucket = `ownership-${randomBytes(4).toString('hex')}`;
const sources = createDataSources({ ...table, s3: () => s3, documents: { bucket }, vectorStore: new S3VectorStore({ s3: () => s3, bucket }), billing: new LedgerBilling(table) });
const owners = tableItemOwners(sources);
// The export flow runs for real: its storage on this file's bucket, on the local S3 server (the run's key, from the environment).
process.env.DOCUMENTS_BUCKET = bucket;
process.env.EXPORTS_BUCKET = bucket;

beforeAll(async () => {
  await api.start();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  setWorkflowRunner(runner);
  for (const tenantId of TENANTS) {
    const key = (what: string) => ({ 'idempotency-key': `${what}-${tenantId}` });
    const created = await api.request('POST', '/tenants', { headers: key('create'), body: { tenantId, name: `Org ${tenantId}`, email: `a@${tenantId}.example`, plan: 'starter' } });
    expect(created.status).toBe(201);
    expect((await api.request('POST', `/tenants/${tenantId}/suspend`, { headers: key('suspend'), body: { reason: 'test' } })).status).toBe(200);
    expect((await api.request('POST', `/tenants/${tenantId}/resume`, { headers: key('resume') })).status).toBe(200);
    const token = api.tenantToken(tenantId);
    expect((await api.request('PUT', `/tenants/${tenantId}/usage`, { token, body: { usage: { queriesPerMonth: 5, storageGb: 0.1, documents: 3, users: 1 } } })).status).toBe(200);
    const upgrade = await api.request('POST', `/tenants/${tenantId}/plan`, { headers: key('upgrade'), body: { plan: 'professional' } });
    expect(upgrade.status).toBe(202);
    await runner.idle();
    const downgrade = await api.request('POST', `/tenants/${tenantId}/plan`, { headers: key('downgrade'), body: { plan: 'starter', effective: 'period_end' } });
    expect(downgrade.status).toBe(202);
    await runner.idle();
    expect((await api.request('POST', `/tenants/${tenantId}/exports`, { headers: key('export') })).status).toBe(202);
    await runner.idle();
    // A query lease last: one held during the upgrade would make its drain wait for it.
    expect((await api.request('POST', `/tenants/${tenantId}/leases`, { token, headers: key('lease'), body: { holder: 'worker', ttlSeconds: 300 } })).status).toBe(201);
    // A Stripe event applied to the tenant (its record kept for de-duplication), through the signed webhook.
    const { subscriptionId } = (created.body as { billing: { subscriptionId: string } }).billing;
    const payload = JSON.stringify(invoiceEvent('invoice.paid', subscriptionId, { created: Math.floor(Date.now() / 1000) }));
    const delivered = await api.request('POST', '/webhooks/stripe', { token: null, rawBody: payload, headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(payload) } });
    expect(delivered).toMatchObject({ status: 200, body: { received: true } });
    // The Pinecone provisioner's bookkeeping (not in the local flow, which provisions locally): its real writer.
    await new DynamoProvisioningLedger(table).put(tenantId, 'op-pinecone', { placement: resourcesFor(tenantId, 'enterprise').vectors, releases: 'index', createdIndex: true, at: new Date().toISOString() });
  }
  // A fresh start from a soft delete (the reactivation workflow, run here): its purge certificate.
  await api.createTenant('fresh-co');
  expect((await api.request('POST', '/tenants/fresh-co/deletion', { body: { reason: 'closed' } })).status).toBe(202);
  expect((await api.request('POST', '/tenants/fresh-co/reactivate', { body: { restoreData: false, reason: 'back, fresh' } })).status).toBe(202);
  await runner.idle();
  expect((await api.request<{ state: string }>('GET', '/tenants/fresh-co')).body.state).toBe('active');
  // A deletion certificate, as the hard delete's last step writes it (test/integration/deletion/hard-delete.test.ts
  // runs that step for real): its item as certificateItem makes it.
  const at = new Date().toISOString();
  const certificate = sealCertificate({
    certificateId: 'dc_test', tenantId: 'acme-corp', operationId: 'hd_test', deletion: { requestedAt: at, requestedBy: 'test', retentionDays: 30, deadline: at }, window: { opensAt: at, closesAt: at },
    trigger: { kind: 'deadline', scheduledAt: at }, startedAt: at, completedAt: at, timeliness: { onTime: true }, sources: [], billingCustomer: { deleted: false, at }, legalHolds: [], tombstoneFields: [],
  });
  await api.documentClient.send(new PutCommand({ TableName: config.tableName, Item: certificateItem(certificate) }));
  // The certificate of an earlier deletion of a tenant that came back (a deleted tenant's fresh start moves it there).
  await api.documentClient.send(new PutCommand({ TableName: config.tableName, Item: archivedCertificateItem({ ...certificate, certificateId: 'dc_earlier' }) }));
});
afterAll(async () => {
  await runner.idle();
  await api.stop();
  s3.destroy();
});

it('should give every item the real flows wrote to exactly one data source', async () => {
  const items = await api.tableSnapshot({ withRateLimitBuckets: true });
  const kinds = new Set<string>();
  const unowned: string[] = [];
  for (const item of items) {
    const owning = owners.filter(({ kind }) => itemIsOfKind(item, kind));
    if (owning.length !== 1) unowned.push(`${String(item.pk)} / ${String(item.sk)} (type ${String(item.type)}): ${owning.length} owners`);
    for (const { source, kind } of owning) kinds.add(`${source}:${kind.name}`);
  }
  expect(unowned).toEqual([]);
  // The flows above made every kind there is (so this test sees a new one as soon as a flow writes it).
  expect([...kinds].sort()).toEqual(owners.map(({ source, kind }) => `${source}:${kind.name}`).sort());
});

it('should leave no item of a purged tenant but those of sources that retain (billing history by law; the audit trail and the tenant record, the tombstone to be), and every item of the look-alikes', async () => {
  const mentions = (item: Record<string, unknown>, tenantId: string) =>
    item.pk === `TENANT#${tenantId}` ||
    item.tenantId === tenantId ||
    item.pk === idempotencyPartition(tenantId) ||
    // A stored answer about the tenant (an Idempotency-Key's), whoever sent the request: its data too.
    JSON.stringify(item.response ?? null).includes(`\\"tenantId\\":\\"${tenantId}\\"`);
  const before = await api.tableSnapshot({ withRateLimitBuckets: true });
  await runner.idle();
  for (const source of [...sources].reverse()) await source.purge('acme');

  const after = await api.tableSnapshot({ withRateLimitBuckets: true });
  const left = after.filter((item) => mentions(item, 'acme'));
  const retaining = owners.filter(({ source }) => sources.find((candidate) => candidate.name === source)?.retention);
  expect(left.filter((item) => !retaining.some(({ kind }) => itemIsOfKind(item, kind)))).toEqual([]);
  expect(new Set(left.map((item) => String(item.sk).split('#')[0]))).toEqual(new Set(['LEDGER', 'AUDIT', 'TENANT']));
  // The tenant's rate-limit bucket is no tenant data (PLATFORM_TABLE_ITEMS: its requests write it again): it stays.
  expect(after.filter((item) => item.pk === 'RATE_LIMIT#tenant:acme')).toEqual(before.filter((item) => item.pk === 'RATE_LIMIT#tenant:acme'));
  expect(after.some((item) => item.pk === 'RATE_LIMIT#tenant:acme')).toBe(true);
  // Schedules carry only an operation id: the downgrade's schedule went with acme's operation.
  const acmeOperations = before.filter((item) => item.type === 'operation' && item.tenantId === 'acme').map((item) => item.operationId);
  expect(after.filter((item) => item.type === 'schedule' && acmeOperations.includes((item.payload as { operationId: string }).operationId))).toEqual([]);
  for (const tenantId of ['acme-eu', 'acme-corp']) {
    expect(after.filter((item) => mentions(item, tenantId))).toEqual(before.filter((item) => mentions(item, tenantId)));
  }
});
