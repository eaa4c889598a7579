/**
 * Compliance violations as an operator sees them: audit entries carrying `violation` written by the store
 * (DynamoDB Local), listed across tenants by GET /compliance/violations (by time detected, filtered, paginated,
 * bad input 400, operators only), counted in the ComplianceViolations metric (the EMF documents CloudWatch would
 * receive), and exported by the audit data source without the index attributes that list them.
 */
process.env.POWERTOOLS_METRICS_DISABLED = 'false';

import { auditSource } from '../../../functions/data-sources/audit-source';
import { config } from '../../../functions/shared/config';
import { CHANGE_EVENTS, COMPLIANCE_VIOLATIONS_METRIC, type ComplianceViolation } from '../../../functions/tenants/tenant-store';
import { ApiHarness } from '../../support/api-harness';
import { captureLogs } from '../../support/captured-logs';

type Violation = { tenantId: string; version: number; event: string; violation: ComplianceViolation } & Record<string, unknown>;
type Body = { items: Violation[]; nextCursor: string | null; error?: { code: string; message: string; details?: unknown } };

const api = new ApiHarness();
let logs: ReturnType<typeof captureLogs>;
/** detectedAt of the seeded violations, in order: three tenants, five violations. */
const TIMES = ['2026-11-01T10:00:00.000Z', '2026-11-02T10:00:00.000Z', '2026-11-03T10:00:00.000Z', '2026-11-04T10:00:00.000Z', '2026-11-05T10:00:00.000Z'];
const SEEDED: Array<[string, number, ComplianceViolation['detectedBy']]> = [
  ['viol-b', 2, 'sweeper'],
  ['viol-a', 0, 'hard-delete'],
  ['viol-c', 4, 'enforcement-check'],
  ['viol-a', 3, 'sweeper'],
  ['viol-b', 1, 'hard-delete'],
];

async function recordViolation(tenantId: string, detectedAt: string, detectedBy: ComplianceViolation['detectedBy']): Promise<void> {
  const tenant = await api.store.get(tenantId);
  const dueBy = new Date(Date.parse(detectedAt) - 7200_000).toISOString();
  await api.store.recordChange(tenant, CHANGE_EVENTS.complianceViolation, { actor: detectedBy, reason: 'Hard delete late' }, { violation: { kind: 'hard_delete_late', dueBy, detectedAt, latenessSeconds: 7200, detectedBy } });
}

async function list(query = '', token?: string) {
  return api.request<Body>('GET', `/compliance/violations${query}`, token ? { token } : {});
}

beforeAll(async () => {
  await api.start();
  logs = captureLogs();
  for (const tenantId of ['viol-a', 'viol-b', 'viol-c']) await api.createTenant(tenantId);
  for (const [tenantId, time, by] of SEEDED) await recordViolation(tenantId, TIMES[time] as string, by);
});
afterAll(async () => {
  logs.restore();
  await api.stop();
});

test('every violation of every tenant is listed, oldest detected first, as its audit entry', async () => {
  const response = await list();
  expect(response.status).toBe(200);
  expect(response.body.nextCursor).toBeNull();
  expect(response.body.items.map((item) => [item.tenantId, item.violation.detectedAt, item.violation.detectedBy])).toEqual([
    ['viol-a', TIMES[0], 'hard-delete'],
    ['viol-b', TIMES[1], 'hard-delete'],
    ['viol-b', TIMES[2], 'sweeper'],
    ['viol-a', TIMES[3], 'sweeper'],
    ['viol-c', TIMES[4], 'enforcement-check'],
  ]);
  for (const item of response.body.items) {
    expect(item.event).toBe('compliance_violation');
    expect(Object.keys(item)).not.toEqual(expect.arrayContaining(['state']));
    expect(item).not.toHaveProperty('stateChangedAt');
    expect(item).not.toHaveProperty('pk');
  }
});

test('pages follow one another without gap or repeat, and the last one has no cursor', async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const response: Awaited<ReturnType<typeof list>> = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    expect(response.status).toBe(200);
    expect(response.body.items.length).toBeLessThanOrEqual(2);
    seen.push(...response.body.items.map((item) => item.violation.detectedAt));
    cursor = response.body.nextCursor;
    pages += 1;
  } while (cursor);
  expect(pages).toBe(3);
  expect(seen).toEqual(TIMES);
});

test('from and to filter on detectedAt, both inclusive, in any ISO 8601 offset, and combine with pages', async () => {
  const between = await list(`?from=${TIMES[1]}&to=${TIMES[3]}`);
  expect(between.body.items.map((item) => item.violation.detectedAt)).toEqual(TIMES.slice(1, 4));
  expect((await list(`?from=${TIMES[3]}`)).body.items.map((item) => item.violation.detectedAt)).toEqual(TIMES.slice(3));
  expect((await list(`?to=${TIMES[0]}`)).body.items.map((item) => item.violation.detectedAt)).toEqual(TIMES.slice(0, 1));
  // 12:00+02:00 is 10:00Z.
  expect((await list(`?from=${encodeURIComponent('2026-11-02T12:00:00+02:00')}&to=2026-11-02T10:00:00Z`)).body.items).toHaveLength(1);
  expect((await list('?from=2026-12-01T00:00:00Z')).body).toEqual({ items: [], nextCursor: null });
  const first = await list(`?from=${TIMES[1]}&limit=2`);
  const second = await list(`?from=${TIMES[1]}&limit=2&cursor=${first.body.nextCursor}`);
  expect([...first.body.items, ...second.body.items].map((item) => item.violation.detectedAt)).toEqual(TIMES.slice(1));
});

test.each([
  ['a time that is not ISO 8601', '?from=yesterday', 'VALIDATION_FAILED', 'from'],
  ['a time without a zone', '?to=2026-11-02T10:00:00', 'VALIDATION_FAILED', 'to'],
  ['a range that ends before it starts', `?from=${TIMES[3]}&to=${TIMES[1]}`, 'VALIDATION_FAILED', 'to'],
  ['a limit out of range', '?limit=0', 'VALIDATION_FAILED', 'limit'],
  ['an unknown parameter', '?tenantId=viol-a', 'VALIDATION_FAILED', undefined],
  ['a cursor that is not one', '?cursor=not-a-cursor', 'INVALID_CURSOR', undefined],
  ['a crafted cursor with a key of its own', `?cursor=${Buffer.from(JSON.stringify({ after: { tenantId: 'viol-a', version: 2, detectedAt: TIMES[0] }, pk: 'x' })).toString('base64url')}`, 'INVALID_CURSOR', undefined],
  ['a cursor of a tenant history', `?cursor=${Buffer.from(JSON.stringify({ before: 3 })).toString('base64url')}`, 'INVALID_CURSOR', undefined],
])('%s is a 400 that says what to fix', async (_name, query, code, field) => {
  const response = await list(query);
  expect(response.status).toBe(400);
  expect(response.body.error?.code).toBe(code);
  expect(response.body.error?.message.length).toBeGreaterThan(20);
  if (field) expect(JSON.stringify(response.body.error)).toContain(field);
});

test('a cursor used with a range it does not fall in is refused', async () => {
  const first = await list('?limit=1');
  const response = await list(`?from=${TIMES[3]}&cursor=${first.body.nextCursor}`);
  expect(response.status).toBe(400);
  expect(response.body.error?.code).toBe('INVALID_CURSOR');
});

test("a tenant-scoped token may not list violations (other tenants' included): 403, for want of the operator scope", async () => {
  const response = await list('', api.tenantToken('viol-a'));
  expect(response.status).toBe(403);
  expect(response.body.error?.code).toBe('INSUFFICIENT_SCOPE');
});

test('each violation recorded is counted once in ComplianceViolations, by detectedBy and overall', () => {
  type Emf = Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> } };
  const documents = logs.entries().filter((entry): entry is Emf => '_aws' in entry && COMPLIANCE_VIOLATIONS_METRIC in entry);
  const overall = documents.filter((doc) => JSON.stringify(doc._aws.CloudWatchMetrics[0]?.Dimensions) === JSON.stringify([['service']]));
  const byDetector = documents.filter((doc) => JSON.stringify(doc._aws.CloudWatchMetrics[0]?.Dimensions) === JSON.stringify([['service', 'detectedBy']]));
  expect(overall.map((doc) => doc[COMPLIANCE_VIOLATIONS_METRIC])).toEqual([1, 1, 1, 1, 1]);
  expect(byDetector.map((doc) => doc.detectedBy)).toEqual(SEEDED.map(([, , by]) => by));
  expect(byDetector[0]?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: COMPLIANCE_VIOLATIONS_METRIC, Unit: 'Count' }]);
});

test("the audit data source exports a violation's entry with its violation and without the index attributes that list it", async () => {
  const source = auditSource({ client: api.documentClient, tableName: config.tableName });
  const page = await source.exportPage('viol-a', null, 100);
  const violations = page.records.filter((record) => record.event === 'compliance_violation');
  expect(violations).toHaveLength(2);
  for (const record of violations) {
    expect(record).toHaveProperty('violation.detectedBy');
    expect(record).not.toHaveProperty('state');
    expect(record).not.toHaveProperty('stateChangedAt');
  }
});
