/**
 * The hard delete end to end: statemachines/hard-delete.asl.json executed by the local workflow runner
 * (aws-local-stepfunctions), started as the deadline and enforcement targets start it (startExecution), its steps
 * against DynamoDB Local, the local S3 server (documents and the local vector store) and the real data-source
 * registry, with a billing double that records deleteCustomer (the ledger's own lists the invoices). The clock
 * is injected and placed before, in and after the enforcement window.
 */
// The HardDeleteFailed metric is asserted: publish EMF (test-env.ts disables it by default).
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
import './../../support/log-level-info';
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { CustomerLifecycleRequest } from '../../../functions/billing/billing-port';
import { LedgerBilling } from '../../../functions/billing/ledger-billing';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { canonicalJson, findCertificate, type DeletionCertificate } from '../../../functions/deletion/deletion-certificate';
import { deletionSchedule, type DeletionSchedule } from '../../../functions/deletion/deletion-policy';
import { armDeletionSchedules } from '../../../functions/deletion/deletion-schedules';
import { cancelDeletion, placeLegalHold, releaseLegalHold } from '../../../functions/deletion/soft-delete';
import type { HardDeleteInput, HardDeleteTrigger } from '../../../functions/deletion/hard-delete-definition';
import { LEGAL_HOLD_RECHECK_SECONDS } from '../../../functions/deletion/hard-delete-steps';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { OperationStore } from '../../../functions/operations/operation-store';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { config } from '../../../functions/shared/config';
import { idempotencyPartition } from '../../../functions/shared/idempotency';
import { CHANGE_EVENTS, TOMBSTONE_FIELDS, TenantStore, type Tenant } from '../../../functions/tenants/tenant-store';
import { createTenant } from '../../../functions/tenants/tenant-creation';
import { findTenantBySubscription } from '../../../functions/billing/subscription-links';
import type { WorkflowPorts } from '../../../functions/workflows/ports';
import { startExecution } from '../../../functions/workflows/start-execution';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { idempotentRequest } from '../../support/idempotent-request';
import { captureLogs } from '../../support/captured-logs';
import { localS3Bucket } from '../../support/local-s3-bucket';
import { useTestTable } from '../../support/test-table';

const client = useTestTable();
// The registry is built from configuration, as on AWS: the documents bucket on the local S3 server. Exports go to
// their own prefix (`exports/<tenant>/<export id>/`); one bucket here keeps the snapshot one listing.
const storage = localS3Bucket('hard-delete');
const { s3, bucket } = storage;

let now = new Date('2027-01-04T09:00:00.000Z');
const clock = () => now;
const table = { client, tableName: config.tableName, now: clock };
const tenants = new TenantStore(table);
const operations = new OperationStore(table);
const scheduler = new LocalScheduler(table);
const vectors = new S3VectorStore({ s3: () => s3, bucket });

/** The ledger, with deleteCustomer recorded (the billing helper implements it in the adapters). */
class RecordingBilling extends LedgerBilling {
  readonly deletedCustomers: CustomerLifecycleRequest[] = [];
  override async deleteCustomer(request: CustomerLifecycleRequest): Promise<{ readonly deleted: boolean }> {
    this.deletedCustomers.push(request);
    return { deleted: request.account !== undefined };
  }
}
const billing = new RecordingBilling(table);

let faults: FaultInjector | undefined;
const runner = new LocalWorkflowRunner({ dependencies: () => ports, retryIntervalMs: 1, faults: (...args) => faults?.(...args), onError: (error) => errors.push(error) });
const errors: unknown[] = [];
const ports: WorkflowPorts = {
  tenants,
  operations,
  leases: new QueryLeaseStore(table),
  provisioner: undefined as never, // a hard delete provisions nothing
  billing,
  scheduler,
  runner,
  now: clock,
};

const LOOK_ALIKES = ['acme-eu', 'acme-corp'];

/** A tenant with data in every source: history, usage, leases, operations, ledger invoices, its subscription link, idempotency records, documents, vectors, an export's files. */
async function seed(tenantId: string, n = 3): Promise<Tenant> {
  // Created as POST /tenants does: with its (local) billing customer, and the link of its subscription.
  const tenant = await createTenant(
    { tenants, billing, linkOf: (subscriptionId) => findTenantBySubscription(client, config.tableName, subscriptionId) },
    { tenantId, name: `Org ${tenantId}`, email: `admin@${tenantId}.example`, plan: 'starter', usage: { queriesPerMonth: 1, storageGb: 0, documents: n, users: 1 } },
    { actor: 'test' },
  );
  const suspended = await tenants.applyTransition(tenant, 'suspend', { actor: 'test', reason: 'invoice.payment_failed' });
  await tenants.applyTransitions(suspended, ['resume', 'complete_reactivation'], { actor: 'test' });
  await tenants.reportUsage(tenantId, { queriesPerMonth: 10, storageGb: 0.5, documents: n, users: 2 }, new Date(now.getTime() - 1000).toISOString());
  await new QueryLeaseStore(table).acquire(tenantId, { holder: 'worker', ttlSeconds: 300 });
  for (let i = 0; i < n; i += 1) {
    const operationId = `op-${tenantId}-${i}`;
    await client.send(new PutCommand({ TableName: config.tableName, Item: { ...operations.newItem({ operationId, tenantId, workflow: 'plan-change', input: { plan: 'professional' }, requestedBy: 'test' }), status: 'succeeded' } }));
    await billing.applyPlanChange({ operationId, tenantId, fromPlan: 'starter', toPlan: 'professional', direction: 'upgrade', timing: 'immediately' });
  }
  // Requests about the tenant with an Idempotency-Key, by its own token and by an operator: both hold its data.
  await idempotentRequest(table, tenantId, 'key-1', { tenantId, name: `Org ${tenantId}` }, 'tenant');
  await idempotentRequest(table, tenantId, 'key-1', { tenantId, name: `Org ${tenantId}` }, 'operator');
  for (let i = 0; i < n; i += 1) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `tenants/${tenantId}/docs/${i}.txt`, Body: `Document ${i} of ${tenantId}` }));
  await vectors.upsert(tenantId, Array.from({ length: n }, (_, i) => ({ id: `chunk#${i}`, values: [i, 0.5, -0.25], metadata: { owner: tenantId } })));
  // A finished export: a copy of all of the above (name, email, documents), kept its retention in the exports bucket.
  for (const key of ['manifest.json', 'tenant/part-00001.ndjson.gz']) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `exports/${tenantId}/op-export-${tenantId}/${key}`, Body: `{"name":"Org ${tenantId}","email":"admin@${tenantId}.example"}` }));
  }
  return (await tenants.get(tenantId)) as Tenant;
}

/** Soft delete as the deletion route does it (initiate_deletion with its record, both schedules armed), at `now`. */
async function softDelete(tenantId: string, retentionDays = 30): Promise<DeletionSchedule> {
  const tenant = await tenants.get(tenantId);
  const deletion = deletionSchedule({ tenantId, requestedAt: now, requestedBy: 'operator:test', reason: 'customer asked', retentionDays });
  await tenants.applyTransition(tenant, 'initiate_deletion', { actor: 'operator:test', reason: 'customer asked' }, { changes: { deletion } });
  await armDeletionSchedules(scheduler, tenantId, deletion);
  return deletion;
}

let fired = 0;
/** Fire the hard delete as a target does, with `trigger`, and wait for the execution to end. */
async function fire(tenantId: string, deletion: DeletionSchedule, trigger: HardDeleteTrigger = 'deadline'): Promise<HardDeleteInput> {
  fired += 1;
  const input: HardDeleteInput = { operationId: `hd_${tenantId}_${trigger}_${fired}`, tenantId, trigger, scheduledAt: now.toISOString(), deletionRequestedAt: deletion.requestedAt };
  await startExecution(ports, 'hard-delete', input);
  await runner.idle();
  return input;
}

async function documentKeys(tenantId: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `tenants/${tenantId}/` }));
  return (page.Contents ?? []).map((object) => object.Key as string);
}

/** Every item of the table, every S3 object of the bucket. */
async function snapshot(): Promise<{ items: Record<string, unknown>[]; objects: string[] }> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const page = await client.send(new ScanCommand({ TableName: config.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const objects = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents?.map((object) => object.Key as string) ?? [];
  return { items: items.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`)), objects: objects.sort() };
}

/** Whether an item or object is of `tenantId` (by key, attribute or prefix; `acme` never matches `acme-eu`). */
function ofTenant(tenantId: string) {
  return {
    item: (item: Record<string, unknown>) =>
      item.pk === `TENANT#${tenantId}` ||
      item.tenantId === tenantId ||
      item.pk === idempotencyPartition(tenantId) ||
      (item.payload as { tenantId?: string } | undefined)?.tenantId === tenantId,
    object: (key: string) => key.startsWith(`tenants/${tenantId}/`) || key.startsWith(`vectors/tenant_${tenantId}/`) || key.startsWith(`exports/${tenantId}/`),
  };
}

let logs: ReturnType<typeof captureLogs>;
beforeAll(async () => {
  logs = captureLogs();
  await storage.create();
});
afterAll(async () => {
  await runner.idle();
  logs.restore();
  s3.destroy();
});
afterEach(() => {
  faults = undefined;
  expect(errors).toEqual([]);
});

describe('a hard delete at its deadline (a suspended tenant, soft-deleted)', () => {
  let deletion: DeletionSchedule;
  let before: Awaited<ReturnType<typeof snapshot>>;
  let input: HardDeleteInput;

  beforeAll(async () => {
    now = new Date('2027-01-04T09:00:00.000Z');
    for (const tenantId of ['acme', ...LOOK_ALIKES]) await seed(tenantId);
    const acme = await tenants.get('acme');
    await tenants.applyTransition(acme, 'suspend', { actor: 'test', reason: 'invoice.payment_failed' });
    deletion = await softDelete('acme');
    before = await snapshot();
    now = new Date(deletion.deadline);
    input = await fire('acme', deletion);
  });

  it('should leave nothing of the tenant but the tombstone, the audit trail, the certificate, the invoices kept by law and the record of its erasure', async () => {
    const after = await snapshot();
    const acme = ofTenant('acme');
    const left = after.items.filter(acme.item);
    const kinds = left.map((item) => `${String(item.pk).split('#')[0]}#${String(item.sk).split('#')[0]}`);
    expect(new Set(kinds)).toEqual(new Set(['TENANT#TENANT', 'TENANT#AUDIT', 'TENANT#DELETION_CERTIFICATE', 'TENANT#LEDGER', 'OPERATION#OPERATION']));
    expect(left.filter((item) => String(item.pk).startsWith('OPERATION#')).map((item) => item.workflow)).toEqual(['hard-delete']);
    // The tombstone: no name, email, usage, billing, plan, resources.
    const tombstone = left.find((item) => item.sk === 'TENANT') as Record<string, unknown>;
    expect(Object.keys(tombstone).filter((key) => !['pk', 'sk', 'type'].includes(key)).sort()).toEqual([...TOMBSTONE_FIELDS].sort());
    expect(tombstone).toMatchObject({ tenantId: 'acme', state: 'deleted', deletedAt: now.toISOString(), deletionCertificateId: `dc_${input.operationId}` });
    expect(JSON.stringify(left.filter((item) => item.sk !== 'DELETION_CERTIFICATE' && !String(item.sk).startsWith('AUDIT#')))).not.toMatch(/admin@acme|Org acme/);
    // Documents, vectors: nothing under the tenant's prefixes.
    expect(after.objects.filter(acme.object)).toEqual([]);
    expect(before.objects.filter(acme.object).length).toBeGreaterThan(0);
    expect((await vectors.listIds('acme', { limit: 100 })).ids).toEqual([]);
    // The billing customer: deleted once, keyed by the soft delete.
    expect(billing.deletedCustomers.filter((request) => request.tenantId === 'acme')).toEqual([expect.objectContaining({ idempotencyKey: `hard-delete:acme:${deletion.requestedAt}:delete-customer` })]);
  });

  it('should take nothing from the look-alike tenants acme-eu and acme-corp', async () => {
    const after = await snapshot();
    for (const tenantId of LOOK_ALIKES) {
      const of = ofTenant(tenantId);
      expect(after.items.filter(of.item)).toEqual(before.items.filter(of.item));
      expect(after.objects.filter(of.object)).toEqual(before.objects.filter(of.object));
      expect(after.objects.filter(of.object).length).toBeGreaterThan(0);
    }
  });

  it('should write a certificate: per source what was there, when purged, verified empty, what is retained and why; the window and the time; a sha256 over its content', async () => {
    const certificate = (await findCertificate(client, config.tableName, 'acme')) as DeletionCertificate;
    expect(certificate.sources.map((source) => source.source)).toEqual(['exports', 'billing', 'billing-links', 'vectors', 'documents', 'idempotency', 'operations', 'tenant-items', 'usage', 'audit', 'tenant']);
    const bySource = Object.fromEntries(certificate.sources.map((source) => [source.source, source]));
    expect(bySource.exports).toMatchObject({ before: 2, deleted: 2, verification: { result: 'empty', remaining: 0 } });
    expect(bySource.documents).toMatchObject({ before: 3, deleted: 3, verification: { result: 'empty', remaining: 0 } });
    expect(bySource.vectors).toMatchObject({ before: 3, deleted: 3 });
    expect(bySource.usage).toMatchObject({ before: 1, deleted: 1 });
    // Its Idempotency-Key answers, its own token's and an operator's: the tenant's data, purged (not left to the TTL).
    expect(bySource.idempotency).toMatchObject({ before: 2, deleted: 2, verification: { result: 'empty', remaining: 0 } });
    expect(bySource.operations).toMatchObject({ before: 4, deleted: 3, retained: { count: 1, basis: expect.stringContaining('Art. 5(2)') } });
    // Three plan changes and the customer's creation, kept by law; the subscription link goes with the tenant.
    expect(bySource.billing).toMatchObject({ deleted: 0, retained: { count: 4, basis: expect.stringContaining('Art. 17(3)(b)') } });
    expect(bySource['billing-links']).toMatchObject({ before: 1, deleted: 1, verification: { result: 'empty', remaining: 0 } });
    expect(await findTenantBySubscription(client, config.tableName, 'sub_local_acme')).toBeUndefined();
    expect((await findTenantBySubscription(client, config.tableName, 'sub_local_acme_eu'))?.tenantId).toBe('acme-eu');
    expect(bySource.audit?.retained?.count).toBeGreaterThan(5);
    expect(certificate).toMatchObject({
      tenantId: 'acme',
      window: deletion.window,
      trigger: { kind: 'deadline', scheduledAt: deletion.deadline },
      completedAt: now.toISOString(),
      timeliness: { onTime: true },
      // Its (local) billing customer, made with the tenant, is deleted.
      billingCustomer: { deleted: true },
      legalHolds: [],
    });
    const { sha256, ...content } = certificate;
    expect(sha256).toBe(createHash('sha256').update(canonicalJson(content)).digest('hex'));
    expect(canonicalJson({ b: 1, a: [{ d: 'x', c: null }] })).toBe('{"a":[{"c":null,"d":"x"}],"b":1}');
  });

  it('should do nothing on a second firing after the deletion, nor on the enforcement check', async () => {
    const settled = await snapshot();
    await fire('acme', deletion, 'deadline');
    now = new Date(Date.parse(deletion.window.closesAt) + 61_000);
    await fire('acme', deletion, 'enforcement-check');
    expect(await snapshot()).toEqual(settled);
    // The soft delete's schedules were deleted with the completion.
    expect(await scheduler.find(deletion.schedules.hardDelete)).toBeUndefined();
    expect(await scheduler.find(deletion.schedules.enforcement)).toBeUndefined();
  });
});

describe('firing before the window opens', () => {
  it('should re-arm the hard delete for the deadline and delete nothing', async () => {
    now = new Date('2027-02-01T09:00:00.000Z');
    await seed('early-co');
    const deletion = await softDelete('early-co');
    const before = await snapshot();
    now = new Date(Date.parse(deletion.window.opensAt) - 5 * 60_000);
    const input = await fire('early-co', deletion);

    const after = await snapshot();
    const of = ofTenant('early-co');
    expect(after.objects.filter(of.object)).toEqual(before.objects.filter(of.object));
    expect(after.items.filter((item) => of.item(item) && item.pk !== `OPERATION#${input.operationId}` && item.pk !== `SCHEDULE#${deletion.schedules.hardDelete}`)).toEqual(
      before.items.filter((item) => of.item(item) && item.pk !== `SCHEDULE#${deletion.schedules.hardDelete}`),
    );
    expect((await tenants.get('early-co')).state).toBe('deleting');
    expect((await scheduler.find(deletion.schedules.hardDelete))?.at.toISOString()).toBe(deletion.deadline);
    expect(await operations.get(input.operationId)).toMatchObject({ status: 'cancelled', error: { code: 'WINDOW_NOT_OPEN' } });
  });
});

describe('firing after the window closed', () => {
  it('should delete, and record a compliance violation with its lateness', async () => {
    now = new Date('2027-03-01T09:00:00.000Z');
    await seed('late-co');
    const deletion = await softDelete('late-co');
    now = new Date(Date.parse(deletion.window.closesAt) + 2 * 3600_000 + 61_000);
    const input = await fire('late-co', deletion, 'enforcement-check');

    expect((await tenants.get('late-co')).state).toBe('deleted');
    const history = await tenants.history('late-co', { limit: 10 });
    const violations = history.items.filter((entry) => entry.event === CHANGE_EVENTS.complianceViolation);
    expect(violations.map((entry) => entry.violation)).toEqual([
      { kind: 'hard_delete_late', dueBy: deletion.window.closesAt, detectedAt: now.toISOString(), latenessSeconds: 2 * 3600 + 61, detectedBy: 'enforcement-check' },
    ]);
    expect(violations[0]?.operationId).toBe(input.operationId);
    const certificate = await findCertificate(client, config.tableName, 'late-co');
    expect(certificate?.timeliness).toEqual({ onTime: false, latenessSeconds: 2 * 3600 + 61 });
  });
});

/** A seeded tenant soft-deleted at `since`, put under a legal hold, and the clock an hour past its window. */
async function heldPastItsWindow(tenantId: string, since: string): Promise<DeletionSchedule> {
  now = new Date(since);
  await seed(tenantId);
  const deletion = await softDelete(tenantId);
  const tenant = await tenants.get(tenantId);
  await tenants.recordChange(tenant, CHANGE_EVENTS.placeLegalHold, { actor: 'operator:legal', reason: 'litigation' }, { set: { legalHold: { reason: 'litigation', by: 'operator:legal', since: now.toISOString() } } });
  now = new Date(Date.parse(deletion.window.closesAt) + 3600_000);
  return deletion;
}

describe('a legal hold', () => {
  it('should stop the hard delete without a violation, keep the record of it, and check again later', async () => {
    const deletion = await heldPastItsWindow('held-co', '2027-04-01T09:00:00.000Z');
    const input = await fire('held-co', deletion, 'enforcement-check');

    expect((await tenants.get('held-co')).state).toBe('deleting');
    expect(await documentKeys('held-co')).toHaveLength(3);
    expect(await operations.get(input.operationId)).toMatchObject({ status: 'cancelled', error: { code: 'LEGAL_HOLD' } });
    expect((await tenants.history('held-co', { limit: 10 })).items.map((entry) => entry.event)).not.toContain(CHANGE_EVENTS.complianceViolation);
    expect((await scheduler.find(deletion.schedules.hardDelete))?.at.getTime()).toBe(Math.floor((now.getTime() + LEGAL_HOLD_RECHECK_SECONDS * 1000) / 1000) * 1000);
  });
});

/**
 * Fire the hard delete of `tenantId` with `during` run once inside the firing's first re-arm of it: after the
 * firing read the tenant held and before its re-check is stored, as the legal-hold routes and the deadline's
 * Lambda can interleave on AWS. Answers the firing's input once `during` has run (it throws if it never did).
 */
async function fireWithinReArm(tenantId: string, deletion: DeletionSchedule, during: () => Promise<void>): Promise<HardDeleteInput> {
  const scheduleOnce = scheduler.scheduleOnce.bind(scheduler);
  let ran = false;
  const spy = jest.spyOn(scheduler, 'scheduleOnce').mockImplementation(async (schedule) => {
    if (!ran && schedule.name === deletion.schedules.hardDelete) {
      ran = true;
      await during();
    }
    return scheduleOnce(schedule);
  });
  try {
    const input = await fire(tenantId, deletion);
    if (!ran) throw new Error('the firing never re-armed the hard delete');
    return input;
  } finally {
    spy.mockRestore();
  }
}

describe('a legal hold released while its firing decides', () => {
  it("should not put the released deletion off a week: the firing's re-check does not replace the release's re-arm, it deletes (on time, no violation)", async () => {
    const deletion = await heldPastItsWindow('released-mid-co', '2027-05-01T09:00:00.000Z');
    // The release re-arms the hard delete for a minute on, then the firing's re-arm (a week on) comes.
    const input = await fireWithinReArm('released-mid-co', deletion, async () => {
      await releaseLegalHold(ports, 'released-mid-co', { actor: 'operator:legal', reason: 'case settled' });
    });

    expect([(await tenants.find('released-mid-co'))?.state, (await operations.get(input.operationId))?.status]).toEqual(['deleted', 'succeeded']);
    expect(await documentKeys('released-mid-co')).toEqual([]);
    expect((await findCertificate(client, config.tableName, 'released-mid-co'))?.timeliness).toEqual({ onTime: true });
  });
});

describe('a legal hold released and placed again while its firing decides', () => {
  it('should stop for the new hold and name it (not the released one) in the record', async () => {
    const deletion = await heldPastItsWindow('replaced-hold-co', '2027-06-01T09:00:00.000Z');
    const input = await fireWithinReArm('replaced-hold-co', deletion, async () => {
      await releaseLegalHold(ports, 'replaced-hold-co', { actor: 'operator:legal', reason: 'case settled' });
      await placeLegalHold(ports, 'replaced-hold-co', { actor: 'operator:legal', by: 'operator:legal', reason: 'new subpoena 2027-77' });
    });

    expect((await tenants.get('replaced-hold-co')).state).toBe('deleting');
    const operation = await operations.get(input.operationId);
    expect(operation).toMatchObject({ status: 'cancelled', error: { code: 'LEGAL_HOLD' } });
    expect(operation.error?.message).toContain('new subpoena 2027-77');
    expect(operation.error?.message).not.toContain('litigation');
  });
});

describe('a hard delete that began in the window before the deadline, then failed', () => {
  it('should refuse to cancel the soft delete (its data is partly gone) and say when the purge began, changing nothing', async () => {
    now = new Date('2027-08-01T09:00:00.000Z');
    await seed('window-co');
    const deletion = await softDelete('window-co');
    // Inside the window, before the deadline: a delivery re-armed at the window's opening runs here.
    now = new Date(Date.parse(deletion.window.opensAt) + 10 * 60_000);
    faults = async (state, phase, _input, event) => {
      if (event?.source === 'documents' && state === 'Verify' && phase === 'before') await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tenants/window-co/late.txt', Body: 'late' }));
    };
    const input = await fire('window-co', deletion);
    faults = undefined;
    const failed = await tenants.get('window-co');
    expect(failed).toMatchObject({ state: 'deleting' });
    expect(await documentKeys('window-co')).toEqual(['tenants/window-co/late.txt']); // the seeded documents are gone

    now = new Date(now.getTime() + 60_000); // still within retention
    await expect(cancelDeletion(ports, 'window-co', { actor: 'operator:test' })).rejects.toMatchObject({
      code: 'ERASURE_STARTED',
      message: expect.stringContaining(`operation ${input.operationId}`),
      details: { tenantId: 'window-co', operationId: input.operationId },
    });
    expect(await tenants.get('window-co')).toEqual(failed);
  });
});

describe('residual data (the course\'s failure 3)', () => {
  /** After the documents' purge a late object appears under the tenant's prefix (a write that raced the purge); `goneAfter` verifications later it is gone (null: never). */
  function straggler(tenantId: string, goneAfter: number | null): { verifications: () => number } {
    let verifications = 0;
    const key = `tenants/${tenantId}/late-upload.txt`;
    faults = async (state, phase, _input, event) => {
      if (event?.source !== 'documents') return;
      if (state === 'Purge' && phase === 'after') await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'late' }));
      if (state === 'Verify' && phase === 'before') {
        verifications += 1;
        if (goneAfter !== null && verifications > goneAfter) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      }
    };
    return { verifications: () => verifications };
  }

  it('should retry a source that reports residual data for a while until it is empty, then delete', async () => {
    now = new Date('2027-05-01T09:00:00.000Z');
    await seed('slow-co');
    const deletion = await softDelete('slow-co');
    now = new Date(deletion.deadline);
    const probe = straggler('slow-co', 3);
    await fire('slow-co', deletion);

    expect(probe.verifications()).toBe(4);
    expect((await tenants.get('slow-co')).state).toBe('deleted');
    expect(await documentKeys('slow-co')).toEqual([]);
    expect((await findCertificate(client, config.tableName, 'slow-co'))?.sources.find((source) => source.source === 'documents')?.verification.result).toBe('empty');
  });

  it('should fail loudly when it never empties: the tenant stays deleting, no certificate, an error log and the HardDeleteFailed metric', async () => {
    now = new Date('2027-06-01T09:00:00.000Z');
    await seed('stuck-co');
    const deletion = await softDelete('stuck-co');
    now = new Date(deletion.deadline);
    const probe = straggler('stuck-co', null);
    logs.clear();
    const input = await fire('stuck-co', deletion);

    expect(probe.verifications()).toBe(8);
    const tenant = await tenants.get('stuck-co');
    expect(tenant).toMatchObject({ state: 'deleting', deletion });
    expect(tenant.operationId).toBeUndefined();
    expect(await findCertificate(client, config.tableName, 'stuck-co')).toBeUndefined();
    const operation = await operations.get(input.operationId);
    expect(operation).toMatchObject({ status: 'failed', error: { code: 'ResidualDataError', message: expect.stringContaining("'documents' still holds 1 record") } });
    expect((await tenants.history('stuck-co', { limit: 1 })).items[0]).toMatchObject({ event: CHANGE_EVENTS.failHardDelete, operationId: input.operationId });
    const entries = logs.entries();
    expect(entries.filter((entry) => entry.level === 'ERROR' && entry.message === 'Hard delete failed: the tenant stays deleting, no certificate')).toHaveLength(1);
    expect(entries.filter((entry) => (entry as { HardDeleteFailed?: number }).HardDeleteFailed === 1)).toEqual([expect.objectContaining({ workflow: 'hard-delete' })]);
    // The next firing (the enforcement check) may claim it again.
    faults = undefined;
    now = new Date(Date.parse(deletion.window.closesAt) + 61_000);
    await fire('stuck-co', deletion, 'enforcement-check');
    expect((await tenants.get('stuck-co')).state).toBe('deleted');
  });

  it('should record one violation per soft delete however many late runs it takes (the sweeper restarting a failing hard delete each pass)', async () => {
    now = new Date('2027-07-01T09:00:00.000Z');
    await seed('relapse-co');
    const deletion = await softDelete('relapse-co');
    const closes = Date.parse(deletion.window.closesAt);
    straggler('relapse-co', null);
    now = new Date(closes + 3600_000);
    const first = await fire('relapse-co', deletion, 'sweeper');
    expect(await operations.get(first.operationId)).toMatchObject({ status: 'failed' });
    now = new Date(closes + 2 * 3600_000);
    await fire('relapse-co', deletion, 'sweeper');
    faults = undefined;
    now = new Date(closes + 3 * 3600_000);
    await fire('relapse-co', deletion, 'sweeper');

    expect((await tenants.get('relapse-co')).state).toBe('deleted');
    const history = await tenants.history('relapse-co', { limit: 100 });
    expect(history.items.filter((entry) => entry.event === CHANGE_EVENTS.failHardDelete)).toHaveLength(2);
    expect(history.items.filter((entry) => entry.event === CHANGE_EVENTS.complianceViolation).map((entry) => entry.violation)).toEqual([
      { kind: 'hard_delete_late', dueBy: deletion.window.closesAt, detectedAt: new Date(closes + 3600_000).toISOString(), latenessSeconds: 3600, detectedBy: 'sweeper' },
    ]);
  });
});
