/**
 * Deletion end to end, as an operator drives it: the local stack of `npm start -- --clock=simulated` run in this
 * process, its HTTP API, its local scheduler firing the deletion schedules, the real hard-delete workflow, and
 * time moved with `POST /_local/clock`. A legal hold holds the hard delete past its deadline and its release
 * deletes (no violation: the hold moved the due time); a tenant soft-deleted with a period-end downgrade
 * pending is deleted with nothing of it left but the tombstone, the audit trail, the certificate, the invoices
 * kept by law and the record of its erasure. DynamoDB Local and the S3 server are the stack's own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { testPort } from '../../support/test-port';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_TABLE_NAME } from '../../../infra/local/local-settings';
import { startLocalStack, type LocalStackInfo } from '../../../infra/local/local-stack';

const root = mkdtempSync(join(tmpdir(), 'deletion-e2e-'));
const errors: string[] = [];
let stack: (LocalStackInfo & { stop(): Promise<void> }) | undefined;
const DAY = 86_400;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack?.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack?.tokens.operator}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function advance(seconds: number): Promise<Record<string, unknown>> {
  const answer = await call('POST', '/_local/clock', { advanceSeconds: seconds });
  expect(answer.status).toBe(200);
  return answer.body;
}

/** Seconds from the stack's clock to `iso`, plus `extra`. */
async function secondsUntil(iso: string, extra: number): Promise<number> {
  const now = Date.parse((await call('GET', '/_local/clock')).body.now as string);
  return Math.ceil((Date.parse(iso) - now) / 1000) + extra;
}

/** Every table item of `tenantId`: its partition, and items elsewhere that name it. */
async function itemsOf(tenantId: string): Promise<Record<string, unknown>[]> {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack?.dynamoEndpoint, region: process.env.AWS_REGION }));
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: LOCAL_TABLE_NAME, ExclusiveStartKey: startKey, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  client.destroy();
  return items.filter(
    (item) =>
      item.pk === `TENANT#${tenantId}` ||
      item.tenantId === tenantId ||
      item.ownerTenantId === tenantId ||
      (item.payload as { tenantId?: unknown } | undefined)?.tenantId === tenantId ||
      JSON.stringify(item).includes(`"${tenantId}"`),
  );
}

/** Wait (up to 30 s of wall time) until the tenant is in `state`. */
async function until(tenantId: string, state: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 300; i += 1) {
    const tenant = await call('GET', `/tenants/${tenantId}`);
    if (tenant.body.state === state) return tenant.body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${tenantId} never reached ${state}`);
}

beforeAll(async () => {
  const dynamoPort = await testPort('the test DynamoDB Local');
  stack = await startLocalStack({ apiPort: 0, dynamoPort, dataDir: join(root, 'data'), reset: true, clock: 'simulated', log: () => undefined, logError: (line) => errors.push(line) });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(root, { recursive: true, force: true });
}, 30_000);

describe('deletion over HTTP on the simulated clock', () => {
  it('should hold the hard delete past the deadline under a legal hold, and delete on release without a violation', async () => {
    expect((await call('POST', '/tenants', { tenantId: 'held-co', name: 'Held Co', email: 'ops@held.example', plan: 'starter' })).status).toBe(201);
    expect((await call('PUT', '/tenants/held-co/legal-hold', { reason: 'litigation 2026-114', by: 'legal@held.example' })).status).toBe(200);
    const deleted = await call('POST', '/tenants/held-co/deletion', { retentionDays: 30, reason: 'customer asked' });
    expect(deleted.status).toBe(202);
    const deletion = deleted.body.deletion as { deadline: string; window: { closesAt: string } };

    // Past the deadline and the window: the schedule fires, the hold stops it, nothing is deleted.
    await advance(await secondsUntil(deletion.window.closesAt, 2 * 3600));
    expect(await call('GET', '/tenants/held-co')).toMatchObject({ status: 200, body: { state: 'deleting', legalHold: { reason: 'litigation 2026-114' } } });
    expect((await call('GET', '/tenants/held-co/deletion-certificate')).status).toBe(404);

    // Released: deleted at the later of the deadline and a minute from now (a minute from now), and that is not a violation.
    expect((await call('DELETE', '/tenants/held-co/legal-hold', { reason: 'case closed' })).status).toBe(200);
    await advance(120);
    await until('held-co', 'deleted');
    const certificate = await call('GET', '/tenants/held-co/deletion-certificate');
    expect(certificate.status).toBe(200);
    expect(JSON.stringify(certificate.body)).toContain('litigation 2026-114');
    const violations = await call('GET', '/compliance/violations');
    expect((violations.body.items as Array<{ tenantId: string }>).filter((item) => item.tenantId === 'held-co')).toEqual([]);
    const history = (await call('GET', '/tenants/held-co/history?limit=100')).body.items as Array<{ event: string }>;
    expect(history.map((entry) => entry.event)).toEqual(expect.arrayContaining(['place_legal_hold', 'initiate_deletion', 'release_legal_hold', 'complete_deletion']));
    expect(errors).toEqual([]);
  }, 120_000);

  it('should delete a tenant soft-deleted with a period-end downgrade pending and leave nothing of it behind', async () => {
    expect((await call('POST', '/tenants', { tenantId: 'pending-co', name: 'Pending Co', email: 'ops@pending.example', plan: 'professional' })).status).toBe(201);
    const downgrade = await call('POST', '/tenants/pending-co/plan', { plan: 'starter', effective: 'period_end' });
    expect([downgrade.status, downgrade.body.status]).toEqual([202, 'scheduled']);
    const deleted = await call('POST', '/tenants/pending-co/deletion', { reason: 'closing the account' });
    expect(deleted.status).toBe(202);
    expect(await call('GET', `/operations/${String(downgrade.body.operationId)}`)).toMatchObject({ body: { status: 'cancelled' } });

    await advance(31 * DAY);
    const tombstone = await until('pending-co', 'deleted');
    expect(tombstone).not.toHaveProperty('name');
    expect(tombstone).not.toHaveProperty('email');

    const kinds = new Set((await itemsOf('pending-co')).map((item) => `${String(item.pk).split('#')[0]}#${String(item.sk).split('#')[0]}${item.sk === 'OPERATION' ? `:${String(item.workflow)}` : ''}`));
    // Besides the tombstone, the audit trail, the certificate, the ledger (kept as invoices are) and the hard
    // delete's operation: the local event log (EVENTS#), the embedded stand-in for the lifecycle events' bus, whose
    // events carry the audit trail's fields only (README, "Lifecycle events").
    expect(kinds).toEqual(new Set(['TENANT#TENANT', 'TENANT#AUDIT', 'TENANT#DELETION_CERTIFICATE', 'TENANT#LEDGER', 'OPERATION#OPERATION:hard-delete', 'EVENTS#EVENT']));
    expect(errors).toEqual([]);
  }, 120_000);
});
