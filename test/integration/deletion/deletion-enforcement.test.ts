/**
 * The deadline and enforcement targets and the deletion sweeper, at their boundary: soft-deleted tenants in the
 * lifecycle table (DynamoDB Local), their two schedules in the local scheduler (the adapter with EventBridge
 * Scheduler's contract), time moved by the test's clock, and the hard-delete executions they start recorded
 * (the hard-delete state machine itself is another part's: its first step decides whether to run).
 */
import { DEADLINE_TARGET, ENFORCEMENT_TARGET, type HardDeleteInput } from '../../../functions/deletion/hard-delete-definition';
import { deletionSchedule, enforcementCheckAt, type DeletionSchedule } from '../../../functions/deletion/deletion-policy';
import { armDeletionSchedules } from '../../../functions/deletion/deletion-schedules';
import { ENFORCEMENT_RECHECK_SECONDS, onDeadline, onEnforcementCheck } from '../../../functions/deletion/deletion-targets';
import { handler as deadlineHandler } from '../../../functions/deletion/handlers/deadline';
import { handler as enforcementHandler } from '../../../functions/deletion/handlers/enforcement-check';
import { sweepDeletions } from '../../../functions/deletion/sweep-deletions';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import type { ScheduledEvent } from '../../../functions/scheduler/scheduler-port';
import { config } from '../../../functions/shared/config';
import { CHANGE_EVENTS } from '../../../functions/tenants/tenant-store';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { ApiHarness } from '../../support/api-harness';
import { RecordingRunner } from '../../support/recording-runner';

const api = new ApiHarness();
const runner = new RecordingRunner();
/** The test's clock: moved to the deadline, past the window, an hour on, instead of waiting. */
let clock = new Date();
const scheduler = new LocalScheduler({ client: api.documentClient, tableName: config.tableName, now: () => clock, maxAttempts: 3, onError: () => undefined });
const deps = { tenants: api.store, scheduler, runner, now: () => clock };
scheduler.setHandler(DEADLINE_TARGET, async (event) => void (await onDeadline(deps, event)));
scheduler.setHandler(ENFORCEMENT_TARGET, async (event) => void (await onEnforcementCheck(deps, event)));

const HOUR = 3_600_000;
const REQUESTED_AT = new Date('2026-10-01T09:00:00.000Z');

beforeAll(async () => {
  await api.start();
  setWorkflowRunner(runner);
});
afterAll(async () => {
  await scheduler.stop();
  await api.stop();
});
beforeEach(() => {
  runner.reset();
  clock = new Date(REQUESTED_AT);
});

/** A tenant soft-deleted at `requestedAt` (30 days' retention), with both schedules armed; its soft delete. */
async function softDeleted(tenantId: string, requestedAt = REQUESTED_AT): Promise<DeletionSchedule> {
  await api.createTenant(tenantId);
  const tenant = await api.store.get(tenantId);
  const deletion = deletionSchedule({ tenantId, requestedAt, requestedBy: 'operator@test', retentionDays: 30 });
  await api.store.applyTransition(tenant, 'initiate_deletion', { actor: 'operator@test' }, { changes: { deletion } });
  await armDeletionSchedules(scheduler, tenantId, deletion);
  return deletion;
}

function firing(tenantId: string, deletion: DeletionSchedule, target: string, scheduledAt: string): ScheduledEvent {
  const name = target === DEADLINE_TARGET ? deletion.schedules.hardDelete : deletion.schedules.enforcement;
  return { schedule: name, target: target as ScheduledEvent['target'], scheduledAt, payload: { tenantId, deletionRequestedAt: deletion.requestedAt } };
}

const hardDeletes = (tenantId: string) => runner.operations('hard-delete', tenantId) as unknown as HardDeleteInput[];
const ms = (iso: string) => Date.parse(iso);

describe('the deadline target', () => {
  test('a firing delivered twice starts one hard-delete execution, named after the firing', async () => {
    const deletion = await softDeleted('dl-twice');
    const event = firing('dl-twice', deletion, DEADLINE_TARGET, deletion.deadline);
    const first = await deadlineHandler(event);
    const second = await deadlineHandler(event);
    expect(first).toEqual(second);
    expect(runner.requests).toBe(2);
    expect(hardDeletes('dl-twice')).toEqual([
      { operationId: first.operationId, tenantId: 'dl-twice', trigger: 'deadline', scheduledAt: deletion.deadline, deletionRequestedAt: deletion.requestedAt },
    ]);
  });

  test('the local scheduler delivers the deadline at its time, once', async () => {
    const deletion = await softDeleted('dl-scheduled');
    await scheduler.fireDue(new Date(ms(deletion.deadline) - 1000));
    expect(hardDeletes('dl-scheduled')).toEqual([]);
    clock = new Date(deletion.deadline);
    await scheduler.fireDue();
    await scheduler.fireDue();
    expect(hardDeletes('dl-scheduled').map((input) => input.trigger)).toEqual(['deadline']);
    expect(await scheduler.find(deletion.schedules.hardDelete)).toBeUndefined();
  });

  test('a malformed event is dropped with an error logged, not thrown (it would only be retried into the dead-letter queue)', async () => {
    const deletion = await softDeleted('dl-malformed');
    const good = firing('dl-malformed', deletion, DEADLINE_TARGET, deletion.deadline);
    for (const bad of [
      { ...good, payload: {} },
      { ...good, payload: { ...good.payload, tenantId: 'Not A Tenant' } },
      { ...good, payload: { ...good.payload, deletionRequestedAt: 'yesterday' } },
      { ...good, scheduledAt: 'soon' },
      undefined,
    ]) {
      await expect(deadlineHandler(bad as unknown as ScheduledEvent)).resolves.toEqual({ outcome: 'malformed' });
      await expect(enforcementHandler(bad as unknown as ScheduledEvent)).resolves.toEqual({ outcome: 'malformed' });
    }
    expect(runner.requests).toBe(0);
  });
});

describe('the enforcement check', () => {
  test('before the window closes it starts nothing and re-arms itself for after the close', async () => {
    const deletion = await softDeleted('ec-early');
    clock = new Date(deletion.deadline);
    await expect(onEnforcementCheck(deps, firing('ec-early', deletion, ENFORCEMENT_TARGET, deletion.deadline))).resolves.toMatchObject({ outcome: 'rearmed' });
    expect(runner.requests).toBe(0);
    expect((await scheduler.find(deletion.schedules.enforcement))?.at).toEqual(enforcementCheckAt(deletion));
  });

  test('past the window, a tenant still deleting gets its hard delete started (trigger enforcement-check), once per firing', async () => {
    const deletion = await softDeleted('ec-late');
    const at = enforcementCheckAt(deletion);
    clock = new Date(at);
    const event = firing('ec-late', deletion, ENFORCEMENT_TARGET, at.toISOString());
    const result = await enforcementHandler(event);
    await enforcementHandler(event);
    expect(result.outcome).toBe('started');
    expect(hardDeletes('ec-late')).toEqual([
      { operationId: result.operationId, tenantId: 'ec-late', trigger: 'enforcement-check', scheduledAt: at.toISOString(), deletionRequestedAt: deletion.requestedAt },
    ]);
  });

  test('past the window with a hard delete running, it starts nothing and looks again later', async () => {
    const deletion = await softDeleted('ec-running');
    const tenant = await api.store.get('ec-running');
    await api.store.recordChange(tenant, CHANGE_EVENTS.startHardDelete, { actor: 'hard-delete', operationId: 'hd-running' }, { set: { operationId: 'hd-running' } });
    clock = enforcementCheckAt(deletion);
    const result = await onEnforcementCheck(deps, firing('ec-running', deletion, ENFORCEMENT_TARGET, clock.toISOString()));
    const recheck = new Date(clock.getTime() + ENFORCEMENT_RECHECK_SECONDS * 1000);
    expect(result).toEqual({ outcome: 'rearmed', rearmedAt: recheck.toISOString() });
    expect(runner.requests).toBe(0);
    expect((await scheduler.find(deletion.schedules.enforcement))?.at).toEqual(recheck);
  });

  test('a firing of another soft delete, of a tenant no longer deleting, or of one under a legal hold starts nothing', async () => {
    const deletion = await softDeleted('ec-other');
    clock = new Date(ms(deletion.window.closesAt) + HOUR);
    const stale = { ...firing('ec-other', deletion, ENFORCEMENT_TARGET, clock.toISOString()), payload: { tenantId: 'ec-other', deletionRequestedAt: '2026-09-01T00:00:00.000Z' } };
    await expect(onEnforcementCheck(deps, stale)).resolves.toEqual({ outcome: 'not_deleting' });
    await expect(onEnforcementCheck(deps, { ...stale, payload: { ...stale.payload, tenantId: 'ec-nobody' } })).resolves.toEqual({ outcome: 'not_deleting' });
    const tenant = await api.store.get('ec-other');
    await api.store.recordChange(tenant, CHANGE_EVENTS.placeLegalHold, { actor: 'legal@test' }, { set: { legalHold: { reason: 'litigation', by: 'legal@test', since: clock.toISOString() } } });
    await expect(onEnforcementCheck(deps, firing('ec-other', deletion, ENFORCEMENT_TARGET, clock.toISOString()))).resolves.toEqual({ outcome: 'held' });
    expect(runner.requests).toBe(0);
  });
});

describe('the deletion sweeper', () => {
  test('a lost hard-delete schedule is recreated by the pass before it is due, and the hard delete then starts on time', async () => {
    const deletion = await softDeleted('sw-lost');
    await scheduler.cancel(deletion.schedules.hardDelete); // deleted by hand, or never made
    // Hourly passes from three hours before the deadline: the first whose lookahead reaches the window recreates it.
    const passes = [3, 2].map((hours) => new Date(ms(deletion.deadline) - hours * HOUR));
    const first = await sweepDeletions(deps, { now: passes[0] });
    expect(first.rearmed).toContainEqual({ tenantId: 'sw-lost', schedules: ['hardDelete'] });
    expect(first.started).toEqual([]);
    expect((await scheduler.find(deletion.schedules.hardDelete))?.at).toEqual(new Date(deletion.deadline));
    const second = await sweepDeletions(deps, { now: passes[1] });
    expect(second.rearmed.map((r) => r.tenantId)).not.toContain('sw-lost');
    clock = new Date(deletion.deadline);
    await scheduler.fireDue();
    expect(hardDeletes('sw-lost').map((input) => [input.trigger, input.scheduledAt])).toEqual([['deadline', deletion.deadline]]);
  });

  test('a tenant whose schedules were lost and not seen before its window closed is hard-deleted by the next pass (trigger sweeper)', async () => {
    const deletion = await softDeleted('sw-late');
    await scheduler.cancel(deletion.schedules.hardDelete);
    await scheduler.cancel(deletion.schedules.enforcement);
    const pass = new Date(ms(deletion.window.closesAt) + 20 * 60_000);
    const result = await sweepDeletions(deps, { now: pass });
    const [input] = hardDeletes('sw-late');
    expect(result.started).toContainEqual({ tenantId: 'sw-late', operationId: input?.operationId });
    expect(input).toMatchObject({ trigger: 'sweeper', scheduledAt: pass.toISOString(), deletionRequestedAt: deletion.requestedAt });
    // Late: the hard delete runs now; re-arming its schedules would only start a second one.
    expect(result.rearmed.map((r) => r.tenantId)).not.toContain('sw-late');
  });

  test('a schedule deleted after exhausted retries is caught: recreated inside the window, and past it the hard delete is started again every pass while it keeps failing', async () => {
    const deletion = await softDeleted('sw-exhausted');
    runner.failNext = Number.MAX_SAFE_INTEGER; // Step Functions refuses every start
    for (const seconds of [0, 3, 8]) await scheduler.fireDue(new Date(ms(deletion.deadline) + seconds * 1000));
    expect((await scheduler.deadLetters()).map((event) => event.schedule)).toContain(deletion.schedules.hardDelete);
    expect(await scheduler.find(deletion.schedules.hardDelete)).toBeUndefined(); // gone, as EventBridge Scheduler deletes it
    expect(hardDeletes('sw-exhausted')).toEqual([]);
    runner.failNext = 0;

    // Inside the window: the pass recreates the schedule (due a minute on) and it fires.
    const inWindow = new Date(ms(deletion.deadline) + 30 * 60_000);
    const rearming = await sweepDeletions(deps, { now: inWindow });
    expect(rearming.rearmed).toContainEqual({ tenantId: 'sw-exhausted', schedules: ['hardDelete'] });
    await scheduler.fireDue(new Date(inWindow.getTime() + 60_000));
    expect(hardDeletes('sw-exhausted').map((input) => input.trigger)).toEqual(['deadline']);

    // That hard delete failed too (the tenant is still deleting, nothing runs): each later pass starts a new one.
    const passes = [1, 2].map((hours) => new Date(ms(deletion.window.closesAt) + hours * HOUR - 5 * 60_000));
    for (const pass of passes) await sweepDeletions(deps, { now: pass });
    const retried = hardDeletes('sw-exhausted').slice(1);
    expect(retried.map((input) => [input.trigger, input.scheduledAt])).toEqual(passes.map((pass) => ['sweeper', pass.toISOString()]));
    expect(new Set(hardDeletes('sw-exhausted').map((input) => input.operationId)).size).toBe(3);
  });

  test('a tenant with a hard delete running or under a legal hold is left alone past its window', async () => {
    const running = await softDeleted('sw-running');
    const held = await softDeleted('sw-held');
    const runningTenant = await api.store.get('sw-running');
    await api.store.recordChange(runningTenant, CHANGE_EVENTS.startHardDelete, { actor: 'hard-delete', operationId: 'hd-x' }, { set: { operationId: 'hd-x' } });
    const heldTenant = await api.store.get('sw-held');
    await api.store.recordChange(heldTenant, CHANGE_EVENTS.placeLegalHold, { actor: 'legal@test' }, { set: { legalHold: { reason: 'litigation', by: 'legal@test', since: REQUESTED_AT.toISOString() } } });
    const result = await sweepDeletions(deps, { now: new Date(Math.max(ms(running.window.closesAt), ms(held.window.closesAt)) + HOUR) });
    expect(result.started.map((s) => s.tenantId)).not.toContain('sw-running');
    expect(result.started.map((s) => s.tenantId)).not.toContain('sw-held');
    expect([...hardDeletes('sw-running'), ...hardDeletes('sw-held')]).toEqual([]);
  });
});
