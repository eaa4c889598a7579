/**
 * POST /tenants/{id}/reactivate at its edge, over HTTP: every refusal (bad input, a tenant's token, a stale
 * If-Match, a body that does not fit the tenant's state) is the right 4xx with `{error:{code,message}}`, a message
 * that says what to fix, no execution started, and the table as it was; an Idempotency-Key retry answers the same
 * 202 without a second operation or execution; a matching If-Match is accepted. The executions are recorded, not
 * run (what they do: test/integration/reactivation/).
 */
import { setWorkflowRunner } from '../../functions/workflows/workflow-runner';
import { ApiHarness, type RequestOptions } from '../support/api-harness';
import { RecordingRunner } from '../support/recording-runner';

type ErrorBody = { error?: { code?: string; message?: string; details?: Array<{ field?: string; message?: string }> | Record<string, unknown> } };

const api = new ApiHarness();
const runner = new RecordingRunner();
let snapshot: Record<string, unknown>[];
const SUSPENDED = 'edge-suspended';
const ACTIVE = 'edge-active';
const REPLAYED = 'edge-replayed';

beforeAll(async () => {
  await api.start();
  setWorkflowRunner(runner);
  for (const tenantId of [SUSPENDED, ACTIVE, REPLAYED]) await api.createTenant(tenantId);
  for (const tenantId of [SUSPENDED, REPLAYED]) expect((await api.request('POST', `/tenants/${tenantId}/suspend`, { body: { reason: 'unpaid' } })).status).toBe(200);
  snapshot = await api.tableSnapshot();
});
afterAll(() => api.stop());

interface Case {
  readonly name: string;
  readonly tenantId?: string;
  readonly options: RequestOptions;
  readonly status: number;
  readonly code: string;
  /** The field the details name, for validation errors. */
  readonly field?: string;
  /** What the message (or the field's message) must say: how to fix it. */
  readonly says: RegExp;
}

const CASES: Case[] = [
  { name: 'an unknown field', options: { body: { restoreData: true, force: true } }, status: 400, code: 'VALIDATION_FAILED', field: 'force', says: /Unknown field 'force': remove it/ },
  { name: 'restoreData that is not a boolean', options: { body: { restoreData: 'yes' } }, status: 400, code: 'VALIDATION_FAILED', field: 'restoreData', says: /true or false/ },
  { name: 'an unknown plan', options: { body: { plan: 'platinum' } }, status: 400, code: 'VALIDATION_FAILED', field: 'plan', says: /one of free, starter, professional, enterprise/ },
  { name: 'a malformed email', options: { body: { restoreData: false, name: 'Back Co', email: 'not-an-email', plan: 'starter' } }, status: 400, code: 'VALIDATION_FAILED', field: 'email', says: /must be an email address/ },
  { name: "a tenant's own token (operators only: no operator scope)", options: { token: api.tenantToken(SUSPENDED), body: {} }, status: 403, code: 'INSUFFICIENT_SCOPE', says: /needs a token with scope tenant-lifecycle\/operator/ },
  { name: 'a stale If-Match', options: { headers: { 'if-match': '"1"' }, body: {} }, status: 409, code: 'VERSION_CONFLICT', says: /expected version 1, it is now version 2.*Read it again/ },
  { name: 'a malformed If-Match', options: { headers: { 'if-match': 'latest' }, body: {} }, status: 400, code: 'INVALID_IF_MATCH', says: /If-Match/ },
  { name: 'an active tenant', tenantId: ACTIVE, options: { body: {} }, status: 409, code: 'NOT_REACTIVATABLE', says: /is 'active': only a suspended tenant, a soft-deleted one within its retention, or a deleted one can be reactivated/ },
  { name: 'an unknown tenant', tenantId: 'edge-nobody', options: { body: {} }, status: 404, code: 'TENANT_NOT_FOUND', says: /edge-nobody/ },
  { name: 'a name and email for a suspended tenant (it keeps its own)', options: { body: { name: 'New Name', email: 'new@edge.example' } }, status: 422, code: 'DETAILS_NOT_ACCEPTED', says: /omit "name" and "email"/ },
  { name: 'a fresh start of a suspended tenant', options: { body: { restoreData: false } }, status: 422, code: 'FRESH_START_UNAVAILABLE', says: /soft-delete it/ },
];

describe('POST /tenants/{id}/reactivate: refusals', () => {
  it.each(CASES)('should answer $name with $status $code, say what to fix, start nothing and change nothing', async ({ tenantId = SUSPENDED, options, status, code, field, says }) => {
    const response = await api.request<ErrorBody>('POST', `/tenants/${tenantId}/reactivate`, options);

    expect([response.status, response.body.error?.code]).toEqual([status, code]);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const details = Array.isArray(response.body.error?.details) ? response.body.error.details : [];
    if (field) {
      const named = details.filter((detail) => detail.field === field);
      expect(named).toHaveLength(1);
      expect(`${response.body.error?.message} ${named[0]?.message}`).toMatch(says);
    } else {
      expect(response.body.error?.message).toMatch(says);
    }
    expect(runner.requests).toBe(0);
    expect(await api.tableSnapshot()).toEqual(snapshot);
  });
});

describe('POST /tenants/{id}/reactivate: retries and versions', () => {
  it('should answer a retry with the same Idempotency-Key with the same 202, without a second operation or execution', async () => {
    const send = (body: Record<string, unknown>) => api.request<Record<string, unknown>>('POST', `/tenants/${REPLAYED}/reactivate`, { headers: { 'idempotency-key': 'win-back-1' }, body });
    const first = await send({ reason: 'Win-back offer' });
    const before = await api.tableSnapshot();

    const retry = await send({ reason: 'Win-back offer' });

    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ tenantId: REPLAYED, path: 'resume', status: 'running' });
    expect([retry.status, retry.body, retry.headers.get('idempotent-replayed')]).toEqual([202, first.body, 'true']);
    expect(retry.headers.get('location')).toBe(first.headers.get('location'));
    expect(runner.operations('reactivation', REPLAYED).map((operation) => operation.operationId)).toEqual([first.body.operationId]);
    expect(runner.requests).toBe(1);
    expect(await api.tableSnapshot()).toEqual(before);

    // The same key with another body is refused, and starts nothing either.
    const reused = await send({ reason: 'Another reason' });
    expect([reused.status, (reused.body as ErrorBody).error?.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    expect(runner.requests).toBe(1);
  });

  it('should accept an If-Match at the current version', async () => {
    const tenant = await api.request<{ version: number }>('GET', `/tenants/${SUSPENDED}`);

    const response = await api.request<Record<string, unknown>>('POST', `/tenants/${SUSPENDED}/reactivate`, { headers: { 'if-match': `"${tenant.body.version}"` }, body: {} });

    expect(response.status).toBe(202);
    expect((await api.request<{ state: string }>('GET', `/tenants/${SUSPENDED}`)).body.state).toBe('reactivating');
  });
});
