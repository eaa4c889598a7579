/**
 * A forced plan change (issue 13): a tenant token holding a long query lease made an operator's upgrade roll back
 * with DrainTimeoutError. With `"force": true` the operator's change does not wait: it revokes the tenant's live
 * leases and goes on, and the history and the operation say it was forced. Through the HTTPS API, the real ASL
 * in-process, DynamoDB Local.
 */
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { LocalWorkflowRunner } from '../../../infra/local/local-workflow-runner';
import { ApiHarness } from '../../support/api-harness';

type Body = Record<string, unknown> & { error?: { code: string; message: string; details?: unknown } };

const api = new ApiHarness();
const runner = new LocalWorkflowRunner({ dependencies: planChangeDependencies });

beforeAll(async () => {
  await api.start();
  setWorkflowRunner(runner);
});
afterAll(async () => {
  await runner.idle();
  await api.stop();
});

async function finished(operationId: string) {
  await runner.idle();
  return (await api.request<Body>('GET', `/operations/${operationId}`)).body;
}

async function history(tenantId: string) {
  return (await api.request<{ items: Body[] }>('GET', `/tenants/${tenantId}/history?limit=100`)).body.items;
}

async function holdLease(tenantId: string, holder: string) {
  const lease = await api.request<Body>('POST', `/tenants/${tenantId}/leases`, { token: api.tenantToken(tenantId), body: { holder, ttlSeconds: 300 } });
  expect(lease.status).toBe(201);
  return lease.body.leaseId as string;
}

describe('Plan change: force', () => {
  it('should not wait for a 300 s lease: the lease is revoked, the upgrade commits, and the history and the operation say it was forced', async () => {
    await api.createTenant('forced-up', { plan: 'starter' });
    const leaseId = await holdLease('forced-up', 'long-report-query');
    const startedAt = Date.now();

    const started = await api.request<Body>('POST', '/tenants/forced-up/plan', { body: { plan: 'professional', force: true, reason: 'Customer asked; their stuck report must not block it' } });
    const operation = await finished(started.body.operationId as string);
    const elapsedSeconds = (Date.now() - startedAt) / 1000;

    expect(started.status).toBe(202);
    expect(operation).toMatchObject({ status: 'succeeded', input: { force: true } });
    // Before the drain timeout (the default, 30 s) had even passed: it did not wait for the lease.
    expect(elapsedSeconds).toBeLessThan(30);
    expect(operation.facts).toMatchObject({ revokedLeases: [{ leaseId, holder: 'long-report-query' }] });
    expect((await api.request<Body>('GET', '/tenants/forced-up')).body).toMatchObject({ state: 'active', plan: 'professional' });
    const entries = await history('forced-up');
    const initiate = entries.find((entry) => entry.event === 'initiate_upgrade');
    const complete = entries.find((entry) => entry.event === 'complete_upgrade');
    expect(initiate).toMatchObject({ forced: true, reason: 'Customer asked; their stuck report must not block it', actor: 'operator@test' });
    expect(complete).toMatchObject({ forced: true, reason: 'Plan changed from starter to professional (forced: 1 live query lease revoked, held by long-report-query)' });
    expect(entries.find((entry) => entry.event === 'create')?.forced).toBeUndefined();

    // The holder's release is harmless, and the tenant may take leases again at once.
    expect((await api.request('DELETE', `/tenants/forced-up/leases/${leaseId}`, { token: api.tenantToken('forced-up') })).status).toBe(204);
    await holdLease('forced-up', 'next-query');
  });

  it('should record a forced change with no lease to revoke as forced too, and an unforced one as not', async () => {
    await api.createTenant('forced-idle', { plan: 'starter' });
    await api.createTenant('unforced-idle', { plan: 'starter' });

    const forced = await api.request<Body>('POST', '/tenants/forced-idle/plan', { body: { plan: 'professional', force: true } });
    const unforced = await api.request<Body>('POST', '/tenants/unforced-idle/plan', { body: { plan: 'professional' } });

    expect(await finished(forced.body.operationId as string)).toMatchObject({ status: 'succeeded', input: { force: true } });
    expect((await finished(unforced.body.operationId as string)).input).toMatchObject({ force: false });
    expect((await history('forced-idle')).find((entry) => entry.event === 'complete_upgrade')).toMatchObject({ forced: true, reason: 'Plan changed from starter to professional (forced: no live query lease to revoke)' });
    for (const entry of await history('unforced-idle')) expect(entry.forced).toBeUndefined();
  });

  it('should still roll back at the drain timeout without force', async () => {
    await api.createTenant('unforced-stuck', { plan: 'starter' });
    await holdLease('unforced-stuck', 'stuck-query');

    const started = await api.request<Body>('POST', '/tenants/unforced-stuck/plan', { body: { plan: 'professional', drainTimeoutSeconds: 1 } });

    expect(await finished(started.body.operationId as string)).toMatchObject({ status: 'rolled_back', error: { code: 'DrainTimeoutError' } });
    expect((await api.request<Body>('GET', '/tenants/unforced-stuck')).body).toMatchObject({ plan: 'starter' });
  });

  it('should force a downgrade scheduled for the period end when it starts, and say so when it is scheduled', async () => {
    await api.createTenant('forced-later', { plan: 'professional' });

    const scheduled = await api.request<Body>('POST', '/tenants/forced-later/plan', { body: { plan: 'starter', force: true } });

    expect(scheduled.body).toMatchObject({ status: 'scheduled' });
    expect((await api.request<Body>('GET', `/operations/${scheduled.body.operationId as string}`)).body.input).toMatchObject({ force: true });
    expect((await history('forced-later')).find((entry) => entry.event === 'schedule_plan_change')).toMatchObject({ forced: true });
  });

  it('should preview what force would do: the live leases it would revoke instead of waiting for them, changing nothing', async () => {
    await api.createTenant('forced-preview', { plan: 'starter' });
    await holdLease('forced-preview', 'report-1');
    await holdLease('forced-preview', 'report-2');
    const before = await api.tableSnapshot();

    const forced = await api.request<Body>('POST', '/tenants/forced-preview/plan', { body: { plan: 'professional', dryRun: true, force: true } });
    const waiting = await api.request<Body>('POST', '/tenants/forced-preview/plan', { body: { plan: 'professional', dryRun: true, drainTimeoutSeconds: 60 } });

    expect(forced.status).toBe(200);
    expect(forced.body.drain).toEqual({
      force: true,
      drainTimeoutSeconds: 30,
      liveLeases: 2,
      holders: ['report-1', 'report-2'],
      effect: 'The drain would not wait: the 2 live query leases would be revoked (their holders’ releases then answer 204) and the change would go on.',
    });
    expect(waiting.body.drain).toMatchObject({
      force: false,
      drainTimeoutSeconds: 60,
      liveLeases: 2,
      effect: 'The drain would wait up to 60 s for the 2 live query leases to be released or expire, and roll the change back if any is still live then; send "force": true not to wait.',
    });
    expect(await api.tableSnapshot()).toEqual(before);
  });

  it.each([['yes'], [1], [null]])('should refuse force %j with 400 VALIDATION_FAILED naming the field, changing nothing', async (force) => {
    await api.createTenant(`forced-bad-${String(force)}`, { plan: 'starter' });
    const before = await api.tableSnapshot();

    const response = await api.request<Body>('POST', `/tenants/forced-bad-${String(force)}/plan`, { body: { plan: 'professional', force } });

    expect([response.status, response.body.error?.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(response.body.error?.details).toEqual([{ in: 'body', field: 'force', message: 'must be true or false' }]);
    expect(await api.tableSnapshot()).toEqual(before);
  });

  it('should leave forcing to operators: a tenant token is refused the route', async () => {
    await api.createTenant('forced-by-tenant', { plan: 'starter' });

    const response = await api.request<Body>('POST', '/tenants/forced-by-tenant/plan', { token: api.tenantToken('forced-by-tenant'), body: { plan: 'professional', force: true } });

    expect([response.status, response.body.error?.code]).toEqual([403, 'INSUFFICIENT_SCOPE']);
  });
});
