/**
 * Every data source of the registry against the real stores: DynamoDB Local and the local S3 server (s3rver),
 * for look-alike tenants (`acme`, `acme-eu`, `acme-corp`): counts equal what the pages yield, pages resume from
 * their cursors, purge leaves nothing (or, for a source with `retention`, keeps and says so: billing history by law,
 * the audit trail and the tenant record for the tombstone, as proof), nobody sees or loses
 * another tenant's records, and a cursor that was not issued for this source and tenant is refused.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { LedgerBilling } from '../../../functions/billing/ledger-billing';
import { subscriptionLinkItem } from '../../../functions/billing/subscription-links';
import { DataSourceCursorError, type DataRecord, type DataSource } from '../../../functions/data-sources/data-source';
import { createDataSources } from '../../../functions/data-sources/registry';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { OperationStore } from '../../../functions/operations/operation-store';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { LocalProvisioner } from '../../../functions/provisioning/provisioner';
import { DynamoProvisioningLedger } from '../../../functions/provisioning/pinecone-provisioner';
import { resourcesFor } from '../../../functions/provisioning/plan-resources';
import { config } from '../../../functions/shared/config';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { idempotentRequest } from '../../support/idempotent-request';
import { useTestTable } from '../../support/test-table';

const TENANTS = ['acme', 'acme-eu', 'acme-corp'] as const;
const PAGE = 3;
/** How many of each thing each tenant gets (a different figure each: usage records are told apart by it). */
const SEEDED: Record<string, number> = { acme: 4, 'acme-eu': 3, 'acme-corp': 2 };
const client = useTestTable();
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const bucket = `documents-${randomBytes(4).toString('hex')}`;
const table = { client, tableName: config.tableName };
const ledger = new LedgerBilling(table);
const vectorStore = new S3VectorStore({ s3: () => s3, bucket });
const sources = createDataSources({ ...table, s3: () => s3, documents: { bucket }, vectorStore, billing: ledger });
const byName = (name: string) => sources.find((source) => source.name === name) as DataSource;

/** Everything seeded mentions its tenant like this, so a record of another tenant is easy to spot. */
const mark = (tenantId: string) => `owner:${tenantId};`;

async function seed(tenantId: string, n: number): Promise<void> {
  const store = new TenantStore(table);
  let tenant = await store.create({ tenantId, name: `Org ${mark(tenantId)}`, email: `admin@${tenantId}.example`, plan: 'starter', usage: { queriesPerMonth: 1, storageGb: 0, documents: 1, users: 1 } }, { actor: 'test', reason: mark(tenantId) });
  for (let i = 0; i < n; i += 1) {
    tenant = await store.applyTransition(tenant, 'suspend', { actor: 'test', reason: `${mark(tenantId)} ${i}` });
    tenant = await store.applyTransitions(tenant, ['resume', 'complete_reactivation'], { actor: 'test', reason: mark(tenantId) });
  }
  await store.reportUsage(tenantId, { queriesPerMonth: 10 + n, storageGb: 0.5, documents: n, users: 2 }, new Date().toISOString());
  const leases = new QueryLeaseStore(table);
  for (let i = 0; i < n; i += 1) await leases.acquire(tenantId, { holder: `${mark(tenantId)} worker-${i}`, ttlSeconds: 300 });
  const operations = new OperationStore(table);
  for (let i = 0; i < n; i += 1) {
    const operationId = `op-${tenantId}-${i}`;
    await client.send(new PutCommand({ TableName: config.tableName, Item: operations.newItem({ operationId, tenantId, workflow: 'plan-change', input: { plan: 'professional', reason: mark(tenantId) } as never, requestedBy: 'test' }) }));
    await new LocalProvisioner(table).provision(tenantId, operationId, resourcesFor(tenantId, 'professional'));
    await new DynamoProvisioningLedger(table).put(tenantId, operationId, { placement: resourcesFor(tenantId, 'professional').vectors, releases: 'nothing', createdIndex: false, at: new Date().toISOString() });
    await ledger.applyPlanChange({ operationId, tenantId, fromPlan: 'starter', toPlan: 'professional', direction: 'upgrade', timing: 'immediately' });
  }
  // The subscriptions it was billed on (created with the tenant, then one per restored soft delete), as their link items.
  for (let i = 0; i < n; i += 1) {
    const id = `${tenantId.replace(/-/g, '_')}_${i}`;
    await client.send(new PutCommand({ TableName: config.tableName, Item: subscriptionLinkItem(tenantId, { customerId: `cus_${id}`, subscriptionId: `sub_${id}`, subscriptionItemId: `si_${id}` }) }));
  }
  // A local schedule that fires the tenant's first operation: deleted with it.
  await new LocalScheduler(table).scheduleOnce({ name: `plan-change-op-${tenantId}-0`, at: new Date(), target: 'plan-change.period-end', payload: { operationId: `op-${tenantId}-0`, tenantId } });
  // Requests about the tenant with an Idempotency-Key, by its own token and by an operator: both its records.
  for (let i = 0; i < n; i += 1) await idempotentRequest(table, tenantId, `key-${i}`, { holder: mark(tenantId) }, i % 2 === 0 ? 'tenant' : 'operator');
  for (let i = 0; i < 2 * n + 1; i += 1) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `tenants/${tenantId}/docs/${String(i).padStart(3, '0')}.txt`, Body: `Document ${i} ${mark(tenantId)} é`, ContentType: 'text/plain; charset=utf-8' }));
  }
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `tenants/${tenantId}/scan.bin`, Body: Buffer.from([0xff, 0xfe, 0x00, 0x80, ...Buffer.from(mark(tenantId))]), ContentType: 'application/octet-stream' }));
  await vectorStore.upsert(tenantId, Array.from({ length: 2 * n + 1 }, (_, i) => ({ id: `chunk#${i}`, values: [i, 0.5, -0.25, tenantId.length], metadata: { owner: mark(tenantId) } })));
}

async function allPages(source: DataSource, tenantId: string, limit = PAGE): Promise<{ records: DataRecord[]; cursors: string[] }> {
  const records: DataRecord[] = [];
  const cursors: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages += 1) {
    const page = await source.exportPage(tenantId, cursor, limit);
    expect(page.records.length).toBeLessThanOrEqual(limit);
    records.push(...page.records);
    cursor = page.nextCursor;
    if (!cursor) return { records, cursors };
    cursors.push(cursor);
  }
  throw new Error('more than 1000 pages');
}

/** The tenant ids a record's JSON mentions, by the marks and keys seeded (`acme` is never read into `acme-eu`). */
function tenantsIn(records: readonly DataRecord[]): string[] {
  const json = JSON.stringify(records);
  return TENANTS.filter(
    (tenantId) =>
      json.includes(mark(tenantId)) || json.includes(`"${tenantId}"`) || json.includes(`tenant_${tenantId}"`) || new RegExp(`op-${tenantId}-\\d`).test(json),
  );
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await Promise.all(TENANTS.map((tenantId) => seed(tenantId, SEEDED[tenantId] as number)));
});
afterAll(() => s3.destroy());

const NAMES = ['tenant', 'audit', 'usage', 'tenant-items', 'operations', 'idempotency', 'documents', 'vectors', 'billing-links', 'billing'];

it('should list every source once, in export order', () => {
  expect(sources.map((source) => source.name)).toEqual(NAMES);
  for (const source of sources) expect(Object.keys(source.description.fields).length).toBeGreaterThan(0);
});

describe.each(NAMES)('source %s', (name) => {
  const source = byName(name);

  it('should count exactly the records its pages yield, for each look-alike tenant, and only that tenant\'s', async () => {
    for (const tenantId of TENANTS) {
      const { records } = await allPages(source, tenantId);
      expect(await source.count(tenantId)).toBe(records.length);
      expect(records.length).toBeGreaterThan(0);
      // Usage figures carry no name: each tenant reported its own `documents` figure (SEEDED).
      if (name === 'usage') expect(records).toEqual([expect.objectContaining({ documents: SEEDED[tenantId] })]);
      else expect(tenantsIn(records)).toEqual([tenantId]);
    }
  });

  it('should resume from a cursor: the pages read again from it are the pages that followed it', async () => {
    const { records, cursors } = await allPages(source, 'acme');
    for (const [index, cursor] of cursors.entries()) {
      const rest: DataRecord[] = [];
      let next: string | null = cursor;
      while (next) {
        const page = await source.exportPage('acme', next, PAGE);
        rest.push(...page.records);
        next = page.nextCursor;
      }
      expect(rest).toEqual(records.slice(records.length - rest.length));
      expect(records.length - rest.length).toBeGreaterThanOrEqual((index + 1) * 1);
    }
  });

  it('should refuse a cursor it did not issue: tampered, of another source, or of another tenant', async () => {
    const other = sources.find((candidate) => candidate.name !== name) as DataSource;
    const foreign = (await allPages(other, 'acme')).cursors[0] ?? Buffer.from(JSON.stringify({ source: other.name, tenantId: 'acme', position: {} })).toString('base64url');
    await expect(source.exportPage('acme', foreign, PAGE)).rejects.toThrow(DataSourceCursorError);
    await expect(source.exportPage('acme', 'bm90IGpzb24', PAGE)).rejects.toThrow(DataSourceCursorError);
    const own = (await allPages(source, 'acme')).cursors[0];
    if (own) {
      const decoded = JSON.parse(Buffer.from(own, 'base64url').toString()) as { position: Record<string, unknown> };
      const tampered = Buffer.from(JSON.stringify({ ...decoded, position: { ...decoded.position, __proto__: 1, pk: 'TENANT#acme-eu', extra: true } })).toString('base64url');
      await expect(source.exportPage('acme', tampered, PAGE)).rejects.toThrow(DataSourceCursorError);
      await expect(source.exportPage('acme-eu', own, PAGE)).rejects.toThrow(DataSourceCursorError);
    }
  });
});

describe('purge', () => {
  it('should leave nothing of acme in any source (billing history kept by law), and take nothing from acme-eu or acme-corp', async () => {
    const before = Object.fromEntries(await Promise.all(['acme-eu', 'acme-corp'].map(async (tenantId) => [tenantId, await Promise.all(sources.map((source) => allPages(source, tenantId, 100)))])));
    const counts = await Promise.all(sources.map((source) => source.count('acme')));

    // Reverse order, as the registry recommends: the tenant record goes last.
    const results: Record<string, unknown> = {};
    for (const source of [...sources].reverse()) results[source.name] = await source.purge('acme');

    // A source with `retention` says what it kept (all of it, or for operations the erasure records only); the
    // others delete everything.
    sources.forEach((source, index) => {
      const result = results[source.name] as { deleted: number; retained?: number };
      if (source.retention) expect(result.deleted + (result.retained ?? 0)).toBe(counts[index]);
      else expect(result).toEqual({ deleted: counts[index] });
    });
    expect(results).toMatchObject({ billing: { deleted: 0, retained: 4 }, audit: { deleted: 0, retained: counts[1] }, tenant: { deleted: 0, retained: 1 }, operations: { deleted: 4, retained: 0 } });
    for (const source of sources) {
      const verified = await source.verifyPurged('acme');
      expect(verified.remaining).toBe(0);
      if (!source.retention) expect(await source.count('acme')).toBe(0);
    }
    expect(await byName('billing').verifyPurged('acme')).toEqual({ remaining: 0, retained: 4 });
    // Purging again deletes nothing.
    for (const source of sources) expect((await source.purge('acme')).deleted).toBe(0);
    for (const tenantId of ['acme-eu', 'acme-corp']) {
      const after = await Promise.all(sources.map((source) => allPages(source, tenantId, 100)));
      expect(after.map((pages) => pages.records)).toEqual(before[tenantId].map((pages: { records: DataRecord[] }) => pages.records));
    }
  });
});

describe('documents', () => {
  it('should export key, size, type, time, etag and the content: text as body, other bytes as bodyBase64', async () => {
    const { records } = await allPages(byName('documents'), 'acme-eu', 100);
    const text = records.find((record) => record.key === 'docs/001.txt');
    expect(text).toMatchObject({ size: Buffer.byteLength(`Document 1 ${mark('acme-eu')} é`), contentType: 'text/plain; charset=utf-8', body: `Document 1 ${mark('acme-eu')} é` });
    expect(text?.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(text?.lastModified).toMatch(/^\d{4}-\d\d-\d\dT/);
    const binary = records.find((record) => record.key === 'scan.bin');
    expect(binary).toMatchObject({ size: 4 + mark('acme-eu').length, bodyBase64: Buffer.from([0xff, 0xfe, 0x00, 0x80, ...Buffer.from(mark('acme-eu'))]).toString('base64') });
    expect(binary).not.toHaveProperty('body');
  });
});

describe('vectors', () => {
  it('should export each vector with its values (float32) and metadata, in id order', async () => {
    const { records } = await allPages(byName('vectors'), 'acme-eu', 100);
    expect(records.map((record) => record.id)).toEqual(['chunk#0', 'chunk#1', 'chunk#2', 'chunk#3', 'chunk#4', 'chunk#5', 'chunk#6']);
    expect(records[5]).toEqual({ id: 'chunk#5', values: [5, 0.5, -0.25, 7], metadata: { owner: mark('acme-eu') } });
  });
});
