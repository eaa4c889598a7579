/**
 * The plan-change workflow end to end: the HTTPS API starts it, the real ASL runs in-process with its Task
 * states bound to the real steps, against DynamoDB Local, with the local billing ledger and provisioner.
 */
import { BillingRejectedError, BillingTransientError, LedgerBilling } from '../../../functions/billing';
import { runPlanChangeStep, type PlanChangeInput } from '../../../functions/plan-change/plan-change-steps';
import { STUCK_AFTER_SECONDS, sweepStuckOperations } from '../../../functions/workflows/sweep-stuck-operations';
import type { PlanResources } from '../../../functions/provisioning/plan-resources';
import { LocalProvisioner } from '../../../functions/provisioning/provisioner';
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { config } from '../../../functions/shared/config';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { seedDemoTenants } from '../../../infra/local/demo-tenants';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { ApiHarness } from '../../support/api-harness';
import { InjectedFault } from '../../support/injected-fault';
import { installMonthSafeClock } from '../../support/month-safe-clock';
import { now as timeNow } from '../../../functions/shared/clock';

type Body = Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, unknown> } };

// Away from a month's end: an upgrade's proration is above zero (test/support/month-safe-clock.ts).
installMonthSafeClock();
const api = new ApiHarness();
let fault: FaultInjector | undefined;
const runner = new LocalWorkflowRunner({ dependencies: planChangeDependencies, faults: (state, phase, input) => fault?.(state, phase, input) });
const ledger = new LedgerBilling({ client: api.documentClient, tableName: config.tableName });
const provisioner = new LocalProvisioner({ client: api.documentClient, tableName: config.tableName });


beforeAll(async () => {
  await api.start();
  await seedDemoTenants(api.store);
  setWorkflowRunner(runner);
});
afterAll(async () => {
  await runner.idle();
  await api.stop();
});
afterEach(() => {
  fault = undefined;
});

async function startPlanChange(tenantId: string, body: Record<string, unknown>) {
  return api.request<Body>('POST', `/tenants/${tenantId}/plan`, { body });
}

async function finished(operationId: string) {
  await runner.idle();
  return (await api.request<Body>('GET', `/operations/${operationId}`)).body;
}

async function events(tenantId: string) {
  return (await api.request<{ items: Body[] }>('GET', `/tenants/${tenantId}/history?limit=100`)).body.items;
}

describe('Plan change: upgrade', () => {
  it('should provision, bill and commit: active on the new plan, charged once, audit initiate + complete', async () => {
    await api.createTenant('up-happy', { plan: 'starter' });

    const started = await startPlanChange('up-happy', { plan: 'professional' });
    expect(started.status).toBe(202);
    const operation = await finished(started.body.operationId as string);

    expect(operation).toMatchObject({ status: 'succeeded', steps: expect.arrayContaining(['read_only_window', 'drained', 'provisioned', 'billing_updated']) });
    const tenant = (await api.request<Body>('GET', '/tenants/up-happy')).body;
    expect(tenant).toMatchObject({ state: 'active', plan: 'professional', resources: { plan: 'professional' } });
    expect(tenant.readOnlyReason).toBeUndefined();
    expect((await api.request<Body>('GET', '/tenants/up-happy/access')).body).toMatchObject({ access: 'read_write', plan: 'professional' });
    expect((await ledger.ledgerEntries('up-happy')).map((e) => e.kind)).toEqual(['customer_created', 'charge']);
    expect(await ledger.balance('up-happy')).toBeGreaterThan(0);
    expect((await events('up-happy')).slice(0, 3).map((e) => e.event)).toEqual(['complete_upgrade', 'start_read_only_window', 'initiate_upgrade']);
  });

  it('should run one execution when the same execution name is started twice, as Step Functions does', async () => {
    await api.createTenant('up-start-twice', { plan: 'starter' });
    const steps: string[] = [];
    fault = (state, phase, operation) => {
      if (phase === 'before' && operation.tenantId === 'up-start-twice') steps.push(state);
    };
    const started = await startPlanChange('up-start-twice', { plan: 'professional' });
    const operationId = started.body.operationId as string;
    const input = (await planChangeDependencies().operations.get(operationId)).input;

    await runner.start('plan-change', operationId, { operation: input }); // a redelivery or a retried start
    await runner.idle();

    expect(await finished(operationId)).toMatchObject({ status: 'succeeded' });
    expect(steps.length).toBeGreaterThan(3);
    expect(steps).toEqual([...new Set(steps)]); // no Task state ran twice
    expect((await ledger.ledgerEntries('up-start-twice')).map((e) => e.kind)).toEqual(['customer_created', 'charge']);
  });

  it('should answer 409 to a second plan change while the first owns the tenant', async () => {
    await api.createTenant('up-twice', { plan: 'free' });
    const [a, b] = await Promise.all([startPlanChange('up-twice', { plan: 'starter' }), startPlanChange('up-twice', { plan: 'professional' })]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    await runner.idle();
    expect((await ledger.ledgerEntries('up-twice')).filter((e) => e.kind === 'charge')).toHaveLength(1);
  });
});

describe("Plan change: the course's failure 1 (an upgrade must not interrupt a running query)", () => {
  it('should wait for a query holding a lease, show read_only meanwhile, and complete once the query ends', async () => {
    await api.createTenant('lease-wait', { plan: 'starter' });
    const token = api.tenantToken('lease-wait');
    const lease = await api.request<Body>('POST', '/tenants/lease-wait/leases', { token, body: { holder: 'long-report-query', ttlSeconds: 60 } });
    expect(lease.status).toBe(201);

    const started = await startPlanChange('lease-wait', { plan: 'professional', drainTimeoutSeconds: 30 });
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const during = (await api.request<Body>('GET', `/operations/${started.body.operationId as string}`)).body;
    expect(during.status).toBe('running');
    expect(during.steps).toContain('read_only_window');
    expect(during.steps).not.toContain('provisioning_started');
    expect((await api.request<Body>('GET', '/tenants/lease-wait/access', { token })).body).toMatchObject({ access: 'read_only' });
    expect((await api.request<Body>('POST', '/tenants/lease-wait/leases', { token, body: {} })).body.error?.code).toBe('TENANT_READ_ONLY');

    expect((await api.request('DELETE', `/tenants/lease-wait/leases/${lease.body.leaseId as string}`, { token })).status).toBe(204);
    const operation = await finished(started.body.operationId as string);
    expect(operation.status).toBe('succeeded');
    expect((await api.request<Body>('GET', '/tenants/lease-wait')).body).toMatchObject({ state: 'active', plan: 'professional' });
  });

  it('should roll back with the drain timeout as the reason when a lease outlives it, the tenant staying on its old plan', async () => {
    await api.createTenant('lease-stuck', { plan: 'starter' });
    const token = api.tenantToken('lease-stuck');
    await api.request('POST', '/tenants/lease-stuck/leases', { token, body: { holder: 'stuck-query', ttlSeconds: 120 } });

    const requestedSeconds = 2;
    const startedAt = Date.now();
    const started = await startPlanChange('lease-stuck', { plan: 'professional', drainTimeoutSeconds: requestedSeconds });
    const operation = await finished(started.body.operationId as string);
    const elapsedSeconds = (Date.now() - startedAt) / 1000;

    expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'DrainTimeoutError' } });
    // The drain gave up at the requested timeout: not before it, and long before a default (30 s) would have.
    expect(elapsedSeconds).toBeGreaterThanOrEqual(requestedSeconds);
    expect(elapsedSeconds).toBeLessThan(requestedSeconds + 10);
    expect((operation.error as { message: string }).message).toContain(`drain timeout of ${requestedSeconds} s`);
    expect((operation.error as { message: string }).message).toContain('stuck-query');
    const tenant = (await api.request<Body>('GET', '/tenants/lease-stuck')).body;
    expect(tenant).toMatchObject({ state: 'active', plan: 'starter' });
    expect(tenant.readOnlyReason).toBeUndefined();
    expect((await ledger.ledgerEntries('lease-stuck')).map((e) => e.kind)).toEqual(['customer_created']); // nothing billed since its creation
    const [rollback] = await events('lease-stuck');
    // The cause itself, readable in the history (the tenant reads it), not only the error's name.
    expect(rollback).toMatchObject({ event: 'rollback_upgrade', reason: expect.stringContaining('DrainTimeoutError') });
    expect(rollback?.reason).toMatch(/^Rolled back \(DrainTimeoutError\): 1 in-flight query still holds its lease after the drain timeout of 2 s \(holders: stuck-query\)/);
  });
});

describe('Plan change: fault injection at every step', () => {
  const STEPS = ['StartReadOnlyWindow', 'DrainQueries', 'ProvisionResources', 'UpdateBilling', 'CommitPlan'];
  const cases = STEPS.flatMap((state) => (['before', 'after'] as const).map((phase) => [state, phase] as const));

  it.each(cases)('should end stable when %s fails %s its work', async (state, phase) => {
    const tenantId = `fault-${state.toLowerCase()}-${phase}`;
    await api.createTenant(tenantId, { plan: 'starter' });
    fault = (failingState, failingPhase, input) => {
      if (input.tenantId === tenantId && failingState === state && failingPhase === phase) throw new InjectedFault(`${state} failed ${phase} its work`);
    };

    const started = await startPlanChange(tenantId, { plan: 'enterprise' });
    expect(started.status).toBe(202);
    const operation = await finished(started.body.operationId as string);
    const tenant = (await api.request<Body>('GET', `/tenants/${tenantId}`)).body;
    const trail = await events(tenantId);

    if (state === 'CommitPlan' && phase === 'after') {
      // The commit is the point of no return: the change stands, complete and consistent.
      expect(operation.status).toBe('succeeded');
      expect(tenant).toMatchObject({ state: 'active', plan: 'enterprise', resources: { plan: 'enterprise', vectors: { kind: 'dedicated' } } });
      // The application plane is told to query the dedicated index from now on.
      const access = (await api.request<Body>('GET', `/tenants/${tenantId}/access`, { token: api.tenantToken(tenantId) })).body;
      expect(access).toMatchObject({ access: 'read_write', plan: 'enterprise', vectors: { kind: 'dedicated', namespace: `tenant_${tenantId}` } });
      expect(access.requestsPerSecond).toBe((tenant.resources as { requestsPerSecond: number }).requestsPerSecond);
      expect(await ledger.balance(tenantId)).toBeGreaterThan(0);
      return;
    }
    expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'InjectedFault' } });
    expect(tenant).toMatchObject({ state: 'active', plan: 'starter' });
    expect(tenant.readOnlyReason).toBeUndefined();
    expect(tenant.resources).toBeUndefined(); // what it had before: nothing provisioned by a plan change yet
    expect((await api.request<Body>('GET', `/tenants/${tenantId}/access`)).body).toMatchObject({ plan: 'starter', vectors: { kind: 'pooled' } });
    expect(await ledger.balance(tenantId)).toBe(0);
    expect(await provisioner.outstanding(tenantId)).toEqual([]);
    // The read-only window opened with the initiate event (its own entry), before any step could fail.
    expect(trail.slice(0, 3).map((e) => e.event)).toEqual(['rollback_upgrade', 'start_read_only_window', 'initiate_upgrade']);
    expect(trail[0]?.reason).toContain('InjectedFault');
  });
});

describe('Plan change: a transient Lambda invoke error', () => {
  const STEPS = ['StartReadOnlyWindow', 'DrainQueries', 'ProvisionResources', 'UpdateBilling', 'CommitPlan'];
  const cases = STEPS.flatMap((state) => (['before', 'after'] as const).map((phase) => [state, phase] as const));

  // Step Functions reports Lambda's own failures to invoke (not the function's errors) as `Lambda.<Exception>`;
  // "after" stands for an invocation that did its work but whose answer was lost.
  it.each(cases)('should retry %s when Lambda.ClientExecutionTimeoutException is raised once %s its work, and complete the upgrade, charged once', async (state, phase) => {
    const tenantId = `lambda-timeout-${state.toLowerCase()}-${phase}`;
    await api.createTenant(tenantId, { plan: 'starter' });
    let raised = 0;
    fault = (failingState, failingPhase, input) => {
      if (input.tenantId === tenantId && failingState === state && failingPhase === phase && raised === 0) {
        raised += 1;
        throw Object.assign(new Error('Lambda could not be invoked in time'), { name: 'Lambda.ClientExecutionTimeoutException' });
      }
    };

    const started = await startPlanChange(tenantId, { plan: 'professional' });
    const operation = await finished(started.body.operationId as string);

    expect(raised).toBe(1);
    expect(operation).toMatchObject({ status: 'succeeded' });
    expect((await api.request<Body>('GET', `/tenants/${tenantId}`)).body).toMatchObject({ state: 'active', plan: 'professional' });
    expect((await ledger.ledgerEntries(tenantId)).map((e) => e.kind)).toEqual(['customer_created', 'charge']);
  });
});

describe('Plan change: workflow timeout', () => {
  it('should roll back an execution that times out, as the timeout rule does on AWS', async () => {
    await api.createTenant('timeout-1', { plan: 'starter' });
    let stalled: Promise<void> | undefined;
    const slow = new LocalWorkflowRunner({
      dependencies: planChangeDependencies,
      timeoutSeconds: 2,
      faults: async (state, phase, input) => {
        if (input.tenantId === 'timeout-1' && state === 'ProvisionResources' && phase === 'before') {
          stalled = new Promise((resolve) => setTimeout(resolve, 3500));
          await stalled;
        }
      },
    });
    setWorkflowRunner(slow);
    try {
      const started = await startPlanChange('timeout-1', { plan: 'professional' });
      await slow.idle();
      await stalled; // the stalled step wakes up after the rollback and must find it has no tenant to touch
      await new Promise((resolve) => setTimeout(resolve, 300));

      const operation = (await api.request<Body>('GET', `/operations/${started.body.operationId as string}`)).body;
      expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'States.Timeout' } });
      expect((await api.request<Body>('GET', '/tenants/timeout-1')).body).toMatchObject({ state: 'active', plan: 'starter' });
      expect(await provisioner.outstanding('timeout-1')).toEqual([]);
      expect(await ledger.balance('timeout-1')).toBe(0);
    } finally {
      setWorkflowRunner(runner);
    }
  });
});

describe('Plan change: compensation edge cases', () => {
  it('should leave a committed change alone when a compensation arrives late', async () => {
    await api.createTenant('late-comp', { plan: 'starter' });
    const started = await startPlanChange('late-comp', { plan: 'professional' });
    const operation = await finished(started.body.operationId as string);
    expect(operation.status).toBe('succeeded');
    const balance = await ledger.balance('late-comp');

    const result = await runPlanChangeStep(planChangeDependencies(), 'compensate', operation.input as unknown as PlanChangeInput, { Error: 'States.Timeout' });

    expect(result).toEqual({ outcome: 'succeeded' });
    expect((await api.request<Body>('GET', '/tenants/late-comp')).body).toMatchObject({ state: 'active', plan: 'professional' });
    expect(await ledger.balance('late-comp')).toBe(balance);
    expect((await provisioner.outstanding('late-comp')).map((p) => p.operationId)).toEqual([started.body.operationId]);
  });

  it('should release what a provisioning step finished after its operation timed out and was compensated', async () => {
    await api.createTenant('late-provision', { plan: 'starter' });
    const base = planChangeDependencies();
    let slowDone: Promise<void> | undefined;
    const slowProvisioner = {
      name: 'slow',
      provision: (tenantId: string, operationId: string, resources: PlanResources, current?: PlanResources) => {
        slowDone = new Promise<void>((resolve) => setTimeout(resolve, 3000)).then(() => base.provisioner.provision(tenantId, operationId, resources, current));
        return slowDone;
      },
      release: (tenantId: string, operationId: string) => base.provisioner.release(tenantId, operationId),
    };
    const slow = new LocalWorkflowRunner({ dependencies: () => ({ ...base, provisioner: slowProvisioner }), timeoutSeconds: 2 });
    setWorkflowRunner(slow);
    try {
      const started = await startPlanChange('late-provision', { plan: 'enterprise' });
      await slow.idle();
      await slowDone;
      await new Promise((resolve) => setTimeout(resolve, 500));

      expect((await api.request<Body>('GET', `/operations/${started.body.operationId as string}`)).body).toMatchObject({ status: 'rolled_back' });
      expect(await provisioner.outstanding('late-provision')).toEqual([]);
      expect((await api.request<Body>('GET', '/tenants/late-provision')).body).toMatchObject({ state: 'active', plan: 'starter' });
    } finally {
      setWorkflowRunner(runner);
    }
  });

  it('should still roll the tenant back, and flag billing for an operator, when billing refuses the revert', async () => {
    await api.createTenant('revert-refused', { plan: 'starter' });
    const base = planChangeDependencies();
    const refusingBilling = {
      ...base.billing,
      name: base.billing.name,
      previewPlanChange: base.billing.previewPlanChange.bind(base.billing),
      applyPlanChange: base.billing.applyPlanChange.bind(base.billing),
      revertPlanChange: async () => {
        throw new BillingRejectedError('the invoice was paid out of band; refund it by hand');
      },
    };
    const refusing = new LocalWorkflowRunner({
      dependencies: () => ({ ...base, billing: refusingBilling }),
      faults: (state, phase, input) => {
        if (input.tenantId === 'revert-refused' && state === 'CommitPlan' && phase === 'before') throw new InjectedFault('commit failed');
      },
    });
    setWorkflowRunner(refusing);
    try {
      const started = await startPlanChange('revert-refused', { plan: 'professional' });
      await refusing.idle();
      const operation = (await api.request<Body>('GET', `/operations/${started.body.operationId as string}`)).body;

      expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'InjectedFault' } });
      expect((operation.error as { message: string }).message).toContain('needs an operator');
      const tenant = (await api.request<Body>('GET', '/tenants/revert-refused')).body;
      expect(tenant).toMatchObject({ state: 'active', plan: 'starter' });
      expect(tenant.readOnlyReason).toBeUndefined();
    } finally {
      setWorkflowRunner(runner);
    }
  });
});

describe('Plan change: the stuck-operation sweeper', () => {
  it('should roll back an operation whose execution never started, once it is overdue, and leave fresh ones alone', async () => {
    await api.createTenant('never-started', { plan: 'starter' });
    // The API crashed right after the initiate write: no execution exists.
    setWorkflowRunner({ start: async () => undefined });
    let operationId: string;
    try {
      const started = await startPlanChange('never-started', { plan: 'professional' });
      operationId = started.body.operationId as string;
    } finally {
      setWorkflowRunner(runner);
    }
    expect((await api.request<Body>('GET', '/tenants/never-started')).body.state).toBe('upgrading');

    const early = await sweepStuckOperations({ ...planChangeDependencies(), runner }, { now: timeNow() });
    expect(early.compensated).not.toContain(operationId);
    expect((await api.request<Body>('GET', '/tenants/never-started')).body.state).toBe('upgrading');

    const later = await sweepStuckOperations({ ...planChangeDependencies(), runner }, { now: new Date(timeNow().getTime() + (STUCK_AFTER_SECONDS + 60) * 1000) });
    expect(later.compensated).toContain(operationId);
    expect((await api.request<Body>('GET', '/tenants/never-started')).body).toMatchObject({ state: 'active', plan: 'starter' });
    expect((await api.request<Body>('GET', `/operations/${operationId}`)).body).toMatchObject({ status: 'rolled_back', error: { code: 'OperationStuck' } });

    const again = await sweepStuckOperations({ ...planChangeDependencies(), runner }, { now: new Date(timeNow().getTime() + (STUCK_AFTER_SECONDS + 60) * 1000) });
    expect(again.compensated).not.toContain(operationId);
  });
});

describe('Plan change: validation and dry run', () => {
  it("should refuse the demo downgrade of Enterprise Solutions to starter, listing every violation", async () => {
    const response = await startPlanChange('enterprise-solutions', { plan: 'starter' });
    expect(response.status).toBe(422);
    expect(response.body.error?.code).toBe('USAGE_EXCEEDS_PLAN');
    const messages = (response.body.error?.details?.violations as Array<{ message: string }>).map((v) => v.message);
    expect(messages).toContain('users: 25 exceeds the starter limit of 10');
    expect(messages).toHaveLength(4);
    expect((await api.request<Body>('GET', '/tenants/enterprise-solutions')).body).toMatchObject({ state: 'active', plan: 'professional' });
  });

  it("should preview Acme's upgrade with its proration, limits and resources, changing nothing", async () => {
    const before = await api.tableSnapshot();
    const response = await startPlanChange('acme-corp', { plan: 'professional', dryRun: true });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      dryRun: true,
      allowed: true,
      direction: 'upgrade',
      limits: { current: { users: 10 }, new: { users: 50 } },
      billing: { source: 'local-estimate', currency: 'usd' },
    });
    expect((response.body.billing as { amountDueNow: number }).amountDueNow).toBeGreaterThan(0);
    expect(await api.tableSnapshot()).toEqual(before);
  });

  it.each([
    [{ plan: 'starter' }, 400, 'SAME_PLAN'],
    [{ plan: 'enterprise', effective: 'period_end' }, 400, 'INVALID_EFFECTIVE'],
    [{ plan: 'gold' }, 400, 'VALIDATION_FAILED'],
    [{ plan: 'enterprise', drainTimeoutSeconds: 0 }, 400, 'VALIDATION_FAILED'],
  ])('should answer %j with %s %s', async (body, status, code) => {
    const response = await startPlanChange('acme-corp', body);
    expect([response.status, response.body.error?.code]).toEqual([status, code]);
  });

  it('should answer 409 for a tenant that is not active', async () => {
    const response = await startPlanChange('suspended-co', { plan: 'professional' });
    expect([response.status, response.body.error?.code]).toEqual([409, 'ILLEGAL_TRANSITION']);
  });
});

describe('Plan change: failures while undoing billing', () => {
  /** Run one upgrade of `tenantId` with `billing` wrapped and the commit failing, and return its operation. */
  async function upgradeThatFailsAtCommit(tenantId: string, wrap: (billing: ReturnType<typeof planChangeDependencies>['billing']) => Partial<ReturnType<typeof planChangeDependencies>['billing']>) {
    await api.createTenant(tenantId, { plan: 'starter' });
    const base = planChangeDependencies();
    const billing = { ...base.billing, name: base.billing.name, previewPlanChange: base.billing.previewPlanChange.bind(base.billing), findAppliedChange: base.billing.findAppliedChange.bind(base.billing), ...wrap(base.billing) };
    const failing = new LocalWorkflowRunner({
      dependencies: () => ({ ...base, billing: billing as typeof base.billing }),
      faults: (state, phase, input) => {
        if (input.tenantId === tenantId && state === 'CommitPlan' && phase === 'before') throw new InjectedFault('commit failed');
      },
    });
    setWorkflowRunner(failing);
    try {
      const started = await startPlanChange(tenantId, { plan: 'professional' });
      expect(started.status).toBe(202);
      await failing.idle();
      return (await api.request<Body>('GET', `/operations/${started.body.operationId as string}`)).body;
    } finally {
      setWorkflowRunner(runner);
    }
  }

  it('should read back and refund a charge whose answer was lost, so the customer is not charged for a rolled-back change', async () => {
    const operation = await upgradeThatFailsAtCommit('lost-answer', (billing) => ({
      applyPlanChange: async (request) => {
        await billing.applyPlanChange(request); // charged...
        throw new InjectedFault('connection reset before the answer'); // ...but the step never heard it
      },
      revertPlanChange: billing.revertPlanChange.bind(billing),
    }));

    expect(operation).toMatchObject({ status: 'rolled_back', steps: expect.arrayContaining(['billing_started', 'billing_reverted']) });
    expect(operation.steps).not.toContain('billing_updated');
    expect((await ledger.ledgerEntries('lost-answer')).map((e) => e.kind)).toEqual(['customer_created', 'charge', 'reversal']);
    expect(await ledger.balance('lost-answer')).toBe(0);
    expect((await api.request<Body>('GET', '/tenants/lost-answer')).body).toMatchObject({ state: 'active', plan: 'starter' });
  });

  it('should roll back without a revert when billing refuses to read back a change it never made', async () => {
    const reverts: unknown[] = [];
    const operation = await upgradeThatFailsAtCommit('lost-refused', () => ({
      applyPlanChange: async () => {
        throw new InjectedFault('connection reset before the answer');
      },
      findAppliedChange: async () => {
        throw new BillingRejectedError('no subscription for this customer');
      },
      revertPlanChange: async (...args) => void reverts.push(args),
    }));

    expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'InjectedFault', message: 'connection reset before the answer' } });
    expect(reverts).toEqual([]);
    expect((await ledger.ledgerEntries('lost-refused')).map((e) => e.kind)).toEqual(['customer_created']); // nothing billed since its creation
    expect((await api.request<Body>('GET', '/tenants/lost-refused')).body).toMatchObject({ state: 'active', plan: 'starter' });
  });

  it('should retry a compensation whose billing revert fails transiently, refunding exactly once', async () => {
    let failures = 0;
    const operation = await upgradeThatFailsAtCommit('revert-retried', (billing) => ({
      applyPlanChange: billing.applyPlanChange.bind(billing),
      revertPlanChange: async (request, change) => {
        if (failures++ === 0) throw new BillingTransientError('billing provider unavailable');
        return billing.revertPlanChange(request, change);
      },
    }));

    expect(failures).toBe(2);
    expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'InjectedFault' } });
    expect((operation.error as { message: string }).message).not.toContain('needs an operator');
    expect((await ledger.ledgerEntries('revert-retried')).map((e) => e.kind)).toEqual(['customer_created', 'charge', 'reversal']);
    expect(await ledger.balance('revert-retried')).toBe(0);
  });
});
