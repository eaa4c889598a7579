/**
 * Answers that tell the truth: `allowedEvents` is exactly what the API accepts for the tenant now, the same
 * situation gets the same code, every route that changes a tenant honours If-Match, a tenant token reads its
 * own operations, and a full last page has no cursor.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ROUTES } from '../../functions/api/routes';
import { config } from '../../functions/shared/config';
import { localS3ClientConfig } from '../../infra/local/s3-local';
import { ROUTE_SPECS } from '../../functions/api/openapi';
import type { LifecycleEvent } from '../../functions/lifecycle';
import { setWorkflowRunner } from '../../functions/workflows/workflow-runner';
import { workflowDependencies } from '../../functions/workflows/workflow-deps';
import { API_EVENTS } from '../../functions/tenants/tenant-rules';
import { OperationOwnershipError } from '../../functions/tenants/errors';
import { LocalWorkflowRunner } from '../../infra/local/local-workflow-runner';
import { ApiHarness, type ApiResponse } from '../support/api-harness';

type Body = Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, unknown> } };

const api = new ApiHarness();
const runner = new LocalWorkflowRunner({ dependencies: workflowDependencies });
/** Leases that hold workflows in their drain, released at the end so every workflow finishes. */
const heldLeases: Array<{ tenantId: string; leaseId: string }> = [];

// Exports started here run for real: their buckets on the local S3 server (signed with the run's key, from the environment).
process.env.DOCUMENTS_BUCKET = `docs-${config.tableName.slice(-8)}`;
process.env.EXPORTS_BUCKET = `exports-${config.tableName.slice(-8)}`;

beforeAll(async () => {
  await api.start();
  const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
  for (const bucket of [process.env.DOCUMENTS_BUCKET, process.env.EXPORTS_BUCKET]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  setWorkflowRunner(runner);
});
afterAll(async () => {
  await releaseHeld();
  await api.stop();
});

/** Let the held workflows finish (runner.idle() waits for every execution). */
async function releaseHeld(): Promise<void> {
  for (const { tenantId, leaseId } of heldLeases.splice(0)) await api.request('DELETE', `/tenants/${tenantId}/leases/${leaseId}`, { token: api.tenantToken(tenantId) });
  await runner.idle();
}

const SMALL_USAGE = { queriesPerMonth: 10, storageGb: 0.05, documents: 10, users: 1 };
const BIG_USAGE = { queriesPerMonth: 200_000, storageGb: 80, documents: 90_000, users: 120 };

/** The tenant's situations, each set up on a fresh tenant; answers the running operation's id if any. */
const SITUATIONS: Record<string, (tenantId: string) => Promise<string | undefined>> = {
  'active on starter': async (id) => void (await api.createTenant(id, { plan: 'starter', usage: SMALL_USAGE })),
  'active on free': async (id) => void (await api.createTenant(id, { plan: 'free', usage: SMALL_USAGE })),
  'active on enterprise, usage fitting no lower plan': async (id) => void (await api.createTenant(id, { plan: 'enterprise', usage: BIG_USAGE })),
  suspended: async (id) => {
    await api.createTenant(id, { plan: 'starter', usage: SMALL_USAGE });
    expect((await api.request('POST', `/tenants/${id}/suspend`)).status).toBe(200);
    return undefined;
  },
  'upgrading (owned by its running operation)': async (id) => upgrading(id),
  'soft-deleted': async (id) => {
    await api.createTenant(id, { plan: 'starter', usage: SMALL_USAGE });
    expect((await api.request('POST', `/tenants/${id}/deletion`, { body: {} })).status).toBe(202);
    return undefined;
  },
  'with a downgrade scheduled for the period end': async (id) => {
    await api.createTenant(id, { plan: 'professional', usage: SMALL_USAGE });
    const scheduled = await api.request<Body>('POST', `/tenants/${id}/plan`, { body: { plan: 'starter' } });
    expect(scheduled.body.status).toBe('scheduled');
    return undefined;
  },
};

/** A starter tenant upgrading to professional, its workflow held in the drain by a live query lease. */
async function upgrading(tenantId: string): Promise<string> {
  await api.createTenant(tenantId, { plan: 'starter', usage: SMALL_USAGE });
  const lease = await api.request<Body>('POST', `/tenants/${tenantId}/leases`, { token: api.tenantToken(tenantId), body: { holder: 'held', ttlSeconds: 120 } });
  heldLeases.push({ tenantId, leaseId: lease.body.leaseId as string });
  const started = await api.request<Body>('POST', `/tenants/${tenantId}/plan`, { body: { plan: 'professional', drainTimeoutSeconds: 120 } });
  expect(started.status).toBe(202);
  // Wait until the workflow is parked in its drain (read-only window open), so the tenant item and its
  // history no longer change while the test compares them.
  const deadline = Date.now() + 15_000;
  while (!(await api.store.get(tenantId)).readOnlyReason) {
    if (Date.now() > deadline) throw new Error(`the upgrade of ${tenantId} never reached its drain`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return started.body.operationId as string;
}

/** The request of each event the API accepts, for this tenant: a plan change to the next plan that way. */
const PLAN_ORDER = ['free', 'starter', 'professional', 'enterprise'];
async function requestEvent(tenantId: string, event: LifecycleEvent): Promise<ApiResponse<Body>> {
  const tenant = (await api.request<Body>('GET', `/tenants/${tenantId}`)).body;
  const index = PLAN_ORDER.indexOf(tenant.plan as string);
  switch (event) {
    case 'suspend':
      return api.request('POST', `/tenants/${tenantId}/suspend`);
    case 'resume':
      return api.request('POST', `/tenants/${tenantId}/resume`);
    case 'initiate_upgrade':
      return api.request('POST', `/tenants/${tenantId}/plan`, { body: { plan: PLAN_ORDER[Math.min(index + 1, PLAN_ORDER.length - 1)] } });
    case 'initiate_downgrade':
      return api.request('POST', `/tenants/${tenantId}/plan`, { body: { plan: PLAN_ORDER[Math.max(index - 1, 0)], effective: 'immediately' } });
    case 'initiate_export':
      return api.request('POST', `/tenants/${tenantId}/exports`);
    case 'initiate_deletion':
      return api.request('POST', `/tenants/${tenantId}/deletion`, { body: {} });
    case 'cancel_deletion':
      return api.request('DELETE', `/tenants/${tenantId}/deletion`);
    case 'reactivate_deleted':
      // A deleted tenant's fresh start (POST /reactivate), with the details its deletion erased.
      return api.request('POST', `/tenants/${tenantId}/reactivate`, { body: { restoreData: false, name: 'Back Again', email: 'back@again.example', plan: 'starter' } });
    default:
      throw new Error(`No request for ${event}: add it here.`);
  }
}

describe('allowedEvents: exactly what the API would accept now', () => {
  afterAll(releaseHeld);
  it('should name the events of the routes, each with a request here', () => {
    expect([...API_EVENTS].sort()).toEqual(['cancel_deletion', 'initiate_deletion', 'initiate_downgrade', 'initiate_export', 'initiate_upgrade', 'reactivate_deleted', 'resume', 'suspend']);
  });

  let n = 0;
  it.each(Object.keys(SITUATIONS))('should list an event exactly when its route accepts it, for a tenant %s', async (situation) => {
    const setUp = SITUATIONS[situation] as (tenantId: string) => Promise<string | undefined>;
    const probe = `truth-${(n += 1)}-probe`;
    await setUp(probe);
    const listed = (await api.request<Body>('GET', `/tenants/${probe}`)).body.allowedEvents as LifecycleEvent[];
    expect(listed.filter((event) => !API_EVENTS.includes(event))).toEqual([]); // no event without a route
    for (const [i, event] of API_EVENTS.entries()) {
      const tenantId = `truth-${n}-${i}`;
      await setUp(tenantId);
      const response = await requestEvent(tenantId, event);
      const accepted = response.status >= 200 && response.status < 300;
      expect({ situation, event, listed: listed.includes(event), status: response.status }).toEqual({ situation, event, listed: accepted, status: response.status });
    }
  });
});

describe('The same situation gets the same code: 409 OPERATION_IN_PROGRESS naming the operation', () => {
  afterAll(releaseHeld);
  it('should answer every change to a tenant a running operation owns with the operation id', async () => {
    const operationId = await upgrading('owned-1');
    const attempts: Array<[string, string, Record<string, unknown> | undefined]> = [
      ['POST', '/tenants/owned-1/suspend', {}],
      ['POST', '/tenants/owned-1/resume', {}],
      ['POST', '/tenants/owned-1/plan', { plan: 'enterprise' }],
      ['POST', '/tenants/owned-1/plan', { plan: 'free' }],
      ['POST', '/tenants/owned-1/plan', { plan: 'free', effective: 'immediately' }],
      ['DELETE', '/tenants/owned-1/scheduled-plan-change', undefined],
    ];
    const before = await api.tableSnapshot();
    for (const [method, path, body] of attempts) {
      const response = await api.request<Body>(method, path, { body });
      expect([method, path, JSON.stringify(body), response.status, response.body.error?.code, response.body.error?.details?.operationId]).toEqual([
        method, path, JSON.stringify(body), 409, 'OPERATION_IN_PROGRESS', operationId,
      ]);
    }
    const after = await api.tableSnapshot();
    expect(after.filter((item) => item.pk === 'TENANT#owned-1')).toEqual(before.filter((item) => item.pk === 'TENANT#owned-1'));
  });

  it('should explain a lost race the same way: the winner is an operation that owns the tenant', async () => {
    await api.createTenant('owned-race', { plan: 'starter', usage: SMALL_USAGE });
    const stale = await api.store.get('owned-race');
    await api.store.applyTransition(stale, 'initiate_upgrade', { actor: 'test', operationId: 'op-winner' });
    await expect(api.store.applyTransition(stale, 'suspend', { actor: 'test' })).rejects.toBeInstanceOf(OperationOwnershipError);
    await expect(api.store.applyTransition(stale, 'suspend', { actor: 'test' })).rejects.toMatchObject({ ownerOperationId: 'op-winner' });
  });
});

describe('If-Match: honoured by every route that changes a tenant', () => {
  /** Routes that change a tenant's item; query leases live in items of their own and do not take If-Match. */
  const LEASE_ROUTES = ['AcquireQueryLease', 'ReleaseQueryLease'];
  const changing = ROUTES.filter((route) => route.method !== 'GET' && route.path.includes('{tenantId}') && !LEASE_ROUTES.includes(route.id));

  /** Each route's request on a tenant set up so that it would succeed. */
  const REQUESTS: Record<string, { setUp: (tenantId: string) => Promise<unknown>; method: string; path: string; body?: unknown }> = {
    SuspendTenant: { setUp: (id) => api.createTenant(id), method: 'POST', path: 'suspend', body: {} },
    ResumeTenant: { setUp: (id) => SITUATIONS.suspended?.(id) as Promise<unknown>, method: 'POST', path: 'resume', body: {} },
    ChangePlan: { setUp: (id) => api.createTenant(id, { plan: 'starter', usage: SMALL_USAGE }), method: 'POST', path: 'plan', body: { plan: 'professional' } },
    CancelScheduledPlanChange: { setUp: (id) => SITUATIONS['with a downgrade scheduled for the period end']?.(id) as Promise<unknown>, method: 'DELETE', path: 'scheduled-plan-change' },
    ReportUsage: { setUp: (id) => api.createTenant(id), method: 'PUT', path: 'usage', body: { usage: SMALL_USAGE } },
    StartExport: { setUp: (id) => api.createTenant(id), method: 'POST', path: 'exports', body: {} },
    InitiateDeletion: { setUp: (id) => api.createTenant(id), method: 'POST', path: 'deletion', body: {} },
    CancelDeletion: { setUp: (id) => SITUATIONS['soft-deleted']?.(id) as Promise<unknown>, method: 'DELETE', path: 'deletion' },
    ReactivateTenant: { setUp: (id) => SITUATIONS.suspended?.(id) as Promise<unknown>, method: 'POST', path: 'reactivate', body: {} },
    PlaceLegalHold: { setUp: (id) => api.createTenant(id), method: 'PUT', path: 'legal-hold', body: { reason: 'Litigation' } },
    ReleaseLegalHold: {
      setUp: async (id) => {
        await api.createTenant(id);
        expect((await api.request('PUT', `/tenants/${id}/legal-hold`, { body: { reason: 'Litigation' } })).status).toBe(200);
      },
      method: 'DELETE',
      path: 'legal-hold',
    },
  };

  it('should cover every route that changes a tenant, each declared in the OpenAPI document', () => {
    expect(changing.map((route) => route.id).sort()).toEqual(Object.keys(REQUESTS).sort());
    for (const route of changing) expect([route.id, ROUTE_SPECS[route.id]?.ifMatch]).toEqual([route.id, true]);
  });

  it.each(Object.keys(REQUESTS))('%s: a stale If-Match is 409 VERSION_CONFLICT and changes nothing; the current one is accepted', async (routeId) => {
    const request = REQUESTS[routeId] as (typeof REQUESTS)[string];
    const tenantId = `ifm-${routeId.toLowerCase()}`;
    await request.setUp(tenantId);
    await runner.idle();
    const current = (await api.request<Body>('GET', `/tenants/${tenantId}`)).body.version as number;
    const before = await api.tableSnapshot();

    const stale = await api.request<Body>(request.method, `/tenants/${tenantId}/${request.path}`, { body: request.body, headers: { 'if-match': `"${current - 1 || current + 1}"` } });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'VERSION_CONFLICT', details: { currentVersion: current } });
    expect(await api.tableSnapshot()).toEqual(before);

    const fresh = await api.request<Body>(request.method, `/tenants/${tenantId}/${request.path}`, { body: request.body, headers: { 'if-match': `"${current}"` } });
    expect([routeId, fresh.status >= 200 && fresh.status < 300]).toEqual([routeId, true]);
    await runner.idle();
  });
});

describe('GET /operations/{id} with a tenant-scoped token', () => {
  it("should let a tenant read its own tenant's operation, and answer 404 for another tenant's", async () => {
    await api.createTenant('ops-own', { plan: 'starter', usage: SMALL_USAGE });
    await api.createTenant('ops-other', { plan: 'starter', usage: SMALL_USAGE });
    const started = await api.request<Body>('POST', '/tenants/ops-own/plan', { body: { plan: 'professional' } });
    const operationId = started.body.operationId as string;
    await runner.idle();

    const own = await api.request<Body>('GET', `/operations/${operationId}`, { token: api.tenantToken('ops-own') });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ operationId, tenantId: 'ops-own', status: 'succeeded' });

    const other = await api.request<Body>('GET', `/operations/${operationId}`, { token: api.tenantToken('ops-other') });
    expect(other.status).toBe(404);
    expect(other.body.error?.code).toBe('OPERATION_NOT_FOUND');
    const unknown = await api.request<Body>('GET', '/operations/op_00000000-0000-0000-0000-000000000000', { token: api.tenantToken('ops-other') });
    expect(other.text).toBe(unknown.text.replaceAll('op_00000000-0000-0000-0000-000000000000', operationId));
  });
});

describe('Pagination: a full last page has no cursor', () => {
  async function pages(path: string, limit: number): Promise<Array<{ items: Body[]; nextCursor: string | null }>> {
    const out: Array<{ items: Body[]; nextCursor: string | null }> = [];
    let cursor: string | null = null;
    do {
      const separator = path.includes('?') ? '&' : '?';
      const page: ApiResponse<{ items: Body[]; nextCursor: string | null }> = await api.request('GET', `${path}${separator}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      out.push(page.body);
      cursor = page.body.nextCursor;
    } while (cursor && out.length < 50);
    return out;
  }

  it('should end the history with a full page and nextCursor null', async () => {
    await api.createTenant('page-history');
    await api.request('POST', '/tenants/page-history/suspend');
    await api.request('POST', '/tenants/page-history/resume'); // 4 entries
    expect((await pages('/tenants/page-history/history', 4)).map((page) => [page.items.length, page.nextCursor === null])).toEqual([[4, true]]);
    expect((await pages('/tenants/page-history/history', 2)).map((page) => [page.items.length, page.nextCursor === null])).toEqual([[2, false], [2, true]]);
  });

  it('should end tenant listings, by state and across states, with a full page and nextCursor null', async () => {
    for (const id of ['page-s1', 'page-s2', 'page-s3']) {
      await api.createTenant(id);
      await api.request('POST', `/tenants/${id}/suspend`);
    }
    await runner.idle();
    for (const path of ['/tenants?state=suspended', '/tenants']) {
      const all = (await pages(path, 100)).flatMap((page) => page.items);
      const total = all.length;
      expect(total).toBeGreaterThanOrEqual(3);
      expect((await pages(path, total)).map((page) => [page.items.length, page.nextCursor === null])).toEqual([[total, true]]);
      const split = await pages(path, total - 1);
      expect(split.map((page) => [page.items.length, page.nextCursor === null])).toEqual([[total - 1, false], [1, true]]);
      expect(split.flatMap((page) => page.items).map((tenant) => tenant.tenantId)).toEqual(all.map((tenant) => tenant.tenantId));
    }
  });
});
