/**
 * Downgrades at the end of the billing period, end to end: the HTTPS API schedules them (billing arranged in
 * the local ledger, a one-shot schedule in the local scheduler, on DynamoDB Local), the tenant keeps its plan
 * until the period end, and then the schedule fires the same target the Lambda runs, which starts the real
 * plan-change ASL in-process. The period end is reached by the test's clock, not by waiting.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BillingRejectedError } from '../../../functions/billing/billing-port';
import { LedgerBilling, calendarMonth } from '../../../functions/billing/ledger-billing';
import { OperationStore } from '../../../functions/operations/operation-store';
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { cancelScheduledChange, planChangeScheduleName, runPlanChangeStep, type PlanChangeInput } from '../../../functions/plan-change/plan-change-steps';
import { BUSY_TENANT_RETRY_SECONDS, PERIOD_END_LEAD_SECONDS, startScheduledPlanChange } from '../../../functions/plan-change/scheduled-plan-change';
import { requestPlanChange } from '../../../functions/plan-change/plan-change-service';
import { VersionConflictError } from '../../../functions/tenants/errors';
import { OVERDUE_AFTER_SECONDS, STUCK_AFTER_SECONDS, sweepStuckOperations } from '../../../functions/workflows/sweep-stuck-operations';
import { handler as periodEndHandler } from '../../../functions/plan-change/handlers/period-end';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { SchedulerTransientError } from '../../../functions/scheduler/scheduler-port';
import { config } from '../../../functions/shared/config';
import { tenantPk, TENANT_SK } from '../../../functions/tenants/tenant-table';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { now as timeNow } from '../../../functions/shared/clock';
import { ApiHarness } from '../../support/api-harness';
import { InjectedFault } from '../../support/injected-fault';
import { installMonthSafeClock } from '../../support/month-safe-clock';

type Body = Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, unknown> } };

// Away from a month's end: a downgrade requested here must not be due at once (test/support/month-safe-clock.ts).
installMonthSafeClock();

const api = new ApiHarness();
let fault: FaultInjector | undefined;
const runner = new LocalWorkflowRunner({ dependencies: planChangeDependencies, faults: (state, phase, input) => fault?.(state, phase, input) });
const ledger = new LedgerBilling({ client: api.documentClient, tableName: config.tableName });
/** The test's clock for the period-end target: moved to the end of the period instead of waiting for it. */
let clock = timeNow();
const periodEndDeps = () => ({ ...planChangeDependencies(), runner, now: () => clock });
/** The local scheduler as `npm start` runs it, its target bound to the period-end step with the test's clock. */
const scheduler = new LocalScheduler({
  client: api.documentClient,
  tableName: config.tableName,
  handlers: { 'plan-change.period-end': async (event) => void (await startScheduledPlanChange(periodEndDeps(), String(event.payload.operationId))) },
});
const PERIOD_END = calendarMonth(timeNow()).end;
/** When the change starts: before the period end, so a change that fails rolls back before billing moves. */
const STARTS_AT = new Date(PERIOD_END.getTime() - PERIOD_END_LEAD_SECONDS * 1000);

beforeAll(async () => {
  await api.start();
  setWorkflowRunner(runner);
});
afterAll(async () => {
  await runner.idle();
  await api.stop();
});
beforeEach(() => {
  clock = timeNow();
});
afterEach(() => {
  fault = undefined;
  jest.restoreAllMocks();
});

async function tenant(tenantId: string) {
  return (await api.request<Body>('GET', `/tenants/${tenantId}`)).body;
}

async function operation(operationId: string) {
  return (await api.request<Body>('GET', `/operations/${operationId}`)).body;
}

/** The tenant's ledger entries, in order: its creation (customer_created) first. */
async function ledgerKinds(tenantId: string) {
  return (await ledger.ledgerEntries(tenantId)).map((entry) => entry.kind);
}

/** A professional tenant whose usage fits starter, with a downgrade to starter scheduled; its operation id. */
async function scheduledDowngrade(tenantId: string): Promise<string> {
  await api.createTenant(tenantId, { plan: 'professional', usage: { users: 3 } });
  const response = await api.request<Body>('POST', `/tenants/${tenantId}/plan`, { body: { plan: 'starter' } });
  expect(response.status).toBe(202);
  return response.body.operationId as string;
}

/** Reach the start of a scheduled change: the scheduler fires what is due, and the started workflow finishes. */
async function reachPeriodEnd(at: Date = STARTS_AT) {
  clock = at;
  const fired = await scheduler.fireDue(at);
  await runner.idle();
  return fired;
}

/** The application plane reports the tenant's usage, as it would with its own token. */
async function setUsage(tenantId: string, users: number) {
  const reported = await api.request('PUT', `/tenants/${tenantId}/usage`, {
    token: api.tenantToken(tenantId),
    body: { usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users } },
  });
  expect(reported.status).toBe(200);
}

describe('Scheduled downgrade: at the end of the billing period', () => {
  it('should keep the old plan, limits and resources until the period end, then run the workflow and apply the new plan', async () => {
    // Request: scheduled, not started
    await api.createTenant('sched-happy', { plan: 'professional', usage: { users: 3 } });
    const response = await api.request<Body>('POST', '/tenants/sched-happy/plan', { body: { plan: 'starter' } });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: 'scheduled', effective: 'period_end', effectiveAt: PERIOD_END.toISOString(), fromPlan: 'professional', toPlan: 'starter' });
    const operationId = response.body.operationId as string;

    // Until the period end: the old plan in full, the change visible, billing scheduled, nothing charged
    expect(await tenant('sched-happy')).toMatchObject({
      state: 'active',
      plan: 'professional',
      scheduledPlanChange: { operationId, plan: 'starter', effectiveAt: PERIOD_END.toISOString() },
    });
    expect((await api.request<Body>('GET', '/tenants/sched-happy/access')).body).toMatchObject({ access: 'read_write', plan: 'professional', limits: { users: 50 } });
    expect(await operation(operationId)).toMatchObject({ status: 'scheduled', effectiveAt: PERIOD_END.toISOString(), steps: ['billing_started', 'billing_updated', 'scheduled'] });
    expect(await ledgerKinds('sched-happy')).toEqual(['customer_created', 'schedule']);
    expect(await ledger.balance('sched-happy')).toBe(0);
    expect(await scheduler.find(planChangeScheduleName(operationId))).toMatchObject({ at: STARTS_AT, target: 'plan-change.period-end', payload: { operationId } });
    expect((await scheduler.fireDue(timeNow())).fired).not.toContain(planChangeScheduleName(operationId));

    // The period end: the workflow runs and the new plan applies
    const fired = await reachPeriodEnd();
    expect(fired.fired).toContain(planChangeScheduleName(operationId));
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded', steps: expect.arrayContaining(['period_end_reached', 'read_only_window', 'drained', 'provisioned']) });
    const after = await tenant('sched-happy');
    expect(after).toMatchObject({ state: 'active', plan: 'starter', resources: { plan: 'starter', limits: { users: 10 } } });
    expect(after.scheduledPlanChange).toBeUndefined();
    expect(await ledgerKinds('sched-happy')).toEqual(['customer_created', 'schedule']); // billing was arranged once, at the request
    const history = (await api.request<{ items: Body[] }>('GET', '/tenants/sched-happy/history')).body.items;
    expect(history.slice(0, 4).map((entry) => entry.event)).toEqual(['complete_downgrade', 'start_read_only_window', 'initiate_downgrade', 'schedule_plan_change']);
    expect(history[2]?.reason).toContain('scheduled for');
    expect(await scheduler.find(planChangeScheduleName(operationId))).toBeUndefined();
  });

  it('should start once when the schedule is delivered twice at the same time', async () => {
    const operationId = await scheduledDowngrade('sched-twice');
    clock = STARTS_AT;

    const executions = jest.spyOn(runner, 'start');
    const results = await Promise.all([startScheduledPlanChange(periodEndDeps(), operationId), startScheduledPlanChange(periodEndDeps(), operationId)]);
    await runner.idle();

    // One delivery initiates the change. The other finds it handled, or (reading after the initiation) makes
    // sure its execution runs: a start of the same execution name, which runs nothing a second time.
    const outcomes = results.map((result) => result.outcome).sort();
    expect([['already_handled', 'started'], ['restarted', 'started']]).toContainEqual(outcomes);
    expect(new Set(executions.mock.calls.map(([, name]) => name))).toEqual(new Set([operationId]));
    executions.mockRestore();
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded' });
    expect(await tenant('sched-twice')).toMatchObject({ state: 'active', plan: 'starter' });
    const history = (await api.request<{ items: Body[] }>('GET', '/tenants/sched-twice/history')).body.items;
    expect(history.filter((entry) => entry.event === 'initiate_downgrade')).toHaveLength(1);
  });

  it('should start the execution on the next delivery when the last one died after starting the operation', async () => {
    const operationId = await scheduledDowngrade('sched-crash-start');
    clock = STARTS_AT;
    const down = { start: async () => Promise.reject(new Error('Step Functions unavailable')) };

    await expect(startScheduledPlanChange({ ...periodEndDeps(), runner: down }, operationId)).rejects.toThrow('Step Functions unavailable');
    expect(await tenant('sched-crash-start')).toMatchObject({ state: 'downgrading', operationId });
    const retried = await startScheduledPlanChange(periodEndDeps(), operationId);
    await runner.idle();

    expect(retried.outcome).toBe('restarted');
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded' });
    expect(await tenant('sched-crash-start')).toMatchObject({ state: 'active', plan: 'starter' });
    expect(await ledgerKinds('sched-crash-start')).toEqual(['customer_created', 'schedule']);
  });

  it('should be the Lambda target: a schedule event for the operation re-arms while not due, a malformed one fails loudly', async () => {
    const operationId = await scheduledDowngrade('sched-lambda');
    const event = { schedule: planChangeScheduleName(operationId), target: 'plan-change.period-end' as const, scheduledAt: STARTS_AT.toISOString(), payload: { operationId } };

    // The wall clock is before the start: the handler (as deployed) leaves the change scheduled.
    await expect(periodEndHandler(event)).resolves.toMatchObject({ operationId, outcome: 'not_due' });
    await expect(periodEndHandler({ ...event, payload: {} })).rejects.toThrow(TypeError);
    expect(await operation(operationId)).toMatchObject({ status: 'scheduled' });
  });

  it('should do nothing but re-arm its schedule when delivered before the period end', async () => {
    const operationId = await scheduledDowngrade('sched-early');
    await scheduler.cancel(planChangeScheduleName(operationId));

    const result = await startScheduledPlanChange(periodEndDeps(), operationId);

    expect(result.outcome).toBe('not_due');
    expect(await operation(operationId)).toMatchObject({ status: 'scheduled' });
    expect(await tenant('sched-early')).toMatchObject({ plan: 'professional', scheduledPlanChange: { operationId } });
    expect(await scheduler.find(planChangeScheduleName(operationId))).toMatchObject({ at: STARTS_AT });
  });

  it('should cancel the change and put billing back when usage has outgrown the new plan by the period end', async () => {
    const operationId = await scheduledDowngrade('sched-outgrown');
    await setUsage('sched-outgrown', 25);

    await reachPeriodEnd();

    const ended = await operation(operationId);
    expect(ended).toMatchObject({ status: 'cancelled', error: { code: 'USAGE_EXCEEDS_PLAN' } });
    expect((ended.error as { message: string }).message).toContain('users: 25 exceeds the starter limit of 10');
    const after = await tenant('sched-outgrown');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.scheduledPlanChange).toBeUndefined();
    expect(await ledgerKinds('sched-outgrown')).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
  });

  it('should cancel the change when the tenant is suspended at the period end', async () => {
    const operationId = await scheduledDowngrade('sched-suspended');
    expect((await api.request('POST', '/tenants/sched-suspended/suspend', { body: { reason: 'payment failed' } })).status).toBe(200);

    await reachPeriodEnd();

    expect(await operation(operationId)).toMatchObject({ status: 'cancelled', error: { code: 'TenantNotActive' } });
    expect(await tenant('sched-suspended')).toMatchObject({ state: 'suspended', plan: 'professional' });
    expect(await ledgerKinds('sched-suspended')).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
  });

  it('should try again 10 minutes later when another workflow owns the tenant at the period end', async () => {
    const operationId = await scheduledDowngrade('sched-busy');
    // An export (a later issue's workflow) holds the tenant right now.
    await api.documentClient.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: { pk: tenantPk('sched-busy'), sk: TENANT_SK },
        UpdateExpression: 'SET #state = :exporting, origin = :active, operationId = :other',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':exporting': 'exporting', ':active': 'active', ':other': 'op_export-in-progress' },
      }),
    );

    const fired = await reachPeriodEnd();

    expect(fired.fired).toContain(planChangeScheduleName(operationId));
    expect(await operation(operationId)).toMatchObject({ status: 'scheduled' });
    expect(await tenant('sched-busy')).toMatchObject({ state: 'exporting', plan: 'professional', scheduledPlanChange: { operationId } });
    expect(await scheduler.find(planChangeScheduleName(operationId))).toMatchObject({ at: new Date(STARTS_AT.getTime() + BUSY_TENANT_RETRY_SECONDS * 1000) });
  });

  it.each(['StartReadOnlyWindow', 'DrainQueries', 'ProvisionResources', 'UpdateBilling', 'CommitPlan'])(
    'should roll back to the old plan and put billing back when %s fails at the period end',
    async (state) => {
      const tenantId = `sched-fault-${state.toLowerCase()}`;
      const operationId = await scheduledDowngrade(tenantId);
      fault = (failing, phase, input) => {
        if (input.tenantId === tenantId && failing === state && phase === 'before') throw new InjectedFault(`${state} failed`);
      };

      await reachPeriodEnd();

      expect(await operation(operationId)).toMatchObject({ status: 'rolled_back', error: { code: 'InjectedFault' } });
      const after = await tenant(tenantId);
      expect(after).toMatchObject({ state: 'active', plan: 'professional' });
      expect(after.readOnlyReason).toBeUndefined();
      expect(after.scheduledPlanChange).toBeUndefined();
      expect(await ledgerKinds(tenantId)).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
      const history = (await api.request<{ items: Body[] }>(`GET`, `/tenants/${tenantId}/history`)).body.items;
      const opened = state !== 'StartReadOnlyWindow'; // the window's own entry, unless the fault came before it
      expect(history.map((entry) => entry.event)).toEqual(['rollback_downgrade', ...(opened ? ['start_read_only_window'] : []), 'initiate_downgrade', 'schedule_plan_change', 'create']);
    },
  );
});

describe('Scheduled downgrade: while it is pending', () => {
  it('should refuse any other plan change with 409, list it in the dry run, and allow it again once cancelled', async () => {
    const operationId = await scheduledDowngrade('sched-cancel');

    const upgrade = await api.request<Body>('POST', '/tenants/sched-cancel/plan', { body: { plan: 'enterprise' } });
    expect(upgrade.status).toBe(409);
    expect(upgrade.body.error?.code).toBe('PLAN_CHANGE_SCHEDULED');
    expect(upgrade.body.error?.message).toContain('DELETE /tenants/sched-cancel/scheduled-plan-change');
    const now = await api.request<Body>('POST', '/tenants/sched-cancel/plan', { body: { plan: 'free', effective: 'immediately' } });
    expect(now.body.error?.code).toBe('PLAN_CHANGE_SCHEDULED');
    const preview = await api.request<Body>('POST', '/tenants/sched-cancel/plan', { body: { plan: 'enterprise', dryRun: true } });
    expect(preview.body).toMatchObject({ allowed: false, blockers: [expect.stringContaining(operationId)] });

    const cancelled = await api.request<Body>('DELETE', '/tenants/sched-cancel/scheduled-plan-change');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ operationId, status: 'cancelled', error: { code: 'CancelledByRequest', message: expect.stringContaining('operator@test') } });
    const after = await tenant('sched-cancel');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.scheduledPlanChange).toBeUndefined();
    expect(await ledgerKinds('sched-cancel')).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
    expect(await scheduler.find(planChangeScheduleName(operationId))).toBeUndefined();

    const again = await api.request<Body>('DELETE', '/tenants/sched-cancel/scheduled-plan-change');
    expect(again.status).toBe(404);
    expect(again.body.error?.code).toBe('NO_SCHEDULED_PLAN_CHANGE');
    // Nothing fires at the period end any more.
    await reachPeriodEnd();
    expect(await tenant('sched-cancel')).toMatchObject({ plan: 'professional' });
    expect((await api.request<Body>('POST', '/tenants/sched-cancel/plan', { body: { plan: 'enterprise' } })).status).toBe(202);
    await runner.idle();
  });

  it('should schedule one of two downgrades requested at the same moment, and answer the other 409 PLAN_CHANGE_SCHEDULED', async () => {
    await api.createTenant('sched-race', { plan: 'professional', usage: { users: 2 } });

    const answers = await Promise.all(['starter', 'free'].map((plan) => api.request<Body>('POST', '/tenants/sched-race/plan', { body: { plan } })));

    expect(answers.map((answer) => answer.status).sort()).toEqual([202, 409]);
    const winner = answers.find((answer) => answer.status === 202) as { body: Body };
    const loser = answers.find((answer) => answer.status === 409) as { body: Body };
    expect(loser.body.error).toMatchObject({ code: 'PLAN_CHANGE_SCHEDULED', details: { scheduledPlanChange: { operationId: winner.body.operationId } } });
    expect(await ledgerKinds('sched-race')).toEqual(['customer_created', 'schedule']);
  });

  it('should answer a cancel that loses the race to the period end with 409 OPERATION_IN_PROGRESS naming the operation', async () => {
    const operationId = await scheduledDowngrade('sched-race-cancel');
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    fault = async (state, phase, input) => {
      if (input.tenantId === 'sched-race-cancel' && state === 'ProvisionResources' && phase === 'before') await held;
    };
    // The DELETE has read the tenant with its change scheduled; the period end starts the change before the claim.
    const get = OperationStore.prototype.get;
    jest.spyOn(OperationStore.prototype, 'get').mockImplementationOnce(async function (this: OperationStore, id: string) {
      clock = STARTS_AT;
      expect((await startScheduledPlanChange(periodEndDeps(), operationId)).outcome).toBe('started');
      return get.call(this, id);
    });

    const cancel = await api.request<Body>('DELETE', '/tenants/sched-race-cancel/scheduled-plan-change');
    release();
    await runner.idle();

    expect(cancel.status).toBe(409);
    expect(cancel.body.error).toMatchObject({ code: 'OPERATION_IN_PROGRESS', details: { operationId } });
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded' });
  });

  it('should not cancel a change that the period end has started: nothing to cancel on the tenant, and the operation not claimed', async () => {
    const operationId = await scheduledDowngrade('sched-started');
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    fault = async (state, phase, input) => {
      if (input.tenantId === 'sched-started' && state === 'ProvisionResources' && phase === 'before') await held;
    };
    clock = STARTS_AT;
    expect((await startScheduledPlanChange(periodEndDeps(), operationId)).outcome).toBe('started');

    const cancel = await api.request<Body>('DELETE', '/tenants/sched-started/scheduled-plan-change');
    const running = await operation(operationId);
    const late = await cancelScheduledChange(planChangeDependencies(), running.input as unknown as PlanChangeInput, { Error: 'CancelledByRequest' });
    release();
    await runner.idle();

    // Once it started, the change's operation owns the tenant: the same answer as any other change then.
    expect(cancel.status).toBe(409);
    expect(cancel.body.error).toMatchObject({ code: 'OPERATION_IN_PROGRESS', details: { operationId } });
    expect(late).toEqual({ outcome: 'not_claimed' }); // a cancellation racing the start never claims a running change
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded' });
    expect(await tenant('sched-started')).toMatchObject({ state: 'active', plan: 'starter' });
  });

  it('should never let a cancellation take over a started change that is rolling back', async () => {
    const operationId = await scheduledDowngrade('sched-rollback-race');
    clock = STARTS_AT;
    // Started; its execution is not running here, the test plays its compensation.
    expect((await startScheduledPlanChange({ ...periodEndDeps(), runner: { start: async () => undefined } }, operationId)).outcome).toBe('started');
    const input = (await operation(operationId)).input as unknown as PlanChangeInput;
    await planChangeDependencies().operations.beginCompensation(operationId); // the workflow's own compensation claims it

    const late = await cancelScheduledChange(planChangeDependencies(), input, { Error: 'CancelledByRequest' });
    const rolledBack = await runPlanChangeStep(planChangeDependencies(), 'compensate', input, { Error: 'InjectedFault' });

    expect(late).toEqual({ outcome: 'not_claimed' });
    expect(rolledBack).toEqual({ outcome: 'rolled_back' });
    expect(await operation(operationId)).toMatchObject({ status: 'rolled_back', error: { code: 'InjectedFault' } });
    expect(await tenant('sched-rollback-race')).toMatchObject({ state: 'active', plan: 'professional' });
  });

  it('should answer 503 CANCELLATION_INCOMPLETE when the cancel cannot finish, and finish on the next DELETE', async () => {
    const operationId = await scheduledDowngrade('sched-cancel-retry');
    jest.spyOn(planChangeDependencies().scheduler, 'cancel').mockRejectedValueOnce(new SchedulerTransientError('scheduler throttled'));

    const first = await api.request<Body>('DELETE', '/tenants/sched-cancel-retry/scheduled-plan-change');
    expect(first.status).toBe(503);
    expect(first.body.error).toMatchObject({ code: 'CANCELLATION_INCOMPLETE', details: { operationId } });
    expect(first.body.error?.message).toContain('Send the DELETE again');
    clock = STARTS_AT;
    expect((await startScheduledPlanChange(periodEndDeps(), operationId)).outcome).toBe('already_handled'); // claimed: it will not start

    const second = await api.request<Body>('DELETE', '/tenants/sched-cancel-retry/scheduled-plan-change');
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ operationId, status: 'cancelled' });
    expect((await tenant('sched-cancel-retry')).scheduledPlanChange).toBeUndefined();
    expect(await scheduler.find(planChangeScheduleName(operationId))).toBeUndefined();
  });

  it('should undo a scheduling that fails half-way and answer 503, leaving nothing behind', async () => {
    await api.createTenant('sched-broken', { plan: 'professional', usage: { users: 3 } });
    jest.spyOn(planChangeDependencies().scheduler, 'scheduleOnce').mockRejectedValueOnce(new SchedulerTransientError('scheduler throttled'));

    const response = await api.request<Body>('POST', '/tenants/sched-broken/plan', { body: { plan: 'starter' } });

    expect(response.status).toBe(503);
    expect(response.body.error?.code).toBe('SCHEDULING_UNAVAILABLE');
    const after = await tenant('sched-broken');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.scheduledPlanChange).toBeUndefined();
    expect(await ledgerKinds('sched-broken')).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
  });
});

describe('Scheduled downgrade: the sweeper', () => {
  it('should start an overdue change whose schedule was lost', async () => {
    const operationId = await scheduledDowngrade('sched-lost');
    await scheduler.cancel(planChangeScheduleName(operationId)); // deleted by hand, or dead-lettered

    const at = new Date(STARTS_AT.getTime() + (OVERDUE_AFTER_SECONDS + 60) * 1000);
    clock = at;
    const early = await sweepStuckOperations(periodEndDeps(), { now: new Date(STARTS_AT.getTime() + 60_000) });
    expect(early.overdueStarted).not.toContain(operationId);
    const swept = await sweepStuckOperations(periodEndDeps(), { now: at });
    await runner.idle();

    expect(swept.overdueStarted).toContain(operationId);
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded' });
    expect(await tenant('sched-lost')).toMatchObject({ state: 'active', plan: 'starter' });
  });

  it('should finish undoing a scheduling whose undo failed too', async () => {
    await api.createTenant('sched-crashed', { plan: 'professional', usage: { users: 3 } });
    const deps = planChangeDependencies();
    jest.spyOn(deps.scheduler, 'scheduleOnce').mockRejectedValueOnce(new SchedulerTransientError('scheduler throttled'));
    jest.spyOn(deps.scheduler, 'cancel').mockRejectedValueOnce(new SchedulerTransientError('scheduler still throttled'));

    const response = await api.request<Body>('POST', '/tenants/sched-crashed/plan', { body: { plan: 'starter' } });
    expect(response.status).toBe(503);
    const stuck = (await tenant('sched-crashed')).scheduledPlanChange as { operationId: string };
    expect(stuck).toBeDefined();
    expect(await operation(stuck.operationId)).toMatchObject({ status: 'compensating' });

    const swept = await sweepStuckOperations(periodEndDeps(), { now: new Date(timeNow().getTime() + (STUCK_AFTER_SECONDS + 60) * 1000) });

    expect(swept.compensated).toContain(stuck.operationId);
    expect(await operation(stuck.operationId)).toMatchObject({ status: 'cancelled' });
    const after = await tenant('sched-crashed');
    expect(after.scheduledPlanChange).toBeUndefined();
    expect(after.plan).toBe('professional');
    expect(await ledgerKinds('sched-crashed')).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
  });
});

describe('Scheduled downgrade: rare paths', () => {
  it('should undo a scheduling and answer 503 when the billing period rolls over while it is scheduled', async () => {
    await api.createTenant('sched-rollover', { plan: 'professional', usage: { users: 3 } });
    const billing = planChangeDependencies().billing;
    const apply = billing.applyPlanChange.bind(billing);
    const nextPeriodEnd = calendarMonth(new Date(PERIOD_END.getTime() + 1000)).end.toISOString();
    // Billing scheduled the change, but for the end of the next period (the preview was taken in the last one).
    jest.spyOn(billing, 'applyPlanChange').mockImplementationOnce(async (request) => ({ ...(await apply(request)), effectiveAt: nextPeriodEnd }));

    const response = await api.request<Body>('POST', '/tenants/sched-rollover/plan', { body: { plan: 'starter' } });

    expect(response.status).toBe(503);
    expect(response.body.error).toMatchObject({ code: 'SCHEDULING_UNAVAILABLE', message: 'The downgrade could not be scheduled; nothing was changed. Retry later.' });
    const operationId = (response.body.error?.details as { operationId: string }).operationId;
    expect(await operation(operationId)).toMatchObject({ status: 'cancelled', error: { code: 'BillingTransientError', message: expect.stringContaining(`became ${nextPeriodEnd}`) } });
    const after = await tenant('sched-rollover');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.scheduledPlanChange).toBeUndefined();
    expect(await ledgerKinds('sched-rollover')).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
    expect(await scheduler.find(planChangeScheduleName(operationId))).toBeUndefined();
  });

  it('should tell the caller that undoing has not finished when the undo of a failed scheduling fails too', async () => {
    await api.createTenant('sched-undo-fails', { plan: 'professional', usage: { users: 3 } });
    const deps = planChangeDependencies();
    jest.spyOn(deps.scheduler, 'scheduleOnce').mockRejectedValueOnce(new SchedulerTransientError('scheduler throttled'));
    jest.spyOn(deps.scheduler, 'cancel').mockRejectedValueOnce(new SchedulerTransientError('scheduler still throttled'));

    const response = await api.request<Body>('POST', '/tenants/sched-undo-fails/plan', { body: { plan: 'starter' } });

    expect(response.status).toBe(503);
    const operationId = (response.body.error?.details as { operationId: string }).operationId;
    expect(response.body.error).toMatchObject({ code: 'SCHEDULING_UNAVAILABLE', details: { operationId } });
    expect(response.body.error?.message).toBe(
      `The downgrade could not be scheduled, and undoing it has not finished: operation ${operationId} is undone automatically within the hour (the tenant keeps its plan). Retry after that.`,
    );
    expect(await tenant('sched-undo-fails')).toMatchObject({ state: 'active', plan: 'professional' });
  });

  it('should answer not_found for the schedule of an operation that does not exist, changing nothing', async () => {
    const runs = jest.spyOn(runner, 'start');
    expect(await startScheduledPlanChange(periodEndDeps(), 'op-that-never-was')).toEqual({ operationId: 'op-that-never-was', outcome: 'not_found' });
    expect(runs).not.toHaveBeenCalled();
  });

  it('should read the tenant again when it changes at the moment the change starts (suspended and resumed), and start the change', async () => {
    const operationId = await scheduledDowngrade('sched-start-bump');
    const tenants = planChangeDependencies().tenants;
    const applyTransition = tenants.applyTransition.bind(tenants);
    const before = (await tenant('sched-start-bump')).version as number;
    // An operator suspends and resumes the tenant between the period end's read and its write.
    jest.spyOn(tenants, 'applyTransition').mockImplementationOnce(async (...args) => {
      expect((await api.request('POST', '/tenants/sched-start-bump/suspend', { body: { reason: 'check' } })).status).toBe(200);
      expect((await api.request('POST', '/tenants/sched-start-bump/resume', { body: { reason: 'checked' } })).status).toBe(200);
      return applyTransition(...args);
    });

    clock = STARTS_AT;
    const result = await startScheduledPlanChange(periodEndDeps(), operationId);
    await runner.idle();

    expect(result).toEqual({ operationId, outcome: 'started' });
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded' });
    const after = await tenant('sched-start-bump');
    expect(after).toMatchObject({ state: 'active', plan: 'starter' });
    expect(after.version as number).toBeGreaterThan(before + 2);
  });

  // Usage reports keep the version (they must not fail a running workflow), so every write that decided a
  // downgrade fits pins the usage it read: the request of an immediate one, the scheduling, and the start.
  it.each([
    ['an immediate downgrade', { plan: 'starter', effective: 'immediately' } as const, 'applyTransition' as const],
    ['a period-end downgrade being scheduled', { plan: 'starter' } as const, 'scheduleChange' as const],
  ])('should refuse %s when usage that outgrows the plan is reported between the check and the write', async (_label, body, write) => {
    const tenantId = `race-${write.toLowerCase()}`;
    await api.createTenant(tenantId, { plan: 'professional', usage: { users: 3 } });
    const deps = planChangeDependencies();
    const original = deps.tenants[write].bind(deps.tenants) as (...args: unknown[]) => Promise<unknown>;
    jest.spyOn(deps.tenants, write).mockImplementationOnce((async (...args: unknown[]) => {
      await setUsage(tenantId, 25);
      return original(...args);
    }) as never);

    const refused = requestPlanChange(deps, tenantId, body as never, 'operator@test');
    await expect(refused).rejects.toBeInstanceOf(VersionConflictError);
    await expect(refused).rejects.toThrow('its usage was reported again');
    await runner.idle();
    const after = await tenant(tenantId);
    expect(after).toMatchObject({ state: 'active', plan: 'professional', usage: { users: 25 } });
    expect(after.scheduledPlanChange).toBeUndefined();
    expect((await api.request<Body>('POST', `/tenants/${tenantId}/plan`, { body })).body.error?.code).toBe('USAGE_EXCEEDS_PLAN'); // read again: refused
  });

  // Usage reports keep the version (they must not fail a running workflow), so the start pins the usage it read.
  it('should read the tenant again when its usage changes at the moment the change starts, and cancel if it no longer fits', async () => {
    const operationId = await scheduledDowngrade('sched-start-race');
    const tenants = planChangeDependencies().tenants;
    const applyTransition = tenants.applyTransition.bind(tenants);
    // The application plane reports usage that outgrows starter between the period end's read and its write.
    jest.spyOn(tenants, 'applyTransition').mockImplementationOnce(async (...args) => {
      await setUsage('sched-start-race', 25);
      return applyTransition(...args);
    });

    clock = STARTS_AT;
    const result = await startScheduledPlanChange(periodEndDeps(), operationId);
    await runner.idle();

    expect(result).toMatchObject({ operationId, outcome: 'cancelled', reason: expect.stringContaining('users: 25 exceeds the starter limit of 10') });
    expect(await operation(operationId)).toMatchObject({ status: 'cancelled', error: { code: 'USAGE_EXCEEDS_PLAN' } });
    expect(await tenant('sched-start-race')).toMatchObject({ state: 'active', plan: 'professional', usage: { users: 25 } });
    expect(await ledgerKinds('sched-start-race')).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
  });

  it('should read the tenant again when it changes while a change that no longer fits is being cancelled, and cancel it', async () => {
    const operationId = await scheduledDowngrade('sched-cancel-bump');
    await setUsage('sched-cancel-bump', 25);
    const tenants = planChangeDependencies().tenants;
    const clearScheduledChange = tenants.clearScheduledChange.bind(tenants);
    // An operator suspends the tenant between the cancellation's read and its write.
    const clears = jest.spyOn(tenants, 'clearScheduledChange').mockImplementationOnce(async (...args) => {
      expect((await api.request('POST', '/tenants/sched-cancel-bump/suspend', { body: { reason: 'payment failed' } })).status).toBe(200);
      return clearScheduledChange(...args);
    });

    clock = STARTS_AT;
    const result = await startScheduledPlanChange(periodEndDeps(), operationId);

    expect(result).toMatchObject({ operationId, outcome: 'cancelled' });
    expect(clears).toHaveBeenCalledTimes(2);
    expect(await operation(operationId)).toMatchObject({ status: 'cancelled', error: { code: 'USAGE_EXCEEDS_PLAN' } });
    const after = await tenant('sched-cancel-bump');
    expect(after).toMatchObject({ state: 'suspended', plan: 'professional' });
    expect(after.scheduledPlanChange).toBeUndefined();
    expect(await ledgerKinds('sched-cancel-bump')).toEqual(['customer_created', 'schedule', 'schedule_cancelled']);
  });

  it('should take a cancellation whose write landed but whose answer was lost as done, not as a failure', async () => {
    const operationId = await scheduledDowngrade('sched-cancel-lost');
    await setUsage('sched-cancel-lost', 25);
    const tenants = planChangeDependencies().tenants;
    const clearScheduledChange = tenants.clearScheduledChange.bind(tenants);
    jest.spyOn(tenants, 'clearScheduledChange').mockImplementationOnce(async (...args) => {
      await clearScheduledChange(...args);
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    });

    clock = STARTS_AT;
    const result = await startScheduledPlanChange(periodEndDeps(), operationId);

    expect(result).toMatchObject({ operationId, outcome: 'cancelled' });
    expect(await operation(operationId)).toMatchObject({ status: 'cancelled', error: { code: 'USAGE_EXCEEDS_PLAN' } });
    const after = await tenant('sched-cancel-lost');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.scheduledPlanChange).toBeUndefined();
  });

  it('should still fail loudly when the cancellation write fails and nothing was cancelled', async () => {
    const operationId = await scheduledDowngrade('sched-cancel-fails');
    await setUsage('sched-cancel-fails', 25);
    const tenants = planChangeDependencies().tenants;
    const outage = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    jest.spyOn(tenants, 'clearScheduledChange').mockRejectedValueOnce(outage);

    clock = STARTS_AT;
    await expect(startScheduledPlanChange(periodEndDeps(), operationId)).rejects.toBe(outage);

    expect(await operation(operationId)).toMatchObject({ status: 'compensating' });
    expect(await tenant('sched-cancel-fails')).toMatchObject({ state: 'active', plan: 'professional', scheduledPlanChange: { operationId } });
  });

  it('should leave a due change to the next delivery when its start fails to write, changing nothing', async () => {
    const operationId = await scheduledDowngrade('sched-start-outage');
    const outage = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    jest.spyOn(planChangeDependencies().tenants, 'applyTransition').mockRejectedValueOnce(outage);

    clock = STARTS_AT;
    await expect(startScheduledPlanChange(periodEndDeps(), operationId)).rejects.toBe(outage);

    expect(await operation(operationId)).toMatchObject({ status: 'scheduled' });
    expect(await tenant('sched-start-outage')).toMatchObject({ state: 'active', plan: 'professional', scheduledPlanChange: { operationId } });
    await reachPeriodEnd(); // the next delivery starts it
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded' });
  });

  it('should answer already_handled, not fail, when the start fails to write and the change was cancelled meanwhile', async () => {
    const operationId = await scheduledDowngrade('sched-start-cancelled');
    const runs = jest.spyOn(runner, 'start');
    jest.spyOn(planChangeDependencies().tenants, 'applyTransition').mockImplementationOnce(async () => {
      expect((await api.request('DELETE', '/tenants/sched-start-cancelled/scheduled-plan-change')).status).toBe(200);
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    });

    clock = STARTS_AT;
    await expect(startScheduledPlanChange(periodEndDeps(), operationId)).resolves.toEqual({ operationId, outcome: 'already_handled' });

    expect(runs).not.toHaveBeenCalled();
    expect(await operation(operationId)).toMatchObject({ status: 'cancelled' });
    const after = await tenant('sched-start-cancelled');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.scheduledPlanChange).toBeUndefined();
  });

  it('should answer 503 WORKFLOW_UNAVAILABLE and roll the tenant back when the workflow of an immediate change cannot be started', async () => {
    await api.createTenant('start-unavailable', { plan: 'professional', usage: { users: 3 } });
    const starts = jest.spyOn(runner, 'start').mockRejectedValue(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    const response = await api.request<Body>('POST', '/tenants/start-unavailable/plan', { body: { plan: 'starter', effective: 'immediately' } });

    expect(response.status).toBe(503);
    expect(response.body.error).toEqual({ code: 'WORKFLOW_UNAVAILABLE', message: 'The plan change could not be started; nothing was changed. Retry later.' });
    expect(starts).toHaveBeenCalledTimes(3); // tried three times before giving up
    const after = await tenant('start-unavailable');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.operationId).toBeUndefined();
    const history = (await api.request<{ items: Body[] }>('GET', '/tenants/start-unavailable/history')).body.items;
    expect(history[0]).toMatchObject({ event: 'rollback_downgrade', reason: expect.stringContaining('Rolled back (WorkflowStartFailed)') });
    expect(await operation(history[0]?.operationId as string)).toMatchObject({ status: 'rolled_back', error: { code: 'WorkflowStartFailed', message: expect.stringContaining('Rate exceeded') } });
  });

  it('should open the read-only window once when a retry of that step races it, and finish the change', async () => {
    // At the period end the window opens in the workflow's first step (an immediate change opens it with its
    // initiate event, so no step of its races to open it).
    const operationId = await scheduledDowngrade('window-race');
    const tenants = planChangeDependencies().tenants;
    const startReadOnlyWindow = tenants.startReadOnlyWindow.bind(tenants);
    // A retry of StartReadOnlyWindow opens the window between this run's read and its write.
    const writes = jest.spyOn(tenants, 'startReadOnlyWindow').mockImplementationOnce(async (...args) => {
      await startReadOnlyWindow(...args);
      return startReadOnlyWindow(...args);
    });

    expect((await reachPeriodEnd()).fired).toContain(planChangeScheduleName(operationId));

    expect(writes).toHaveBeenCalledTimes(1); // read again, it found the window open and wrote nothing more
    expect(await operation(operationId)).toMatchObject({ status: 'succeeded' });
    expect(await tenant('window-race')).toMatchObject({ state: 'active', plan: 'starter' });
    const history = (await api.request<{ items: Body[] }>('GET', '/tenants/window-race/history')).body.items;
    expect(history.filter((entry) => entry.event === 'start_read_only_window')).toHaveLength(1);
  });

  it('should roll back without reverting billing when a billing change whose answer was lost reads back as refused', async () => {
    await api.createTenant('billing-lost', { plan: 'professional', usage: { users: 3 } });
    const billing = planChangeDependencies().billing;
    jest.spyOn(billing, 'applyPlanChange').mockRejectedValueOnce(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const readBack = jest.spyOn(billing, 'findAppliedChange').mockRejectedValueOnce(new BillingRejectedError('the customer has no subscription'));
    const reverts = jest.spyOn(billing, 'revertPlanChange');

    const response = await api.request<Body>('POST', '/tenants/billing-lost/plan', { body: { plan: 'starter', effective: 'immediately' } });
    expect(response.status).toBe(202);
    await runner.idle();

    expect(readBack).toHaveBeenCalledTimes(1); // the outcome was read back, not replayed
    expect(reverts).not.toHaveBeenCalled(); // a refused request changed nothing
    expect(await operation(response.body.operationId as string)).toMatchObject({ status: 'rolled_back', error: { message: expect.stringContaining('socket hang up') } });
    const after = await tenant('billing-lost');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.readOnlyReason).toBeUndefined();
  });

  it('should roll back a running change, as Unknown, when the compensate step is invoked without a failure', async () => {
    await api.createTenant('no-failure', { plan: 'professional', usage: { users: 3 } });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reached = false;
    fault = async (state, phase, input) => {
      if (input.tenantId === 'no-failure' && state === 'DrainQueries' && phase === 'before') {
        reached = true;
        await held;
      }
    };
    const response = await api.request<Body>('POST', '/tenants/no-failure/plan', { body: { plan: 'starter', effective: 'immediately' } });
    const operationId = response.body.operationId as string;
    while (!reached) await new Promise((resolve) => setTimeout(resolve, 10));
    const deps = planChangeDependencies();
    const input = (await deps.operations.get(operationId)).input as unknown as PlanChangeInput;

    // e.g. an operator invoking the task Lambda by hand with { step: 'compensate', operation } and no failure
    await expect(runPlanChangeStep(deps, 'compensate', input)).resolves.toEqual({ outcome: 'rolled_back' });
    release();
    await runner.idle();

    expect(await operation(operationId)).toMatchObject({ status: 'rolled_back', error: { code: 'Unknown', message: 'The workflow failed without an error.' } });
    const after = await tenant('no-failure');
    expect(after).toMatchObject({ state: 'active', plan: 'professional' });
    expect(after.readOnlyReason).toBeUndefined();
  });
});
